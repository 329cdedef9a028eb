//! A simulated service under a virtual clock: instances that take `startup` ticks to become
//! ready, each handling `capacity` of the load at 100 % of its cpu, and a gateway that reports
//! what it sees. One tick is one simulated second.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use shoal_scaler::{Autoscaler, InstanceSample, Observation};
use shoal_spec::Metric;

use super::load;
use super::scenario::{Compiled, Event, Scenario};

/// An instance: ready from tick `ready_at` on (negative: ready since before the start).
struct Instance {
    ready_at: i64,
}

/// What happened at one tick.
pub struct Row {
    pub t: u64,
    pub demand: f64,
    /// The count in force when the tick started.
    pub before: u32,
    /// The count decided at this tick.
    pub desired: u32,
    pub ready: u32,
    pub waiting: u32,
    pub panicking: bool,
    pub reason: String,
}

pub struct Trace {
    pub rows: Vec<Row>,
}

impl Trace {
    /// Every tick, one per line, for a failure message.
    pub fn table(&self) -> String {
        let mut out = String::from("    t   demand  desired  ready  wait  reason\n");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{:5} {:8.2} {:>8} {:6} {:5}  {}{}",
                r.t,
                r.demand,
                if r.desired == r.before {
                    r.desired.to_string()
                } else {
                    format!("{}→{}", r.before, r.desired)
                },
                r.ready,
                r.waiting,
                if r.panicking { "[panic] " } else { "" },
                r.reason
            );
        }
        out
    }
}

/// Runs the scenario to the end of its load trace.
pub fn run(scenario: &Scenario, compiled: &Compiled) -> Trace {
    let svc = &scenario.service;
    let demand = load::trace(&scenario.load, scenario.seed);
    let counts = compiled.instances;
    let mut autoscaler = Autoscaler::new(&compiled.autoscale, counts.min, counts.max);
    let queries: Vec<String> = compiled
        .autoscale
        .metrics
        .iter()
        .filter_map(|m| match &m.metric {
            Metric::Prometheus { query, .. } => Some(query.clone()),
            _ => None,
        })
        .collect();

    let mut instances: Vec<Instance> = (0..counts.desired)
        .map(|_| Instance { ready_at: -3600 })
        .collect();
    let mut desired = counts.desired;
    let mut last_request = None;
    let mut rows = Vec::new();

    for (t, &d) in demand.iter().enumerate() {
        let t = t as u64;
        let ti = t as i64;
        let missing = |metric: &str| {
            scenario.events.iter().any(|e| match e {
                Event::Missing {
                    metric: m,
                    from,
                    to,
                } => (m == metric || m == "all") && (*from..*to).contains(&t),
            })
        };
        let ready = instances.iter().filter(|i| ti >= i.ready_at).count() as u32;
        let util = if ready > 0 {
            d / f64::from(ready) / svc.capacity
        } else {
            0.0
        };
        let samples = instances
            .iter()
            .map(|i| {
                let is_ready = ti >= i.ready_at;
                InstanceSample {
                    ready: is_ready,
                    ready_for: is_ready.then(|| Duration::from_secs((ti - i.ready_at) as u64)),
                    cpu_percent: (is_ready && !missing("cpu")).then(|| (util * 100.0).min(100.0)),
                    memory_percent: (is_ready && !missing("memory"))
                        .then(|| 20.0 + 60.0 * util.min(1.0)),
                }
            })
            .collect();
        let waiting = if ready == 0 && d > 0.0 {
            d.ceil() as u32
        } else {
            0
        };
        if d > 0.0 {
            last_request = Some(Duration::from_secs(t));
        }
        let prometheus: BTreeMap<String, f64> = if missing("prometheus") {
            BTreeMap::new()
        } else {
            queries.iter().map(|q| (q.clone(), d)).collect()
        };
        let obs = Observation {
            now: Duration::from_secs(t),
            instances: samples,
            desired,
            concurrency: (!missing("concurrency")).then_some(d),
            connections: (!missing("connections")).then_some(d),
            rps: (!missing("rps")).then(|| d.min(svc.capacity * f64::from(ready))),
            latency_p95_ms: (ready > 0 && d > 0.0 && !missing("latency_p95"))
                .then(|| svc.latency_ms / (1.0 - util.min(0.95))),
            prometheus,
            last_request,
            waiting,
        };
        let decision = autoscaler.decide(&obs);
        assert_eq!(decision.changed, decision.desired != desired, "at t={t}");
        assert!(decision.wake_after <= shoal_scaler::TICK && !decision.wake_after.is_zero());
        rows.push(Row {
            t,
            demand: d,
            before: desired,
            desired: decision.desired,
            ready,
            waiting,
            panicking: decision.panicking,
            reason: decision.reason,
        });

        // Apply: add instances that will be ready in `startup` ticks, or remove the ones that
        // are still starting first, then the newest.
        desired = decision.desired;
        let n = desired as usize;
        while instances.len() < n {
            instances.push(Instance {
                ready_at: ti + svc.startup as i64,
            });
        }
        if instances.len() > n {
            instances.sort_by_key(|i| std::cmp::Reverse(i.ready_at));
            instances.drain(..instances.len() - n);
        }
    }
    Trace { rows }
}
