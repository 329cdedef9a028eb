//! Heartbeats let every instance count its live peers through the shared
//! database, without knowing anything about the orchestrator.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::db::{Db, DbError};

/// How often each instance records that it is alive.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// How recent a heartbeat must be for its instance to count as live.
pub const LIVE_WINDOW: Duration = Duration::from_secs(10);

/// Current wall-clock time in Unix milliseconds (comparable across processes).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Records one heartbeat now.
pub async fn beat(db: &Db, instance_id: &str) -> Result<(), DbError> {
    db.heartbeat(instance_id.to_string(), now_ms()).await
}

/// Number of instances with a heartbeat inside the live window.
pub async fn live_instances(db: &Db) -> Result<i64, DbError> {
    db.live_instances(now_ms() - LIVE_WINDOW.as_millis() as i64)
        .await
}

/// Spawns the background task that beats every [`INTERVAL`] until aborted.
pub fn spawn(db: Db, instance_id: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(err) = beat(&db, &instance_id).await {
                tracing::warn!(%err, "heartbeat failed");
            }
        }
    })
}
