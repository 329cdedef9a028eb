//! Canary splits against real HTTP servers on loopback: the canary's share of traffic, requests
//! pinned by header, a canary with no instance yet, retries kept on one side, and each side's
//! counters.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{backend, client, config, serve, Client};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use shoal_gateway::{
    Backends, ColdStart, Endpoint, Gateway, Route, RoutingTable, ServiceStats, Split, StatsSnapshot,
};
use tokio::net::TcpListener;

/// The pin header every test route uses.
const PIN: &str = "x-shoal-revision";
const STABLE_REVISION: u64 = 6;
const CANARY_REVISION: u64 = 7;

/// An instance that answers with `name` (its side), echoes the pin header it received in
/// `x-saw-pin`, and counts its requests.
async fn instance(name: &'static str, hits: Arc<AtomicUsize>) -> SocketAddr {
    backend(Arc::new(move |req: Request<Incoming>| {
        hits.fetch_add(1, Ordering::SeqCst);
        let pin = req
            .headers()
            .get(PIN)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        Box::pin(async move {
            Response::builder()
                .header("x-saw-pin", pin)
                .body(Full::new(Bytes::from(name)))
                .unwrap()
        })
    }))
    .await
}

/// `n` instances of one side, each a separate server answering `name`; with their hit counter.
async fn side(name: &'static str, n: usize) -> (Vec<Arc<Endpoint>>, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let mut endpoints = Vec::new();
    for i in 0..n {
        let addr = instance(name, hits.clone()).await;
        let id = format!("{name}-{i}");
        endpoints.push(Endpoint::new(
            id,
            "web",
            addr,
            Duration::ZERO,
            config().pool,
        ));
    }
    (endpoints, hits)
}

/// The counters a split route records into.
#[derive(Default)]
struct Stats {
    route: Arc<ServiceStats>,
    stable: Arc<ServiceStats>,
    canary: Arc<ServiceStats>,
}

/// Routes `/` of service `web` to `stable`, with `canary` taking `weight` of the traffic.
fn route(
    stable: Vec<Arc<Endpoint>>,
    canary: Vec<Arc<Endpoint>>,
    weight: f64,
    stats: &Stats,
    cold_start: Option<ColdStart>,
) -> RoutingTable {
    RoutingTable::new(vec![Route {
        host: None,
        prefix: "/".into(),
        service: "web".into(),
        backends: Arc::new(Backends::new(stable, false)),
        stats: Arc::clone(&stats.route),
        cold_start,
        split: Some(Arc::new(Split {
            canary: Arc::new(Backends::new(canary, false)),
            canary_weight: weight,
            canary_stats: Arc::clone(&stats.canary),
            stable_stats: Arc::clone(&stats.stable),
            pin_header: http::HeaderName::from_static(PIN),
            canary_revision: CANARY_REVISION,
            stable_revision: STABLE_REVISION,
        })),
    }])
}

/// A gateway serving `table`.
async fn gateway(table: RoutingTable) -> (SocketAddr, Arc<Gateway>) {
    let gw = Arc::new(Gateway::new(config()));
    gw.publish(table);
    (serve(&gw).await, gw)
}

struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: String,
}

/// One GET on the keep-alive connection `c`, with `pin` as the pin header if given.
async fn get(c: &mut Client, pin: Option<&str>) -> Answer {
    c.ready().await.unwrap();
    let mut req = Request::get("/").header("host", "web.local");
    if let Some(pin) = pin {
        req = req.header(PIN, pin);
    }
    let resp = c
        .send_request(req.body(Full::new(Bytes::new()).boxed()).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into(),
    }
}

/// Sends `n` sequential GETs over one connection; counts the answers by body, with every non-200
/// answer counted under `"error"`.
async fn tally(addr: SocketAddr, pin: Option<&str>, n: usize) -> HashMap<String, usize> {
    let mut c = client(addr).await;
    let mut counts = HashMap::new();
    for _ in 0..n {
        let answer = get(&mut c, pin).await;
        let key = if answer.status == 200 {
            answer.body
        } else {
            "error".to_string()
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

fn count(counts: &HashMap<String, usize>, key: &str) -> u64 {
    counts.get(key).copied().unwrap_or(0) as u64
}

/// Requests, 2xx and 5xx in a snapshot.
fn traffic(s: StatsSnapshot) -> (u64, u64, u64) {
    (s.requests, s.responses_2xx, s.responses_5xx)
}

#[tokio::test]
async fn the_canary_gets_its_weight_and_each_side_counts_its_own() {
    let (stable, stable_hits) = side("stable", 2).await;
    let (canary, canary_hits) = side("canary", 1).await;
    let stats = Stats::default();
    let (addr, _gw) = gateway(route(stable, canary, 0.1, &stats, None)).await;

    let counts = tally(addr, None, 3000).await;
    let (to_canary, to_stable) = (count(&counts, "canary"), count(&counts, "stable"));
    assert_eq!(to_canary + to_stable, 3000, "{counts:?}");
    let share = to_canary as f64 / 3000.0;
    assert!((0.07..=0.13).contains(&share), "canary share {share}");
    assert_eq!(canary_hits.load(Ordering::SeqCst) as u64, to_canary);
    assert_eq!(stable_hits.load(Ordering::SeqCst) as u64, to_stable);
    // Each side counts exactly its requests; the route still counts all of them.
    assert_eq!(traffic(stats.canary.snapshot()), (to_canary, to_canary, 0));
    assert_eq!(traffic(stats.stable.snapshot()), (to_stable, to_stable, 0));
    assert_eq!(traffic(stats.route.snapshot()), (3000, 3000, 0));
    assert_eq!(
        stats.canary.take_latency().unwrap().count + stats.stable.take_latency().unwrap().count,
        3000
    );
}

#[tokio::test]
async fn a_pin_header_holds_requests_to_one_side_and_is_forwarded() {
    let (stable, _) = side("stable", 2).await;
    let (canary, _) = side("canary", 2).await;
    let stats = Stats::default();
    let (addr, _gw) = gateway(route(stable, canary, 0.5, &stats, None)).await;
    let mut c = client(addr).await;

    let mut sent = (0, 0);
    for (pin, want) in [
        ("canary", "canary"),
        ("CANARY ", "canary"),
        ("7", "canary"),
        ("stable", "stable"),
        ("Stable", "stable"),
        ("6", "stable"),
    ] {
        for _ in 0..100 {
            let answer = get(&mut c, Some(pin)).await;
            assert_eq!(
                (answer.status.as_u16(), answer.body.as_str()),
                (200, want),
                "pin {pin:?}"
            );
            // The pin header reaches the instance.
            assert_eq!(answer.headers["x-saw-pin"], pin.trim(), "pin {pin:?}");
        }
        if want == "canary" {
            sent.0 += 100;
        } else {
            sent.1 += 100;
        }
    }
    assert_eq!(traffic(stats.canary.snapshot()), (sent.0, sent.0, 0));
    assert_eq!(traffic(stats.stable.snapshot()), (sent.1, sent.1, 0));

    // A value naming neither side (an unknown revision, garbage) gets the weighted choice.
    for pin in ["8", "beta"] {
        let counts = tally(addr, Some(pin), 200).await;
        let (to_canary, to_stable) = (count(&counts, "canary"), count(&counts, "stable"));
        assert_eq!(to_canary + to_stable, 200, "{counts:?}");
        assert!(
            to_canary >= 60 && to_stable >= 60,
            "pin {pin:?}: {counts:?}"
        );
    }
}

#[tokio::test]
async fn a_canary_without_instances_leaves_all_traffic_to_stable() {
    let (stable, stable_hits) = side("stable", 2).await;
    let stats = Stats::default();
    let (addr, _gw) = gateway(route(stable, vec![], 0.5, &stats, None)).await;

    let counts = tally(addr, None, 300).await;
    assert_eq!(count(&counts, "stable"), 300, "{counts:?}");
    assert_eq!(count(&counts, "error"), 0, "{counts:?}");
    assert_eq!(stable_hits.load(Ordering::SeqCst), 300);
    assert_eq!(traffic(stats.stable.snapshot()), (300, 300, 0));
    assert_eq!(traffic(stats.canary.snapshot()), (0, 0, 0));

    // A request pinned to the empty canary is not moved: it gets the usual 503, saying why.
    let mut c = client(addr).await;
    let answer = get(&mut c, Some("canary")).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.headers["retry-after"], "1");
    assert!(
        answer.body.contains(
            "no instance of service web is available (request pinned to canary revision 7)"
        ),
        "{}",
        answer.body
    );
    assert_eq!(traffic(stats.canary.snapshot()), (1, 0, 1));
    let answer = get(&mut c, Some("stable")).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (200, "stable")
    );
    assert_eq!(traffic(stats.route.snapshot()), (302, 301, 1));
}

#[tokio::test]
async fn a_side_that_cannot_take_a_request_passes_it_to_the_other_unless_pinned() {
    let (stable, stable_hits) = side("stable", 1).await;
    // A canary instance where nothing listens: its connect fails at once, nothing is sent.
    let dead_addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let dead = Endpoint::new("canary-0", "web", dead_addr, Duration::ZERO, config().pool);
    let stats = Stats::default();
    let (addr, _gw) = gateway(route(stable, vec![dead.clone()], 1.0, &stats, None)).await;

    // Unpinned: the canary could not take it, so the stable revision answers it.
    let mut c = client(addr).await;
    let answer = get(&mut c, None).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (200, "stable")
    );
    assert!(dead.is_ejected());
    assert_eq!(stable_hits.load(Ordering::SeqCst), 1);
    // Counted where it was answered: no response on the canary side.
    assert_eq!(traffic(stats.canary.snapshot()), (1, 0, 0));
    assert_eq!(traffic(stats.stable.snapshot()), (1, 1, 0));

    // Pinned to the canary: its failure shows.
    let answer = get(&mut c, Some("canary")).await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(stable_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn cold_start_waits_only_when_both_sides_are_empty() {
    let (stable, _) = side("stable", 1).await;
    let (canary, _) = side("canary", 1).await;
    let stats = Stats::default();
    let cold = Some(ColdStart {
        timeout: Duration::from_secs(10),
        queue_limit: 4,
    });
    // No stable instance, and a weight that never picks the canary: served by the canary at once.
    let (addr, gw) = gateway(route(vec![], canary, 0.0, &stats, cold)).await;
    let mut c = client(addr).await;
    let answer = get(&mut c, None).await;
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (200, "canary")
    );
    assert_eq!(stats.route.waiting(), 0);

    // Neither side has an instance: the request waits until one side gets one.
    gw.publish(route(vec![], vec![], 0.5, &stats, cold));
    let held = tokio::spawn(async move {
        let mut c = client(addr).await;
        get(&mut c, None).await
    });
    while stats.route.waiting() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.publish(route(stable, vec![], 0.5, &stats, cold));
    let answer = held.await.unwrap();
    assert_eq!(
        (answer.status.as_u16(), answer.body.as_str()),
        (200, "stable")
    );
    assert_eq!(stats.route.waiting(), 0);
    assert_eq!(traffic(stats.route.snapshot()), (2, 2, 0));
    assert_eq!(traffic(stats.canary.snapshot()), (1, 1, 0));
    assert_eq!(traffic(stats.stable.snapshot()), (1, 1, 0));
}
