//! Stage two of loading a spec: turning the walked TOML into the compiled [`Spec`], applying
//! defaults and checking everything that involves more than one value.

mod discovery;
mod listen;
mod program;
mod service;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::model::{AdminSpec, GatewaySpec, Spec};
use crate::walk::convert::{self, Problem};
use crate::walk::{Setting, TableRef, Val, Walker};
use listen::Listen;

/// What compiling needs besides the document.
pub(crate) struct Context<'a> {
    pub(crate) source: &'a Path,
    /// Absolute directory relative paths are resolved against.
    pub(crate) base_dir: &'a Path,
    pub(crate) check_ports: bool,
    pub(crate) check_programs: bool,
}

const TOP_KEYS: &[&str] = &["gateway", "admin", "services"];
const GATEWAY_KEYS: &[&str] = &[
    "listen",
    "connect_timeout",
    "response_timeout",
    "header_timeout",
    "idle_timeout",
    "max_header_bytes",
    "retry_budget",
    "threads",
];
const ADMIN_KEYS: &[&str] = &["listen", "data_dir"];

const MINIMAL_SERVICE: &str =
    "add a service, e.g.\n    [services.web]\n    command = [\"./my-app\", \"--port\", \"{port}\"]\n    route = \"/\"";

/// Compiles the whole document. The result is only meaningful when `w` collected no errors.
pub(crate) fn compile(w: &mut Walker<'_>, cx: &Context<'_>, root: &TableRef<'_>) -> Spec {
    w.check_keys(
        root,
        TOP_KEYS,
        &[(
            "service",
            "services are tables named [services.NAME], e.g. [services.web]",
        )],
    );
    let (gateway, gateway_listen) = gateway(w, root);
    let (admin, admin_listen) = admin(w, cx, root);
    listen::check(w, &gateway_listen, &admin_listen, cx.check_ports);
    let (mut services, positions) = services(w, cx, root, &admin.data_dir);
    let tcp: Vec<Listen> = positions
        .iter()
        .filter_map(|p| {
            let spec = services.get(&p.name)?.tcp?;
            Some(Listen {
                section: format!("services.{}", p.name),
                key: "tcp",
                addr: crate::walk::Setting {
                    value: spec.listen,
                    span: p.tcp.clone(),
                    valid: true,
                },
                section_span: None,
            })
        })
        .collect();
    listen::check_tcp(w, &[&gateway_listen, &admin_listen], &tcp, cx.check_ports);
    discovery::check_dependencies(w, &positions, &services);
    discovery::resolve(w, root, gateway.listen, &mut services);
    Spec {
        source: cx.source.to_path_buf(),
        base_dir: cx.base_dir.to_path_buf(),
        gateway,
        admin,
        services,
    }
}

/// A duration that must not be zero; reported at the value.
fn positive_duration(
    w: &mut Walker<'_>,
    t: &TableRef<'_>,
    key: &str,
    default: Duration,
    what: &str,
) -> Setting<Duration> {
    let s = w.get(t, key, convert::duration).or(default);
    if s.ok().is_some_and(Duration::is_zero) {
        w.error(
            s.span.clone(),
            format!("{key} must be greater than zero"),
            Some(format!("{what}; e.g. {key} = \"{default:?}\"")),
        );
    }
    s
}

fn gateway(w: &mut Walker<'_>, root: &TableRef<'_>) -> (GatewaySpec, Listen) {
    let d = GatewaySpec::default();
    let t = w.section(
        root,
        "gateway",
        GATEWAY_KEYS,
        "[gateway] with listen = \"127.0.0.1:8080\"",
    );
    let listen = w.get(&t, "listen", convert::socket_addr).or(d.listen);
    let connect_timeout = positive_duration(
        w,
        &t,
        "connect_timeout",
        d.connect_timeout,
        "it bounds each connection attempt to an instance",
    );
    let response_timeout = positive_duration(
        w,
        &t,
        "response_timeout",
        d.response_timeout,
        "it is how long an instance may take to send response headers",
    );
    let header_timeout = positive_duration(
        w,
        &t,
        "header_timeout",
        d.header_timeout,
        "it is how long a client may take to send request headers",
    );
    let idle_timeout = positive_duration(
        w,
        &t,
        "idle_timeout",
        d.idle_timeout,
        "it is how long an idle keep-alive connection is kept",
    );

    let max_header = w.get(&t, "max_header_bytes", convert::size);
    let max_header_bytes = match max_header {
        Val::Given(0, span) => {
            w.error(
                span,
                "max_header_bytes must be greater than zero",
                Some("e.g. max_header_bytes = \"64KiB\"".into()),
            );
            d.max_header_bytes
        }
        Val::Given(n, span) => usize::try_from(n).unwrap_or_else(|_| {
            w.error(span, format!("max_header_bytes {n} is too large"), None);
            d.max_header_bytes
        }),
        _ => d.max_header_bytes,
    };

    let retry_budget = w
        .get(&t, "retry_budget", convert::number)
        .or(d.retry_budget);
    if let Some(&r) = retry_budget.ok() {
        if !(0.0..=1.0).contains(&r) {
            w.error(
                retry_budget.span.clone(),
                format!("retry_budget must be between 0 and 1, found {r}"),
                Some("it is a fraction of requests: 0.2 allows retries for up to 20% of requests, 0 disables retries".into()),
            );
        }
    }

    let threads = match w.get(&t, "threads", convert::count) {
        Val::Given(0, span) => {
            w.error(
                span,
                "threads must be at least 1",
                Some(
                    "leave threads out for half the CPUs, or give a count, e.g. threads = 2".into(),
                ),
            );
            None
        }
        Val::Given(n, _) => Some(n),
        _ => None,
    };

    let spec = GatewaySpec {
        listen: listen.value,
        connect_timeout: connect_timeout.value,
        response_timeout: response_timeout.value,
        header_timeout: header_timeout.value,
        idle_timeout: idle_timeout.value,
        max_header_bytes,
        retry_budget: retry_budget.value,
        threads,
    };
    let listen = Listen {
        section: "gateway".into(),
        key: "listen",
        addr: listen,
        section_span: t.span(),
    };
    (spec, listen)
}

fn admin(w: &mut Walker<'_>, cx: &Context<'_>, root: &TableRef<'_>) -> (AdminSpec, Listen) {
    let t = w.section(
        root,
        "admin",
        ADMIN_KEYS,
        "[admin] with listen = \"127.0.0.1:7070\"",
    );
    let listen = w
        .get(&t, "listen", convert::socket_addr)
        .or(SocketAddr::from(([127, 0, 0, 1], 7070)));
    let data_dir = w.get(&t, "data_dir", |item| {
        let s = convert::string(item)?;
        if s.is_empty() {
            return Err(Problem::new("data_dir must not be empty")
                .hint("write a directory, e.g. data_dir = \".shoal\""));
        }
        Ok(s)
    });
    let data_dir = data_dir.or(".shoal".to_owned()).value;
    let data_dir = absolute(&cx.base_dir.join(data_dir));
    let spec = AdminSpec {
        listen: listen.value,
        data_dir,
    };
    let listen = Listen {
        section: "admin".into(),
        key: "listen",
        addr: listen,
        section_span: t.span(),
    };
    (spec, listen)
}

/// `std::path::absolute`, keeping the path as is in the (practically impossible) failure case.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Where a service's settings that are checked against other services were written.
pub(crate) struct Positions {
    pub(crate) name: String,
    /// `tcp`, when valid.
    pub(crate) tcp: Option<crate::walk::Span>,
    /// Each `depends_on` name.
    pub(crate) depends_on: Vec<(String, Option<crate::walk::Span>)>,
}

fn services(
    w: &mut Walker<'_>,
    cx: &Context<'_>,
    root: &TableRef<'_>,
    data_dir: &Path,
) -> (BTreeMap<String, crate::model::ServiceSpec>, Vec<Positions>) {
    let table = w.open(
        root,
        "services",
        "one table per service, e.g. [services.web]",
    );
    let entries = table.entries();
    if entries.is_empty() {
        if table.valid() {
            w.error(None, "no services defined", Some(MINIMAL_SERVICE.into()));
        }
        return (BTreeMap::new(), Vec::new());
    }

    let mut out = BTreeMap::new();
    let mut positions = Vec::new();
    // (host, path prefix) -> the service that claimed it first, in file order.
    let mut routes: HashMap<(Option<String>, String), String> = HashMap::new();
    for entry in entries {
        let Some(compiled) = service::compile(w, cx, &table, entry, data_dir) else {
            continue;
        };
        let name = compiled.spec.name.clone();
        if let (Some(route), Some(span)) = (&compiled.spec.route, compiled.route_span.clone()) {
            let key = (route.host.clone(), route.path_prefix.clone());
            if let Some(first) = routes.get(&key) {
                let on_host = route
                    .host
                    .as_ref()
                    .map(|h| format!(" on host \"{h}\""))
                    .unwrap_or_default();
                w.error(
                    Some(span),
                    format!(
                        "route \"{}\"{on_host} is already used by service \"{first}\"",
                        route.path_prefix
                    ),
                    Some(format!(
                        "each route goes to one service: give \"{name}\" a different route or host, or remove one of them"
                    )),
                );
            } else {
                routes.insert(key, name.clone());
            }
        }
        positions.push(Positions {
            name: name.clone(),
            tcp: compiled.tcp_span,
            depends_on: compiled.depends_on,
        });
        out.insert(name, compiled.spec);
    }
    (out, positions)
}
