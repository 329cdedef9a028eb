//! The gateway's listener: accepts client connections (bounded), serves HTTP/1.1 with header-size
//! and header-time limits, and on shutdown stops accepting and lets in-flight requests finish.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::Shared;

/// Client connections served at once; further clients wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 16_384;

/// Serves until `shutdown` resolves, then waits up to `grace` for open requests to finish.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.header_timeout)
        .max_buf_size(shared.max_header_bytes.max(8192) + 8192)
        .max_header_size(shared.max_header_bytes)
        .keep_alive(true);
    tokio::pin!(shutdown);

    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("semaphore never closed"),
        };
        let (stream, client) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        let client_ip = crate::headers::client_header(client.ip());
        let service = service_fn(move |req| {
            let shared = Arc::clone(&shared);
            let client_ip = client_ip.clone();
            async move {
                Ok::<_, std::convert::Infallible>(
                    crate::proxy::handle(&shared, req, &client_ip).await,
                )
            }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%client, error = %e, "client connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(grace) => {
            tracing::warn!("gateway shutdown grace of {grace:?} elapsed with requests still open");
        }
    }
    Ok(())
}
