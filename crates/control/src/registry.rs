//! The one source of truth for instances: their states, ports, pids and endpoints, plus recent
//! events. Every change republishes the gateway's routing table, so what the gateway routes to is
//! always derived from here and never tracked twice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use shoal_gateway::{ColdStart, Endpoint, Gateway, ResponseCounts, ServiceStats};
use shoal_spec::{RouteSpec, ServiceSpec};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::events::{Event, EventLog};

mod catalog;
mod publish;
mod status;

pub use catalog::{CatalogInstance, CatalogService};
pub use status::{
    InstanceStatus, RolloutOutcome, RolloutStatus, ServiceStatus, StatusReport, TcpStatus, Traffic,
};

/// Lifecycle of an instance, as shown by `status` (the contract's five states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceState {
    /// Started; has not yet passed `healthy_threshold` checks. Gets no traffic.
    Starting,
    /// Passing checks; routable.
    Healthy,
    /// Failed `unhealthy_threshold` checks; no traffic (unless the service fails open).
    Unhealthy,
    /// Leaving: out of the selector, finishing its in-flight requests.
    Draining,
    /// Not running (exited, waiting to restart, or stopped for good).
    Stopped,
}

impl InstanceState {
    /// The lower-case name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Starting => "starting",
            InstanceState::Healthy => "healthy",
            InstanceState::Unhealthy => "unhealthy",
            InstanceState::Draining => "draining",
            InstanceState::Stopped => "stopped",
        }
    }
}

/// What the registry knows of one instance.
#[derive(Clone)]
pub(crate) struct InstanceRecord {
    pub(crate) id: String,
    pub(crate) state: InstanceState,
    pub(crate) port: Option<u16>,
    pub(crate) pid: Option<u32>,
    pub(crate) revision: u64,
    pub(crate) restarts: u32,
    pub(crate) started_at: Option<Instant>,
    pub(crate) last_exit: Option<String>,
    /// Why its last failing health check failed, while unhealthy.
    pub(crate) health_output: Option<String>,
    /// Present while a process runs; routable in `Healthy` (and `Unhealthy` when failing open).
    pub(crate) endpoint: Option<Arc<Endpoint>>,
    /// When it last became healthy (autoscaling leaves warming instances out of averages).
    pub(crate) ready_since: Option<Instant>,
    /// CPU utilisation over the last second, percent of `resources.cpu`.
    pub(crate) cpu_percent: Option<f64>,
    /// Memory in use.
    pub(crate) memory_bytes: Option<u64>,
}

/// Per-instance figures the autoscaler reads.
#[derive(Debug, Clone)]
pub(crate) struct InstanceMetrics {
    pub(crate) state: InstanceState,
    pub(crate) ready_since: Option<Instant>,
    pub(crate) cpu_percent: Option<f64>,
    pub(crate) memory_bytes: Option<u64>,
}

/// What the registry knows of one service.
pub(crate) struct ServiceRecord {
    pub(crate) min: u32,
    pub(crate) max: u32,
    pub(crate) desired: u32,
    pub(crate) route: Option<RouteSpec>,
    pub(crate) instances: BTreeMap<u32, InstanceRecord>,
    pub(crate) fail_open: bool,
    /// The gateway's traffic counters for this service.
    pub(crate) stats: Arc<ServiceStats>,
    /// Set for services that may scale to zero: requests wait for the first instance.
    pub(crate) cold_start: Option<ColdStart>,
    /// The gateway's view of the last second.
    pub(crate) traffic: Traffic,
    pub(crate) autoscaled: bool,
    /// The revision the service runs (or rolls out from).
    pub(crate) revision: u64,
    /// Set while a canary shares the traffic by weight.
    pub(crate) split: Option<SplitRoute>,
    /// The rollout in progress, as status shows it.
    pub(crate) rollout: Option<RolloutStatus>,
    /// How the last rollout ended.
    pub(crate) last_rollout: Option<RolloutOutcome>,
    /// The last few outcomes, newest last (a follower finds its rollout's even after another).
    pub(crate) recent_rollouts: std::collections::VecDeque<RolloutOutcome>,
    /// The last 15 minutes, one sample per tick (dashboard charts).
    pub(crate) trend: crate::trend::Trend,
    /// Responses relayed from each revision's instances (`/metrics`), shared with their
    /// endpoints; kept after the instances leave so the counters never go back.
    pub(crate) responses: BTreeMap<u64, Arc<ResponseCounts>>,
    /// The tier's place in the application: its TCP listener, identities, start order and
    /// catalog labels, as the spec says now.
    pub(crate) tier: Tier,
    /// `depends_on` services it is still waiting for before its first start.
    pub(crate) waiting_for: Vec<String>,
    /// The gateway's counters for its TCP listener (kept across listener changes, so they only
    /// grow).
    pub(crate) tcp_stats: Arc<shoal_gateway::TcpStats>,
    /// The TCP counters at the last trend sample, for per-second rates.
    pub(crate) last_tcp: Option<(Instant, shoal_gateway::TcpStatsSnapshot)>,
    /// Autoscaler decisions that raised the desired count (`/metrics`).
    pub(crate) scale_ups: u64,
    /// …and that lowered it.
    pub(crate) scale_downs: u64,
}

/// What a service is as one tier of the application (from its spec), for status, the catalog
/// and the gateway's TCP routes.
#[derive(Clone, Default)]
pub(crate) struct Tier {
    pub(crate) tcp: Option<shoal_spec::TcpSpec>,
    /// Stateful: where its identities' volumes are.
    pub(crate) volumes: Option<std::path::PathBuf>,
    pub(crate) depends_on: Vec<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) meta: BTreeMap<String, String>,
}

impl Tier {
    fn of(spec: &ServiceSpec) -> Self {
        Tier {
            tcp: spec.tcp,
            volumes: spec.stateful.as_ref().map(|s| s.volumes.clone()),
            depends_on: spec.depends_on.clone(),
            tags: spec.tags.clone(),
            meta: spec.meta.clone(),
        }
    }
}

/// Revisions whose response counts are kept once none of their instances is left: enough for
/// any scrape to see their last increments, bounded however many rollouts a service goes through.
const IDLE_REVISION_COUNTS_KEPT: usize = 8;

/// Rollout outcomes kept per service for status.
const RECENT_ROLLOUTS: usize = 8;

/// How the gateway splits a service's traffic during a canary.
#[derive(Clone)]
pub(crate) struct SplitRoute {
    pub(crate) canary_revision: u64,
    pub(crate) stable_revision: u64,
    /// Percent.
    pub(crate) weight: u32,
    pub(crate) canary_stats: Arc<ServiceStats>,
    pub(crate) stable_stats: Arc<ServiceStats>,
    pub(crate) pin_header: http::HeaderName,
}

/// Registry facts about one slot, for the rollout policy.
#[derive(Debug, Clone)]
pub(crate) struct SlotFacts {
    pub(crate) id: String,
    pub(crate) ready_since: Option<Instant>,
    /// Routable now (healthy, or unhealthy while the service fails open).
    pub(crate) serving: bool,
    pub(crate) restarts: u32,
    pub(crate) last_exit: Option<String>,
}

struct Inner {
    services: BTreeMap<String, ServiceRecord>,
    events: EventLog,
}

/// Shared registry; cheap to clone.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
    gateway: Arc<Gateway>,
    /// Bumped on every event, so followers (`events -f`, `up`'s console) can wait for news.
    changed: watch::Sender<u64>,
}

impl Registry {
    /// A registry that publishes routes to `gateway`.
    pub fn new(gateway: Arc<Gateway>) -> Self {
        let (changed, _) = watch::channel(0);
        Self {
            inner: Arc::new(Mutex::new(Inner {
                services: BTreeMap::new(),
                events: EventLog::default(),
            })),
            gateway,
            changed,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The gateway this registry routes for.
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Declares a service (at startup).
    pub(crate) fn add_service(
        &self,
        spec: &ServiceSpec,
        desired: u32,
        revision: u64,
        tcp_stats: Arc<shoal_gateway::TcpStats>,
    ) -> Arc<ServiceStats> {
        let stats = Arc::new(ServiceStats::default());
        self.lock().services.insert(
            spec.name.clone(),
            ServiceRecord {
                min: spec.instances.min,
                max: spec.instances.max,
                desired,
                route: spec.route.clone(),
                instances: BTreeMap::new(),
                fail_open: false,
                stats: Arc::clone(&stats),
                cold_start: cold_start(spec),
                traffic: Traffic::default(),
                autoscaled: spec.autoscale.is_some(),
                revision,
                split: None,
                rollout: None,
                last_rollout: None,
                recent_rollouts: std::collections::VecDeque::new(),
                trend: crate::trend::Trend::default(),
                responses: BTreeMap::new(),
                tier: Tier::of(spec),
                waiting_for: Vec::new(),
                tcp_stats,
                last_tcp: None,
                scale_ups: 0,
                scale_downs: 0,
            },
        );
        self.publish();
        stats
    }

    /// Applies a changed spec's in-place settings (bounds, route, scaling) and the desired count.
    pub(crate) fn update_service(&self, spec: &ServiceSpec, desired: u32) {
        if let Some(svc) = self.lock().services.get_mut(&spec.name) {
            svc.min = spec.instances.min;
            svc.max = spec.instances.max;
            svc.desired = desired;
            svc.route = spec.route.clone();
            svc.cold_start = cold_start(spec);
            svc.autoscaled = spec.autoscale.is_some();
            svc.tier = Tier::of(spec);
        }
        self.publish();
    }

    /// The counters a service's TCP listener counts in.
    pub(crate) fn tcp_stats(&self, service: &str) -> Option<Arc<shoal_gateway::TcpStats>> {
        self.lock()
            .services
            .get(service)
            .map(|s| Arc::clone(&s.tcp_stats))
    }

    /// Whether a service that others `depends_on` lets them start: it has a healthy instance,
    /// or it is scaled to zero. A service the registry does not know yet is still being set up
    /// (services register one by one), so it is waited for.
    pub(crate) fn dependency_met(&self, service: &str) -> bool {
        self.lock().services.get(service).is_some_and(|s| {
            s.desired == 0
                || s.instances
                    .values()
                    .any(|r| r.state == InstanceState::Healthy)
        })
    }

    /// Records which dependencies a service waits for; true when that changed.
    pub(crate) fn set_waiting(&self, service: &str, waiting: Vec<String>) -> bool {
        match self.lock().services.get_mut(service) {
            Some(svc) if svc.waiting_for != waiting => {
                svc.waiting_for = waiting;
                true
            }
            _ => false,
        }
    }

    /// Forgets a service whose instances have all stopped.
    pub(crate) fn remove_service(&self, service: &str) {
        self.lock().services.remove(service);
        self.publish();
        // An event, so followers (blocking catalog queries among them) see it go.
        self.event(
            service,
            None,
            "removed",
            format!("{service} has stopped and is removed"),
        );
    }

    /// Sets (or clears) the canary split of a service's traffic.
    pub(crate) fn set_split(&self, service: &str, split: Option<SplitRoute>) {
        if let Some(svc) = self.lock().services.get_mut(service) {
            svc.split = split;
        }
        self.publish();
    }

    /// Records the service's revision and rollout for status.
    pub(crate) fn set_rollout(&self, service: &str, revision: u64, rollout: Option<RolloutStatus>) {
        if let Some(svc) = self.lock().services.get_mut(service) {
            svc.revision = revision;
            svc.rollout = rollout;
        }
    }

    /// Records how a rollout ended.
    pub(crate) fn set_outcome(&self, service: &str, outcome: RolloutOutcome) {
        if let Some(svc) = self.lock().services.get_mut(service) {
            if svc.recent_rollouts.len() >= RECENT_ROLLOUTS {
                svc.recent_rollouts.pop_front();
            }
            svc.recent_rollouts.push_back(outcome.clone());
            svc.last_rollout = Some(outcome);
        }
    }

    /// What the rollout policy needs of each slot.
    pub(crate) fn slot_facts(&self, service: &str) -> BTreeMap<u32, SlotFacts> {
        self.lock()
            .services
            .get(service)
            .map_or_else(BTreeMap::new, |s| {
                s.instances
                    .iter()
                    .map(|(n, r)| {
                        let facts = SlotFacts {
                            id: r.id.clone(),
                            ready_since: if r.state == InstanceState::Healthy {
                                r.ready_since
                            } else {
                                None
                            },
                            serving: r.state == InstanceState::Healthy
                                || (s.fail_open && r.state == InstanceState::Unhealthy),
                            restarts: r.restarts,
                            last_exit: r.last_exit.clone(),
                        };
                        (*n, facts)
                    })
                    .collect()
            })
    }

    /// Records an event and wakes followers. Also logged, so `shoal up` shows it.
    pub fn event(
        &self,
        service: &str,
        instance: Option<&str>,
        kind: &'static str,
        message: String,
    ) {
        let event = {
            let mut inner = self.lock();
            if let Some(svc) = inner.services.get_mut(service) {
                match kind {
                    "scale_up" => svc.scale_ups += 1,
                    "scale_down" => svc.scale_downs += 1,
                    _ => {}
                }
            }
            inner.events.push(service, instance, kind, message)
        };
        tracing::debug!(target: "shoal::event", service = %event.service, kind = event.kind, "{}", event.message);
        self.changed.send_modify(|n| *n = event.seq);
    }

    /// Events after `since`, at most `limit`.
    pub fn events_since(&self, since: u64, limit: usize) -> Vec<Event> {
        self.lock().events.since(since, limit)
    }

    /// A receiver that changes whenever an event is recorded.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Changes one instance's record (creating it if new) and republishes routes.
    pub(crate) fn update_instance(
        &self,
        service: &str,
        slot: u32,
        f: impl FnOnce(&mut InstanceRecord),
    ) {
        {
            let mut inner = self.lock();
            let Some(svc) = inner.services.get_mut(service) else {
                return;
            };
            let rec = svc.instances.entry(slot).or_insert_with(|| InstanceRecord {
                id: format!("{service}-{slot}"),
                state: InstanceState::Starting,
                port: None,
                pid: None,
                revision: 1,
                restarts: 0,
                started_at: None,
                last_exit: None,
                health_output: None,
                endpoint: None,
                ready_since: None,
                cpu_percent: None,
                memory_bytes: None,
            });
            f(rec);
            // Before the endpoint is published: its responses count for its revision.
            if let Some(endpoint) = &rec.endpoint {
                if endpoint.response_counts().is_none() {
                    let revision = rec.revision;
                    let counts = svc.responses.entry(revision).or_default();
                    endpoint.count_responses_in(Arc::clone(counts));
                    forget_idle_revisions(svc);
                }
            }
        }
        self.publish();
    }

    /// Runs `f` on every service's record under the registry's lock, for `/metrics` (which
    /// copies what it needs and renders after the lock is released).
    pub(crate) fn with_services<T>(
        &self,
        f: impl FnOnce(&BTreeMap<String, ServiceRecord>) -> T,
    ) -> T {
        f(&self.lock().services)
    }

    /// Stores a service's traffic of the last second.
    pub(crate) fn record_traffic(&self, service: &str, traffic: Traffic) {
        if let Some(s) = self.lock().services.get_mut(service) {
            s.traffic = traffic;
            let count =
                |f: fn(&InstanceRecord) -> bool| s.instances.values().filter(|r| f(r)).count();
            let sample = crate::trend::Sample {
                t: crate::trend::unix_millis(),
                rps: traffic.rps,
                p95: traffic.p95_ms,
                p99: traffic.p99_ms,
                healthy: count(|r| r.state == InstanceState::Healthy),
                total: count(|r| r.state != InstanceState::Stopped),
                desired: s.desired,
                tcp: s.tier.tcp.map(|_| {
                    let now = (Instant::now(), s.tcp_stats.snapshot());
                    let before = s.last_tcp.take();
                    let sample = crate::trend::TcpSample::between(
                        &now.1,
                        before
                            .as_ref()
                            .map(|(at, b)| (b, now.0.duration_since(*at).as_secs_f64())),
                    );
                    s.last_tcp = Some(now);
                    sample
                }),
            };
            s.trend.push(sample);
        }
    }

    /// Each service's last 15 minutes, oldest sample first.
    pub fn trends(&self) -> BTreeMap<String, Vec<crate::trend::Sample>> {
        self.lock()
            .services
            .iter()
            .map(|(name, s)| (name.clone(), s.trend.samples()))
            .collect()
    }

    /// Stores an instance's latest CPU and memory readings (routing is unaffected, so nothing is
    /// republished).
    pub(crate) fn record_usage(
        &self,
        service: &str,
        slot: u32,
        cpu_percent: Option<f64>,
        memory: u64,
    ) {
        if let Some(r) = self
            .lock()
            .services
            .get_mut(service)
            .and_then(|s| s.instances.get_mut(&slot))
        {
            r.cpu_percent = cpu_percent;
            r.memory_bytes = Some(memory);
        }
    }

    /// Forgets an instance for good (after scale-in or shutdown).
    pub(crate) fn remove_instance(&self, service: &str, slot: u32) {
        if let Some(svc) = self.lock().services.get_mut(service) {
            svc.instances.remove(&slot);
        }
        self.publish();
    }

    /// Requests in flight and TCP connections open through the gateway to a service's instances
    /// right now, read together under one lock (the observe loop samples both).
    pub(crate) fn load(&self, service: &str) -> (usize, usize) {
        self.lock().services.get(service).map_or((0, 0), |s| {
            s.instances
                .values()
                .filter_map(|r| r.endpoint.as_ref())
                .fold((0, 0), |(inflight, open), e| {
                    (inflight + e.outstanding(), open + e.open_connections())
                })
        })
    }

    /// What the autoscaler needs of each instance.
    pub(crate) fn instance_metrics(&self, service: &str) -> Vec<InstanceMetrics> {
        self.lock()
            .services
            .get(service)
            .map_or_else(Vec::new, |s| {
                s.instances
                    .values()
                    .map(|r| InstanceMetrics {
                        state: r.state,
                        ready_since: r.ready_since,
                        cpu_percent: r.cpu_percent,
                        memory_bytes: r.memory_bytes,
                    })
                    .collect()
            })
    }

    /// `(min, max, desired)` of a service.
    pub fn bounds(&self, service: &str) -> Option<(u32, u32, u32)> {
        self.lock()
            .services
            .get(service)
            .map(|s| (s.min, s.max, s.desired))
    }

    /// Sets the desired count (already validated against min..max).
    pub(crate) fn set_desired(&self, service: &str, desired: u32) {
        if let Some(svc) = self.lock().services.get_mut(service) {
            svc.desired = desired;
        }
    }
}

/// Drops the response counts of the oldest revisions that no instance runs any more, beyond
/// [`IDLE_REVISION_COUNTS_KEPT`].
fn forget_idle_revisions(svc: &mut ServiceRecord) {
    let idle: Vec<u64> = svc
        .responses
        .keys()
        .copied()
        .filter(|rev| !svc.instances.values().any(|r| r.revision == *rev))
        .collect();
    for rev in idle
        .iter()
        .take(idle.len().saturating_sub(IDLE_REVISION_COUNTS_KEPT))
    {
        svc.responses.remove(rev);
    }
}

/// Services that may scale to zero hold requests while their first instance starts.
fn cold_start(spec: &ServiceSpec) -> Option<ColdStart> {
    spec.autoscale
        .as_ref()
        .filter(|_| spec.instances.min == 0)
        .map(|a| ColdStart {
            timeout: a.cold_start_timeout,
            queue_limit: a.cold_start_queue,
        })
}
