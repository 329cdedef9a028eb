//! The result of a run: counts, rates, latency percentiles and threshold verdicts, printable as
//! an aligned table ([`Report::render_table`]) or serialised as JSON with stable field names.

mod table;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::args::{Model, Plan};
use crate::record::Tallies;

/// Name of the error-rate threshold (`--max-error-rate`) in `thresholds`.
pub const ERROR_RATE: &str = "error_rate";
/// Name of the latency threshold (`--p99`) in `thresholds`; limit and value in milliseconds.
pub const P99_MS: &str = "p99_ms";

/// Everything a run measured. The JSON field names are a stable interface for scripts.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The target URL.
    pub url: String,
    /// The HTTP method.
    pub method: String,
    /// `closed` or `open`.
    pub model: Model,
    /// What the run did, in words (model, level, length).
    pub load: String,
    /// Requests finished: with a response, with an error, or dropped.
    pub requests: u64,
    /// Requests that got a complete response (any status).
    pub responses: u64,
    /// Wall time from the first request to the last one finished, in seconds.
    pub duration_s: f64,
    /// `requests / duration_s`.
    pub rps: f64,
    /// Latency of the responses, in milliseconds (null when none arrived). Open model: from
    /// each request's intended send time.
    pub latency_ms: Latency,
    /// Responses by exact status code (`"200": n`).
    pub status: BTreeMap<String, u64>,
    /// Responses by class (`"2xx": n`).
    pub status_class: BTreeMap<String, u64>,
    /// Requests without a response, by kind: `connect refused`, `timeout`, `reset/closed`,
    /// `dropped: too many in flight`, `other`.
    pub errors: BTreeMap<String, u64>,
    /// The first message seen of each error kind.
    pub error_examples: BTreeMap<String, String>,
    /// Transport errors plus 5xx responses (plus 4xx with `--fail-on-4xx`).
    pub failures: u64,
    /// `failures / requests` (0 when there were no requests).
    pub error_rate: f64,
    /// The thresholds asked for, by name (`error_rate`, `p99_ms`).
    pub thresholds: BTreeMap<String, Threshold>,
    /// The run was stopped early (Ctrl-C); the figures cover the time until then.
    pub interrupted: bool,
}

/// Latency percentiles in milliseconds, from an HDR histogram (±0.1 %).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// 99.9th percentile.
    pub p999: Option<f64>,
    /// Slowest response.
    pub max: Option<f64>,
    /// Arithmetic mean.
    pub mean: Option<f64>,
}

/// One threshold's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// The limit given (the value may not exceed it).
    pub limit: f64,
    /// What the run measured (null when there was nothing to measure, which fails).
    pub value: Option<f64>,
    /// `value <= limit`.
    pub passed: bool,
}

impl Report {
    /// Builds the report from a finished run.
    pub(crate) fn new(
        plan: &Plan,
        tallies: &Tallies,
        elapsed: Duration,
        interrupted: bool,
    ) -> Self {
        let h = &tallies.latency;
        let ms = |micros: u64| micros as f64 / 1000.0;
        let quantile = |q: f64| (!h.is_empty()).then(|| ms(h.value_at_quantile(q)));
        let latency_ms = Latency {
            p50: quantile(0.50),
            p90: quantile(0.90),
            p99: quantile(0.99),
            p999: quantile(0.999),
            max: (!h.is_empty()).then(|| ms(h.max())),
            mean: (!h.is_empty()).then(|| h.mean() / 1000.0),
        };

        let mut status = BTreeMap::new();
        let mut status_class = BTreeMap::new();
        let mut failures = 0;
        for (&code, &n) in &tallies.status {
            status.insert(code.to_string(), n);
            *status_class.entry(format!("{}xx", code / 100)).or_insert(0) += n;
            let failed = code >= 500 || (plan.fail_on_4xx && (400..500).contains(&code));
            if failed {
                failures += n;
            }
        }
        let mut errors = BTreeMap::new();
        for (&kind, &n) in &tallies.errors {
            errors.insert(kind.label().to_owned(), n);
            failures += n;
        }
        let error_examples = tallies
            .examples
            .iter()
            .map(|(k, m)| (k.label().to_owned(), m.clone()))
            .collect();

        let responses = h.len();
        let requests = responses + tallies.errors.values().sum::<u64>();
        let duration_s = elapsed.as_secs_f64();
        let error_rate = if requests == 0 {
            0.0
        } else {
            failures as f64 / requests as f64
        };

        let mut thresholds = BTreeMap::new();
        if let Some(limit) = plan.max_error_rate {
            // No request at all is no evidence of health: it fails too.
            let value = (requests > 0).then_some(error_rate);
            thresholds.insert(ERROR_RATE.to_owned(), Threshold::check(limit, value));
        }
        if let Some(limit) = plan.p99 {
            let limit = limit.as_secs_f64() * 1000.0;
            thresholds.insert(P99_MS.to_owned(), Threshold::check(limit, latency_ms.p99));
        }

        Self {
            url: plan.url.raw.clone(),
            method: plan.method.to_string(),
            model: plan.model,
            load: plan.description.clone(),
            requests,
            responses,
            duration_s,
            rps: if duration_s > 0.0 {
                requests as f64 / duration_s
            } else {
                0.0
            },
            latency_ms,
            status,
            status_class,
            errors,
            error_examples,
            failures,
            error_rate,
            thresholds,
            interrupted,
        }
    }

    /// True when every threshold passed (also when none was given).
    pub fn thresholds_passed(&self) -> bool {
        self.thresholds.values().all(|t| t.passed)
    }

    /// Names of the thresholds that failed, e.g. `["p99_ms"]`.
    pub fn failed_thresholds(&self) -> Vec<&str> {
        self.thresholds
            .iter()
            .filter(|(_, t)| !t.passed)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Pretty JSON, the `-o json` output.
    pub fn render_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl Threshold {
    fn check(limit: f64, value: Option<f64>) -> Self {
        Self {
            limit,
            value,
            passed: value.is_some_and(|v| v <= limit),
        }
    }
}
