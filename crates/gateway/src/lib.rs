//! shoal's data plane: an HTTP/1.1 reverse proxy that routes by host and longest path prefix and
//! balances over healthy instances with power-of-two-choices on a latency EWMA; a route may split
//! its traffic by weight between two revisions (a canary, see [`Split`]). The control plane
//! publishes an immutable [`RoutingTable`]; requests read it lock-free (`arc-swap`).

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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;

pub use body::ProxyBody;
pub use budget::RetryBudget;
pub use endpoint::{Endpoint, InflightGuard};
pub use error::{ErrorSource, ProxyError};
pub use pool::{ConnectError, PoolConfig};
pub use stats::{
    ClassCounts, LatencySummary, ResponseCounts, ServiceStats, StatsSnapshot, Totals,
    UpstreamError, DURATION_BUCKETS, STATUS_CLASSES,
};
pub use table::{prefix_matches, Backends, ColdStart, Route, RoutingTable, Split};

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
}
