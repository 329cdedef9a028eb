//! What the control plane needs from whatever runs an instance: start it from a launch spec, wait
//! for it to end, read its usage, stop it with a grace period, and check its health. One small
//! trait for each side, so a slot's life (health, backoff, drain) reads the same whatever runs
//! the instance, and the service loop, rollouts and canaries can be tested with a fake under
//! paused time.
//!
//! Today's driver runs processes under shoal's shim ([`ProcessDriver`]); a container driver is
//! the next implementation.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use shoal_runtime::{ExitInfo, LaunchSpec, RunningProcess, ShimCommand, Usage};
use shoal_spec::HealthSpec;

use crate::health::Probe;

#[cfg(test)]
pub(crate) mod fake;

/// A boxed future, so the traits stay object-safe without a macro crate.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Starts instances and checks their health.
pub(crate) trait Driver: Send + Sync {
    /// Starts one instance; `Err` says why it could not start, for the event log.
    fn start<'a>(
        &'a self,
        launch: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<Box<dyn Instance>, String>>;

    /// One health check of an instance listening on `addr`, within `health.timeout`. The
    /// default checks over the network, as any instance reachable on a port is checked.
    fn probe<'a>(&'a self, health: &'a HealthSpec, addr: SocketAddr) -> BoxFuture<'a, Probe> {
        Box::pin(crate::health::probe(health, addr))
    }
}

/// One running instance.
pub(crate) trait Instance: Send {
    /// The id shown in status and used in events: the program's pid for processes.
    fn pid(&self) -> u32;

    /// Resolves when the instance has ended, with how. Cancel-safe: polled in `select!`.
    fn wait(&mut self) -> BoxFuture<'_, ExitInfo>;

    /// What it uses now (cumulative CPU seconds, memory).
    fn usage(&self) -> std::io::Result<Usage>;

    /// Stops it: a polite request, up to `grace`, then a kill. Returns how it ended.
    fn stop(&mut self, grace: Duration) -> BoxFuture<'_, ExitInfo>;
}

/// Runs each instance as a process under shoal's shim (its own process group, rotated log file,
/// killed with shoal): the default driver.
pub(crate) struct ProcessDriver {
    pub(crate) shim: ShimCommand,
}

impl Driver for ProcessDriver {
    fn start<'a>(
        &'a self,
        launch: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<Box<dyn Instance>, String>> {
        Box::pin(async move {
            RunningProcess::spawn(&self.shim, launch)
                .await
                .map(|p| Box::new(p) as Box<dyn Instance>)
                .map_err(|e| format!("failed to start: {e}"))
        })
    }
}

impl Instance for RunningProcess {
    fn pid(&self) -> u32 {
        RunningProcess::pid(self)
    }

    fn wait(&mut self) -> BoxFuture<'_, ExitInfo> {
        Box::pin(RunningProcess::wait(self))
    }

    fn usage(&self) -> std::io::Result<Usage> {
        RunningProcess::usage(self)
    }

    fn stop(&mut self, grace: Duration) -> BoxFuture<'_, ExitInfo> {
        Box::pin(RunningProcess::stop(self, grace))
    }
}
