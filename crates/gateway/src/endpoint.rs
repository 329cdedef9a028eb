//! One instance as the data plane sees it: its address, its live load and latency, and its pool
//! of idle connections. Endpoints are shared (`Arc`) between successive routing tables, so the
//! counters survive every table swap and a draining instance can be watched until it is idle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::pool::Pool;

/// The latency estimate decays toward zero with this time constant when no new sample arrives
/// (tower's and linkerd's peak-EWMA do the same, with 10 s). Without decay, an instance that had
/// one slow response stops winning duels, never gets the sample that would correct it, and
/// starves. With 2 s, an avoided instance is tried again within a few seconds; under load,
/// samples arrive continuously and the decay hardly matters.
const DECAY_TAU: Duration = Duration::from_secs(2);
/// Weight of a new sample that is faster than the current estimate (slower ones replace it).
const FASTER_SAMPLE_WEIGHT: f64 = 0.5;
/// Lowest latency an endpoint is credited with: differences below it are noise (loopback
/// jitter), and a very fast instance is not handed every request at once.
const RTT_FLOOR: Duration = Duration::from_millis(1);
/// Share of its full weight a brand-new instance starts with during slow start.
const SLOW_START_MIN: f64 = 0.1;

/// A routable instance. Created by the control plane when an instance becomes routable and kept
/// until the instance is stopped.
pub struct Endpoint {
    /// Stable instance id (`web-2`), used in logs and error messages.
    pub instance_id: Arc<str>,
    /// Service name, for metrics and messages.
    pub service: Arc<str>,
    /// Loopback address of the instance.
    pub addr: SocketAddr,
    /// Requests picked for this endpoint whose response has not finished streaming.
    outstanding: AtomicUsize,
    /// Set before the endpoint leaves the routing table; a pick that races with the swap backs off.
    draining: AtomicBool,
    /// Set by the gateway when a connection is refused; cleared by the next passing health check.
    ejected: AtomicBool,
    /// Peak-EWMA of time to response headers.
    latency: Mutex<LatencyEstimate>,
    /// When the endpoint became routable; drives the slow-start ramp.
    routable_since: Instant,
    slow_start: Duration,
    /// Idle keep-alive connections to this instance.
    pub(crate) pool: Pool,
    requests_total: AtomicU64,
    failures_total: AtomicU64,
}

struct LatencyEstimate {
    /// Nanoseconds; `None` until the first sample.
    nanos: Option<f64>,
    updated: Instant,
}

impl Endpoint {
    /// A new endpoint, routable from now, ramping up over `slow_start`.
    pub fn new(
        instance_id: impl Into<Arc<str>>,
        service: impl Into<Arc<str>>,
        addr: SocketAddr,
        slow_start: Duration,
        pool_config: crate::PoolConfig,
    ) -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Self {
            instance_id: instance_id.into(),
            service: service.into(),
            addr,
            outstanding: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            ejected: AtomicBool::new(false),
            latency: Mutex::new(LatencyEstimate {
                nanos: None,
                updated: now,
            }),
            routable_since: now,
            slow_start,
            pool: Pool::new(addr, pool_config),
            requests_total: AtomicU64::new(0),
            failures_total: AtomicU64::new(0),
        })
    }

    /// Requests in flight on this endpoint, including responses still streaming.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::SeqCst)
    }

    /// Marks the endpoint as leaving: no new request will be sent to it, even by a pick that
    /// loaded the routing table just before it was swapped.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`Endpoint::start_draining`] was called.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Waits until no request is in flight, or `limit` has passed. Returns the requests still in
    /// flight (0 when drained).
    pub async fn wait_idle(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let n = self.outstanding();
            if n == 0 || Instant::now() >= deadline {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Passive health: a refused connection takes the endpoint out of rotation at once.
    pub fn eject(&self) {
        self.ejected.store(true, Ordering::Relaxed);
    }

    /// Brings an ejected endpoint back (called by the health checker after a passing check).
    pub fn readmit(&self) {
        self.ejected.store(false, Ordering::Relaxed);
    }

    /// Whether the endpoint is passively ejected.
    pub fn is_ejected(&self) -> bool {
        self.ejected.load(Ordering::Relaxed)
    }

    /// Requests sent to this endpoint since it became routable.
    pub fn requests_total(&self) -> u64 {
        self.requests_total.load(Ordering::Relaxed)
    }

    /// Requests that failed at the transport level on this endpoint.
    pub fn failures_total(&self) -> u64 {
        self.failures_total.load(Ordering::Relaxed)
    }

    /// Reserves a request slot; `None` if the endpoint started draining meanwhile.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<InflightGuard> {
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        if self.draining.load(Ordering::SeqCst) {
            self.outstanding.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        self.requests_total.fetch_add(1, Ordering::Relaxed);
        Some(InflightGuard {
            endpoint: Arc::clone(self),
        })
    }

    pub(crate) fn record_failure(&self) {
        self.failures_total.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the time to response headers (peak-EWMA: a slower sample is taken at once, a
    /// faster one is blended in).
    pub(crate) fn observe_latency(&self, rtt: Duration, now: Instant) {
        let sample = rtt.as_nanos() as f64;
        let mut est = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        est.nanos = Some(match est.decayed(now) {
            Some(prev) if sample <= prev => {
                prev * (1.0 - FASTER_SAMPLE_WEIGHT) + sample * FASTER_SAMPLE_WEIGHT
            }
            _ => sample,
        });
        est.updated = now;
    }

    /// Latency estimate in nanoseconds as of `now`, `None` before the first response.
    pub(crate) fn rtt_nanos(&self, now: Instant) -> Option<f64> {
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .decayed(now)
    }

    /// Load cost used by P2C: latency × (outstanding + 1), inflated while slow start ramps.
    /// `rtt_nanos` is supplied by the caller so an endpoint without samples can be costed with
    /// its rival's estimate (then only load and slow start tell them apart).
    pub(crate) fn cost(&self, rtt_nanos: f64, now: Instant) -> f64 {
        let rtt = rtt_nanos.max(RTT_FLOOR.as_nanos() as f64);
        let load = (self.outstanding() + 1) as f64;
        rtt * load / self.slow_start_factor(now)
    }

    /// In `(SLOW_START_MIN, 1]`: the share of its full weight the endpoint has earned so far.
    pub(crate) fn slow_start_factor(&self, now: Instant) -> f64 {
        if self.slow_start.is_zero() {
            return 1.0;
        }
        let age = now
            .saturating_duration_since(self.routable_since)
            .as_secs_f64();
        (age / self.slow_start.as_secs_f64()).clamp(SLOW_START_MIN, 1.0)
    }

    /// Idle keep-alive connections pooled for this instance.
    pub fn idle_connections(&self) -> usize {
        self.pool.idle_count()
    }

    /// The current latency estimate, if any request has completed.
    pub fn latency_estimate(&self) -> Option<Duration> {
        self.rtt_nanos(Instant::now())
            .map(|n| Duration::from_nanos(n as u64))
    }
}

impl LatencyEstimate {
    /// The estimate decayed for the time since the last sample.
    fn decayed(&self, now: Instant) -> Option<f64> {
        let idle = now.saturating_duration_since(self.updated).as_secs_f64();
        self.nanos
            .map(|n| n * (-idle / DECAY_TAU.as_secs_f64()).exp())
    }
}

/// Holds one request slot on an endpoint until the response has finished streaming (or failed).
pub struct InflightGuard {
    endpoint: Arc<Endpoint>,
}

impl InflightGuard {
    /// The endpoint this slot belongs to.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.endpoint.outstanding.fetch_sub(1, Ordering::SeqCst);
    }
}
