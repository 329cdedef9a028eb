//! `/metrics` (Prometheus text format) and `/v1/discovery/prometheus` (`http_sd_configs`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::AdminState;

/// `GET /metrics`.
pub(crate) async fn metrics(State(_state): State<AdminState>) -> impl IntoResponse {
    (StatusCode::NOT_IMPLEMENTED, "not yet\n")
}

/// `GET /v1/discovery/prometheus`.
pub(crate) async fn discovery(State(_state): State<AdminState>) -> impl IntoResponse {
    (StatusCode::NOT_IMPLEMENTED, "not yet\n")
}
