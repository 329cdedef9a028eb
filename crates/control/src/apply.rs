//! `shoal apply`: move the running system to a new spec. The plan (`shoal-rollout::plan`) says
//! what changes; services are added and removed, in-place settings take effect at once, and a
//! changed template starts a rollout in the service's loop. Applying the same spec again changes
//! nothing; a dry run only returns the plan.

use std::sync::Arc;

use serde::Serialize;
use shoal_rollout::{plan, Change, Plan};
use shoal_spec::Spec;
use tokio::sync::oneshot;

use crate::reconcile::Command;
use crate::Controller;

/// What `apply` did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyOutcome {
    /// The changes, structured.
    pub plan: Plan,
    /// The plan as `apply` prints it.
    pub rendered: String,
    /// False for a dry run or an empty plan.
    pub applied: bool,
    /// Rollouts started, as (service, revision).
    pub rollouts: Vec<RolloutStarted>,
}

/// A rollout `apply` started.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutStarted {
    /// Service name.
    pub service: String,
    /// The revision being rolled out.
    pub revision: u64,
}

/// Why an `apply` changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ApplyRefused {
    /// Some changes can only take effect when shoal restarts.
    #[error("these changes need a restart of `shoal up`, so nothing was applied:\n{0}")]
    NeedsRestart(String),
    /// A service being added back is still draining from its removal.
    #[error(
        "{0} is still stopping after its removal; nothing was applied — apply again in a moment"
    )]
    StillStopping(String),
    /// A new or moved TCP listener's address cannot be bound.
    #[error("{0}; nothing was applied")]
    PortTaken(String),
    /// shoal is shutting down.
    #[error("shoal is shutting down")]
    Stopping,
}

impl Controller {
    /// Moves the running system to `next` (or, with `dry_run`, only says what would change).
    pub async fn apply(&self, next: Spec, dry_run: bool) -> Result<ApplyOutcome, ApplyRefused> {
        let _one_at_a_time = self.applying.lock().await;
        let running = self.running_spec();
        let plan = plan(&running, &next);
        let rendered = plan.render();
        if !plan.needs_restart.is_empty() {
            let lines: Vec<String> = plan
                .needs_restart
                .iter()
                .map(|f| format!("  {}: {} → {}", f.field, f.from, f.to))
                .collect();
            return Err(ApplyRefused::NeedsRestart(lines.join("\n")));
        }
        // A service removed by an earlier apply may still be draining; adding it back now would
        // mix its old instances with the new ones.
        let still_stopping: Vec<String> = {
            let mut retiring = self.retiring.lock().unwrap_or_else(|e| e.into_inner());
            retiring.retain(|(_, task)| !task.is_finished());
            plan.services
                .iter()
                .filter(|s| s.change == Change::Added)
                .filter(|s| retiring.iter().any(|(name, _)| *name == s.name))
                .map(|s| s.name.clone())
                .collect()
        };
        if !still_stopping.is_empty() && !dry_run {
            return Err(ApplyRefused::StillStopping(still_stopping.join(", ")));
        }
        if !dry_run {
            check_new_listeners(&running, &next)?;
        }
        if dry_run || plan.is_empty() {
            return Ok(ApplyOutcome {
                plan,
                rendered,
                applied: false,
                rollouts: Vec::new(),
            });
        }
        let mut rollouts = Vec::new();
        for service in &plan.services {
            let name = service.name.as_str();
            match &service.change {
                Change::Added => {
                    let svc = &next.services[name];
                    let stats = Arc::<shoal_gateway::TcpStats>::default();
                    if let Err(e) = self.open_tcp(svc, &stats) {
                        self.registry().event(name, None, "tcp", e.to_string());
                    }
                    self.launch_service(svc, None, stats);
                    self.registry()
                        .event(name, None, "applied", format!("{name} added by apply"));
                }
                Change::Removed => self.retire(name),
                Change::Changed { .. } => {
                    let old = &running.services[name];
                    let new = Arc::new(next.services[name].clone());
                    if let Some(revision) = self.change(old, new).await? {
                        rollouts.push(RolloutStarted {
                            service: name.to_string(),
                            revision,
                        });
                    }
                }
            }
        }
        {
            let mut history = self.ctx.history.lock().unwrap_or_else(|e| e.into_inner());
            for svc in next.services.values() {
                history.note_spec(svc);
            }
            if let Err(e) = history.save(&self.ctx.data_dir) {
                tracing::warn!(error = %e, "could not save revisions.json");
            }
        }
        *self.spec.lock().unwrap_or_else(|e| e.into_inner()) = next;
        Ok(ApplyOutcome {
            plan,
            rendered,
            applied: true,
            rollouts,
        })
    }

    /// The spec as it runs: the last applied file, with each service's launch fields those of
    /// the revision its instances run (after a rollback or a revert that is not what the file
    /// says, and applying the file again must roll it out again).
    fn running_spec(&self) -> Spec {
        let mut spec = self.spec();
        let history = self.ctx.history.lock().unwrap_or_else(|e| e.into_inner());
        for (name, svc) in spec.services.iter_mut() {
            if let Some(template) = history
                .services
                .get(name)
                .and_then(|h| h.running_template())
            {
                template.apply_to(svc);
            }
        }
        spec
    }

    /// Applies a changed service: count and bounds here, the rest in its loop.
    async fn change(
        &self,
        old: &shoal_spec::ServiceSpec,
        new: Arc<shoal_spec::ServiceSpec>,
    ) -> Result<Option<u64>, ApplyRefused> {
        let name = new.name.clone();
        let (desired_tx, commands) = {
            let services = self.services.lock().unwrap_or_else(|e| e.into_inner());
            let handle = services.get(&name).ok_or(ApplyRefused::Stopping)?;
            (handle.desired.clone(), handle.commands.clone())
        };
        if old.tcp != new.tcp {
            self.move_tcp(&new);
        }
        let current = *desired_tx.borrow();
        // An edited `desired` wins, like at startup; otherwise the count in force stays (within
        // the new bounds).
        let desired = if new.instances.desired != old.instances.desired {
            new.instances.desired
        } else {
            current.clamp(new.instances.min, new.instances.max)
        };
        self.registry().update_service(&new, desired);
        desired_tx.send_replace(desired);
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Update {
                spec: Arc::clone(&new),
                reply,
            })
            .await
            .map_err(|_| ApplyRefused::Stopping)?;
        let revision = answer.await.map_err(|_| ApplyRefused::Stopping)?;
        self.registry().event(
            &name,
            None,
            "applied",
            match revision {
                Some(n) => format!("{name} changed by apply; rolling out revision {n}"),
                None => format!("{name} changed in place by apply"),
            },
        );
        Ok(revision)
    }

    /// Moves a service's TCP listener to its new settings with the same counters: a new address
    /// is bound before the old listener closes, the same address keeps its socket, and no
    /// `tcp` any more closes it.
    fn move_tcp(&self, new: &shoal_spec::ServiceSpec) {
        let name = &new.name;
        let Some(tcp) = new.tcp else {
            self.registry().gateway().close_tcp(name);
            return;
        };
        let Some(stats) = self.registry().tcp_stats(name) else {
            return;
        };
        let message = match self.open_tcp(new, &stats) {
            Ok(()) => format!("{name}: TCP listener on {}", tcp.listen),
            Err(e) => format!("{e}; the previous listener is kept"),
        };
        self.registry().event(name, None, "tcp", message);
    }

    /// Drains and stops a service removed from the spec, then forgets it.
    fn retire(&self, name: &str) {
        let Some(handle) = self
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name)
        else {
            return;
        };
        handle.closing.send_replace(true);
        self.registry().gateway().close_tcp(name);
        self.registry().event(
            name,
            None,
            "applied",
            format!("{name} removed by apply; its instances drain and stop"),
        );
        let registry = self.registry().clone();
        let name = name.to_string();
        let name_for_list = name.clone();
        let task = tokio::spawn(async move {
            for t in handle.tasks {
                let _ = t.await;
            }
            registry.remove_service(&name);
        });
        self.retiring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name_for_list, task));
    }
}

/// Refuses the apply when a TCP listener that is new or moves cannot be bound now, so that a
/// taken port changes nothing instead of leaving a service without its listener.
fn check_new_listeners(running: &Spec, next: &Spec) -> Result<(), ApplyRefused> {
    for svc in next.services.values() {
        let Some(tcp) = svc.tcp else { continue };
        let current = running.services.get(&svc.name).and_then(|s| s.tcp);
        if current.is_some_and(|c| c.listen == tcp.listen) {
            continue;
        }
        // Another running service's listener holds it: it is released only when that change
        // is applied, which this apply would do after binding.
        let holder = running.services.values().find(|other| {
            other.name != svc.name && other.tcp.is_some_and(|t| t.listen == tcp.listen)
        });
        if let Some(holder) = holder {
            return Err(ApplyRefused::PortTaken(format!(
                "services.{}.tcp: {} is services.{}.tcp's listener now; apply the change that frees it first, then this one",
                svc.name, tcp.listen, holder.name
            )));
        }
        if let Err(e) = std::net::TcpListener::bind(tcp.listen) {
            return Err(ApplyRefused::PortTaken(format!(
                "services.{}.tcp: cannot listen on {}: {e}",
                svc.name, tcp.listen
            )));
        }
    }
    Ok(())
}
