//! Per-instance state shared by all request handlers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::time::Instant;

use crate::config::Config;
use crate::db::Db;
use crate::failure::FailureInjector;
use crate::metrics::Metrics;

/// Shared handle passed to every handler.
pub type SharedState = Arc<AppState>;

/// Who this instance is; fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct InstanceInfo {
    /// Instance name, e.g. `web-2`.
    pub id: String,
    /// Operating-system process id.
    pub pid: u32,
    /// Port actually bound (matters when started with port 0).
    pub port: u16,
    /// Application version label.
    pub version: String,
    /// Deployment revision, if the orchestrator supplied one.
    pub revision: Option<String>,
    /// Service name, if the orchestrator supplied one.
    pub service: Option<String>,
    /// Live-instance count supplied by the orchestrator, which overrides the
    /// count derived from heartbeats.
    pub live_instances: Option<String>,
}

impl InstanceInfo {
    /// Builds the identity from configuration and the port actually bound.
    pub fn new(config: &Config, port: u16) -> Self {
        InstanceInfo {
            id: config.instance_id.clone(),
            pid: std::process::id(),
            port,
            version: config.version.clone(),
            revision: config.revision.clone(),
            service: config.service.clone(),
            live_instances: config.live_instances.clone(),
        }
    }
}

/// In-memory health switch, so a single instance can be made to fail its
/// health checks on purpose to exercise the gateway.
#[derive(Debug, Default)]
pub struct Health {
    failing: AtomicBool,
}

impl Health {
    /// Whether `/health` should currently report failure.
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Turns deliberate failure on or off.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::Relaxed);
    }
}

/// Everything handlers share within one instance.
pub struct AppState {
    /// Identity of this instance.
    pub info: InstanceInfo,
    /// When the process started serving, for uptime.
    pub started: Instant,
    /// Deliberate health-check failure switch.
    pub health: Health,
    /// Request counters.
    pub metrics: Metrics,
    /// Random failure injection.
    pub failure: FailureInjector,
    /// Shared task database.
    pub db: Db,
}

impl AppState {
    /// Assembles the state for a freshly bound instance.
    pub fn new(config: &Config, port: u16, db: Db) -> SharedState {
        Arc::new(AppState {
            info: InstanceInfo::new(config, port),
            started: Instant::now(),
            health: Health::default(),
            metrics: Metrics::default(),
            failure: FailureInjector::new(config.fail_rate),
            db,
        })
    }
}
