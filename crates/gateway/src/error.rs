//! What went wrong with a proxied request, whose fault it was, and the short answer the client
//! gets (Pingora's `ErrorSource`): 404 no route, 502 an instance failed, 503 nothing to send it
//! to, 504 an instance was too slow.

use std::time::Duration;

use http::{header, HeaderValue, Response, StatusCode};

use crate::body::{full, ProxyBody};

/// Who caused a failure; decides the status code family and what is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorSource {
    /// The request itself (unknown route).
    Client,
    /// An instance (refused, reset, too slow).
    Upstream,
    /// shoal itself (nothing routable, shutting down).
    Shoal,
}

/// A request the gateway could not complete.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// No route matches the request's host and path.
    #[error("no route for {path}")]
    NoRoute {
        /// The request path.
        path: String,
    },
    /// The service has no routable instance right now (or, for a request pinned to one side of
    /// a canary split, that side has none).
    #[error("no instance of service {service} is available{}", pinned_suffix(.pinned))]
    NoInstance {
        /// Service name.
        service: String,
        /// The side a pin header held the request to (`canary revision 4`), so whoever pinned
        /// it sees why the other side's instances were not used.
        pinned: Option<String>,
    },
    /// The service is scaled to zero and no instance became ready in time (or too many requests
    /// are already waiting).
    #[error("service {service} is starting and has no ready instance yet ({detail})")]
    ColdStart {
        /// Service name.
        service: String,
        /// Why the request gave up.
        detail: String,
    },
    /// Every instance tried refused or timed out the connection.
    #[error("could not connect to an instance of {service} ({detail})")]
    Connect {
        /// Service name.
        service: String,
        /// The last connect error.
        detail: String,
    },
    /// The instance failed after the request was sent (reset, closed early).
    #[error("instance {instance} failed before answering ({detail})")]
    Upstream {
        /// Instance id.
        instance: String,
        /// Transport error.
        detail: String,
    },
    /// No response headers within the response timeout.
    #[error("instance {instance} did not answer within {}s", timeout.as_secs_f64())]
    Timeout {
        /// Instance id.
        instance: String,
        /// The configured response timeout.
        timeout: Duration,
    },
}

fn pinned_suffix(pinned: &Option<String>) -> String {
    pinned
        .as_deref()
        .map(|side| format!(" (request pinned to {side})"))
        .unwrap_or_default()
}

impl ProxyError {
    /// Who is to blame.
    pub fn source(&self) -> ErrorSource {
        match self {
            ProxyError::NoRoute { .. } => ErrorSource::Client,
            ProxyError::NoInstance { .. } | ProxyError::ColdStart { .. } => ErrorSource::Shoal,
            _ => ErrorSource::Upstream,
        }
    }

    /// The HTTP status the client receives.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NoRoute { .. } => StatusCode::NOT_FOUND,
            ProxyError::NoInstance { .. } | ProxyError::ColdStart { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ProxyError::Connect { .. } | ProxyError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ProxyError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// A short plain-text answer; 503s say when to come back.
    pub fn into_response(self) -> Response<ProxyBody> {
        let status = self.status();
        let mut resp = Response::new(full(format!("shoal: {self}\n")));
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}
