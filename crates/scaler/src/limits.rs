//! What turns a proposal into a change: scale-down stabilization, cooldowns and rate limits
//! (the HPA's `behavior`). Each one trades reaction speed for calm, and each is kept apart so a
//! decision can say which one shaped it.

use std::time::Duration;

use shoal_spec::{AutoscaleSpec, RateLimit};

use crate::ceil_count;
use crate::window::Window;

/// Stabilization history, change history and the times cooldowns count from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limits {
    stabilization: Duration,
    up: RateLimit,
    down: RateLimit,
    up_cooldown: Duration,
    down_cooldown: Duration,
    /// Proposals made within the stabilization window.
    recommendations: Window<u32>,
    /// Changes the autoscaler made, as (from, to), within the longer rate-limit period.
    changes: Window<(u32, u32)>,
    last_up: Option<Duration>,
    last_change: Option<Duration>,
}

/// Why a candidate count was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cooldown {
    /// `scale_up_cooldown` since the last scale-up; this much is left.
    Up(Duration),
    /// `scale_down_cooldown` since the last change; this much is left.
    Down(Duration),
}

impl Limits {
    pub(crate) fn new(spec: &AutoscaleSpec) -> Self {
        Limits {
            stabilization: spec.scale_down_stabilization,
            up: spec.scale_up_limit,
            down: spec.scale_down_limit,
            up_cooldown: spec.scale_up_cooldown,
            down_cooldown: spec.scale_down_cooldown,
            recommendations: Window::new(spec.scale_down_stabilization),
            changes: Window::new(spec.scale_up_limit.period.max(spec.scale_down_limit.period)),
            last_up: None,
            last_change: None,
        }
    }

    /// The scale-up rate limit, for messages.
    pub(crate) fn up(&self) -> RateLimit {
        self.up
    }

    /// The scale-down rate limit, for messages.
    pub(crate) fn down(&self) -> RateLimit {
        self.down
    }

    /// The stabilization window, for messages.
    pub(crate) fn stabilization(&self) -> Duration {
        self.stabilization
    }

    /// Records `proposal` and returns the count to aim for: a scale-down only goes as low as the
    /// highest proposal of the stabilization window (the current one included), so one quiet
    /// moment does not remove capacity that the next moment needs. Scale-ups pass as they are.
    pub(crate) fn stabilize(&mut self, now: Duration, current: u32, proposal: u32) -> u32 {
        let highest = self
            .recommendations
            .within(now, self.stabilization)
            .chain(std::iter::once(proposal))
            .max()
            .unwrap_or(proposal);
        self.recommendations.push(now, proposal);
        if proposal >= current {
            proposal
        } else {
            highest.min(current)
        }
    }

    /// Whether a cooldown forbids going from `current` to `candidate` now.
    pub(crate) fn cooldown(&self, now: Duration, current: u32, candidate: u32) -> Option<Cooldown> {
        let left = |since: Option<Duration>, cooldown: Duration| {
            let elapsed = now.saturating_sub(since?);
            (elapsed < cooldown).then(|| cooldown - elapsed)
        };
        if candidate > current {
            left(self.last_up, self.up_cooldown).map(Cooldown::Up)
        } else if candidate < current {
            left(self.last_change, self.down_cooldown).map(Cooldown::Down)
        } else {
            None
        }
    }

    /// `candidate` brought within the rate limit for its direction: within any period, the
    /// instances added (removed) add up to at most the limit's allowance for the count in force
    /// when the period started.
    pub(crate) fn rate_limit(&self, now: Duration, current: u32, candidate: u32) -> u32 {
        let (limit, up) = if candidate > current {
            (&self.up, true)
        } else if candidate < current {
            (&self.down, false)
        } else {
            return candidate;
        };
        let (added, removed) = self.changes.within(now, limit.period).fold(
            (0u32, 0u32),
            |(added, removed), (from, to)| {
                (
                    added.saturating_add(to.saturating_sub(from)),
                    removed.saturating_add(from.saturating_sub(to)),
                )
            },
        );
        let start = current.saturating_add(removed).saturating_sub(added);
        let budget = allowance(limit, start);
        if up {
            candidate.min(current.saturating_add(budget.saturating_sub(added)))
        } else {
            candidate.max(current.saturating_sub(budget.saturating_sub(removed)))
        }
    }

    /// Records a change the autoscaler made.
    pub(crate) fn record_change(&mut self, now: Duration, from: u32, to: u32) {
        if from == to {
            return;
        }
        self.changes.push(now, (from, to));
        self.last_change = Some(now);
        if to > from {
            self.last_up = Some(now);
        }
    }

    /// A count set by hand: stabilization starts over from it, and it restarts the cooldowns
    /// (a scale-up cooldown only when it went up). It does not use rate-limit budget: the
    /// limits pace the autoscaler, not the operator.
    pub(crate) fn reset(&mut self, now: Duration, from: Option<u32>, to: u32) {
        self.recommendations.clear();
        self.last_change = Some(now);
        let went_up = match from {
            Some(from) => from < to,
            None => true,
        };
        if went_up {
            self.last_up = Some(now);
        }
    }

    /// How long until a cooldown ends, rate-limit budget frees up or a proposal leaves the
    /// stabilization window: the next moment a held-back change could go through.
    pub(crate) fn next_event(&self, now: Duration) -> Option<Duration> {
        let ends = |since: Option<Duration>, span: Duration| since.map(|s| s + span);
        let longest = self.up.period.max(self.down.period);
        [
            ends(self.last_up, self.up_cooldown),
            ends(self.last_change, self.down_cooldown),
        ]
        .into_iter()
        .flatten()
        .chain(
            self.changes
                .entries_within(now, longest)
                .flat_map(|(at, _)| [at + self.up.period, at + self.down.period]),
        )
        .chain(
            self.recommendations
                .entries_within(now, self.stabilization)
                .map(|(at, _)| at + self.stabilization),
        )
        .filter(|&at| at > now)
        .map(|at| at - now)
        .min()
    }
}

/// Instances one period may add or remove, starting from `start`: the larger of the two bounds
/// (the HPA's `selectPolicy: Max`).
pub(crate) fn allowance(limit: &RateLimit, start: u32) -> u32 {
    limit
        .instances
        .max(ceil_count(f64::from(start) * limit.percent / 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_spec::{Metric, MetricTarget};

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn limits() -> Limits {
        Limits::new(&AutoscaleSpec::with_metrics(vec![MetricTarget {
            metric: Metric::Concurrency,
            target: 5.0,
        }]))
    }

    #[test]
    fn scale_down_waits_for_the_window() {
        let mut l = limits();
        assert_eq!(l.stabilize(s(0), 5, 8), 8);
        // Proposals drop: the highest of the last 60 s (8) is above the current 5: hold.
        assert_eq!(l.stabilize(s(10), 5, 2), 5);
        assert_eq!(l.stabilize(s(59), 5, 2), 5);
        // 8 has left the window; 2 is what the whole window asked for at most.
        assert_eq!(l.stabilize(s(60), 5, 2), 2);
    }

    #[test]
    fn rate_limits_use_the_budget_of_the_period() {
        let mut l = limits();
        // Up: max(4, 100 % of 2) = 4 per second.
        assert_eq!(l.rate_limit(s(0), 2, 20), 6);
        l.record_change(s(0), 2, 6);
        // Within the same second the budget is used.
        assert_eq!(l.rate_limit(s(0), 6, 20), 6);
        // A second later: max(4, 100 % of 6) = 6 more.
        assert_eq!(l.rate_limit(s(1), 6, 20), 12);
        l.record_change(s(1), 6, 12);
        // Down, 3 s later: max(1, 50 % of 12) = 6 per 2 s.
        assert_eq!(l.rate_limit(s(4), 12, 1), 6);
        l.record_change(s(4), 12, 6);
        assert_eq!(l.rate_limit(s(5), 6, 1), 6);
        // The period has passed: max(1, 50 % of 6) = 3.
        assert_eq!(l.rate_limit(s(6), 6, 1), 3);
    }

    #[test]
    fn budget_is_from_the_count_at_the_start_of_the_period() {
        let mut l = limits();
        // 10 → 8 → 9 within 2 s: the period started at 10, so 5 may go in all; 2 went.
        l.record_change(s(0), 10, 8);
        l.record_change(s(1), 8, 9);
        assert_eq!(l.rate_limit(s(1), 9, 1), 6);
    }

    #[test]
    fn cooldowns() {
        let mut l = limits();
        assert_eq!(l.cooldown(s(0), 2, 1), None);
        l.record_change(s(0), 1, 2);
        assert_eq!(l.cooldown(s(3), 2, 1), Some(Cooldown::Down(s(7))));
        assert_eq!(
            l.cooldown(s(3), 2, 3),
            None,
            "no scale-up cooldown by default"
        );
        assert_eq!(l.cooldown(s(10), 2, 1), None);
        assert_eq!(l.next_event(s(3)), Some(s(7)));
    }
}
