//! One instance run's cgroups as shoal sees them: where they are, whether the limits hold, and
//! the duty to remove them once the run's processes are gone.

use std::io;
use std::path::Path;

use super::{acquire, instance_dir_name, release, warn_not_enforced, Cgroups};
use crate::resources::Usage;

/// Holds a use of shoal's parent cgroups (see [`acquire`]) from before the shim is started until
/// the run's cgroups are removed, by [`InstanceCgroups::remove`] or, failing that, on drop.
#[derive(Debug)]
pub(crate) struct InstanceCgroups {
    /// The parents the shim was told about; `None` when limits cannot be enforced here.
    parents: Option<Cgroups>,
    /// The run's cgroups, once the shim's pid is known.
    cgroups: Option<Cgroups>,
    /// Whether the shim reported no failure entering them.
    enforced: bool,
    /// Whether the use of the parents was given back (after removing the run's cgroups).
    released: bool,
}

impl InstanceCgroups {
    /// Prepares for a new run: the parent cgroups, or none (with the once-per-process warning)
    /// when limits cannot be enforced.
    pub(crate) fn acquire() -> Self {
        let parents = match acquire() {
            Ok(parents) => Some(parents),
            Err(reason) => {
                warn_not_enforced(&reason);
                None
            }
        };
        Self {
            released: parents.is_none(),
            parents,
            cgroups: None,
            enforced: false,
        }
    }

    /// The parents to pass to the shim.
    pub(crate) fn parents(&self) -> Option<&Cgroups> {
        self.parents.as_ref()
    }

    /// The shim runs with pid `shim_pid`: its cgroups are those it is about to create.
    pub(crate) fn started(&mut self, instance: &str, shim_pid: u32) {
        if let Some(parents) = &self.parents {
            self.cgroups = Some(parents.child(&instance_dir_name(instance, shim_pid)));
            self.enforced = true;
        }
    }

    /// The shim could not enter its cgroups, for `reason`.
    pub(crate) fn not_enforced(&mut self, reason: &str) {
        self.enforced = false;
        warn_not_enforced(reason);
    }

    /// Whether the run's limits are enforced by its cgroups.
    pub(crate) fn enforced(&self) -> bool {
        self.enforced
    }

    /// The cgroup directories of an enforced run; none otherwise.
    pub(crate) fn dirs(&self) -> Vec<&Path> {
        match &self.cgroups {
            Some(cgroups) if self.enforced => cgroups.dirs(),
            _ => Vec::new(),
        }
    }

    /// The run's usage from its cgroups, or `None` when they do not hold it.
    pub(crate) fn usage(&self) -> Option<io::Result<Usage>> {
        match &self.cgroups {
            Some(cgroups) if self.enforced => Some(cgroups.usage()),
            _ => None,
        }
    }

    /// Removes the run's cgroups (killing whatever is left in them) and gives the parents back.
    /// Idempotent; cancel-safe in that dropping what is left still cleans up.
    pub(crate) async fn remove(&mut self) {
        if self.released {
            return;
        }
        if let Some(cgroups) = &self.cgroups {
            if let Err(e) = cgroups.remove().await {
                tracing::warn!(error = %e, "cannot remove an instance's cgroup");
            }
        }
        self.released = true;
        release();
    }
}

impl Drop for InstanceCgroups {
    /// The instance was dropped without being waited for: its shim is killing it now. Removing
    /// the cgroups may take a moment, so it happens on a thread of its own.
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let Some(cgroups) = self.cgroups.take() else {
            release();
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("cgroup-cleanup".into())
            .spawn(move || {
                let _ = cgroups.remove_blocking();
                release();
            });
        if spawned.is_err() {
            release();
        }
    }
}
