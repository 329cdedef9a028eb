//! One accepted TCP connection up to the relay: look the service up in the current routing
//! table, pick an instance, connect. Nothing has been read from the client yet, so a connect
//! that fails can always go to another instance; every endpoint is tried at most once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::listener::{reset, Listener};
use super::relay::{relay, Ended};
use crate::endpoint::{Endpoint, TcpConnGuard};
use crate::pool::ConnectError;
use crate::table::Backends;

/// Serves one client connection from connect to close.
pub(super) async fn serve(ctx: &Listener, client: TcpStream, peer: SocketAddr) {
    let _ = client.set_nodelay(true);
    // Read once: the connection keeps the instances it saw, as a request does.
    let backends = ctx
        .shared
        .table
        .load()
        .tcp_route(&ctx.service)
        .map(|route| Arc::clone(&route.backends));
    let connected = match &backends {
        Some(backends) => connect_any(ctx, backends).await,
        None => None,
    };
    let Some((upstream, guard)) = connected else {
        ctx.stats.on_no_instance();
        // Reset rather than a FIN: the client must not mistake it for a served, closed session.
        reset(client);
        if let Some(suppressed) = ctx.unserved.allow(Instant::now()) {
            tracing::warn!(
                service = %ctx.service,
                also_unserved_since_last_warning = suppressed,
                "TCP connection closed: no instance could take it",
            );
        }
        return;
    };
    let instance = Arc::clone(&guard.endpoint().instance_id);
    let settings = **ctx.settings.load();
    let ended = relay(client, upstream, &guard, &settings, &ctx.stats).await;
    match ended {
        Ended::Failed(e) => {
            tracing::debug!(service = %ctx.service, %instance, %peer, error = %e, "TCP connection failed")
        }
        ended => {
            tracing::debug!(service = %ctx.service, %instance, %peer, ?ended, "TCP connection closed")
        }
    }
}

/// Connects to one instance, trying each at most once: a refused or timed-out connect ejects
/// the instance (the health checker readmits it), as on the HTTP path.
async fn connect_any(ctx: &Listener, backends: &Backends) -> Option<(TcpStream, TcpConnGuard)> {
    let mut tried: Vec<Arc<Endpoint>> = Vec::new();
    while let Some(guard) = backends.pick_tcp(&tried) {
        let endpoint = Arc::clone(guard.endpoint());
        match connect(endpoint.addr, ctx.settings.load().connect_timeout).await {
            // It started draining while we connected: nothing was sent, so go elsewhere.
            Ok(_) if endpoint.is_draining() => {}
            Ok(stream) => return Some((stream, guard)),
            Err(e) => {
                ctx.stats.on_connect_failure();
                // A transport failure on this instance, whichever protocol found it.
                endpoint.record_failure();
                if matches!(e, ConnectError::Refused(_) | ConnectError::Timeout(_)) {
                    endpoint.eject();
                    tracing::info!(
                        service = %ctx.service,
                        instance = %endpoint.instance_id,
                        error = %e,
                        "TCP connect failed; instance ejected until its next passing check",
                    );
                } else {
                    tracing::debug!(service = %ctx.service, instance = %endpoint.instance_id, error = %e, "TCP connect failed");
                }
            }
        }
        tried.push(endpoint);
    }
    None
}

/// A TCP connect within `timeout`, its failure classified as for HTTP connections.
async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, ConnectError> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Err(_) => Err(ConnectError::Timeout(addr)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(ConnectError::Refused(addr))
        }
        Ok(Err(e)) => Err(ConnectError::Other(addr, e.to_string())),
        Ok(Ok(stream)) => Ok(stream),
    }
}
