//! The options of `shoal load` and the checks that turn them into a [`Plan`].
//!
//! Each option's own syntax is checked by clap's value parsers (so mistakes exit 2 with clap's
//! usual message); what depends on several options together is checked in [`LoadArgs::plan`].

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::ValueEnum;
use http::Method;

use crate::duration::{format_duration, parse_positive_duration, MAX_DURATION};
use crate::stages::{parse_stages, Schedule, Stages};
use crate::target::{parse_header, parse_method, parse_url, Header, RequestTemplate, Url};
use crate::LoadError;

/// Most connections the closed model opens: more than this on one machine is a typo, and each
/// one costs a socket and a task.
pub const MAX_CONCURRENCY: u32 = 10_000;

/// Default concurrency of the closed model.
pub const DEFAULT_CONCURRENCY: u32 = 10;

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned table for people.
    Table,
    /// JSON with stable field names, for scripts and CI.
    Json,
}

/// `shoal load URL [OPTIONS]`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Models:
  closed (default)  -c N connections, each sending its next request as soon as the previous
                    response has arrived. Measures what N busy clients see.
  open (-r N)       N requests/s on a fixed schedule whatever the responses; latency counts from
                    each request's intended send time, so a stalled server shows in the
                    percentiles instead of silently lowering the request rate.

Failures are transport errors and 5xx responses (and 4xx with --fail-on-4xx); when a threshold
(--max-error-rate, --p99) is breached the report says which and the exit code is 1.

Examples:
  shoal load http://127.0.0.1:8080/ -c 20 -d 30s
  shoal load http://127.0.0.1:8080/work -r 200 -d 1m --p99 250ms --max-error-rate 0.01
  shoal load http://127.0.0.1:8080/ --open --stages 10s:50,30s:200,10s:0 -o json")]
pub struct LoadArgs {
    /// The URL to send requests to (http:// only; TLS is not supported).
    #[arg(value_name = "URL", value_parser = parse_url)]
    pub url: Url,

    /// Closed model: N connections sending back-to-back requests [default: 10]. With --stages,
    /// the starting concurrency [default: 0].
    #[arg(
        short = 'c',
        long,
        value_name = "N",
        conflicts_with_all = ["rate", "open"],
        value_parser = clap::value_parser!(u32).range(1..=MAX_CONCURRENCY as i64)
    )]
    pub concurrency: Option<u32>,

    /// Open model: N requests per second at fixed intervals, latency measured from each
    /// request's intended send time. With --stages, the starting rate.
    #[arg(short = 'r', long, value_name = "N", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// With --stages and no -r: the stage targets are rates (open model), starting from 0.
    #[arg(long, requires = "stages")]
    pub open: bool,

    /// How long to send (e.g. 500ms, 10s, 1m30s; at most 24h). Ignored with --stages.
    #[arg(
        short = 'd',
        long,
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_positive_duration
    )]
    pub duration: Duration,

    /// Ramp the level linearly through DURATION:TARGET stages, e.g. 10s:5,30s:50,10s:0. The
    /// level is the concurrency (closed model) or the rate (with -r or --open). The run lasts
    /// the sum of the stages.
    #[arg(long, value_name = "DUR:TARGET,...", value_parser = parse_stages)]
    pub stages: Option<Stages>,

    /// HTTP method.
    #[arg(short = 'm', long, value_name = "METHOD", default_value = "GET", value_parser = parse_method)]
    pub method: Method,

    /// A request header, 'Name: value' (repeatable; a Host header replaces the URL's).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse_header)]
    pub headers: Vec<Header>,

    /// Request body.
    #[arg(long, value_name = "STRING", conflicts_with = "body_file")]
    pub body: Option<String>,

    /// Request body read from a file.
    #[arg(long, value_name = "PATH")]
    pub body_file: Option<PathBuf>,

    /// Longest wait for a complete response (connecting included); slower requests count as
    /// errors of kind "timeout".
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "10s",
        value_parser = parse_positive_duration
    )]
    pub timeout: Duration,

    /// Open model: most requests waiting for a response at once. A request due when this many
    /// are waiting is not sent and counts as an error ("dropped: too many in flight").
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub max_inflight: u32,

    /// Threshold: fail (exit 1) when failures / requests exceeds this, e.g. 0.01.
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    pub max_error_rate: Option<f64>,

    /// Threshold: fail (exit 1) when the 99th percentile latency exceeds this, e.g. 200ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub p99: Option<Duration>,

    /// Count 4xx responses as failures too.
    #[arg(long)]
    pub fail_on_4xx: bool,

    /// Report format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if !rate.is_finite() || rate <= 0.0 {
        return Err(format!("the rate must be > 0 requests/s, got '{text}'"));
    }
    Ok(rate)
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    let ratio: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    if !(0.0..=1.0).contains(&ratio) {
        return Err(format!(
            "'{text}' is not a ratio between 0 and 1 (0.01 means 1 %)"
        ));
    }
    Ok(ratio)
}

/// Which load model a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Fixed concurrency, each connection waiting for its response before the next request.
    Closed,
    /// Fixed arrival rate, independent of responses.
    Open,
}

/// A checked run: what to send, how often, and what to judge.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) url: Url,
    pub(crate) method: Method,
    pub(crate) model: Model,
    pub(crate) schedule: Schedule,
    pub(crate) template: RequestTemplate,
    pub(crate) timeout: Duration,
    pub(crate) max_inflight: u32,
    pub(crate) fail_on_4xx: bool,
    pub(crate) max_error_rate: Option<f64>,
    pub(crate) p99: Option<Duration>,
    /// One line saying what the run does, for the report.
    pub(crate) description: String,
}

fn input(message: impl Into<String>) -> LoadError {
    LoadError::Input(message.into())
}

impl LoadArgs {
    /// Checks the options together (clap checked each one) and reads the body file.
    pub(crate) fn plan(&self) -> Result<Plan, LoadError> {
        let model = if self.rate.is_some() || self.open {
            Model::Open
        } else {
            Model::Closed
        };
        if self.open && self.stages.is_none() && self.rate.is_none() {
            return Err(input("--open needs --stages (or give the rate with -r)"));
        }
        if model == Model::Open && self.concurrency.is_some() {
            return Err(input(
                "-c sets the closed model's connections; the open model (-r/--open) has no \
                 fixed concurrency (see --max-inflight)",
            ));
        }
        if let Some(rate) = self.rate {
            parse_rate(&rate.to_string()).map_err(input)?;
        }
        if let Some(c) = self.concurrency {
            if c == 0 || c > MAX_CONCURRENCY {
                return Err(input(format!(
                    "-c must be between 1 and {MAX_CONCURRENCY}, got {c}"
                )));
            }
        }
        if self.timeout.is_zero() || self.timeout > MAX_DURATION {
            return Err(input("--timeout must be > 0 and at most 24h"));
        }
        if self.max_inflight == 0 {
            return Err(input("--max-inflight must be at least 1"));
        }
        if let Some(r) = self.max_error_rate {
            parse_ratio(&r.to_string()).map_err(input)?;
        }

        let schedule = match (&self.stages, model) {
            (Some(stages), Model::Closed) => {
                if let Some(s) = stages
                    .0
                    .iter()
                    .find(|s| s.target > f64::from(MAX_CONCURRENCY))
                {
                    return Err(input(format!(
                        "stage target {} is more connections than the limit of \
                         {MAX_CONCURRENCY}; did you mean an open-model rate (--open)?",
                        s.target
                    )));
                }
                Schedule::ramp(f64::from(self.concurrency.unwrap_or(0)), stages.0.clone())
            }
            (Some(stages), Model::Open) => {
                Schedule::ramp(self.rate.unwrap_or(0.0), stages.0.clone())
            }
            (None, Model::Closed) => Schedule::constant(
                f64::from(self.concurrency.unwrap_or(DEFAULT_CONCURRENCY)),
                self.duration,
            ),
            (None, Model::Open) => Schedule::constant(self.rate.unwrap_or(0.0), self.duration),
        };
        let total = schedule.total();
        if total.is_zero() || total > MAX_DURATION {
            return Err(input(format!(
                "the run must last more than 0 and at most 24h, not {}",
                format_duration(total)
            )));
        }
        let sends = match model {
            Model::Closed => schedule.max_level().round() >= 1.0,
            Model::Open => schedule.expected_requests() >= 0.5,
        };
        if !sends {
            return Err(input(
                "this run would send no request: raise the concurrency, rate or stage targets",
            ));
        }

        let body = match (&self.body, &self.body_file) {
            (Some(text), _) => Bytes::from(text.clone()),
            (None, Some(path)) => std::fs::read(path)
                .map(Bytes::from)
                .map_err(|e| input(format!("cannot read --body-file {}: {e}", path.display())))?,
            (None, None) => Bytes::new(),
        };
        let template = RequestTemplate::new(&self.url, self.method.clone(), &self.headers, body);
        let description = self.describe(model, total);
        Ok(Plan {
            url: self.url.clone(),
            method: self.method.clone(),
            model,
            schedule,
            template,
            timeout: self.timeout,
            max_inflight: self.max_inflight,
            fail_on_4xx: self.fail_on_4xx,
            max_error_rate: self.max_error_rate,
            p99: self.p99,
            description,
        })
    }

    fn describe(&self, model: Model, total: Duration) -> String {
        let length = format_duration(total);
        match (model, &self.stages) {
            (Model::Closed, None) => format!(
                "closed model, {} connections for {length}",
                self.concurrency.unwrap_or(DEFAULT_CONCURRENCY)
            ),
            (Model::Open, None) => {
                format!(
                    "open model, {} req/s for {length}",
                    self.rate.unwrap_or(0.0)
                )
            }
            (Model::Closed, Some(stages)) => format!(
                "closed model, from {} connections through stages {stages} ({length})",
                self.concurrency.unwrap_or(0)
            ),
            (Model::Open, Some(stages)) => format!(
                "open model, from {} req/s through stages {stages} ({length})",
                self.rate.unwrap_or(0.0)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        args: LoadArgs,
    }

    fn parse(argv: &[&str]) -> Result<LoadArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("load").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults_to_ten_connections_for_ten_seconds() {
        let args = parse(&["http://127.0.0.1:1/"]).unwrap();
        let plan = args.plan().unwrap();
        assert_eq!(plan.model, Model::Closed);
        assert_eq!(
            plan.schedule,
            Schedule::constant(10.0, Duration::from_secs(10))
        );
        assert_eq!(plan.timeout, Duration::from_secs(10));
        assert_eq!(plan.max_inflight, 1000);
    }

    #[test]
    fn rate_selects_the_open_model_and_starts_stages() {
        let plan = parse(&["http://h/", "-r", "50", "--stages", "1s:100"])
            .unwrap()
            .plan()
            .unwrap();
        assert_eq!(plan.model, Model::Open);
        assert_eq!(plan.schedule.level_at(Duration::ZERO), 50.0);
        let plan = parse(&["http://h/", "--open", "--stages", "2s:10,1s:0"])
            .unwrap()
            .plan()
            .unwrap();
        assert_eq!(plan.model, Model::Open);
        assert_eq!(plan.schedule.total(), Duration::from_secs(3));
        assert_eq!(plan.schedule.level_at(Duration::ZERO), 0.0);
    }

    #[test]
    fn stages_override_the_duration() {
        let plan = parse(&["http://h/", "-d", "1m", "--stages", "2s:5"])
            .unwrap()
            .plan()
            .unwrap();
        assert_eq!(plan.schedule.total(), Duration::from_secs(2));
        assert_eq!(plan.schedule.max_level(), 5.0);
    }

    #[test]
    fn clap_rejects_bad_values_with_usage_errors() {
        for argv in [
            &["https://h/"][..],
            &["http://h/", "-d", "0s"],
            &["http://h/", "-d", "30"],
            &["http://h/", "-d", "25h"],
            &["http://h/", "-c", "0"],
            &["http://h/", "-c", "4", "-r", "10"],
            &["http://h/", "-r", "0"],
            &["http://h/", "--open"],
            &["http://h/", "--stages", "10s"],
            &["http://h/", "--body", "x", "--body-file", "f"],
            &["http://h/", "--max-error-rate", "5"],
            &["http://h/", "-H", "nocolon"],
            &["http://h/", "-o", "xml"],
        ] {
            let err = parse(argv).expect_err(&format!("{argv:?} should be rejected"));
            assert_eq!(err.exit_code(), 2, "{argv:?}: {err}");
        }
    }

    #[test]
    fn plan_rejects_runs_that_send_nothing() {
        let err = parse(&["http://h/", "--stages", "5s:0"])
            .unwrap()
            .plan()
            .unwrap_err();
        assert!(matches!(err, LoadError::Input(_)), "{err}");
        let err = parse(&["http://h/", "--stages", "1s:20000"])
            .unwrap()
            .plan()
            .unwrap_err();
        assert!(err.to_string().contains("--open"), "{err}");
    }

    #[test]
    fn missing_body_file_is_bad_input() {
        let err = parse(&["http://h/", "--body-file", "/nonexistent/body"])
            .unwrap()
            .plan()
            .unwrap_err();
        assert!(matches!(err, LoadError::Input(_)), "{err}");
    }
}
