//! The open model: requests leave on a fixed schedule whatever the server does, and each
//! latency is measured from when the request was *due*, not when it left.
//!
//! That corrects coordinated omission (as wrk2 does): a closed-loop client that waits out a
//! server stall simply sends fewer requests during it, so the stall barely shows in its
//! percentiles, while real users keep arriving and all of them wait. Here the requests due
//! during a stall are sent anyway, and any lag of the sender itself counts as latency too.
//!
//! In-flight requests are bounded by `--max-inflight`; a request due beyond it is counted as an
//! error instead of queueing without bound.

use std::sync::Arc;

use tokio::sync::{watch, Semaphore};
use tokio::time::{sleep_until, timeout, Instant};

use crate::client::{ErrorKind, Pool, TransportError};
use crate::stages::Schedule;
use crate::{stopped, Job};

/// Runs the open model until every scheduled request has finished (bounded by the timeout) or
/// `stop` turns true (requests in flight are then abandoned uncounted).
pub(crate) async fn run(
    job: Arc<Job>,
    schedule: &Schedule,
    start: Instant,
    max_inflight: u32,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(max_inflight as usize));
    let pool = Arc::new(Pool::default());
    let mut n = 0u64;
    while let Some(at) = schedule.send_time(n) {
        n += 1;
        let due = start + at;
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            _ = sleep_until(due) => {}
        }
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            job.recorder.error(
                ErrorKind::Dropped,
                &format!("{max_inflight} requests were already waiting for a response"),
            );
            continue;
        };
        let job = Arc::clone(&job);
        let pool = Arc::clone(&pool);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let outcome = tokio::select! {
                biased;
                _ = stopped(&mut stop) => return,
                r = timeout(job.timeout, request(&job, &pool)) => r,
            };
            match outcome {
                Ok(Ok(status)) => job.recorder.response(status, due.elapsed()),
                Ok(Err(e)) => job.recorder.error(e.kind, &e.message),
                Err(_) => job.recorder.error(
                    ErrorKind::Timeout,
                    &format!("no complete response within {:?}", job.timeout),
                ),
            }
        });
    }
    // Every task holds a permit until it has recorded its outcome (or seen the stop).
    let _ = permits.acquire_many(max_inflight).await;
}

/// One request on a pooled connection, returned to the pool when it can carry another.
async fn request(job: &Job, pool: &Pool) -> Result<http::StatusCode, TransportError> {
    let mut conn = pool.checkout(&job.connector).await?;
    let answer = conn.send(job.template.build()).await?;
    if answer.reusable {
        pool.checkin(conn);
    }
    Ok(answer.status)
}
