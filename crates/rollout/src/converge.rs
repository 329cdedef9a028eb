//! Moving a service's instances toward a target revision and count: which instances of the target
//! to start and which others to stop, never above `desired + max_surge` instances and never below
//! `desired - max_unavailable` available ones (Nomad's `update` meanings), and whether the rollout
//! has completed or failed (`min_healthy_time`, `healthy_deadline`, `progress_deadline`).
//!
//! The same function keeps a service at its count when nothing is rolling out: then every
//! instance already runs the target, and only the count can differ.

use std::time::Duration;

use shoal_spec::DeploySpec;

/// One running slot, as the policy sees it. Times are on the caller's clock (any fixed epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct SlotView {
    /// Slot number (`web-3` is slot 3).
    pub slot: u32,
    /// Instance id, for messages.
    pub id: String,
    /// The revision the slot runs.
    pub revision: u64,
    /// When the slot was created (its first process started).
    pub created: Duration,
    /// Healthy since then; `None` while not healthy.
    pub ready_since: Option<Duration>,
    /// Gets traffic now: healthy, or unhealthy while the service fails open (then it is all the
    /// service has, and stopping it would fail every request).
    pub serving: bool,
    /// Has been healthy for `min_healthy_time` at some point during this rollout. Like Nomad,
    /// an instance counted healthy for the rollout is not held to `healthy_deadline` again.
    pub settled_before: bool,
    /// Times its process ended and was started again during this rollout.
    pub restarts: u32,
    /// How its last process ended, if it ended.
    pub last_exit: Option<String>,
}

impl SlotView {
    /// Healthy for at least `min_healthy_time`: counts as available (and, for the target, updated).
    fn settled(&self, min_healthy_time: Duration, now: Duration) -> bool {
        self.ready_since
            .is_some_and(|since| now.saturating_sub(since) >= min_healthy_time)
    }
}

/// What to do now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Step {
    /// New slots of the target revision to start.
    pub start: u32,
    /// Slots to drain and stop, least useful first.
    pub stop: Vec<u32>,
}

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// Instances of the target revision healthy for `min_healthy_time`.
    pub updated: u32,
    /// Instances of the target revision (any state).
    pub new: u32,
    /// Instances of the target revision that are healthy now.
    pub healthy: u32,
    /// Instances of other revisions still running.
    pub old: u32,
    /// Instances wanted.
    pub desired: u32,
}

/// The rollout's outcome so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Still moving; look again at `wake` at the latest (a timer matures then).
    Progressing {
        /// Time until the next timer matures, if any.
        wake: Option<Duration>,
    },
    /// Every instance runs the target, healthy for `min_healthy_time`.
    Complete,
    /// It cannot finish; the reason says why in words.
    Failed(String),
}

/// The next step toward `want` settled instances of `target`, given the `slots` that run now
/// (slots already leaving are left out by the caller).
pub fn converge(
    slots: &[SlotView],
    target: u64,
    want: u32,
    deploy: &DeploySpec,
    now: Duration,
) -> Step {
    let want = want as usize;
    let settled = |s: &SlotView| s.settled(deploy.min_healthy_time, now);
    let (mut new, mut old): (Vec<&SlotView>, Vec<&SlotView>) =
        slots.iter().partition(|s| s.revision == target);
    // Least useful first: not serving, then not settled, then the highest number (ids stay
    // compact).
    let usefulness = |s: &&SlotView| (s.serving, settled(s), std::cmp::Reverse(s.slot));
    new.sort_by_key(usefulness);
    old.sort_by_key(usefulness);
    if deploy.ordered {
        // Identities (stateful): a scale-in removes the highest, whatever their state, so the
        // ones that stay are always 1..=want (StatefulSet order); a rollout replaces the highest
        // first, after any that serve nothing.
        new.sort_by_key(|s| std::cmp::Reverse(s.slot));
        old.sort_by_key(|s| (s.serving, std::cmp::Reverse(s.slot)));
    }

    let mut stop = Vec::new();
    // Surplus instances of the target (scale-in): no availability rule holds back a wanted change.
    let surplus = new.len().saturating_sub(want);
    stop.extend(new.drain(..surplus).map(|s| s.slot));

    // Old instances that serve nothing can go at once.
    let idle_old = old.iter().take_while(|s| !s.serving).count();
    stop.extend(old.drain(..idle_old).map(|s| s.slot));

    // Healthy old instances go only while enough others stay available.
    let floor = want.saturating_sub(deploy.max_unavailable as usize);
    let available = new.iter().filter(|s| settled(s)).count() + old.len();
    let removable = available.saturating_sub(floor).min(old.len());
    stop.extend(old.drain(..removable).map(|s| s.slot));

    // Start target instances while below the surge ceiling.
    let active = new.len() + old.len();
    let ceiling = want + deploy.max_surge as usize;
    let needed = want.saturating_sub(new.len());
    let start = needed.min(ceiling.saturating_sub(active));
    Step {
        start: start as u32,
        stop,
    }
}

/// Counts for progress output.
pub fn progress(
    slots: &[SlotView],
    target: u64,
    want: u32,
    deploy: &DeploySpec,
    now: Duration,
) -> Progress {
    let new: Vec<&SlotView> = slots.iter().filter(|s| s.revision == target).collect();
    Progress {
        updated: new
            .iter()
            .filter(|s| s.settled(deploy.min_healthy_time, now))
            .count() as u32,
        new: new.len() as u32,
        healthy: new.iter().filter(|s| s.ready_since.is_some()).count() as u32,
        old: (slots.len() - new.len()) as u32,
        desired: want,
    }
}

/// Judges a rollout to `target` that began at `started`: complete, failed (and why), or still
/// progressing (and when a timer matures). A target instance that crashes, or that is not settled
/// `healthy_deadline` after it was created, fails the rollout; so does no instance settling for
/// `progress_deadline` (counted from the start, the last instance that settled, or the newest
/// instance still settling).
pub fn judge(
    slots: &[SlotView],
    target: u64,
    want: u32,
    deploy: &DeploySpec,
    started: Duration,
    now: Duration,
) -> Verdict {
    let min_healthy = deploy.min_healthy_time;
    let new: Vec<&SlotView> = slots.iter().filter(|s| s.revision == target).collect();
    if let Some(crashed) = new.iter().find(|s| s.restarts > 0 && !s.settled_before) {
        let how = crashed
            .last_exit
            .as_deref()
            .map_or_else(String::new, |e| format!(": {e}"));
        return Verdict::Failed(format!(
            "{} (revision {target}) stopped running{how}",
            crashed.id
        ));
    }
    let mut last_progress = started;
    let mut wake: Option<Duration> = None;
    let mut soonest = |at: Duration| {
        let d = at.saturating_sub(now);
        wake = Some(wake.map_or(d, |w: Duration| w.min(d)));
    };
    for s in &new {
        match s.ready_since {
            Some(since) if s.settled(min_healthy, now) => {
                last_progress = last_progress.max(since + min_healthy);
            }
            // Counted once; a later wobble is the health checker's business, not the rollout's.
            _ if s.settled_before => {}
            ready => {
                // A newly started instance is progress too (a canary that grows after waiting
                // long for `promote` must not fail at once).
                last_progress = last_progress.max(s.created);
                let deadline = s.created + deploy.healthy_deadline;
                if now >= deadline {
                    return Verdict::Failed(format!(
                        "{} (revision {target}) was not healthy for {} within healthy_deadline {}",
                        s.id,
                        human(min_healthy),
                        human(deploy.healthy_deadline)
                    ));
                }
                soonest(deadline);
                if let Some(since) = ready {
                    soonest(since + min_healthy);
                }
            }
        }
    }
    let all_settled = new.len() == slots.len()
        && new.len() == want as usize
        && new.iter().all(|s| s.settled(min_healthy, now));
    if all_settled {
        return Verdict::Complete;
    }
    let deadline = last_progress + deploy.progress_deadline;
    if now >= deadline {
        return Verdict::Failed(format!(
            "no instance of revision {target} became healthy for {} within progress_deadline {}",
            human(min_healthy),
            human(deploy.progress_deadline)
        ));
    }
    soonest(deadline);
    Verdict::Progressing { wake }
}

/// `1m30s`, `2s`, `250ms`: short and exact for the spec's own durations.
fn human(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.is_zero() {
        return format!("{}ms", d.as_millis());
    }
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
#[path = "converge_tests.rs"]
mod tests;
