//! Header rewriting at the proxy boundary: hop-by-hop headers stop here (RFC 9110 §7.6.1) and the
//! instance learns who the client was through `X-Forwarded-*`.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// Headers that describe one connection, not the message; never forwarded either way.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// Removes hop-by-hop headers, including any the `Connection` header names. `Transfer-Encoding`
/// goes too: hyper frames each side's body itself.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if let Some(connection) = headers.get(header::CONNECTION).cloned() {
        if let Ok(list) = connection.to_str() {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                    headers.remove(name);
                }
            }
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// The client's address as a header value, rendered once per connection rather than per request.
pub fn client_header(client: IpAddr) -> HeaderValue {
    HeaderValue::from_str(&client.to_string()).expect("an IP address is a valid header value")
}

/// Adds the client's address (from [`client_header`]) to `X-Forwarded-For` and sets
/// `X-Forwarded-Proto`/`-Host` (shoal is the edge, so a client cannot choose those two).
pub fn add_forwarded(headers: &mut HeaderMap, client: &HeaderValue, host: Option<&HeaderValue>) {
    let xff = HeaderName::from_static("x-forwarded-for");
    let appended = match headers.get(&xff).and_then(|v| v.to_str().ok()) {
        Some(prior) if !prior.trim().is_empty() => {
            let client = client.to_str().unwrap_or_default();
            HeaderValue::from_str(&format!("{prior}, {client}")).ok()
        }
        _ => None,
    };
    headers.insert(xff, appended.unwrap_or_else(|| client.clone()));
    headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    let xfh = HeaderName::from_static("x-forwarded-host");
    match host {
        Some(h) => {
            headers.insert(xfh, h.clone());
        }
        None => {
            headers.remove(xfh);
        }
    }
}

/// The request's host without port, from `Host` or the absolute URI.
pub fn request_host<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    let raw = uri
        .host()
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()))?;
    Some(strip_port(raw))
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // IPv6 literal: keep up to the closing bracket.
        return host.split_inclusive(']').next().unwrap_or(host);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn forwarded_for_is_appended() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        let host = HeaderValue::from_static("example.test:8080");
        add_forwarded(
            &mut h,
            &client_header("127.0.0.1".parse().unwrap()),
            Some(&host),
        );
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "example.test:8080");
    }

    #[test]
    fn host_loses_its_port() {
        let mut h = HeaderMap::new();
        let uri: http::Uri = "/x".parse().unwrap();
        h.insert(header::HOST, HeaderValue::from_static("App.Local:8080"));
        assert_eq!(request_host(&h, &uri), Some("App.Local"));
        h.insert(header::HOST, HeaderValue::from_static("[::1]:8080"));
        assert_eq!(request_host(&h, &uri), Some("[::1]"));
    }
}
