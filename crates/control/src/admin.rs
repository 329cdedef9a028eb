//! The admin API on `admin.listen`: reads are open on loopback, every mutation needs the token
//! (`Authorization: Bearer …`). Errors are JSON `{"error": …, "hint": …}` with a fitting status.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use crate::{ControlError, Controller, ScaleTarget};

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The running services.
    pub controller: Arc<Controller>,
    /// The admin token.
    pub token: Arc<str>,
    /// Set to true by `POST /v1/shutdown` (`shoal down`).
    pub shutdown: watch::Sender<bool>,
    /// The gateway's bound address, shown in status.
    pub gateway_addr: String,
}

/// The admin API's routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/v1/status", get(status))
        .route("/v1/events", get(events))
        .route("/v1/services/{name}/scale", post(scale))
        .route("/v1/shutdown", post(shutdown))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// A JSON error answer.
struct ApiError {
    status: StatusCode,
    error: String,
    hint: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, error: impl Into<String>, hint: Option<&str>) -> Self {
        Self {
            status,
            error: error.into(),
            hint: hint.map(str::to_string),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.error });
        if let Some(h) = self.hint {
            body["hint"] = json!(h);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        let status = match e {
            ControlError::UnknownService { .. } => StatusCode::NOT_FOUND,
            ControlError::OutOfRange { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, e.to_string(), None)
    }
}

async fn require_token(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !crate::token_matches(&state.token, given.trim()) {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this call changes shoal and needs the admin token",
                Some("send `Authorization: Bearer <token>`; the token is in <data_dir>/token (the CLI reads it, or set SHOAL_TOKEN)"),
            )
            .into_response();
        }
    }
    next.run(req).await
}

async fn index() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "shoal admin API\n\nGET  /v1/status\nGET  /v1/events?since=N&limit=N\nPOST /v1/services/{name}/scale  {\"count\": N} or {\"delta\": N}\nPOST /v1/shutdown\n",
    )
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {} {}", req.method(), req.uri().path()),
        Some("GET / lists the endpoints"),
    )
}

#[derive(Serialize)]
struct StatusBody {
    gateway: String,
    data_dir: String,
    #[serde(flatten)]
    report: crate::StatusReport,
}

async fn status(State(state): State<AdminState>) -> Json<StatusBody> {
    Json(StatusBody {
        gateway: state.gateway_addr.clone(),
        data_dir: state.controller.spec().admin.data_dir.display().to_string(),
        report: state.controller.registry().status(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    #[serde(default)]
    since: u64,
    #[serde(default = "default_limit")]
    limit: usize,
}

fn default_limit() -> usize {
    200
}

async fn events(
    State(state): State<AdminState>,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            e.body_text(),
            Some("use ?since=N&limit=N"),
        )
    })?;
    let events = state
        .controller
        .registry()
        .events_since(q.since, q.limit.min(1000));
    Ok(Json(json!({ "events": events })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScaleBody {
    count: Option<u32>,
    delta: Option<i64>,
}

async fn scale(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Result<Json<ScaleBody>, JsonRejection>,
) -> Result<Json<crate::ScaleOutcome>, ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            e.body_text(),
            Some(r#"send {"count": N} or {"delta": N}"#),
        )
    })?;
    let target = match (body.count, body.delta) {
        (Some(n), None) => ScaleTarget::To(n),
        (None, Some(d)) => ScaleTarget::By(d),
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "give exactly one of count and delta",
                Some(r#"send {"count": N} or {"delta": N}"#),
            ))
        }
    };
    Ok(Json(state.controller.scale(&name, target)?))
}

async fn shutdown(State(state): State<AdminState>) -> Json<serde_json::Value> {
    state.shutdown.send_replace(true);
    Json(json!({ "shutting_down": true }))
}
