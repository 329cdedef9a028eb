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
        .route("/v1", get(index))
        .route("/v1/status", get(status))
        .route("/v1/history", get(history_of_traffic))
        .route("/v1/stream", get(crate::stream::stream))
        .route("/v1/discovery/prometheus", get(crate::metrics::discovery))
        .route("/metrics", get(crate::metrics::metrics))
        .route("/v1/events", get(events))
        .route("/v1/catalog/services", get(crate::catalog::services))
        .route("/v1/catalog/service/{name}", get(crate::catalog::service))
        .route("/v1/health/service/{name}", get(crate::catalog::health))
        .route(
            "/v1/agent/health/service/name/{name}",
            get(crate::catalog::agent_health),
        )
        .route("/v1/services/{name}/scale", post(scale))
        .route("/v1/services/{name}/promote", post(promote))
        .route("/v1/services/{name}/rollback", post(rollback))
        .route("/v1/services/{name}/history", get(history))
        .route("/v1/apply", post(apply))
        .route("/v1/shutdown", post(shutdown))
        .merge(shoal_dashboard::router())
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
            ControlError::UnknownService { .. } | ControlError::UnknownRevision { .. } => {
                StatusCode::NOT_FOUND
            }
            ControlError::OutOfRange { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ControlError::Refused(_) => StatusCode::CONFLICT,
            ControlError::Stopping => StatusCode::SERVICE_UNAVAILABLE,
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
        concat!(
            "shoal admin API\n\n",
            "GET  /            the dashboard\n",
            "GET  /metrics     Prometheus metrics\n",
            "GET  /v1/status\n",
            "GET  /v1/history  the last 15 minutes per service, one sample a second\n",
            "GET  /v1/stream   server-sent events: status every second, events as they happen\n",
            "GET  /v1/discovery/prometheus   http_sd_configs targets\n",
            "GET  /v1/events?since=N&limit=N\n",
            "GET  /v1/catalog/services           Consul-shaped catalog (read-only; ?index=N&wait=30s blocks)\n",
            "GET  /v1/catalog/service/{name}\n",
            "GET  /v1/health/service/{name}      ?passing for healthy instances only\n",
            "GET  /v1/agent/health/service/name/{name}   ?format=text\n",
            "GET  /v1/services/{name}/history\n",
            "POST /v1/services/{name}/scale     {\"count\": N} or {\"delta\": N}\n",
            "POST /v1/services/{name}/promote   {\"full\": false}\n",
            "POST /v1/services/{name}/rollback  {\"to\": N} (optional)\n",
            "POST /v1/apply                     {\"path\": \"/abs/shoal.toml\", \"source\": \"...\", \"dry_run\": false}\n",
            "POST /v1/shutdown\n",
        ),
    )
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {} {}", req.method(), req.uri().path()),
        Some("GET /v1 lists the endpoints"),
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

/// A JSON body, or a 400 that says what was expected.
fn json_body<T>(body: Result<Json<T>, JsonRejection>, expected: &str) -> Result<T, ApiError> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text(), Some(expected)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PromoteBody {
    #[serde(default)]
    full: bool,
}

async fn promote(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Option<Json<PromoteBody>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let how = if body.is_some_and(|Json(b)| b.full) {
        crate::Promote::Full
    } else {
        crate::Promote::Step
    };
    let message = state.controller.promote(&name, how).await?;
    Ok(Json(json!({ "message": message })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    to: Option<u64>,
}

async fn rollback(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    body: Option<Json<RollbackBody>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let to = body.and_then(|Json(b)| b.to);
    let message = state.controller.rollback(&name, to).await?;
    Ok(Json(json!({ "message": message })))
}

async fn history(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let history = state.controller.history(&name)?;
    let revisions: Vec<serde_json::Value> = history
        .revisions
        .iter()
        .map(|r| {
            json!({
                "revision": r.number,
                "created": r.created,
                "status": r.status,
                "note": r.note,
                "summary": r.template.summary(),
                "active": r.number == history.active,
            })
        })
        .collect();
    Ok(Json(json!({
        "service": name,
        "active": history.active,
        "revisions": revisions,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyBody {
    path: std::path::PathBuf,
    source: String,
    #[serde(default)]
    dry_run: bool,
}

async fn apply(
    State(state): State<AdminState>,
    body: Result<Json<ApplyBody>, JsonRejection>,
) -> Result<Json<crate::ApplyOutcome>, ApiError> {
    let body = json_body(
        body,
        r#"send {"path": "/abs/path/shoal.toml", "source": "<the file's text>", "dry_run": false}"#,
    )?;
    if !body.path.is_absolute() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "path must be absolute (relative paths in the spec are resolved against its directory)",
            None,
        ));
    }
    let opts = shoal_spec::LoadOptions {
        check_ports: false,
        check_programs: true,
    };
    let next = shoal_spec::parse(&body.source, &body.path, &opts).map_err(|d| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            d.to_string(),
            Some("fix the spec (`shoal validate -f FILE` shows the same) and apply again; nothing was changed"),
        )
    })?;
    match state.controller.apply(next, body.dry_run).await {
        Ok(outcome) => Ok(Json(outcome)),
        Err(e @ crate::ApplyRefused::NeedsRestart(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            e.to_string(),
            Some("stop shoal (`shoal down`) and start it again with the new file"),
        )),
        Err(e @ crate::ApplyRefused::StillStopping(_)) => {
            Err(ApiError::new(StatusCode::CONFLICT, e.to_string(), None))
        }
        Err(e @ crate::ApplyRefused::PortTaken(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            e.to_string(),
            Some(
                "stop what uses the port, or give the service another tcp address, and apply again",
            ),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
            None,
        )),
    }
}

async fn history_of_traffic(State(state): State<AdminState>) -> Json<serde_json::Value> {
    Json(json!({ "services": state.controller.registry().trends() }))
}
