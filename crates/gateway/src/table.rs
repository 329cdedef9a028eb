//! The routing table: an immutable snapshot published by the control plane and read lock-free by
//! every request and every accepted TCP connection (Pingora's `LoadBalancer` swapped with
//! `arc-swap`).

use std::sync::Arc;

use tokio::time::Instant;

use crate::endpoint::{Endpoint, InflightGuard, TcpConnGuard};
use crate::ServiceStats;

/// Latency estimates closer than this ratio count as equal. Instances on one machine share its
/// CPUs and differ mostly by noise; without this, sequential traffic would stick to whichever
/// instance measured a little faster. Only latency gets this band: in-flight counts always decide
/// exactly, so balancing under concurrency keeps P2C's full strength.
const LATENCY_TIE_RATIO: f64 = 2.0;

/// Every route, most specific first, and the TCP services' instances.
#[derive(Default)]
pub struct RoutingTable {
    routes: Vec<Route>,
    tcp: Vec<TcpRoute>,
}

/// The instances a TCP service's listener relays new connections to. Published with the HTTP
/// routes on every change, holding the same endpoints: a service may have both an HTTP route and
/// a TCP listener, pointing at its instances' one port, and both see one load, drain and
/// ejection state per instance.
pub struct TcpRoute {
    /// Service name: the listener started by `Gateway::listen_tcp` looks its route up by it.
    pub service: Arc<str>,
    /// The service's healthy (or, failing open, running) instances.
    pub backends: Arc<Backends>,
}

/// Requests matching `host` (if any) and `prefix` go to `backends`, or, while a canary runs, to
/// `backends` or `split.canary` (see [`Split`]).
pub struct Route {
    /// Lower-case host without port; `None` matches any host.
    pub host: Option<String>,
    /// Path prefix, matched at segment boundaries.
    pub prefix: String,
    /// Service name, for metrics and error messages.
    pub service: Arc<str>,
    /// The instances currently serving this route (the stable revision's while `split` is set).
    pub backends: Arc<Backends>,
    /// The service's traffic counters (shared across tables). While a canary runs they count
    /// both sides, so autoscaling and status keep seeing the whole service.
    pub stats: Arc<ServiceStats>,
    /// When set and the service has no instance, requests wait for one instead of failing. With
    /// a split, only when neither side has an instance.
    pub cold_start: Option<ColdStart>,
    /// A canary sharing this route's traffic with `backends`. `None` sends everything to
    /// `backends`, at no extra cost per request.
    pub split: Option<Arc<Split>>,
}

/// Two revisions of one service sharing its traffic by weight (a canary, like an Istio
/// VirtualService with two weighted subsets). The control plane publishes a new one to change
/// the weight; each request chooses its side once, and its retries stay on that side so a
/// canary's failures are never hidden by (or blamed on) the stable revision. An unpinned request
/// whose side has no instance goes to the other side, so a canary whose instances are not
/// healthy yet never causes errors.
pub struct Split {
    /// The canary revision's routable instances. `Route::backends` holds the stable revision's.
    pub canary: Arc<Backends>,
    /// Share of requests sent to the canary, 0.0..=1.0 (clamped; NaN counts as 0). A weight
    /// rather than a count of instances, so the canary's share does not depend on how many
    /// instances each revision runs.
    pub canary_weight: f64,
    /// Traffic answered by the canary side (each request also counts in `Route::stats`), so the
    /// control plane can compare the canary against the stable revision.
    pub canary_stats: Arc<ServiceStats>,
    /// Traffic answered by the stable side (each request also counts in `Route::stats`), the
    /// baseline the canary is judged against.
    pub stable_stats: Arc<ServiceStats>,
    /// Lower-case header name that pins a request, so a tester (or a client that must stay on
    /// one revision) can bypass the weighted choice: value `canary` or the canary's revision
    /// number → canary side; `stable` or the stable revision number → stable side
    /// (case-insensitive, trimmed). Any other value, or no header: weighted choice. The header
    /// is forwarded unchanged (instances may want it).
    pub pin_header: http::HeaderName,
    /// The canary's revision number, accepted as a pin value.
    pub canary_revision: u64,
    /// The stable revision's number, accepted as a pin value.
    pub stable_revision: u64,
}

/// How requests to a service scaled to zero are held while its first instance starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColdStart {
    /// Longest a request waits; then 503 with `Retry-After`.
    pub timeout: std::time::Duration,
    /// Requests held at once; more get 503 at once.
    pub queue_limit: usize,
}

/// The routable instances of one service at one moment.
pub struct Backends {
    endpoints: Vec<Arc<Endpoint>>,
    /// True when none of the service's instances is healthy and shoal routes to all running ones
    /// anyway (failing open, like an ALB), rather than answering 503 to everyone.
    pub fail_open: bool,
}

impl RoutingTable {
    /// Builds a table; routes are ordered so the first match is the right one: host-specific
    /// routes before host-agnostic ones, longer prefixes before shorter.
    pub fn new(routes: Vec<Route>) -> Self {
        Self::with_tcp(routes, Vec::new())
    }

    /// Builds a table with TCP services too (see [`RoutingTable::new`] for the HTTP routes).
    pub fn with_tcp(mut routes: Vec<Route>, tcp: Vec<TcpRoute>) -> Self {
        routes.sort_by(|a, b| {
            b.host
                .is_some()
                .cmp(&a.host.is_some())
                .then(b.prefix.len().cmp(&a.prefix.len()))
        });
        Self { routes, tcp }
    }

    /// The instances of a TCP service, if it has a route in this table. A linear scan: a spec
    /// has a handful of TCP services, and this runs once per accepted connection, not per byte.
    pub fn tcp_route(&self, service: &str) -> Option<&TcpRoute> {
        self.tcp.iter().find(|r| &*r.service == service)
    }

    /// All TCP routes, in the order published.
    pub fn tcp_routes(&self) -> &[TcpRoute] {
        &self.tcp
    }

    /// The route for a request, if any.
    pub fn route(&self, host: Option<&str>, path: &str) -> Option<&Route> {
        self.routes.iter().find(|r| {
            r.host
                .as_deref()
                .is_none_or(|h| host.is_some_and(|host| h.eq_ignore_ascii_case(host)))
                && prefix_matches(&r.prefix, path)
        })
    }

    /// All routes, most specific first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

/// The P2C duel. With the same number of requests in flight and latencies inside the tie band
/// (always so for sequential traffic), a coin toss weighted by the slow-start ramp decides, so a
/// new instance gets a share that grows with its ramp. Otherwise the lower cost wins outright:
/// latency × (in-flight + 1) ÷ ramp, with latencies inside the band counted as equal. Comparing
/// ramped costs outright in the first case would hand every sequential request to whichever
/// instance started a few milliseconds earlier.
fn cheaper<'a>(a: &'a Arc<Endpoint>, b: &'a Arc<Endpoint>, now: Instant) -> &'a Arc<Endpoint> {
    let (mut la, mut lb) = (a.rtt_cost(now), b.rtt_cost(now));
    if la.max(lb) <= la.min(lb) * LATENCY_TIE_RATIO {
        (la, lb) = (1.0, 1.0);
    }
    let (wa, wb) = (a.slow_start_factor(now), b.slow_start_factor(now));
    let (ia, ib) = (a.load_cost(), b.load_cost());
    if ia == ib && la == lb {
        return if fastrand::f64() * (wa + wb) < wa {
            a
        } else {
            b
        };
    }
    if la * ia / wa <= lb * ib / wb {
        a
    } else {
        b
    }
}

/// The P2C duel for TCP connections, which are long-lived: the load is open connections, not
/// latency (a connection's lifetime says nothing about the instance's speed). With equal counts
/// a coin toss weighted by the slow-start ramp decides; otherwise the lower (open + 1) ÷ ramp
/// wins, so a new instance takes a growing share of a burst of held-open connections.
fn fewer_connections<'a>(
    a: &'a Arc<Endpoint>,
    b: &'a Arc<Endpoint>,
    now: Instant,
) -> &'a Arc<Endpoint> {
    let (wa, wb) = (a.slow_start_factor(now), b.slow_start_factor(now));
    let (ca, cb) = (a.open_connections(), b.open_connections());
    if ca == cb {
        return if fastrand::f64() * (wa + wb) < wa {
            a
        } else {
            b
        };
    }
    if (ca + 1) as f64 / wa <= (cb + 1) as f64 / wb {
        a
    } else {
        b
    }
}

/// Two different random indices below `n` (n >= 2).
fn two_distinct(n: usize) -> (usize, usize) {
    let i = fastrand::usize(..n);
    let mut j = fastrand::usize(..n - 1);
    if j >= i {
        j += 1;
    }
    (i, j)
}

/// `/api` matches `/api`, `/api/` and `/api/x`, never `/apix`; `/` matches everything.
pub fn prefix_matches(prefix: &str, path: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/') || rest.starts_with('?'),
        None => false,
    }
}

impl Backends {
    /// Backends over `endpoints`; `fail_open` records that they are not all healthy.
    pub fn new(endpoints: Vec<Arc<Endpoint>>, fail_open: bool) -> Self {
        Self {
            endpoints,
            fail_open,
        }
    }

    /// The endpoints in this snapshot.
    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// Power of two choices: two random candidates, the cheaper one wins (see [`cheaper`]).
    /// Endpoints in `exclude` (already tried for this request), draining or passively ejected
    /// are skipped; if every endpoint is ejected, ejected ones are used rather than failing.
    pub fn pick(&self, exclude: &[Arc<Endpoint>]) -> Option<InflightGuard> {
        self.pick_by(exclude, cheaper, Endpoint::try_acquire)
    }

    /// Power of two choices for a new TCP connection, on open connections weighted by slow start
    /// (see [`fewer_connections`]), skipping what [`Backends::pick`] skips, with ejected
    /// endpoints as the last resort too. The guard holds the connection slot until it closes.
    pub fn pick_tcp(&self, exclude: &[Arc<Endpoint>]) -> Option<TcpConnGuard> {
        self.pick_by(exclude, fewer_connections, Endpoint::try_acquire_tcp)
    }

    /// P2C with `duel` choosing between two candidates and `acquire` reserving the winner.
    /// Generic rather than over function pointers, so the HTTP pick (every request) is compiled
    /// with direct, inlinable calls.
    fn pick_by<G, D, A>(&self, exclude: &[Arc<Endpoint>], duel: D, acquire: A) -> Option<G>
    where
        D: for<'e> Fn(&'e Arc<Endpoint>, &'e Arc<Endpoint>, Instant) -> &'e Arc<Endpoint>,
        A: Fn(&Arc<Endpoint>) -> Option<G>,
    {
        let now = Instant::now();
        let usable = |e: &Arc<Endpoint>, allow_ejected: bool| {
            !e.is_draining()
                && (allow_ejected || !e.is_ejected())
                && !exclude.iter().any(|x| Arc::ptr_eq(x, e))
        };
        let n = self.endpoints.len();
        // The common case, without allocating: two distinct random endpoints, both usable.
        if n >= 2 {
            for _ in 0..4 {
                let (i, j) = two_distinct(n);
                let (a, b) = (&self.endpoints[i], &self.endpoints[j]);
                if usable(a, false) && usable(b, false) {
                    if let Some(guard) = acquire(duel(a, b, now)) {
                        return Some(guard);
                    }
                }
            }
        }
        for allow_ejected in [false, true] {
            // Retry a few times: a pick can lose a race with draining.
            for _ in 0..4 {
                let candidates: Vec<&Arc<Endpoint>> = self
                    .endpoints
                    .iter()
                    .filter(|e| usable(e, allow_ejected))
                    .collect();
                let chosen = match candidates.len() {
                    0 => break,
                    1 => candidates[0],
                    n => {
                        let (i, j) = two_distinct(n);
                        duel(candidates[i], candidates[j], now)
                    }
                };
                if let Some(guard) = acquire(chosen) {
                    return Some(guard);
                }
            }
        }
        None
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::PoolConfig;
    use std::time::Duration;

    fn ep(id: &str, port: u16) -> Arc<Endpoint> {
        Endpoint::new(
            id,
            "web",
            ([127, 0, 0, 1], port).into(),
            Duration::ZERO,
            PoolConfig::default(),
        )
    }

    fn route(host: Option<&str>, prefix: &str, service: &str) -> Route {
        Route {
            host: host.map(str::to_string),
            prefix: prefix.into(),
            service: service.into(),
            backends: Arc::new(Backends::new(vec![], false)),
            stats: Arc::default(),
            cold_start: None,
            split: None,
        }
    }

    #[test]
    fn prefixes_match_at_segment_boundaries() {
        assert!(prefix_matches("/", "/anything"));
        assert!(prefix_matches("/api", "/api"));
        assert!(prefix_matches("/api", "/api/tasks"));
        assert!(prefix_matches("/api/", "/api/tasks"));
        assert!(!prefix_matches("/api", "/apix"));
        assert!(!prefix_matches("/api", "/"));
    }

    #[test]
    fn longest_prefix_and_host_win() {
        let table = RoutingTable::new(vec![
            route(None, "/", "web"),
            route(None, "/api", "api"),
            route(Some("admin.local"), "/", "admin"),
        ]);
        let svc = |h, p| table.route(h, p).map(|r| r.service.to_string());
        assert_eq!(svc(None, "/api/x").as_deref(), Some("api"));
        assert_eq!(svc(None, "/home").as_deref(), Some("web"));
        assert_eq!(svc(Some("admin.local"), "/api").as_deref(), Some("admin"));
        assert_eq!(svc(Some("other"), "/api").as_deref(), Some("api"));
    }

    #[test]
    fn no_route_without_match() {
        let table = RoutingTable::new(vec![route(None, "/api", "api")]);
        assert!(table.route(None, "/web").is_none());
    }

    #[tokio::test]
    async fn p2c_prefers_less_loaded_endpoint() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        let backends = Backends::new(vec![a.clone(), b.clone()], false);
        // Load `a` with 10 outstanding requests; every pick must then prefer `b`.
        let held: Vec<_> = (0..10).map(|_| a.try_acquire().unwrap()).collect();
        for _ in 0..50 {
            let g = backends.pick(&[]).unwrap();
            assert_eq!(&*g.endpoint().instance_id, "b");
        }
        drop(held);
        assert_eq!(a.outstanding(), 0);
    }

    #[tokio::test]
    async fn draining_and_excluded_endpoints_are_skipped() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        let backends = Backends::new(vec![a.clone(), b.clone()], false);
        a.start_draining();
        for _ in 0..20 {
            assert_eq!(&*backends.pick(&[]).unwrap().endpoint().instance_id, "b");
        }
        assert!(backends.pick(std::slice::from_ref(&b)).is_none());
    }

    #[tokio::test]
    async fn ejected_endpoints_are_used_only_as_last_resort() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        let backends = Backends::new(vec![a.clone(), b.clone()], false);
        a.eject();
        for _ in 0..20 {
            assert_eq!(&*backends.pick(&[]).unwrap().endpoint().instance_id, "b");
        }
        b.eject();
        assert!(backends.pick(&[]).is_some());
    }

    #[tokio::test]
    async fn new_endpoint_is_not_starved_by_sampled_ones() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        a.observe_latency(Duration::from_millis(3), Instant::now());
        let backends = Backends::new(vec![a, b], false);
        let to_b = (0..200)
            .filter(|_| &*backends.pick(&[]).unwrap().endpoint().instance_id == "b")
            .count();
        // Without slow start, its optimistic prior makes it preferred until samples arrive.
        assert!(to_b >= 60, "b got {to_b} of 200");
    }

    #[tokio::test]
    async fn much_slower_endpoint_loses() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        for _ in 0..30 {
            a.observe_latency(Duration::from_millis(2), Instant::now());
            b.observe_latency(Duration::from_millis(20), Instant::now());
        }
        let backends = Backends::new(vec![a, b], false);
        for _ in 0..50 {
            assert_eq!(&*backends.pick(&[]).unwrap().endpoint().instance_id, "a");
        }
    }

    #[tokio::test]
    async fn one_more_request_in_flight_decides_even_at_high_load() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        let _held_a: Vec<_> = (0..5).map(|_| a.try_acquire().unwrap()).collect();
        let _held_b: Vec<_> = (0..4).map(|_| b.try_acquire().unwrap()).collect();
        let backends = Backends::new(vec![a, b], false);
        for _ in 0..50 {
            assert_eq!(&*backends.pick(&[]).unwrap().endpoint().instance_id, "b");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn sequential_traffic_gives_a_ramping_endpoint_a_share_in_proportion() {
        let ramped = |id: &str| {
            Endpoint::new(
                id,
                "web",
                ([127, 0, 0, 1], 1).into(),
                Duration::from_secs(10),
                PoolConfig::default(),
            )
        };
        let old = ramped("old");
        tokio::time::advance(Duration::from_secs(20)).await;
        let young = ramped("young");
        tokio::time::advance(Duration::from_secs(2)).await;
        // Weights 1.0 and 0.2, nothing in flight: young gets about 0.2 / 1.2 of the picks.
        let backends = Backends::new(vec![old, young.clone()], false);
        let share = |backends: &Backends| {
            (0..3000)
                .filter(|_| &*backends.pick(&[]).unwrap().endpoint().instance_id == "young")
                .count()
        };
        let n = share(&backends);
        assert!((350..=650).contains(&n), "young got {n} of 3000");
        // Fully ramped: an even split.
        tokio::time::advance(Duration::from_secs(10)).await;
        let n = share(&backends);
        assert!((1300..=1700).contains(&n), "young got {n} of 3000");
    }

    #[tokio::test(start_paused = true)]
    async fn under_load_a_ramping_endpoint_takes_less_than_its_peers() {
        let old = Endpoint::new(
            "old",
            "web",
            ([127, 0, 0, 1], 1).into(),
            Duration::from_secs(10),
            PoolConfig::default(),
        );
        tokio::time::advance(Duration::from_secs(20)).await;
        let young = Endpoint::new(
            "young",
            "web",
            ([127, 0, 0, 1], 2).into(),
            Duration::from_secs(10),
            PoolConfig::default(),
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        let backends = Backends::new(vec![old.clone(), young.clone()], false);
        // Requests pile up (none completes): the young one holds about a fifth of old's.
        let held: Vec<_> = (0..60).map(|_| backends.pick(&[]).unwrap()).collect();
        let (o, y) = (old.outstanding(), young.outstanding());
        assert!(y * 3 < o && y > 0, "old {o}, young {y}");
        drop(held);
    }

    #[tokio::test]
    async fn tcp_picks_go_to_fewer_open_connections_and_skip_draining() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        let backends = Backends::new(vec![a.clone(), b.clone()], false);
        // HTTP load does not count for TCP: `a` is busy with requests, not connections.
        let _requests: Vec<_> = (0..10).map(|_| a.try_acquire().unwrap()).collect();
        let held: Vec<_> = (0..10).map(|_| backends.pick_tcp(&[]).unwrap()).collect();
        assert_eq!((a.open_connections(), b.open_connections()), (5, 5));
        b.start_draining();
        for _ in 0..5 {
            assert_eq!(
                &*backends.pick_tcp(&[]).unwrap().endpoint().instance_id,
                "a"
            );
        }
        assert!(backends.pick_tcp(std::slice::from_ref(&a)).is_none());
        assert!(b.try_acquire_tcp().is_none());
        assert_eq!(b.open_connections(), 5);
        drop(held);
        assert_eq!((a.open_connections(), b.open_connections()), (0, 0));
        assert_eq!(a.connections_total() + b.connections_total(), 15);
    }

    #[tokio::test]
    async fn tcp_picks_use_ejected_endpoints_only_as_last_resort() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        let backends = Backends::new(vec![a.clone(), b.clone()], false);
        a.eject();
        let held: Vec<_> = (0..5).map(|_| backends.pick_tcp(&[]).unwrap()).collect();
        assert_eq!(b.open_connections(), 5);
        b.eject();
        assert!(backends.pick_tcp(&[]).is_some());
        drop(held);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_start_ramps_new_endpoints() {
        let a = Endpoint::new(
            "a",
            "web",
            ([127, 0, 0, 1], 1).into(),
            Duration::from_secs(10),
            PoolConfig::default(),
        );
        let now = Instant::now();
        assert!((a.slow_start_factor(now) - 0.1).abs() < 1e-9);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!((a.slow_start_factor(Instant::now()) - 0.5).abs() < 1e-6);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(a.slow_start_factor(Instant::now()), 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn latency_is_an_ewma_that_decays_when_idle() {
        let a = ep("a", 1);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        assert_eq!(a.latency_estimate(), None);
        // From the 1 ms prior, each sample weighs 0.1, and counts as at most 4× the estimate.
        a.observe_latency(Duration::from_millis(3), Instant::now());
        assert!((ms(a.latency_estimate().unwrap()) - 1.2).abs() < 0.01);
        a.observe_latency(Duration::from_millis(500), Instant::now());
        assert!((ms(a.latency_estimate().unwrap()) - (1.08 + 0.48)).abs() < 0.01);
        // Persistent slowness climbs 30 % per sample until it is reached.
        for _ in 0..60 {
            a.observe_latency(Duration::from_millis(20), Instant::now());
        }
        assert!((ms(a.latency_estimate().unwrap()) - 20.0).abs() < 0.5);
        // Without samples it decays toward zero (tau = 2 s): the endpoint gets tried again.
        let before = ms(a.latency_estimate().unwrap());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!((ms(a.latency_estimate().unwrap()) - before * (-1f64).exp()).abs() < 0.01);
    }

    #[tokio::test]
    async fn one_slow_response_does_not_sideline_a_fast_instance() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        let now = Instant::now();
        for _ in 0..10 {
            a.observe_latency(Duration::from_micros(1300), now);
            b.observe_latency(Duration::from_micros(1300), now);
        }
        // b hiccups once at 30× its usual latency.
        b.observe_latency(Duration::from_micros(39_000), now);
        let backends = Backends::new(vec![a, b], false);
        let to_b = (0..200)
            .filter(|_| &*backends.pick(&[]).unwrap().endpoint().instance_id == "b")
            .count();
        assert!((60..=140).contains(&to_b), "b got {to_b} of 200");
    }

    #[tokio::test(start_paused = true)]
    async fn an_endpoint_avoided_after_a_slow_response_is_tried_again_soon() {
        let a = ep("a", 1);
        let b = ep("b", 2);
        for _ in 0..40 {
            a.observe_latency(Duration::from_millis(2), Instant::now());
            b.observe_latency(Duration::from_millis(40), Instant::now());
        }
        let backends = Backends::new(vec![a.clone(), b], false);
        let b_picked = |backends: &Backends| {
            (0..50).any(|_| &*backends.pick(&[]).unwrap().endpoint().instance_id == "b")
        };
        let serve_a_for = |secs: u32| {
            let a = a.clone();
            async move {
                for _ in 0..secs * 2 {
                    tokio::time::advance(Duration::from_millis(500)).await;
                    a.observe_latency(Duration::from_millis(2), Instant::now());
                }
            }
        };
        assert!(!b_picked(&backends));
        // `a` keeps serving fast while `b` sits idle: `b` is avoided for a while (its estimate
        // is still well above a's), then competes again (~39 ms × e^(-t/2s) nears 2 ms by ~6 s).
        serve_a_for(2).await;
        assert!(!b_picked(&backends));
        serve_a_for(6).await;
        assert!(b_picked(&backends));
    }
}
