//! `[services.NAME.deploy]`: how a new revision replaces the running one. The keys are those of
//! Nomad's `update` block (`max_surge`/`max_unavailable` as in Kubernetes), plus the canary's
//! traffic steps and analysis.
//!
//! The canary keys (`steps`, `header`, `analysis`) are rejected with `strategy = "rolling"`
//! rather than ignored, so a forgotten `strategy = "canary"` never silently becomes a rolling
//! update.

use toml_edit::{Item, Value};

use super::policy::written;
use crate::compile::positive_duration;
use crate::model::{
    AnalysisSpec, CanarySpec, CanaryStep, DeploySpec, Strategy, DEFAULT_PIN_HEADER,
};
use crate::walk::convert::{self, Problem};
use crate::walk::{suggest, TableRef, Val, Walker};

const DEPLOY_KEYS: &[&str] = &[
    "strategy",
    "max_surge",
    "max_unavailable",
    "min_healthy_time",
    "healthy_deadline",
    "progress_deadline",
    "auto_revert",
    "steps",
    "header",
    "analysis",
];
/// The keys that only mean something with `strategy = "canary"`.
const CANARY_KEYS: &[&str] = &["steps", "header", "analysis"];
const STEP_KEYS: &[&str] = &["weight", "pause"];
const ANALYSIS_KEYS: &[&str] = &[
    "interval",
    "max_error_rate",
    "max_p99",
    "failure_limit",
    "min_requests",
];
const STRATEGIES: &[&str] = &["rolling", "canary"];

const STEPS_EXAMPLE: &str = "steps = [{ weight = 10, pause = \"1m\" }, { weight = 50 }]";
const ANALYSIS_EXAMPLE: &str =
    "analysis = { interval = \"10s\", max_error_rate = 0.05, failure_limit = 3 }";

/// Keys people plausibly write in the deploy table that are spelled or placed differently here.
const MISPLACED: &[(&str, &str)] = &[
    (
        "max_parallel",
        "shoal bounds a rollout with max_surge (extra instances) and max_unavailable (instances below desired), e.g. max_surge = 1",
    ),
    (
        "canary",
        "write strategy = \"canary\" and its traffic steps, e.g. steps = [{ weight = 10, pause = \"1m\" }, { weight = 50 }]",
    ),
    (
        "weight",
        "each step has its own weight: steps = [{ weight = 10 }, { weight = 50 }]",
    ),
    (
        "pause",
        "each step has its own pause: steps = [{ weight = 10, pause = \"30s\" }]",
    ),
    (
        "interval",
        "the canary's check interval goes in analysis: analysis = { interval = \"10s\" }",
    ),
    (
        "max_error_rate",
        "it is an analysis setting: analysis = { max_error_rate = 0.05 }",
    ),
    (
        "max_p99",
        "it is an analysis setting: analysis = { max_p99 = \"500ms\" }",
    ),
    (
        "failure_limit",
        "it is an analysis setting: analysis = { failure_limit = 3 }",
    ),
    (
        "min_requests",
        "it is an analysis setting: analysis = { min_requests = 10 }",
    ),
];

/// Reads `deploy` of the service table `t`. An absent table gives [`DeploySpec::default`]; for a
/// stateful service (`ordered`) one old instance stops before its replacement starts
/// (`max_surge = 0`, `max_unavailable = 1`), since two instances of one identity never run at
/// once, and canaries are refused (a canary would be a second instance of an identity).
pub(crate) fn deploy(w: &mut Walker<'_>, t: &TableRef<'_>, ordered: bool) -> DeploySpec {
    let mut d = DeploySpec::default();
    if ordered {
        d.max_surge = 0;
        d.max_unavailable = 1;
        d.ordered = true;
    }
    let dt = w.open(
        t,
        "deploy",
        &format!(
            "[{}.deploy] with e.g. strategy = \"rolling\" and max_surge = 1",
            t.path()
        ),
    );
    w.check_keys(&dt, DEPLOY_KEYS, MISPLACED);

    let strategy = w.get(&dt, "strategy", strategy_name);

    let max_surge = w.get(&dt, "max_surge", convert::count).or(d.max_surge);
    let max_unavailable = w
        .get(&dt, "max_unavailable", convert::count)
        .or(d.max_unavailable);
    if ordered && max_surge.ok().is_some_and(|&n| n > 0) {
        w.error(
            max_surge.span.clone(),
            "max_surge must be 0 for a stateful service",
            Some("each identity (db-1, db-2, …) runs at most once, so a rollout stops an instance before starting its replacement: remove max_surge (max_unavailable sets how many are replaced at once)".into()),
        );
    }
    if let (Some(0), Some(0)) = (max_surge.ok(), max_unavailable.ok()) {
        w.error(
            written(&max_surge, &max_unavailable),
            "max_surge and max_unavailable cannot both be 0",
            Some("a rollout must either start a new instance before stopping an old one (max_surge) or stop an old one first (max_unavailable): set max_surge = 1 (the default) or max_unavailable = 1".into()),
        );
    }

    let min_healthy_time = w
        .get(&dt, "min_healthy_time", convert::duration)
        .or(d.min_healthy_time);
    let healthy_deadline = positive_duration(
        w,
        &dt,
        "healthy_deadline",
        d.healthy_deadline,
        "a new instance that is not healthy for min_healthy_time by then fails the rollout",
    );
    let progress_deadline = positive_duration(
        w,
        &dt,
        "progress_deadline",
        d.progress_deadline,
        "the rollout fails when no new instance became updated (healthy for min_healthy_time) for this long",
    );
    if let (Some(&m), Some(&h)) = (min_healthy_time.ok(), healthy_deadline.ok()) {
        if !h.is_zero() && h <= m {
            w.error(
                written(&healthy_deadline, &min_healthy_time),
                format!("healthy_deadline ({h:?}) must be longer than min_healthy_time ({m:?})"),
                Some("within healthy_deadline a new instance must become healthy and then stay healthy for min_healthy_time: raise healthy_deadline or lower min_healthy_time (defaults 5m and 5s)".into()),
            );
        }
    }
    if let (Some(&h), Some(&p)) = (healthy_deadline.ok(), progress_deadline.ok()) {
        if !h.is_zero() && !p.is_zero() && p < h {
            w.error(
                written(&progress_deadline, &healthy_deadline),
                format!(
                    "progress_deadline ({p:?}) must not be shorter than healthy_deadline ({h:?})"
                ),
                Some("each new instance has healthy_deadline to become healthy, so the rollout must wait at least that long for progress: raise progress_deadline or lower healthy_deadline (defaults 10m and 5m)".into()),
            );
        }
    }
    let auto_revert = w
        .get(&dt, "auto_revert", convert::boolean)
        .or(d.auto_revert);

    let strategy = match strategy {
        Val::Given("canary", span) if ordered => {
            w.error(
                span,
                "strategy = \"canary\" is not available for a stateful service",
                Some("a canary runs a second instance of an identity beside the first; stateful services roll out one instance at a time with strategy = \"rolling\"".into()),
            );
            Strategy::Rolling
        }
        Val::Given("canary", span) => {
            let (spec, steps_given) = canary(w, &dt);
            if !steps_given {
                w.error(
                    span,
                    "strategy = \"canary\" needs steps",
                    Some(format!(
                        "add the traffic steps, e.g. {STEPS_EXAMPLE} (weight: percent of requests sent to the new revision; a step without pause waits for shoal promote)"
                    )),
                );
            }
            Strategy::Canary(spec)
        }
        // Unknown strategy (reported): still check the canary keys for their own problems.
        Val::Invalid => {
            canary(w, &dt);
            Strategy::Rolling
        }
        rolling => {
            let explicit = matches!(rolling, Val::Given(..));
            canary_keys_with_rolling(w, &dt, explicit);
            Strategy::Rolling
        }
    };

    DeploySpec {
        strategy,
        max_surge: max_surge.value,
        max_unavailable: max_unavailable.value,
        min_healthy_time: min_healthy_time.value,
        healthy_deadline: healthy_deadline.value,
        progress_deadline: progress_deadline.value,
        auto_revert: auto_revert.value,
        ordered,
    }
}

/// Reports each canary key written in a rolling deploy table. `explicit`: whether
/// `strategy = "rolling"` is in the file (rather than the default).
fn canary_keys_with_rolling(w: &mut Walker<'_>, dt: &TableRef<'_>, explicit: bool) {
    for key in CANARY_KEYS {
        let Some(entry) = dt.get(key) else {
            continue;
        };
        let hint = if explicit {
            format!("remove {key}, or set strategy = \"canary\"")
        } else {
            format!(
                "strategy is \"rolling\" by default: add strategy = \"canary\" to move traffic to a new revision step by step, or remove {key}"
            )
        };
        w.error(
            entry.key_span(),
            format!("{key} only applies to strategy = \"canary\""),
            Some(hint),
        );
    }
}

/// The canary keys of `dt`, and whether `steps` was written at all (an empty or wrong `steps` is
/// reported here; a missing one by the caller, who knows whether it is needed).
fn canary(w: &mut Walker<'_>, dt: &TableRef<'_>) -> (CanarySpec, bool) {
    let listed = w.table_array(dt, "steps", STEP_KEYS, STEPS_EXAMPLE);
    let steps_given = !matches!(listed, Val::Missing);
    let mut steps = Vec::new();
    if let Val::Given(tables, span) = listed {
        if tables.is_empty() {
            w.error(
                span,
                format!("{}.steps is empty", dt.path()),
                Some(format!("list at least one step, e.g. {STEPS_EXAMPLE}")),
            );
        }
        // The largest valid weight so far: every later step must send more traffic.
        let mut highest = None;
        for s in &tables {
            steps.extend(step(w, s, &mut highest));
        }
    }
    let pin_header = w
        .get(dt, "header", header_name)
        .or(DEFAULT_PIN_HEADER.to_owned())
        .value;
    let analysis = analysis(w, dt);
    let spec = CanarySpec {
        steps,
        pin_header,
        analysis,
    };
    (spec, steps_given)
}

/// One entry of `steps`. `None` when its weight is missing or wrong (reported).
fn step(w: &mut Walker<'_>, s: &TableRef<'_>, highest: &mut Option<u32>) -> Option<CanaryStep> {
    let weight = w.get(s, "weight", weight);
    let pause = match w.get(s, "pause", convert::duration) {
        Val::Given(p, _) => Some(p),
        Val::Missing | Val::Invalid => None,
    };
    let (weight, span) = match weight {
        Val::Given(v, span) => (v, span),
        Val::Missing => {
            w.error(
                s.span(),
                format!("no weight in [{}]", s.path()),
                Some("add e.g. weight = 10 (percent of requests sent to the new revision)".into()),
            );
            return None;
        }
        Val::Invalid => return None,
    };
    if !(1..=100).contains(&weight) {
        w.error(
            span,
            format!("weight must be between 1 and 100, found {weight}"),
            Some("it is the percent of requests sent to the new revision, e.g. weight = 10".into()),
        );
        return None;
    }
    if let Some(before) = highest.filter(|&h| weight <= h) {
        w.error(
            span,
            format!("step weights must increase: {weight} comes after {before}"),
            Some(format!(
                "each step sends more requests to the new revision than the one before, e.g. {STEPS_EXAMPLE}"
            )),
        );
        return None;
    }
    *highest = Some(weight);
    Some(CanaryStep { weight, pause })
}

/// `analysis`: keys left out take [`AnalysisSpec::default`].
fn analysis(w: &mut Walker<'_>, dt: &TableRef<'_>) -> AnalysisSpec {
    let d = AnalysisSpec::default();
    let a = w.section(dt, "analysis", ANALYSIS_KEYS, ANALYSIS_EXAMPLE);
    let interval = positive_duration(
        w,
        &a,
        "interval",
        d.interval,
        "the canary is judged once per interval",
    );
    let max_error_rate = w
        .get(&a, "max_error_rate", convert::number)
        .or(d.max_error_rate);
    if max_error_rate
        .ok()
        .is_some_and(|r| !(0.0..=1.0).contains(r))
    {
        w.error(
            max_error_rate.span.clone(),
            format!(
                "max_error_rate must be between 0 and 1, found {}",
                max_error_rate.value
            ),
            Some("it is the share of the canary's responses that may be 5xx, a fraction and not a percent: 0.05 = 5 %".into()),
        );
    }
    let max_p99 = match w.get(&a, "max_p99", convert::duration) {
        Val::Given(p, span) if p.is_zero() => {
            w.error(
                span,
                "max_p99 must be greater than zero",
                Some(
                    "it is the p99 latency the canary may reach, e.g. max_p99 = \"500ms\"; remove it to not check latency"
                        .into(),
                ),
            );
            None
        }
        Val::Given(p, _) => Some(p),
        Val::Missing | Val::Invalid => d.max_p99,
    };
    let failure_limit = w
        .get(&a, "failure_limit", convert::count)
        .or(d.failure_limit);
    if failure_limit.ok() == Some(&0) {
        w.error(
            failure_limit.span.clone(),
            "failure_limit must be at least 1",
            Some(format!(
                "it is how many failed checks roll the canary back; e.g. failure_limit = {}",
                d.failure_limit
            )),
        );
    }
    let min_requests = w.get(&a, "min_requests", request_count).or(d.min_requests);
    AnalysisSpec {
        interval: interval.value,
        max_error_rate: max_error_rate.value,
        max_p99,
        failure_limit: failure_limit.value,
        min_requests: min_requests.value,
    }
}

/// `strategy`: one of [`STRATEGIES`].
fn strategy_name(item: &Item) -> Result<&'static str, Problem> {
    let list = STRATEGIES.join(", ");
    let s = convert::string(item)
        .map_err(|p| p.hint(format!("write the strategy in quotes, one of {list}")))?;
    if let Some(&name) = STRATEGIES.iter().find(|&&n| n == s) {
        return Ok(name);
    }
    let close = suggest::closest(&s, STRATEGIES).or_else(|| {
        let lower = s.to_ascii_lowercase();
        lower
            .starts_with("rolling")
            .then_some("rolling")
            .or(lower.starts_with("canary").then_some("canary"))
    });
    let hint = match close {
        Some(c) => format!("did you mean \"{c}\"? (strategies: {list})"),
        None => format!("strategies: {list}"),
    };
    Err(Problem::new(format!("unknown strategy \"{s}\"")).hint(hint))
}

/// A step's `weight`: a whole percent. The range is checked by the caller.
fn weight(item: &Item) -> Result<u32, Problem> {
    // "10%" is the likeliest way to get it wrong.
    let percent = item
        .as_str()
        .and_then(|s| s.trim().strip_suffix('%'))
        .and_then(|n| n.trim().parse::<u32>().ok());
    if let Some(n) = percent {
        return Err(Problem::expected("a whole number", item).hint(format!(
            "write weight = {n} (a percent, without quotes or %)"
        )));
    }
    convert::count(item)
}

/// `min_requests`: a non-negative whole number (may exceed `u32`).
fn request_count(item: &Item) -> Result<u64, Problem> {
    match item.as_value() {
        Some(Value::Integer(n)) => match u64::try_from(*n.value()) {
            Ok(n) => Ok(n),
            Err(_) => convert::count(item).map(u64::from),
        },
        _ => convert::count(item).map(u64::from),
    }
}

/// True for an HTTP header name: one or more token characters (RFC 9110 section 5.6.2).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(is_token_char)
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// `header`: a valid header name, lower-cased.
fn header_name(item: &Item) -> Result<String, Problem> {
    let s = convert::string(item)?;
    if s.is_empty() {
        return Err(Problem::new("header must not be empty").hint(format!(
            "write a header name, or remove header to use \"{DEFAULT_PIN_HEADER}\""
        )));
    }
    if valid_header_name(&s) {
        return Ok(s.to_ascii_lowercase());
    }
    let suggestion: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if is_token_char(c) { c } else { '-' })
        .collect::<String>()
        .trim_matches('-')
        .to_owned();
    let example = if valid_header_name(&suggestion) {
        suggestion
    } else {
        DEFAULT_PIN_HEADER.to_owned()
    };
    Err(
        Problem::new(format!("\"{s}\" is not a valid HTTP header name")).hint(format!(
            "a header name is letters, digits and !#$%&'*+-.^_`|~ only (no spaces or ':'), e.g. header = \"{example}\""
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use toml_edit::value;

    #[test]
    fn header_names() {
        for ok in ["x-shoal-revision", "X-Rev", "a", "!#$%&'*+-.^_`|~09"] {
            assert!(valid_header_name(ok), "{ok}");
        }
        for bad in ["", "x rev", "x:rev", "x-rév", "(x)", "x/y", "\"x\""] {
            assert!(!valid_header_name(bad), "{bad}");
        }
        assert_eq!(header_name(&value("X-Canary")), Ok("x-canary".into()));
        let p = header_name(&value("X Canary:")).unwrap_err();
        assert!(p.hint.unwrap().contains("header = \"x-canary\""));
        let p = header_name(&value("é")).unwrap_err();
        assert!(p.hint.unwrap().contains("header = \"x-shoal-revision\""));
    }

    #[test]
    fn strategies() {
        assert_eq!(strategy_name(&value("canary")), Ok("canary"));
        let hint = |s: &str| strategy_name(&value(s)).unwrap_err().hint.unwrap();
        assert!(hint("Canary").starts_with("did you mean \"canary\"?"));
        assert!(hint("rolling-update").starts_with("did you mean \"rolling\"?"));
        assert_eq!(hint("blue-green"), "strategies: rolling, canary");
    }

    #[test]
    fn weights_and_request_counts() {
        assert_eq!(weight(&value(10)), Ok(10));
        let p = weight(&value("10%")).unwrap_err();
        assert_eq!(p.message, "expected a whole number, found string");
        assert_eq!(
            p.hint.as_deref(),
            Some("write weight = 10 (a percent, without quotes or %)")
        );
        assert_eq!(request_count(&value(5_000_000_000)), Ok(5_000_000_000));
        assert_eq!(
            request_count(&value(-1)).unwrap_err().message,
            "must not be negative, found -1"
        );
        assert!(request_count(&value(1.5)).is_err());
    }
}
