//! The autoscaling policy: from what was observed about a service at one tick to how many
//! instances it should have.
//!
//! Policies are pure functions (DESIGN principle): no I/O, no sleeping and no clock. Time is an
//! argument ([`Observation::now`], a [`Duration`] since any fixed epoch), like linkerd's EWMA
//! taking the time of each sample, and the answer says when to ask again
//! ([`Decision::wake_after`]), like a kube-runtime reconciler's requeue. So the same code runs
//! under the control plane's real ticks and under a simulated clock in tests.
//!
//! One [`Autoscaler`] per service combines:
//! - target tracking for cpu, memory and p95 latency, and value-per-instance for Prometheus
//!   queries (the HPA and KEDA; `tracking`);
//! - stable and panic windows for concurrency and rps (Knative's KPA; `kpa`);
//! - the largest proposal wins, then scale-down stabilization, cooldowns and rate limits shape
//!   it into a change (`limits`);
//! - scale to zero after `idle`, and from zero at once when a request waits
//!   (`zero`).

mod kpa;
mod limits;
mod tracking;
mod window;
mod zero;

use std::collections::BTreeMap;
use std::time::Duration;

use shoal_spec::{AutoscaleSpec, Metric};

use kpa::{Kpa, KpaConfig, KpaOutcome};
use limits::{Cooldown, Limits};
use tracking::{Measured, Resource, Tolerance};

/// The control plane ticks about once a second; a decision never asks to wait longer, so the
/// concurrency and rps windows get one sample per tick.
pub const TICK: Duration = Duration::from_secs(1);

/// One instance as the autoscaler sees it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceSample {
    /// Passed its health checks and takes traffic.
    pub ready: bool,
    /// How long it has been ready (None when not ready); instances ready for less than `warmup`
    /// are left out of averages.
    pub ready_for: Option<Duration>,
    /// CPU utilisation in percent of its `resources.cpu` over the last second (e.g. 85.0), if
    /// known.
    pub cpu_percent: Option<f64>,
    /// Memory in percent of its `resources.memory`, if known.
    pub memory_percent: Option<f64>,
}

/// Everything observed about one service at one tick (about once per second).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// When this was observed, since any fixed epoch (the same epoch for every call).
    pub now: Duration,
    /// The service's instances that are starting or ready (not draining/stopped).
    pub instances: Vec<InstanceSample>,
    /// The desired count currently in force.
    pub desired: u32,
    /// Average total requests in flight through the gateway over the last tick.
    pub concurrency: Option<f64>,
    /// Requests per second through the gateway over the last tick (total, all instances).
    pub rps: Option<f64>,
    /// Average open TCP connections through the service's listener over the last tick (total).
    pub connections: Option<f64>,
    /// Gateway p95 latency over the last tick, ms (None when no request completed).
    pub latency_p95_ms: Option<f64>,
    /// Values of prometheus metrics, by query string (missing = the query failed or had no
    /// data).
    pub prometheus: BTreeMap<String, f64>,
    /// When the last request arrived (None: never).
    pub last_request: Option<Duration>,
    /// Requests the gateway is holding because the service has no ready instance (scale from
    /// zero).
    pub waiting: u32,
}

/// One metric's contribution to a decision, for status output and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The metric's name as written in the spec: "cpu", "concurrency", "prometheus", ...
    pub metric: String,
    /// The value compared with the target (an average over instances or a window); `None` when
    /// the source had no data this tick.
    pub value: Option<f64>,
    /// The per-instance target from the spec.
    pub target: f64,
    /// The count this metric asks for; `None` when it has no value.
    pub desired: Option<u32>,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The count to apply.
    pub desired: u32,
    /// True when `desired != observation.desired`.
    pub changed: bool,
    /// One line for people: which metric drove it, its value vs target, the limit or window that
    /// shaped it.
    pub reason: String,
    /// Every metric's proposal, in spec order.
    pub proposals: Vec<Proposal>,
    /// A concurrency or rps metric is in panic mode: the count does not go down.
    pub panicking: bool,
    /// When the policy wants to be asked again at the latest (at most [`TICK`]; shorter when a
    /// cooldown ends, rate-limit budget frees up or the idle time runs out sooner).
    pub wake_after: Duration,
}

/// The autoscaling policy of one service: its configuration and the plain-data memory the rules
/// need (windows of samples, recommendation history, last change times, panic state).
#[derive(Debug, Clone, PartialEq)]
pub struct Autoscaler {
    min: u32,
    max: u32,
    metrics: Vec<Source>,
    tolerance: Tolerance,
    warmup: Duration,
    idle: Duration,
    limits: Limits,
    /// The time of the first decision or reset: a service that never had a request counts as
    /// idle from then.
    started: Option<Duration>,
    /// The count last decided or set by hand.
    last: Option<u32>,
}

/// One metric and what it needs to remember.
#[derive(Debug, Clone, PartialEq)]
struct Source {
    name: &'static str,
    target: f64,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Utilisation(Resource),
    Latency,
    Prometheus(String),
    Concurrency(Kpa),
    Rps(Kpa),
    Connections(Kpa),
}

/// A metric's proposal with the words to explain it.
struct Proposed {
    proposal: Proposal,
    /// e.g. "cpu 85% > 70% target".
    describe: String,
}

impl Autoscaler {
    /// An autoscaler for a service whose count may range over `min..=max` (the spec's
    /// `instances`). `max` below 1 is read as 1 and `min` above `max` as `max`, so the result
    /// is always usable; the spec never produces either.
    pub fn new(spec: &AutoscaleSpec, min: u32, max: u32) -> Self {
        let max = max.max(1);
        let min = min.min(max);
        let kpa = |target: f64| {
            Kpa::new(KpaConfig {
                target,
                utilization: spec.target_utilization,
                stable_window: spec.stable_window,
                panic_window: spec.panic_window,
                panic_threshold: spec.panic_threshold,
            })
        };
        let metrics = spec
            .metrics
            .iter()
            .map(|m| Source {
                name: m.metric.name(),
                target: m.target,
                kind: match &m.metric {
                    Metric::Cpu => Kind::Utilisation(Resource::Cpu),
                    Metric::Memory => Kind::Utilisation(Resource::Memory),
                    Metric::LatencyP95 => Kind::Latency,
                    Metric::Prometheus { query, .. } => Kind::Prometheus(query.clone()),
                    Metric::Concurrency => Kind::Concurrency(kpa(m.target)),
                    Metric::Rps => Kind::Rps(kpa(m.target)),
                    Metric::Connections => Kind::Connections(kpa(m.target)),
                },
            })
            .collect();
        Autoscaler {
            min,
            max,
            metrics,
            tolerance: Tolerance {
                up: spec.tolerance_up,
                down: spec.tolerance_down,
            },
            warmup: spec.warmup,
            idle: spec.idle,
            limits: Limits::new(spec),
            started: None,
            last: None,
        }
    }

    /// Decides the count for one tick. Call it about once per [`TICK`] with a fresh observation
    /// (concurrency and rps keep one sample per call), and apply `desired`.
    pub fn decide(&mut self, obs: &Observation) -> Decision {
        let now = obs.now;
        let since = *self.started.get_or_insert(now);
        let current = obs.desired;
        let ready = obs.instances.iter().filter(|i| i.ready).count() as u32;

        let proposed: Vec<Proposed> = {
            let (tolerance, warmup) = (self.tolerance, self.warmup);
            self.metrics
                .iter_mut()
                .map(|m| m.propose(obs, ready, current, tolerance, warmup))
                .collect()
        };
        let panicking = self.metrics.iter().any(Source::panicking);
        // The largest proposal wins: the safest when metrics disagree.
        let best = proposed
            .iter()
            .filter_map(|p| Some((p.proposal.desired?, p)))
            .max_by_key(|&(d, _)| d);

        let (desired, reason) = if zero::cold(obs) {
            let want = best
                .map_or(0, |(d, _)| d)
                .max(current)
                .max(self.min)
                .clamp(1, self.max);
            let waiting = plural(obs.waiting, "request");
            let reason = if want != current {
                format!("{waiting} waiting: scale from zero to {want}")
            } else {
                format!(
                    "{waiting} waiting for {} starting",
                    plural(current, "instance")
                )
            };
            (want, reason)
        } else if current == 0 && self.min == 0 {
            (0, "at zero, no request waiting".to_owned())
        } else if let Some(quiet) = (self.min == 0 && !panicking)
            .then(|| zero::idle_for(obs, self.idle, since))
            .flatten()
        {
            self.toward_zero(now, current, quiet)
        } else {
            match best {
                Some((desired, winner)) => self.shape(now, current, desired, &winner.describe),
                None => self.hold_without_data(now, current, &proposed),
            }
        };
        // Panic mode never removes capacity, whatever else was decided (another metric may win
        // while the panicking one has no sample this tick).
        let (desired, reason) = if panicking && desired < current {
            let hold = current.min(self.max);
            (
                hold,
                format!("panic mode, no scale-down: holding {hold} ({reason})"),
            )
        } else {
            (desired, reason)
        };

        self.limits.record_change(now, current, desired);
        self.last = Some(desired);
        let mut wake_after = TICK;
        if let Some(d) = self.limits.next_event(now) {
            wake_after = wake_after.min(d);
        }
        if self.min == 0 && desired > 0 {
            if let Some(d) = zero::until_idle(obs, self.idle, since) {
                wake_after = wake_after.min(d);
            }
        }
        Decision {
            desired,
            changed: desired != current,
            reason,
            proposals: proposed.into_iter().map(|p| p.proposal).collect(),
            panicking,
            wake_after,
        }
    }

    /// `shoal scale` by hand: the count the autoscaler continues from. It clears the
    /// stabilization history (old proposals no longer say anything about the new count) and
    /// counts as a change for cooldowns.
    pub fn reset(&mut self, desired: u32, now: Duration) {
        self.started.get_or_insert(now);
        self.limits.reset(now, self.last, desired);
        self.last = Some(desired);
    }

    /// The normal path: the winning proposal through the bounds, stabilization, cooldowns and
    /// rate limits.
    fn shape(&mut self, now: Duration, current: u32, raw: u32, describe: &str) -> (u32, String) {
        let floor = self.min.max(1);
        let mut notes = Vec::new();
        let proposal = raw.clamp(floor, self.max);
        if proposal < raw {
            notes.push(format!("capped at max {}", self.max));
        } else if proposal > raw {
            notes.push(format!("kept at min {floor}"));
        }
        let stabilized = self.limits.stabilize(now, current, proposal);
        if stabilized > proposal {
            notes.push(format!(
                "stabilized at {stabilized} (highest proposal of the last {})",
                secs(self.limits.stabilization())
            ));
        }
        let mut candidate = stabilized;
        if let Some(cooldown) = self.limits.cooldown(now, current, candidate) {
            notes.push(describe_cooldown(cooldown));
            candidate = current;
        }
        let limited = self.limits.rate_limit(now, current, candidate);
        if limited != candidate {
            notes.push(self.describe_limit(current, candidate));
            candidate = limited;
        }
        // Only a count already outside the bounds (a spec change) can need this.
        let desired = candidate.clamp(floor, self.max);
        (desired, finish(describe, &notes, current, desired))
    }

    /// Idle with `min = 0`: toward zero, through the scale-down cooldown and rate limit (but not
    /// stabilization: the idle time already is the wait).
    fn toward_zero(&mut self, now: Duration, current: u32, quiet: Duration) -> (u32, String) {
        let describe = format!("idle {}", secs(quiet));
        let mut notes = Vec::new();
        let mut desired = 0;
        if let Some(cooldown) = self.limits.cooldown(now, current, 0) {
            notes.push(describe_cooldown(cooldown));
            desired = current;
        }
        let limited = self.limits.rate_limit(now, current, desired);
        if limited != desired {
            notes.push(self.describe_limit(current, desired));
            desired = limited;
        }
        let reason = if desired == 0 {
            format!("{describe}: scale to zero")
        } else {
            finish(&describe, &notes, current, desired)
        };
        (desired, reason)
    }

    /// No metric has a value: keep the count (it is also what stabilization remembers), never
    /// shrink because data disappeared.
    fn hold_without_data(
        &mut self,
        now: Duration,
        current: u32,
        proposed: &[Proposed],
    ) -> (u32, String) {
        let desired = current.clamp(self.min.max(1), self.max);
        self.limits.stabilize(now, current, desired);
        let names: Vec<&str> = proposed
            .iter()
            .map(|p| p.proposal.metric.as_str())
            .collect();
        let what = match names.len() {
            1 => format!("metric {} has no value", names[0]),
            _ => format!("metrics {} have no value", names.join(", ")),
        };
        let reason = if desired == current {
            format!("{what}: holding {current}")
        } else {
            format!("{what}: {current} → {desired} (within min and max)")
        };
        (desired, reason)
    }

    fn describe_limit(&self, current: u32, candidate: u32) -> String {
        let (key, limit) = if candidate > current {
            ("scale_up_limit", self.limits.up())
        } else {
            ("scale_down_limit", self.limits.down())
        };
        format!(
            "{candidate} limited by {key} ({} or {}% per {})",
            limit.instances,
            num(limit.percent),
            secs(limit.period)
        )
    }
}

impl Source {
    fn panicking(&self) -> bool {
        match &self.kind {
            Kind::Concurrency(k) | Kind::Rps(k) | Kind::Connections(k) => k.panicking(),
            _ => false,
        }
    }

    /// This metric's proposal for `obs`. KPA metrics record their sample as a side effect.
    fn propose(
        &mut self,
        obs: &Observation,
        ready: u32,
        current: u32,
        tolerance: Tolerance,
        warmup: Duration,
    ) -> Proposed {
        let (name, target) = (self.name, self.target);
        let tracked = |measured: Option<Measured>, unit: &str| {
            let measured = measured.filter(|m| m.counted > 0);
            let t = measured.and_then(|m| tracking::track(m, target, tolerance, current));
            let describe = match (t, measured) {
                (Some(t), Some(m)) => {
                    let v = num(t.value);
                    let cmp = if !t.held {
                        if t.value > target {
                            ">"
                        } else {
                            "<"
                        }
                    } else if tolerance.within(t.value / target) {
                        "≈"
                    } else {
                        "vs"
                    };
                    let mut s = format!("{name} {v}{unit} {cmp} {}{unit} target", num(target));
                    if t.held && cmp == "vs" {
                        s.push_str(&format!(
                            " (waiting for {} not measured yet)",
                            plural(m.unready + m.missing, "instance")
                        ));
                    }
                    s
                }
                _ => format!("{name} has no value"),
            };
            Proposed {
                proposal: Proposal {
                    metric: name.to_owned(),
                    value: t.map(|t| t.value),
                    target,
                    desired: t.map(|t| t.desired),
                },
                describe,
            }
        };
        match &mut self.kind {
            Kind::Utilisation(resource) => {
                tracked(Some(tracking::measure(obs, *resource, warmup)), "%")
            }
            Kind::Latency => tracked(tracking::measure_latency(obs), "ms"),
            Kind::Prometheus(query) => {
                let value = obs
                    .prometheus
                    .get(query.as_str())
                    .copied()
                    .filter(|v| v.is_finite());
                let desired = value.map(|v| tracking::prometheus(v, target));
                let describe = match value {
                    Some(v) => format!(
                        "prometheus {} ({query}) for {} per instance",
                        num(v),
                        num(target)
                    ),
                    None => format!("prometheus ({query}) has no value"),
                };
                Proposed {
                    proposal: Proposal {
                        metric: name.to_owned(),
                        value,
                        target,
                        desired,
                    },
                    describe,
                }
            }
            Kind::Concurrency(k) | Kind::Rps(k) | Kind::Connections(k) => {
                let total = match name {
                    "rps" => obs.rps,
                    "connections" => obs.connections,
                    _ => obs.concurrency,
                };
                let o = k.observe(obs.now, total, ready, current);
                Proposed {
                    describe: describe_kpa(name, target, k, &o),
                    proposal: Proposal {
                        metric: name.to_owned(),
                        value: o.value,
                        target,
                        desired: o.desired,
                    },
                }
            }
        }
    }
}

fn describe_kpa(name: &str, target: f64, k: &Kpa, o: &KpaOutcome) -> String {
    match o.value {
        Some(v) => {
            let mode = if o.entered_panic {
                " (panic starts)"
            } else if o.panicking {
                " (panic)"
            } else {
                ""
            };
            format!(
                "{name} {} over {}{mode} for a target of {} × {} per instance",
                num(v),
                secs(o.window),
                num(target),
                k.utilization()
            )
        }
        None => format!("{name} has no value"),
    }
}

fn describe_cooldown(c: Cooldown) -> String {
    match c {
        Cooldown::Up(left) => format!("scale_up_cooldown ({} left)", secs(left)),
        Cooldown::Down(left) => format!("scale_down_cooldown ({} left)", secs(left)),
    }
}

/// "{what}, {notes}: {from} → {to}", or "…: holding {n}".
fn finish(describe: &str, notes: &[String], from: u32, to: u32) -> String {
    let mut s = describe.to_owned();
    for n in notes {
        s.push_str(", ");
        s.push_str(n);
    }
    if from == to {
        s.push_str(&format!(": holding {to}"));
    } else {
        s.push_str(&format!(": {from} → {to}"));
    }
    s
}

/// `ceil(x)` as an instance count, tolerating floating-point noise (3 × 3.5 / 3.5 must stay 3)
/// and saturating instead of wrapping.
pub(crate) fn ceil_count(x: f64) -> u32 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    let c = (x - 1e-9).ceil();
    if c >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        c as u32
    }
}

/// A number for people: at most one decimal, none when whole.
fn num(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// "30s", "1.5s", "2m".
fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else {
        format!("{}s", num(s))
    }
}

/// "1 request", "3 requests".
fn plural(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[cfg(test)]
mod tests;
