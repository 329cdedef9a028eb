//! TCP services (HAProxy's `mode tcp`): a listener per service relays each accepted connection,
//! byte for byte, to one of the service's instances, picked by P2C on open connections from the
//! current routing table. The modules follow one connection's life: `listener` (bind, accept,
//! admission against the connection caps), `connect` (route lookup, pick, connect with
//! failover), `relay` (copying both ways with half-close, idle timeout and draining), `stats`
//! (the counters the control plane reads).

mod connect;
mod listener;
mod relay;
mod stats;

use std::time::Duration;

pub(crate) use listener::TcpListeners;
pub use stats::{TcpStats, TcpStatsSnapshot};

/// How one TCP service's listener treats its connections (one per service, chosen by the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSettings {
    /// Longest wait for an instance to accept a connection. Instances are on loopback, so a
    /// healthy one accepts in microseconds; one that does not within a second is hung or
    /// overloaded, and the client is better served by another instance (nothing was sent yet).
    pub connect_timeout: Duration,
    /// A connection with no bytes either way for this long is closed, so clients that vanished
    /// without a FIN (a laptop closed, a NAT that forgot the flow) do not hold a slot and an
    /// instance's connection forever. Long (10 minutes) by default, because pooled database
    /// and cache clients legitimately sit idle for minutes.
    pub idle_timeout: Duration,
    /// Connections open at once through this listener; more are reset at once. Bounds the
    /// file descriptors and relay buffers one service can take, so one flooded service cannot
    /// starve the others (or the HTTP gateway) of them.
    pub max_connections: usize,
    /// While an instance drains, each of its connections is closed once it has been quiet
    /// (no bytes either way) for this long. A request/response protocol with pooled clients
    /// (Redis, PostgreSQL) is then closed between replies, never in the middle of one; 200 ms
    /// is far longer than a loopback reply takes to start flowing and short enough that a drain
    /// of idle pooled connections ends almost at once.
    pub drain_quiet: Duration,
}

impl Default for TcpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(600),
            max_connections: 1024,
            drain_quiet: Duration::from_millis(200),
        }
    }
}
