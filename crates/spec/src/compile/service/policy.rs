//! How shoal manages a service's instances: how many (`instances`), when they get traffic
//! (`health`, `slow_start`), how they stop (`stop`), how crashes are paced (`restart`) and what
//! they may use (`resources`).

use std::time::Duration;

use toml_edit::Item;

use crate::compile::{program, Context};
use crate::model::{HealthCheck, HealthSpec, InstanceCounts, ResourcesSpec, RestartSpec, StopSpec};
use crate::walk::convert::{self, Problem};
use crate::walk::{Setting, Span, TableRef, Val, Walker};

/// The most instances one service may ask for.
pub(crate) const MAX_INSTANCES: u32 = 1000;
/// Health checks more frequent than this are noise, not signal.
pub(crate) const MIN_HEALTH_INTERVAL: Duration = Duration::from_millis(100);
/// Smaller limits would not even fit a typical runtime.
pub(crate) const MIN_MEMORY: u64 = 4 << 20;
/// The most cores a service may claim.
pub(crate) const MAX_CPU: f64 = 1024.0;

const INSTANCE_KEYS: &[&str] = &["min", "desired", "max"];
const HEALTH_KEYS: &[&str] = &[
    "path",
    "tcp",
    "send",
    "expect",
    "exec",
    "interval",
    "timeout",
    "healthy_threshold",
    "unhealthy_threshold",
    "restart_after",
];
const STOP_KEYS: &[&str] = &["drain", "timeout"];
const RESTART_KEYS: &[&str] = &["backoff", "max_backoff"];
const RESOURCE_KEYS: &[&str] = &["cpu", "memory"];

/// The position of the first of two settings that was written in the file.
pub(crate) fn written(first: &Setting<impl Sized>, second: &Setting<impl Sized>) -> Option<Span> {
    first.span.clone().or_else(|| second.span.clone())
}

/// `instances`, plus what later checks need to know about how it was written.
pub(crate) struct Instances {
    pub(crate) counts: InstanceCounts,
    /// Where `min = 0` was written, when every count is valid (scale to zero is then asked for).
    pub(crate) zero_min: Option<Span>,
}

pub(crate) fn instances(w: &mut Walker<'_>, t: &TableRef<'_>) -> Instances {
    let it = w.section(
        t,
        "instances",
        INSTANCE_KEYS,
        "instances = { min = 1, desired = 2, max = 4 }",
    );
    let min = w.get(&it, "min", convert::count).or(1);
    let desired = w.get(&it, "desired", convert::count);
    let max = w.get(&it, "max", convert::count);

    let given_max = match &max {
        Val::Given(m, _) => Some(*m),
        _ => None,
    };
    let mut default_desired = min.value.max(1);
    if let Some(m) = given_max {
        default_desired = default_desired.min(m);
    }
    let desired = desired.or(default_desired);
    let max = max.or(desired.value.max(min.value).max(1));

    let mut consistent = false;
    if let (Some(&lo), Some(&want), Some(&hi)) = (min.ok(), desired.ok(), max.ok()) {
        let order = "instance counts must satisfy min <= desired <= max".to_owned();
        if hi < 1 {
            w.error(
                max.span.clone(),
                "max must be at least 1",
                Some(
                    "max is the most instances that may run; use min = 0 to allow scaling to zero"
                        .into(),
                ),
            );
        } else if hi > MAX_INSTANCES {
            w.error(
                max.span.clone(),
                format!("max must be at most {MAX_INSTANCES}, found {hi}"),
                None,
            );
        } else if lo > hi {
            w.error(
                written(&min, &max),
                format!("min ({lo}) is greater than max ({hi})"),
                Some(order),
            );
        } else if lo > want {
            let hint = if lo == 1 && !min.given() {
                "min defaults to 1; set min = 0 as well to allow zero instances".to_owned()
            } else {
                order
            };
            w.error(
                written(&desired, &min),
                format!("desired ({want}) is less than min ({lo})"),
                Some(hint),
            );
        } else if want > hi {
            w.error(
                written(&desired, &max),
                format!("desired ({want}) is greater than max ({hi})"),
                Some(format!("raise max to at least {want}, or lower desired")),
            );
        } else {
            consistent = true;
        }
    }
    Instances {
        counts: InstanceCounts {
            min: min.value,
            desired: desired.value,
            max: max.value,
        },
        zero_min: min.span.clone().filter(|_| consistent && min.value == 0),
    }
}

/// `restart_after`: a duration, or `"never"` / `"0s"` for no restarts.
fn restart_after(item: &Item) -> Result<Option<Duration>, Problem> {
    if item.as_str().is_some_and(|s| s.trim() == "never") {
        return Ok(None);
    }
    let d = convert::duration(item).map_err(|p| {
        if item.is_str() {
            p.hint("write a duration such as \"60s\", or \"never\" to never restart unhealthy instances")
        } else {
            p
        }
    })?;
    Ok((!d.is_zero()).then_some(d))
}

/// Which check `health` asks for: exactly one of `path` (HTTP), `tcp = true`, `expect` (with an
/// optional `send`) or `exec`; without any, HTTP `GET /` for routed services and a TCP connect
/// otherwise.
fn check_kind(w: &mut Walker<'_>, cx: &Context<'_>, h: &TableRef<'_>, routed: bool) -> HealthCheck {
    let path = w.get(h, "path", |item| {
        let p = convert::string(item)?;
        if p.starts_with('/') {
            Ok(p)
        } else {
            Err(
                Problem::new(format!("health path must start with \"/\", found \"{p}\""))
                    .hint(format!("write path = \"/{}\"", p.trim_start_matches('/'))),
            )
        }
    });
    let tcp = w.get(h, "tcp", convert::boolean);
    let send = w.get(h, "send", convert::string);
    let expect = w.get(h, "expect", |item| {
        let e = convert::string(item)?;
        if e.is_empty() {
            return Err(Problem::new("expect must not be empty").hint(
                "write the start of the answer that means healthy, e.g. expect = \"+PONG\"",
            ));
        }
        Ok(e)
    });
    let exec = exec_probe(w, cx, h);
    let mut kinds: Vec<(&str, Option<Span>)> = Vec::new();
    if let Val::Given(_, span) = &path {
        kinds.push(("path", span.clone()));
    }
    if let Val::Given(true, span) = &tcp {
        kinds.push(("tcp", span.clone()));
    }
    if let Val::Given(_, span) = &expect {
        kinds.push(("expect", span.clone()));
    }
    if let Some((_, span)) = &exec {
        kinds.push(("exec", span.clone()));
    }
    if let [first, second, ..] = kinds.as_slice() {
        w.error(
            second.1.clone(),
            format!("health has both {} and {}: choose one kind of check", first.0, second.0),
            Some("path = HTTP GET, tcp = true = a TCP connect, send/expect = a protocol probe, exec = a program".into()),
        );
    }
    if let (Val::Given(_, span), Val::Missing) = (&send, &expect) {
        w.error(
            span.clone(),
            "health.send needs expect",
            Some("say what a healthy answer contains, e.g. health = { send = \"PING\\r\\n\", expect = \"+PONG\" }".into()),
        );
    }
    match (path, tcp, expect, exec) {
        (Val::Given(path, _), ..) => HealthCheck::Http { path },
        (_, Val::Given(true, _), ..) => HealthCheck::Tcp,
        (_, _, Val::Given(expect, _), _) => HealthCheck::Expect {
            send: match send {
                Val::Given(s, _) => s,
                _ => String::new(),
            },
            expect,
        },
        (_, _, _, Some((check, _))) => check,
        (_, Val::Given(false, _), ..) => HealthCheck::Http { path: "/".into() },
        _ if routed => HealthCheck::Http { path: "/".into() },
        _ => HealthCheck::Tcp,
    }
}

/// `exec = ["pg_isready", "-p", "{port}"]`: the probe program, resolved like `command`.
fn exec_probe(
    w: &mut Walker<'_>,
    cx: &Context<'_>,
    h: &TableRef<'_>,
) -> Option<(HealthCheck, Option<Span>)> {
    let example = "[\"pg_isready\", \"-h\", \"127.0.0.1\", \"-p\", \"{port}\"]";
    let Val::Given(argv, span) = w.string_list(h, "exec", example) else {
        return None;
    };
    let Some((first, first_span)) = argv.first() else {
        w.error(
            span,
            "health.exec is empty",
            Some(format!(
                "give the program and its arguments: exec = {example}"
            )),
        );
        return None;
    };
    let program = if cx.check_programs {
        let path_var = std::env::var_os("PATH");
        match program::resolve(first, cx.base_dir, path_var.as_deref()) {
            Ok(p) => p,
            Err(p) => {
                w.problem(first_span.clone(), p);
                return None;
            }
        }
    } else {
        std::path::PathBuf::from(first)
    };
    let argv = argv.into_iter().map(|(a, _)| a).collect();
    Some((HealthCheck::Exec { argv, program }, span))
}

/// A threshold count that must be at least 1.
fn threshold(w: &mut Walker<'_>, t: &TableRef<'_>, key: &str, default: u32) -> u32 {
    let s = w.get(t, key, convert::count).or(default);
    if s.ok() == Some(&0) {
        w.error(
            s.span.clone(),
            format!("{key} must be at least 1"),
            Some(format!(
                "it counts consecutive checks; e.g. {key} = {default}"
            )),
        );
    }
    s.value
}

pub(crate) fn health(
    w: &mut Walker<'_>,
    cx: &Context<'_>,
    t: &TableRef<'_>,
    routed: bool,
) -> HealthSpec {
    let h = w.section(
        t,
        "health",
        HEALTH_KEYS,
        "health = { path = \"/healthz\", interval = \"2s\" }",
    );
    let check = check_kind(w, cx, &h, routed);
    let interval = w
        .get(&h, "interval", convert::duration)
        .or(Duration::from_secs(2));
    if let Some(&i) = interval.ok() {
        if i < MIN_HEALTH_INTERVAL {
            w.error(
                interval.span.clone(),
                format!("health interval must be at least {MIN_HEALTH_INTERVAL:?}, found {i:?}"),
                Some("e.g. interval = \"2s\"".into()),
            );
        }
    }
    let timeout = w
        .get(&h, "timeout", convert::duration)
        .or(Duration::from_secs(1));
    if let Some(&to) = timeout.ok() {
        if to.is_zero() {
            w.error(
                timeout.span.clone(),
                "health timeout must be greater than zero",
                Some("e.g. timeout = \"1s\"".into()),
            );
        } else if let Some(&i) = interval.ok().filter(|&&i| i >= MIN_HEALTH_INTERVAL) {
            if to >= i {
                w.error(
                    written(&timeout, &interval),
                    format!("health timeout ({to:?}) must be shorter than interval ({i:?})"),
                    Some("a check must finish before the next one starts: lower timeout or raise interval".into()),
                );
            }
        }
    }
    let healthy_threshold = threshold(w, &h, "healthy_threshold", 2);
    let unhealthy_threshold = threshold(w, &h, "unhealthy_threshold", 3);
    let restart_after = w
        .get(&h, "restart_after", restart_after)
        .or(Some(Duration::from_secs(60)))
        .value;

    HealthSpec {
        check,
        interval: interval.value,
        timeout: timeout.value,
        healthy_threshold,
        unhealthy_threshold,
        restart_after,
    }
}

pub(crate) fn stop(w: &mut Walker<'_>, t: &TableRef<'_>) -> StopSpec {
    let d = StopSpec::default();
    let s = w.section(
        t,
        "stop",
        STOP_KEYS,
        "stop = { drain = \"10s\", timeout = \"10s\" }",
    );
    let drain = w.get(&s, "drain", convert::duration).or(d.drain);
    let timeout = w.get(&s, "timeout", convert::duration).or(d.timeout);
    if timeout.ok().is_some_and(Duration::is_zero) {
        w.error(
            timeout.span.clone(),
            "stop timeout must be greater than zero",
            Some("it is how long an instance may take to exit after SIGTERM before SIGKILL; e.g. timeout = \"10s\"".into()),
        );
    }
    StopSpec {
        drain: drain.value,
        timeout: timeout.value,
    }
}

pub(crate) fn restart(w: &mut Walker<'_>, t: &TableRef<'_>) -> RestartSpec {
    let d = RestartSpec::default();
    let r = w.section(
        t,
        "restart",
        RESTART_KEYS,
        "restart = { backoff = \"100ms\", max_backoff = \"30s\" }",
    );
    let backoff = w.get(&r, "backoff", convert::duration).or(d.backoff);
    let max_backoff = w
        .get(&r, "max_backoff", convert::duration)
        .or(d.max_backoff);
    if let (Some(&b), Some(&m)) = (backoff.ok(), max_backoff.ok()) {
        if b.is_zero() {
            w.error(
                backoff.span.clone(),
                "restart backoff must be greater than zero",
                Some("it is the first delay before restarting a crashed instance; e.g. backoff = \"100ms\"".into()),
            );
        } else if b > m {
            w.error(
                written(&backoff, &max_backoff),
                format!("restart backoff ({b:?}) is longer than max_backoff ({m:?})"),
                Some("backoff is the first delay and doubles up to max_backoff: lower backoff or raise max_backoff".into()),
            );
        }
    }
    RestartSpec {
        backoff: backoff.value,
        max_backoff: max_backoff.value,
    }
}

/// `resources`, and whether `memory` was left out (as opposed to written with an error already
/// reported), so that checks needing the memory limit complain only when it is really missing.
pub(crate) fn resources(w: &mut Walker<'_>, t: &TableRef<'_>) -> (ResourcesSpec, bool) {
    let d = ResourcesSpec::default();
    let r = w.section(
        t,
        "resources",
        RESOURCE_KEYS,
        "resources = { cpu = 0.5, memory = \"256MiB\" }",
    );
    let cpu = w.get(&r, "cpu", convert::number).or(d.cpu);
    if let Some(&c) = cpu.ok() {
        if c <= 0.0 || c > MAX_CPU {
            w.error(
                cpu.span.clone(),
                format!("cpu must be greater than 0 and at most {MAX_CPU}, found {c}"),
                Some("cpu is in cores: 0.5 is half a core, 2 is two cores".into()),
            );
        }
    }
    let memory = w.get(&r, "memory", convert::size);
    let memory_absent = matches!(memory, Val::Missing);
    let memory = match memory {
        Val::Given(m, span) if m < MIN_MEMORY => {
            w.error(
                span,
                format!("memory must be at least 4MiB, found {m} bytes"),
                Some(
                    "write a size with a unit, e.g. memory = \"256MiB\" (a bare number is bytes)"
                        .into(),
                ),
            );
            None
        }
        Val::Given(m, _) => Some(m),
        _ => d.memory,
    };
    (
        ResourcesSpec {
            cpu: cpu.value,
            memory,
        },
        memory_absent,
    )
}

pub(crate) fn slow_start(w: &mut Walker<'_>, t: &TableRef<'_>) -> Duration {
    w.get(t, "slow_start", convert::duration)
        .or(Duration::from_secs(10))
        .value
}
