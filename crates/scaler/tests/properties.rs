//! Properties that hold for every valid configuration and every sequence of observations:
//! the count stays within its bounds, panic never scales down, rate limits are never exceeded,
//! and a metric exactly at its target never moves the count.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use shoal_scaler::{Autoscaler, Decision, InstanceSample, Observation, TICK};
use shoal_spec::{AutoscaleSpec, Metric, MetricTarget, RateLimit};

const QUERY: &str = "sum(queue_depth)";

fn metric_kind() -> impl Strategy<Value = Metric> {
    prop_oneof![
        Just(Metric::Cpu),
        Just(Metric::Memory),
        Just(Metric::Concurrency),
        Just(Metric::Rps),
        Just(Metric::Connections),
        Just(Metric::LatencyP95),
        Just(Metric::Prometheus {
            url: "http://127.0.0.1:9090".into(),
            query: QUERY.into(),
        }),
    ]
}

fn metric_target() -> impl Strategy<Value = MetricTarget> {
    (metric_kind(), 1u32..=100).prop_map(|(metric, target)| MetricTarget {
        metric,
        target: f64::from(target),
    })
}

fn secs(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Duration> {
    range.prop_map(Duration::from_secs)
}

fn rate_limit() -> impl Strategy<Value = RateLimit> {
    (0u32..=5, 0u32..=200, secs(1..=10)).prop_map(|(instances, percent, period)| RateLimit {
        // At least one of the two bounds allows a change (the spec requires it).
        instances: if percent == 0 {
            instances.max(1)
        } else {
            instances
        },
        percent: f64::from(percent),
        period,
    })
}

prop_compose! {
    /// Any configuration the spec accepts (within ranges that keep the test quick).
    fn spec()(
        metrics in prop::collection::vec(metric_target(), 1..=3),
        tolerance_up in 0.0..0.5f64,
        tolerance_down in 0.0..0.5f64,
        stable in 2u64..=120,
        panic_frac in 0.05..0.95f64,
        panic_threshold in 1.01..4.0f64,
        target_utilization in 0.1..=1.0f64,
        scale_down_stabilization in secs(0..=120),
        scale_up_cooldown in secs(0..=20),
        scale_down_cooldown in secs(0..=30),
        scale_up_limit in rate_limit(),
        scale_down_limit in rate_limit(),
        warmup in secs(0..=10),
        idle in secs(1..=60),
    ) -> AutoscaleSpec {
        let stable_window = Duration::from_secs(stable);
        let panic_window = Duration::from_secs_f64((stable as f64 * panic_frac).max(1.0))
            .min(stable_window - Duration::from_millis(1));
        AutoscaleSpec {
            metrics,
            tolerance_up,
            tolerance_down,
            stable_window,
            panic_window,
            panic_threshold,
            target_utilization,
            scale_down_stabilization,
            scale_up_cooldown,
            scale_down_cooldown,
            scale_up_limit,
            scale_down_limit,
            warmup,
            idle,
            ..AutoscaleSpec::with_metrics(Vec::new())
        }
    }
}

prop_compose! {
    /// `instances` bounds: min 0..=3, max at least 1 and at least min.
    fn bounds()(min in 0u32..=3, extra in 0u32..=12) -> (u32, u32) {
        (min, min.max(1) + extra)
    }
}

/// What the world looks like at one tick, apart from the count (which comes from the previous
/// decision).
#[derive(Debug, Clone)]
struct Step {
    /// Milliseconds since the previous tick.
    dt_ms: u64,
    /// Per instance: ready, seconds ready, cpu, memory.
    instances: Vec<(bool, u64, Option<f64>, Option<f64>)>,
    concurrency: Option<f64>,
    rps: Option<f64>,
    latency: Option<f64>,
    prometheus: Option<f64>,
    /// Seconds since the last request (None: never).
    last_request_ago: Option<u64>,
    waiting: u32,
}

fn opt(v: impl Strategy<Value = f64>) -> impl Strategy<Value = Option<f64>> {
    prop_oneof![1 => Just(None), 5 => v.prop_map(Some)]
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![4 => Just(1000u64), 1 => 200u64..=3000],
        prop::collection::vec(
            (
                prop::bool::weighted(0.8),
                0u64..=30,
                opt(0.0..150.0f64),
                opt(0.0..100.0f64),
            ),
            0..=16,
        ),
        opt(0.0..200.0f64),
        opt(0.0..500.0f64),
        opt(1.0..2000.0f64),
        opt(0.0..300.0f64),
        prop_oneof![1 => Just(None), 4 => (0u64..=120).prop_map(Some)],
        prop_oneof![6 => Just(0u32), 1 => 1u32..=20],
    )
        .prop_map(
            |(
                dt_ms,
                instances,
                concurrency,
                rps,
                latency,
                prometheus,
                last_request_ago,
                waiting,
            )| {
                Step {
                    dt_ms,
                    instances,
                    concurrency,
                    rps,
                    latency,
                    prometheus,
                    last_request_ago,
                    waiting,
                }
            },
        )
}

/// The observation for `step` at `now` with `desired` in force: as many instances as desired
/// (the random ones first, then idle ready ones), as a control plane would report them.
fn observe(step: &Step, now: Duration, desired: u32) -> Observation {
    let instances = (0..desired as usize)
        .map(|i| match step.instances.get(i) {
            Some(&(ready, ready_for, cpu, mem)) => InstanceSample {
                ready,
                ready_for: ready.then(|| Duration::from_secs(ready_for)),
                cpu_percent: cpu.filter(|_| ready),
                memory_percent: mem.filter(|_| ready),
            },
            None => InstanceSample {
                ready: true,
                ready_for: Some(Duration::from_secs(60)),
                cpu_percent: Some(10.0),
                memory_percent: Some(10.0),
            },
        })
        .collect();
    Observation {
        now,
        instances,
        desired,
        concurrency: step.concurrency,
        rps: step.rps,
        connections: step.concurrency,
        latency_p95_ms: step.latency,
        prometheus: step
            .prometheus
            .map(|v| BTreeMap::from([(QUERY.to_owned(), v)]))
            .unwrap_or_default(),
        last_request: step
            .last_request_ago
            .map(|ago| now.saturating_sub(Duration::from_secs(ago))),
        waiting: step.waiting,
    }
}

/// One applied decision.
struct Applied {
    now: Duration,
    from: u32,
    to: u32,
    /// A request waited on a service at zero: the jump is exempt from the rate limit.
    from_zero: bool,
}

/// Runs the steps, each observation built from the previous decision's count.
fn run(
    spec: &AutoscaleSpec,
    (min, max): (u32, u32),
    initial: u32,
    steps: &[Step],
) -> Vec<(Observation, Decision)> {
    let mut a = Autoscaler::new(spec, min, max);
    let mut now = Duration::from_secs(1000);
    let mut desired = initial;
    let mut out = Vec::new();
    for s in steps {
        now += Duration::from_millis(s.dt_ms);
        let obs = observe(s, now, desired);
        let d = a.decide(&obs);
        desired = d.desired;
        out.push((obs, d));
    }
    out
}

/// The largest change the limit allows in one period, starting from `start` instances.
fn allowance(limit: &RateLimit, start: u32) -> u32 {
    let pct = (f64::from(start) * limit.percent / 100.0 - 1e-9)
        .ceil()
        .max(0.0) as u32;
    limit.instances.max(pct)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn desired_stays_within_bounds(
        spec in spec(),
        bounds in bounds(),
        initial_frac in 0.0..=1.0f64,
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let (min, max) = bounds;
        let initial = min + ((max - min) as f64 * initial_frac) as u32;
        for (obs, d) in run(&spec, bounds, initial, &steps) {
            prop_assert!(d.desired <= max, "{} > max {max}: {}", d.desired, d.reason);
            prop_assert!(d.desired >= min, "{} < min {min}: {}", d.desired, d.reason);
            prop_assert_eq!(d.changed, d.desired != obs.desired);
            prop_assert!(d.wake_after > Duration::ZERO && d.wake_after <= TICK);
            prop_assert!(!d.reason.is_empty());
            prop_assert_eq!(d.proposals.len(), spec.metrics.len());
        }
    }

    #[test]
    fn never_scales_down_while_panicking(
        spec in spec(),
        bounds in bounds(),
        steps in prop::collection::vec(step(), 1..120),
    ) {
        for (obs, d) in run(&spec, bounds, bounds.0.max(1), &steps) {
            if d.panicking {
                prop_assert!(
                    d.desired >= obs.desired,
                    "panicking but {} → {}: {}", obs.desired, d.desired, d.reason
                );
            }
        }
    }

    #[test]
    fn rate_limits_hold_in_every_period(
        spec in spec(),
        bounds in bounds(),
        steps in prop::collection::vec(step(), 1..120),
    ) {
        let trace = run(&spec, bounds, bounds.0.max(1), &steps);
        let applied: Vec<Applied> = trace
            .iter()
            .filter(|(obs, d)| d.desired != obs.desired)
            .map(|(obs, d)| Applied {
                now: obs.now,
                from: obs.desired,
                to: d.desired,
                from_zero: obs.waiting > 0 && (obs.desired == 0 || obs.instances.is_empty()),
            })
            .collect();
        // Checked where the limit is applied: at each change, over the period that ends with
        // it. (Any period with changes in one direction is covered by the period ending at its
        // last change in that direction.)
        for (i, last) in applied.iter().enumerate() {
            if last.from_zero {
                continue;
            }
            let up = last.to > last.from;
            let limit = if up { &spec.scale_up_limit } else { &spec.scale_down_limit };
            let first = applied[..=i]
                .iter()
                .position(|c| last.now.saturating_sub(c.now) < limit.period)
                .unwrap_or(i);
            let window = &applied[first..=i];
            let moved: u32 = window
                .iter()
                .filter(|c| !c.from_zero)
                .map(|c| if up { c.to.saturating_sub(c.from) } else { c.from.saturating_sub(c.to) })
                .sum();
            // The budget comes from the count in force when the period started.
            let start = window[0].from;
            prop_assert!(
                moved <= allowance(limit, start),
                "{} {moved} within {:?} from {start}, limit {limit:?}: {:?}",
                if up { "added" } else { "removed" },
                limit.period,
                window.iter().map(|c| (c.now, c.from, c.to)).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_metric_exactly_at_target_never_changes_the_count(
        spec in spec(),
        bounds in bounds(),
        metric in metric_target(),
        desired_frac in 0.0..=1.0f64,
        ticks in 1usize..200,
    ) {
        let (min, max) = bounds;
        let floor = min.max(1);
        let desired = floor + ((max - floor) as f64 * desired_frac) as u32;
        let spec = AutoscaleSpec { metrics: vec![metric.clone()], ..spec };
        let target = metric.target;
        let total = f64::from(desired) * target * spec.target_utilization;
        let mut a = Autoscaler::new(&spec, min, max);
        for t in 0..ticks {
            let now = Duration::from_secs(1000 + t as u64);
            let obs = Observation {
                now,
                instances: (0..desired)
                    .map(|_| InstanceSample {
                        ready: true,
                        ready_for: Some(spec.warmup + Duration::from_secs(1)),
                        cpu_percent: Some(target),
                        memory_percent: Some(target),
                    })
                    .collect(),
                desired,
                concurrency: Some(total),
                rps: Some(total),
                connections: Some(total),
                latency_p95_ms: Some(target),
                prometheus: BTreeMap::from([(QUERY.to_owned(), target * f64::from(desired))]),
                last_request: Some(now),
                waiting: 0,
            };
            let d = a.decide(&obs);
            prop_assert_eq!(d.desired, desired, "t={}: {}", t, d.reason);
            prop_assert!(!d.changed && !d.panicking);
        }
    }
}
