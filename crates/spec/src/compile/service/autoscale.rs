//! `[services.NAME.autoscale]`: which metrics drive the instance count, and how quickly and how
//! smoothly the count may follow them.
//!
//! One metric is written directly in the table (`metric = "cpu"`, `target = 70`); several are
//! written as `[[services.NAME.autoscale.metrics]]` entries with the same keys. The two forms
//! cannot be mixed, so a reader never has to guess which one wins.

use toml_edit::Item;

use super::policy::{written, Instances};
use crate::compile::positive_duration;
use crate::model::{AutoscaleSpec, Metric, MetricTarget, RateLimit};
use crate::walk::convert::{self, Problem};
use crate::walk::{suggest, Setting, TableRef, Val, Walker};

const AUTOSCALE_KEYS: &[&str] = &[
    "metric",
    "target",
    "url",
    "query",
    "metrics",
    "tolerance",
    "tolerance_up",
    "tolerance_down",
    "stable_window",
    "panic_window",
    "panic_threshold",
    "target_utilization",
    "scale_down_stabilization",
    "scale_up_cooldown",
    "scale_down_cooldown",
    "scale_up_limit",
    "scale_down_limit",
    "warmup",
    "idle",
    "cold_start_timeout",
    "cold_start_queue",
];

/// Keys of one metric, in the table itself or in a `metrics` entry.
const METRIC_KEYS: &[&str] = &["metric", "target", "url", "query"];
const LIMIT_KEYS: &[&str] = &["instances", "percent", "period"];
const METRIC_NAMES: &[&str] = &[
    "cpu",
    "memory",
    "concurrency",
    "rps",
    "connections",
    "latency_p95",
    "prometheus",
];

/// Keys people plausibly write in the autoscale table that belong elsewhere.
const MISPLACED: &[(&str, &str)] = &[
    (
        "min",
        "the bounds of autoscaling are the instance counts: instances = { min = 1, max = 10 }",
    ),
    (
        "max",
        "the bounds of autoscaling are the instance counts: instances = { min = 1, max = 10 }",
    ),
    (
        "cooldown",
        "write scale_up_cooldown and/or scale_down_cooldown, e.g. scale_down_cooldown = \"10s\"",
    ),
];

/// CPU targets are percent of `resources.cpu`; like the HPA, more than 100 is allowed (a service
/// may be meant to burst above its request), within reason.
pub(crate) const MAX_CPU_TARGET: f64 = 1000.0;

/// Reads `autoscale` of the service table `t`. `None` when there is no autoscale table (or it is
/// not a table, which is reported). Scale to zero (`min = 0`) needs one: without it nothing would
/// ever start the first instance again.
pub(crate) fn autoscale(
    w: &mut Walker<'_>,
    t: &TableRef<'_>,
    instances: &Instances,
    memory_absent: bool,
) -> Option<AutoscaleSpec> {
    let Some(entry) = t.get("autoscale") else {
        if let Some(span) = instances.zero_min.clone() {
            w.error(
                Some(span),
                "min = 0 needs an autoscaler",
                Some(format!(
                    "only the autoscaler scales a service to zero and starts it again when a request arrives: add [{}.autoscale] with e.g. metric = \"concurrency\" and target = 10, or set min = 1",
                    t.path()
                )),
            );
        }
        return None;
    };
    let a = w.table(
        t,
        entry,
        &format!(
            "[{}.autoscale] with metric = \"concurrency\" and target = 10",
            t.path()
        ),
    )?;
    w.check_keys(&a, AUTOSCALE_KEYS, MISPLACED);
    let d = AutoscaleSpec::with_metrics(Vec::new());

    let metrics = metrics(w, &a, memory_absent);

    let tolerance = tolerance(w, &a, "tolerance", d.tolerance_up);
    let tolerance_up = tolerance_or(w, &a, "tolerance_up", &tolerance);
    let tolerance_down = tolerance_or(w, &a, "tolerance_down", &tolerance);

    let stable_window = positive_duration(
        w,
        &a,
        "stable_window",
        d.stable_window,
        "concurrency and rps are averaged over this window",
    );
    let panic_window = positive_duration(
        w,
        &a,
        "panic_window",
        d.panic_window,
        "it is the short window that detects a sudden burst",
    );
    if let (Some(&p), Some(&s)) = (panic_window.ok(), stable_window.ok()) {
        if !p.is_zero() && !s.is_zero() && p >= s {
            w.error(
                written(&panic_window, &stable_window),
                format!("panic_window ({p:?}) must be shorter than stable_window ({s:?})"),
                Some("the panic window reacts to bursts within the longer stable window: lower panic_window or raise stable_window (defaults 6s and 60s)".into()),
            );
        }
    }

    let panic_threshold = w
        .get(&a, "panic_threshold", convert::number)
        .or(d.panic_threshold);
    if panic_threshold.ok().is_some_and(|&p| p <= 1.0) {
        w.error(
            panic_threshold.span.clone(),
            format!(
                "panic_threshold must be greater than 1, found {}",
                panic_threshold.value
            ),
            Some("panic starts when the short window asks for this multiple of the ready instances; e.g. panic_threshold = 2".into()),
        );
    }
    let target_utilization = w
        .get(&a, "target_utilization", convert::number)
        .or(d.target_utilization);
    if target_utilization
        .ok()
        .is_some_and(|&u| u <= 0.0 || u > 1.0)
    {
        w.error(
            target_utilization.span.clone(),
            format!(
                "target_utilization must be greater than 0 and at most 1, found {}",
                target_utilization.value
            ),
            Some("it is the share of the per-instance target aimed at, leaving headroom for bursts: 0.7 aims at 70%".into()),
        );
    }

    let duration = |w: &mut Walker<'_>, key: &str, default| {
        w.get(&a, key, convert::duration).or(default).value
    };
    let scale_down_stabilization =
        duration(w, "scale_down_stabilization", d.scale_down_stabilization);
    let scale_up_cooldown = duration(w, "scale_up_cooldown", d.scale_up_cooldown);
    let scale_down_cooldown = duration(w, "scale_down_cooldown", d.scale_down_cooldown);
    let scale_up_limit = rate_limit(w, &a, "scale_up_limit", d.scale_up_limit);
    let scale_down_limit = rate_limit(w, &a, "scale_down_limit", d.scale_down_limit);
    let warmup = duration(w, "warmup", d.warmup);
    let idle = positive_duration(
        w,
        &a,
        "idle",
        d.idle,
        "it is how long a service with min = 0 may go without requests before it stops",
    );
    let cold_start_timeout = positive_duration(
        w,
        &a,
        "cold_start_timeout",
        d.cold_start_timeout,
        "it is how long a request waits for the first instance to start",
    );
    let queue = w
        .get(&a, "cold_start_queue", convert::count)
        .or(u32::try_from(d.cold_start_queue).unwrap_or(u32::MAX));
    if queue.ok() == Some(&0) {
        w.error(
            queue.span.clone(),
            "cold_start_queue must be at least 1",
            Some("it is how many requests may wait while the first instance starts; a request that waits is what starts it, e.g. cold_start_queue = 1000".into()),
        );
    }

    Some(AutoscaleSpec {
        metrics,
        tolerance_up: tolerance_up.value,
        tolerance_down: tolerance_down.value,
        stable_window: stable_window.value,
        panic_window: panic_window.value,
        panic_threshold: panic_threshold.value,
        target_utilization: target_utilization.value,
        scale_down_stabilization,
        scale_up_cooldown,
        scale_down_cooldown,
        scale_up_limit,
        scale_down_limit,
        warmup,
        idle: idle.value,
        cold_start_timeout: cold_start_timeout.value,
        cold_start_queue: queue.value as usize,
    })
}

/// The metrics, from either form. Problems are reported; metrics that had one are left out.
fn metrics(w: &mut Walker<'_>, a: &TableRef<'_>, memory_absent: bool) -> Vec<MetricTarget> {
    let direct = METRIC_KEYS.iter().any(|k| a.get(k).is_some());
    let listed = w.table_array(
        a,
        "metrics",
        METRIC_KEYS,
        &format!(
            "[[{}.metrics]] tables, each with metric and target",
            a.path()
        ),
    );
    let mut out = Vec::new();
    if direct {
        if let Some(entry) = a.get("metrics") {
            w.error(
                entry.value_span(),
                format!(
                    "{} has both metric and metrics",
                    a.location().trim_start_matches("in ")
                ),
                Some(format!(
                    "write one metric as metric = ... and target = ... in [{0}], or several as [[{0}.metrics]] entries, not both",
                    a.path()
                )),
            );
        }
        out.extend(metric_target(w, a, memory_absent));
    }
    match listed {
        Val::Given(tables, span) => {
            if tables.is_empty() {
                w.error(
                    span,
                    format!("{}.metrics is empty", a.path()),
                    Some("list at least one metric, e.g. metrics = [{ metric = \"cpu\", target = 70 }]".into()),
                );
            }
            for m in &tables {
                out.extend(metric_target(w, m, memory_absent));
            }
        }
        Val::Missing if !direct => w.error(
            a.span(),
            format!("no metric {}", a.location()),
            Some(format!(
                "say what to scale on, e.g. metric = \"concurrency\" and target = 10 (metrics: {}), or add [[{}.metrics]] entries",
                METRIC_NAMES.join(", "),
                a.path()
            )),
        ),
        Val::Missing | Val::Invalid => {}
    }
    out
}

/// One metric and its target from `m` (the autoscale table itself or a `metrics` entry).
fn metric_target(
    w: &mut Walker<'_>,
    m: &TableRef<'_>,
    memory_absent: bool,
) -> Option<MetricTarget> {
    let metric = w.get(m, "metric", metric_name);
    let target = w.get(m, "target", convert::number);
    let url = w.get(m, "url", prometheus_url);
    let query = w.get(m, "query", |item| {
        let q = convert::string(item)?;
        if q.trim().is_empty() {
            return Err(Problem::new("query must not be empty")
                .hint("write the PromQL expression whose value is compared with target"));
        }
        Ok(q)
    });

    let (name, metric_span) = match metric {
        Val::Given(name, span) => (name, span),
        Val::Missing => {
            w.error(
                m.span(),
                format!("no metric {}", m.location()),
                Some(format!(
                    "add e.g. metric = \"concurrency\" (metrics: {})",
                    METRIC_NAMES.join(", ")
                )),
            );
            return None;
        }
        Val::Invalid => return None,
    };
    let mut ok = true;

    let target = match target {
        Val::Given(v, span) => {
            let bound = match name {
                "cpu" => Some((MAX_CPU_TARGET, "percent of resources.cpu")),
                "memory" => Some((100.0, "percent of resources.memory")),
                _ => None,
            };
            if v <= 0.0 {
                ok = false;
                w.error(
                    span,
                    format!("target must be greater than 0, found {v}"),
                    Some(target_example(name)),
                );
            } else if let Some((max, what)) = bound.filter(|&(max, _)| v > max) {
                ok = false;
                w.error(
                    span,
                    format!("{name} target must be at most {max}, found {v}"),
                    Some(format!("the target is {what}: {}", target_example(name))),
                );
            }
            v
        }
        Val::Missing => {
            ok = false;
            w.error(
                metric_span.clone(),
                format!("metric \"{name}\" has no target"),
                Some(format!("add {}", target_example(name))),
            );
            0.0
        }
        Val::Invalid => {
            ok = false;
            0.0
        }
    };

    if name == "memory" && memory_absent {
        ok = false;
        w.error(
            metric_span.clone(),
            "metric \"memory\" needs resources.memory",
            Some("memory is measured in percent of the service's limit: add e.g. resources = { memory = \"512MiB\" }".into()),
        );
    }

    if name != "prometheus" {
        for (key, val) in [("url", &url), ("query", &query)] {
            if let Val::Given(_, span) = val {
                ok = false;
                w.error(
                    span.clone(),
                    format!("{key} is only used with metric = \"prometheus\""),
                    Some(format!(
                        "remove {key}, or set metric = \"prometheus\" to scale on a query"
                    )),
                );
            }
        }
        let metric = match name {
            "cpu" => Metric::Cpu,
            "memory" => Metric::Memory,
            "concurrency" => Metric::Concurrency,
            "rps" => Metric::Rps,
            "connections" => Metric::Connections,
            _ => Metric::LatencyP95,
        };
        return ok.then_some(MetricTarget { metric, target });
    }

    let required = |w: &mut Walker<'_>, key: &str, val: Val<String>, example: &str| match val {
        Val::Given(v, _) => Some(v),
        Val::Missing => {
            w.error(
                metric_span.clone(),
                format!("metric \"prometheus\" needs {key}"),
                Some(format!("add {example}")),
            );
            None
        }
        Val::Invalid => None,
    };
    let url = required(
        w,
        "url",
        url,
        "url = \"http://127.0.0.1:9090\" (the Prometheus server's base URL)",
    );
    let query = required(
        w,
        "query",
        query,
        "query = \"sum(rate(http_requests_total[1m]))\" (its value is compared with target × instances)",
    );
    match (url, query) {
        (Some(url), Some(query)) if ok => Some(MetricTarget {
            metric: Metric::Prometheus { url, query },
            target,
        }),
        _ => None,
    }
}

/// A correct `target` line for a metric, for hints.
fn target_example(metric: &str) -> String {
    match metric {
        "cpu" => "target = 70 (percent of resources.cpu per instance)",
        "memory" => "target = 80 (percent of resources.memory per instance)",
        "concurrency" => "target = 10 (requests in flight per instance)",
        "rps" => "target = 100 (requests per second per instance)",
        "connections" => "target = 20 (open TCP connections per instance)",
        "latency_p95" => "target = 200 (milliseconds)",
        _ => "target = 100 (the query's value per instance)",
    }
    .to_owned()
}

/// `metric`: one of [`METRIC_NAMES`].
fn metric_name(item: &Item) -> Result<&'static str, Problem> {
    let s = convert::string(item).map_err(|p| {
        p.hint(format!(
            "write the metric's name in quotes, one of {}",
            METRIC_NAMES.join(", ")
        ))
    })?;
    if let Some(&name) = METRIC_NAMES.iter().find(|&&n| n == s) {
        return Ok(name);
    }
    let list = METRIC_NAMES.join(", ");
    let lower = s.to_ascii_lowercase();
    let close = suggest::closest(&s, METRIC_NAMES).or(match lower.as_str() {
        l if l.starts_with("latency") || l.starts_with("p95") => Some("latency_p95"),
        "requests" | "qps" | "requests_per_second" | "throughput" => Some("rps"),
        "inflight" | "in_flight" | "in-flight" => Some("concurrency"),
        "conns" | "tcp" | "connection" => Some("connections"),
        "mem" => Some("memory"),
        _ => None,
    });
    let hint = match close {
        Some(c) => format!("did you mean \"{c}\"? (metrics: {list})"),
        None => format!("metrics: {list}"),
    };
    Err(Problem::new(format!("unknown metric \"{s}\"")).hint(hint))
}

/// `url` of a prometheus metric: an `http://` or `https://` URL with a host.
fn prometheus_url(item: &Item) -> Result<String, Problem> {
    let s = convert::string(item)?;
    let hint = "write the Prometheus server's base URL, e.g. url = \"http://127.0.0.1:9090\"";
    let Some(rest) = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
    else {
        return Err(
            Problem::new(format!("url \"{s}\" must start with http:// or https://")).hint(hint),
        );
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.contains(char::is_whitespace) {
        return Err(Problem::new(format!("url \"{s}\" is not a valid URL")).hint(hint));
    }
    Ok(s)
}

/// A tolerance in [0, 1).
fn tolerance(w: &mut Walker<'_>, a: &TableRef<'_>, key: &str, default: f64) -> Setting<f64> {
    let s = w.get(a, key, convert::number).or(default);
    check_tolerance(w, key, &s);
    s
}

/// `tolerance_up` / `tolerance_down`, which override `tolerance` for one direction.
fn tolerance_or(
    w: &mut Walker<'_>,
    a: &TableRef<'_>,
    key: &str,
    both: &Setting<f64>,
) -> Setting<f64> {
    let s = w.get(a, key, convert::number).or(both.value);
    if s.given() {
        check_tolerance(w, key, &s);
    }
    s
}

fn check_tolerance(w: &mut Walker<'_>, key: &str, s: &Setting<f64>) {
    if s.ok().is_some_and(|&t| !(0.0..1.0).contains(&t)) {
        w.error(
            s.span.clone(),
            format!(
                "{key} must be at least 0 and less than 1, found {}",
                s.value
            ),
            Some(
                "it is the relative deviation from the target that is ignored: 0.1 ignores ±10%"
                    .into(),
            ),
        );
    }
}

/// `scale_up_limit` / `scale_down_limit`: keys left out take that limit's defaults.
fn rate_limit(w: &mut Walker<'_>, a: &TableRef<'_>, key: &str, d: RateLimit) -> RateLimit {
    let example = format!(
        "{key} = {{ instances = {}, percent = {}, period = \"{:?}\" }}",
        d.instances, d.percent, d.period
    );
    let l = w.section(a, key, LIMIT_KEYS, &example);
    let instances = w.get(&l, "instances", convert::count).or(d.instances);
    let percent = w.get(&l, "percent", convert::number).or(d.percent);
    let period = positive_duration(
        w,
        &l,
        "period",
        d.period,
        "changes are counted within this period",
    );
    if percent.ok().is_some_and(|&p| p < 0.0) {
        w.error(
            percent.span.clone(),
            format!("percent must not be negative, found {}", percent.value),
            Some(format!("e.g. {example}")),
        );
    } else if let (Some(0), Some(&p)) = (instances.ok(), percent.ok()) {
        if p == 0.0 {
            w.error(
                written(&instances, &percent),
                format!("{key} allows no change at all (instances = 0 and percent = 0)"),
                Some(format!(
                    "set instances to at least 1 or percent above 0, e.g. {example}"
                )),
            );
        }
    }
    RateLimit {
        instances: instances.value,
        percent: percent.value,
        period: period.value,
    }
}
