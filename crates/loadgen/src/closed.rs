//! The closed model: a fixed (or ramped) number of workers, each with its own keep-alive
//! connection, each sending its next request as soon as the previous response has arrived.
//!
//! Ramping starts as many workers as the highest level and lets worker `i` send only while the
//! level is above `i`; a parked worker closes its connection, as a departed client would.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, Instant};

use crate::client::{Conn, ErrorKind, TransportError};
use crate::stages::Schedule;
use crate::{stopped, Job};

/// How often a ramp re-reads the level.
const RAMP_STEP: Duration = Duration::from_millis(10);

/// Longest pause between connection attempts after repeated connect failures: a refused port
/// must not turn into a busy loop that counts hundreds of thousands of errors a second.
const MAX_CONNECT_BACKOFF: Duration = Duration::from_millis(500);

/// Runs the closed model until the schedule ends (in-flight requests finish, bounded by the
/// timeout) or `stop` turns true (in-flight requests are abandoned uncounted).
pub(crate) async fn run(
    job: Arc<Job>,
    schedule: &Schedule,
    start: Instant,
    stop: watch::Receiver<bool>,
) {
    let deadline = start + schedule.total();
    let workers = schedule.max_level().round() as usize;
    let level_now = |at: Instant| schedule.level_at(at.duration_since(start)).round() as usize;
    let (level_tx, level_rx) = watch::channel(level_now(Instant::now()));

    let mut tasks = JoinSet::new();
    for index in 0..workers {
        tasks.spawn(worker(
            index,
            Arc::clone(&job),
            deadline,
            level_rx.clone(),
            stop.clone(),
        ));
    }
    let mut stop_ramp = stop.clone();
    loop {
        let next = (Instant::now() + RAMP_STEP).min(deadline);
        tokio::select! {
            biased;
            _ = stopped(&mut stop_ramp) => break,
            _ = sleep_until(next) => {}
        }
        if next >= deadline {
            break;
        }
        let level = level_now(next);
        level_tx.send_if_modified(|l| std::mem::replace(l, level) != level);
    }
    while tasks.join_next().await.is_some() {}
    // Workers watch the level until they finish; keep the sender alive until then.
    drop(level_tx);
}

/// One connection's worth of load.
async fn worker(
    index: usize,
    job: Arc<Job>,
    deadline: Instant,
    mut level: watch::Receiver<usize>,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn: Option<Conn> = None;
    let mut connect_failures = 0u32;
    loop {
        if *stop.borrow() || Instant::now() >= deadline {
            return;
        }
        if *level.borrow_and_update() <= index {
            conn = None;
            tokio::select! {
                _ = level.changed() => continue,
                _ = sleep_until(deadline) => return,
                _ = stopped(&mut stop) => return,
            }
        }
        let sent = Instant::now();
        let outcome = tokio::select! {
            biased;
            _ = stopped(&mut stop) => return,
            r = timeout(job.timeout, request(&job, &mut conn)) => r,
        };
        match outcome {
            Ok(Ok(status)) => {
                connect_failures = 0;
                job.recorder.response(status, sent.elapsed());
            }
            Ok(Err(e)) => {
                conn = None;
                job.recorder.error(e.kind, &e.message);
                if e.connecting {
                    connect_failures += 1;
                    let pause = Duration::from_millis(5)
                        .saturating_mul(1 << connect_failures.min(7))
                        .min(MAX_CONNECT_BACKOFF);
                    tokio::select! {
                        _ = sleep(pause) => {}
                        _ = stopped(&mut stop) => return,
                    }
                }
            }
            Err(_) => {
                // The connection is mid-request; it cannot be reused.
                conn = None;
                job.recorder.error(
                    ErrorKind::Timeout,
                    &format!("no complete response within {:?}", job.timeout),
                );
            }
        }
    }
}

/// One request on the worker's connection, (re)connecting first when needed.
async fn request(job: &Job, conn: &mut Option<Conn>) -> Result<http::StatusCode, TransportError> {
    if let Some(c) = conn {
        if !c.usable().await {
            *conn = None;
        }
    }
    let c = match conn {
        Some(c) => c,
        None => conn.insert(job.connector.connect().await?),
    };
    match c.send(job.template.build()).await {
        Ok(answer) => {
            if !answer.reusable {
                *conn = None;
            }
            Ok(answer.status)
        }
        Err(e) => {
            *conn = None;
            Err(e)
        }
    }
}
