//! `/v1/stream`: server-sent events for live views (the dashboard).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::AdminState;

/// `GET /v1/stream`.
pub(crate) async fn stream(State(_state): State<AdminState>) -> impl IntoResponse {
    (StatusCode::NOT_IMPLEMENTED, "not yet\n")
}
