//! JSON CRUD API under `/api/tasks`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use crate::db::Task;
use crate::error::{ApiError, ApiJson, ApiPath};
use crate::state::SharedState;

/// Longest accepted title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Checks a title and returns it trimmed; the error is user-facing.
pub fn validate_title(raw: &str) -> Result<String, String> {
    let title = raw.trim();
    if title.is_empty() {
        return Err("title must not be empty".to_string());
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(format!(
            "title must be at most {MAX_TITLE_CHARS} characters"
        ));
    }
    Ok(title.to_string())
}

/// Body of `POST /api/tasks`.
#[derive(Debug, Deserialize)]
pub struct NewTask {
    /// Title of the new task.
    pub title: String,
}

/// Body of `PUT /api/tasks/{id}`; absent fields stay unchanged.
#[derive(Debug, Deserialize)]
pub struct TaskPatch {
    /// New title, if changing it.
    pub title: Option<String>,
    /// New done state, if changing it.
    pub done: Option<bool>,
}

/// `GET /api/tasks`: every task, oldest first.
pub async fn list(State(state): State<SharedState>) -> Result<Json<Vec<Task>>, ApiError> {
    Ok(Json(state.db.list_tasks().await?))
}

/// `POST /api/tasks`: creates a task, answering 201 with it.
pub async fn create(
    State(state): State<SharedState>,
    ApiJson(body): ApiJson<NewTask>,
) -> Result<impl IntoResponse, ApiError> {
    let title = validate_title(&body.title).map_err(ApiError::bad_request)?;
    let task = state.db.create_task(title).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

/// `GET /api/tasks/{id}`.
pub async fn get(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Task>, ApiError> {
    state
        .db
        .get_task(id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(id))
}

/// `PUT /api/tasks/{id}`: changes title and/or done state.
pub async fn update(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<TaskPatch>,
) -> Result<Json<Task>, ApiError> {
    let title = patch
        .title
        .as_deref()
        .map(validate_title)
        .transpose()
        .map_err(ApiError::bad_request)?;
    state
        .db
        .update_task(id, title, patch.done)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(id))
}

/// `DELETE /api/tasks/{id}`: 204 when deleted.
pub async fn delete(
    State(state): State<SharedState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if state.db.delete_task(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("task {id} not found"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(validate_title("  buy milk "), Ok("buy milk".to_string()));
        assert!(validate_title("").is_err());
        assert!(validate_title("   ").is_err());
        assert!(validate_title(&"x".repeat(200)).is_ok());
        assert!(validate_title(&"x".repeat(201)).is_err());
        // Characters, not bytes.
        assert!(validate_title(&"é".repeat(200)).is_ok());
    }
}
