//! Target tracking as the Kubernetes HPA does it, for metrics measured per instance (cpu,
//! memory) or service-wide but read as if per instance (p95 latency), and KEDA's `AverageValue`
//! for Prometheus queries.
//!
//! The count is scaled by how far the average is from its target: `ceil(N × average / target)`.
//! Deviations within the tolerance are ignored so that noise does not move the count. Instances
//! that are still starting or warming up are not measured; how they are counted depends on the
//! direction, so that neither their idle CPU (a false scale-down) nor their absence (a false
//! scale-up) moves the count.

use std::time::Duration;

use crate::{ceil_count, Observation};

/// How far from the target the average may be before the count changes, per direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tolerance {
    pub(crate) up: f64,
    pub(crate) down: f64,
}

impl Tolerance {
    /// True when `ratio` (value / target) is close enough to 1 to leave the count alone.
    pub(crate) fn within(&self, ratio: f64) -> bool {
        if ratio > 1.0 {
            ratio - 1.0 <= self.up
        } else {
            1.0 - ratio <= self.down
        }
    }
}

/// What a tracked metric saw and what it asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Tracked {
    /// The average compared with the target.
    pub(crate) value: f64,
    /// The count it asks for.
    pub(crate) desired: u32,
    /// True when the deviation was within tolerance (or instances still starting cancel it out)
    /// and the current count was proposed as is.
    pub(crate) held: bool,
}

/// Which per-instance utilisation to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resource {
    Cpu,
    Memory,
}

/// The measurements of one metric over the service's instances, split the way the HPA splits pods.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Measured {
    /// Sum of the values of the instances that count.
    pub(crate) sum: f64,
    /// Instances that count: ready, past warmup, with a value.
    pub(crate) counted: u32,
    /// Instances starting or warming up: 0 on a scale-up, left out on a scale-down.
    pub(crate) unready: u32,
    /// Ready and warm but without a value: 0 on a scale-up, at the target on a scale-down
    /// (so a metric that goes missing never shrinks the service).
    pub(crate) missing: u32,
}

/// Splits the instances of `obs` for a per-instance utilisation.
pub(crate) fn measure(obs: &Observation, resource: Resource, warmup: Duration) -> Measured {
    let mut m = Measured::default();
    for i in &obs.instances {
        let warm = i.ready && i.ready_for.is_some_and(|d| d >= warmup);
        if !warm {
            m.unready += 1;
            continue;
        }
        let value = match resource {
            Resource::Cpu => i.cpu_percent,
            Resource::Memory => i.memory_percent,
        };
        match value.filter(|v| v.is_finite()) {
            Some(v) => {
                m.sum += v.max(0.0);
                m.counted += 1;
            }
            None => m.missing += 1,
        }
    }
    m
}

/// Service-wide p95 latency read as if every ready instance saw it; starting instances are
/// unready. `None` without a latency or a ready instance.
pub(crate) fn measure_latency(obs: &Observation) -> Option<Measured> {
    let p95 = obs.latency_p95_ms.filter(|v| v.is_finite())?.max(0.0);
    let ready = obs.instances.iter().filter(|i| i.ready).count() as u32;
    let unready = obs.instances.len() as u32 - ready;
    (ready > 0).then(|| Measured {
        sum: p95 * f64::from(ready),
        counted: ready,
        unready,
        missing: 0,
    })
}

/// The HPA's replica calculation. `current` is the count in force; `None` when nothing was
/// measured.
pub(crate) fn track(m: Measured, target: f64, tol: Tolerance, current: u32) -> Option<Tracked> {
    if m.counted == 0 {
        return None;
    }
    let average = m.sum / f64::from(m.counted);
    let ratio = average / target;
    let hold = Tracked {
        value: average,
        desired: current,
        held: true,
    };
    let within = |r: f64| tol.within(r);
    if within(ratio) {
        return Some(hold);
    }
    if m.unready == 0 && m.missing == 0 {
        return Some(Tracked {
            value: average,
            desired: ceil_count(ratio * f64::from(m.counted)),
            held: false,
        });
    }
    // Rebalance as the HPA does: on the way up, unmeasured instances count as idle (they will
    // take load soon); on the way down, starting ones are left out and ones without a value
    // count as exactly on target.
    let up = ratio > 1.0;
    let (sum, n) = if up {
        (m.sum, m.counted + m.unready + m.missing)
    } else {
        (m.sum + target * f64::from(m.missing), m.counted + m.missing)
    };
    let new_ratio = sum / f64::from(n) / target;
    if within(new_ratio) || (up && new_ratio < 1.0) || (!up && new_ratio > 1.0) {
        return Some(hold);
    }
    let desired = ceil_count(new_ratio * f64::from(n));
    if (new_ratio < 1.0 && desired > current) || (new_ratio > 1.0 && desired < current) {
        return Some(hold);
    }
    Some(Tracked {
        value: average,
        desired,
        held: false,
    })
}

/// KEDA's `AverageValue`: a service-wide value divided by the per-instance target.
pub(crate) fn prometheus(value: f64, target: f64) -> u32 {
    ceil_count(value.max(0.0) / target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InstanceSample;

    const TOL: Tolerance = Tolerance { up: 0.1, down: 0.1 };

    fn measured(sum: f64, counted: u32, unready: u32, missing: u32) -> Measured {
        Measured {
            sum,
            counted,
            unready,
            missing,
        }
    }

    #[test]
    fn proportional_outside_tolerance() {
        // 3 instances at 90 % for a 60 % target: 4.5 → 5.
        let t = track(measured(270.0, 3, 0, 0), 60.0, TOL, 3).unwrap();
        assert_eq!((t.value, t.desired, t.held), (90.0, 5, false));
        // 3 at 30 %: 1.5 → 2.
        assert_eq!(
            track(measured(90.0, 3, 0, 0), 60.0, TOL, 3)
                .unwrap()
                .desired,
            2
        );
    }

    #[test]
    fn within_tolerance_holds() {
        let t = track(measured(195.0, 3, 0, 0), 60.0, TOL, 3).unwrap();
        assert!(t.held);
        assert_eq!(t.desired, 3);
        assert_eq!(track(measured(0.0, 0, 2, 0), 60.0, TOL, 3), None);
    }

    #[test]
    fn starting_instances_damp_a_scale_up() {
        // 1 measured at 100 %, 2 starting: counted as idle the average is 33 %: the scale-up
        // reverses, so hold.
        let t = track(measured(100.0, 1, 2, 0), 70.0, TOL, 3).unwrap();
        assert!(t.held, "{t:?}");
        // 1 at 100 %, 1 starting for target 20: (100 + 0) / 2 = 50 → 2 × 2.5 = 5.
        assert_eq!(
            track(measured(100.0, 1, 1, 0), 20.0, TOL, 2)
                .unwrap()
                .desired,
            5
        );
    }

    #[test]
    fn missing_values_never_shrink() {
        // 1 measured at 10 %, 9 without a value: on the way down they count as on target.
        let t = track(measured(10.0, 1, 0, 9), 50.0, TOL, 10).unwrap();
        assert_eq!(t.desired, 10, "{t:?}");
    }

    #[test]
    fn warmup_and_readiness_split_instances() {
        let obs = Observation {
            instances: vec![
                InstanceSample {
                    ready: true,
                    ready_for: Some(Duration::from_secs(10)),
                    cpu_percent: Some(80.0),
                    memory_percent: None,
                },
                InstanceSample {
                    ready: true,
                    ready_for: Some(Duration::from_secs(1)),
                    cpu_percent: Some(100.0),
                    memory_percent: Some(5.0),
                },
                InstanceSample::default(),
            ],
            ..Observation::default()
        };
        let cpu = measure(&obs, Resource::Cpu, Duration::from_secs(5));
        assert_eq!(cpu, measured(80.0, 1, 2, 0));
        let mem = measure(&obs, Resource::Memory, Duration::from_secs(5));
        assert_eq!(mem, measured(0.0, 0, 2, 1));
        assert_eq!(measure_latency(&obs), None);
    }

    #[test]
    fn prometheus_is_value_over_target() {
        assert_eq!(prometheus(25.0, 10.0), 3);
        assert_eq!(prometheus(30.0, 10.0), 3);
        assert_eq!(prometheus(0.0, 10.0), 0);
    }
}
