//! Keep-alive connections to one instance. Connecting happens before a request is handed over, so
//! a connect failure never consumes the request and it can go to another instance, whatever its
//! body; a pooled connection that turns out closed gives the request back unsent
//! (`try_send_request`).

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::body::ProxyBody;

/// Limits for each instance's pool.
#[derive(Debug, Clone, Copy)]
pub struct PoolConfig {
    /// Idle connections kept per instance; more are closed when returned.
    pub max_idle: usize,
    /// An idle connection older than this is closed rather than reused.
    pub idle_timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_idle: 256,
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

/// Why a new connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The instance refused the connection: nothing listens there (crashed or not up yet).
    #[error("connection refused by {0}")]
    Refused(SocketAddr),
    /// The connect did not finish in time.
    #[error("connect to {0} timed out")]
    Timeout(SocketAddr),
    /// Any other socket or handshake error.
    #[error("connect to {0} failed: {1}")]
    Other(SocketAddr, String),
}

pub(crate) struct Pool {
    addr: SocketAddr,
    config: PoolConfig,
    idle: Mutex<Vec<Idle>>,
}

struct Idle {
    sender: SendRequest<ProxyBody>,
    since: Instant,
}

impl Pool {
    pub(crate) fn new(addr: SocketAddr, config: PoolConfig) -> Self {
        Self {
            addr,
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A ready idle connection, most recently used first (warm), if any.
    pub(crate) fn checkout(&self) -> Option<SendRequest<ProxyBody>> {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(conn) = idle.pop() {
            if conn.sender.is_ready()
                && now.saturating_duration_since(conn.since) < self.config.idle_timeout
            {
                return Some(conn.sender);
            }
        }
        None
    }

    /// Returns a connection once its response has been read to the end.
    pub(crate) fn checkin(&self, sender: SendRequest<ProxyBody>) {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.retain(|c| {
            !c.sender.is_closed()
                && now.saturating_duration_since(c.since) < self.config.idle_timeout
        });
        if idle.len() < self.config.max_idle {
            idle.push(Idle { sender, since: now });
        }
    }

    /// Opens a new HTTP/1.1 connection; its I/O runs on a task of its own.
    pub(crate) async fn connect(&self) -> Result<SendRequest<ProxyBody>, ConnectError> {
        let addr = self.addr;
        let stream =
            match tokio::time::timeout(self.config.connect_timeout, TcpStream::connect(addr)).await
            {
                Err(_) => return Err(ConnectError::Timeout(addr)),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Err(ConnectError::Refused(addr))
                }
                Ok(Err(e)) => return Err(ConnectError::Other(addr, e.to_string())),
                Ok(Ok(s)) => s,
            };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ConnectError::Other(addr, e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%addr, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Idle connections held now (for tests and status).
    pub(crate) fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}
