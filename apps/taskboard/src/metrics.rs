//! Request accounting and the Prometheus `/metrics` endpoint.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::state::SharedState;

/// Route label for requests that matched no route.
const UNMATCHED: &str = "unmatched";

/// Counters kept by one instance since it started.
#[derive(Default)]
pub struct Metrics {
    /// Completed requests by (route template, status code).
    by_route: Mutex<BTreeMap<(String, u16), u64>>,
    /// Requests received, including ones still running.
    received: AtomicU64,
    /// Requests currently being handled.
    in_flight: AtomicI64,
}

impl Metrics {
    /// Requests received so far, including the ones still in progress.
    pub fn requests(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    fn record(&self, route: &str, status: u16) {
        let mut by_route = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        *by_route.entry((route.to_string(), status)).or_default() += 1;
    }

    fn snapshot(&self) -> Vec<((String, u16), u64)> {
        let by_route = self.by_route.lock().unwrap_or_else(|p| p.into_inner());
        by_route.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// Keeps the in-flight gauge right even when a client disconnects mid-request
/// and the handler future is dropped.
struct InFlight<'a>(&'a AtomicI64);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a AtomicI64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware counting every request by route and status, and logging it at
/// debug level (instances run many at a time, so info would be noisy).
pub async fn track(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let metrics = &state.metrics;
    metrics.received.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight::enter(&metrics.in_flight);
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_string())
        .unwrap_or_else(|| UNMATCHED.to_string());

    let response = next.run(request).await;

    let status = response.status().as_u16();
    metrics.record(&route, status);
    tracing::debug!(
        %method,
        path,
        status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// `GET /metrics`: Prometheus text exposition format.
pub async fn render(State(state): State<SharedState>) -> Response {
    let tasks = match state.db.count_tasks().await {
        Ok(count) => Some(count),
        Err(err) => {
            tracing::warn!(%err, "could not count tasks for metrics");
            None
        }
    };
    let info = &state.info;
    let mut out = String::new();

    family(
        &mut out,
        "taskboard_up",
        "gauge",
        "Whether this instance is up.",
    );
    out.push_str("taskboard_up 1\n");

    family(
        &mut out,
        "taskboard_info",
        "gauge",
        "Identity of this instance; the value is always 1.",
    );
    let _ = writeln!(
        out,
        "taskboard_info{{instance=\"{}\",version=\"{}\"}} 1",
        label(&info.id),
        label(&info.version)
    );

    family(
        &mut out,
        "taskboard_requests_total",
        "counter",
        "Completed requests by route and status code.",
    );
    for ((route, status), count) in state.metrics.snapshot() {
        let _ = writeln!(
            out,
            "taskboard_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
            label(&route)
        );
    }

    family(
        &mut out,
        "taskboard_in_flight_requests",
        "gauge",
        "Requests currently being handled.",
    );
    let _ = writeln!(
        out,
        "taskboard_in_flight_requests {}",
        state.metrics.in_flight.load(Ordering::Relaxed)
    );

    family(
        &mut out,
        "taskboard_healthy",
        "gauge",
        "1 unless /health has been switched to failing.",
    );
    let _ = writeln!(
        out,
        "taskboard_healthy {}",
        u8::from(!state.health.is_failing())
    );

    family(
        &mut out,
        "taskboard_uptime_seconds",
        "gauge",
        "Seconds since this instance started serving.",
    );
    let _ = writeln!(
        out,
        "taskboard_uptime_seconds {:.3}",
        state.started.elapsed().as_secs_f64()
    );

    family(
        &mut out,
        "taskboard_tasks",
        "gauge",
        "Tasks currently stored in the shared database.",
    );
    if let Some(count) = tasks {
        let _ = writeln!(out, "taskboard_tasks {count}");
    }

    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn counts_accumulate() {
        let metrics = Metrics::default();
        metrics.record("/", 200);
        metrics.record("/", 200);
        metrics.record("/", 500);
        assert_eq!(
            metrics.snapshot(),
            vec![(("/".to_string(), 200), 2), (("/".to_string(), 500), 1)]
        );
    }
}
