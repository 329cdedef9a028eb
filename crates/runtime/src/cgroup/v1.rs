//! The files of cgroup v1, where each controller has a hierarchy of its own (sometimes shared,
//! as in `cpu,cpuacct`): `cpu` enforces the CPU quota, `cpuacct` counts CPU time, `memory` limits
//! and counts memory.

use std::io;
use std::path::Path;

use super::{cpu_quota_us, parse_flat_keyed, parse_number, read, write, CPU_PERIOD_US};
use crate::resources::{Resources, Usage};

/// The controllers shoal needs, each in some mounted hierarchy.
pub(super) const CONTROLLERS: [&str; 3] = ["cpu", "cpuacct", "memory"];

/// Writes `limits` into the cgroups `cpu` (of the cpu hierarchy) and `memory`.
pub(super) fn set_limits(cpu: &Path, memory: &Path, limits: Resources) -> io::Result<()> {
    if let Some(quota) = limits.cpu_limit.and_then(cpu_quota_us) {
        write(cpu, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
        write(cpu, "cpu.cfs_quota_us", &quota.to_string())?;
    }
    if let Some(bytes) = limits.memory_limit {
        write(memory, "memory.limit_in_bytes", &bytes.to_string())?;
        // Memory plus swap, where swap is accounted: no swap on top of the limit. It must not be
        // below the memory limit, hence second.
        if memory.join("memory.memsw.limit_in_bytes").exists() {
            write(memory, "memory.memsw.limit_in_bytes", &bytes.to_string())?;
        }
    }
    Ok(())
}

/// Lifts the limits again (best effort), for a cgroup whose limits could not all be set.
pub(super) fn reset_limits(cpu: &Path, memory: &Path) {
    let _ = write(cpu, "cpu.cfs_quota_us", "-1");
    let _ = write(memory, "memory.memsw.limit_in_bytes", "-1");
    let _ = write(memory, "memory.limit_in_bytes", "-1");
}

/// CPU time from `cpuacct.usage` (nanoseconds) and the working set: `memory.usage_in_bytes`
/// less `total_inactive_file` of `memory.stat`.
pub(super) fn usage(cpuacct: &Path, memory: &Path) -> io::Result<Usage> {
    let nanos = parse_number(&read(cpuacct, "cpuacct.usage")?, "cpuacct.usage")?;
    let usage = parse_number(
        &read(memory, "memory.usage_in_bytes")?,
        "memory.usage_in_bytes",
    )?;
    let inactive_file =
        parse_flat_keyed(&read(memory, "memory.stat")?, "total_inactive_file").unwrap_or(0);
    Ok(Usage {
        cpu_seconds: nanos as f64 / 1e9,
        memory_bytes: usage.saturating_sub(inactive_file),
    })
}
