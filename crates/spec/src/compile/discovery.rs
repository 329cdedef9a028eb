//! What ties services into one application, checked once every service is compiled: the start
//! order (`depends_on` names exist and form no cycle) and the addresses one tier finds another
//! by (`{service.NAME.address}` and friends in `command` and `env`).
//!
//! Discovery placeholders resolve here, at compile time, to the *gateway's* stable addresses of
//! the named service (its TCP listener, its HTTP route), never to an instance: scaling or rolling
//! out NAME never changes another service's template, so it never causes a rollout elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::compile::Positions;
use crate::model::{connect_address, ServiceSpec};
use crate::walk::{Span, TableRef, Walker};

const ATTRIBUTES: &str = "address, host, port or url";

/// Reports `depends_on` names that are unknown or the service itself, and every cycle once.
pub(crate) fn check_dependencies(
    w: &mut Walker<'_>,
    positions: &[Positions],
    services: &BTreeMap<String, ServiceSpec>,
) {
    let known: Vec<&str> = services.keys().map(String::as_str).collect();
    for p in positions {
        for (dep, at) in &p.depends_on {
            if dep == &p.name {
                w.error(
                    at.clone(),
                    format!("service \"{dep}\" depends on itself"),
                    Some("remove it from depends_on".into()),
                );
            } else if !services.contains_key(dep) {
                let hint = match crate::walk::suggest::closest(dep, &known) {
                    Some(close) => {
                        format!("did you mean \"{close}\"? (services: {})", known.join(", "))
                    }
                    None => format!("services: {}", known.join(", ")),
                };
                w.error(
                    at.clone(),
                    format!("depends_on names no service \"{dep}\""),
                    Some(hint),
                );
            }
        }
    }
    let edges: BTreeMap<&str, Vec<(&str, Option<Span>)>> = positions
        .iter()
        .map(|p| {
            let deps = p
                .depends_on
                .iter()
                .filter(|(d, _)| d != &p.name && services.contains_key(d))
                .map(|(d, at)| (d.as_str(), at.clone()))
                .collect();
            (p.name.as_str(), deps)
        })
        .collect();
    let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
    for start in edges.keys() {
        if let Some((cycle, at)) = find_cycle(&edges, start) {
            let mut key = cycle.clone();
            key.sort_unstable();
            if reported.insert(key) {
                let path: Vec<&str> = cycle.iter().copied().chain([cycle[0]]).collect();
                w.error(
                    at,
                    format!("depends_on forms a cycle: {}", path.join(" → ")),
                    Some("services start after what they depend on, so one of these must not depend on the next: remove one depends_on entry".into()),
                );
            }
        }
    }
}

/// A cycle through `start`, as the services on it (from `start`) and where its last edge (back
/// to `start`) was written.
fn find_cycle<'a>(
    edges: &BTreeMap<&'a str, Vec<(&'a str, Option<Span>)>>,
    start: &'a str,
) -> Option<(Vec<&'a str>, Option<Span>)> {
    // Depth-first with an explicit stack: (node, index of the next edge to follow).
    let mut path: Vec<(&str, usize)> = vec![(start, 0)];
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    while let Some((node, next)) = path.last_mut() {
        let deps = edges.get(*node).map_or(&[][..], Vec::as_slice);
        let Some((dep, at)) = deps.get(*next) else {
            path.pop();
            continue;
        };
        *next += 1;
        if *dep == start {
            return Some((path.iter().map(|(n, _)| *n).collect(), at.clone()));
        }
        if seen.insert(dep) {
            path.push((dep, 0));
        }
    }
    None
}

/// Replaces every `{service.NAME.ATTR}` in each service's `command` and `env` with NAME's
/// gateway address, and reports placeholders that name no service, an attribute the service
/// lacks (no `tcp` listener, no `route`), or `{volume}` in a service that is not stateful.
pub(crate) fn resolve(
    w: &mut Walker<'_>,
    root: &TableRef<'_>,
    gateway: SocketAddr,
    services: &mut BTreeMap<String, ServiceSpec>,
) {
    // Read again without reporting: `services` was checked when the services were compiled.
    let Some(table) = root.get("services").and_then(|e| e.item.as_table_like()) else {
        return;
    };
    let addresses: BTreeMap<String, Addresses> = services
        .iter()
        .map(|(name, s)| (name.clone(), Addresses::of(s, gateway)))
        .collect();
    for (name, item) in table.iter() {
        let Some(spec) = services.get_mut(name) else {
            continue;
        };
        let Some(t) = item.as_table_like() else {
            continue;
        };
        let stateful = spec.stateful.is_some();
        let fix = |w: &mut Walker<'_>, text: &mut String, span: Option<Span>| {
            let raw = span.as_ref().map_or("", |s| w.text(s)).to_owned();
            let at = |needle: &str| {
                span.as_ref().map(|s| {
                    let start = s.start + raw.find(needle).unwrap_or(0);
                    start..start + needle.len()
                })
            };
            match substitute(text, &addresses) {
                Ok(done) => *text = done,
                Err(bad) => w.error(at(&bad.placeholder), bad.message, Some(bad.hint)),
            }
            if text.contains("{volume}") && !stateful {
                w.error(
                    at("{volume}"),
                    "{volume} is only set for stateful services",
                    Some("add stateful = true to give each instance a persistent directory".into()),
                );
            }
        };
        if let Some(args) = t.get("command").and_then(|c| c.as_array()) {
            for (value, arg) in args.iter().zip(spec.command.iter_mut()) {
                fix(w, arg, value.span());
            }
        }
        if let Some(env) = t.get("env").and_then(|e| e.as_table_like()) {
            for (key, item) in env.iter() {
                if let Some(value) = spec.env.get_mut(key) {
                    fix(w, value, item.span());
                }
            }
        }
    }
}

/// The stable addresses one service offers the others.
struct Addresses {
    /// Its TCP listener, as a client reaches it.
    tcp: Option<SocketAddr>,
    /// `http://gateway/prefix` for its HTTP route.
    url: Option<String>,
    has_route: bool,
    /// Its route's `host`: a URL to the gateway's address would not match it.
    host: Option<String>,
}

impl Addresses {
    fn of(spec: &ServiceSpec, gateway: SocketAddr) -> Self {
        let url = spec.route.as_ref().map(|r| {
            let prefix = if r.path_prefix == "/" {
                ""
            } else {
                r.path_prefix.as_str()
            };
            format!("http://{}{prefix}", connect_address(gateway))
        });
        Addresses {
            tcp: spec.tcp.map(|t| t.connect_address()),
            has_route: url.is_some(),
            url,
            host: spec.route.as_ref().and_then(|r| r.host.clone()),
        }
    }
}

/// A placeholder that cannot be resolved.
#[derive(Debug, PartialEq)]
struct BadPlaceholder {
    /// The placeholder as written, to find its position.
    placeholder: String,
    message: String,
    hint: String,
}

/// `text` with every `{service.NAME.ATTR}` replaced, or the first one that cannot be.
fn substitute(
    text: &str,
    services: &BTreeMap<String, Addresses>,
) -> Result<String, BadPlaceholder> {
    const OPEN: &str = "{service.";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        out.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let Some(end) = after.find('}') else {
            return Err(BadPlaceholder {
                placeholder: OPEN.into(),
                message: "unclosed {service.…} placeholder".into(),
                hint: "write {service.NAME.address}, with the closing brace".into(),
            });
        };
        let inner = &after[..end];
        let placeholder = format!("{OPEN}{inner}}}");
        out.push_str(&value_of(inner, &placeholder, services)?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `{service.<inner>}`.
fn value_of(
    inner: &str,
    placeholder: &str,
    services: &BTreeMap<String, Addresses>,
) -> Result<String, BadPlaceholder> {
    let bad = |message: String, hint: String| BadPlaceholder {
        placeholder: placeholder.to_owned(),
        message,
        hint,
    };
    let Some((name, attr)) = inner.rsplit_once('.') else {
        return Err(bad(
            format!("{placeholder} needs an attribute"),
            format!("write {{service.{inner}.address}} ({ATTRIBUTES})"),
        ));
    };
    let Some(found) = services.get(name) else {
        let known: Vec<&str> = services.keys().map(String::as_str).collect();
        return Err(bad(
            format!("{placeholder} names no service \"{name}\""),
            format!("services: {}", known.join(", ")),
        ));
    };
    let no_tcp = || {
        bad(
            format!("service \"{name}\" has no tcp listener, so {placeholder} has no value"),
            format!(
                "add tcp = \"127.0.0.1:PORT\" to [services.{name}]{}",
                if found.has_route {
                    format!(", or use {{service.{name}.url}} for its HTTP route")
                } else {
                    String::new()
                }
            ),
        )
    };
    match attr {
        "address" => found.tcp.map(|a| a.to_string()).ok_or_else(no_tcp),
        "host" => found.tcp.map(|a| a.ip().to_string()).ok_or_else(no_tcp),
        "port" => found.tcp.map(|a| a.port().to_string()).ok_or_else(no_tcp),
        "url" if found.host.is_some() => Err(bad(
            format!(
                "service \"{name}\" is routed by host \"{}\", so {placeholder} would not reach it",
                found.host.as_deref().unwrap_or_default()
            ),
            format!(
                "requests to the gateway's address carry no such Host header: send them to {{service.{name}.address}} over tcp, or give [services.{name}] a path route without host"
            ),
        )),
        "url" => found.url.clone().ok_or_else(|| {
            bad(
                format!("service \"{name}\" has no route, so {placeholder} has no value"),
                format!(
                    "add route = \"/\" to [services.{name}]{}",
                    if found.tcp.is_some() {
                        format!(", or use {{service.{name}.address}} for its tcp listener")
                    } else {
                        String::new()
                    }
                ),
            )
        }),
        other => Err(bad(
            format!("unknown attribute \"{other}\" in {placeholder}"),
            format!("use {ATTRIBUTES}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> BTreeMap<String, Addresses> {
        BTreeMap::from([
            (
                "redis".to_string(),
                Addresses {
                    tcp: Some("127.0.0.1:6380".parse().unwrap()),
                    url: None,
                    has_route: false,
                    host: None,
                },
            ),
            (
                "api".to_string(),
                Addresses {
                    tcp: None,
                    url: Some("http://127.0.0.1:8080/api".into()),
                    has_route: true,
                    host: None,
                },
            ),
        ])
    }

    #[test]
    fn placeholders_become_gateway_addresses() {
        let t = table();
        let s = |x: &str| substitute(x, &t);
        assert_eq!(
            s("redis://{service.redis.address}/0").unwrap(),
            "redis://127.0.0.1:6380/0"
        );
        assert_eq!(
            s("{service.redis.host} {service.redis.port}").unwrap(),
            "127.0.0.1 6380"
        );
        assert_eq!(
            s("{service.api.url}/items").unwrap(),
            "http://127.0.0.1:8080/api/items"
        );
        assert_eq!(
            s("{port} and {volume} stay").unwrap(),
            "{port} and {volume} stay"
        );
    }

    #[test]
    fn bad_placeholders_say_what_to_do() {
        let t = table();
        let e = |x: &str| substitute(x, &t).unwrap_err();
        assert!(e("{service.nope.address}")
            .message
            .contains("no service \"nope\""));
        let no_tcp = e("{service.api.address}");
        assert!(no_tcp.message.contains("no tcp listener"), "{no_tcp:?}");
        assert!(no_tcp.hint.contains("{service.api.url}"), "{no_tcp:?}");
        assert!(e("{service.redis.url}")
            .hint
            .contains("{service.redis.address}"));
        assert!(e("{service.redis.ip}")
            .message
            .contains("unknown attribute \"ip\""));
        assert!(e("{service.redis}").message.contains("needs an attribute"));
        assert!(e("{service.redis.address").message.contains("unclosed"));
    }
}
