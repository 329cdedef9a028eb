//! taskboard: a small task manager meant to run as several instances behind
//! shoal's gateway, all sharing one SQLite file.

mod api;
mod app;
mod config;
mod db;
mod error;
mod failure;
mod heartbeat;
mod metrics;
mod ops;
mod pages;
mod server;
mod spam;
mod state;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use config::Command;

fn main() -> ExitCode {
    let command = match config::parse(std::env::args().skip(1), |key| std::env::var(key).ok()) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("taskboard: error: {message}\n\n{}", config::USAGE);
            return ExitCode::from(2);
        }
    };
    let config = match command {
        Command::Help => {
            print!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Run(config) => config,
    };

    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            tracing::error!(%err, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(server::run(config));
    // A `/work` whose client went away keeps its blocking thread busy; don't
    // let that hold up the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            ExitCode::FAILURE
        }
    }
}
