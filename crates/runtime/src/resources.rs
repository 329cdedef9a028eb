//! Resource limits of an instance and readings of what it uses.

use std::time::Duration;

/// The limits one instance runs under: like a container's CPU and memory limits.
///
/// They are enforced with a cgroup per instance where the operating system allows it (see
/// [`crate::RunningProcess::limits_enforced`]); elsewhere the instance runs without them and only
/// its usage is measured.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Resources {
    /// CPU time per wall-clock time, in cores (0.5 = half a core), enforced as a CFS quota: the
    /// instance's processes together may run 50 ms of every 100 ms. `None` = no limit. Also the
    /// base of CPU utilisation ([`cpu_percent`]).
    pub cpu_limit: Option<f64>,
    /// Memory in bytes. Beyond it the kernel reclaims the instance's caches and then kills its
    /// largest process with `SIGKILL`, as it does in a container. No swap is granted on top.
    /// `None` = no limit.
    pub memory_limit: Option<u64>,
}

/// What an instance's processes use, read at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// Cumulative CPU time (user + system) of the instance's processes since it started, in
    /// seconds. Turn two readings into a utilisation with [`cpu_percent`].
    pub cpu_seconds: f64,
    /// The memory the instance's processes hold now, in bytes: from its cgroup, the working set
    /// as the kubelet reports it (usage minus inactive file cache, which the kernel reclaims
    /// first); from `/proc`, the sum of the processes' resident set sizes.
    pub memory_bytes: u64,
}

/// CPU utilisation between two readings, in percent of `cpu_limit` cores: 100 means the instance
/// used all of its limit.
///
/// `prev` and `now` are `(cpu_seconds, at)` pairs, `at` being when the reading was taken on any
/// monotonic clock (for example the time elapsed since shoal started). A zero or negative
/// interval or limit, and a counter that went backwards (the instance restarted), give 0.
pub fn cpu_percent(prev: (f64, Duration), now: (f64, Duration), cpu_limit: f64) -> f64 {
    let (prev_cpu, prev_at) = prev;
    let (now_cpu, now_at) = now;
    let Some(elapsed) = now_at.checked_sub(prev_at) else {
        return 0.0;
    };
    let elapsed = elapsed.as_secs_f64();
    let used = now_cpu - prev_cpu;
    if elapsed <= 0.0 || cpu_limit <= 0.0 || !cpu_limit.is_finite() || used.is_nan() || used <= 0.0
    {
        return 0.0;
    }
    100.0 * used / elapsed / cpu_limit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn percent_is_relative_to_the_limit() {
        // Half a core used over two seconds: 100 % of a 0.5 limit, 50 % of one core.
        assert_eq!(cpu_percent((1.0, at(1000)), (2.0, at(3000)), 0.5), 100.0);
        assert_eq!(cpu_percent((1.0, at(1000)), (2.0, at(3000)), 1.0), 50.0);
        assert_eq!(cpu_percent((0.0, at(0)), (3.0, at(1000)), 2.0), 150.0);
    }

    #[test]
    fn degenerate_inputs_give_zero() {
        assert_eq!(cpu_percent((1.0, at(1000)), (2.0, at(1000)), 1.0), 0.0);
        assert_eq!(cpu_percent((1.0, at(2000)), (2.0, at(1000)), 1.0), 0.0);
        assert_eq!(cpu_percent((5.0, at(0)), (1.0, at(1000)), 1.0), 0.0);
        assert_eq!(cpu_percent((1.0, at(0)), (2.0, at(1000)), 0.0), 0.0);
        assert_eq!(cpu_percent((1.0, at(0)), (f64::NAN, at(1000)), 1.0), 0.0);
    }
}
