//! shoal's control plane: the registry of instances, one reconciler per service, the health
//! checker, and the admin API. It talks to the data plane only by publishing routing tables.

mod admin;
mod apply;
mod catalog;
mod driver;
mod events;
mod health;
mod instance;
#[cfg(test)]
mod loop_tests;
mod metrics;
mod observe;
mod persist;
mod promql;
mod reconcile;
mod registry;
mod revisions;
mod rollout_run;
mod stream;
mod token;
mod trend;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use shoal_gateway::Gateway;
use shoal_runtime::ShimCommand;
use shoal_spec::{ServiceSpec, Spec};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use admin::{router as admin_router, AdminState};
pub use apply::{ApplyOutcome, ApplyRefused};
pub use events::{now_rfc3339, Event};
pub use health::{fmt_duration, probe, Probe};
pub use persist::SavedState;
pub use registry::{
    CatalogInstance, CatalogService, InstanceState, InstanceStatus, Registry, RolloutOutcome,
    RolloutStatus, ServiceStatus, StatusReport, TcpStatus, Traffic,
};
pub use revisions::{RevisionRecord, RevisionStatus, ServiceHistory};
pub use shoal_rollout::Promote;
pub use token::{load_or_create as load_or_create_token, token_matches, token_path};
pub use trend::Sample;

use reconcile::{Command, ServiceLoop};
use revisions::History;

/// What every slot task needs.
pub(crate) struct Context {
    pub(crate) registry: Registry,
    /// What runs instances (processes under the shim, or a fake in tests).
    pub(crate) driver: Arc<dyn driver::Driver>,
    pub(crate) log_dir: PathBuf,
    pub(crate) data_dir: PathBuf,
    pub(crate) history: Mutex<History>,
    /// `SHOAL_GATEWAY` for every instance: the gateway's HTTP URL, as a client here reaches it.
    pub(crate) gateway_url: String,
}

impl Context {
    /// Changes one service's revision history and saves it.
    pub(crate) fn with_history<T>(
        &self,
        service: &str,
        f: impl FnOnce(&mut revisions::ServiceHistory) -> T,
    ) -> T {
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let out = f(history.services.entry(service.to_string()).or_default());
        if let Err(e) = history.save(&self.data_dir) {
            tracing::warn!(error = %e, "could not save revisions.json; history will not survive a restart");
        }
        out
    }

    /// A copy of one service's history.
    pub(crate) fn history_of(&self, service: &str) -> revisions::ServiceHistory {
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        history.services.get(service).cloned().unwrap_or_default()
    }
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
    /// No revision by that number in the service's history.
    #[error(
        "{service} has no revision {revision} (known: {known}; see `shoal history {service}`)"
    )]
    UnknownRevision {
        /// Service name.
        service: String,
        /// The revision asked for.
        revision: u64,
        /// The revisions kept.
        known: String,
    },
    /// The operation does not apply now (e.g. promote without a canary); the message says why.
    #[error("{0}")]
    Refused(String),
    /// shoal is shutting down.
    #[error("shoal is shutting down")]
    Stopping,
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

/// One running service: the channels into its loops.
struct ServiceHandle {
    desired: watch::Sender<u32>,
    commands: mpsc::Sender<Command>,
    closing: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Runs every service of a spec and answers control operations.
pub struct Controller {
    spec: Mutex<Spec>,
    ctx: Arc<Context>,
    services: Mutex<BTreeMap<String, ServiceHandle>>,
    /// Tasks of services removed by `apply`, still draining.
    retiring: Mutex<Vec<(String, JoinHandle<()>)>>,
    saved: Mutex<SavedState>,
    /// Serialises `apply`s.
    applying: tokio::sync::Mutex<()>,
}

impl Controller {
    /// Starts a reconciler for each service, running instances as processes under `shim`. The
    /// data dir (logs, state) must be writable.
    pub fn start(spec: Spec, gateway: Arc<Gateway>, shim: ShimCommand) -> std::io::Result<Self> {
        Self::start_with(spec, gateway, Arc::new(driver::ProcessDriver { shim }))
    }

    /// [`Controller::start`] with any driver (a fake one in tests).
    pub(crate) fn start_with(
        spec: Spec,
        gateway: Arc<Gateway>,
        driver: Arc<dyn driver::Driver>,
    ) -> std::io::Result<Self> {
        let data_dir = spec.admin.data_dir.clone();
        let log_dir = data_dir.join("logs");
        std::fs::create_dir_all(&log_dir)?;
        let saved = SavedState::load(&data_dir);
        let history = History::load(&data_dir);
        let registry = Registry::new(gateway);
        let ctx = Arc::new(Context {
            registry,
            driver,
            log_dir,
            data_dir,
            history: Mutex::new(history),
            gateway_url: format!(
                "http://{}",
                shoal_spec::connect_address(spec.gateway.listen)
            ),
        });
        let controller = Self {
            spec: Mutex::new(spec.clone()),
            ctx,
            services: Mutex::new(BTreeMap::new()),
            retiring: Mutex::new(Vec::new()),
            saved: Mutex::new(saved),
            applying: tokio::sync::Mutex::new(()),
        };
        // Every listener first: a port in use fails the start before any instance runs.
        let mut stats = BTreeMap::new();
        for svc in spec.services.values() {
            let counters = Arc::<shoal_gateway::TcpStats>::default();
            controller.open_tcp(svc, &counters)?;
            stats.insert(svc.name.clone(), counters);
        }
        for svc in spec.services.values() {
            controller.launch_service(svc, None, Arc::clone(&stats[&svc.name]));
        }
        Ok(controller)
    }

    /// Opens, moves or re-sets the gateway's TCP listener of a service with `tcp`; its counters
    /// carry over. A listener already on the same address keeps its socket and only takes the
    /// new settings; one on another address is replaced once the new one is bound.
    pub(crate) fn open_tcp(
        &self,
        svc: &ServiceSpec,
        stats: &Arc<shoal_gateway::TcpStats>,
    ) -> std::io::Result<()> {
        let Some(tcp) = svc.tcp else {
            return Ok(());
        };
        let connect_timeout = self
            .spec
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gateway
            .connect_timeout;
        let settings = shoal_gateway::TcpSettings {
            connect_timeout,
            idle_timeout: tcp.idle_timeout,
            max_connections: tcp.max_connections as usize,
            drain_quiet: tcp.drain_quiet,
        };
        self.ctx
            .registry
            .gateway()
            .listen_tcp(&svc.name, tcp.listen, settings, Arc::clone(stats))
            .map(|_| ())
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "cannot listen on {} (services.{}.tcp): {e}",
                        tcp.listen, svc.name
                    ),
                )
            })
    }

    /// Starts the loops of one service. `desired` overrides the count (else the saved one or the
    /// spec's); `tcp_stats` are the counters its TCP listener (if any) counts in.
    fn launch_service(
        &self,
        svc: &ServiceSpec,
        desired: Option<u32>,
        tcp_stats: Arc<shoal_gateway::TcpStats>,
    ) {
        let ctx = &self.ctx;
        let count = desired.unwrap_or_else(|| {
            let saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
            match saved.desired.get(&svc.name) {
                Some(s) if s.spec_desired == svc.instances.desired => {
                    s.desired.clamp(svc.instances.min, svc.instances.max)
                }
                _ => svc.instances.desired,
            }
        });
        // The revision to start with, and how its instances start: after a rollback that is not
        // what the spec file says.
        let (revision, template, resume) = {
            let mut history = ctx.history.lock().unwrap_or_else(|e| e.into_inner());
            let (n, pending) = history.startup_revision(svc);
            if let Err(e) = history.save(&ctx.data_dir) {
                tracing::warn!(error = %e, "could not save revisions.json");
            }
            let of = |n: u64| {
                history.services[&svc.name]
                    .get(n)
                    .map(|r| r.template.clone())
            };
            let template = of(n).unwrap_or_else(|| revisions::Template::of(svc));
            let resume = pending.and_then(|p| {
                of(p).map(|template| instance::Revision {
                    number: p,
                    template,
                })
            });
            (n, template, resume)
        };
        let stats = ctx.registry.add_service(svc, count, revision, tcp_stats);
        let (desired_tx, desired_rx) = watch::channel(count);
        let (closing, closing_rx) = watch::channel(false);
        let (config, _) = watch::channel(Arc::new(svc.clone()));
        let (commands, commands_rx) = mpsc::channel(16);
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(observe::run(
            Arc::clone(ctx),
            config.subscribe(),
            stats,
            desired_tx.clone(),
            closing_rx.clone(),
        )));
        let mut service_loop = ServiceLoop::new(
            Arc::clone(ctx),
            config,
            instance::Revision {
                number: revision,
                template,
            },
        );
        service_loop.resume = resume.map(Arc::new);
        tasks.push(tokio::spawn(service_loop.run(
            desired_rx,
            commands_rx,
            closing_rx,
        )));
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                svc.name.clone(),
                ServiceHandle {
                    desired: desired_tx,
                    commands,
                    closing,
                    tasks,
                },
            );
    }

    /// The registry (status, events).
    pub fn registry(&self) -> &Registry {
        &self.ctx.registry
    }

    /// The spec being run (as last applied).
    pub fn spec(&self) -> Spec {
        self.spec.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn unknown(&self, name: &str) -> ControlError {
        ControlError::UnknownService {
            name: name.to_string(),
            known: self
                .services
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned()
                .collect(),
        }
    }

    /// Something from a service's handle (the lock is released before any error is built).
    fn handle<T>(
        &self,
        service: &str,
        f: impl FnOnce(&ServiceHandle) -> T,
    ) -> Result<T, ControlError> {
        let found = self
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(service)
            .map(f);
        found.ok_or_else(|| self.unknown(service))
    }

    /// Sends a command to a service's loop and waits for its answer.
    async fn ask<T>(
        &self,
        service: &str,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, ControlError> {
        let sender = self.handle(service, |h| h.commands.clone())?;
        let (tx, rx) = oneshot::channel();
        sender
            .send(make(tx))
            .await
            .map_err(|_| ControlError::Stopping)?;
        rx.await.map_err(|_| ControlError::Stopping)
    }

    /// Moves a canary on (one step, or all the way).
    pub async fn promote(&self, service: &str, how: Promote) -> Result<String, ControlError> {
        self.ask(service, |reply| Command::Promote { how, reply })
            .await?
    }

    /// Abandons a rollout in progress, or goes back to a revision (the previous one by default).
    pub async fn rollback(&self, service: &str, to: Option<u64>) -> Result<String, ControlError> {
        self.ask(service, |reply| Command::Rollback { to, reply })
            .await?
    }

    /// A service's revisions, oldest first.
    pub fn history(&self, service: &str) -> Result<ServiceHistory, ControlError> {
        self.handle(service, |_| ())?;
        Ok(self.ctx.history_of(service))
    }

    /// Sets a service's desired count within its bounds; remembered across restarts.
    pub fn scale(&self, service: &str, target: ScaleTarget) -> Result<ScaleOutcome, ControlError> {
        let tx = self.handle(service, |h| h.desired.clone())?;
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
        let Some(spec_desired) = self
            .spec
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .services
            .get(service)
            .map(|s| s.instances.desired)
        else {
            return;
        };
        let mut saved = self.saved.lock().unwrap_or_else(|e| e.into_inner());
        saved.desired.insert(
            service.to_string(),
            persist::SavedDesired {
                spec_desired,
                desired,
            },
        );
        if let Err(e) = saved.save(&self.ctx.data_dir) {
            tracing::warn!(error = %e, "could not save state.json; the new count will not survive a restart");
        }
    }

    /// Drains and stops every instance, then returns: dependents before what they depend on
    /// (`depends_on` in reverse, so frontends drain before the database goes), services with no
    /// order between them in parallel.
    pub async fn shutdown(&self) {
        let mut services =
            std::mem::take(&mut *self.services.lock().unwrap_or_else(|e| e.into_inner()));
        let retiring: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.retiring.lock().unwrap_or_else(|e| e.into_inner()))
                .into_iter()
                .map(|(_, task)| task)
                .collect();
        let depends_on: BTreeMap<String, Vec<String>> = self
            .spec()
            .services
            .values()
            .map(|s| (s.name.clone(), s.depends_on.clone()))
            .collect();
        for wave in shutdown_waves(&depends_on, services.keys().cloned().collect()) {
            let mut tasks = Vec::new();
            for name in wave {
                // Its listener closes when it starts to stop, not before: a dependent that
                // is still draining may need new connections to it.
                self.ctx.registry.gateway().close_tcp(&name);
                if let Some(handle) = services.remove(&name) {
                    handle.closing.send_replace(true);
                    tasks.extend(handle.tasks);
                }
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        for t in retiring {
            let _ = t.await;
        }
    }
}

/// The order services stop in: each wave holds the services that nothing still running depends
/// on. A cycle (which the spec refuses) would end in one last wave rather than never stopping.
fn shutdown_waves(
    depends_on: &BTreeMap<String, Vec<String>>,
    mut running: std::collections::BTreeSet<String>,
) -> Vec<Vec<String>> {
    let mut waves = Vec::new();
    while !running.is_empty() {
        let needed = |name: &String| {
            running.iter().any(|other| {
                depends_on
                    .get(other)
                    .is_some_and(|deps| deps.contains(name))
            })
        };
        let mut wave: Vec<String> = running.iter().filter(|n| !needed(n)).cloned().collect();
        if wave.is_empty() {
            wave = running.iter().cloned().collect();
        }
        for name in &wave {
            running.remove(name);
        }
        waves.push(wave);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::shutdown_waves;
    use std::collections::BTreeMap;

    #[test]
    fn dependents_stop_first() {
        let deps = BTreeMap::from([
            ("web".to_string(), vec!["api".to_string()]),
            (
                "api".to_string(),
                vec!["db".to_string(), "cache".to_string()],
            ),
            ("db".to_string(), vec![]),
            ("cache".to_string(), vec![]),
            ("batch".to_string(), vec!["db".to_string()]),
        ]);
        let running = deps.keys().cloned().collect();
        assert_eq!(
            shutdown_waves(&deps, running),
            [vec!["batch", "web"], vec!["api"], vec!["cache", "db"]]
        );
        let only_db = ["db".to_string()].into_iter().collect();
        assert_eq!(shutdown_waves(&deps, only_db), [vec!["db"]]);
    }
}
