//! `/v1/stream`: server-sent events for live views (the dashboard). One connection carries
//! `event: status` (the `GET /v1/status` body) every second and `event: events` (the
//! `GET /v1/events` body) as soon as something happens, so a page needs neither polling nor a
//! second request. The stream is pulled by the connection: a slow reader holds up its own
//! stream and nothing else, and nothing is buffered beyond the event being written.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::{interval, Interval, MissedTickBehavior};

use crate::AdminState;

/// How often the status goes out.
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// Most events in one `events` message (the newest are kept, as `GET /v1/events` does).
const EVENTS_PER_MESSAGE: usize = 200;
/// Comment lines while nothing else is sent, so proxies keep the connection open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long an `EventSource` waits before reconnecting.
const RETRY: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    /// Send events after this sequence number (default: the most recent ones).
    since: Option<u64>,
}

/// The same body as `GET /v1/status`.
#[derive(Serialize)]
struct StatusBody<'a> {
    gateway: &'a str,
    data_dir: &'a str,
    #[serde(flatten)]
    report: crate::StatusReport,
}

/// `GET /v1/stream[?since=N]`. A reconnecting `EventSource` sends `Last-Event-ID` (the `seq` of
/// the last event it saw; `events` messages carry it as their id), which wins over `since`.
pub(crate) async fn stream(
    State(state): State<AdminState>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, QueryRejection>,
) -> Response {
    let since = match query {
        Ok(Query(q)) => q.since,
        Err(e) => return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.body_text(), "hint": "use /v1/stream or /v1/stream?since=N" })),
        )
            .into_response(),
    };
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let feed = Feed::new(state, resume.or(since).unwrap_or(0));
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        feed.next()
            .await
            .map(|event| (Ok::<_, Infallible>(event), feed))
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Reverse proxies (nginx) would otherwise hold the events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// What woke the feed.
enum Wake {
    Stop,
    Tick,
    News,
    Gone,
}

/// One connection's position: what it has been sent and what it waits for.
struct Feed {
    state: AdminState,
    /// The data dir (`apply` cannot change it), shown in status.
    data_dir: String,
    tick: Interval,
    news: watch::Receiver<u64>,
    stop: watch::Receiver<bool>,
    last_seq: u64,
    first: bool,
    done: bool,
}

impl Feed {
    fn new(state: AdminState, since: u64) -> Self {
        let mut news = state.controller.registry().subscribe();
        // A `since` beyond the newest event comes from before a restart of shoal (sequence
        // numbers start again at 1): start over rather than wait for numbers to catch up.
        let newest = *news.borrow();
        let last_seq = if since > newest { 0 } else { since };
        // The first look sends what happened before the connection (the backlog).
        news.mark_changed();
        let stop = state.shutdown.subscribe();
        let mut tick = interval(STATUS_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let data_dir = state.controller.spec().admin.data_dir.display().to_string();
        Self {
            state,
            data_dir,
            tick,
            news,
            stop,
            last_seq,
            first: true,
            done: false,
        }
    }

    /// The next message, or `None` when the stream ends (shoal is stopping).
    async fn next(&mut self) -> Option<SseEvent> {
        if self.first {
            // The page can draw at once; the next status comes a period later.
            self.tick.reset();
            return Some(self.status());
        }
        while !self.done {
            let wake = tokio::select! {
                biased;
                _ = self.stop.wait_for(|s| *s) => Wake::Stop,
                _ = self.tick.tick() => Wake::Tick,
                changed = self.news.changed() => if changed.is_ok() { Wake::News } else { Wake::Gone },
            };
            match wake {
                Wake::Stop => {
                    self.done = true;
                    return Some(
                        SseEvent::default()
                            .event("shutdown")
                            .data("shoal is shutting down"),
                    );
                }
                Wake::Gone => self.done = true,
                Wake::Tick => return Some(self.status()),
                Wake::News => {
                    if let Some(event) = self.events() {
                        return Some(event);
                    }
                }
            }
        }
        None
    }

    fn status(&mut self) -> SseEvent {
        let body = StatusBody {
            gateway: &self.state.gateway_addr,
            data_dir: &self.data_dir,
            report: self.state.controller.registry().status(),
        };
        let data = serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_string());
        let event = SseEvent::default().event("status").data(data);
        if std::mem::take(&mut self.first) {
            event.retry(RETRY)
        } else {
            event
        }
    }

    /// Events newer than the last sent, if any.
    fn events(&mut self) -> Option<SseEvent> {
        let events = self
            .state
            .controller
            .registry()
            .events_since(self.last_seq, EVENTS_PER_MESSAGE);
        let last = events.last()?.seq;
        self.last_seq = last;
        let data = serde_json::to_string(&json!({ "events": events }))
            .unwrap_or_else(|_| r#"{"events":[]}"#.to_string());
        Some(
            SseEvent::default()
                .event("events")
                .id(last.to_string())
                .data(data),
        )
    }
}
