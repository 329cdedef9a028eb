//! What the gateway counts for `/metrics`, against real HTTP servers on loopback: responses by
//! revision and status class, the gateway's own answers, the cumulative duration histogram,
//! upstream failures by kind and retries.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{backend, client, config, serve};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use shoal_gateway::{
    Backends, Endpoint, Gateway, ResponseCounts, Route, RoutingTable, ServiceStats,
    DURATION_BUCKETS,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A backend answering `/missing` with 404 and anything else with 200.
async fn app() -> SocketAddr {
    backend(Arc::new(|req| {
        let status = if req.uri().path() == "/missing" {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::OK
        };
        Box::pin(async move {
            Response::builder()
                .status(status)
                .body(Full::new(Bytes::from("x")))
                .unwrap()
        })
    }))
    .await
}

/// A server that reads a request and closes the connection without answering.
async fn resetter() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
            });
        }
    });
    addr
}

/// A loopback port nobody listens on.
async fn dead() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
}

fn ep(id: &str, addr: SocketAddr) -> Arc<Endpoint> {
    Endpoint::new(id, "web", addr, Duration::ZERO, config().pool)
}

fn publish(gw: &Gateway, stats: &Arc<ServiceStats>, endpoints: Vec<Arc<Endpoint>>) {
    gw.publish(RoutingTable::new(vec![Route {
        host: None,
        prefix: "/".into(),
        service: "web".into(),
        backends: Arc::new(Backends::new(endpoints, false)),
        stats: Arc::clone(stats),
        cold_start: None,
        split: None,
    }]));
}

async fn send(addr: SocketAddr, method: &str, path: &str) -> StatusCode {
    let mut c = client(addr).await;
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "test.local")
        .body(Full::new(Bytes::new()).boxed())
        .unwrap();
    let resp = c.send_request(req).await.unwrap();
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test]
async fn responses_are_counted_by_revision_and_gateway_answers_apart() {
    let gw = Arc::new(Gateway::new(config()));
    let stats = Arc::new(ServiceStats::default());
    let (rev1, rev2) = (
        Arc::new(ResponseCounts::default()),
        Arc::new(ResponseCounts::default()),
    );
    let a = ep("web-1", app().await);
    let b = ep("web-2", app().await);
    assert!(a.count_responses_in(Arc::clone(&rev1)));
    assert!(b.count_responses_in(Arc::clone(&rev2)));
    // An instance never changes revision: a second attachment is refused.
    assert!(!b.count_responses_in(Arc::clone(&rev1)));
    publish(&gw, &stats, vec![a]);
    let addr = serve(&gw).await;
    for _ in 0..5 {
        assert_eq!(send(addr, "GET", "/").await, 200);
    }
    assert_eq!(send(addr, "GET", "/missing").await, 404);
    publish(&gw, &stats, vec![b]);
    for _ in 0..3 {
        assert_eq!(send(addr, "GET", "/").await, 200);
    }
    // No instance: the gateway answers itself, counted under no revision.
    publish(&gw, &stats, vec![]);
    assert_eq!(send(addr, "GET", "/").await, 503);

    assert_eq!(rev1.snapshot(), [5, 0, 1, 0]);
    assert_eq!(rev2.snapshot(), [3, 0, 0, 0]);
    let t = stats.totals();
    assert_eq!(t.gateway_answers, [0, 0, 0, 1]);
    // Every response, relayed or not, is in the histogram once; loopback answers are quick.
    assert_eq!(t.duration_buckets.len(), DURATION_BUCKETS.len() + 1);
    assert_eq!(t.duration_buckets.iter().sum::<u64>(), 10);
    assert!(t.duration_buckets[..9].iter().sum::<u64>() >= 9, "{t:?}");
    assert!(t.duration_sum_seconds > 0.0 && t.duration_sum_seconds < 10.0);
    assert_eq!((t.upstream_errors, t.retries), ([0, 0, 0], 0));
    let snap = stats.snapshot();
    assert_eq!((snap.responses_2xx, snap.responses_5xx), (8, 1));
}

#[tokio::test]
async fn upstream_failures_and_retries_are_counted_where_they_happen() {
    let mut cfg = config();
    cfg.retry_budget = 1.0;
    cfg.response_timeout = Duration::from_millis(300);
    let gw = Arc::new(Gateway::new(cfg));
    let stats = Arc::new(ServiceStats::default());
    let addr = serve(&gw).await;
    let good = ep("good", app().await);

    // A refused connection: counted, and the request goes to the good instance (a retry).
    publish(&gw, &stats, vec![ep("dead", dead().await), good.clone()]);
    for _ in 0..200 {
        assert_eq!(send(addr, "POST", "/").await, 200);
        if stats.totals().upstream_errors[0] > 0 {
            break;
        }
    }
    let t = stats.totals();
    assert_eq!((t.upstream_errors, t.retries), ([1, 0, 0], 1));

    // A reset after sending: a GET is retried on the good instance.
    publish(
        &gw,
        &stats,
        vec![ep("reset", resetter().await), good.clone()],
    );
    for _ in 0..200 {
        assert_eq!(send(addr, "GET", "/").await, 200);
        if stats.totals().upstream_errors[2] > 0 {
            break;
        }
    }
    let t = stats.totals();
    assert_eq!((t.upstream_errors, t.retries), ([1, 0, 1], 2), "{t:?}");
    assert_eq!(t.gateway_answers, [0; 4]);

    // The only instance resets: 502 by the gateway, nothing to retry on.
    publish(&gw, &stats, vec![ep("reset", resetter().await)]);
    assert_eq!(send(addr, "GET", "/").await, 502);
    // Too slow: 504, never retried.
    let slow = backend(Arc::new(|_req| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Response::new(Full::new(Bytes::from("late")))
        })
    }))
    .await;
    publish(&gw, &stats, vec![ep("slow", slow), good]);
    for _ in 0..200 {
        let status = send(addr, "GET", "/").await;
        assert!(status == 200 || status == 504, "{status}");
        if stats.totals().upstream_errors[1] > 0 {
            break;
        }
    }
    let t = stats.totals();
    assert_eq!((t.upstream_errors, t.retries), ([1, 1, 2], 2), "{t:?}");
    assert_eq!(t.gateway_answers, [0, 0, 0, 2]);
}
