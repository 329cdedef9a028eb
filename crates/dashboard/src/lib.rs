//! The web dashboard: HTML, CSS and JavaScript written here and embedded in the binary (no npm
//! build, no CDN). It reads the admin API (`/v1/status`, `/v1/events`, `/v1/stream`) like any
//! other client, so it can never show what the API would not.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

/// Routes serving the dashboard at `/`, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/", get(index))
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<!doctype html><title>shoal</title><p>The dashboard is being built. The API is at <a href=\"/v1\">/v1</a>.</p>",
    )
}
