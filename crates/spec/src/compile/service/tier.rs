//! What makes a service one tier of a whole application: a TCP listener in the gateway (`tcp`),
//! stable identities with persistent directories (`stateful`, `volume`), the services it needs
//! first (`depends_on`), and what the catalog shows of it (`tags`, `meta`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use toml_edit::{Item, Value};

use crate::compile::{absolute, Context};
use crate::model::{StatefulSpec, TcpSpec};
use crate::walk::convert::{self, Problem};
use crate::walk::{Span, TableRef, Val, Walker};

const TCP_KEYS: &[&str] = &["listen", "max_connections", "idle_timeout", "drain_quiet"];
const TCP_EXAMPLE: &str = "tcp = \"127.0.0.1:6380\"";
/// More connections than this per service would exhaust file descriptors long before.
const MAX_TCP_CONNECTIONS: u32 = 65_536;
const MAX_TAGS: usize = 64;
const MAX_TAG_LEN: usize = 128;
/// Consul's own limits on service meta, so a catalog client never sees more than it accepts.
const MAX_META: usize = 64;
const MAX_META_KEY: usize = 128;
const MAX_META_VALUE: usize = 512;

/// `tcp`, and where it was written (for listen-address checks).
pub(crate) fn tcp(w: &mut Walker<'_>, t: &TableRef<'_>) -> (Option<TcpSpec>, Option<Span>) {
    let Some(entry) = t.get("tcp") else {
        return (None, None);
    };
    let span = entry.value_span();
    if entry.item.is_str() {
        return match w.get(t, "tcp", fixed_port_addr) {
            Val::Given(addr, span) => (Some(TcpSpec::on(addr)), span),
            _ => (None, None),
        };
    }
    if entry.item.as_table_like().is_none() {
        w.problem(
            span,
            Problem::expected("an address or a table", entry.item).hint(format!(
                "write {TCP_EXAMPLE}, or tcp = {{ listen = \"127.0.0.1:6380\", max_connections = 1024 }}"
            )),
        );
        return (None, None);
    }
    let tt = w.section(t, "tcp", TCP_KEYS, TCP_EXAMPLE);
    let listen = match w.get(&tt, "listen", fixed_port_addr) {
        Val::Given(addr, span) => (addr, span),
        Val::Invalid => return (None, None),
        Val::Missing => {
            w.error(
                span,
                "tcp has no listen address",
                Some("add it: tcp = { listen = \"127.0.0.1:6380\" }".into()),
            );
            return (None, None);
        }
    };
    let d = TcpSpec::on(listen.0);
    let max = w
        .get(&tt, "max_connections", convert::count)
        .or(d.max_connections);
    if let Some(&m) = max.ok() {
        if m == 0 || m > MAX_TCP_CONNECTIONS {
            w.error(
                max.span.clone(),
                format!("max_connections must be between 1 and {MAX_TCP_CONNECTIONS}, found {m}"),
                Some(
                    "it bounds the open connections to this service; e.g. max_connections = 1024"
                        .into(),
                ),
            );
        }
    }
    let idle_timeout = positive(w, &tt, "idle_timeout", d.idle_timeout);
    let drain_quiet = positive(w, &tt, "drain_quiet", d.drain_quiet);
    let spec = TcpSpec {
        listen: listen.0,
        max_connections: max.value,
        idle_timeout,
        drain_quiet,
    };
    (Some(spec), listen.1)
}

/// A listen address with a real port: other services find this one by it (`{service.NAME.port}`),
/// so "any free port" (0) would leave them nothing to connect to.
fn fixed_port_addr(item: &Item) -> Result<std::net::SocketAddr, Problem> {
    let addr = convert::socket_addr(item)?;
    if addr.port() == 0 {
        return Err(Problem::new("a tcp listener needs a fixed port, found port 0").hint(
            "other services reach it at this address: choose a free port, e.g. \"127.0.0.1:6380\"",
        ));
    }
    Ok(addr)
}

fn positive(w: &mut Walker<'_>, t: &TableRef<'_>, key: &str, default: Duration) -> Duration {
    crate::compile::positive_duration(
        w,
        t,
        key,
        default,
        match key {
            "idle_timeout" => "a connection quiet this long is closed",
            _ => "a leaving instance's connection is closed once quiet this long",
        },
    )
    .value
}

/// `stateful` and `volume`. `None` for a disposable service; `volume` without `stateful` is an
/// error (it would silently do nothing).
pub(crate) fn stateful(
    w: &mut Walker<'_>,
    cx: &Context<'_>,
    t: &TableRef<'_>,
    service: &str,
    data_dir: &Path,
) -> Option<StatefulSpec> {
    let on = w.get(t, "stateful", convert::boolean);
    let volume = w.get(t, "volume", |item| {
        let s = convert::string(item)?;
        if s.trim().is_empty() {
            return Err(Problem::new("volume must not be empty").hint(
                "remove it for a directory under the data dir, or write e.g. volume = \"data/db\"",
            ));
        }
        Ok(s)
    });
    match (on, volume) {
        (Val::Given(true, _), volume) => {
            let volumes = match volume {
                Val::Given(dir, _) => absolute(&cx.base_dir.join(dir)),
                _ => data_dir.join("volumes").join(service),
            };
            Some(StatefulSpec { volumes })
        }
        (on, Val::Given(_, span)) => {
            if !matches!(on, Val::Invalid) {
                w.error(
                    span,
                    "volume is set but the service is not stateful",
                    Some("add stateful = true to give each instance a persistent directory, or remove volume".into()),
                );
            }
            None
        }
        _ => None,
    }
}

/// `depends_on`: names, with their positions for the checks that need every service; a name
/// listed twice is reported (and kept once).
pub(crate) fn depends_on(w: &mut Walker<'_>, t: &TableRef<'_>) -> Vec<(String, Option<Span>)> {
    let Val::Given(list, _) = w.string_list(t, "depends_on", "[\"db\"]") else {
        return Vec::new();
    };
    let mut out: Vec<(String, Option<Span>)> = Vec::new();
    for (name, at) in list {
        if out.iter().any(|(n, _)| *n == name) {
            w.error(
                at,
                format!("depends_on lists \"{name}\" twice"),
                Some("remove one of them".into()),
            );
        } else {
            out.push((name, at));
        }
    }
    out
}

/// `tags`: short non-empty strings, no duplicates.
pub(crate) fn tags(w: &mut Walker<'_>, t: &TableRef<'_>) -> Vec<String> {
    let Val::Given(list, span) = w.string_list(t, "tags", "[\"primary\"]") else {
        return Vec::new();
    };
    if list.len() > MAX_TAGS {
        w.error(
            span,
            format!("at most {MAX_TAGS} tags, found {}", list.len()),
            Some("tags are a few labels for the catalog; put other data in meta = { ... }".into()),
        );
    }
    let mut out: Vec<String> = Vec::new();
    for (tag, at) in list {
        if tag.trim().is_empty() || tag.len() > MAX_TAG_LEN {
            w.error(
                at,
                format!("a tag must be 1 to {MAX_TAG_LEN} characters"),
                Some("tags are short labels, e.g. tags = [\"primary\", \"v7\"]".into()),
            );
        } else if out.contains(&tag) {
            w.error(at, format!("tag \"{tag}\" is listed twice"), None);
        } else {
            out.push(tag);
        }
    }
    out
}

/// `meta`: a table of string values.
pub(crate) fn meta(w: &mut Walker<'_>, t: &TableRef<'_>) -> BTreeMap<String, String> {
    let table = w.open(t, "meta", "meta = { version = \"7\" }");
    let mut out = BTreeMap::new();
    let entries = table.entries();
    if entries.len() > MAX_META {
        w.error(
            table.span(),
            format!("at most {MAX_META} meta entries, found {}", entries.len()),
            Some("meta is a few labels for the catalog (Consul's own limit)".into()),
        );
    }
    for entry in entries {
        if entry.name.is_empty() || entry.name.len() > MAX_META_KEY {
            w.error(
                entry.key_span(),
                format!("a meta key must be 1 to {MAX_META_KEY} characters"),
                None,
            );
        }
        if entry
            .item
            .as_str()
            .is_some_and(|v| v.len() > MAX_META_VALUE)
        {
            w.error(
                entry.value_span(),
                format!("a meta value must be at most {MAX_META_VALUE} characters"),
                Some("meta is for short labels; keep larger data out of the spec".into()),
            );
        }
        match entry.item {
            Item::Value(Value::String(s)) => {
                out.insert(entry.name.to_owned(), s.value().clone());
            }
            item => w.problem(
                entry.value_span(),
                Problem::expected("a string", item).hint(format!(
                    "meta values are strings: {} = \"value\"",
                    entry.name
                )),
            ),
        }
    }
    out
}
