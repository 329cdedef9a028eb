//! A rollout in progress, driven by the service loop: asks the pure policies (`shoal-rollout`)
//! what to do, carries out canary weights through the gateway's split, runs the canary analysis
//! on the split's per-side counters, and records the outcome (events, history, status).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use shoal_gateway::{ServiceStats, StatsSnapshot};
use shoal_rollout::{
    analyse, canary_instances, converge, judge, progress, Canary, Decision, Promote, SlotView,
    Step, Verdict, Window,
};
use shoal_spec::{ServiceSpec, Strategy};

use crate::instance::Revision;
use crate::reconcile::ServiceLoop;
use crate::registry::{RolloutOutcome, RolloutStatus, SplitRoute};
use crate::revisions::RevisionStatus;

/// What the loop does after a rollout's tick.
pub(crate) enum Tick {
    /// Carry out this step (the rollout goes on).
    Continue(Step),
    /// The rollout is over; the loop keeps the active revision at its count.
    Finished,
}

/// A canary's moving parts.
struct CanaryRun {
    policy: Canary,
    canary_stats: Arc<ServiceStats>,
    stable_stats: Arc<ServiceStats>,
    last_canary: StatsSnapshot,
    last_stable: StatsSnapshot,
    pin_header: http::HeaderName,
    promote: Option<Promote>,
    /// A canary instance has settled: pauses and analysis run from then on.
    live: bool,
}

/// One rollout: from the active revision to `target`.
pub(crate) struct Rollout {
    pub(crate) target: Arc<Revision>,
    from: u64,
    started: Duration,
    /// Going back (after a failure, or by request): never reverted itself.
    revert: bool,
    /// How the outcome is recorded when it completes (`None`: a revert after a failure, whose
    /// outcome was recorded when it failed).
    complete_as: Option<&'static str>,
    strategy: &'static str,
    canary: Option<CanaryRun>,
    /// Halted after failing with `auto_revert = false`.
    failed: Option<String>,
    /// Instances wanted at the last tick (for status).
    want: u32,
    /// Each slot's restarts when the rollout began: only restarts during it count.
    baseline: BTreeMap<u32, u32>,
    /// Target slots that have settled at some point during the rollout.
    settled: BTreeSet<u32>,
}

impl Rollout {
    pub(crate) fn new(
        lp: &ServiceLoop,
        target: Arc<Revision>,
        spec: &ServiceSpec,
        cause: &str,
        revert: bool,
        now: Duration,
    ) -> Self {
        let canary = match &spec.deploy.strategy {
            // A canary needs two revisions: going back, or "rolling out" the active one, is rolling.
            Strategy::Canary(c) if !revert && target.number != lp.stable.number => {
                let canary_stats = Arc::new(ServiceStats::default());
                let stable_stats = Arc::new(ServiceStats::default());
                let pin_header = http::HeaderName::from_bytes(c.pin_header.as_bytes())
                    .unwrap_or_else(|_| http::HeaderName::from_static("x-shoal-revision"));
                let run = CanaryRun {
                    policy: Canary::new(c, now),
                    last_canary: canary_stats.snapshot(),
                    last_stable: stable_stats.snapshot(),
                    canary_stats,
                    stable_stats,
                    pin_header,
                    promote: None,
                    live: false,
                };
                Some(run)
            }
            _ => None,
        };
        let rollout = Self {
            from: lp.stable.number,
            target,
            started: now,
            revert,
            complete_as: if !revert {
                Some("complete")
            } else if cause.starts_with("rollback") {
                Some("rolled_back")
            } else {
                None
            },
            strategy: if canary.is_some() {
                "canary"
            } else {
                "rolling"
            },
            canary,
            failed: None,
            want: 0,
            baseline: lp.views().iter().map(|v| (v.slot, v.restarts)).collect(),
            settled: BTreeSet::new(),
        };
        rollout.publish_split(lp, None);
        rollout
    }

    /// True while traffic is split by weight.
    pub(crate) fn is_canary(&self) -> bool {
        self.canary.is_some()
    }

    /// Says which revision this one replaces (a revert names the revision given up).
    pub(crate) fn set_from(&mut self, from: u64) {
        self.from = from;
    }

    /// The views as this rollout judges them: restarts since it began, and whether each target
    /// slot has settled during it.
    fn rebase(
        &mut self,
        views: &[SlotView],
        min_healthy: Duration,
        now: Duration,
    ) -> Vec<SlotView> {
        views
            .iter()
            .map(|v| {
                let mut v = v.clone();
                v.restarts = v
                    .restarts
                    .saturating_sub(self.baseline.get(&v.slot).copied().unwrap_or(0));
                let settled_now = v
                    .ready_since
                    .is_some_and(|since| now.saturating_sub(since) >= min_healthy);
                if v.revision == self.target.number && settled_now {
                    self.settled.insert(v.slot);
                }
                v.settled_before = self.settled.contains(&v.slot);
                v
            })
            .collect()
    }

    /// Ends a canary's traffic without promotion: weight 0 at once (pinned requests still
    /// reach it), its instances discarded by the loop, the split removed when they are gone.
    fn drop_canary(&mut self, lp: &mut ServiceLoop) {
        if self.canary.is_some() {
            self.publish_split(lp, Some(0));
            self.canary = None;
            lp.discard = Some(self.target.number);
        }
    }

    /// The revision new slots run.
    pub(crate) fn starting_revision(&self) -> Arc<Revision> {
        Arc::clone(&self.target)
    }

    /// `rolling (surge 1, unavailable 0)` / `canary 10 % → 50 %`.
    pub(crate) fn describe(&self) -> String {
        match &self.canary {
            Some(c) => {
                let weights: Vec<String> = (0..c.policy.steps())
                    .map(|i| format!("{} %", c.policy.weight_at(i)))
                    .collect();
                format!("canary {}", weights.join(" → "))
            }
            None => "rolling".to_string(),
        }
    }

    /// Puts the canary's split in the routing table, at its step's weight or `weight`.
    fn publish_split(&self, lp: &ServiceLoop, weight: Option<u32>) {
        let split = self.canary.as_ref().map(|c| SplitRoute {
            canary_revision: self.target.number,
            stable_revision: lp.stable.number,
            weight: weight.unwrap_or_else(|| c.policy.weight()),
            canary_stats: Arc::clone(&c.canary_stats),
            stable_stats: Arc::clone(&c.stable_stats),
            pin_header: c.pin_header.clone(),
        });
        lp.ctx.registry.set_split(&lp.name(), split);
    }

    /// Asks a canary to move on.
    pub(crate) fn promote(&mut self, how: Promote) -> Result<String, String> {
        match self.canary.as_mut() {
            Some(c) => {
                c.promote = Some(how);
                Ok(match how {
                    Promote::Step => format!(
                        "canary of revision {} moves on from step {}/{}",
                        self.target.number,
                        c.policy.step() + 1,
                        c.policy.steps()
                    ),
                    Promote::Full => {
                        format!("canary of revision {} promoted", self.target.number)
                    }
                })
            }
            None => Err(format!(
                "no canary in progress: revision {} rolls out with the rolling rules; nothing to promote",
                self.target.number
            )),
        }
    }

    /// Gives the rollout up (replaced by another, or rolled back by request); the target's
    /// history entry gets `status`, the outcome `result`.
    pub(crate) fn abandon(
        mut self,
        lp: &mut ServiceLoop,
        why: &str,
        status: RevisionStatus,
        result: &'static str,
    ) {
        let name = lp.name();
        self.drop_canary(lp);
        if self.target.number != lp.stable.number {
            lp.ctx.with_history(&name, |h| {
                h.pending = None;
                h.mark(self.target.number, status, why);
            });
        }
        lp.ctx
            .registry
            .set_outcome(&name, outcome(self.target.number, result, why.to_string()));
        lp.ctx.registry.event(
            &name,
            None,
            "rollout",
            format!("{name}: rollout of revision {} {why}", self.target.number),
        );
    }

    /// One look at the rollout. May finish it (complete, failed and reverted) — then the loop
    /// takes over with its active revision.
    pub(crate) fn tick(
        &mut self,
        lp: &mut ServiceLoop,
        views: &[SlotView],
        want: u32,
        now: Duration,
    ) -> Tick {
        self.want = want;
        let spec = lp.spec();
        let deploy = &spec.deploy;
        let target = self.target.number;
        let views = &self.rebase(views, deploy.min_healthy_time, now)[..];
        if self.failed.is_some() {
            // Halted: the new instances stay as they are; the active revision still follows
            // the desired count (scaling keeps working).
            let active: Vec<SlotView> = views
                .iter()
                .filter(|v| v.revision != target)
                .cloned()
                .collect();
            return Tick::Continue(converge(&active, lp.stable.number, want, deploy, now));
        }
        if self.canary.is_some() {
            return self.tick_canary(lp, views, want, now);
        }
        self.tick_rolling(lp, views, want, now)
    }

    /// The rolling rules toward `want` instances of the target (views already rebased).
    fn tick_rolling(
        &mut self,
        lp: &mut ServiceLoop,
        views: &[SlotView],
        want: u32,
        now: Duration,
    ) -> Tick {
        let spec = lp.spec();
        let deploy = &spec.deploy;
        let target = self.target.number;
        match judge(views, target, want, deploy, self.started, now) {
            Verdict::Progressing { .. } => {
                Tick::Continue(converge(views, target, want, deploy, now))
            }
            Verdict::Complete => {
                self.complete(lp);
                Tick::Finished
            }
            Verdict::Failed(why) => self.fail(lp, why, deploy.auto_revert),
        }
    }

    fn complete(&self, lp: &mut ServiceLoop) {
        let name = lp.name();
        let number = self.target.number;
        let note = match self.complete_as {
            Some("rolled_back") => format!("active again: rolled back from revision {}", self.from),
            None => format!("reverted to after revision {} failed", self.from),
            _ => "rolled out".to_string(),
        };
        lp.ctx.with_history(&name, |h| h.activate(number, note));
        lp.activate(Arc::clone(&self.target));
        if let Some(result) = self.complete_as {
            lp.ctx.registry.set_outcome(
                &name,
                outcome(
                    number,
                    result,
                    format!("every instance runs revision {number}"),
                ),
            );
        }
        lp.ctx.registry.event(
            &name,
            None,
            "rollout",
            format!(
                "{name}: revision {number} is {}; every instance runs it",
                if self.revert { "back" } else { "rolled out" }
            ),
        );
    }

    /// The rollout cannot finish: revert (a new rollout back to the active revision), or halt.
    fn fail(&mut self, lp: &mut ServiceLoop, why: String, auto_revert: bool) -> Tick {
        let name = lp.name();
        let number = self.target.number;
        self.drop_canary(lp);
        if self.revert {
            lp.ctx.registry.event(
                &name,
                None,
                "rollout_failed",
                format!(
                    "{name}: going back to revision {number} failed too: {why}; holding what runs"
                ),
            );
            lp.ctx.with_history(&name, |h| h.pending = None);
            return Tick::Finished;
        }
        lp.ctx.with_history(&name, |h| {
            h.pending = None;
            h.mark(number, RevisionStatus::Failed, why.clone());
        });
        if !auto_revert {
            lp.ctx
                .registry
                .set_outcome(&name, outcome(number, "failed", why.clone()));
            lp.ctx.registry.event(
                &name,
                None,
                "rollout_failed",
                format!("{name}: rollout of revision {number} failed: {why}; halted (auto_revert is off): run `shoal rollback {name}` or apply a fix"),
            );
            self.failed = Some(why);
            return Tick::Continue(Step::default());
        }
        lp.ctx.registry.set_outcome(
            &name,
            outcome(
                number,
                "reverted",
                format!("{why}; reverted to revision {}", lp.stable.number),
            ),
        );
        lp.ctx.registry.event(
            &name,
            None,
            "rollout_failed",
            format!(
                "{name}: rollout of revision {number} failed: {why}; reverting to revision {}",
                lp.stable.number
            ),
        );
        let stable = Arc::clone(&lp.stable);
        let spec = lp.spec();
        let mut back = Rollout::new(lp, stable, &spec, "revert", true, lp.now());
        back.from = number;
        *self = back;
        Tick::Continue(Step::default())
    }

    fn tick_canary(
        &mut self,
        lp: &mut ServiceLoop,
        views: &[SlotView],
        want: u32,
        now: Duration,
    ) -> Tick {
        let spec = lp.spec();
        let deploy = &spec.deploy;
        let name = lp.name();
        let target = self.target.number;
        let (canary_views, stable_views): (Vec<SlotView>, Vec<SlotView>) =
            views.iter().cloned().partition(|s| s.revision == target);
        let c = self.canary.as_mut().expect("a canary rollout has a canary");
        let canary_count = canary_instances(c.policy.weight(), want);
        if !c.live && canary_views.iter().any(|v| v.settled_before) {
            // Timed from when it can serve: a slow start eats neither pause nor analysis.
            c.live = true;
            c.policy.restart_clock(now);
            c.last_canary = c.canary_stats.snapshot();
            c.last_stable = c.stable_stats.snapshot();
            c.canary_stats.take_latency();
            c.stable_stats.take_latency();
        }

        // The canary's own instances must get healthy, like any rollout's.
        if let Verdict::Failed(why) = judge(
            &canary_views,
            target,
            canary_count,
            deploy,
            self.started,
            now,
        ) {
            return self.fail(lp, why, true);
        }
        if c.live && c.policy.check_due(now) {
            let check = analyse(
                &window(&c.canary_stats, &mut c.last_canary),
                &window(&c.stable_stats, &mut c.last_stable),
                c.policy.analysis(),
            );
            if let shoal_rollout::Check::Fail(why) = &check {
                lp.ctx.registry.event(
                    &name,
                    None,
                    "analysis",
                    format!("{name}: canary revision {target} failed a check: {why}"),
                );
            }
            if let Some(Decision::Abort(why)) = c.policy.record(check, now) {
                return self.fail(lp, format!("canary analysis: {why}"), true);
            }
        }
        let promote = c.promote.take();
        let decision = if c.live || promote.is_some() {
            c.policy.tick(now, promote)
        } else {
            Decision::Stay { wake: None }
        };
        match decision {
            Decision::Stay { .. } | Decision::Abort(_) => {}
            Decision::Step { index, weight } => {
                lp.ctx.registry.event(
                    &name,
                    None,
                    "canary",
                    format!(
                        "{name}: canary revision {target} at step {}/{}: {weight} % of requests",
                        index + 1,
                        c.policy.steps()
                    ),
                );
                self.publish_split(lp, None);
            }
            Decision::Promote => {
                lp.ctx.registry.event(
                    &name,
                    None,
                    "canary",
                    format!("{name}: canary revision {target} promoted; replacing revision {} with the rolling rules", lp.stable.number),
                );
                self.canary = None;
                lp.ctx.registry.set_split(&name, None);
                self.started = now;
                return self.tick_rolling(lp, views, want, now);
            }
        }
        let c = self.canary.as_ref().expect("still a canary");
        let canary_count = canary_instances(c.policy.weight(), want);
        let stable_step = converge(&stable_views, lp.stable.number, want, deploy, now);
        let canary_step = converge(&canary_views, target, canary_count, deploy, now);
        let stable = Arc::clone(&lp.stable);
        lp.start_slots(stable_step.start, &stable);
        let mut stop = stable_step.stop;
        stop.extend(canary_step.stop);
        Tick::Continue(Step {
            start: canary_step.start,
            stop,
        })
    }

    /// Status for `status` and `apply`'s progress.
    pub(crate) fn status(&self, lp: &ServiceLoop) -> RolloutStatus {
        let spec = lp.spec();
        let views = lp.views();
        let p = progress(
            &views,
            self.target.number,
            self.want,
            &spec.deploy,
            lp.now(),
        );
        let phase = if self.failed.is_some() {
            "failed"
        } else if self.revert {
            "reverting"
        } else if self.canary.is_some() {
            "canary"
        } else {
            "rolling"
        };
        let mut status = RolloutStatus {
            revision: self.target.number,
            from: self.from,
            strategy: self.strategy,
            phase,
            updated: p.updated,
            new: p.new,
            healthy: p.healthy,
            old: p.old,
            desired: p.desired,
            canary_weight: None,
            step: None,
            failures: None,
            checks: Vec::new(),
            message: String::new(),
        };
        if let Some(why) = &self.failed {
            status.message = why.clone();
        } else if let Some(c) = &self.canary {
            let policy = &c.policy;
            status.canary_weight = Some(policy.weight());
            status.step = Some((policy.step() + 1, policy.steps()));
            status.failures = Some((policy.failures(), policy.analysis().failure_limit));
            status.checks = policy.recent_checks().to_vec();
            status.message = if policy.waiting_for_promote() {
                format!("waiting for `shoal promote {}`", spec.name)
            } else {
                "pausing at this step; analysis every interval".to_string()
            };
        } else if p.updated < p.new {
            status.message = format!(
                "new instances count as updated after {} healthy",
                crate::health::fmt_duration(spec.deploy.min_healthy_time)
            );
        }
        status
    }
}

/// What one side answered since the last look.
fn window(stats: &ServiceStats, last: &mut StatsSnapshot) -> Window {
    let now = stats.snapshot();
    let delta = now.since(last);
    *last = now;
    Window {
        requests: delta.responses(),
        errors: delta.responses_5xx,
        p99: stats.take_latency().map(|l| l.p99),
    }
}

fn outcome(revision: u64, result: &'static str, message: String) -> RolloutOutcome {
    RolloutOutcome {
        revision,
        result,
        message,
        at: crate::events::now_rfc3339(),
    }
}
