//! A container's CPU and memory use, from the engine's stats endpoint, in the same shape as a
//! process's ([`shoal_runtime::Usage`]), so autoscaling on `cpu` and the views read containers
//! and processes alike.

use bollard::models::{ContainerMemoryStats, ContainerStatsResponse};
use bollard::query_parameters::StatsOptions;
use futures_util::StreamExt;
use shoal_runtime::Usage;

use crate::container::ContainerId;
use crate::error::EngineError;
use crate::Engine;

impl Engine {
    /// What the container uses now: cumulative CPU seconds since it started and its working set.
    /// Two readings give a utilisation with [`shoal_runtime::cpu_percent`].
    ///
    /// One reading, not the engine's stream: `one-shot` skips the engine's second sample (which
    /// would make each reading take a second or more), since shoal computes rates itself.
    pub async fn usage(&self, id: &ContainerId) -> Result<Usage, EngineError> {
        let options = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut readings = self.docker().stats(id.as_str(), Some(options));
        match readings.next().await {
            Some(Ok(stats)) => Ok(usage_of(&stats)),
            Some(Err(e)) => Err(EngineError::on_container(
                id.as_str(),
                "reading a container's usage",
                e,
            )),
            // The engine closed the answer without a reading: nothing used that it could tell.
            None => Ok(Usage::default()),
        }
    }
}

/// The [`Usage`] in one stats answer. A stopped container's answer is empty: zeros.
pub(crate) fn usage_of(stats: &ContainerStatsResponse) -> Usage {
    let cpu_ns = stats
        .cpu_stats
        .as_ref()
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage)
        .unwrap_or(0);
    Usage {
        cpu_seconds: cpu_ns as f64 / 1e9,
        memory_bytes: stats.memory_stats.as_ref().map_or(0, working_set),
    }
}

/// Memory in use minus the inactive file cache the kernel reclaims first: the working set, as
/// the kubelet and `docker stats` report it, and as shoal reads a process's cgroup. The cache's
/// key is `total_inactive_file` under cgroup v1 and `inactive_file` under v2.
fn working_set(memory: &ContainerMemoryStats) -> u64 {
    let usage = memory.usage.unwrap_or(0);
    let inactive = memory.stats.as_ref().and_then(|s| {
        s.get("total_inactive_file")
            .or_else(|| s.get("inactive_file"))
            .copied()
    });
    usage.saturating_sub(inactive.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bollard::models::{ContainerCpuStats, ContainerCpuUsage};

    use super::*;

    fn stats(cpu_ns: u64, usage: u64, cache: (&str, u64)) -> ContainerStatsResponse {
        ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(cpu_ns),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(usage),
                stats: Some(HashMap::from([(cache.0.to_owned(), cache.1)])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_is_in_seconds_and_memory_is_the_working_set() {
        let v1 = usage_of(&stats(
            2_500_000_000,
            10_000,
            ("total_inactive_file", 4_000),
        ));
        assert_eq!(v1.cpu_seconds, 2.5);
        assert_eq!(v1.memory_bytes, 6_000);
        let v2 = usage_of(&stats(0, 10_000, ("inactive_file", 12_000)));
        assert_eq!(v2.memory_bytes, 0);
    }

    #[test]
    fn an_empty_answer_reads_as_zero() {
        assert_eq!(
            usage_of(&ContainerStatsResponse::default()),
            Usage::default()
        );
    }
}
