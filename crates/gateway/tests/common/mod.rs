//! Helpers shared by the integration tests: real HTTP/1.1 servers and clients on loopback, and a
//! gateway configuration with short timeouts.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use shoal_gateway::{Gateway, GatewayConfig, PoolConfig};
use tokio::net::{TcpListener, TcpStream};

pub type Handler = Arc<dyn Fn(Request<Incoming>) -> BoxFut + Send + Sync>;
pub type BoxFut =
    std::pin::Pin<Box<dyn std::future::Future<Output = Response<Full<Bytes>>> + Send>>;
/// The sending half of a client connection.
pub type Client = hyper::client::conn::http1::SendRequest<
    http_body_util::combinators::BoxBody<Bytes, Infallible>,
>;

/// A real HTTP/1.1 server on a free loopback port, answering with `handler`.
pub async fn backend(handler: Handler) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// Gateway settings with short timeouts, so failure tests finish quickly.
pub fn config() -> GatewayConfig {
    GatewayConfig {
        response_timeout: Duration::from_secs(2),
        header_timeout: Duration::from_secs(5),
        max_header_bytes: 16 * 1024,
        retry_budget: 0.2,
        pool: PoolConfig {
            connect_timeout: Duration::from_millis(500),
            ..PoolConfig::default()
        },
        runtime: None,
    }
}

/// Serves `gw` on a free loopback port until the test ends.
pub async fn serve(gw: &Arc<Gateway>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let g = Arc::clone(gw);
    tokio::spawn(async move {
        g.serve(listener, std::future::pending(), Duration::from_secs(1))
            .await
            .unwrap()
    });
    addr
}

/// A keep-alive client.
pub async fn client(addr: SocketAddr) -> Client {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}
