//! shoal's data plane: an HTTP/1.1 reverse proxy that routes by host and longest path prefix and
//! balances over healthy instances with power-of-two-choices on a latency EWMA; a route may split
//! its traffic by weight between two revisions (a canary, see [`Split`]). TCP services get a
//! listener each that relays connections byte for byte to their instances (see
//! [`Gateway::listen_tcp`]). The control plane publishes an immutable [`RoutingTable`]; requests
//! and new TCP connections read it lock-free (`arc-swap`).

mod body;
mod budget;
mod endpoint;
mod error;
mod headers;
mod pool;
mod proxy;
mod server;
mod split;
mod stats;
mod table;
mod tcp;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;

pub use body::ProxyBody;
pub use budget::RetryBudget;
pub use endpoint::{Endpoint, InflightGuard, TcpConnGuard};
pub use error::{ErrorSource, ProxyError};
pub use pool::{ConnectError, PoolConfig};
pub use stats::{
    ClassCounts, LatencySummary, ResponseCounts, ServiceStats, StatsSnapshot, Totals,
    UpstreamError, DURATION_BUCKETS, STATUS_CLASSES,
};
pub use table::{prefix_matches, Backends, ColdStart, Route, RoutingTable, Split, TcpRoute};
pub use tcp::{TcpSettings, TcpStats, TcpStatsSnapshot};

/// Gateway settings (from `[gateway]` in the spec).
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Longest wait for an instance's response headers.
    pub response_timeout: Duration,
    /// Longest wait for a client's request headers, also the idle limit of a client connection
    /// between requests.
    pub header_timeout: Duration,
    /// Largest accepted request head, in bytes.
    pub max_header_bytes: usize,
    /// Share of requests that may be retries.
    pub retry_budget: f64,
    /// Upstream pool settings, applied to each endpoint created through [`Gateway::endpoint`].
    pub pool: PoolConfig,
    /// The runtime TCP listeners and their connections run on: the gateway's own, so relayed
    /// bytes never wait behind the control plane (the HTTP listener gets the same by being
    /// served there). `None`: the runtime [`Gateway::listen_tcp`] is called from.
    pub runtime: Option<tokio::runtime::Handle>,
}

/// State every request reads.
pub(crate) struct Shared {
    pub(crate) table: ArcSwap<RoutingTable>,
    /// Woken on every publish, for requests waiting on a cold start.
    pub(crate) table_changed: tokio::sync::Notify,
    pub(crate) budget: RetryBudget,
    pub(crate) response_timeout: Duration,
    pub(crate) header_timeout: Duration,
    pub(crate) max_header_bytes: usize,
}

/// The gateway: holds the current routing table and serves requests against it.
pub struct Gateway {
    shared: Arc<Shared>,
    pool: PoolConfig,
    tcp: tcp::TcpListeners,
}

impl Gateway {
    /// A gateway with an empty routing table (every request gets 404 until one is published).
    pub fn new(config: GatewayConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                table: ArcSwap::from_pointee(RoutingTable::default()),
                table_changed: tokio::sync::Notify::new(),
                budget: RetryBudget::new(config.retry_budget),
                response_timeout: config.response_timeout,
                header_timeout: config.header_timeout,
                max_header_bytes: config.max_header_bytes,
            }),
            pool: config.pool,
            tcp: tcp::TcpListeners::new(config.runtime),
        }
    }

    /// A new endpoint for an instance that has just become routable, with this gateway's pool
    /// settings.
    pub fn endpoint(
        &self,
        instance_id: &str,
        service: &str,
        addr: std::net::SocketAddr,
        slow_start: Duration,
    ) -> Arc<Endpoint> {
        Endpoint::new(instance_id, service, addr, slow_start, self.pool)
    }

    /// Replaces the routing table; requests already routed keep the endpoints they picked.
    pub fn publish(&self, table: RoutingTable) {
        self.shared.table.store(Arc::new(table));
        self.shared.table_changed.notify_waiters();
    }

    /// The table requests are routed with now.
    pub fn table(&self) -> Arc<RoutingTable> {
        self.shared.table.load_full()
    }

    /// Serves clients from `listener` until `shutdown` resolves, then lets open requests finish
    /// for up to `grace`.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> std::io::Result<()> {
        server::serve(Arc::clone(&self.shared), listener, shutdown, grace).await
    }

    /// Starts relaying TCP connections on `addr` to `service`'s instances, as published in
    /// [`RoutingTable::tcp_route`] (looked up again for each connection). Binds before returning,
    /// so a port in use is an error here rather than a log line later; the accept loop runs on
    /// [`GatewayConfig::runtime`]. Returns the bound address (the port, when `addr` asks for 0).
    /// A service already listening is moved to the new listener once it is bound.
    pub fn listen_tcp(
        &self,
        service: &str,
        addr: std::net::SocketAddr,
        settings: TcpSettings,
        stats: Arc<TcpStats>,
    ) -> std::io::Result<std::net::SocketAddr> {
        self.tcp
            .listen(&self.shared, service, addr, settings, stats)
    }

    /// Stops accepting TCP connections for `service` (removed from the spec, or its port
    /// changed). Open connections go on until their instances drain them.
    pub fn close_tcp(&self, service: &str) {
        self.tcp.close(service);
    }

    /// Stops every TCP listener (shutdown); open connections are left to the instances' drain.
    pub fn close_all_tcp(&self) {
        self.tcp.close_all();
    }
}
