//! Timestamped values kept for a fixed span of time: the memory behind every windowed rule
//! (Knative's stable and panic averages, the HPA's stabilization window, rate-limit periods).
//!
//! Time is whatever the caller passes in, so a window behaves the same under a real clock and
//! under a simulated one.

use std::collections::VecDeque;
use std::time::Duration;

/// Values with the time they were recorded, oldest first. Values older than `keep` are dropped
/// as new ones arrive; reads take any shorter window.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Window<T> {
    entries: VecDeque<(Duration, T)>,
    keep: Duration,
}

impl<T: Copy> Window<T> {
    /// A window that remembers values for `keep` (the longest window anyone will read).
    pub(crate) fn new(keep: Duration) -> Self {
        Window {
            entries: VecDeque::new(),
            keep,
        }
    }

    /// Records `value` at `at` and forgets what has aged out.
    pub(crate) fn push(&mut self, at: Duration, value: T) {
        self.entries.push_back((at, value));
        self.prune(at);
    }

    /// Forgets values recorded `keep` or more before `now`.
    pub(crate) fn prune(&mut self, now: Duration) {
        while let Some(&(at, _)) = self.entries.front() {
            if now.saturating_sub(at) >= self.keep {
                self.entries.pop_front();
            } else {
                break;
            }
        }
    }

    /// Values recorded less than `span` before `now` (a 6 s window at one value per second
    /// holds 6 values), oldest first.
    pub(crate) fn within(&self, now: Duration, span: Duration) -> impl Iterator<Item = T> + '_ {
        self.entries
            .iter()
            .filter(move |(at, _)| now.saturating_sub(*at) < span)
            .map(|&(_, v)| v)
    }

    /// Entries recorded less than `span` before `now`, with their times, oldest first.
    pub(crate) fn entries_within(
        &self,
        now: Duration,
        span: Duration,
    ) -> impl Iterator<Item = (Duration, T)> + '_ {
        self.entries
            .iter()
            .filter(move |(at, _)| now.saturating_sub(*at) < span)
            .copied()
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

impl Window<f64> {
    /// The mean of the values less than `span` old; `None` when there are none. Before a window
    /// has filled up this is the mean of what there is, as in Knative.
    pub(crate) fn average(&self, now: Duration, span: Duration) -> Option<f64> {
        let (sum, n) = self
            .within(now, span)
            .fold((0.0, 0u32), |(sum, n), v| (sum + v, n + 1));
        (n > 0).then(|| sum / f64::from(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn averages_over_the_values_present() {
        let mut w = Window::new(s(60));
        assert_eq!(w.average(s(0), s(6)), None);
        for t in 0..10 {
            w.push(s(t), t as f64);
        }
        // 6 s window at t = 9: values of 4..=9.
        assert_eq!(w.average(s(9), s(6)), Some(6.5));
        // Window not yet full: all 10 values.
        assert_eq!(w.average(s(9), s(60)), Some(4.5));
    }

    #[test]
    fn forgets_what_is_older_than_keep() {
        let mut w = Window::new(s(3));
        for t in 0..5 {
            w.push(s(t), t);
        }
        assert_eq!(w.within(s(4), s(100)).collect::<Vec<_>>(), [2, 3, 4]);
        w.prune(s(10));
        assert_eq!(w.within(s(10), s(100)).count(), 0);
    }
}
