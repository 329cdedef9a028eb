//! Connections to the target and what can go wrong on them.
//!
//! Each connection is a plain hyper HTTP/1.1 client connection over TCP, not a pooled client
//! library, so every failure is seen as it happened (refused, reset, closed early) and can be
//! counted under the right kind, and a closed-model worker really holds one connection.

use std::error::Error as _;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::CONNECTION;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a request got no response, as reported (`errors` in the report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// Nothing listens at the address (the connection was refused).
    Refused,
    /// No complete response within `--timeout`.
    Timeout,
    /// The connection was reset or closed before the response was complete.
    ResetClosed,
    /// Open model only: `--max-inflight` requests were already waiting, so this one was not
    /// sent (sending it would have queued without bound and hidden the overload).
    Dropped,
    /// Anything else (unreachable host, malformed response, ...).
    Other,
}

impl ErrorKind {
    /// The stable name used in reports.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Refused => "connect refused",
            ErrorKind::Timeout => "timeout",
            ErrorKind::ResetClosed => "reset/closed",
            ErrorKind::Dropped => "dropped: too many in flight",
            ErrorKind::Other => "other",
        }
    }
}

/// A failed request: its kind, a message for the report, and whether it failed while connecting
/// (a worker then backs off instead of hammering a closed port).
#[derive(Debug)]
pub(crate) struct TransportError {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
    pub(crate) connecting: bool,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl TransportError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            connecting: false,
        }
    }

    fn connect(e: &io::Error) -> Self {
        Self {
            kind: classify_io(e),
            message: format!("connect: {e}"),
            connecting: true,
        }
    }

    fn http(e: &hyper::Error) -> Self {
        Self::new(classify_hyper(e), e.to_string())
    }
}

fn classify_io(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ErrorKind::Refused,
        io::ErrorKind::TimedOut => ErrorKind::Timeout,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ErrorKind::ResetClosed,
        _ => ErrorKind::Other,
    }
}

fn classify_hyper(e: &hyper::Error) -> ErrorKind {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return classify_io(io);
        }
        source = s.source();
    }
    if e.is_timeout() {
        ErrorKind::Timeout
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        ErrorKind::ResetClosed
    } else {
        ErrorKind::Other
    }
}

/// Opens connections to the target's addresses (resolved once, before the run).
#[derive(Debug, Clone)]
pub(crate) struct Connector {
    addrs: Arc<[SocketAddr]>,
}

impl Connector {
    /// Resolves `host:port` now so that name lookups neither slow nor fail the run itself.
    pub(crate) async fn resolve(host_port: &str) -> io::Result<Self> {
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(host_port).await?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the name resolved to no address",
            ));
        }
        Ok(Self {
            addrs: addrs.into(),
        })
    }

    /// A new connection (tries each resolved address in turn).
    pub(crate) async fn connect(&self) -> Result<Conn, TransportError> {
        let stream = TcpStream::connect(&*self.addrs)
            .await
            .map_err(|e| TransportError::connect(&e))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| TransportError::http(&e))?;
        // Errors of the connection task also fail the request in flight, which reports them.
        tokio::spawn(connection);
        Ok(Conn { sender })
    }
}

/// One keep-alive HTTP/1.1 connection.
pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

/// What a response amounts to once its body has been read.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    /// The server keeps the connection open for another request.
    pub(crate) reusable: bool,
}

impl Conn {
    /// Waits until the connection can take a request; false when it has been closed (by the
    /// server's idle timeout, say), in which case nothing was sent and a new one is needed.
    pub(crate) async fn usable(&mut self) -> bool {
        !self.sender.is_closed() && self.sender.ready().await.is_ok()
    }

    /// Sends `req` and reads the whole response body (a client that stopped at the headers
    /// would measure less than the server does and leave the connection unusable).
    pub(crate) async fn send(
        &mut self,
        req: Request<Full<Bytes>>,
    ) -> Result<Answer, TransportError> {
        let response = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| TransportError::http(&e))?;
        let status = response.status();
        let close = response
            .headers()
            .get_all(CONNECTION)
            .iter()
            .any(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let reusable = !close && response.version() == Version::HTTP_11;
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            frame.map_err(|e| TransportError::http(&e))?;
        }
        Ok(Answer { status, reusable })
    }
}

/// Idle connections shared by the open model's concurrent requests.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    /// An idle connection that still works, or a new one.
    pub(crate) async fn checkout(&self, connector: &Connector) -> Result<Conn, TransportError> {
        loop {
            let conn = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match conn {
                Some(mut c) => {
                    if c.usable().await {
                        return Ok(c);
                    }
                }
                None => return connector.connect().await,
            }
        }
    }

    /// Returns a connection after a complete, reusable response.
    pub(crate) fn checkin(&self, conn: Conn) {
        self.idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_to_kinds() {
        let kind = |k| classify_io(&io::Error::from(k));
        assert_eq!(kind(io::ErrorKind::ConnectionRefused), ErrorKind::Refused);
        assert_eq!(kind(io::ErrorKind::ConnectionReset), ErrorKind::ResetClosed);
        assert_eq!(kind(io::ErrorKind::BrokenPipe), ErrorKind::ResetClosed);
        assert_eq!(kind(io::ErrorKind::TimedOut), ErrorKind::Timeout);
        assert_eq!(kind(io::ErrorKind::PermissionDenied), ErrorKind::Other);
    }
}
