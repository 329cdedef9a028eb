//! Operational routes used to drive and observe the gateway: health checks
//! with a manual failure switch, instance identity, and synthetic CPU work and
//! slow requests.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::error::{ApiError, ApiQuery};
use crate::state::SharedState;

/// Longest accepted `/work` duration.
pub const MAX_WORK_MS: u64 = 60_000;
/// Longest accepted `/sleep` duration.
pub const MAX_SLEEP_MS: u64 = 600_000;

/// Query of `/work` and `/sleep`.
#[derive(Debug, Deserialize)]
pub struct Millis {
    /// Duration in milliseconds.
    pub ms: u64,
}

/// `GET /health`: 200 `ok`, or 503 `failing` while switched off.
pub async fn health(State(state): State<SharedState>) -> (StatusCode, &'static str) {
    if state.health.is_failing() {
        (StatusCode::SERVICE_UNAVAILABLE, "failing")
    } else {
        (StatusCode::OK, "ok")
    }
}

/// `PUT /health/fail`: make this instance fail its health checks.
pub async fn health_fail(State(state): State<SharedState>) -> &'static str {
    state.health.set_failing(true);
    tracing::info!(instance = %state.info.id, "health switched to failing");
    "failing"
}

/// `PUT /health/ok`: make this instance pass its health checks again.
pub async fn health_ok(State(state): State<SharedState>) -> &'static str {
    state.health.set_failing(false);
    tracing::info!(instance = %state.info.id, "health switched to ok");
    "ok"
}

/// Body of `GET /instance`.
#[derive(Debug, Serialize)]
pub struct InstanceReport {
    /// Instance name.
    pub instance: String,
    /// Process id.
    pub pid: u32,
    /// Bound port.
    pub port: u16,
    /// Application version.
    pub version: String,
    /// Deployment revision, if known.
    pub revision: Option<String>,
    /// Service name, if known.
    pub service: Option<String>,
    /// Milliseconds since the instance started serving.
    pub uptime_ms: u64,
    /// Requests received so far, this one included.
    pub requests: u64,
}

/// `GET /instance`: who answered, so load balancing can be observed.
pub async fn instance(State(state): State<SharedState>) -> Json<InstanceReport> {
    let info = &state.info;
    Json(InstanceReport {
        instance: info.id.clone(),
        pid: info.pid,
        port: info.port,
        version: info.version.clone(),
        revision: info.revision.clone(),
        service: info.service.clone(),
        uptime_ms: state.started.elapsed().as_millis() as u64,
        requests: state.metrics.requests(),
    })
}

/// `GET /work?ms=N`: keeps one CPU busy for N ms (capped) on a blocking
/// thread, to load an instance for real.
pub async fn work(
    State(state): State<SharedState>,
    ApiQuery(query): ApiQuery<Millis>,
) -> Result<Json<Value>, ApiError> {
    let ms = query.ms.min(MAX_WORK_MS);
    tokio::task::spawn_blocking(move || burn_cpu(Duration::from_millis(ms)))
        .await
        .map_err(|err| ApiError::internal(format!("work failed: {err}")))?;
    Ok(Json(json!({ "instance": state.info.id, "worked_ms": ms })))
}

/// `GET /sleep?ms=N`: answers after N ms (capped) without using CPU, to hold
/// connections open.
pub async fn sleep(
    State(state): State<SharedState>,
    ApiQuery(query): ApiQuery<Millis>,
) -> Json<Value> {
    let ms = query.ms.min(MAX_SLEEP_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({ "instance": state.info.id, "slept_ms": ms }))
}

/// Spins until `duration` has passed.
fn burn_cpu(duration: Duration) {
    let deadline = Instant::now() + duration;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while Instant::now() < deadline {
        for _ in 0..1_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}
