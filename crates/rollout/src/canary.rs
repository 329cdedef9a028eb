//! A canary: a new revision takes a growing share of the traffic, step by step, while analysis
//! compares what its clients see with thresholds and with the stable revision; too many failed
//! checks roll it back, the last step promotes it. Pure: the caller measures, this decides.

use std::time::Duration;

use serde::Serialize;
use shoal_spec::{AnalysisSpec, CanarySpec, CanaryStep};

/// What one side of the split answered during one analysis interval.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Window {
    /// Responses.
    pub requests: u64,
    /// 5xx responses among them.
    pub errors: u64,
    /// 99th percentile latency (time to response headers), if there were responses.
    pub p99: Option<Duration>,
}

impl Window {
    fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

/// The result of one analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "lowercase")]
pub enum Check {
    /// Within every threshold.
    Pass(String),
    /// Outside a threshold; counts toward `failure_limit`.
    Fail(String),
    /// Too little traffic to judge; counts neither way.
    Inconclusive(String),
}

/// Judges the canary's window against the thresholds. The stable side is the baseline: an error
/// rate or p99 that the stable revision shows too (a shared dependency failing, the machine
/// overloaded) is not held against the canary.
pub fn analyse(canary: &Window, stable: &Window, a: &AnalysisSpec) -> Check {
    if canary.requests < a.min_requests {
        return Check::Inconclusive(format!(
            "{} request(s) to the canary, fewer than min_requests {}",
            canary.requests, a.min_requests
        ));
    }
    let baseline = stable.requests >= a.min_requests;
    let rate = canary.error_rate();
    let stable_rate = if baseline { stable.error_rate() } else { 0.0 };
    let allowed_rate = a.max_error_rate + stable_rate;
    if rate > allowed_rate {
        return Check::Fail(format!(
            "error rate {} > allowed {} (max_error_rate {}{})",
            pct(rate),
            pct(allowed_rate),
            pct(a.max_error_rate),
            if stable_rate > 0.0 {
                format!(" + stable's {}", pct(stable_rate))
            } else {
                String::new()
            }
        ));
    }
    let mut detail = format!(
        "error rate {} over {} request(s)",
        pct(rate),
        canary.requests
    );
    if let (Some(max), Some(p99)) = (a.max_p99, canary.p99) {
        let stable_p99 = stable.p99.filter(|_| baseline).unwrap_or_default();
        let allowed = max.max(stable_p99);
        if p99 > allowed {
            return Check::Fail(format!(
                "p99 {} > allowed {} (max_p99, or the stable revision's p99 if higher)",
                ms(p99),
                ms(allowed)
            ));
        }
        detail.push_str(&format!(", p99 {}", ms(p99)));
    }
    Check::Pass(detail)
}

fn pct(x: f64) -> String {
    format!("{:.1} %", x * 100.0)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// What the caller does now.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Keep the current weight; look again after `wake` at the latest.
    Stay {
        /// Until the next analysis or the end of the pause; `None` = only a promote moves it.
        wake: Option<Duration>,
    },
    /// Move to step `index` with this weight (percent).
    Step {
        /// Step index (0-based).
        index: usize,
        /// Its weight.
        weight: u32,
    },
    /// The canary becomes the new stable revision (replacing the old one with the rolling rules).
    Promote,
    /// Roll the canary back: weight 0, its instances drained and stopped.
    Abort(String),
}

/// The state of one canary, advanced by [`Canary::tick`].
#[derive(Debug, Clone)]
pub struct Canary {
    steps: Vec<CanaryStep>,
    analysis: AnalysisSpec,
    step: usize,
    step_started: Duration,
    next_check: Duration,
    failures: u32,
    /// Last few checks, newest last (shown by status).
    recent: Vec<Check>,
}

/// How many analysis results status keeps.
const RECENT_CHECKS: usize = 5;

impl Canary {
    /// A canary at its first step, begun at `now`.
    pub fn new(spec: &CanarySpec, now: Duration) -> Self {
        Self {
            steps: spec.steps.clone(),
            analysis: spec.analysis,
            step: 0,
            step_started: now,
            next_check: now + spec.analysis.interval,
            failures: 0,
            recent: Vec::new(),
        }
    }

    /// Starts the clock again at `now` (step pause and analysis interval): a canary is timed
    /// from when it can first serve, not from when its instances were asked for.
    pub fn restart_clock(&mut self, now: Duration) {
        self.step_started = now;
        self.next_check = now + self.analysis.interval;
    }

    /// The current step (0-based).
    pub fn step(&self) -> usize {
        self.step
    }

    /// How many steps there are.
    pub fn steps(&self) -> usize {
        self.steps.len()
    }

    /// Percent of requests step `index` sends to the canary.
    pub fn weight_at(&self, index: usize) -> u32 {
        self.steps[index].weight
    }

    /// Percent of requests the canary gets now.
    pub fn weight(&self) -> u32 {
        self.steps[self.step].weight
    }

    /// Failed checks so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The analysis settings.
    pub fn analysis(&self) -> &AnalysisSpec {
        &self.analysis
    }

    /// The latest checks, newest last.
    pub fn recent_checks(&self) -> &[Check] {
        &self.recent
    }

    /// True when the current step waits for `shoal promote`.
    pub fn waiting_for_promote(&self) -> bool {
        self.steps[self.step].pause.is_none()
    }

    /// True when an analysis is due (the caller then measures the interval and calls
    /// [`Canary::record`]).
    pub fn check_due(&self, now: Duration) -> bool {
        now >= self.next_check
    }

    /// Records one analysis; returns an abort once `failure_limit` checks have failed.
    pub fn record(&mut self, check: Check, now: Duration) -> Option<Decision> {
        self.next_check = now + self.analysis.interval;
        let failed = matches!(check, Check::Fail(_));
        let reason = match &check {
            Check::Fail(r) => r.clone(),
            _ => String::new(),
        };
        self.recent.push(check);
        if self.recent.len() > RECENT_CHECKS {
            self.recent.remove(0);
        }
        if failed {
            self.failures += 1;
            if self.failures >= self.analysis.failure_limit {
                return Some(Decision::Abort(format!(
                    "{} of {} checks failed, the last: {reason}",
                    self.failures, self.analysis.failure_limit
                )));
            }
        }
        None
    }

    /// Moves on when the current step's pause is over (or `promote` asks, `full` = skip every
    /// remaining step); otherwise says when to look again.
    pub fn tick(&mut self, now: Duration, promote: Option<Promote>) -> Decision {
        let pause_over = self.steps[self.step]
            .pause
            .is_some_and(|p| now >= self.step_started + p);
        match promote {
            Some(Promote::Full) => return Decision::Promote,
            Some(Promote::Step) => return self.next_step(now),
            None if pause_over => return self.next_step(now),
            None => {}
        }
        let check_in = self.next_check.saturating_sub(now);
        let wake = match self.steps[self.step].pause {
            Some(p) => (self.step_started + p).saturating_sub(now).min(check_in),
            None => check_in,
        };
        Decision::Stay { wake: Some(wake) }
    }

    fn next_step(&mut self, now: Duration) -> Decision {
        if self.step + 1 >= self.steps.len() {
            return Decision::Promote;
        }
        self.step += 1;
        self.step_started = now;
        Decision::Step {
            index: self.step,
            weight: self.weight(),
        }
    }
}

/// A request to move the canary on by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Promote {
    /// To the next step (or promotion after the last).
    Step,
    /// Straight to promotion.
    Full,
}

/// Instances the canary runs for `desired` instances of the service at `weight` percent:
/// `max(1, round(weight × desired))`, never more than `desired`.
pub fn canary_instances(weight: u32, desired: u32) -> u32 {
    let n = (f64::from(weight) / 100.0 * f64::from(desired)).round() as u32;
    n.max(1).min(desired.max(1))
}

#[cfg(test)]
#[path = "canary_tests.rs"]
mod tests;
