//! The browser UI: one self-contained HTML page plus the form endpoints it
//! posts to (each redirecting back to the page).

use std::fmt::Write as _;

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use crate::api::{validate_title, MAX_TITLE_CHARS};
use crate::db::{DbError, Task};
use crate::heartbeat;
use crate::state::SharedState;

/// Fields of the "add task" form.
#[derive(Debug, Deserialize)]
pub struct NewTaskForm {
    /// Title typed by the user.
    pub title: String,
}

/// `GET /`: the task list.
pub async fn index(State(state): State<SharedState>) -> Response {
    let tasks = match state.db.list_tasks().await {
        Ok(tasks) => tasks,
        Err(err) => return db_failure(err),
    };
    let live = match &state.info.live_instances {
        Some(live) => live.clone(),
        None => match heartbeat::live_instances(&state.db).await {
            Ok(count) => count.to_string(),
            Err(err) => {
                tracing::warn!(%err, "could not count live instances");
                "?".to_string()
            }
        },
    };
    Html(render_index(&state, &tasks, &live)).into_response()
}

/// `POST /tasks`: adds a task from the form.
pub async fn create(
    State(state): State<SharedState>,
    form: Result<Form<NewTaskForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message_page(StatusCode::BAD_REQUEST, "The form was incomplete.");
    };
    let title = match validate_title(&form.title) {
        Ok(title) => title,
        Err(message) => return message_page(StatusCode::BAD_REQUEST, &message),
    };
    match state.db.create_task(title).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(err) => db_failure(err),
    }
}

/// `POST /tasks/{id}/toggle`: flips done/not done.
///
/// A task already deleted (perhaps through another instance) is not an error
/// worth a page of its own; the redirect simply shows the current list.
pub async fn toggle(State(state): State<SharedState>, Path(id): Path<i64>) -> Response {
    match state.db.toggle_task(id).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(err) => db_failure(err),
    }
}

/// `POST /tasks/{id}/delete`: removes a task.
pub async fn delete(State(state): State<SharedState>, Path(id): Path<i64>) -> Response {
    match state.db.delete_task(id).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(err) => db_failure(err),
    }
}

/// Escapes text for use in HTML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn db_failure(err: DbError) -> Response {
    tracing::error!(%err, "database error");
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The task database is unavailable right now.",
    )
}

fn message_page(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>taskboard</title><style>{STYLE}</style></head><body><main class=\"card\">\
         <h1>taskboard</h1><p class=\"notice\">{}</p><p><a href=\"/\">Back to the board</a></p>\
         </main></body></html>",
        escape(message)
    );
    (status, Html(body)).into_response()
}

/// `2024-05-01T12:34:56Z` → `2024-05-01 12:34 UTC`, for display only.
fn display_time(rfc3339: &str) -> String {
    let parts = rfc3339
        .split_once('T')
        .and_then(|(date, time)| Some((date, time.get(..5)?)));
    match parts {
        Some((date, hours_minutes)) => format!("{date} {hours_minutes} UTC"),
        None => rfc3339.to_string(),
    }
}

fn render_index(state: &SharedState, tasks: &[Task], live: &str) -> String {
    let info = &state.info;
    let done = tasks.iter().filter(|task| task.done).count();
    let open = tasks.len() - done;

    let mut items = String::new();
    for task in tasks {
        let (class, mark, toggle_label) = if task.done {
            ("task done", "&#10003;", "Mark as not done")
        } else {
            ("task", "", "Mark as done")
        };
        let _ = write!(
            items,
            "<li class=\"{class}\">\
             <form method=\"post\" action=\"/tasks/{id}/toggle\">\
             <button class=\"check\" type=\"submit\" title=\"{toggle_label}\" \
             aria-label=\"{toggle_label}\">{mark}</button></form>\
             <div class=\"body\"><span class=\"title\">{title}</span>\
             <time datetime=\"{created}\">{created_display}</time></div>\
             <form method=\"post\" action=\"/tasks/{id}/delete\">\
             <button class=\"delete\" type=\"submit\" title=\"Delete task\">Delete</button>\
             </form></li>",
            id = task.id,
            title = escape(&task.title),
            created = escape(&task.created_at),
            created_display = escape(&display_time(&task.created_at)),
        );
    }
    let list = if tasks.is_empty() {
        "<p class=\"empty\">Nothing here yet. Add the first task above.</p>".to_string()
    } else {
        format!("<ul class=\"tasks\">{items}</ul>")
    };

    format!(
        "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<title>taskboard</title>
<style>{STYLE}</style>
</head>
<body>
<main class=\"card\">
<header>
<h1>taskboard</h1>
<span class=\"badge\">{version}</span>
</header>
<p class=\"meta\"><span>served by {id} (pid {pid}, port {port}, version {version})</span>
<span class=\"live\">live instances: {live}</span></p>
<form class=\"add\" method=\"post\" action=\"/tasks\">
<input name=\"title\" required maxlength=\"{MAX_TITLE_CHARS}\" placeholder=\"What needs doing?\" autocomplete=\"off\" autofocus>
<button type=\"submit\">Add task</button>
</form>
{list}
<footer>{open} open &middot; {done} done</footer>
</main>
</body>
</html>
",
        version = escape(&info.version),
        id = escape(&info.id),
        pid = info.pid,
        port = info.port,
        live = escape(live),
    )
}

const STYLE: &str = "
:root {
  --bg: #f4f5f7; --card: #ffffff; --text: #1d2330; --muted: #6b7385;
  --line: #e4e7ec; --accent: #4f46e5; --accent-text: #ffffff; --danger: #c2410c;
  --done: #16a34a;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1117; --card: #181b24; --text: #e6e8ee; --muted: #8b93a7;
    --line: #2a2f3c; --accent: #818cf8; --accent-text: #0f1117; --danger: #fb923c;
    --done: #4ade80;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; min-height: 100vh; background: var(--bg); color: var(--text);
  font: 16px/1.5 system-ui, -apple-system, \"Segoe UI\", Roboto, sans-serif;
  display: flex; justify-content: center; padding: 48px 16px;
}
.card {
  width: 100%; max-width: 640px; background: var(--card); border: 1px solid var(--line);
  border-radius: 16px; padding: 28px 28px 20px; box-shadow: 0 10px 30px rgba(0,0,0,.06);
  align-self: flex-start;
}
header { display: flex; align-items: center; gap: 12px; }
h1 { margin: 0; font-size: 28px; letter-spacing: -0.02em; }
.badge {
  font-size: 12px; font-weight: 600; padding: 2px 10px; border-radius: 999px;
  background: var(--accent); color: var(--accent-text);
}
.meta {
  display: flex; flex-wrap: wrap; justify-content: space-between; gap: 4px 16px;
  margin: 8px 0 20px; color: var(--muted); font-size: 13px;
}
.live { font-variant-numeric: tabular-nums; }
.add { display: flex; gap: 8px; margin-bottom: 20px; }
.add input {
  flex: 1; min-width: 0; padding: 10px 14px; font: inherit; color: inherit;
  background: transparent; border: 1px solid var(--line); border-radius: 10px;
}
.add input:focus { outline: 2px solid var(--accent); outline-offset: -1px; }
button { font: inherit; cursor: pointer; }
.add button {
  padding: 10px 18px; border: 0; border-radius: 10px; font-weight: 600;
  background: var(--accent); color: var(--accent-text);
}
.tasks { list-style: none; margin: 0; padding: 0; }
.task {
  display: flex; align-items: center; gap: 12px; padding: 10px 4px;
  border-top: 1px solid var(--line);
}
.task:first-child { border-top: 0; }
.task form { margin: 0; }
.check {
  width: 24px; height: 24px; padding: 0; border-radius: 50%; line-height: 1;
  border: 2px solid var(--muted); background: transparent; color: var(--accent-text);
  font-size: 13px; font-weight: 700;
}
.done .check { border-color: var(--done); background: var(--done); }
.body { flex: 1; min-width: 0; display: flex; flex-direction: column; }
.title { overflow-wrap: anywhere; }
.done .title { text-decoration: line-through; color: var(--muted); }
time { font-size: 12px; color: var(--muted); }
.delete {
  padding: 4px 10px; font-size: 13px; border-radius: 8px; color: var(--danger);
  background: transparent; border: 1px solid transparent; opacity: .7;
}
.delete:hover { opacity: 1; border-color: var(--danger); }
.empty { color: var(--muted); text-align: center; padding: 24px 0; margin: 0; }
.notice { color: var(--danger); }
a { color: var(--accent); }
footer {
  margin-top: 16px; padding-top: 12px; border-top: 1px solid var(--line);
  color: var(--muted); font-size: 13px;
}
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }

    #[test]
    fn formats_times() {
        assert_eq!(display_time("2024-05-01T12:34:56Z"), "2024-05-01 12:34 UTC");
        assert_eq!(display_time("garbage"), "garbage");
    }
}
