//! What is sent: the URL (plain `http://` only), method, headers and body, checked once up front
//! and turned into a ready-to-clone request so the hot path does no parsing.

use std::fmt;
use std::str::FromStr;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, HOST};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::Full;

/// An `http://host[:port]/path?query` URL, split into what a connection and a request need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// The text as given, for reports.
    pub raw: String,
    /// Host name or address (IPv6 in brackets), as written.
    pub host: String,
    /// Port, 80 when not written.
    pub port: u16,
    /// `host[:port]` as written, sent as the `Host` header.
    pub authority: String,
    /// Origin-form request target: path and query, `/` when empty.
    pub path_and_query: String,
}

impl Url {
    /// `host:port` for name resolution.
    pub fn host_port(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for Url {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_url(s)
    }
}

/// Parses and checks a target URL (also clap's value parser): only `http://`, because TLS is
/// not supported, and no credentials in the URL, because they would be silently ignored.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let text = text.trim();
    if !text.contains("://") {
        return Err(format!(
            "the URL needs a scheme; write http://{}",
            text.trim_start_matches('/')
        ));
    }
    let uri: Uri = text.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => {}
        Some(s) if s.eq_ignore_ascii_case("https") => {
            return Err(
                "https is not supported (no TLS); load an http:// URL, e.g. the \
                        gateway's plain-HTTP listener"
                    .to_owned(),
            )
        }
        Some(s) => return Err(format!("unsupported scheme '{s}'; use http://")),
        None => return Err("the URL needs a scheme; write http://...".to_owned()),
    }
    let Some(authority) = uri.authority() else {
        return Err("the URL has no host".to_owned());
    };
    if authority.as_str().contains('@') {
        return Err(
            "credentials in the URL are not sent; pass -H 'Authorization: ...' instead".to_owned(),
        );
    }
    if authority.host().is_empty() {
        return Err("the URL has no host".to_owned());
    }
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let path_and_query = if path_and_query.starts_with('/') {
        path_and_query.to_owned()
    } else {
        format!("/{path_and_query}")
    };
    Ok(Url {
        raw: text.to_owned(),
        host: authority.host().to_owned(),
        port: authority.port_u16().unwrap_or(80),
        authority: authority.as_str().to_owned(),
        path_and_query,
    })
}

/// One `-H 'Name: value'`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Lower-cased name.
    pub name: HeaderName,
    /// The value, surrounding blanks removed.
    pub value: HeaderValue,
}

/// Parses `Name: value` (clap's value parser for `-H`).
pub fn parse_header(text: &str) -> Result<Header, String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!(
            "invalid header '{text}': write 'Name: value', e.g. -H 'Accept: text/html'"
        ));
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("invalid header name '{}'", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("invalid value for header '{name}'"))?;
    Ok(Header { name, value })
}

/// Parses an HTTP method, upper-casing it (`get` means `GET`).
pub fn parse_method(text: &str) -> Result<Method, String> {
    let upper = text.trim().to_ascii_uppercase();
    if upper.is_empty() || !upper.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
        return Err(format!("invalid method '{text}'"));
    }
    Method::from_bytes(upper.as_bytes()).map_err(|_| format!("invalid method '{text}'"))
}

/// The request every worker sends, built once.
#[derive(Debug, Clone)]
pub(crate) struct RequestTemplate {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl RequestTemplate {
    /// The request for `url`; a `Host` given with `-H` replaces the URL's.
    pub(crate) fn new(url: &Url, method: Method, headers: &[Header], body: Bytes) -> Self {
        let mut map = HeaderMap::new();
        if let Ok(host) = HeaderValue::from_str(&url.authority) {
            map.insert(HOST, host);
        }
        let mut replaced = Vec::new();
        for h in headers {
            // The first -H of a name replaces any default; repeated ones add values.
            if !replaced.contains(&h.name) {
                map.remove(&h.name);
                replaced.push(h.name.clone());
            }
            map.append(h.name.clone(), h.value.clone());
        }
        let uri = url
            .path_and_query
            .parse()
            .unwrap_or_else(|_| Uri::from_static("/"));
        Self {
            method,
            uri,
            headers: map,
            body,
        }
    }

    /// A fresh request (the body is shared, not copied).
    pub(crate) fn build(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_http_urls() {
        let u = parse_url("http://127.0.0.1:8080/tasks?x=1").unwrap();
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 8080);
        assert_eq!(u.authority, "127.0.0.1:8080");
        assert_eq!(u.path_and_query, "/tasks?x=1");
        let u = parse_url("HTTP://localhost").unwrap();
        assert_eq!((u.port, u.path_and_query.as_str()), (80, "/"));
        let u = parse_url("http://[::1]:9000/").unwrap();
        assert_eq!(u.host_port(), "[::1]:9000");
    }

    #[test]
    fn refuses_what_it_cannot_load() {
        assert!(parse_url("https://example.com/")
            .unwrap_err()
            .contains("TLS"));
        assert!(parse_url("localhost:8080/").unwrap_err().contains("scheme"));
        assert!(parse_url("ftp://host/").unwrap_err().contains("ftp"));
        assert!(parse_url("http://user:pw@host/")
            .unwrap_err()
            .contains("Authorization"));
        assert!(parse_url("not a url").is_err());
    }

    #[test]
    fn parses_headers_and_methods() {
        let h = parse_header("X-Test:  a b ").unwrap();
        assert_eq!(h.name.as_str(), "x-test");
        assert_eq!(h.value, "a b");
        assert!(parse_header("novalue").is_err());
        assert!(parse_header("bad name: x").is_err());
        assert_eq!(parse_method("post").unwrap(), Method::POST);
        assert!(parse_method("G E T").is_err());
    }

    #[test]
    fn template_sets_host_unless_overridden() {
        let url = parse_url("http://127.0.0.1:1234/a").unwrap();
        let t = RequestTemplate::new(&url, Method::GET, &[], Bytes::new());
        let req = t.build();
        assert_eq!(req.headers()[HOST], "127.0.0.1:1234");
        assert_eq!(req.uri(), "/a");
        let host = parse_header("Host: example.test").unwrap();
        let t = RequestTemplate::new(&url, Method::GET, &[host], Bytes::new());
        assert_eq!(t.build().headers()[HOST], "example.test");
    }
}
