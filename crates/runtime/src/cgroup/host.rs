//! Shoal's own parent cgroups, `shoal-<pid>`: finding where they can live, creating them while
//! instances need them, and removing them — ours on exit, those of dead shoal processes on
//! start.
//!
//! The parent goes directly under the root of each hierarchy when that is writable (as for root
//! on most machines), otherwise under the cgroup shoal itself is in (a delegated subtree). It
//! exists while at least one instance run may have a child in it and is removed with the last
//! one, so a shoal that ends without [`remove_own_cgroups`] rarely leaves anything behind.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::time::Duration;

use super::mounts::{is_dir, System};
use super::{kill_members_of, read, v1, v2, Cgroups};

/// Where this process's parents are, or why there are none.
static PARENTS: OnceLock<Result<Cgroups, String>> = OnceLock::new();

/// How many instance runs may have a cgroup under the parents. Creating and removing the parents
/// happens under this lock, so a parent is never removed under a starting instance.
static USERS: Mutex<usize> = Mutex::new(0);

/// How often, and how long apart, [`remove_own_cgroups`] tries to remove a busy cgroup.
const EXIT_REMOVE_ATTEMPTS: u32 = 50;
const EXIT_REMOVE_INTERVAL: Duration = Duration::from_millis(20);

/// The parents under which a new instance run creates its cgroups, created if needed; the
/// caller must [`release`] them once that run's cgroups are gone. The error is the reason limits
/// cannot be enforced on this machine.
pub(crate) fn acquire() -> Result<Cgroups, String> {
    let parents = PARENTS.get_or_init(detect).clone()?;
    let mut users = users();
    // The parents are gone after the last instance run or `remove_own_cgroups`.
    prepare(&parents)?;
    *users += 1;
    Ok(parents)
}

/// Ends a use taken with [`acquire`]; the last one removes the parents (which only works once
/// they are empty).
pub(crate) fn release() {
    let mut users = users();
    *users = users.saturating_sub(1);
    if *users == 0 {
        if let Some(Ok(parents)) = PARENTS.get() {
            let _ = parents.try_remove();
        }
    }
}

/// Logs, once per process, that limits are not enforced and why.
pub(crate) fn warn_not_enforced(reason: &str) {
    static WARNED: Once = Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            "resource limits are not enforced here ({reason}); CPU and memory are read from /proc"
        );
    });
}

/// Removes this process's cgroups: whatever instance cgroups are left and the `shoal-<pid>`
/// parents. Meant for a clean exit, after the instances were stopped: processes still in an
/// instance cgroup (an instance dropped without being stopped, say) are killed, as their shims
/// would do once shoal is gone, and it waits up to about a second for the kernel to tear them
/// down. Instances started afterwards recreate the parents.
pub fn remove_own_cgroups() {
    let Some(Ok(parents)) = PARENTS.get() else {
        return;
    };
    let _users = users();
    for dir in parents.dirs() {
        for attempt in 1..=EXIT_REMOVE_ATTEMPTS {
            kill_instances(dir);
            match remove_tree(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) if attempt == EXIT_REMOVE_ATTEMPTS => {
                    tracing::warn!(error = %e, "cannot remove shoal's cgroup");
                }
                Err(_) => std::thread::sleep(EXIT_REMOVE_INTERVAL),
            }
        }
    }
}

/// `SIGKILL`s the processes in the instance cgroups below the parent `dir`.
fn kill_instances(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            kill_members_of(&[&entry.path()]);
        }
    }
}

/// Removes the `shoal-<pid>` cgroups of shoal processes that are no longer running (ended by
/// `SIGKILL`, say) — best effort, for calling once at start. Cgroups that still hold processes
/// are left alone. A dead shoal's pid taken over by another process keeps its cgroups until
/// that process is gone too.
pub fn cleanup_stale_cgroups() {
    let Ok(system) = System::read() else {
        return;
    };
    let own = std::process::id();
    let mut bases: Vec<PathBuf> = Vec::new();
    for mount in &system.mounts {
        for base in system.bases(mount) {
            if !bases.contains(&base) {
                bases.push(base);
            }
        }
    }
    for base in bases {
        let Ok(entries) = std::fs::read_dir(&base) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix("shoal-"))
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == own || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            let dir = entry.path();
            match remove_tree(&dir) {
                Ok(()) => tracing::debug!(dir = %dir.display(), "removed a stale cgroup"),
                Err(e) => tracing::debug!(error = %e, "cannot remove a stale cgroup"),
            }
        }
    }
}

fn users() -> MutexGuard<'static, usize> {
    USERS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes the cgroup `dir` and the cgroups below it, deepest first.
fn remove_tree(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    std::fs::remove_dir(dir)
}

/// Finds the hierarchies to use and a place in them where this process may create its parents:
/// the unified hierarchy when it offers the `cpu` and `memory` controllers, otherwise the v1
/// hierarchies of `cpu`, `cpuacct` and `memory`.
fn detect() -> Result<Cgroups, String> {
    if !cfg!(target_os = "linux") {
        return Err("cgroups exist only on Linux".to_owned());
    }
    let system = System::read()?;
    let name = format!("shoal-{}", std::process::id());
    let mut problems: Vec<String> = Vec::new();

    for mount in system.v2_mounts() {
        let offered = read(&mount.mount_point, "cgroup.controllers").unwrap_or_default();
        if !v2::offers_controllers(&offered) {
            continue;
        }
        for base in system.bases(mount) {
            match try_parents(Cgroups::V2(base.join(&name))) {
                Ok(parents) => return Ok(parents),
                Err(e) => problems.push(e),
            }
        }
    }

    let v1_mounts: Vec<_> = v1::CONTROLLERS
        .iter()
        .filter_map(|c| system.v1_mount(c))
        .collect();
    if let [cpu, cpuacct, memory] = v1_mounts[..] {
        let roots = [cpu, cpuacct, memory].map(|m| m.mount_point.clone());
        let own = [cpu, cpuacct, memory]
            .map(|m| system.own_dir(m).unwrap_or_else(|| m.mount_point.clone()));
        for [cpu, cpuacct, memory] in [roots, own] {
            let parents = Cgroups::V1 {
                cpu: cpu.join(&name),
                cpuacct: cpuacct.join(&name),
                memory: memory.join(&name),
            };
            match try_parents(parents) {
                Ok(parents) => return Ok(parents),
                Err(e) if !problems.contains(&e) => problems.push(e),
                Err(_) => {}
            }
        }
    }

    if problems.is_empty() {
        Err("no cgroup hierarchy with the cpu and memory controllers is mounted".to_owned())
    } else {
        Err(problems.join("; "))
    }
}

/// Creates `parents` to see whether it works, removing what was created if not.
fn try_parents(parents: Cgroups) -> Result<Cgroups, String> {
    let existed: Vec<bool> = parents.dirs().iter().map(|d| is_dir(d)).collect();
    match prepare(&parents) {
        Ok(()) => Ok(parents),
        Err(e) => {
            for (dir, existed) in parents.dirs().into_iter().zip(existed) {
                if !existed {
                    let _ = std::fs::remove_dir(dir);
                }
            }
            Err(e)
        }
    }
}

/// Creates the parents (existing ones are fine) and, for v2, enables the controllers for the
/// instance cgroups below them.
fn prepare(parents: &Cgroups) -> Result<(), String> {
    if let Cgroups::V2(dir) = parents {
        if let Some(base) = dir.parent() {
            v2::enable_controllers(base).map_err(|e| e.to_string())?;
        }
    }
    parents.create().map_err(|e| e.to_string())?;
    if let Cgroups::V2(dir) = parents {
        v2::enable_controllers(dir).map_err(|e| e.to_string())?;
    }
    Ok(())
}
