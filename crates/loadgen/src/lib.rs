//! `shoal load`: an HTTP load generator built into shoal, so driving an autoscaler or checking a
//! latency budget needs no extra tool (and no `while true; wget` loop).
//!
//! Two models, as in wrk2 and k6: closed (N connections sending back to back) and open (a fixed
//! request rate whose latencies count from each request's intended send time, which corrects
//! coordinated omission). Levels can ramp through stages. The run ends with a [`Report`] whose
//! thresholds decide the exit code.
//!
//! The CLI stays thin: it parses [`LoadArgs`], calls [`run`] (or [`run_until`] to stop early on
//! Ctrl-C) and prints the report.

mod args;
mod client;
mod closed;
mod duration;
mod open;
mod progress;
mod record;
mod report;
mod stages;
mod target;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

pub use args::{LoadArgs, Model, OutputFormat, DEFAULT_CONCURRENCY, MAX_CONCURRENCY};
pub use client::ErrorKind;
pub use duration::{format_duration, parse_duration, MAX_DURATION};
pub use report::{Latency, Report, Threshold, ERROR_RATE, P99_MS};
pub use stages::{parse_stages, Schedule, Stage, Stages};
pub use target::{parse_header, parse_url, Header, Url};

use crate::client::Connector;
use crate::record::Recorder;
use crate::target::RequestTemplate;

/// Why a run could not produce a report.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The options do not make a valid run (exit code 2).
    #[error("{0}")]
    Input(String),
    /// The run could not start, e.g. the host name does not resolve (exit code 1).
    #[error("{0}")]
    Run(String),
}

impl LoadError {
    /// True for bad input (exit 2), false for a failure to run (exit 1).
    pub fn is_input(&self) -> bool {
        matches!(self, LoadError::Input(_))
    }
}

/// What every request of a run needs.
pub(crate) struct Job {
    pub(crate) connector: Connector,
    pub(crate) template: RequestTemplate,
    pub(crate) timeout: Duration,
    pub(crate) recorder: Recorder,
}

/// Sends the load `args` describe and reports what happened. `progress`: draw the live status
/// line on stderr (pass whether stderr is a terminal).
pub async fn run(args: &LoadArgs, progress: bool) -> Result<Report, LoadError> {
    run_until(args, progress, std::future::pending()).await
}

/// Like [`run`], but ends early when `stop` completes (the CLI passes Ctrl-C): requests in
/// flight are abandoned and the report covers the time until then, marked `interrupted`.
pub async fn run_until(
    args: &LoadArgs,
    progress: bool,
    stop: impl Future<Output = ()>,
) -> Result<Report, LoadError> {
    let plan = args.plan()?;
    let connector = Connector::resolve(&plan.url.host_port())
        .await
        .map_err(|e| LoadError::Run(format!("cannot resolve {}: {e}", plan.url.host)))?;
    let job = Arc::new(Job {
        connector,
        template: plan.template.clone(),
        timeout: plan.timeout,
        recorder: Recorder::new(plan.fail_on_4xx),
    });
    // Kept alive for the whole run: receivers treat a dropped sender as "never stops".
    let (stop_tx, stop_rx) = watch::channel(false);
    let start = Instant::now();
    let work = async {
        match plan.model {
            Model::Closed => closed::run(Arc::clone(&job), &plan.schedule, start, stop_rx).await,
            Model::Open => {
                open::run(
                    Arc::clone(&job),
                    &plan.schedule,
                    start,
                    plan.max_inflight,
                    stop_rx,
                )
                .await
            }
        }
    };
    let mut interrupted = false;
    let until_done = async {
        tokio::pin!(work, stop);
        tokio::select! {
            _ = &mut work => return,
            _ = &mut stop => {}
        }
        interrupted = true;
        let _ = stop_tx.send(true);
        work.await;
    };
    tokio::select! {
        _ = until_done => {}
        _ = progress::draw(&job.recorder, &plan.schedule, plan.model, start), if progress => {}
    }
    let elapsed = start.elapsed();
    if progress {
        progress::clear();
    }
    Ok(Report::new(
        &plan,
        &job.recorder.snapshot(),
        elapsed,
        interrupted,
    ))
}

/// Completes once `stop` is true; never if its sender is gone (a run only stops when told to).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    if stop.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
