//! The route table and the middleware wrapped around it.

use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post, put};
use axum::Router;

use crate::state::SharedState;
use crate::{api, failure, metrics, ops, pages};

/// Builds the full application.
///
/// Metrics wrap failure injection, so injected 500s are counted like any
/// other response.
pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/tasks", post(pages::create))
        .route("/tasks/{id}/toggle", post(pages::toggle))
        .route("/tasks/{id}/delete", post(pages::delete))
        .route("/api/tasks", get(api::list).post(api::create))
        .route(
            "/api/tasks/{id}",
            get(api::get).put(api::update).delete(api::delete),
        )
        .route("/health", get(ops::health))
        .route("/health/fail", put(ops::health_fail))
        .route("/health/ok", put(ops::health_ok))
        .route("/instance", get(ops::instance))
        .route("/work", get(ops::work))
        .route("/sleep", get(ops::sleep))
        .route("/metrics", get(metrics::render))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            failure::inject,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}
