//! One `[services.NAME]` table compiled into a [`ServiceSpec`].

mod autoscale;
mod deploy;
mod logs;
mod policy;
mod process;
mod routing;
mod tier;

use std::path::Path;

use crate::model::ServiceSpec;
use crate::walk::{Entry, Span, TableRef, Walker};

use super::Context;

const SERVICE_KEYS: &[&str] = &[
    "command",
    "workdir",
    "env",
    "route",
    "host",
    "instances",
    "health",
    "stop",
    "restart",
    "resources",
    "slow_start",
    "autoscale",
    "deploy",
    "logs",
    "tcp",
    "stateful",
    "volume",
    "depends_on",
    "tags",
    "meta",
];

/// Keys people plausibly write that mean something else here.
const MISPLACED: &[(&str, &str)] = &[
    (
        "port",
        "shoal picks each instance's port: put \"{port}\" in command, or read $PORT in the app",
    ),
    (
        "args",
        "arguments go in command after the program: command = [\"./app\", \"--flag\"]",
    ),
    (
        "path",
        "for the health check path write health = { path = \"/healthz\" }; for routing write route = \"/\"",
    ),
    (
        "update",
        "how a new revision replaces the running one goes in [services.NAME.deploy], e.g. deploy = { max_surge = 1, max_unavailable = 0 }",
    ),
    (
        "strategy",
        "the rollout strategy goes in the deploy table: deploy = { strategy = \"canary\", steps = [{ weight = 10 }] }",
    ),
];

pub(crate) const MAX_NAME_LEN: usize = 40;

/// A compiled service, plus where its route was written (for the duplicate-route check).
pub(crate) struct Compiled {
    pub(crate) spec: ServiceSpec,
    /// Set only when route and host are both valid.
    pub(crate) route_span: Option<Span>,
    /// Where `tcp` was written, when valid (for the listen-address checks).
    pub(crate) tcp_span: Option<Span>,
    /// Each `depends_on` name with its position (checked once every service is known).
    pub(crate) depends_on: Vec<(String, Option<Span>)>,
}

/// True for `[a-z0-9][a-z0-9-]*`, at most [`MAX_NAME_LEN`] characters.
pub(crate) fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= MAX_NAME_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn check_name(w: &mut Walker<'_>, entry: &Entry<'_>) {
    let name = entry.name;
    if valid_name(name) {
        return;
    }
    let mut suggestion: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .trim_start_matches('-')
        .to_owned();
    suggestion.truncate(MAX_NAME_LEN);
    let example = if valid_name(&suggestion) {
        format!(", e.g. \"{suggestion}\"")
    } else {
        String::new()
    };
    w.error(
        entry.key_span(),
        format!("invalid service name \"{name}\""),
        Some(format!(
            "service names are 1 to {MAX_NAME_LEN} characters of lower-case letters, digits and '-', starting with a letter or digit{example}"
        )),
    );
}

/// Compiles one entry of `[services]`. `None` when the entry is not a table (reported).
pub(crate) fn compile(
    w: &mut Walker<'_>,
    cx: &Context<'_>,
    services: &TableRef<'_>,
    entry: Entry<'_>,
    data_dir: &Path,
) -> Option<Compiled> {
    check_name(w, &entry);
    let t = w.table(
        services,
        entry,
        &format!(
            "[services.{}] with command = [\"./my-app\", \"--port\", \"{{port}}\"]",
            entry.name
        ),
    )?;
    w.check_keys(&t, SERVICE_KEYS, MISPLACED);

    let (command, program) = process::command(w, cx, &t, entry.name);
    let workdir = process::workdir(w, cx, &t);
    let env = process::env(w, &t);
    let (route, route_span) = routing::route(w, &t);
    let instances = policy::instances(w, &t);
    let health = policy::health(w, cx, &t, route.is_some());
    let stop = policy::stop(w, &t);
    let restart = policy::restart(w, &t);
    let (resources, memory_absent) = policy::resources(w, &t);
    let slow_start = policy::slow_start(w, &t);
    let autoscale = autoscale::autoscale(w, &t, &instances, memory_absent);
    let stateful = tier::stateful(w, cx, &t, entry.name, data_dir);
    let deploy = deploy::deploy(w, &t, stateful.is_some());
    let logs = logs::logs(w, &t);
    let (tcp, tcp_span) = tier::tcp(w, &t);
    let routed = route.is_some();
    let uses = TcpUses {
        autoscale: autoscale.as_ref(),
        deploy: &deploy,
        zero_min: instances.zero_min.clone(),
    };
    check_tcp_uses(w, &t, &uses, tcp.is_some(), routed);
    let depends_on = tier::depends_on(w, &t);
    let tags = tier::tags(w, &t);
    let meta = tier::meta(w, &t);

    Some(Compiled {
        spec: ServiceSpec {
            name: entry.name.to_owned(),
            command,
            program,
            workdir,
            env,
            route,
            instances: instances.counts,
            health,
            stop,
            restart,
            resources,
            slow_start,
            autoscale,
            deploy,
            logs,
            tcp,
            stateful,
            depends_on: depends_on.iter().map(|(n, _)| n.clone()).collect(),
            tags,
            meta,
        },
        route_span,
        tcp_span,
        depends_on,
    })
}

/// What of a service's other settings depends on how it is reached (HTTP route, TCP listener).
struct TcpUses<'a> {
    autoscale: Option<&'a crate::model::AutoscaleSpec>,
    deploy: &'a crate::model::DeploySpec,
    /// Where `min = 0` was written, when scale to zero is asked for.
    zero_min: Option<Span>,
}

/// Settings that a TCP listener (or its absence) makes meaningless: connections autoscaling
/// without a listener; a canary or scale to zero with only a listener.
fn check_tcp_uses(
    w: &mut Walker<'_>,
    t: &TableRef<'_>,
    uses: &TcpUses<'_>,
    has_tcp: bool,
    routed: bool,
) {
    connections_need_tcp(w, t, uses.autoscale, has_tcp);
    if !has_tcp || routed {
        return;
    }
    canary_needs_a_route(w, t, uses.deploy, routed);
    if let Some(span) = uses.zero_min.clone() {
        w.error(
            Some(span),
            "a service with only a tcp listener cannot scale to zero",
            Some("TCP connections are not held while a first instance starts (HTTP requests are): keep min = 1, or add a route".into()),
        );
    }
}

/// A canary splits *requests* by weight and is judged on their answers: a service without an
/// HTTP route has neither.
fn canary_needs_a_route(
    w: &mut Walker<'_>,
    t: &TableRef<'_>,
    deploy: &crate::model::DeploySpec,
    routed: bool,
) {
    if routed || !matches!(deploy.strategy, crate::model::Strategy::Canary(_)) {
        return;
    }
    let at = t
        .get("deploy")
        .and_then(|e| e.value_span())
        .or_else(|| t.span());
    w.error(
        at,
        "strategy = \"canary\" needs a route",
        Some("a canary sends a share of HTTP requests to the new revision and judges their answers; a service reached only over tcp rolls out with strategy = \"rolling\"".into()),
    );
}

/// `metric = "connections"` counts connections through the service's TCP listener: without
/// one it would never see any.
fn connections_need_tcp(
    w: &mut Walker<'_>,
    t: &TableRef<'_>,
    autoscale: Option<&crate::model::AutoscaleSpec>,
    has_tcp: bool,
) {
    let uses = autoscale.is_some_and(|a| {
        a.metrics
            .iter()
            .any(|m| m.metric == crate::model::Metric::Connections)
    });
    if uses && !has_tcp {
        w.error(
            t.get("autoscale").and_then(|e| e.value_span()),
            "metric = \"connections\" needs a tcp listener",
            Some("it counts open connections through the service's listener: add tcp = \"127.0.0.1:PORT\", or scale on another metric".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names() {
        for ok in ["web", "a", "0", "api-v2", "x-", &"a".repeat(40)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "Web",
            "-web",
            "web_api",
            "web.api",
            "wéb",
            &"a".repeat(41),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
