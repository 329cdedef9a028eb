//! One instance slot's life: start the process, earn health, serve, and on a crash come back with
//! capped exponential backoff; on request, leave cleanly (DESIGN principle 5: out of the selector,
//! drain, SIGTERM, grace, SIGKILL of the process group).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use shoal_runtime::{ExitInfo, LaunchSpec};
use shoal_spec::{HealthSpec, ServiceSpec};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::driver::Instance;
use crate::health::{fmt_duration, Probe, Streak, Verdict};
use crate::registry::InstanceState;
use crate::revisions::Template;
use crate::Context;

/// A numbered template: what a slot runs.
#[derive(Debug)]
pub(crate) struct Revision {
    pub(crate) number: u64,
    pub(crate) template: Template,
}

/// The service's settings as they are now: `apply` changes health, stop, restart and slow-start
/// settings in place, and running slots follow.
pub(crate) type Config = watch::Receiver<Arc<ServiceSpec>>;

/// An instance that stays up this long has its crash streak forgiven.
const STABLE_AFTER: Duration = Duration::from_secs(30);
/// While an instance is starting it is probed at least this often, so it joins quickly even when
/// `interval` is long (like a Kubernetes startup probe); once it has joined, `interval` applies.
const STARTING_PROBE_EVERY: Duration = Duration::from_millis(250);
/// How often an instance's CPU and memory are read (the autoscaler's tick).
const USAGE_EVERY: Duration = Duration::from_secs(1);

/// How one run of the process ended.
enum RunEnd {
    /// The process exited on its own.
    Exited(ExitInfo),
    /// It was unhealthy (or never healthy) for `restart_after`; it has been stopped.
    Unhealthy,
    /// The slot was asked to stop; the process has been stopped.
    Stopped,
}

/// Runs slot `slot` of the service with `revision` until `stop` turns true; returns once its
/// process is gone.
pub(crate) async fn run_slot(
    ctx: Arc<Context>,
    config: Config,
    revision: Arc<Revision>,
    slot: u32,
    mut stop: watch::Receiver<bool>,
) {
    let service = config.borrow().name.clone();
    let service = service.as_str();
    let id = format!("{service}-{slot}");
    let mut crash_streak: u32 = 0;
    while !*stop.borrow() {
        let started = Instant::now();
        let spec = config.borrow().clone();
        // Why this run ended, as (event kind, what happened); `None` = the slot was stopped.
        let ended: Option<(&'static str, String)> =
            match start(&ctx, &spec, &revision, slot, &id).await {
                Err(why) => Some(("start_failed", why)),
                Ok((process, endpoint)) => {
                    let mut running = Running {
                        ctx: &ctx,
                        config: &config,
                        revision: &revision,
                        slot,
                        id: &id,
                        process,
                        endpoint,
                    };
                    let end = running.supervise(&mut stop).await;
                    running.endpoint.start_draining();
                    match end {
                        RunEnd::Stopped => None,
                        RunEnd::Unhealthy => Some((
                            "restarting",
                            "stopped after failing health checks".to_string(),
                        )),
                        RunEnd::Exited(info) => Some(("crashed", format!("exited ({info})"))),
                    }
                }
            };
        let Some((kind, why)) = ended else { break };
        if started.elapsed() >= STABLE_AFTER {
            crash_streak = 0;
        }
        crash_streak += 1;
        let delay = backoff(&config.borrow(), crash_streak);
        record_exit(&ctx, service, slot, why.clone(), true);
        ctx.registry.event(
            service,
            Some(&id),
            kind,
            format!("{id} {why}; restarting in {}", fmt_duration(delay)),
        );
        if wait_or_stop(&mut stop, delay).await {
            break;
        }
    }
    ctx.registry.remove_instance(service, slot);
}

/// Starts one process for the slot and registers it as `starting`.
async fn start(
    ctx: &Context,
    spec: &ServiceSpec,
    revision: &Revision,
    slot: u32,
    id: &str,
) -> Result<(Box<dyn Instance>, Arc<shoal_gateway::Endpoint>), String> {
    let service = spec.name.as_str();
    let port = free_port().map_err(|e| format!("found no free port: {e}"))?;
    if let Some(volume) = revision.template.volume_of(id) {
        create_volume(&volume)
            .map_err(|e| format!("cannot create its volume {}: {e}", volume.display()))?;
    }
    let launch = launch_spec(ctx, service, revision, id, port, &spec.logs);
    let process = ctx.driver.start(&launch).await?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let endpoint = ctx
        .registry
        .gateway()
        .endpoint(id, service, addr, spec.slow_start);
    ctx.registry.update_instance(service, slot, |r| {
        r.state = InstanceState::Starting;
        r.revision = revision.number;
        r.port = Some(port);
        r.pid = Some(process.pid());
        r.started_at = Some(Instant::now());
        r.endpoint = Some(Arc::clone(&endpoint));
    });
    ctx.registry.event(
        service,
        Some(id),
        "started",
        format!(
            "{id} started (revision {}, pid {}, port {port})",
            revision.number,
            process.pid()
        ),
    );
    Ok((process, endpoint))
}

/// Records that the slot's process is gone, and why.
fn record_exit(ctx: &Context, service: &str, slot: u32, why: String, restarting: bool) {
    ctx.registry.update_instance(service, slot, |r| {
        r.ready_since = None;
        r.cpu_percent = None;
        r.memory_bytes = None;
        r.state = InstanceState::Stopped;
        r.endpoint = None;
        r.pid = None;
        if restarting {
            r.restarts += 1;
        }
        r.last_exit = Some(why);
    });
}

/// One run of an instance's process, with what the gateway knows of it.
struct Running<'a> {
    ctx: &'a Context,
    config: &'a Config,
    revision: &'a Revision,
    slot: u32,
    id: &'a str,
    process: Box<dyn Instance>,
    endpoint: Arc<shoal_gateway::Endpoint>,
}

impl Running<'_> {
    /// The service's settings now (they may change while the instance runs).
    fn spec(&self) -> Arc<ServiceSpec> {
        self.config.borrow().clone()
    }

    /// Watches the process: probes it, moves it between starting/healthy/unhealthy, samples its
    /// CPU and memory, and returns when it exits, must be restarted, or the slot is stopped
    /// (after draining it).
    async fn supervise(&mut self, stop: &mut watch::Receiver<bool>) -> RunEnd {
        let (ctx, slot, id) = (self.ctx, self.slot, self.id);
        let cpu_limit = self.revision.template.cpu;
        let spec = self.spec();
        let service = spec.name.as_str();
        let mut streak = Streak::default();
        let mut healthy = false;
        // Not yet healthy once in this run: still `starting`, probed at the faster cadence.
        let mut starting = true;
        // When the instance last stopped being healthy (or started); drives `restart_after`.
        let mut unhealthy_since = Instant::now();
        // The next health check: a sleep then a probe, polled alongside everything else so that a
        // stop or an exit is seen at once, not after a slow probe's timeout.
        let addr = self.endpoint.addr;
        let driver = Arc::clone(&ctx.driver);
        let check_at = |at: Instant, health: HealthSpec| {
            let driver = Arc::clone(&driver);
            Box::pin(async move {
                tokio::time::sleep_until(at).await;
                driver.probe(&health, addr).await
            })
        };
        let mut check = check_at(
            Instant::now() + STARTING_PROBE_EVERY.min(spec.health.interval),
            spec.health.clone(),
        );
        let epoch = Instant::now();
        let mut next_usage = epoch + USAGE_EVERY;
        let mut last_usage: Option<(f64, Duration)> = None;
        loop {
            tokio::select! {
                info = self.process.wait() => return RunEnd::Exited(info),
                _ = tokio::time::sleep_until(next_usage) => {
                    next_usage = Instant::now() + USAGE_EVERY;
                    if let Ok(usage) = self.process.usage() {
                        let sample = (usage.cpu_seconds, epoch.elapsed());
                        let cpu = last_usage
                            .map(|prev| shoal_runtime::cpu_percent(prev, sample, cpu_limit));
                        last_usage = Some(sample);
                        ctx.registry.record_usage(service, slot, cpu, usage.memory_bytes);
                    }
                    continue;
                }
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        self.drain_and_stop().await;
                        return RunEnd::Stopped;
                    }
                }
                result = &mut check => {
                    let spec = self.spec();
                    let health = &spec.health;
                    let pass = result == Probe::Pass;
                    if pass {
                        self.endpoint.readmit();
                    }
                    match streak.record(pass, healthy, health) {
                        Verdict::BecameHealthy => {
                            healthy = true;
                            starting = false;
                            ctx.registry.update_instance(service, slot, |r| {
                                r.state = InstanceState::Healthy;
                                r.ready_since = Some(Instant::now());
                                r.health_output = None;
                            });
                            ctx.registry.event(service, Some(id), "healthy", format!("{id} is healthy and receives traffic"));
                        }
                        Verdict::BecameUnhealthy => {
                            healthy = false;
                            unhealthy_since = Instant::now();
                            let reason = match &result { Probe::Fail(r) => r.clone(), Probe::Pass => String::new() };
                            ctx.registry.update_instance(service, slot, |r| {
                                r.state = InstanceState::Unhealthy;
                                r.ready_since = None;
                                r.health_output = Some(reason.clone());
                            });
                            ctx.registry.event(service, Some(id), "unhealthy", format!("{id} is unhealthy ({reason}); no more traffic"));
                        }
                        Verdict::Same => {}
                    }
                    if !healthy {
                        if let Some(limit) = health.restart_after {
                            if unhealthy_since.elapsed() >= limit {
                                self.drain_and_stop().await;
                                return RunEnd::Unhealthy;
                            }
                        }
                    }
                    let every = if starting { STARTING_PROBE_EVERY.min(health.interval) } else { health.interval };
                    check = check_at(Instant::now() + every, health.clone());
                }
            }
        }
    }

    /// Out of the selector → wait for in-flight requests (up to `stop.drain`) → SIGTERM → grace
    /// (`stop.timeout`) → SIGKILL of the process group.
    async fn drain_and_stop(&mut self) {
        let (ctx, slot, id) = (self.ctx, self.slot, self.id);
        let spec = self.spec();
        let endpoint = &self.endpoint;
        let service = spec.name.as_str();
        endpoint.start_draining();
        ctx.registry
            .update_instance(service, slot, |r| r.state = InstanceState::Draining);
        let inflight = endpoint.outstanding();
        let connections = endpoint.open_connections();
        let open = if spec.tcp.is_some() {
            format!(", {connections} TCP connection(s) open")
        } else {
            String::new()
        };
        ctx.registry.event(
            service,
            Some(id),
            "draining",
            format!("{id} draining ({inflight} request(s) in flight{open})"),
        );
        // Requests finish; each TCP connection is closed by the gateway once it goes quiet.
        let (left, connections_left) = tokio::join!(
            endpoint.wait_idle(spec.stop.drain),
            endpoint.wait_connections_closed(spec.stop.drain)
        );
        if left > 0 || connections_left > 0 {
            ctx.registry.event(
                service,
                Some(id),
                "draining",
                format!(
                    "{id}: drain limit {} reached with {left} request(s) in flight and {connections_left} TCP connection(s) open; closing them",
                    fmt_duration(spec.stop.drain)
                ),
            );
        }
        endpoint.close_connections();
        let info = self.process.stop(spec.stop.timeout).await;
        record_exit(ctx, service, slot, info.to_string(), false);
        ctx.registry.event(
            service,
            Some(id),
            "stopped",
            format!("{id} stopped ({info})"),
        );
    }
}

/// `backoff × 2^(streak-1)`, capped at `max_backoff`.
fn backoff(spec: &ServiceSpec, streak: u32) -> Duration {
    let factor = 2u32.saturating_pow(streak.saturating_sub(1).min(20));
    spec.restart
        .backoff
        .saturating_mul(factor)
        .min(spec.restart.max_backoff)
}

/// Sleeps `d` unless the slot is stopped first; true if stopped.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        changed = stop.changed() => changed.is_err() || *stop.borrow(),
    }
}

/// A stateful instance's persistent directory, created on its first start and never removed by
/// shoal: 0700 (it holds the tier's data), under parents that others may traverse but not list
/// (0711), so a program that drops to its own user (PostgreSQL) can reach its directory.
fn create_volume(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(parent)?;
    }
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

/// A free loopback port, chosen by the kernel.
fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn launch_spec(
    ctx: &Context,
    service: &str,
    revision: &Revision,
    id: &str,
    port: u16,
    logs: &shoal_spec::LogsSpec,
) -> LaunchSpec {
    let template = &revision.template;
    let volume = template.volume_of(id);
    let argv = template.argv_for(port, volume.as_deref());
    let mut env = template.env_for(volume.as_deref());
    if let Some(v) = &volume {
        env.push(("SHOAL_VOLUME".into(), v.display().to_string()));
    }
    env.push(("SHOAL_GATEWAY".into(), ctx.gateway_url.clone()));
    env.push(("PORT".into(), port.to_string()));
    env.push(("SHOAL_INSTANCE_ID".into(), id.to_string()));
    env.push(("SHOAL_SERVICE".into(), service.to_string()));
    env.push(("SHOAL_REVISION".into(), revision.number.to_string()));
    LaunchSpec {
        instance_id: id.to_string(),
        program: template.program.clone(),
        args: argv.into_iter().skip(1).collect(),
        env,
        workdir: template.workdir.clone(),
        log_path: ctx.log_dir.join(format!("{id}.log")),
        // The service's `logs` bound as it is now (apply changes it for the next start).
        log_max_bytes: logs.max_size,
        log_keep: logs.keep,
        // The spec always has a CPU figure (1 core unless set), so there is always a CPU limit,
        // as for a container with a one-CPU limit.
        resources: shoal_runtime::Resources {
            cpu_limit: Some(template.cpu),
            memory_limit: template.memory,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let spec = shoal_spec::parse(
            "[services.web]\ncommand = [\"/bin/sleep\", \"1\"]\nrestart = { backoff = \"100ms\", max_backoff = \"1s\" }\n",
            std::path::Path::new("shoal.toml"),
            &shoal_spec::LoadOptions { check_ports: false, check_programs: true },
        )
        .unwrap();
        let web = &spec.services["web"];
        let ms = |n| backoff(web, n).as_millis();
        assert_eq!(
            (ms(1), ms(2), ms(3), ms(4), ms(5), ms(50)),
            (100, 200, 400, 800, 1000, 1000)
        );
    }
}
