//! shoal's control plane: the registry of instances, one reconciler per service, the health
//! checker, and the admin API. It talks to the data plane only by publishing routing tables.

mod admin;
mod events;
mod health;
mod instance;
mod observe;
mod persist;
mod reconcile;
mod registry;
mod token;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use shoal_gateway::Gateway;
use shoal_runtime::ShimCommand;
use shoal_spec::Spec;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use admin::{router as admin_router, AdminState};
pub use events::{now_rfc3339, Event};
pub use health::{fmt_duration, probe, Probe};
pub use persist::SavedState;
pub use registry::{InstanceState, InstanceStatus, Registry, ServiceStatus, StatusReport, Traffic};
pub use token::{load_or_create as load_or_create_token, token_matches, token_path};

/// What every slot task needs.
pub(crate) struct Context {
    pub(crate) registry: Registry,
    pub(crate) shim: ShimCommand,
    pub(crate) log_dir: PathBuf,
}

/// A change of instance count asked for by `scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleTarget {
    /// An absolute count.
    To(u32),
    /// Relative to the current desired count.
    By(i64),
}

/// Why a control operation was refused. Nothing changed when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No service by that name.
    #[error("no service named {name:?} (services: {})", known.join(", "))]
    UnknownService {
        /// The name asked for.
        name: String,
        /// Services that exist.
        known: Vec<String>,
    },
    /// The count is outside the service's `instances = { min, max }`.
    #[error("cannot scale {service} to {requested}: allowed range is {min}..={max} (instances.min/max in the spec)")]
    OutOfRange {
        /// Service name.
        service: String,
        /// The count that was asked for.
        requested: i64,
        /// Lower bound.
        min: u32,
        /// Upper bound.
        max: u32,
    },
}

/// The result of a successful `scale`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScaleOutcome {
    /// Service name.
    pub service: String,
    /// Desired count before.
    pub from: u32,
    /// Desired count now.
    pub to: u32,
}

/// Runs every service of a spec and answers control operations.
pub struct Controller {
    spec: Spec,
    ctx: Arc<Context>,
    desired: BTreeMap<String, watch::Sender<u32>>,
    shutdown: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    saved: std::sync::Mutex<SavedState>,
}

impl Controller {
    /// Starts a reconciler for each service. The data dir (logs, state) must be writable.
    pub fn start(spec: Spec, gateway: Arc<Gateway>, shim: ShimCommand) -> std::io::Result<Self> {
        let data_dir = spec.admin.data_dir.clone();
        let log_dir = data_dir.join("logs");
        std::fs::create_dir_all(&log_dir)?;
        let saved = SavedState::load(&data_dir);
        let registry = Registry::new(gateway);
        let ctx = Arc::new(Context {
            registry,
            shim,
            log_dir,
        });
        let (shutdown, _) = watch::channel(false);
        let mut desired = BTreeMap::new();
        let mut tasks = Vec::new();
        for (name, svc) in &spec.services {
            let count = match saved.desired.get(name) {
                Some(s) if s.spec_desired == svc.instances.desired => {
                    s.desired.clamp(svc.instances.min, svc.instances.max)
                }
                _ => svc.instances.desired,
            };
            let stats = ctx.registry.add_service(svc, count);
            let (tx, rx) = watch::channel(count);
            tasks.push(tokio::spawn(observe::run(
                Arc::clone(&ctx),
                Arc::new(svc.clone()),
                stats,
                tx.clone(),
                shutdown.subscribe(),
            )));
            desired.insert(name.clone(), tx);
            tasks.push(tokio::spawn(reconcile::reconcile_service(
                Arc::clone(&ctx),
                Arc::new(svc.clone()),
                rx,
                shutdown.subscribe(),
            )));
        }
        Ok(Self {
            spec,
            ctx,
            desired,
            shutdown,
            tasks: std::sync::Mutex::new(tasks),
            saved: std::sync::Mutex::new(saved),
        })
    }

    /// The registry (status, events).
    pub fn registry(&self) -> &Registry {
        &self.ctx.registry
    }

    /// The spec being run.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Sets a service's desired count within its bounds; remembered across restarts.
    pub fn scale(&self, service: &str, target: ScaleTarget) -> Result<ScaleOutcome, ControlError> {
        let tx = self
            .desired
            .get(service)
            .ok_or_else(|| ControlError::UnknownService {
                name: service.to_string(),
                known: self.desired.keys().cloned().collect(),
            })?;
        let (min, max, from) = self
            .ctx
            .registry
            .bounds(service)
            .expect("every desired sender has a registry entry");
        let requested = match target {
            ScaleTarget::To(n) => i64::from(n),
            ScaleTarget::By(d) => i64::from(from) + d,
        };
        if requested < i64::from(min) || requested > i64::from(max) {
            return Err(ControlError::OutOfRange {
                service: service.to_string(),
                requested,
                min,
                max,
            });
        }
        let to = requested as u32;
        self.ctx.registry.set_desired(service, to);
        tx.send_replace(to);
        if from != to {
            self.ctx.registry.event(
                service,
                None,
                "scaled",
                format!("{service} scaled from {from} to {to} by request"),
            );
        }
        self.remember(service, to);
        Ok(ScaleOutcome {
            service: service.to_string(),
            from,
            to,
        })
    }

    fn remember(&self, service: &str, desired: u32) {
        let spec_desired = self.spec.services[service].instances.desired;
        let mut saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
        saved.desired.insert(
            service.to_string(),
            persist::SavedDesired {
                spec_desired,
                desired,
            },
        );
        if let Err(e) = saved.save(&self.spec.admin.data_dir) {
            tracing::warn!(error = %e, "could not save state.json; the new count will not survive a restart");
        }
    }

    /// Drains and stops every instance (in parallel), then returns.
    pub async fn shutdown(&self) {
        self.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            let _ = t.await;
        }
    }
}
