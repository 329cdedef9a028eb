//! Per-service traffic observations for the control plane (autoscaler, status): counters and a
//! latency histogram updated lock-free on the request path, read and reset once per tick.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Buckets per doubling of latency: each bucket spans about 19 %, so a quantile is within ±9 %.
const BUCKETS_PER_DOUBLING: f64 = 4.0;
/// Covers 1 µs to about 2^(96/4) µs ≈ 4.6 hours; anything longer lands in the last bucket.
const BUCKETS: usize = 96;

/// Traffic of one service. Shared (`Arc`) by every routing table that routes to the service, so
/// the counts survive table swaps.
pub struct ServiceStats {
    requests: AtomicU64,
    responses_2xx: AtomicU64,
    responses_3xx: AtomicU64,
    responses_4xx: AtomicU64,
    responses_5xx: AtomicU64,
    /// Nanoseconds since `epoch` of the last request's arrival, +1 (0 = never).
    last_request: AtomicU64,
    /// Requests held because the service has no instance (scale from zero).
    waiting: AtomicU32,
    /// Woken when a request starts waiting, so the control plane can start an instance at once.
    pub wake: Notify,
    latency: [AtomicU64; BUCKETS],
    epoch: Instant,
}

/// A copy of the counters at one moment; subtract two to get a tick's traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Requests routed to the service.
    pub requests: u64,
    /// Responses by status class (errors answered by the gateway count too).
    pub responses_2xx: u64,
    /// 3xx responses.
    pub responses_3xx: u64,
    /// 4xx responses.
    pub responses_4xx: u64,
    /// 5xx responses, including the gateway's own 502/503/504.
    pub responses_5xx: u64,
}

/// Latency quantiles over one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    /// Responses measured.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

impl Default for ServiceStats {
    fn default() -> Self {
        Self {
            requests: AtomicU64::new(0),
            responses_2xx: AtomicU64::new(0),
            responses_3xx: AtomicU64::new(0),
            responses_4xx: AtomicU64::new(0),
            responses_5xx: AtomicU64::new(0),
            last_request: AtomicU64::new(0),
            waiting: AtomicU32::new(0),
            wake: Notify::new(),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            epoch: Instant::now(),
        }
    }
}

impl ServiceStats {
    pub(crate) fn on_request(&self, now: Instant) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let since = now.saturating_duration_since(self.epoch).as_nanos() as u64;
        self.last_request.store(since + 1, Ordering::Relaxed);
    }

    /// Records a response (from an instance or the gateway's own error answer) and its time to
    /// headers.
    pub(crate) fn on_response(&self, status: u16, latency: Duration) {
        let class = match status {
            200..=299 => &self.responses_2xx,
            300..=399 => &self.responses_3xx,
            400..=499 => &self.responses_4xx,
            _ => &self.responses_5xx,
        };
        class.fetch_add(1, Ordering::Relaxed);
        self.latency[bucket(latency)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            responses_2xx: self.responses_2xx.load(Ordering::Relaxed),
            responses_3xx: self.responses_3xx.load(Ordering::Relaxed),
            responses_4xx: self.responses_4xx.load(Ordering::Relaxed),
            responses_5xx: self.responses_5xx.load(Ordering::Relaxed),
        }
    }

    /// When the last request arrived, if any did.
    pub fn last_request(&self) -> Option<Instant> {
        match self.last_request.load(Ordering::Relaxed) {
            0 => None,
            n => Some(self.epoch + Duration::from_nanos(n - 1)),
        }
    }

    /// Requests held right now waiting for a first instance.
    pub fn waiting(&self) -> u32 {
        self.waiting.load(Ordering::Relaxed)
    }

    pub(crate) fn start_waiting(&self) -> u32 {
        let n = self.waiting.fetch_add(1, Ordering::Relaxed) + 1;
        self.wake.notify_one();
        n
    }

    pub(crate) fn stop_waiting(&self) {
        self.waiting.fetch_sub(1, Ordering::Relaxed);
    }

    /// Latency quantiles of the responses since the previous call (which resets them).
    pub fn take_latency(&self) -> Option<LatencySummary> {
        let counts: Vec<u64> = self
            .latency
            .iter()
            .map(|b| b.swap(0, Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return None;
        }
        let quantile = |q: f64| {
            let rank = ((count as f64) * q).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return bucket_value(i);
                }
            }
            bucket_value(BUCKETS - 1)
        };
        Some(LatencySummary {
            count,
            p50: quantile(0.50),
            p95: quantile(0.95),
            p99: quantile(0.99),
        })
    }
}

fn bucket(latency: Duration) -> usize {
    let micros = latency.as_micros().max(1) as f64;
    ((micros.log2() * BUCKETS_PER_DOUBLING) as usize).min(BUCKETS - 1)
}

/// The geometric middle of a bucket.
fn bucket_value(i: usize) -> Duration {
    let micros = 2f64.powf((i as f64 + 0.5) / BUCKETS_PER_DOUBLING);
    Duration::from_nanos((micros * 1000.0) as u64)
}

impl StatsSnapshot {
    /// The traffic between `earlier` and `self`.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.saturating_sub(earlier.requests),
            responses_2xx: self.responses_2xx.saturating_sub(earlier.responses_2xx),
            responses_3xx: self.responses_3xx.saturating_sub(earlier.responses_3xx),
            responses_4xx: self.responses_4xx.saturating_sub(earlier.responses_4xx),
            responses_5xx: self.responses_5xx.saturating_sub(earlier.responses_5xx),
        }
    }

    /// All responses.
    pub fn responses(&self) -> u64 {
        self.responses_2xx + self.responses_3xx + self.responses_4xx + self.responses_5xx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_bucket() {
        let s = ServiceStats::default();
        for ms in 1..=100u64 {
            s.on_response(200, Duration::from_millis(ms));
        }
        let l = s.take_latency().unwrap();
        assert_eq!(l.count, 100);
        let near = |d: Duration, want: f64| {
            let got = d.as_secs_f64() * 1000.0;
            assert!((got / want - 1.0).abs() < 0.12, "{got} vs {want}");
        };
        near(l.p50, 50.0);
        near(l.p95, 95.0);
        near(l.p99, 99.0);
        // Taking resets.
        assert!(s.take_latency().is_none());
    }

    #[test]
    fn counters_and_deltas() {
        let s = ServiceStats::default();
        let before = s.snapshot();
        s.on_request(Instant::now());
        s.on_response(200, Duration::from_millis(1));
        s.on_request(Instant::now());
        s.on_response(503, Duration::from_millis(1));
        let d = s.snapshot().since(&before);
        assert_eq!(
            (d.requests, d.responses_2xx, d.responses_5xx, d.responses()),
            (2, 1, 1, 2)
        );
        assert!(s.last_request().is_some());
    }

    #[test]
    fn extreme_latencies_stay_in_range() {
        assert_eq!(bucket(Duration::ZERO), 0);
        assert_eq!(bucket(Duration::from_secs(1_000_000)), BUCKETS - 1);
    }
}
