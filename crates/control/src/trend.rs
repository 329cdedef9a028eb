//! The last 15 minutes of each service, one sample per observation tick, kept by shoal itself so
//! a dashboard opened now draws full charts at once (`GET /v1/history`) instead of starting
//! empty. Bounded: a fixed number of samples per service.

use std::collections::VecDeque;

use serde::Serialize;

/// Samples kept per service: 15 minutes at one per second, plus a little slack.
const KEEP: usize = 15 * 60 + 30;

/// One second of one service.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Unix time in milliseconds.
    pub t: u64,
    /// Requests per second through the gateway.
    pub rps: f64,
    /// 95th percentile latency, ms (none without responses).
    pub p95: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99: Option<f64>,
    /// Instances healthy.
    pub healthy: usize,
    /// Instances running (any state but stopped).
    pub total: usize,
    /// Instances wanted.
    pub desired: u32,
}

/// A bounded ring of samples, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Trend {
    samples: VecDeque<Sample>,
}

impl Trend {
    pub(crate) fn push(&mut self, sample: Sample) {
        if self.samples.len() >= KEEP {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.samples.iter().copied().collect()
    }
}

/// Unix time now, in milliseconds.
pub(crate) fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_window_oldest_first() {
        let mut trend = Trend::default();
        for t in 0..(KEEP as u64 + 10) {
            trend.push(Sample {
                t,
                rps: 1.0,
                p95: None,
                p99: None,
                healthy: 1,
                total: 1,
                desired: 1,
            });
        }
        let samples = trend.samples();
        assert_eq!(samples.len(), KEEP);
        assert_eq!(samples[0].t, 10);
        assert_eq!(samples.last().unwrap().t, KEEP as u64 + 9);
    }
}
