//! The files of cgroup v2, the unified hierarchy: one directory per cgroup carries every
//! controller that its parent enabled for it in `cgroup.subtree_control`.

use std::io;
use std::path::Path;

use super::{cpu_quota_us, parse_flat_keyed, parse_number, read, write, CPU_PERIOD_US};
use crate::resources::{Resources, Usage};

/// The controllers shoal needs.
pub(super) const CONTROLLERS: [&str; 2] = ["cpu", "memory"];

/// Whether `cgroup.controllers` (the text) offers all of [`CONTROLLERS`].
pub(super) fn offers_controllers(text: &str) -> bool {
    let available: Vec<&str> = text.split_whitespace().collect();
    CONTROLLERS.iter().all(|c| available.contains(c))
}

/// Makes the controllers available to the children of `dir`. Fails with `EBUSY` when `dir`
/// holds processes itself and is not the root ("no internal processes").
pub(super) fn enable_controllers(dir: &Path) -> io::Result<()> {
    let wanted: Vec<String> = CONTROLLERS.iter().map(|c| format!("+{c}")).collect();
    let enabled = read(dir, "cgroup.subtree_control").unwrap_or_default();
    if offers_controllers(&enabled) {
        return Ok(());
    }
    write(dir, "cgroup.subtree_control", &wanted.join(" "))
}

/// `cpu.max` for a limit: `"$QUOTA $PERIOD"`, or `"max $PERIOD"` for none.
pub(super) fn cpu_max(cpu_limit: Option<f64>) -> String {
    match cpu_limit.and_then(cpu_quota_us) {
        Some(quota) => format!("{quota} {CPU_PERIOD_US}"),
        None => format!("max {CPU_PERIOD_US}"),
    }
}

/// Writes `limits` into the cgroup `dir`.
pub(super) fn set_limits(dir: &Path, limits: Resources) -> io::Result<()> {
    if limits.cpu_limit.is_some() {
        write(dir, "cpu.max", &cpu_max(limits.cpu_limit))?;
    }
    if let Some(bytes) = limits.memory_limit {
        write(dir, "memory.max", &bytes.to_string())?;
        // No swap on top of the limit; the file is missing when swap is not accounted.
        if dir.join("memory.swap.max").exists() {
            write(dir, "memory.swap.max", "0")?;
        }
    }
    Ok(())
}

/// Lifts the limits again (best effort), for a cgroup whose limits could not all be set.
pub(super) fn reset_limits(dir: &Path) {
    let _ = write(dir, "cpu.max", &cpu_max(None));
    let _ = write(dir, "memory.max", "max");
    let _ = write(dir, "memory.swap.max", "max");
}

/// CPU time from `usage_usec` in `cpu.stat` and the working set: `memory.current` less
/// `inactive_file` of `memory.stat`.
pub(super) fn usage(dir: &Path) -> io::Result<Usage> {
    let micros = parse_flat_keyed(&read(dir, "cpu.stat")?, "usage_usec").ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("no usage_usec in {}", dir.join("cpu.stat").display()),
        )
    })?;
    let current = parse_number(&read(dir, "memory.current")?, "memory.current")?;
    let inactive_file = parse_flat_keyed(&read(dir, "memory.stat")?, "inactive_file").unwrap_or(0);
    Ok(Usage {
        cpu_seconds: micros as f64 / 1e6,
        memory_bytes: current.saturating_sub(inactive_file),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_must_all_be_offered() {
        assert!(offers_controllers(
            "cpuset cpu io memory hugetlb pids rdma misc\n"
        ));
        assert!(!offers_controllers("cpuset io memory pids\n"));
        assert!(!offers_controllers(""));
        // Names are whole words: `cpuset` is not `cpu`.
        assert!(!offers_controllers("cpuset memory"));
    }

    #[test]
    fn cpu_max_lines() {
        assert_eq!(cpu_max(Some(0.5)), "50000 100000");
        assert_eq!(cpu_max(Some(2.0)), "200000 100000");
        assert_eq!(cpu_max(None), "max 100000");
        assert_eq!(cpu_max(Some(0.0)), "max 100000");
    }
}
