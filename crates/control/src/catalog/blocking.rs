//! Consul's query parameters and blocking queries: `?index=N&wait=D` holds the request until the
//! answer changes or `wait` (plus jitter) elapses. A waiting request holds no lock: it sleeps on
//! the registry's event counter and, when woken, re-reads the catalog and compares what it would
//! answer with what it answered at the start, so events about other services do not end the wait.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::registry::CatalogService;

/// `wait` when a blocking query names none (Consul's default).
const DEFAULT_WAIT: Duration = Duration::from_secs(5 * 60);
/// The longest a query may block (Consul's cap).
const MAX_WAIT: Duration = Duration::from_secs(10 * 60);
/// Jitter is up to `wait / JITTER_FRACTION`, as Consul adds, so clients that started together
/// do not all come back at once.
const JITTER_FRACTION: u32 = 16;

/// What a client asked for, beyond the path.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Params {
    /// `index`: block while the catalog is still at this index (0: answer at once).
    pub(super) index: u64,
    /// `wait`, defaulted and capped, without jitter.
    pub(super) wait: Duration,
    /// `tag` (repeatable): only services that have all of them.
    pub(super) tags: Vec<String>,
    /// `passing`: only instances whose checks all pass.
    pub(super) passing: bool,
    /// `format=text` or `Accept: text/plain`: the agent endpoint answers with the status word.
    pub(super) text: bool,
}

/// A refused query: 400 (or Consul's 500 for another datacenter) with a JSON error.
#[derive(Debug, PartialEq)]
pub(super) struct Refused {
    /// 400 for a malformed parameter; 500 for another datacenter, as Consul answers.
    pub(super) status: StatusCode,
    /// What was wrong, in Consul's words where it has some.
    pub(super) error: String,
    /// What to send instead.
    pub(super) hint: &'static str,
}

impl Refused {
    /// A 400: the query cannot be read.
    fn bad(error: String, hint: &'static str) -> Self {
        Refused {
            status: StatusCode::BAD_REQUEST,
            error,
            hint,
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "hint": self.hint });
        (self.status, axum::Json(body)).into_response()
    }
}

impl Params {
    /// Reads the query's pairs (in order, repeats kept) and the `Accept` header. Parameters this
    /// catalog has no use for (`stale`, `consistent`, `token`, `near`…) are ignored, as a
    /// single-node Consul would; `filter` is refused, since ignoring it would answer too much.
    pub(super) fn parse(pairs: &[(String, String)], headers: &HeaderMap) -> Result<Self, Refused> {
        let mut p = Params {
            wait: DEFAULT_WAIT,
            ..Params::default()
        };
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        p.text = accept.is_some_and(|a| a.starts_with("text/plain"));
        for (key, value) in pairs {
            match key.as_str() {
                // An empty value is no value, as Consul reads it.
                "index" | "wait" if value.trim().is_empty() => {}
                "index" => {
                    p.index = value.trim().parse().map_err(|_| {
                        Refused::bad(
                            format!("Invalid index {value:?}"),
                            "index is the X-Consul-Index of an earlier answer",
                        )
                    })?
                }
                "wait" => p.wait = parse_wait(value)?,
                "tag" => p.tags.push(value.clone()),
                "passing" => {
                    p.passing = parse_bool(value).ok_or_else(|| {
                        Refused::bad(
                            format!("Invalid value for ?passing: {value:?}"),
                            "use ?passing or ?passing=true",
                        )
                    })?
                }
                "format" => p.text = value == "text",
                "dc" if value != super::types::DATACENTER => {
                    return Err(Refused {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        error: "No path to datacenter".to_string(),
                        hint: "shoal is one datacenter, dc1",
                    })
                }
                "filter" => {
                    return Err(Refused::bad(
                        "?filter expressions are not supported by shoal's catalog".to_string(),
                        "filter with ?tag= and ?passing, or on the client",
                    ))
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// How long to block when the catalog is at `current`, jitter included; `None` to answer at
    /// once: no index, one the catalog has moved past, or one it never reached (an index from
    /// before a restart of shoal, whose counter starts again: the client must see the new
    /// instances now, not after its whole wait).
    pub(super) fn blocks_at(&self, current: u64) -> Option<Duration> {
        if self.index == 0 || self.index != current {
            return None;
        }
        let spread = self.wait.as_millis() as u64 / u64::from(JITTER_FRACTION);
        Some(self.wait + Duration::from_millis(fastrand::u64(0..=spread)))
    }
}

/// Go's `strconv.ParseBool`, with a bare `?passing` meaning true (as Consul reads it).
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// `wait`: a Go duration ("30s", "5m", "1m30s", "1.5s", "100ms"); 0 means the default, and
/// anything over the cap is capped, as Consul does.
pub(super) fn parse_wait(value: &str) -> Result<Duration, Refused> {
    let wait = parse_go_duration(value.trim()).ok_or_else(|| {
        Refused::bad(
            format!("Invalid wait time {value:?}"),
            "a duration with its unit, e.g. wait=30s, 5m or 100ms (at most 10m)",
        )
    })?;
    Ok(match wait {
        Duration::ZERO => DEFAULT_WAIT,
        w => w.min(MAX_WAIT),
    })
}

/// Go's `time.ParseDuration` for non-negative values: one or more `<decimal><unit>` with units
/// ns, us (µs), ms, s, m, h; a bare "0" is allowed.
fn parse_go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        if number.is_empty() || number == "." {
            return None;
        }
        let number: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * seconds;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// One endpoint's answer for one catalog snapshot: what blocking compares and what is sent.
#[derive(Debug, PartialEq)]
pub(super) struct Answer {
    /// 200, or the agent endpoint's 503/404.
    pub(super) status: StatusCode,
    /// The serialized body, compared as bytes by a blocking query.
    pub(super) body: Vec<u8>,
    /// text/plain (the agent endpoint's `format=text`) rather than JSON.
    pub(super) text: bool,
}

impl Answer {
    /// A 200 JSON answer.
    pub(super) fn json(value: &impl serde::Serialize) -> Self {
        Answer::json_with(StatusCode::OK, value)
    }

    /// A JSON answer with another status (the agent endpoint's 503 and 404).
    pub(super) fn json_with(status: StatusCode, value: &impl serde::Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
        Answer {
            status,
            body,
            text: false,
        }
    }

    /// The response, with the headers Consul's clients read.
    pub(super) fn into_response(self, index: u64) -> Response {
        let content_type = if self.text {
            "text/plain; charset=utf-8"
        } else {
            "application/json"
        };
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert("x-consul-index", HeaderValue::from(index.max(1)));
        headers.insert("x-consul-knownleader", HeaderValue::from_static("true"));
        headers.insert("x-consul-lastcontact", HeaderValue::from_static("0"));
        response
    }
}

/// Where a blocking query reads from: the catalog, its change counter and shoal's stop flag.
pub(super) struct Source<C> {
    /// Reads the catalog and its index (`Registry::catalog`).
    pub(super) catalog: C,
    /// Bumped on every registry event (`Registry::subscribe`), taken before the first read.
    pub(super) news: watch::Receiver<u64>,
    /// shoal is stopping: answer now rather than hold up the admin server's shutdown.
    pub(super) stop: watch::Receiver<bool>,
}

/// Answers at once, or blocks as `params` ask: until `render`'s answer differs from the one at
/// the start (spurious wakeups go back to sleep), `wait` elapses or shoal stops. Returns the
/// answer to send and the index it reflects. `render` is given index 0 when comparing, so that
/// answers which carry the index (`ModifyIndex`) compare equal when nothing else moved.
pub(super) async fn answer<C, R>(params: &Params, source: Source<C>, render: R) -> (Answer, u64)
where
    C: Fn() -> (Vec<CatalogService>, u64),
    R: Fn(&[CatalogService], u64) -> Answer,
{
    let Source {
        catalog,
        mut news,
        mut stop,
    } = source;
    // Subscribed before the first read, so no change after it can be missed.
    news.borrow_and_update();
    let (mut services, mut index) = catalog();
    // Beyond the cap, a query is answered at once (a client loop then asks again): blocking
    // queries hold a connection and a little memory each, so they are bounded.
    let slot = params
        .blocks_at(index)
        .and_then(|limit| Waiting::take().map(|w| (limit, w)));
    if let Some((limit, _waiting)) = slot {
        let seen = render(&services, 0);
        let deadline = Instant::now() + limit;
        loop {
            let woke = tokio::select! {
                changed = news.changed() => changed.is_ok(),
                () = tokio::time::sleep_until(deadline) => false,
                _ = stop.wait_for(|s| *s) => false,
            };
            (services, index) = catalog();
            if !woke || render(&services, 0) != seen {
                break;
            }
        }
    }
    (render(&services, index), index)
}

/// Blocking queries held at once, at most; more are answered at once.
pub(super) const MAX_WAITING: usize = 1024;

static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One of the [`MAX_WAITING`] places of a blocking query, given back when dropped.
struct Waiting;

impl Waiting {
    fn take() -> Option<Waiting> {
        use std::sync::atomic::Ordering;
        WAITING
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_WAITING).then_some(n + 1)
            })
            .ok()
            .map(|_| Waiting)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITING.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocking_places_are_bounded_and_given_back() {
        // (Other tests may hold a place meanwhile: only the bound is exact.)
        let held: Vec<Waiting> = std::iter::from_fn(Waiting::take)
            .take(MAX_WAITING + 5)
            .collect();
        assert!(held.len() <= MAX_WAITING && held.len() >= MAX_WAITING - 8);
        drop(held);
        assert!(Waiting::take().is_some());
    }

    fn params(query: &[(&str, &str)]) -> Result<Params, Refused> {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Params::parse(&pairs, &HeaderMap::new())
    }

    #[test]
    fn empty_index_and_wait_are_absent() {
        let p = params(&[("index", ""), ("wait", " ")]).unwrap();
        assert_eq!((p.index, p.wait), (0, DEFAULT_WAIT));
    }

    #[test]
    fn wait_reads_go_durations() {
        let ok = |s: &str| parse_wait(s).unwrap();
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("100ms"), Duration::from_millis(100));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok("250000us"), Duration::from_millis(250));
        assert_eq!(ok("+2s"), Duration::from_secs(2));
    }

    #[test]
    fn wait_defaults_at_zero_and_is_capped() {
        assert_eq!(parse_wait("0").unwrap(), DEFAULT_WAIT);
        assert_eq!(parse_wait("0s").unwrap(), DEFAULT_WAIT);
        assert_eq!(parse_wait("1h").unwrap(), MAX_WAIT);
        assert_eq!(params(&[]).unwrap().wait, DEFAULT_WAIT);
    }

    #[test]
    fn bad_waits_are_refused() {
        for bad in ["", "30", "s", "5x", "-1s", "1..5s", ".s", "abc", "5 m"] {
            let e = parse_wait(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad:?}");
            assert!(e.error.contains("Invalid wait"), "{bad:?}: {e:?}");
        }
    }

    #[test]
    fn index_must_be_a_number() {
        assert_eq!(params(&[("index", "42")]).unwrap().index, 42);
        let e = params(&[("index", "abc")]).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(params(&[("index", "-1")]).is_err());
    }

    #[test]
    fn passing_tags_format_and_dc() {
        let p = params(&[
            ("passing", ""),
            ("tag", "a"),
            ("tag", "b"),
            ("format", "text"),
        ])
        .unwrap();
        assert!(p.passing && p.text);
        assert_eq!(p.tags, ["a", "b"]);
        assert!(params(&[("passing", "1")]).unwrap().passing);
        assert!(!params(&[("passing", "false")]).unwrap().passing);
        assert!(params(&[("passing", "maybe")]).is_err());
        assert!(params(&[("dc", "dc1"), ("stale", "")]).is_ok());
        assert_eq!(
            params(&[("dc", "eu")]).unwrap_err().status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert!(params(&[("filter", "Service.Port > 1")]).is_err());
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/plain"));
        assert!(Params::parse(&[], &headers).unwrap().text);
    }

    #[test]
    fn blocks_only_at_the_current_index() {
        let p = |index| Params {
            index,
            wait: Duration::from_secs(16),
            ..Params::default()
        };
        assert_eq!(p(0).blocks_at(5), None);
        assert_eq!(p(4).blocks_at(5), None);
        assert_eq!(p(9).blocks_at(5), None, "an index from before a restart");
        let d = p(5).blocks_at(5).unwrap();
        assert!(
            d >= Duration::from_secs(16) && d <= Duration::from_secs(17),
            "{d:?}"
        );
    }

    /// A fake catalog: its "answer" is the first service's tag list.
    fn fake(tags: &std::sync::Mutex<(Vec<String>, u64)>) -> (Vec<CatalogService>, u64) {
        let (tags, index) = tags.lock().unwrap().clone();
        let service = CatalogService {
            name: "web".into(),
            tags,
            meta: Default::default(),
            tcp: None,
            instances: Vec::new(),
        };
        (vec![service], index)
    }

    fn render(services: &[CatalogService], index: u64) -> Answer {
        Answer::json(&(services[0].tags.clone(), index))
    }

    #[tokio::test]
    async fn a_blocking_query_ignores_unrelated_changes_and_ends_on_a_real_one() {
        let data = std::sync::Arc::new(std::sync::Mutex::new((vec!["a".to_string()], 3)));
        let (news_tx, news) = watch::channel(3u64);
        let (_stop_tx, stop) = watch::channel(false);
        let p = Params {
            index: 3,
            wait: Duration::from_secs(20),
            ..Params::default()
        };
        let catalog = {
            let data = data.clone();
            move || fake(&data)
        };
        let started = Instant::now();
        let query = tokio::spawn(async move {
            answer(
                &p,
                Source {
                    catalog,
                    news,
                    stop,
                },
                render,
            )
            .await
        });
        // An event that does not change this answer: the query keeps waiting.
        tokio::time::sleep(Duration::from_millis(100)).await;
        data.lock().unwrap().1 = 4;
        news_tx.send_replace(4);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!query.is_finished(), "an unrelated event ended the wait");
        // One that does: it answers at once with the new data and index.
        *data.lock().unwrap() = (vec!["b".to_string()], 5);
        news_tx.send_replace(5);
        let (answer, index) = query.await.unwrap();
        assert_eq!(index, 5);
        assert_eq!(answer.body, br#"[["b"],5]"#);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_blocking_query_answers_when_wait_elapses_or_shoal_stops() {
        let data = std::sync::Mutex::new((vec!["a".to_string()], 7));
        let (_news_tx, news) = watch::channel(7u64);
        let (stop_tx, stop) = watch::channel(false);
        let p = Params {
            index: 7,
            wait: Duration::from_millis(160),
            ..Params::default()
        };
        let started = Instant::now();
        let source = Source {
            catalog: || fake(&data),
            news: news.clone(),
            stop: stop.clone(),
        };
        let (answer_, index) = answer(&p, source, render).await;
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(160), "{took:?}");
        assert!(took < Duration::from_millis(1000), "{took:?}");
        assert_eq!((answer_.body.as_slice(), index), (&br#"[["a"],7]"#[..], 7));
        // Stopping ends a long wait at once.
        stop_tx.send_replace(true);
        let p = Params {
            wait: Duration::from_secs(60),
            ..p
        };
        let started = Instant::now();
        let source = Source {
            catalog: || fake(&data),
            news,
            stop,
        };
        answer(&p, source, render).await;
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
