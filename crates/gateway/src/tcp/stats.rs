//! Counters of one TCP service, shared by its listener and every connection task: relaxed atomic
//! adds on the connection path, read by the control plane (status, `/metrics`) as a snapshot.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// One TCP service's traffic. Counters only grow (so scrapes see true counters), except `open`.
/// Kept by the control plane across listener restarts and passed to `Gateway::listen_tcp`.
#[derive(Debug, Default)]
pub struct TcpStats {
    open: AtomicUsize,
    accepted_total: AtomicU64,
    refused_total: AtomicU64,
    no_instance_total: AtomicU64,
    connect_failures_total: AtomicU64,
    bytes_from_clients_total: AtomicU64,
    bytes_to_clients_total: AtomicU64,
}

/// A copy of [`TcpStats`] at one moment, as plain numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpStatsSnapshot {
    /// Client connections open now (including ones still connecting to an instance).
    pub open: usize,
    /// Client connections taken in to be relayed (not counting refused ones).
    pub accepted_total: u64,
    /// Client connections reset at once because a connection cap was reached: the service's
    /// `max_connections` or the gateway-wide limit.
    pub refused_total: u64,
    /// Accepted connections closed unserved: no instance was routable, or every connect failed.
    pub no_instance_total: u64,
    /// Connects to instances that failed (refused, timed out, other errors); each one was
    /// retried on another instance when there was one.
    pub connect_failures_total: u64,
    /// Bytes read from clients and delivered to instances.
    pub bytes_from_clients_total: u64,
    /// Bytes read from instances and delivered to clients.
    pub bytes_to_clients_total: u64,
}

impl TcpStats {
    /// The counters now. Each is read on its own (relaxed), so they need not add up exactly
    /// while connections are moving; each is exact by itself.
    pub fn snapshot(&self) -> TcpStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TcpStatsSnapshot {
            open: self.open.load(Ordering::Relaxed),
            accepted_total: get(&self.accepted_total),
            refused_total: get(&self.refused_total),
            no_instance_total: get(&self.no_instance_total),
            connect_failures_total: get(&self.connect_failures_total),
            bytes_from_clients_total: get(&self.bytes_from_clients_total),
            bytes_to_clients_total: get(&self.bytes_to_clients_total),
        }
    }

    /// Takes a connection in if fewer than `max` are open; the slot is held until the guard
    /// drops. The check and the increment are one atomic step, so the cap is never exceeded.
    pub(crate) fn try_open(self: &Arc<Self>, max: usize) -> Option<OpenConnection> {
        self.open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        self.accepted_total.fetch_add(1, Ordering::Relaxed);
        Some(OpenConnection {
            stats: Arc::clone(self),
        })
    }

    pub(crate) fn on_refused(&self) {
        self.refused_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn on_no_instance(&self) {
        self.no_instance_total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn on_connect_failure(&self) {
        self.connect_failures_total.fetch_add(1, Ordering::Relaxed);
    }

    /// The counter of bytes relayed in one direction.
    pub(crate) fn bytes(&self, from_client: bool) -> &AtomicU64 {
        if from_client {
            &self.bytes_from_clients_total
        } else {
            &self.bytes_to_clients_total
        }
    }
}

/// One open client connection of a service, counted in [`TcpStats`] until dropped.
pub(crate) struct OpenConnection {
    stats: Arc<TcpStats>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_holds_and_frees_on_drop() {
        let stats = Arc::new(TcpStats::default());
        let a = stats.try_open(2).unwrap();
        let _b = stats.try_open(2).unwrap();
        assert!(stats.try_open(2).is_none());
        drop(a);
        assert!(stats.try_open(2).is_some());
        let snap = stats.snapshot();
        assert_eq!((snap.open, snap.accepted_total), (1, 3));
    }
}
