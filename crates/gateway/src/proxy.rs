//! One request through the gateway: route, pick, connect, forward, and retry only what is safe
//! (DESIGN principle 6): a connect failure was never sent, so it goes to another instance; a
//! pooled connection found closed gives the request back unsent; an idempotent bodiless request
//! that failed in transit is retried once, within the retry budget; nothing else is retried. On a
//! route with a canary [`Split`], the request first chooses its side and retries stay there; an
//! unpinned request its side could not take at all (never sent) goes to the other side.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Method, Request, Response, Uri, Version};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::body::{ProxyBody, UpstreamBody};
use crate::endpoint::Endpoint;
use crate::error::ProxyError;
use crate::headers::{add_forwarded, request_host, strip_hop_by_hop};
use crate::pool::ConnectError;
use crate::split::Pinned;
use crate::table::{Backends, ColdStart, Split};
use crate::{ServiceStats, Shared, UpstreamError};

/// How many times a request whose pooled connection turned out closed is re-sent (unsent each
/// time, so this is always safe).
const MAX_STALE_RESENDS: usize = 3;

/// Enough of a request to send it again; kept only for requests that may be retried after a
/// transport error (idempotent, no body).
#[derive(Clone)]
struct Replay {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
}

impl Replay {
    fn request(&self) -> Request<ProxyBody> {
        let mut req = Request::new(crate::body::empty());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }
}

/// Proxies one client request and always produces a response.
pub(crate) async fn handle(
    shared: &Shared,
    req: Request<Incoming>,
    client: &HeaderValue,
) -> Response<ProxyBody> {
    shared.budget.deposit();
    let started = Instant::now();
    let (counters, result) = forward(shared, req, client, started).await;
    let answered_by_gateway = result.is_err();
    let resp = result.unwrap_or_else(|err| {
        tracing::debug!(error = %err, source = ?err.source(), "request failed");
        err.into_response()
    });
    if let Some(counters) = counters {
        let (status, latency) = (resp.status().as_u16(), started.elapsed());
        counters.route.on_response(status, latency);
        if answered_by_gateway {
            counters.route.on_gateway_answer(status);
        }
        if let Some(side) = counters.side {
            side.on_response(status, latency);
        }
    }
    resp
}

/// Where a request's response is counted: its route's stats and, on a split route once a side is
/// chosen, that side's.
struct Counters {
    route: Arc<ServiceStats>,
    side: Option<Arc<ServiceStats>>,
}

/// What a request needs of its route, taken out of the table so the table can be swapped.
struct Routed {
    service: Arc<str>,
    backends: Arc<Backends>,
    stats: Arc<ServiceStats>,
    cold_start: Option<ColdStart>,
    split: Option<Arc<Split>>,
}

impl Routed {
    /// Whether either side has an instance; cold start waits only when neither has.
    fn has_instances(&self) -> bool {
        !self.backends.endpoints().is_empty()
            || self
                .split
                .as_ref()
                .is_some_and(|split| !split.canary.endpoints().is_empty())
    }
}

fn lookup(shared: &Shared, host: Option<&str>, path: &str) -> Option<Routed> {
    let table = shared.table.load();
    let route = table.route(host, path)?;
    Some(Routed {
        service: Arc::clone(&route.service),
        backends: Arc::clone(&route.backends),
        stats: Arc::clone(&route.stats),
        cold_start: route.cold_start,
        split: route.split.clone(),
    })
}

async fn forward(
    shared: &Shared,
    req: Request<Incoming>,
    client: &HeaderValue,
    started: Instant,
) -> (Option<Counters>, Result<Response<ProxyBody>, ProxyError>) {
    let (mut parts, body) = req.into_parts();
    let host_name = request_host(&parts.headers, &parts.uri);
    let Some(mut routed) = lookup(shared, host_name, parts.uri.path()) else {
        let path = parts.uri.path().to_string();
        return (None, Err(ProxyError::NoRoute { path }));
    };
    routed.stats.on_request(started);
    let mut counters = Counters {
        route: Arc::clone(&routed.stats),
        side: None,
    };
    if !routed.has_instances() {
        if let Some(cold) = routed.cold_start {
            let host_name = host_name.map(str::to_string);
            let path = parts.uri.path().to_string();
            match wait_for_instance(shared, &routed, cold, host_name.as_deref(), &path).await {
                Ok(ready) => routed = ready,
                Err(e) => return (Some(counters), Err(e)),
            }
        }
    }
    let Routed {
        service,
        backends,
        split,
        ..
    } = routed;
    // The side is chosen from the headers as the client sent them; the pin header is forwarded.
    // An unpinned request on a split route may still go to the other side if its own side could
    // not take it (no instance, or every connection refused: never sent, so always safe).
    let mut fallback: Option<(Arc<Backends>, Arc<ServiceStats>)> = None;
    let (backends, pinned) = match split {
        None => (backends, None),
        Some(split) => {
            let choice = split.choose(&backends, &parts.headers);
            let side_stats = split.stats(choice.side);
            side_stats.on_request(started);
            counters.side = Some(Arc::clone(side_stats));
            let pinned = choice.pinned.then(|| Pinned {
                side: choice.side,
                revision: split.revision(choice.side),
            });
            if !choice.pinned {
                let other = choice.side.other();
                fallback = Some((
                    Arc::clone(split.backends(other, &backends)),
                    Arc::clone(split.stats(other)),
                ));
            }
            (Arc::clone(split.backends(choice.side, &backends)), pinned)
        }
    };

    let host = parts.headers.get(http::header::HOST).cloned();
    strip_hop_by_hop(&mut parts.headers);
    add_forwarded(&mut parts.headers, client, host.as_ref());
    if parts.uri.scheme().is_some() {
        // Absolute-form from the client: instances get origin-form.
        parts.uri = parts
            .uri
            .path_and_query()
            .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
    }
    parts.version = Version::HTTP_11;

    let bodiless = body.is_end_stream();
    let replay = (bodiless && is_idempotent(&parts.method)).then(|| Replay {
        method: parts.method.clone(),
        uri: parts.uri.clone(),
        headers: parts.headers.clone(),
    });
    let body = if bodiless {
        crate::body::empty()
    } else {
        body.boxed_unsync()
    };
    let mut pending = Some(Request::from_parts(parts, body));
    // Only split routes pay for a second copy (`and_then`: not even the clone is evaluated).
    let replay_on_other_side = fallback.as_ref().and_then(|_| replay.clone());
    let mut result = send_with_retries(
        shared,
        &service,
        &counters.route,
        &backends,
        pinned,
        &mut pending,
        replay,
    )
    .await;
    let unsent_failure = result.is_err() && pending.is_some();
    if let (true, Some((other, other_stats))) = (unsent_failure, fallback) {
        // Counted from here on the side that answers.
        other_stats.on_request(started);
        counters.side = Some(other_stats);
        result = send_with_retries(
            shared,
            &service,
            &counters.route,
            &other,
            None,
            &mut pending,
            replay_on_other_side,
        )
        .await;
    }
    (Some(counters), result)
}

/// Holds a request for a service with no instance until the control plane has started one
/// (scale from zero), up to `cold.timeout`; bounded by `cold.queue_limit`.
async fn wait_for_instance(
    shared: &Shared,
    routed: &Routed,
    cold: ColdStart,
    host: Option<&str>,
    path: &str,
) -> Result<Routed, ProxyError> {
    let service = routed.service.to_string();
    if routed.stats.waiting() as usize >= cold.queue_limit {
        return Err(ProxyError::ColdStart {
            service,
            detail: format!("{} requests already waiting", cold.queue_limit),
        });
    }
    routed.stats.start_waiting();
    let _waiting = WaitingGuard(&routed.stats);
    let deadline = Instant::now() + cold.timeout;
    loop {
        let changed = shared.table_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if let Some(now) = lookup(shared, host, path) {
            if now.has_instances() {
                return Ok(now);
            }
        }
        tokio::select! {
            _ = &mut changed => {}
            _ = tokio::time::sleep_until(deadline) => {
                return Err(ProxyError::ColdStart {
                    service,
                    detail: format!("waited {}s", cold.timeout.as_secs_f64()),
                });
            }
        }
    }
}

struct WaitingGuard<'a>(&'a ServiceStats);

impl Drop for WaitingGuard<'_> {
    fn drop(&mut self) {
        self.0.stop_waiting();
    }
}

fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

/// Sends the request to one of `backends` (one side only, on a split route), retrying what is
/// safe on others of the same `backends`. Failures and retries are counted in `stats` where they
/// happen; a relayed response is counted for its instance's revision.
async fn send_with_retries(
    shared: &Shared,
    service: &str,
    stats: &ServiceStats,
    backends: &Backends,
    pinned: Option<Pinned>,
    pending: &mut Option<Request<ProxyBody>>,
    replay: Option<Replay>,
) -> Result<Response<ProxyBody>, ProxyError> {
    let mut tried: Vec<Arc<Endpoint>> = Vec::new();
    // What went wrong on the last instance tried, reported if no instance is left to try.
    let mut last_failure: Option<ProxyError> = None;
    let mut transport_retried = false;
    let mut stale_resends = 0;
    // Set after a failed attempt: the next instance picked is a retry.
    let mut failed_before = false;

    loop {
        let Some(guard) = backends.pick(&tried) else {
            return Err(last_failure.unwrap_or_else(|| ProxyError::NoInstance {
                service: service.to_string(),
                pinned: pinned.map(|p| p.to_string()),
            }));
        };
        if failed_before {
            stats.on_retry();
            failed_before = false;
        }
        let endpoint = Arc::clone(guard.endpoint());

        let mut conn = match endpoint.pool.checkout() {
            Some(conn) => conn,
            None => match endpoint.pool.connect().await {
                Ok(conn) => conn,
                Err(e) => {
                    if matches!(e, ConnectError::Refused(_)) {
                        endpoint.eject();
                        tracing::info!(instance = %endpoint.instance_id, "connection refused; instance ejected until its next passing check");
                    }
                    endpoint.record_failure();
                    stats.on_upstream_error(UpstreamError::Connect);
                    failed_before = true;
                    last_failure = Some(ProxyError::Connect {
                        service: service.to_string(),
                        detail: e.to_string(),
                    });
                    tried.push(endpoint);
                    continue;
                }
            },
        };

        let req = pending.take().expect("a request is pending while retrying");
        let started = Instant::now();
        let sent = tokio::time::timeout(shared.response_timeout, conn.try_send_request(req)).await;
        match sent {
            Err(_elapsed) => {
                endpoint.record_failure();
                stats.on_upstream_error(UpstreamError::Timeout);
                return Err(ProxyError::Timeout {
                    instance: endpoint.instance_id.to_string(),
                    timeout: shared.response_timeout,
                });
            }
            Ok(Ok(resp)) => {
                let now = Instant::now();
                endpoint.observe_latency(now.saturating_duration_since(started), now);
                endpoint.record_response(resp.status().as_u16());
                let (mut parts, incoming) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                let body = UpstreamBody::new(incoming, guard, conn);
                return Ok(Response::from_parts(parts, body.boxed_unsync()));
            }
            Ok(Err(mut err)) => {
                if let Some(unsent) = err.take_message() {
                    // The pooled connection was closed under us; nothing reached the instance.
                    *pending = Some(unsent);
                    stale_resends += 1;
                    if stale_resends > MAX_STALE_RESENDS {
                        tried.push(endpoint);
                    }
                    continue;
                }
                endpoint.record_failure();
                stats.on_upstream_error(UpstreamError::Transport);
                let detail = err.into_error().to_string();
                let retry = replay
                    .as_ref()
                    .filter(|_| !transport_retried && shared.budget.try_withdraw());
                match retry {
                    Some(replay) => {
                        tracing::debug!(instance = %endpoint.instance_id, %detail, "retrying idempotent request on another instance");
                        transport_retried = true;
                        failed_before = true;
                        *pending = Some(replay.request());
                        last_failure = Some(ProxyError::Upstream {
                            instance: endpoint.instance_id.to_string(),
                            detail,
                        });
                        tried.push(endpoint);
                    }
                    None => {
                        return Err(ProxyError::Upstream {
                            instance: endpoint.instance_id.to_string(),
                            detail,
                        })
                    }
                }
            }
        }
    }
}
