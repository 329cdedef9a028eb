//! A fake driver for tests: instances are a few fields in memory whose behaviour comes from the
//! launch's `FAKE` variable, so the service loop, rollouts and canaries run under paused time
//! with no process, socket or cgroup.
//!
//! `FAKE` = `healthy` (passes checks at once), `healthy:2s` (after 2 s), `never` (never passes),
//! `crash:500ms` (exits with code 1 after 500 ms).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shoal_runtime::{ExitInfo, LaunchSpec, Usage};
use shoal_spec::HealthSpec;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{BoxFuture, Driver, Instance};
use crate::health::Probe;

/// How a fake instance behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Behaviour {
    /// Passes health checks once it has run this long.
    HealthyAfter(Duration),
    /// Never passes a check.
    Never,
    /// Exits with code 1 after running this long.
    CrashAfter(Duration),
}

impl Behaviour {
    fn parse(value: &str) -> Behaviour {
        let after = |s: &str| shoal_spec::parse_duration(s).unwrap_or_default();
        match value.split_once(':') {
            Some(("healthy", d)) => Behaviour::HealthyAfter(after(d)),
            Some(("crash", d)) => Behaviour::CrashAfter(after(d)),
            _ if value == "never" => Behaviour::Never,
            _ => Behaviour::HealthyAfter(Duration::ZERO),
        }
    }
}

/// One start, as the test sees it.
#[derive(Debug, Clone)]
pub(crate) struct Started {
    pub(crate) id: String,
    pub(crate) revision: u64,
    pub(crate) at: Instant,
}

struct FakeInstance {
    behaviour: Behaviour,
    started: Instant,
    /// `Some` once it has ended.
    exit: watch::Sender<Option<ExitInfo>>,
}

impl FakeInstance {
    fn alive(&self) -> bool {
        self.exit.borrow().is_none()
    }
}

/// The fake driver: records every start and answers probes from each instance's behaviour.
#[derive(Default)]
pub(crate) struct FakeDriver {
    by_port: Mutex<HashMap<u16, Arc<FakeInstance>>>,
    started: Mutex<Vec<Started>>,
}

impl FakeDriver {
    /// Every start so far, oldest first.
    pub(crate) fn starts(&self) -> Vec<Started> {
        self.started.lock().unwrap().clone()
    }

    /// Instances running now.
    pub(crate) fn running(&self) -> usize {
        self.by_port
            .lock()
            .unwrap()
            .values()
            .filter(|i| i.alive())
            .count()
    }

    /// Kills the instance on `port` (a crash: exit by SIGKILL).
    pub(crate) fn kill(&self, port: u16) {
        if let Some(i) = self.by_port.lock().unwrap().get(&port) {
            i.exit.send_replace(Some(ExitInfo::Signal(9)));
        }
    }
}

fn env<'a>(launch: &'a LaunchSpec, key: &str) -> Option<&'a str> {
    launch
        .env
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

impl Driver for FakeDriver {
    fn start<'a>(
        &'a self,
        launch: &'a LaunchSpec,
    ) -> BoxFuture<'a, Result<Box<dyn Instance>, String>> {
        Box::pin(async move {
            let port: u16 = env(launch, "PORT")
                .and_then(|p| p.parse().ok())
                .ok_or("no PORT")?;
            let behaviour = Behaviour::parse(env(launch, "FAKE").unwrap_or("healthy"));
            let instance = Arc::new(FakeInstance {
                behaviour,
                started: Instant::now(),
                exit: watch::channel(None).0,
            });
            self.by_port
                .lock()
                .unwrap()
                .insert(port, Arc::clone(&instance));
            self.started.lock().unwrap().push(Started {
                id: launch.instance_id.clone(),
                revision: env(launch, "SHOAL_REVISION")
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0),
                at: instance.started,
            });
            Ok(Box::new(FakeHandle {
                pid: u32::from(port),
                instance,
            }) as Box<dyn Instance>)
        })
    }

    fn probe<'a>(&'a self, _health: &'a HealthSpec, addr: SocketAddr) -> BoxFuture<'a, Probe> {
        let found = self.by_port.lock().unwrap().get(&addr.port()).cloned();
        Box::pin(async move {
            let Some(i) = found.filter(|i| i.alive()) else {
                return Probe::Fail("fake: not running".into());
            };
            match i.behaviour {
                Behaviour::HealthyAfter(after) if i.started.elapsed() >= after => Probe::Pass,
                _ => Probe::Fail("fake: not ready".into()),
            }
        })
    }
}

/// A started fake instance.
struct FakeHandle {
    pid: u32,
    instance: Arc<FakeInstance>,
}

impl Instance for FakeHandle {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn wait(&mut self) -> BoxFuture<'_, ExitInfo> {
        let instance = Arc::clone(&self.instance);
        Box::pin(async move {
            let mut exit = instance.exit.subscribe();
            let crash = async {
                match instance.behaviour {
                    Behaviour::CrashAfter(d) => {
                        tokio::time::sleep_until(instance.started + d).await
                    }
                    _ => std::future::pending().await,
                }
            };
            tokio::select! {
                Ok(info) = exit.wait_for(Option::is_some) => info.unwrap_or(ExitInfo::Lost),
                () = crash => {
                    instance.exit.send_replace(Some(ExitInfo::Code(1)));
                    ExitInfo::Code(1)
                }
            }
        })
    }

    fn usage(&self) -> std::io::Result<Usage> {
        Ok(Usage {
            cpu_seconds: 0.0,
            memory_bytes: 1 << 20,
        })
    }

    fn stop(&mut self, _grace: Duration) -> BoxFuture<'_, ExitInfo> {
        self.instance.exit.send_if_modified(|e| {
            let first = e.is_none();
            if first {
                *e = Some(ExitInfo::Signal(15));
            }
            first
        });
        let info = self.instance.exit.borrow().unwrap_or(ExitInfo::Lost);
        Box::pin(async move { info })
    }
}
