//! `route` and `host`: which gateway requests a service receives.

use crate::model::RouteSpec;
use crate::walk::convert::{self, Problem};
use crate::walk::{Span, TableRef, Val, Walker};

fn path_prefix(s: String) -> Result<String, Problem> {
    if !s.starts_with('/') {
        return Err(
            Problem::new(format!("route must start with \"/\", found \"{s}\""))
                .hint(format!("write route = \"/{}\"", s.trim_start_matches('/'))),
        );
    }
    if s.contains(|c: char| c.is_whitespace() || c == '?' || c == '#') {
        return Err(
            Problem::new(format!("route \"{s}\" is not a plain path")).hint(
                "a route is a path prefix such as \"/api\": no spaces, query (?) or fragment (#)",
            ),
        );
    }
    // "/api/" and "/api" mean the same prefix; keep one spelling so matching and the
    // duplicate-route check see them as equal.
    let trimmed = s.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    })
}

fn host_name(s: String) -> Result<String, Problem> {
    let bare = |h: &str| {
        Problem::new(format!("host \"{s}\" must be a bare host name")).hint(format!(
            "write host = \"{h}\" (the gateway matches the Host header without its port)"
        ))
    };
    if s.is_empty() {
        return Err(Problem::new("host must not be empty")
            .hint("remove host to match any host, or write e.g. host = \"app.local\""));
    }
    if let Some((_, rest)) = s.split_once("://") {
        let h = rest.split(['/', ':']).next().unwrap_or_default();
        return Err(bare(h));
    }
    if s.contains('/') {
        return Err(bare(s.split('/').next().unwrap_or_default()));
    }
    let is_ipv6_literal = s.starts_with('[') && s.ends_with(']');
    if s.contains(':') && !is_ipv6_literal {
        let h = if s.starts_with('[') {
            s.split(']')
                .next()
                .map(|h| format!("{h}]"))
                .unwrap_or_default()
        } else {
            s.split(':').next().unwrap_or_default().to_owned()
        };
        return Err(bare(&h));
    }
    if s.contains(char::is_whitespace) {
        return Err(Problem::new(format!("host \"{s}\" contains whitespace"))
            .hint("write a host name such as \"app.local\""));
    }
    Ok(s.to_ascii_lowercase())
}

/// The service's route (if any) and the position of `route` when both route and host are valid.
pub(crate) fn route(w: &mut Walker<'_>, t: &TableRef<'_>) -> (Option<RouteSpec>, Option<Span>) {
    let route = w.get(t, "route", |item| path_prefix(convert::string(item)?));
    let host = w.get(t, "host", |item| host_name(convert::string(item)?));
    match (route, host) {
        (Val::Given(path_prefix, route_span), host) => {
            let (host, valid) = match host {
                Val::Given(h, _) => (Some(h), true),
                Val::Missing => (None, true),
                Val::Invalid => (None, false),
            };
            let spec = RouteSpec { host, path_prefix };
            (Some(spec), if valid { route_span } else { None })
        }
        (Val::Missing, Val::Given(_, host_span)) => {
            w.error(
                host_span,
                "host is set but route is not",
                Some(
                    "add route = \"/\" to send this host's requests to the service, or remove host"
                        .into(),
                ),
            );
            (None, None)
        }
        _ => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(path_prefix("/".into()), Ok("/".into()));
        assert_eq!(path_prefix("//".into()), Ok("/".into()));
        assert_eq!(path_prefix("/api/".into()), Ok("/api".into()));
        assert_eq!(path_prefix("/api".into()), Ok("/api".into()));
        let p = path_prefix("api".into()).unwrap_err();
        assert_eq!(p.hint.as_deref(), Some("write route = \"/api\""));
        assert!(path_prefix("/a b".into()).is_err());
        assert!(path_prefix("/a?x=1".into()).is_err());
    }

    #[test]
    fn hosts() {
        assert_eq!(host_name("App.Local".into()), Ok("app.local".into()));
        assert_eq!(host_name("[::1]".into()), Ok("[::1]".into()));
        let hint = |s: &str| host_name(s.into()).unwrap_err().hint.unwrap();
        assert!(hint("app.local:8080").contains("host = \"app.local\""));
        assert!(hint("http://app.local:80/x").contains("host = \"app.local\""));
        assert!(hint("app.local/x").contains("host = \"app.local\""));
        assert!(hint("[::1]:80").contains("host = \"[::1]\""));
        assert!(host_name(String::new()).is_err());
    }
}
