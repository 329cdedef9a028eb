//! SQLite storage shared by every instance of the app.
//!
//! All instances open the same file at once, so the database runs in WAL mode
//! with a generous busy timeout, and every query runs on a blocking thread so
//! lock waits never stall the async runtime.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{params, Connection, ErrorCode, OptionalExtension, Row};
use serde::Serialize;

/// How long a statement waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema; `IF NOT EXISTS` keeps concurrent first starts race-free.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT    NOT NULL,
    done       INTEGER NOT NULL DEFAULT 0,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS heartbeats (
    instance_id TEXT    PRIMARY KEY,
    last_seen   INTEGER NOT NULL
);
";

const TASK_COLUMNS: &str = "id, title, done, created_at";

/// One task as stored and as served by the JSON API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    /// Row id, stable across instances.
    pub id: i64,
    /// User-supplied title (1..=200 characters).
    pub title: String,
    /// Whether the task is finished.
    pub done: bool,
    /// Creation time in RFC 3339 (UTC).
    pub created_at: String,
}

impl Task {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Task> {
        Ok(Task {
            id: row.get(0)?,
            title: row.get(1)?,
            done: row.get(2)?,
            created_at: row.get(3)?,
        })
    }
}

/// Why a database call failed.
#[derive(Debug)]
pub enum DbError {
    /// SQLite reported an error.
    Sqlite(rusqlite::Error),
    /// The blocking thread running the query panicked or was cancelled.
    Worker(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(err) => write!(f, "sqlite: {err}"),
            DbError::Worker(err) => write!(f, "database worker: {err}"),
        }
    }
}

impl std::error::Error for DbError {}

impl From<rusqlite::Error> for DbError {
    fn from(err: rusqlite::Error) -> Self {
        DbError::Sqlite(err)
    }
}

/// Handle to this instance's connection; cheap to clone into handlers.
///
/// One connection per instance is plenty for a demo app; the mutex is only
/// ever taken on blocking threads.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    /// Opens (and if needed creates) the shared database file.
    pub async fn open(path: &Path) -> Result<Db, DbError> {
        let path = path.to_path_buf();
        let conn = tokio::task::spawn_blocking(move || open_blocking(&path))
            .await
            .map_err(|err| DbError::Worker(err.to_string()))??;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` with the connection on a blocking thread.
    async fn call<R, F>(&self, f: F) -> Result<R, DbError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&conn)
        })
        .await
        .map_err(|err| DbError::Worker(err.to_string()))?
        .map_err(DbError::from)
    }

    /// All tasks, oldest first.
    pub async fn list_tasks(&self) -> Result<Vec<Task>, DbError> {
        self.call(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {TASK_COLUMNS} FROM tasks ORDER BY id"))?;
            let tasks = stmt.query_map([], Task::from_row)?;
            tasks.collect()
        })
        .await
    }

    /// One task, or `None` if no task has that id.
    pub async fn get_task(&self, id: i64) -> Result<Option<Task>, DbError> {
        self.call(move |conn| {
            conn.query_row(
                &format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?1"),
                [id],
                Task::from_row,
            )
            .optional()
        })
        .await
    }

    /// Inserts a new, unfinished task. The title must already be validated.
    pub async fn create_task(&self, title: String) -> Result<Task, DbError> {
        self.call(move |conn| {
            conn.query_row(
                &format!("INSERT INTO tasks (title) VALUES (?1) RETURNING {TASK_COLUMNS}"),
                [title],
                Task::from_row,
            )
        })
        .await
    }

    /// Changes the given fields; `None` if no task has that id.
    pub async fn update_task(
        &self,
        id: i64,
        title: Option<String>,
        done: Option<bool>,
    ) -> Result<Option<Task>, DbError> {
        self.call(move |conn| {
            conn.query_row(
                &format!(
                    "UPDATE tasks SET title = COALESCE(?1, title), done = COALESCE(?2, done) \
                     WHERE id = ?3 RETURNING {TASK_COLUMNS}"
                ),
                params![title, done, id],
                Task::from_row,
            )
            .optional()
        })
        .await
    }

    /// Flips a task's done state; `false` if no task has that id.
    pub async fn toggle_task(&self, id: i64) -> Result<bool, DbError> {
        self.call(move |conn| {
            conn.execute("UPDATE tasks SET done = NOT done WHERE id = ?1", [id])
                .map(|changed| changed > 0)
        })
        .await
    }

    /// Removes a task; `false` if no task has that id.
    pub async fn delete_task(&self, id: i64) -> Result<bool, DbError> {
        self.call(move |conn| {
            conn.execute("DELETE FROM tasks WHERE id = ?1", [id])
                .map(|changed| changed > 0)
        })
        .await
    }

    /// Number of tasks, for the metrics gauge.
    pub async fn count_tasks(&self) -> Result<i64, DbError> {
        self.call(|conn| conn.query_row("SELECT COUNT(*) FROM tasks", [], |row| row.get(0)))
            .await
    }

    /// Records that `instance_id` was alive at `now_ms` (Unix milliseconds).
    pub async fn heartbeat(&self, instance_id: String, now_ms: i64) -> Result<(), DbError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO heartbeats (instance_id, last_seen) VALUES (?1, ?2) \
                 ON CONFLICT (instance_id) DO UPDATE SET last_seen = excluded.last_seen",
                params![instance_id, now_ms],
            )
            .map(drop)
        })
        .await
    }

    /// Forgets an instance, so it stops counting as live right away.
    pub async fn remove_heartbeat(&self, instance_id: String) -> Result<(), DbError> {
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM heartbeats WHERE instance_id = ?1",
                [instance_id],
            )
            .map(drop)
        })
        .await
    }

    /// Number of distinct instances seen at or after `since_ms`.
    pub async fn live_instances(&self, since_ms: i64) -> Result<i64, DbError> {
        self.call(move |conn| {
            conn.query_row(
                "SELECT COUNT(DISTINCT instance_id) FROM heartbeats WHERE last_seen >= ?1",
                [since_ms],
                |row| row.get(0),
            )
        })
        .await
    }
}

/// Opens the file, switches it to WAL and creates the schema.
///
/// Several instances usually start at the same moment against a fresh file;
/// the journal-mode switch can report `SQLITE_BUSY` without consulting the
/// busy handler, so setup is retried for a while.
fn open_blocking(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mut attempt = 0;
    loop {
        match setup(&conn) {
            Ok(()) => return Ok(conn),
            Err(err) if is_busy(&err) && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => return Err(err),
        }
    }
}

fn setup(conn: &Connection) -> rusqlite::Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "database did not switch to WAL journal mode");
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(SCHEMA)
}

fn is_busy(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("taskboard-db-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("test.db")
    }

    #[tokio::test]
    async fn crud_and_heartbeats() {
        let path = temp_db("crud");
        let db = Db::open(&path).await.unwrap();
        let other = Db::open(&path).await.unwrap();

        let task = db.create_task("write tests".into()).await.unwrap();
        assert!(!task.done);
        assert!(task.created_at.ends_with('Z'), "{}", task.created_at);
        assert_eq!(other.get_task(task.id).await.unwrap(), Some(task.clone()));

        let updated = other
            .update_task(task.id, None, Some(true))
            .await
            .unwrap()
            .unwrap();
        assert!(updated.done);
        assert_eq!(updated.title, "write tests");
        assert!(db.toggle_task(task.id).await.unwrap());
        assert!(!db.get_task(task.id).await.unwrap().unwrap().done);
        assert_eq!(db.count_tasks().await.unwrap(), 1);
        assert!(db.delete_task(task.id).await.unwrap());
        assert!(!db.delete_task(task.id).await.unwrap());
        assert_eq!(db.update_task(task.id, None, None).await.unwrap(), None);

        db.heartbeat("a".into(), 1_000).await.unwrap();
        db.heartbeat("b".into(), 5_000).await.unwrap();
        db.heartbeat("a".into(), 6_000).await.unwrap();
        assert_eq!(db.live_instances(4_000).await.unwrap(), 2);
        db.remove_heartbeat("b".into()).await.unwrap();
        assert_eq!(db.live_instances(4_000).await.unwrap(), 1);

        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
