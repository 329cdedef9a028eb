//! One instance as the data plane sees it: its address, its live load and latency, its pool of
//! idle connections, and the TCP connections relayed to it. Endpoints are shared (`Arc`) between
//! successive routing tables, so the counters survive every table swap and a draining instance
//! can be watched until it is idle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::pool::Pool;
use crate::stats::ResponseCounts;

/// The latency estimate decays toward zero with this time constant when no new sample arrives
/// (tower's and linkerd's peak-EWMA do the same, with 10 s). Without decay, an instance that had
/// one slow response stops winning duels, never gets the sample that would correct it, and
/// starves. With 2 s, an avoided instance is tried again within a few seconds; under load,
/// samples arrive continuously and the decay hardly matters.
const DECAY_TAU: Duration = Duration::from_secs(2);
/// Weight of each new sample. Not a peak rule (a slower sample replacing the estimate outright):
/// on one machine, instances share the CPUs, so one slow response is mostly scheduler noise;
/// persistent slowness is still caught within a handful of samples, and under concurrency the
/// in-flight count steers away from a slow instance anyway.
const SAMPLE_WEIGHT: f64 = 0.1;
/// A sample counts as at most this multiple of the current estimate, so one outlier raises the
/// estimate by at most 30 % while a persistently slow instance still climbs 30 % per sample.
const SAMPLE_CLIP: f64 = 4.0;
/// Lowest latency an endpoint is credited with, and the estimate of an endpoint before its first
/// sample: differences below it are noise (loopback jitter).
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
    /// EWMA of time to response headers.
    latency: Mutex<LatencyEstimate>,
    /// When the endpoint became routable; drives the slow-start ramp.
    routable_since: Instant,
    slow_start: Duration,
    /// Idle keep-alive connections to this instance.
    pub(crate) pool: Pool,
    requests_total: AtomicU64,
    failures_total: AtomicU64,
    /// Where the responses this instance sends are counted by status class: its revision's
    /// counts, set once by the control plane (which knows revisions) before the endpoint is
    /// routable; unset, responses are counted only per service.
    responses: OnceLock<Arc<ResponseCounts>>,
    /// TCP connections relayed to this instance that are open now (the TCP balancing load).
    tcp_open: AtomicUsize,
    /// TCP connections relayed to this instance since it became routable.
    tcp_total: AtomicU64,
    /// What open TCP connections should do; each connection's task watches it, so draining
    /// costs nothing until it starts.
    tcp_phase: watch::Sender<TcpPhase>,
    /// Woken when the last open TCP connection closes, for [`Endpoint::wait_connections_closed`].
    tcp_closed: Notify,
}

/// What the open TCP connections to an endpoint are told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TcpPhase {
    /// Relay until either side closes or the connection idles out.
    Serving,
    /// The instance is leaving: close each connection once it has been quiet for `drain_quiet`,
    /// so a request/response protocol is never cut mid-reply.
    Draining,
    /// The drain time is over: close every connection now.
    Closing,
}

struct LatencyEstimate {
    /// Nanoseconds; starts at the floor (an optimistic prior that the first samples correct).
    nanos: f64,
    /// Whether any sample has been taken.
    sampled: bool,
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
                nanos: RTT_FLOOR.as_nanos() as f64,
                sampled: false,
                updated: now,
            }),
            routable_since: now,
            slow_start,
            pool: Pool::new(addr, pool_config),
            requests_total: AtomicU64::new(0),
            failures_total: AtomicU64::new(0),
            responses: OnceLock::new(),
            tcp_open: AtomicUsize::new(0),
            tcp_total: AtomicU64::new(0),
            tcp_phase: watch::Sender::new(TcpPhase::Serving),
            tcp_closed: Notify::new(),
        })
    }

    /// Counts this instance's responses in `counts` (its revision's) from now on. Only the first
    /// call takes effect: an instance never changes revision. Returns whether this call did.
    pub fn count_responses_in(&self, counts: Arc<ResponseCounts>) -> bool {
        self.responses.set(counts).is_ok()
    }

    /// The counts this instance's responses go to, if attached.
    pub fn response_counts(&self) -> Option<&Arc<ResponseCounts>> {
        self.responses.get()
    }

    /// Records a response relayed from this instance (one relaxed add when attached).
    pub(crate) fn record_response(&self, status: u16) {
        if let Some(counts) = self.responses.get() {
            counts.record(status);
        }
    }

    /// Requests in flight on this endpoint, including responses still streaming.
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::SeqCst)
    }

    /// Marks the endpoint as leaving: no new request or TCP connection will be sent to it, even
    /// by a pick that loaded the routing table just before it was swapped; open TCP connections
    /// close as soon as each has been quiet for its listener's `drain_quiet`.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.tcp_phase.send_if_modified(|phase| {
            let serving = *phase == TcpPhase::Serving;
            if serving {
                *phase = TcpPhase::Draining;
            }
            serving
        });
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

    /// TCP connections relayed to this instance that are open now (including one being
    /// connected), the load TCP balancing compares.
    pub fn open_connections(&self) -> usize {
        self.tcp_open.load(Ordering::SeqCst)
    }

    /// TCP connections relayed to this instance since it became routable.
    pub fn connections_total(&self) -> u64 {
        self.tcp_total.load(Ordering::Relaxed)
    }

    /// Waits until no TCP connection to this instance is open, or `limit` has passed (the TCP
    /// counterpart of [`Endpoint::wait_idle`], woken by the last close rather than polling).
    /// Returns the connections still open (0 when all closed).
    pub async fn wait_connections_closed(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let closed = self.tcp_closed.notified();
            tokio::pin!(closed);
            // Registered before the count is read, so a close in between is not missed.
            closed.as_mut().enable();
            let open = self.open_connections();
            if open == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, closed).await.is_err() {
                return self.open_connections();
            }
        }
    }

    /// Closes every open TCP connection to this instance now, busy or not, and takes no new
    /// one: for when the drain time is over and the instance is about to be stopped anyway.
    pub fn close_connections(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.tcp_phase.send_replace(TcpPhase::Closing);
    }

    /// The phase open TCP connections follow; a connection's task selects on its changes.
    pub(crate) fn tcp_phase(&self) -> watch::Receiver<TcpPhase> {
        self.tcp_phase.subscribe()
    }

    /// Reserves a TCP connection slot; `None` if the endpoint started draining meanwhile (the
    /// same increment-then-check as [`Endpoint::try_acquire`], so draining is race-free).
    pub(crate) fn try_acquire_tcp(self: &Arc<Self>) -> Option<TcpConnGuard> {
        self.tcp_open.fetch_add(1, Ordering::SeqCst);
        let guard = TcpConnGuard {
            endpoint: Arc::clone(self),
        };
        if self.draining.load(Ordering::SeqCst) {
            return None;
        }
        self.tcp_total.fetch_add(1, Ordering::Relaxed);
        Some(guard)
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

    /// Records the time to response headers.
    pub(crate) fn observe_latency(&self, rtt: Duration, now: Instant) {
        let mut est = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        let current = est.decayed(now);
        let ceiling = current.max(RTT_FLOOR.as_nanos() as f64) * SAMPLE_CLIP;
        let sample = (rtt.as_nanos() as f64).min(ceiling);
        est.nanos = current * (1.0 - SAMPLE_WEIGHT) + sample * SAMPLE_WEIGHT;
        est.sampled = true;
        est.updated = now;
    }

    /// Latency estimate used by P2C, in nanoseconds, never below the floor.
    pub(crate) fn rtt_cost(&self, now: Instant) -> f64 {
        self.latency
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .decayed(now)
            .max(RTT_FLOOR.as_nanos() as f64)
    }

    /// Load factor used by P2C: requests in flight plus the one being placed.
    pub(crate) fn load_cost(&self) -> f64 {
        (self.outstanding() + 1) as f64
    }

    /// In `[SLOW_START_MIN, 1]`: the share of its full weight the endpoint has earned so far. P2C
    /// draws its candidates with this weight, so a new instance is offered a growing share of
    /// requests whatever the traffic pattern.
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
        let est = self.latency.lock().unwrap_or_else(|e| e.into_inner());
        est.sampled
            .then(|| Duration::from_nanos(est.decayed(Instant::now()) as u64))
    }
}

impl LatencyEstimate {
    /// The estimate decayed for the time since the last sample.
    fn decayed(&self, now: Instant) -> f64 {
        let idle = now.saturating_duration_since(self.updated).as_secs_f64();
        self.nanos * (-idle / DECAY_TAU.as_secs_f64()).exp()
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

/// Holds one open TCP connection on an endpoint, from the pick until the relayed connection has
/// closed: the count TCP balancing compares, and what [`Endpoint::wait_connections_closed`]
/// waits on.
pub struct TcpConnGuard {
    endpoint: Arc<Endpoint>,
}

impl TcpConnGuard {
    /// The endpoint this connection goes to.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }
}

impl Drop for TcpConnGuard {
    fn drop(&mut self) {
        if self.endpoint.tcp_open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.endpoint.tcp_closed.notify_waiters();
        }
    }
}
