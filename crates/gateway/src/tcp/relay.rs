//! Copying one TCP connection both ways. Each direction has its own fixed buffer (memory per
//! connection is bounded whatever the stream), and the two run concurrently, so neither waits
//! behind the other: a peer that sends without reading cannot deadlock the relay. A direction
//! that reaches EOF shuts down writing on the other side (half-close) and the other direction
//! carries on until it ends too.
//!
//! Around the copying, one `select!` watches what can end a connection early: the idle timeout,
//! and the endpoint's drain phase. It wakes only on its timer (at most once per quiet period)
//! or on a phase change, never per byte.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, Interest, ReadBuf};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{TcpSettings, TcpStats};
use crate::endpoint::{TcpConnGuard, TcpPhase};

/// Bytes buffered per direction: HAProxy's default `tune.bufsize`, large enough that a bulk
/// transfer is not syscall-bound, small enough that 16,384 connections stay at 512 MiB.
const BUF_SIZE: usize = 16 * 1024;
/// Index of the client-to-instance direction in [`Activity::writing`].
const UP: usize = 0;
/// Index of the instance-to-client direction in [`Activity::writing`].
const DOWN: usize = 1;

/// Why a relayed connection ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// Both sides closed their writing half.
    Finished,
    /// A socket error on either side (reset, broken pipe).
    Failed(io::Error),
    /// No bytes either way for `idle_timeout`.
    IdleTimeout,
    /// Quiet for `drain_quiet` while its instance drains.
    Drained,
    /// Force-closed (`Endpoint::close_connections`).
    Closed,
}

/// When bytes last moved, and whether a write is waiting on a slow reader: the two directions
/// update it, the watcher reads it. Atomics, not cells, because the task must be `Send`.
struct Activity {
    start: Instant,
    /// Nanoseconds after `start` of the last byte read or written.
    last: AtomicU64,
    /// Per direction ([`UP`], [`DOWN`]): bytes read and not yet all written.
    writing: [AtomicBool; 2],
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last: AtomicU64::new(0),
            writing: [AtomicBool::new(false), AtomicBool::new(false)],
        }
    }

    fn touch(&self) {
        let nanos = self.start.elapsed().as_nanos().min(u64::MAX as u128) as u64;
        self.last.store(nanos, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_nanos(self.last.load(Ordering::Relaxed))
    }

    fn writing(&self) -> bool {
        self.writing.iter().any(|w| w.load(Ordering::Relaxed))
    }
}

/// Relays between `client` and `upstream` until both sides are done or the connection is ended
/// early (idle, drained, force-closed); dropping the sockets then closes both.
pub(super) async fn relay(
    client: TcpStream,
    upstream: TcpStream,
    guard: &TcpConnGuard,
    settings: &TcpSettings,
    stats: &TcpStats,
) -> Ended {
    let _ = upstream.set_nodelay(true);
    let mut phase = guard.endpoint().tcp_phase();
    let (client_read, mut client_write) = client.into_split();
    let (upstream_read, mut upstream_write) = upstream.into_split();
    let (client_read, upstream_read) = (client_read.as_ref(), upstream_read.as_ref());
    let activity = Activity::new();
    let up = copy(
        client_read,
        &mut upstream_write,
        &activity,
        UP,
        stats.bytes(true),
    );
    let down = copy(
        upstream_read,
        &mut client_write,
        &activity,
        DOWN,
        stats.bytes(false),
    );
    let copying = async { tokio::try_join!(up, down) };
    tokio::pin!(copying);
    let mut phase_live = true;
    loop {
        let current = *phase.borrow_and_update();
        let Some(quiet) = quiet_limit(current, settings) else {
            return Ended::Closed;
        };
        let deadline = activity.last().checked_add(quiet);
        tokio::select! {
            // Copying first: bytes that are ready move (and count as activity) before the timer
            // can judge the connection quiet.
            biased;
            copied = &mut copying => return match copied {
                Ok(_) => Ended::Finished,
                Err(e) => Ended::Failed(e),
            },
            changed = phase.changed(), if phase_live => phase_live = changed.is_ok(),
            () = sleep_until(deadline) => {
                let draining = current == TcpPhase::Draining;
                if is_quiet(&activity, quiet, draining, client_read, upstream_read).await {
                    return if draining { Ended::Drained } else { Ended::IdleTimeout };
                }
            }
        }
    }
}

/// How long a connection may stay quiet in `phase`; `None`: close it now.
fn quiet_limit(phase: TcpPhase, settings: &TcpSettings) -> Option<Duration> {
    match phase {
        TcpPhase::Serving => Some(settings.idle_timeout),
        TcpPhase::Draining => Some(settings.drain_quiet.min(settings.idle_timeout)),
        TcpPhase::Closing => None,
    }
}

/// Sleeps until `deadline`; `None` (a quiet limit too large to add) never wakes.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Whether the connection has really been quiet for `quiet` when its timer fires: no byte
/// moved since the timer was set, and (see [`fresh_bytes`]) none is about to. If bytes are
/// about to move, that counts as activity and the quiet period starts again.
async fn is_quiet(
    activity: &Activity,
    quiet: Duration,
    draining: bool,
    client: &TcpStream,
    upstream: &TcpStream,
) -> bool {
    if Instant::now().saturating_duration_since(activity.last()) < quiet {
        return false;
    }
    if (draining && activity.writing()) || fresh_bytes(activity, client, upstream).await {
        activity.touch();
        return false;
    }
    true
}

/// Whether either peer has just sent bytes the relay has not read yet: then the connection is
/// not quiet after all (a request that arrived as the quiet period ended must be relayed, not
/// cut). A direction still writing is skipped: what waits behind a stalled write is backlog, not
/// news, and counting it would keep a stalled peer from ever idling out. While draining, a
/// pending write keeps the connection open by itself (it is a reply in progress).
async fn fresh_bytes(activity: &Activity, client: &TcpStream, upstream: &TcpStream) -> bool {
    let idle = |direction: usize| !activity.writing[direction].load(Ordering::Relaxed);
    (idle(UP) && has_pending(client).await) || (idle(DOWN) && has_pending(upstream).await)
}

/// Whether bytes are waiting to be read on `stream`, checked without blocking (a peek against
/// the readiness the reactor has seen). EOF and errors count as nothing pending.
async fn has_pending(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    std::future::poll_fn(|cx| {
        let mut buf = ReadBuf::new(&mut byte);
        let ready = stream.poll_peek(cx, &mut buf);
        Poll::Ready(matches!(ready, Poll::Ready(Ok(n)) if n > 0))
    })
    .await
}

/// One read into `buf`: `Some(n)` bytes (0 at EOF), or `None` when the socket had nothing after
/// all. A read shorter than the buffer has drained the socket, so its readiness is cleared
/// right away (as tokio's own `poll_read` does, and HAProxy): otherwise the next turn of the loop
/// would pay a `recvfrom` that only returns `EAGAIN` — one wasted syscall per message for
/// request/response protocols. Clearing is tick-checked by tokio, so bytes that arrive
/// meanwhile are never missed.
fn read_some(from: &TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let mut got = 0;
    let result = from.try_io(Interest::READABLE, || {
        let n = from.try_read(buf)?;
        got = n;
        if n > 0 && n < buf.len() {
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match result {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok((got > 0).then_some(got)),
        Err(e) => Err(e),
    }
}

/// Copies `from` to `to` until EOF, then shuts down writing on `to` (passing the half-close
/// on). One fixed buffer; every read and every partial write counts as activity.
async fn copy(
    from: &TcpStream,
    to: &mut OwnedWriteHalf,
    activity: &Activity,
    direction: usize,
    bytes: &AtomicU64,
) -> io::Result<()> {
    let mut buf = vec![0u8; BUF_SIZE].into_boxed_slice();
    loop {
        from.readable().await?;
        let Some(n) = read_some(from, &mut buf)? else {
            continue;
        };
        if n == 0 {
            // The peer may already be gone; the other direction notices that by itself.
            let _ = to.shutdown().await;
            return Ok(());
        }
        activity.touch();
        activity.writing[direction].store(true, Ordering::Relaxed);
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let written = to.write(rest).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            rest = &rest[written..];
            bytes.fetch_add(written as u64, Ordering::Relaxed);
            activity.touch();
        }
        activity.writing[direction].store(false, Ordering::Relaxed);
    }
}
