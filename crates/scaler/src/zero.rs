//! Scale to zero and back (Knative's scale-to-zero with its activator, KEDA's activation).
//!
//! Going to zero depends on requests, not on the scaling metrics: a service is idle when no
//! request has arrived for `idle` and none is in flight or waiting. Coming back depends on the
//! gateway holding a request for a service that has nothing to serve it; that request must not
//! wait for cooldowns, rate limits or stabilization.

use std::time::Duration;

use crate::Observation;

/// How long the service has been without requests, if that is at least `idle` and nothing is
/// in flight or waiting. `since` is when the autoscaler first looked: a service that has never
/// had a request counts as quiet from then.
pub(crate) fn idle_for(obs: &Observation, idle: Duration, since: Duration) -> Option<Duration> {
    let quiet = quiet_for(obs, since)?;
    (quiet >= idle).then_some(quiet)
}

/// How long until the service counts as idle, if it is quiet now but not yet for long enough.
pub(crate) fn until_idle(obs: &Observation, idle: Duration, since: Duration) -> Option<Duration> {
    let quiet = quiet_for(obs, since)?;
    (quiet < idle).then(|| idle - quiet)
}

/// How long since the last request, when nothing is in flight or waiting.
fn quiet_for(obs: &Observation, since: Duration) -> Option<Duration> {
    if obs.waiting > 0 || obs.concurrency.is_some_and(|c| c > 0.0) {
        return None;
    }
    let last = obs.last_request.unwrap_or(since);
    Some(obs.now.saturating_sub(last))
}

/// True when a request waits and no instance exists to serve it (not even a starting one), or
/// the count in force is zero.
pub(crate) fn cold(obs: &Observation) -> bool {
    obs.waiting > 0 && (obs.desired == 0 || obs.instances.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn obs(now: u64, last_request: Option<u64>) -> Observation {
        Observation {
            now: s(now),
            last_request: last_request.map(s),
            concurrency: Some(0.0),
            ..Observation::default()
        }
    }

    #[test]
    fn idle_after_the_last_request() {
        assert_eq!(idle_for(&obs(40, Some(10)), s(30), s(0)), Some(s(30)));
        assert_eq!(idle_for(&obs(39, Some(10)), s(30), s(0)), None);
        assert_eq!(until_idle(&obs(39, Some(10)), s(30), s(0)), Some(s(1)));
        // Never a request: quiet since the autoscaler started.
        assert_eq!(idle_for(&obs(35, None), s(30), s(5)), Some(s(30)));
        assert_eq!(idle_for(&obs(34, None), s(30), s(5)), None);
    }

    #[test]
    fn not_idle_while_requests_are_in_flight_or_waiting() {
        let busy = Observation {
            concurrency: Some(0.5),
            ..obs(100, Some(0))
        };
        assert_eq!(idle_for(&busy, s(30), s(0)), None);
        let waiting = Observation {
            waiting: 1,
            ..obs(100, Some(0))
        };
        assert_eq!(idle_for(&waiting, s(30), s(0)), None);
        assert!(cold(&waiting));
    }
}
