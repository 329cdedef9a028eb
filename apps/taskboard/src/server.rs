//! Instance lifecycle: open the database, bind, serve until SIGTERM/SIGINT,
//! drain in-flight requests, and leave.

use std::error::Error;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::db::Db;
use crate::state::AppState;
use crate::{app, heartbeat, spam};

/// Runs one instance to completion; returns once shutdown has finished.
pub async fn run(config: Config) -> Result<(), Box<dyn Error + Send + Sync>> {
    let db = Db::open(&config.db_path)
        .await
        .map_err(|err| format!("cannot open database {}: {err}", config.db_path.display()))?;

    let wanted = SocketAddr::new(config.bind, config.port);
    let listener = TcpListener::bind(wanted)
        .await
        .map_err(|err| format!("cannot listen on {wanted}: {err}"))?;
    let addr = listener.local_addr()?;
    let state = AppState::new(&config, addr.port(), db.clone());

    // Beat once before accepting traffic, so peers count this instance as
    // soon as it is reachable.
    if let Err(err) = heartbeat::beat(&db, &state.info.id).await {
        tracing::warn!(%err, "initial heartbeat failed");
    }
    let beats = heartbeat::spawn(db.clone(), state.info.id.clone());

    tracing::info!(
        instance = %state.info.id,
        version = %state.info.version,
        db = %config.db_path.display(),
        "listening on http://{addr}"
    );
    if config.log_spam_bps > 0 {
        spam::spawn(config.log_spam_bps, &state.info.id);
    }

    let served = axum::serve(listener, app::router(state.clone()))
        .with_graceful_shutdown(shutdown_signal())
        .await;

    beats.abort();
    if let Err(err) = db.remove_heartbeat(state.info.id.clone()).await {
        tracing::warn!(%err, "could not remove heartbeat");
    }
    served?;
    tracing::info!(instance = %state.info.id, "bye");
    Ok(())
}

/// Resolves on the first SIGTERM or SIGINT.
async fn shutdown_signal() {
    let name = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        },
        (Err(err), _) | (_, Err(err)) => {
            tracing::error!(%err, "cannot install signal handlers; use ctrl-c");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    };
    tracing::info!(
        signal = name,
        "shutting down: no new connections, finishing in-flight requests"
    );
}
