//! The `shoal` binary: argument parsing and wiring only; the work lives in the library crates.

mod cli;
mod client;
mod commands;
mod deploy;
mod exit;
mod logs;
mod top;
mod up;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Failure;

fn main() -> ExitCode {
    let mut args = std::env::args();
    // The per-instance shim is this same binary; it must not start a runtime or parse flags.
    if args.nth(1).as_deref() == Some("__shim") {
        shoal_runtime::shim_main(std::env::args().skip(2).collect());
    }
    let cli = Cli::parse();
    // `top` owns the screen: a warning printed over it would garble the dashboard.
    if !matches!(cli.command, Command::Top { .. }) {
        init_tracing(matches!(cli.command, Command::Up { .. }));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli.command));
    // A command is over once `run` returns: never wait on a blocking task left behind (a DNS
    // lookup, a read on a terminal or a file), which dropping the runtime would.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            // Written, not printed: a closed stderr (`shoal validate 2>&1 | head -1`) must not
            // turn the failure into a panic; the exit code still says what happened.
            use std::io::Write;
            let mut err = std::io::stderr().lock();
            let _ = if failure.prefixed {
                write!(err, "{failure}")
            } else {
                writeln!(err, "error: {failure}")
            };
            ExitCode::from(failure.code)
        }
    }
}

async fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Up { file } => up::run(&file).await,
        Command::Validate { file } => commands::validate(&file),
        Command::Status {
            service,
            target,
            output,
        } => commands::status(&target, service.as_deref(), output).await,
        Command::Scale {
            service,
            count,
            target,
            output,
        } => commands::scale(&target, &service, &count, output).await,
        Command::Logs {
            service,
            follow,
            lines,
            since,
            json,
            target,
        } => {
            let opts = logs::LogsOptions {
                follow,
                lines,
                since,
                json,
            };
            logs::logs(&target.into(), &service, &opts).await
        }
        Command::Top { target, interval } => top::run(&target, interval).await,
        Command::Events {
            target,
            follow,
            output,
        } => commands::events(&target.into(), follow, output).await,
        Command::Apply {
            target,
            dry_run,
            detach,
            output,
        } => deploy::apply(&target, dry_run, detach, output).await,
        Command::History {
            service,
            target,
            output,
        } => deploy::history(&target, &service, output).await,
        Command::Promote {
            service,
            full,
            target,
        } => deploy::promote(&target, &service, full).await,
        Command::Rollback {
            service,
            to,
            target,
        } => deploy::rollback(&target, &service, to).await,
        Command::Down { target } => commands::down(&target).await,
        Command::Load(args) => load(&args).await,
    }
}

/// `shoal load`: runs the load (Ctrl-C ends it early with a report), prints the report, and
/// fails with exit 1 when a threshold was breached.
async fn load(args: &shoal_loadgen::LoadArgs) -> Result<(), Failure> {
    use std::io::IsTerminal;
    let progress = std::io::stderr().is_terminal();
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let report = shoal_loadgen::run_until(args, progress, ctrl_c)
        .await
        .map_err(|e| {
            if e.is_input() {
                Failure::input(e.to_string())
            } else {
                Failure::op(e.to_string())
            }
        })?;
    match args.output {
        shoal_loadgen::OutputFormat::Table => print!("{}", report.render_table()),
        shoal_loadgen::OutputFormat::Json => println!("{}", report.render_json()),
    }
    if report.thresholds_passed() {
        Ok(())
    } else {
        Err(Failure::op(format!(
            "threshold breached: {}",
            report.failed_thresholds().join(", ")
        )))
    }
}

/// `RUST_LOG` wins; otherwise `up` logs events at info and client verbs only warnings.
fn init_tracing(daemon: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if daemon { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}
