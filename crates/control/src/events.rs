//! Recent events (crashes, health changes, scaling): a bounded ring shown by `status`, the API and
//! later the dashboard, so a user can see *why* the system looks the way it does.

use std::collections::VecDeque;

use serde::Serialize;

/// Events kept in memory; older ones are dropped.
pub const EVENT_CAPACITY: usize = 1000;

/// One thing that happened.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Increasing number, for `?since=` polling.
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// The service concerned.
    pub service: String,
    /// The instance concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Short machine-readable kind: `started`, `healthy`, `unhealthy`, `crashed`, `restarting`,
    /// `draining`, `stopped`, `scaled`, `fail_open`, `recovered`, `start_failed`, `ejected`.
    pub kind: &'static str,
    /// What happened, for people.
    pub message: String,
}

/// The ring buffer.
#[derive(Default)]
pub(crate) struct EventLog {
    events: VecDeque<Event>,
    next_seq: u64,
}

impl EventLog {
    pub(crate) fn push(
        &mut self,
        service: &str,
        instance: Option<&str>,
        kind: &'static str,
        message: String,
    ) -> Event {
        self.next_seq += 1;
        let event = Event {
            seq: self.next_seq,
            time: now_rfc3339(),
            service: service.to_string(),
            instance: instance.map(str::to_string),
            kind,
            message,
        };
        if self.events.len() == EVENT_CAPACITY {
            self.events.pop_front();
        }
        self.events.push_back(event.clone());
        event
    }

    /// Events with `seq > since`, oldest first, at most `limit`, newest kept.
    pub(crate) fn since(&self, since: u64, limit: usize) -> Vec<Event> {
        let newer: Vec<&Event> = self.events.iter().filter(|e| e.seq > since).collect();
        let skip = newer.len().saturating_sub(limit);
        newer.into_iter().skip(skip).cloned().collect()
    }
}

/// The current time as RFC 3339 with milliseconds, UTC.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&fmt).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_bounded_and_since_filters() {
        let mut log = EventLog::default();
        for i in 0..(EVENT_CAPACITY + 10) {
            log.push("web", None, "scaled", format!("{i}"));
        }
        assert_eq!(log.events.len(), EVENT_CAPACITY);
        let tail = log.since(EVENT_CAPACITY as u64 + 5, 100);
        assert_eq!(tail.len(), 5);
        assert_eq!(tail[0].seq, EVENT_CAPACITY as u64 + 6);
        assert_eq!(log.since(0, 3).len(), 3);
        assert_eq!(log.since(0, 3)[2].seq, EVENT_CAPACITY as u64 + 10);
    }
}
