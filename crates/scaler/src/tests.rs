//! Decisions of the whole policy, one rule at a time.

use super::*;
use shoal_spec::{MetricTarget, RateLimit};

#[test]
fn counts_round_up_without_float_noise() {
    assert_eq!(ceil_count(3.0 * 5.0 * 0.7 / (5.0 * 0.7)), 3);
    assert_eq!(ceil_count(3.01), 4);
    assert_eq!(ceil_count(0.0), 0);
    assert_eq!(ceil_count(-1.0), 0);
    assert_eq!(ceil_count(f64::NAN), 0);
    assert_eq!(ceil_count(1e20), u32::MAX);
}

#[test]
fn words() {
    assert_eq!(num(38.24), "38.2");
    assert_eq!(num(5.0), "5");
    assert_eq!(secs(Duration::from_secs(60)), "1m");
    assert_eq!(secs(Duration::from_secs(6)), "6s");
    assert_eq!(secs(Duration::from_millis(1500)), "1.5s");
    assert_eq!(plural(1, "request"), "1 request");
}

fn s(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn spec(metrics: Vec<MetricTarget>) -> AutoscaleSpec {
    AutoscaleSpec::with_metrics(metrics)
}

fn metric(metric: Metric, target: f64) -> MetricTarget {
    MetricTarget { metric, target }
}

/// `n` instances ready for a minute at `cpu` percent.
fn warm(n: u32, cpu: f64) -> Vec<InstanceSample> {
    (0..n)
        .map(|_| InstanceSample {
            ready: true,
            ready_for: Some(s(60)),
            cpu_percent: Some(cpu),
            memory_percent: None,
        })
        .collect()
}

fn obs(now: u64, desired: u32) -> Observation {
    Observation {
        now: s(now),
        desired,
        last_request: Some(s(now)),
        ..Observation::default()
    }
}

#[test]
fn scale_from_zero_ignores_cooldowns_limits_and_stabilization() {
    let mut sp = spec(vec![metric(Metric::Concurrency, 5.0)]);
    sp.scale_up_limit = RateLimit {
        instances: 1,
        percent: 0.0,
        period: s(60),
    };
    sp.scale_up_cooldown = s(60);
    let mut a = Autoscaler::new(&sp, 0, 10);
    a.reset(0, s(0));
    let d = a.decide(&Observation {
        waiting: 20,
        concurrency: Some(20.0),
        ..obs(1, 0)
    });
    // ceil(20 / 3.5) = 6, at once.
    assert_eq!(d.desired, 6);
    assert!(d.changed);
    assert_eq!(d.reason, "20 requests waiting: scale from zero to 6");
}

#[test]
fn a_single_waiting_request_starts_one_instance() {
    let mut a = Autoscaler::new(&spec(vec![metric(Metric::Cpu, 70.0)]), 0, 3);
    let d = a.decide(&Observation {
        waiting: 1,
        ..obs(5, 0)
    });
    assert_eq!(
        (d.desired, d.reason.as_str()),
        (1, "1 request waiting: scale from zero to 1")
    );
    // Nothing waiting at zero: stay there.
    let mut a = Autoscaler::new(&spec(vec![metric(Metric::Cpu, 70.0)]), 0, 3);
    let d = a.decide(&obs(5, 0));
    assert_eq!((d.desired, d.changed), (0, false));
}

#[test]
fn missing_metrics_hold_the_count() {
    let mut a = Autoscaler::new(
        &spec(vec![
            metric(Metric::Cpu, 70.0),
            metric(Metric::Concurrency, 5.0),
        ]),
        1,
        10,
    );
    let d = a.decide(&Observation {
        instances: warm(3, 0.0)
            .into_iter()
            .map(|i| InstanceSample {
                cpu_percent: None,
                ..i
            })
            .collect(),
        ..obs(0, 3)
    });
    assert_eq!(d.desired, 3);
    assert_eq!(
        d.reason,
        "metrics cpu, concurrency have no value: holding 3"
    );
    assert!(d.proposals.iter().all(|p| p.desired.is_none()));
}

#[test]
fn the_largest_proposal_wins() {
    let query = "sum(queue)".to_owned();
    let mut a = Autoscaler::new(
        &spec(vec![
            metric(Metric::Cpu, 50.0),
            metric(
                Metric::Prometheus {
                    url: "http://p".into(),
                    query: query.clone(),
                },
                10.0,
            ),
        ]),
        1,
        10,
    );
    let d = a.decide(&Observation {
        instances: warm(3, 50.0),
        prometheus: BTreeMap::from([(query, 55.0)]),
        ..obs(0, 3)
    });
    assert_eq!(d.desired, 6);
    assert_eq!(d.proposals[0].desired, Some(3));
    assert_eq!(d.proposals[1].desired, Some(6));
    assert_eq!(d.proposals[1].value, Some(55.0));
    assert!(
        d.reason.starts_with("prometheus 55 (sum(queue))"),
        "{}",
        d.reason
    );
    assert!(d.reason.ends_with(": 3 → 6"), "{}", d.reason);
}

#[test]
fn scale_down_waits_for_stabilization_then_cooldown_and_limit() {
    let mut a = Autoscaler::new(&spec(vec![metric(Metric::Cpu, 50.0)]), 1, 10);
    // 6 instances at 50 %: on target.
    let d = a.decide(&Observation {
        instances: warm(6, 50.0),
        ..obs(0, 6)
    });
    assert_eq!(d.desired, 6);
    // Load drops: cpu 10 % asks for 2, but 6 was asked for within the last 60 s.
    let d = a.decide(&Observation {
        instances: warm(6, 10.0),
        ..obs(1, 6)
    });
    assert_eq!(d.desired, 6);
    assert!(
        d.reason
            .contains("stabilized at 6 (highest proposal of the last 1m)"),
        "{}",
        d.reason
    );
    // A minute later: down by max(1, 50 % of 6) = 3.
    let d = a.decide(&Observation {
        instances: warm(6, 10.0),
        ..obs(60, 6)
    });
    assert_eq!(d.desired, 3, "{}", d.reason);
    assert!(
        d.reason.contains("limited by scale_down_limit"),
        "{}",
        d.reason
    );
    // The cooldown (10 s after any change) holds the next step, and says when it ends.
    let d = a.decide(&Observation {
        instances: warm(3, 10.0),
        ..obs(62, 3)
    });
    assert_eq!(d.desired, 3);
    assert!(
        d.reason.contains("scale_down_cooldown (8s left)"),
        "{}",
        d.reason
    );
    let d = a.decide(&Observation {
        instances: warm(3, 10.0),
        ..obs(70, 3)
    });
    assert_eq!(d.desired, 2, "{}", d.reason);
}

#[test]
fn reset_clears_stabilization_and_restarts_cooldowns() {
    let mut a = Autoscaler::new(&spec(vec![metric(Metric::Cpu, 50.0)]), 1, 10);
    a.decide(&Observation {
        instances: warm(8, 50.0),
        ..obs(0, 8)
    });
    // By hand to 4; the 8 proposed a second ago no longer counts, but the cooldown does.
    a.reset(4, s(1));
    let low = |now| Observation {
        instances: warm(4, 10.0),
        ..obs(now, 4)
    };
    let d = a.decide(&low(5));
    assert_eq!(d.desired, 4);
    assert!(
        d.reason.contains("scale_down_cooldown (6s left)"),
        "{}",
        d.reason
    );
    assert_eq!(d.wake_after, TICK);
    let d = a.decide(&low(11));
    // 4 at 10 % asks for 1: limited to max(1, 50 % of 4) = 2 per 2 s.
    assert_eq!(d.desired, 2, "{}", d.reason);
}

#[test]
fn idle_without_any_request_counts_from_the_first_look() {
    let mut sp = spec(vec![metric(Metric::Concurrency, 5.0)]);
    sp.idle = s(30);
    let mut a = Autoscaler::new(&sp, 0, 3);
    let quiet = |now| Observation {
        instances: warm(1, 0.0),
        concurrency: Some(0.0),
        last_request: None,
        ..obs(now, 1)
    };
    let d = a.decide(&quiet(100));
    assert_eq!(d.desired, 1);
    let d = a.decide(&quiet(129));
    assert_eq!(d.desired, 1);
    assert_eq!(d.wake_after, TICK);
    let d = a.decide(&quiet(130));
    assert_eq!(
        (d.desired, d.reason.as_str()),
        (0, "idle 30s: scale to zero")
    );
}

#[test]
fn wake_after_is_shorter_when_something_ends_sooner() {
    let mut sp = spec(vec![metric(Metric::Cpu, 50.0)]);
    sp.scale_down_stabilization = Duration::ZERO;
    let mut a = Autoscaler::new(&sp, 1, 10);
    a.decide(&Observation {
        instances: warm(2, 100.0),
        ..obs(0, 2)
    });
    // The scale-up at t=0 starts the 10 s scale-down cooldown; at 9.75 s it has 250 ms left.
    let d = a.decide(&Observation {
        now: Duration::from_millis(9750),
        instances: warm(4, 10.0),
        ..obs(0, 4)
    });
    assert_eq!(d.desired, 4);
    assert_eq!(d.wake_after, Duration::from_millis(250));
}

#[test]
fn panic_never_scales_down_even_when_another_metric_wins() {
    let mut a = Autoscaler::new(
        &spec(vec![
            metric(Metric::Concurrency, 5.0),
            metric(Metric::Cpu, 50.0),
        ]),
        1,
        20,
    );
    for t in 0..10 {
        a.decide(&Observation {
            instances: warm(1, 50.0),
            concurrency: Some(2.0),
            ..obs(t, 1)
        });
    }
    let d = a.decide(&Observation {
        instances: warm(1, 50.0),
        concurrency: Some(100.0),
        ..obs(10, 1)
    });
    assert!(d.panicking);
    assert_eq!(d.desired, 5, "{}", d.reason);
    // The concurrency sample goes missing; cpu alone would go down to 1.
    let d = a.decide(&Observation {
        instances: warm(5, 1.0),
        concurrency: None,
        ..obs(11, 5)
    });
    assert!(d.panicking);
    assert_eq!(d.desired, 5, "{}", d.reason);
}

#[test]
fn open_connections_scale_like_concurrency() {
    let mut a = Autoscaler::new(&spec(vec![metric(Metric::Connections, 10.0)]), 1, 8);
    a.reset(1, s(0));
    // 50 connections open over one instance, 10 each aimed at 70 %: ceil(50 / 7) = 8, a panic
    // (at least twice the ready count) held to the scale-up limit of 4 more per second.
    let d = a.decide(&Observation {
        connections: Some(50.0),
        ..obs(1, 1)
    });
    assert_eq!(d.desired, 5, "{}", d.reason);
    assert!(d.reason.contains("connections"), "{}", d.reason);
    // Without a reading the count holds.
    let mut a = Autoscaler::new(&spec(vec![metric(Metric::Connections, 10.0)]), 1, 8);
    a.reset(3, s(0));
    let d = a.decide(&obs(1, 3));
    assert_eq!(d.desired, 3, "{}", d.reason);
}
