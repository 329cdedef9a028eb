//! Body types of the proxy: request bodies stream to instances unbuffered; response bodies stream
//! back to clients and hold their endpoint's in-flight slot until the last byte (so draining waits
//! for slow downloads too) before returning the connection to the pool.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;

use crate::endpoint::{Endpoint, InflightGuard};

/// Body sent to an instance or to a client.
pub type ProxyBody = UnsyncBoxBody<Bytes, hyper::Error>;

/// An empty body (bodiless requests, and error answers built from text).
pub fn empty() -> ProxyBody {
    http_body_util::Empty::new()
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A fixed text body.
pub fn full(text: impl Into<Bytes>) -> ProxyBody {
    http_body_util::Full::new(text.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An instance's response body on its way to the client.
pub(crate) struct UpstreamBody {
    inner: Incoming,
    /// Released when the body ends or is dropped.
    guard: Option<InflightGuard>,
    /// Given back to the pool once the body has ended cleanly.
    conn: Option<SendRequest<ProxyBody>>,
}

impl UpstreamBody {
    pub(crate) fn new(inner: Incoming, guard: InflightGuard, conn: SendRequest<ProxyBody>) -> Self {
        Self {
            inner,
            guard: Some(guard),
            conn: Some(conn),
        }
    }

    fn finish(&mut self, clean: bool) {
        if let Some(guard) = self.guard.take() {
            if let Some(conn) = self.conn.take() {
                if clean {
                    return_when_ready(Arc::clone(guard.endpoint()), conn);
                }
            }
        }
    }
}

/// The connection is reusable once hyper has seen the response end; that happens right after the
/// last frame, so wait for readiness on a small task instead of in the client's path.
fn return_when_ready(endpoint: Arc<Endpoint>, mut conn: SendRequest<ProxyBody>) {
    if conn.is_ready() {
        endpoint.pool.checkin(conn);
        return;
    }
    tokio::spawn(async move {
        if conn.ready().await.is_ok() {
            endpoint.pool.checkin(conn);
        }
    });
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.finish(true),
            Poll::Ready(Some(Err(_))) => self.finish(false),
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.finish(true),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        // Dropped early (client went away): the connection may hold unread bytes, so close it.
        self.conn.take();
        self.guard.take();
    }
}
