//! One loop per service (DESIGN principle 2): compare what should run — `desired` instances of the
//! active revision, or during a rollout the mix the rollout policy asks for — with the slots that
//! run, and take the next step: start a slot, or ask the least useful one to leave. Idempotent;
//! each slot task owns its instance, so no instance is ever acted on twice at once. Rollouts,
//! canaries, scaling and healing are all this same loop with different targets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shoal_rollout::{converge, SlotView, Step};
use shoal_spec::ServiceSpec;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::instance::{run_slot, Revision};
use crate::revisions::{RevisionStatus, Template};
use crate::rollout_run::{Rollout, Tick};
use crate::{Context, ControlError};

/// How often the loop looks again when nothing wakes it (reaping, rollout timers, analysis).
const LOOK_EVERY: Duration = Duration::from_millis(200);

/// Asks a service loop to do something; each carries a reply channel.
pub(crate) enum Command {
    /// A new spec for the service (from `apply`): in-place settings at once, a rollout if the
    /// template changed. Replies with the revision rolled out, if any.
    Update {
        spec: Arc<ServiceSpec>,
        reply: oneshot::Sender<Option<u64>>,
    },
    /// Moves a canary on.
    Promote {
        how: shoal_rollout::Promote,
        reply: oneshot::Sender<Result<String, ControlError>>,
    },
    /// Goes back to a revision (the previous one by default), or abandons a rollout in progress.
    Rollback {
        to: Option<u64>,
        reply: oneshot::Sender<Result<String, ControlError>>,
    },
}

struct Slot {
    revision: Arc<Revision>,
    /// When the slot was created, on the loop's clock.
    created: Duration,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Slot {
    fn leaving(&self) -> bool {
        *self.stop.borrow()
    }
}

/// Everything one service's loop owns.
pub(crate) struct ServiceLoop {
    pub(crate) ctx: Arc<Context>,
    pub(crate) config: watch::Sender<Arc<ServiceSpec>>,
    slots: BTreeMap<u32, Slot>,
    pub(crate) stable: Arc<Revision>,
    pub(crate) rollout: Option<Rollout>,
    /// A canary revision given up without promotion: its instances are stopped at once.
    pub(crate) discard: Option<u64>,
    /// A rollout that was in progress when shoal stopped: begun again once the active revision
    /// serves at its count (a restart never jumps straight to an unproven revision).
    pub(crate) resume: Option<Arc<Revision>>,
    /// Stateful services: the highest identity that may run now (the count being converged
    /// to). A slot number is reused only once its previous instance is gone, so two instances
    /// of one identity never run at once; a start waits for that rather than take another number.
    identities: Option<u32>,
    /// Whether every `depends_on` service has had a healthy instance (checked until it has, then
    /// never again: like Compose, the order holds at start, not forever).
    dependencies_met: bool,
    epoch: Instant,
}

impl ServiceLoop {
    /// A loop for a service whose instances run revision `stable`.
    pub(crate) fn new(
        ctx: Arc<Context>,
        config: watch::Sender<Arc<ServiceSpec>>,
        stable: Revision,
    ) -> Self {
        Self {
            ctx,
            config,
            slots: BTreeMap::new(),
            stable: Arc::new(stable),
            rollout: None,
            discard: None,
            resume: None,
            identities: None,
            dependencies_met: false,
            epoch: Instant::now(),
        }
    }

    pub(crate) fn spec(&self) -> Arc<ServiceSpec> {
        self.config.borrow().clone()
    }

    pub(crate) fn name(&self) -> String {
        self.config.borrow().name.clone()
    }

    /// The loop's clock: time since it began.
    pub(crate) fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Runs until `closing` turns true and every slot has stopped.
    pub(crate) async fn run(
        mut self,
        mut desired: watch::Receiver<u32>,
        mut commands: mpsc::Receiver<Command>,
        mut closing: watch::Receiver<bool>,
    ) {
        self.publish_status();
        loop {
            self.slots.retain(|_, s| !s.task.is_finished());
            let closing_now = *closing.borrow();
            if closing_now {
                for slot in self.slots.values() {
                    let _ = slot.stop.send(true);
                }
                if self.slots.is_empty() {
                    return;
                }
            } else {
                let want = *desired.borrow();
                self.step(want);
            }
            // Once closing, the senders may be gone (`changed` would return at once, forever):
            // only the timer paces the reaping then.
            tokio::select! {
                _ = desired.changed(), if !closing_now => {}
                _ = closing.changed(), if !closing_now => {}
                Some(command) = commands.recv(), if !closing_now => self.handle(command),
                _ = tokio::time::sleep(LOOK_EVERY) => {}
            }
        }
    }

    /// One look: advance the rollout (if any), then start and stop slots as it asks.
    fn step(&mut self, want: u32) {
        let now = self.now();
        self.discard_abandoned();
        let spec = self.spec();
        if !self.dependencies_ready(&spec) {
            self.publish_status();
            return;
        }
        let views = self.views();
        // A rollout runs at least one instance (below), so up to that many identities.
        self.identities = spec
            .stateful
            .is_some()
            .then_some(if self.rollout.is_some() {
                want.max(1)
            } else {
                want
            });
        if self.rollout.is_none() && self.resume.is_some() {
            let settled = views
                .iter()
                .filter(|v| v.revision == self.stable.number && v.ready_since.is_some())
                .count();
            if settled >= want as usize {
                let target = self.resume.take().expect("checked");
                self.begin(target, "resumed after a restart of shoal", false);
            }
        }
        let step = match self.rollout.take() {
            None => converge(&views, self.stable.number, want, &spec.deploy, now),
            // A rollout proves its revision on at least one instance, even for a service scaled
            // to zero (as Knative does for a new revision).
            Some(mut rollout) => match rollout.tick(self, &views, want.max(1), now) {
                Tick::Continue(step) => {
                    self.rollout = Some(rollout);
                    step
                }
                Tick::Finished => converge(&views, self.stable.number, want, &spec.deploy, now),
            },
        };
        self.carry_out(step);
        self.publish_status();
    }

    /// Stops the instances of a canary that ended without promotion (they run beside the
    /// desired count, so they can go at once), and removes the split — kept at weight 0 until
    /// then — once none is left.
    fn discard_abandoned(&mut self) {
        let Some(revision) = self.discard else {
            return;
        };
        let mut left = false;
        for slot in self.slots.values() {
            if slot.revision.number == revision {
                left = true;
                let _ = slot.stop.send(true);
            }
        }
        if !left {
            self.discard = None;
            if self.rollout.as_ref().is_none_or(|r| !r.is_canary()) {
                self.ctx.registry.set_split(&self.name(), None);
            }
        }
    }

    /// Starts and stops slots.
    fn carry_out(&mut self, step: Step) {
        for n in step.stop {
            if let Some(slot) = self.slots.get(&n) {
                let _ = slot.stop.send(true);
            }
        }
        if step.start == 0 {
            return;
        }
        let revision = self
            .rollout
            .as_ref()
            .map_or_else(|| Arc::clone(&self.stable), Rollout::starting_revision);
        self.start_slots(step.start, &revision);
    }

    /// Whether the service may start instances: every `depends_on` service has a healthy
    /// instance (Compose's `service_healthy`), or did once. Waiting and its end are events.
    fn dependencies_ready(&mut self, spec: &ServiceSpec) -> bool {
        if self.dependencies_met || spec.depends_on.is_empty() {
            return true;
        }
        let registry = &self.ctx.registry;
        // A dependency the registry does not know yet is still starting up (services are
        // registered one by one); the spec guarantees every name is a service of the same spec.
        // One scaled to zero (by hand or by its autoscaler) holds nothing back: it starts when
        // traffic reaches it.
        let waiting: Vec<&str> = spec
            .depends_on
            .iter()
            .filter(|d| !registry.dependency_met(d))
            .map(String::as_str)
            .collect();
        let name = &spec.name;
        if waiting.is_empty() {
            self.dependencies_met = true;
            registry.set_waiting(name, Vec::new());
            registry.event(
                name,
                None,
                "dependencies_ready",
                format!("{name}: {} healthy; starting", spec.depends_on.join(", ")),
            );
            return true;
        }
        let waiting: Vec<String> = waiting.into_iter().map(str::to_owned).collect();
        if registry.set_waiting(name, waiting.clone()) {
            registry.event(
                name,
                None,
                "waiting",
                format!(
                    "{name} waits for {} to have a healthy instance (depends_on)",
                    waiting.join(", ")
                ),
            );
        }
        false
    }

    pub(crate) fn start_slots(&mut self, count: u32, revision: &Arc<Revision>) {
        let now = self.now();
        for _ in 0..count {
            let n = (1..)
                .find(|n| !self.slots.contains_key(n))
                .expect("a free slot number");
            if self.identities.is_some_and(|limit| n > limit) {
                // Its identity's previous instance is still leaving: start it on a later look.
                return;
            }
            let (stop, stop_rx) = watch::channel(false);
            let task = tokio::spawn(run_slot(
                Arc::clone(&self.ctx),
                self.config.subscribe(),
                Arc::clone(revision),
                n,
                stop_rx,
            ));
            self.slots.insert(
                n,
                Slot {
                    revision: Arc::clone(revision),
                    created: now,
                    stop,
                    task,
                },
            );
        }
    }

    /// The slots that are not leaving (nor discarded), as the rollout policy sees them.
    /// `restarts` counts the slot's whole life here; a rollout rebases it on its own start.
    pub(crate) fn views(&self) -> Vec<SlotView> {
        let name = self.name();
        let facts = self.ctx.registry.slot_facts(&name);
        self.slots
            .iter()
            .filter(|(_, s)| !s.leaving() && Some(s.revision.number) != self.discard)
            .map(|(n, s)| {
                let f = facts.get(n);
                SlotView {
                    slot: *n,
                    id: f.map_or_else(|| format!("{name}-{n}"), |f| f.id.clone()),
                    revision: s.revision.number,
                    created: s.created,
                    ready_since: f
                        .and_then(|f| f.ready_since)
                        .map(|t| t.saturating_duration_since(self.epoch)),
                    serving: f.is_some_and(|f| f.serving),
                    settled_before: false,
                    restarts: f.map_or(0, |f| f.restarts),
                    last_exit: f.and_then(|f| f.last_exit.clone()),
                }
            })
            .collect()
    }

    fn publish_status(&self) {
        let name = self.name();
        let status = self.rollout.as_ref().map(|r| r.status(self));
        self.ctx
            .registry
            .set_rollout(&name, self.stable.number, status);
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Update { spec, reply } => {
                let started = self.update(spec);
                let _ = reply.send(started);
            }
            Command::Promote { how, reply } => {
                let _ = reply.send(match self.rollout.as_mut() {
                    Some(r) => r.promote(how).map_err(ControlError::Refused),
                    None => Err(ControlError::Refused(format!(
                        "{} has no canary in progress",
                        self.name()
                    ))),
                });
            }
            Command::Rollback { to, reply } => {
                let _ = reply.send(self.rollback(to));
            }
        }
        self.publish_status();
    }

    /// Takes a new spec: the settings slots read change at once; a new template starts a rollout.
    fn update(&mut self, spec: Arc<ServiceSpec>) -> Option<u64> {
        let template = Template::of(&spec);
        self.config.send_replace(Arc::clone(&spec));
        let current = self
            .rollout
            .as_ref()
            .map_or(&self.stable.template, |r| &r.target.template);
        if *current == template {
            return None;
        }
        let number = self.ctx.with_history(&spec.name, |h| {
            h.revision_for(&template, "applied from the spec file")
        });
        let target = Arc::new(Revision { number, template });
        self.begin(target, "apply", false).then_some(number)
    }

    /// Starts a rollout to `target`, replacing any in progress (its instances are replaced like
    /// any other old ones). False when there is nothing to roll out (every instance already runs
    /// the active revision `target`).
    pub(crate) fn begin(&mut self, target: Arc<Revision>, cause: &str, revert: bool) -> bool {
        let name = self.name();
        if let Some(previous) = self.rollout.take() {
            previous.abandon(
                self,
                &format!("superseded by a rollout of revision {}", target.number),
                RevisionStatus::Superseded,
                "superseded",
            );
        }
        if target.number == self.stable.number
            && self
                .slots
                .values()
                .all(|s| s.revision.number == target.number)
        {
            return false;
        }
        let spec = self.spec();
        let now = self.now();
        let rollout = Rollout::new(self, target, &spec, cause, revert, now);
        self.ctx.with_history(&name, |h| {
            h.pending = Some(rollout.target.number);
            h.mark(
                rollout.target.number,
                RevisionStatus::RollingOut,
                format!("rolling out ({cause})"),
            );
        });
        self.ctx.registry.event(
            &name,
            None,
            "rollout",
            format!(
                "{name}: {} revision {} (from {}, {})",
                if revert {
                    "reverting to"
                } else {
                    "rolling out"
                },
                rollout.target.number,
                self.stable.number,
                rollout.describe()
            ),
        );
        self.rollout = Some(rollout);
        true
    }

    fn rollback(&mut self, to: Option<u64>) -> Result<String, ControlError> {
        let name = self.name();
        if let Some(rollout) = self.rollout.take() {
            if to.is_none() || to == Some(self.stable.number) {
                let target = rollout.target.number;
                rollout.abandon(
                    self,
                    "rolled back by request",
                    RevisionStatus::Failed,
                    "rolled_back",
                );
                let stable = Arc::clone(&self.stable);
                // The outcome is recorded (for `target`); going back is its tail, like a revert.
                if self.begin(stable, "revert", true) {
                    if let Some(r) = self.rollout.as_mut() {
                        r.set_from(target);
                    }
                }
                return Ok(format!(
                    "{name}: rollout of revision {target} abandoned; back to revision {}",
                    self.stable.number
                ));
            }
            self.rollout = Some(rollout);
        }
        let history = self.ctx.history_of(&name);
        let number = match to {
            Some(n) => n,
            None => history.previous().ok_or_else(|| {
                ControlError::Refused(format!(
                    "{name} has no earlier revision to roll back to (see `shoal history {name}`)"
                ))
            })?,
        };
        let Some(record) = history.get(number) else {
            let known: Vec<String> = history
                .revisions
                .iter()
                .map(|r| r.number.to_string())
                .collect();
            return Err(ControlError::UnknownRevision {
                service: name,
                revision: number,
                known: known.join(", "),
            });
        };
        if number == self.stable.number && self.rollout.is_none() {
            return Ok(format!("{name} already runs revision {number}"));
        }
        let target = Arc::new(Revision {
            number,
            template: record.template.clone(),
        });
        self.begin(target, &format!("rollback to revision {number}"), true);
        Ok(format!(
            "{name}: rolling back from revision {} to revision {number}",
            self.stable.number
        ))
    }

    /// The rollout's target became the active revision.
    pub(crate) fn activate(&mut self, target: Arc<Revision>) {
        self.stable = target;
    }
}
