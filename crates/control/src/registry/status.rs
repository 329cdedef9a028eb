//! `status`: the registry's state as the admin API, the CLI, `top` and the dashboard read it.

use serde::Serialize;
use tokio::time::Instant;

use super::{InstanceState, Registry};

/// A rollout in progress, for `status` and `apply`'s progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutStatus {
    /// The revision being rolled out.
    pub revision: u64,
    /// The revision it replaces.
    pub from: u64,
    /// `rolling` or `canary`.
    pub strategy: &'static str,
    /// `rolling`, `canary`, `reverting`, `failed` (halted: `auto_revert` is off).
    pub phase: &'static str,
    /// Instances of the new revision healthy for `min_healthy_time`.
    pub updated: u32,
    /// Instances of the new revision.
    pub new: u32,
    /// Instances of the new revision that are healthy now.
    pub healthy: u32,
    /// Instances of other revisions.
    pub old: u32,
    /// Instances wanted.
    pub desired: u32,
    /// Canary: percent of requests sent to the new revision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary_weight: Option<u32>,
    /// Canary: current step, 1-based, and how many there are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<(usize, usize)>,
    /// Canary: failed checks so far, and the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<(u32, u32)>,
    /// Canary: the latest analysis results, newest last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<shoal_rollout::Check>,
    /// What it is waiting for, or why it failed.
    pub message: String,
}

/// How a rollout ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutOutcome {
    /// The revision that was rolled out.
    pub revision: u64,
    /// `complete`, `reverted` (failed, back on the previous revision), `rolled_back` (by
    /// request), `failed` (halted).
    pub result: &'static str,
    /// Why, in words.
    pub message: String,
    /// When (RFC 3339).
    pub at: String,
}

/// A service's traffic through the gateway over the last second.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Traffic {
    /// Requests per second.
    pub rps: f64,
    /// Average requests in flight.
    pub inflight: f64,
    /// Latency quantiles of the responses (time to headers), ms; absent without responses.
    pub p50_ms: Option<f64>,
    /// 95th percentile, ms.
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Share of responses that were 5xx (gateway errors included); absent without responses.
    pub error_rate: Option<f64>,
}

/// `status -o json`, as the contract states it (with a few additions).
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Every service, in name order.
    pub services: Vec<ServiceStatus>,
}

/// One service in [`StatusReport`].
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// Service name.
    pub name: String,
    /// Instances wanted now.
    pub desired: u32,
    /// Lower bound for `scale`.
    pub min: u32,
    /// Upper bound for `scale`.
    pub max: u32,
    /// `host` + path prefix, if routed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// True when no instance is healthy and the gateway routes to unhealthy ones anyway.
    pub fail_open: bool,
    /// Traffic through the gateway over the last second.
    pub traffic: Traffic,
    /// Whether an autoscaler sets `desired`.
    pub autoscaled: bool,
    /// The revision the service runs (during a rollout: the one being replaced).
    pub revision: u64,
    /// The rollout in progress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutStatus>,
    /// How the last rollout ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rollout: Option<RolloutOutcome>,
    /// The last few rollout outcomes, newest last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recent_rollouts: Vec<RolloutOutcome>,
    /// Its TCP listener and the connections through it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpStatus>,
    /// Stateful: the directory holding each identity's volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<String>,
    /// The services it starts after (and stops before).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// Of those, the ones it still waits for before its first instance starts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waiting_for: Vec<String>,
    /// Catalog tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Instances by slot.
    pub instances: Vec<InstanceStatus>,
}

/// A service's TCP listener in [`ServiceStatus`].
#[derive(Debug, Clone, Serialize)]
pub struct TcpStatus {
    /// Where clients connect.
    pub listen: String,
    /// Connections open now.
    pub open: usize,
    /// Most connections allowed at once.
    pub max_connections: u32,
    /// Connections taken in since shoal started.
    pub accepted: u64,
    /// Connections refused at the cap.
    pub refused: u64,
    /// Connections closed unserved: no instance could take them.
    pub no_instance: u64,
    /// Bytes from clients to instances.
    pub bytes_in: u64,
    /// Bytes from instances to clients.
    pub bytes_out: u64,
}

/// One instance in [`ServiceStatus`].
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    /// `<service>-<n>`.
    pub id: String,
    /// Lifecycle state.
    pub state: InstanceState,
    /// Loopback port, while running.
    pub port: Option<u16>,
    /// The program's pid, while running.
    pub pid: Option<u32>,
    /// Revision it runs.
    pub revision: u64,
    /// Restarts after crashes or failed health.
    pub restarts: u32,
    /// Seconds since its process started.
    pub uptime_secs: Option<u64>,
    /// Requests in flight through the gateway.
    pub inflight: usize,
    /// Requests sent through the gateway since it became routable.
    pub requests: u64,
    /// CPU utilisation over the last second, percent of its `resources.cpu`.
    pub cpu_percent: Option<f64>,
    /// Memory in use, bytes.
    pub memory_bytes: Option<u64>,
    /// The gateway's latency estimate for it (EWMA of time to response headers), in ms.
    pub latency_ms: Option<f64>,
    /// Passively ejected after a refused connection, until its next passing check.
    pub ejected: bool,
    /// TCP connections open to it through the gateway's listener.
    pub connections: usize,
    /// Stateful: its persistent directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<String>,
    /// How its last process ended, if it has ended before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
}

impl Registry {
    /// A snapshot for `status`.
    pub fn status(&self) -> StatusReport {
        let now = Instant::now();
        let inner = self.lock();
        StatusReport {
            services: inner
                .services
                .iter()
                .map(|(name, svc)| ServiceStatus {
                    name: name.clone(),
                    desired: svc.desired,
                    min: svc.min,
                    max: svc.max,
                    route: svc.route.as_ref().map(|r| match &r.host {
                        Some(h) => format!("{h}{}", r.path_prefix),
                        None => r.path_prefix.clone(),
                    }),
                    fail_open: svc.fail_open,
                    traffic: svc.traffic,
                    autoscaled: svc.autoscaled,
                    revision: svc.revision,
                    rollout: svc.rollout.clone(),
                    last_rollout: svc.last_rollout.clone(),
                    recent_rollouts: svc.recent_rollouts.iter().cloned().collect(),
                    tcp: svc.tier.tcp.map(|t| tcp_status(&t, &svc.tcp_stats)),
                    volumes: svc.tier.volumes.as_ref().map(|v| v.display().to_string()),
                    depends_on: svc.tier.depends_on.clone(),
                    waiting_for: svc.waiting_for.clone(),
                    tags: svc.tier.tags.clone(),
                    instances: svc
                        .instances
                        .values()
                        .map(|r| InstanceStatus {
                            id: r.id.clone(),
                            state: r.state,
                            port: r.port,
                            pid: r.pid,
                            revision: r.revision,
                            restarts: r.restarts,
                            uptime_secs: r.started_at.map(|t| now.duration_since(t).as_secs()),
                            inflight: r.endpoint.as_ref().map_or(0, |e| e.outstanding()),
                            requests: r.endpoint.as_ref().map_or(0, |e| e.requests_total()),
                            cpu_percent: r.cpu_percent.map(|c| (c * 10.0).round() / 10.0),
                            memory_bytes: r.memory_bytes,
                            latency_ms: r
                                .endpoint
                                .as_ref()
                                .and_then(|e| e.latency_estimate())
                                .map(|d| (d.as_secs_f64() * 1e5).round() / 100.0),
                            ejected: r.endpoint.as_ref().is_some_and(|e| e.is_ejected()),
                            connections: r.endpoint.as_ref().map_or(0, |e| e.open_connections()),
                            volume: svc
                                .tier
                                .volumes
                                .as_ref()
                                .map(|v| v.join(&r.id).display().to_string()),
                            last_exit: r.last_exit.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

fn tcp_status(spec: &shoal_spec::TcpSpec, stats: &shoal_gateway::TcpStats) -> TcpStatus {
    let s = stats.snapshot();
    TcpStatus {
        listen: spec.connect_address().to_string(),
        open: s.open,
        max_connections: spec.max_connections,
        accepted: s.accepted_total,
        refused: s.refused_total,
        no_instance: s.no_instance_total,
        bytes_in: s.bytes_from_clients_total,
        bytes_out: s.bytes_to_clients_total,
    }
}
