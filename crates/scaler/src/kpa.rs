//! Concurrency and request-rate scaling as Knative's KPA does it: a long stable window for
//! steady decisions, and a short panic window that reacts to a burst within a tick or two.
//!
//! Both windows average the service-wide total; dividing by the per-instance target (times the
//! target utilisation, for headroom) gives the count. Panic starts when the short window asks
//! for `panic_threshold` times the ready instances, and while panicking the count never goes
//! down: a burst that has just passed is the worst moment to remove capacity. Panic ends once
//! its condition has not held for a whole stable window.

use std::time::Duration;

use crate::ceil_count;
use crate::window::Window;

/// Settings of one concurrency or rps metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct KpaConfig {
    /// Per-instance target.
    pub(crate) target: f64,
    pub(crate) utilization: f64,
    pub(crate) stable_window: Duration,
    pub(crate) panic_window: Duration,
    pub(crate) panic_threshold: f64,
}

/// One KPA metric's memory: a sample per tick, and the panic state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Kpa {
    config: KpaConfig,
    samples: Window<f64>,
    panicking: bool,
    /// The last time the panic condition held.
    panic_held: Option<Duration>,
}

/// What one KPA metric saw at a tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct KpaOutcome {
    /// The average that decided (the panic window's while panicking), `None` without a sample
    /// this tick.
    pub(crate) value: Option<f64>,
    /// The window `value` is averaged over.
    pub(crate) window: Duration,
    /// The proposed count.
    pub(crate) desired: Option<u32>,
    /// Panic mode after this tick.
    pub(crate) panicking: bool,
    /// Panic mode started at this tick.
    pub(crate) entered_panic: bool,
}

impl Kpa {
    pub(crate) fn new(config: KpaConfig) -> Self {
        Kpa {
            config,
            samples: Window::new(config.stable_window),
            panicking: false,
            panic_held: None,
        }
    }

    /// The share of the target aimed at, for messages.
    pub(crate) fn utilization(&self) -> f64 {
        self.config.utilization
    }

    /// True while in panic mode.
    pub(crate) fn panicking(&self) -> bool {
        self.panicking
    }

    /// The count `total` asks for at one instance per `target × utilization`.
    fn count(&self, total: f64) -> u32 {
        ceil_count(total / (self.config.target * self.config.utilization))
    }

    /// Takes this tick's total (`None` when the gateway had no reading: nothing is recorded and
    /// nothing proposed) and proposes a count. `ready` is the number of ready instances, `current`
    /// the count in force.
    pub(crate) fn observe(
        &mut self,
        now: Duration,
        total: Option<f64>,
        ready: u32,
        current: u32,
    ) -> KpaOutcome {
        let c = self.config;
        let mut entered_panic = false;
        let total = total.filter(|v| v.is_finite()).map(|v| v.max(0.0));
        if let Some(v) = total {
            self.samples.push(now, v);
        } else {
            self.samples.prune(now);
        }
        let stable = self.samples.average(now, c.stable_window);
        let panic = self.samples.average(now, c.panic_window);

        if let (Some(_), Some(panic_avg)) = (total, panic) {
            let desired_panic = f64::from(self.count(panic_avg));
            if desired_panic >= c.panic_threshold * f64::from(ready.max(1)) {
                self.panic_held = Some(now);
                if !self.panicking {
                    self.panicking = true;
                    entered_panic = true;
                }
            }
        }
        let calm_for = match self.panic_held {
            Some(held) => now.saturating_sub(held),
            None => Duration::MAX,
        };
        if self.panicking && calm_for >= c.stable_window {
            self.panicking = false;
        }

        let (value, window, desired) = match (total, stable, panic) {
            (Some(_), Some(_), Some(p)) if self.panicking => {
                (Some(p), c.panic_window, Some(self.count(p).max(current)))
            }
            (Some(_), Some(s), _) => (Some(s), c.stable_window, Some(self.count(s))),
            _ => (None, c.stable_window, None),
        };
        KpaOutcome {
            value,
            window,
            desired,
            panicking: self.panicking,
            entered_panic,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn kpa() -> Kpa {
        Kpa::new(KpaConfig {
            target: 5.0,
            utilization: 0.7,
            stable_window: s(60),
            panic_window: s(6),
            panic_threshold: 2.0,
        })
    }

    #[test]
    fn steady_load_is_stable() {
        let mut k = kpa();
        for t in 0..100 {
            let o = k.observe(s(t), Some(7.0), 2, 2);
            assert_eq!(o.desired, Some(2));
            assert!(!o.panicking);
        }
    }

    #[test]
    fn a_step_panics_at_once_and_never_scales_down_while_panicking() {
        let mut k = kpa();
        for t in 0..10 {
            k.observe(s(t), Some(2.0), 1, 1);
        }
        // 5 × 2 + 40 over 6 s = 8.33 → 3 ≥ 2 × 1 ready.
        let o = k.observe(s(10), Some(40.0), 1, 1);
        assert!(o.entered_panic && o.panicking);
        assert_eq!(o.desired, Some(3));
        assert_eq!(o.window, s(6));
        // The burst ends; while panicking the proposal stays at the current count.
        let o = k.observe(s(11), Some(0.0), 1, 3);
        assert!(o.panicking);
        assert_eq!(o.desired, Some(3));
        // Panic ends a stable window after its condition last held.
        let mut last = o;
        for t in 12..=71 {
            last = k.observe(s(t), Some(0.0), 3, 3);
        }
        assert!(!last.panicking);
        assert_eq!(last.desired, Some(0));
    }

    #[test]
    fn a_missing_sample_proposes_nothing() {
        let mut k = kpa();
        k.observe(s(0), Some(10.0), 1, 1);
        let o = k.observe(s(1), None, 1, 1);
        assert_eq!((o.value, o.desired), (None, None));
        // The average is over the samples present.
        let o = k.observe(s(2), Some(4.0), 1, 1);
        assert_eq!(o.value, Some(7.0));
    }
}
