//! Tallies shared by every worker: an HDR latency histogram, status and error counts.
//!
//! One mutex guards the tallies; a request holds it for a few hundred nanoseconds, far below the
//! cost of the request itself. The two counters the progress line reads often are atomics.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;
use http::StatusCode;

use crate::client::ErrorKind;

/// Latencies are kept in microseconds, from 1 µs to an hour (longer ones are clamped) with three
/// significant digits: ±0.1 % at any magnitude.
const HIGHEST_MICROS: u64 = 3_600_000_000;

/// What the run has seen so far.
pub(crate) struct Recorder {
    fail_on_4xx: bool,
    requests: AtomicU64,
    failures: AtomicU64,
    tallies: Mutex<Tallies>,
}

/// The counts behind the report.
#[derive(Clone)]
pub(crate) struct Tallies {
    /// Latency of every request that got a response, in µs.
    pub(crate) latency: Histogram<u64>,
    /// Responses by exact status code.
    pub(crate) status: BTreeMap<u16, u64>,
    /// Requests without a response, by kind.
    pub(crate) errors: BTreeMap<ErrorKind, u64>,
    /// The first message seen for each error kind, to tell the user what "other" was.
    pub(crate) examples: BTreeMap<ErrorKind, String>,
}

impl Recorder {
    /// `fail_on_4xx`: whether 4xx responses count as failures (see [`Recorder::failures`]).
    pub(crate) fn new(fail_on_4xx: bool) -> Self {
        // Constant, valid bounds: this cannot fail.
        let latency =
            Histogram::new_with_bounds(1, HIGHEST_MICROS, 3).expect("valid histogram bounds");
        Self {
            fail_on_4xx,
            requests: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            tallies: Mutex::new(Tallies {
                latency,
                status: BTreeMap::new(),
                errors: BTreeMap::new(),
                examples: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tallies> {
        self.tallies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a response with `status` counts as a failure: 5xx always, 4xx only when asked.
    pub(crate) fn is_failure(&self, status: StatusCode) -> bool {
        status.is_server_error() || (self.fail_on_4xx && status.is_client_error())
    }

    /// A response arrived `latency` after the request was sent (closed model) or due (open).
    pub(crate) fn response(&self, status: StatusCode, latency: Duration) {
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        {
            let mut t = self.lock();
            t.latency.saturating_record(micros);
            *t.status.entry(status.as_u16()).or_default() += 1;
        }
        if self.is_failure(status) {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// A request got no response.
    pub(crate) fn error(&self, kind: ErrorKind, message: &str) {
        {
            let mut t = self.lock();
            *t.errors.entry(kind).or_default() += 1;
            t.examples.entry(kind).or_insert_with(|| message.to_owned());
        }
        self.failures.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests finished so far, with or without a response.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Failed requests so far: transport errors, 5xx, and 4xx with `--fail-on-4xx`.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The 99th percentile latency so far, if any response arrived.
    pub(crate) fn p99(&self) -> Option<Duration> {
        let t = self.lock();
        (!t.latency.is_empty()).then(|| Duration::from_micros(t.latency.value_at_quantile(0.99)))
    }

    /// A copy of the tallies for the report.
    pub(crate) fn snapshot(&self) -> Tallies {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_failures_by_policy() {
        let r = Recorder::new(false);
        r.response(StatusCode::OK, Duration::from_millis(5));
        r.response(StatusCode::NOT_FOUND, Duration::from_millis(5));
        r.response(StatusCode::BAD_GATEWAY, Duration::from_millis(5));
        r.error(ErrorKind::Refused, "connect: refused");
        assert_eq!(r.requests(), 4);
        assert_eq!(r.failures(), 2);
        let t = r.snapshot();
        assert_eq!(t.status[&404], 1);
        assert_eq!(t.errors[&ErrorKind::Refused], 1);
        assert_eq!(t.latency.len(), 3);

        let strict = Recorder::new(true);
        strict.response(StatusCode::NOT_FOUND, Duration::from_millis(5));
        assert_eq!(strict.failures(), 1);
    }

    #[test]
    fn p99_tracks_the_tail() {
        let r = Recorder::new(false);
        assert_eq!(r.p99(), None);
        for _ in 0..98 {
            r.response(StatusCode::OK, Duration::from_millis(1));
        }
        for _ in 0..2 {
            r.response(StatusCode::OK, Duration::from_millis(500));
        }
        let p99 = r.p99().unwrap();
        assert!(p99 >= Duration::from_millis(499), "{p99:?}");
    }
}
