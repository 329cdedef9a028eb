//! The listeners of TCP services: binding (at once, so a port in use is the caller's error, not
//! a log line), the accept loop on the gateway's runtime, and admission against the per-service
//! and gateway-wide connection caps. A connection over a cap is reset at once: a client told
//! "connection reset" retries or fails fast, where one left in the accept queue would hang.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{TcpSettings, TcpStats};
use crate::Shared;

/// TCP connections relayed at once by the whole gateway, over every service: each takes two
/// file descriptors and two relay buffers, so this bounds both whatever the per-service caps
/// add up to (the HTTP listener has its own limit of the same size).
const MAX_GATEWAY_CONNECTIONS: usize = 16_384;

/// Pending connections the kernel queues per listener before the accept loop takes them (as
/// tokio's own `TcpListener::bind`).
const BACKLOG: u32 = 1024;

/// The gateway's TCP listeners, one per service.
pub(crate) struct TcpListeners {
    /// Where accept loops and connection tasks run; `None` = the caller's runtime.
    runtime: Option<Handle>,
    /// Shared by every listener: the gateway-wide connection cap.
    permits: Arc<Semaphore>,
    /// The accept loop of each listening service, with what it was asked to listen on.
    loops: Mutex<HashMap<Arc<str>, Running>>,
}

/// One service's listener as [`TcpListeners`] keeps it.
struct Running {
    /// The address `listen` was given (port 0 stays 0 here).
    requested: SocketAddr,
    /// Where it listens.
    local: SocketAddr,
    ctx: Arc<Listener>,
    task: JoinHandle<()>,
}

/// What one listener's accept loop and its connection tasks share.
pub(super) struct Listener {
    pub(super) shared: Arc<Shared>,
    pub(super) service: Arc<str>,
    /// Replaced in place when only the settings change: each new connection reads them once.
    pub(super) settings: arc_swap::ArcSwap<TcpSettings>,
    pub(super) stats: Arc<TcpStats>,
    permits: Arc<Semaphore>,
    /// Refusals are logged at most once per second for this service.
    pub(super) refusals: WarnLimiter,
    /// Connections that found no instance are logged at most once per second too.
    pub(super) unserved: WarnLimiter,
    /// Failed accepts (out of file descriptors) too.
    accept_errors: WarnLimiter,
}

impl TcpListeners {
    pub(crate) fn new(runtime: Option<Handle>) -> Self {
        Self {
            runtime,
            permits: Arc::new(Semaphore::new(MAX_GATEWAY_CONNECTIONS)),
            loops: Mutex::new(HashMap::new()),
        }
    }

    /// Binds `addr` now and starts accepting for `service`; replaces the service's previous
    /// listener, if any, once the new one is bound (a failed bind leaves the old one running).
    /// When the service already listens on `addr`, only its settings change: the socket stays,
    /// so no connection waiting in the kernel's queue is lost.
    pub(crate) fn listen(
        &self,
        shared: &Arc<Shared>,
        service: &str,
        addr: SocketAddr,
        settings: TcpSettings,
        stats: Arc<TcpStats>,
    ) -> std::io::Result<SocketAddr> {
        if let Some(running) = self.lock().get(service).filter(|r| r.requested == addr) {
            running.ctx.settings.store(Arc::new(settings));
            tracing::info!(service, addr = %running.local, "TCP listener settings changed");
            return Ok(running.local);
        }
        let runtime = match &self.runtime {
            Some(handle) => handle.clone(),
            None => Handle::try_current().map_err(std::io::Error::other)?,
        };
        let listener = bind(&runtime, addr)?;
        let local = listener.local_addr()?;
        let service: Arc<str> = service.into();
        let ctx = Arc::new(Listener {
            shared: Arc::clone(shared),
            service: Arc::clone(&service),
            settings: arc_swap::ArcSwap::from_pointee(settings),
            stats,
            permits: Arc::clone(&self.permits),
            refusals: WarnLimiter::default(),
            unserved: WarnLimiter::default(),
            accept_errors: WarnLimiter::default(),
        });
        tracing::info!(service = %service, addr = %local, "TCP listener started");
        let task = runtime.spawn(accept_loop(listener, Arc::clone(&ctx)));
        let running = Running {
            requested: addr,
            local,
            ctx,
            task,
        };
        if let Some(old) = self.lock().insert(service, running) {
            old.task.abort();
        }
        Ok(local)
    }

    /// Stops accepting for `service`; its open connections are left to finish. The port is
    /// released when the runtime drops the aborted accept task, normally at once.
    pub(crate) fn close(&self, service: &str) {
        if let Some(running) = self.lock().remove(service) {
            running.task.abort();
            tracing::info!(service, "TCP listener stopped");
        }
    }

    /// Stops every accept loop (shutdown).
    pub(crate) fn close_all(&self) {
        for (service, running) in self.lock().drain() {
            running.task.abort();
            tracing::info!(service = %service, "TCP listener stopped");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Running>> {
        self.loops.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for TcpListeners {
    /// Accept loops belong to their gateway: without this they would outlive it.
    fn drop(&mut self) {
        self.close_all();
    }
}

/// A nonblocking listening socket registered with `runtime`'s reactor, bound and listening
/// before this returns, with `SO_REUSEADDR` (as std sets it) so a restart can rebind a port
/// whose old connections are in TIME_WAIT.
fn bind(runtime: &Handle, addr: SocketAddr) -> std::io::Result<TcpListener> {
    let _entered = runtime.enter();
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Accepts until aborted; each connection is admitted or reset. Only when accepting itself fails
/// (no file descriptor left) does a connection wait in the kernel's queue, for the next try.
async fn accept_loop(listener: TcpListener, ctx: Arc<Listener>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => admit(&ctx, stream, peer),
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                if let Some(suppressed) = ctx.accept_errors.allow(Instant::now()) {
                    tracing::warn!(
                        service = %ctx.service,
                        error = %e,
                        also_failed_since_last_warning = suppressed,
                        "TCP accept failed",
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Takes a connection in under both caps and spawns its task, or resets it.
fn admit(ctx: &Arc<Listener>, stream: TcpStream, peer: SocketAddr) {
    let Ok(permit) = Arc::clone(&ctx.permits).try_acquire_owned() else {
        refuse(
            ctx,
            stream,
            &format!("the gateway-wide TCP connection limit ({MAX_GATEWAY_CONNECTIONS})"),
        );
        return;
    };
    let max = ctx.settings.load().max_connections;
    let Some(open) = ctx.stats.try_open(max) else {
        refuse(
            ctx,
            stream,
            &format!("the service's max_connections ({max})"),
        );
        return;
    };
    let ctx = Arc::clone(ctx);
    tokio::spawn(async move {
        super::connect::serve(&ctx, stream, peer).await;
        drop(open);
        drop(permit);
    });
}

/// Resets a connection over a cap: SO_LINGER 0 makes the close an RST, so the client sees
/// "connection reset" at once instead of a connection that silently never answers.
fn refuse(ctx: &Listener, stream: TcpStream, limit: &str) {
    ctx.stats.on_refused();
    reset(stream);
    if let Some(suppressed) = ctx.refusals.allow(Instant::now()) {
        tracing::warn!(
            service = %ctx.service,
            also_refused_since_last_warning = suppressed,
            "TCP connection refused: {limit} is reached",
        );
    }
}

/// Closes a client connection with an RST (see [`refuse`]).
pub(super) fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// Lets a warning through at most once per second and counts the ones held back, so a flood of
/// refusals is one line a second that still says how many there were.
#[derive(Default)]
pub(super) struct WarnLimiter {
    state: Mutex<WarnState>,
}

#[derive(Default)]
struct WarnState {
    last: Option<Instant>,
    suppressed: u64,
}

impl WarnLimiter {
    /// `Some(held back since the last one)` if a warning may be logged now.
    pub(super) fn allow(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < Duration::from_secs(1))
        {
            state.suppressed += 1;
            return None;
        }
        state.last = Some(now);
        Some(std::mem::take(&mut state.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn warnings_are_limited_to_one_a_second_and_count_the_rest() {
        let limiter = WarnLimiter::default();
        assert_eq!(limiter.allow(Instant::now()), Some(0));
        assert_eq!(limiter.allow(Instant::now()), None);
        assert_eq!(limiter.allow(Instant::now()), None);
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert_eq!(limiter.allow(Instant::now()), Some(2));
    }
}
