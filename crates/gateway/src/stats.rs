//! Per-service traffic observations for the control plane (autoscaler, status) and for
//! `/metrics`: counters and latency histograms updated lock-free on the request path. The
//! autoscaler's fine histogram is read and reset once per tick; the Prometheus one (fixed
//! buckets, [`DURATION_BUCKETS`]) and every counter only ever grow, so scrapes see true counters.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Buckets per doubling of latency: each bucket spans about 19 %, so a quantile is within ±9 %.
const BUCKETS_PER_DOUBLING: f64 = 4.0;
/// Covers 1 µs to about 2^(96/4) µs ≈ 4.6 hours; anything longer lands in the last bucket.
const BUCKETS: usize = 96;

/// Upper bounds, in seconds, of the request-duration histogram on `/metrics` (1 ms to 30 s, about
/// 2.5× apart: the usual Prometheus ladder). Responses slower than the last one count in `+Inf`.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// [`DURATION_BUCKETS`] in nanoseconds, compared with on the request path.
const DURATION_BOUNDS_NANOS: [u64; 14] = [
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];

/// The status classes responses are counted by, in the order of [`ClassCounts`].
pub const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

/// Counts by status class, in the order of [`STATUS_CLASSES`].
pub type ClassCounts = [u64; 4];

/// Index into [`STATUS_CLASSES`]; anything that is not 2xx–4xx counts as 5xx, as the autoscaler
/// and the canary analysis count it.
fn class_index(status: u16) -> usize {
    match status {
        200..=299 => 0,
        300..=399 => 1,
        400..=499 => 2,
        _ => 3,
    }
}

/// Why a request could not be completed on an instance, as counted on `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamError {
    /// The connection was refused or timed out (nothing was sent).
    Connect,
    /// No response headers within the response timeout.
    Timeout,
    /// The connection failed after the request was sent (reset, closed early).
    Transport,
}

impl UpstreamError {
    /// Every kind, in the order of [`Totals::upstream_errors`].
    pub const ALL: [UpstreamError; 3] = [
        UpstreamError::Connect,
        UpstreamError::Timeout,
        UpstreamError::Transport,
    ];

    /// The `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamError::Connect => "connect",
            UpstreamError::Timeout => "timeout",
            UpstreamError::Transport => "transport",
        }
    }
}

/// Responses relayed from the instances of one revision, by status class. The control plane
/// shares one per (service, revision) among that revision's endpoints, so the count survives
/// instances coming and going and `/metrics` can split traffic by revision without the gateway
/// knowing revisions.
#[derive(Default)]
pub struct ResponseCounts {
    classes: [AtomicU64; 4],
}

impl ResponseCounts {
    pub(crate) fn record(&self, status: u16) {
        self.classes[class_index(status)].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now (they only grow).
    pub fn snapshot(&self) -> ClassCounts {
        std::array::from_fn(|i| self.classes[i].load(Ordering::Relaxed))
    }
}

/// The never-reset figures of a service, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    /// Responses the gateway made itself (502/503/504: no instance answered), by status class.
    pub gateway_answers: ClassCounts,
    /// Responses per [`DURATION_BUCKETS`] bucket (not cumulative), `+Inf` last.
    pub duration_buckets: [u64; DURATION_BUCKETS.len() + 1],
    /// Sum of the durations counted, in seconds.
    pub duration_sum_seconds: f64,
    /// Upstream failures by kind, in the order of [`UpstreamError::ALL`].
    pub upstream_errors: [u64; 3],
    /// Attempts on another instance after a failed one.
    pub retries: u64,
}

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
    /// Cumulative counts per [`DURATION_BUCKETS`] bucket (`+Inf` last); never reset.
    duration: [AtomicU64; DURATION_BUCKETS.len() + 1],
    duration_sum_nanos: AtomicU64,
    gateway_answers: [AtomicU64; 4],
    upstream_errors: [AtomicU64; 3],
    retries: AtomicU64,
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
            duration: std::array::from_fn(|_| AtomicU64::new(0)),
            duration_sum_nanos: AtomicU64::new(0),
            gateway_answers: std::array::from_fn(|_| AtomicU64::new(0)),
            upstream_errors: std::array::from_fn(|_| AtomicU64::new(0)),
            retries: AtomicU64::new(0),
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
        let class = match class_index(status) {
            0 => &self.responses_2xx,
            1 => &self.responses_3xx,
            2 => &self.responses_4xx,
            _ => &self.responses_5xx,
        };
        class.fetch_add(1, Ordering::Relaxed);
        self.latency[bucket(latency)].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let le = DURATION_BOUNDS_NANOS
            .iter()
            .position(|&bound| nanos <= bound)
            .unwrap_or(DURATION_BOUNDS_NANOS.len());
        self.duration[le].fetch_add(1, Ordering::Relaxed);
        self.duration_sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Records a response the gateway made itself (no instance answered).
    pub(crate) fn on_gateway_answer(&self, status: u16) {
        self.gateway_answers[class_index(status)].fetch_add(1, Ordering::Relaxed);
    }

    /// Records a failed attempt on an instance.
    pub(crate) fn on_upstream_error(&self, kind: UpstreamError) {
        self.upstream_errors[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Records an attempt on another instance after a failed one.
    pub(crate) fn on_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// The never-reset figures now (for `/metrics`). Each bucket is read once, so the count is
    /// their sum and a scrape never sees a bucket above `+Inf`.
    pub fn totals(&self) -> Totals {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Totals {
            gateway_answers: std::array::from_fn(|i| load(&self.gateway_answers[i])),
            duration_buckets: std::array::from_fn(|i| load(&self.duration[i])),
            duration_sum_seconds: load(&self.duration_sum_nanos) as f64 / 1e9,
            upstream_errors: std::array::from_fn(|i| load(&self.upstream_errors[i])),
            retries: load(&self.retries),
        }
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
    fn prometheus_histogram_is_cumulative_and_survives_ticks() {
        let s = ServiceStats::default();
        let ms = Duration::from_millis;
        // On a bound counts in that bucket (`le`), just above it in the next; beyond 30 s: +Inf.
        for d in [
            Duration::ZERO,
            ms(1),
            ms(1) + Duration::from_nanos(1),
            ms(30),
            Duration::from_secs(30),
            Duration::from_secs(31),
        ] {
            s.on_response(200, d);
        }
        let _ = s.take_latency();
        s.on_response(500, ms(200));
        let t = s.totals();
        let mut want = [0u64; DURATION_BUCKETS.len() + 1];
        want[0] = 2; // 0 and 1 ms
        want[1] = 1; // 1 ms + 1 ns
        want[5] = 1; // 30 ms in (25, 50]
        want[7] = 1; // 200 ms in (100, 250]
        want[13] = 1; // 30 s
        want[14] = 1; // +Inf
        assert_eq!(t.duration_buckets, want);
        let sum = 0.001 + 0.001_000_001 + 0.03 + 30.0 + 31.0 + 0.2;
        assert!((t.duration_sum_seconds - sum).abs() < 1e-9);
        // Taking the autoscaler's quantiles reset only those.
        assert!(s.take_latency().is_some());
        assert_eq!(s.totals().duration_buckets, want);
    }

    #[test]
    fn gateway_answers_errors_and_retries_are_counted_apart() {
        let s = ServiceStats::default();
        s.on_gateway_answer(503);
        s.on_gateway_answer(502);
        s.on_gateway_answer(404);
        s.on_upstream_error(UpstreamError::Connect);
        s.on_upstream_error(UpstreamError::Transport);
        s.on_upstream_error(UpstreamError::Transport);
        s.on_retry();
        let t = s.totals();
        assert_eq!(t.gateway_answers, [0, 0, 1, 2]);
        assert_eq!(t.upstream_errors, [1, 0, 2]);
        assert_eq!(t.retries, 1);
        let r = ResponseCounts::default();
        for status in [200, 204, 301, 404, 500, 101] {
            r.record(status);
        }
        assert_eq!(r.snapshot(), [2, 1, 1, 2]);
    }

    #[test]
    fn extreme_latencies_stay_in_range() {
        assert_eq!(bucket(Duration::ZERO), 0);
        assert_eq!(bucket(Duration::from_secs(1_000_000)), BUCKETS - 1);
    }
}
