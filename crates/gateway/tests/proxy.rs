//! The gateway against real HTTP servers on loopback: what clients see when instances are fine,
//! refuse connections, reset mid-request, are slow, or leave.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{backend, client, config, serve};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use shoal_gateway::{
    Backends, ColdStart, Endpoint, Gateway, GatewayConfig, Route, RoutingTable, ServiceStats,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
/// A backend that answers with its name and counts requests.
async fn named(name: &'static str, hits: Arc<AtomicUsize>) -> SocketAddr {
    backend(Arc::new(move |req: Request<Incoming>| {
        hits.fetch_add(1, Ordering::SeqCst);
        let xff = req
            .headers()
            .get("x-forwarded-for")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let hop = req.headers().contains_key("x-hop");
        Box::pin(async move {
            Response::builder()
                .header("x-served-by", name)
                .header("x-saw-xff", xff)
                .header("x-saw-hop", hop.to_string())
                .header("connection", "keep-alive")
                .header("keep-alive", "timeout=5")
                .body(Full::new(Bytes::from(name)))
                .unwrap()
        })
    }))
    .await
}

/// Starts a gateway routing `/` to `endpoints`; returns its address.
async fn gateway(endpoints: Vec<Arc<Endpoint>>) -> (SocketAddr, Arc<Gateway>) {
    let gw = Arc::new(Gateway::new(config()));
    publish(&gw, endpoints);
    (serve(&gw).await, gw)
}

fn publish(gw: &Gateway, endpoints: Vec<Arc<Endpoint>>) {
    gw.publish(RoutingTable::new(vec![Route {
        host: None,
        prefix: "/".into(),
        service: "web".into(),
        backends: Arc::new(Backends::new(endpoints, false)),
        stats: Arc::default(),
        cold_start: None,
        split: None,
    }]));
}

fn ep(gw_cfg: &GatewayConfig, id: &str, addr: SocketAddr) -> Arc<Endpoint> {
    Endpoint::new(id, "web", addr, Duration::ZERO, gw_cfg.pool)
}

async fn get(addr: SocketAddr, path: &str) -> (StatusCode, hyper::HeaderMap, String) {
    let mut c = client(addr).await;
    let req = Request::get(path)
        .header("host", "test.local")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .body(Full::new(Bytes::new()).boxed())
        .unwrap();
    let resp = c.send_request(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&body).into(),
    )
}

#[tokio::test]
async fn spreads_requests_over_every_endpoint() {
    let cfg = config();
    let hits: Vec<_> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let names = ["a", "b", "c"];
    let mut eps = vec![];
    for (i, n) in names.iter().enumerate() {
        eps.push(ep(&cfg, n, named(n, hits[i].clone()).await));
    }
    let (addr, _gw) = gateway(eps).await;
    for _ in 0..90 {
        let (status, headers, _) = get(addr, "/").await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-saw-xff"], "127.0.0.1");
        assert_eq!(headers["x-saw-hop"], "false");
        assert!(!headers.contains_key("keep-alive"));
    }
    for h in &hits {
        assert!(h.load(Ordering::SeqCst) >= 10, "uneven spread: {hits:?}");
    }
}

#[tokio::test]
async fn refused_connection_goes_to_another_instance_and_ejects() {
    let cfg = config();
    let hits = Arc::new(AtomicUsize::new(0));
    let good = ep(&cfg, "good", named("good", hits.clone()).await);
    // A port where nothing listens.
    let dead_addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let dead = ep(&cfg, "dead", dead_addr);
    let (addr, _gw) = gateway(vec![good.clone(), dead.clone()]).await;
    // POST with a body: never sent to the dead instance, so it is safe to send elsewhere.
    for _ in 0..20 {
        let mut c = client(addr).await;
        let req = Request::post("/")
            .body(Full::new(Bytes::from("payload")).boxed())
            .unwrap();
        let resp = c.send_request(req).await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(hits.load(Ordering::SeqCst), 20);
    assert!(dead.is_ejected());
    assert!(!good.is_ejected());
}

#[tokio::test]
async fn answers_404_without_route_and_503_without_instance() {
    let gw = Arc::new(Gateway::new(config()));
    gw.publish(RoutingTable::new(vec![Route {
        host: None,
        prefix: "/api".into(),
        service: "api".into(),
        backends: Arc::new(Backends::new(vec![], false)),
        stats: Arc::default(),
        cold_start: None,
        split: None,
    }]));
    let addr = serve(&gw).await;
    let (status, _, body) = get(addr, "/nothing").await;
    assert_eq!(status, 404);
    assert!(body.contains("no route for /nothing"), "{body}");
    let (status, headers, body) = get(addr, "/api/x").await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "1");
    assert!(body.contains("no instance of service api"), "{body}");
}

/// A server that reads a request and closes the connection without answering.
async fn resetter(hits: Arc<AtomicUsize>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let hits = hits.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).await.unwrap_or(0);
                if n > 0 {
                    hits.fetch_add(1, Ordering::SeqCst);
                }
                drop(s);
            });
        }
    });
    addr
}

#[tokio::test]
async fn idempotent_requests_are_retried_once_posts_never() {
    let cfg = config();
    let good_hits = Arc::new(AtomicUsize::new(0));
    let bad_hits = Arc::new(AtomicUsize::new(0));
    let good = ep(&cfg, "good", named("good", good_hits.clone()).await);
    let bad = ep(&cfg, "bad", resetter(bad_hits.clone()).await);
    let (addr, gw) = gateway(vec![bad.clone()]).await;

    // Only the resetting instance: a GET fails with 502 after one attempt (nothing to retry on).
    let (status, _, body) = get(addr, "/").await;
    assert_eq!(status, 502, "{body}");

    publish(&gw, vec![bad.clone(), good.clone()]);
    let mut posts_failed = 0;
    for _ in 0..30 {
        // GETs always succeed: a failed one is retried on the good instance.
        let (status, _, _) = get(addr, "/").await;
        assert_eq!(status, 200);
        let mut c = client(addr).await;
        let req = Request::post("/")
            .body(Full::new(Bytes::from("x")).boxed())
            .unwrap();
        let resp = c.send_request(req).await.unwrap();
        if resp.status() == 502 {
            posts_failed += 1;
        }
    }
    // POSTs that reached the bad instance were not retried.
    assert!(posts_failed > 0);
    assert!(bad_hits.load(Ordering::SeqCst) >= posts_failed);
}

#[tokio::test]
async fn stale_pooled_connections_are_resent_unsent() {
    // A backend that closes every connection right after answering (no Connection: close).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend_addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                if s.read(&mut buf).await.unwrap_or(0) > 0 {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                }
                // Close after a moment, once the gateway has pooled the connection.
                tokio::time::sleep(Duration::from_millis(20)).await;
            });
        }
    });
    let cfg = config();
    let e = ep(&cfg, "closer", backend_addr);
    let (addr, _gw) = gateway(vec![e]).await;
    for _ in 0..30 {
        let (status, _, body) = get(addr, "/").await;
        assert_eq!((status.as_u16(), body.as_str()), (200, "ok"));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

#[tokio::test]
async fn slow_instance_gives_504() {
    let cfg = config();
    let slow = backend(Arc::new(|_req| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Response::new(Full::new(Bytes::from("late")))
        })
    }))
    .await;
    let (addr, _gw) = gateway(vec![ep(&cfg, "slow", slow)]).await;
    let (status, _, body) = get(addr, "/").await;
    assert_eq!(status, 504);
    assert!(body.contains("did not answer within 2s"), "{body}");
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let cfg = config();
    // Echo server that streams the request body back.
    let echo = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                        Ok::<_, Infallible>(Response::new(req.into_body()))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        addr
    };
    let (addr, _gw) = gateway(vec![ep(&cfg, "echo", echo)]).await;
    // 8 MiB in 64 KiB chunks of unknown total length (chunked).
    let chunks: Vec<Result<Frame<Bytes>, Infallible>> = (0..128)
        .map(|i| Ok(Frame::data(Bytes::from(vec![(i % 251) as u8; 64 * 1024]))))
        .collect();
    let body = StreamBody::new(futures_util::stream::iter(chunks));
    let mut c = client(addr).await;
    let resp = c
        .send_request(Request::post("/").body(body.boxed()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(got.len(), 8 * 1024 * 1024);
    assert_eq!(got[64 * 1024 * 5], 5);
}

#[tokio::test]
async fn draining_endpoint_gets_no_new_requests_and_waits_for_inflight() {
    let cfg = config();
    let slow_hits = Arc::new(AtomicUsize::new(0));
    let h = slow_hits.clone();
    let slow = backend(Arc::new(move |_req| {
        h.fetch_add(1, Ordering::SeqCst);
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(800)).await;
            Response::new(Full::new(Bytes::from("done")))
        })
    }))
    .await;
    let e = ep(&cfg, "slow", slow);
    let (addr, gw) = gateway(vec![e.clone()]).await;
    let inflight = tokio::spawn(async move { get(addr, "/").await });
    // Wait until the request is in flight.
    while e.outstanding() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    e.start_draining();
    publish(&gw, vec![]);
    assert_eq!(e.wait_idle(Duration::from_secs(5)).await, 0);
    let (status, _, body) = inflight.await.unwrap();
    assert_eq!((status.as_u16(), body.as_str()), (200, "done"));
    let (status, _, _) = get(addr, "/").await;
    assert_eq!(status, 503);
    assert_eq!(slow_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn oversized_headers_are_refused() {
    let cfg = config();
    let hits = Arc::new(AtomicUsize::new(0));
    let (addr, _gw) = gateway(vec![ep(&cfg, "a", named("a", hits.clone()).await)]).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let big = "x".repeat(40 * 1024);
    s.write_all(format!("GET / HTTP/1.1\r\nhost: a\r\nx-big: {big}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 431"), "got: {text:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn malformed_requests_get_400_and_change_nothing() {
    let cfg = config();
    let hits = Arc::new(AtomicUsize::new(0));
    let (addr, _gw) = gateway(vec![ep(&cfg, "a", named("a", hits.clone()).await)]).await;
    for garbage in [
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nbad header line\r\n\r\n",
        "GET / HTTP/1.1\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello",
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(garbage.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.starts_with("HTTP/1.1 400"),
            "{garbage:?} got: {text:?}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    let (status, _, _) = get(addr, "/").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn requests_to_a_service_at_zero_wait_for_its_first_instance() {
    let cfg = config();
    let hits = Arc::new(AtomicUsize::new(0));
    let backend_addr = named("first", hits.clone()).await;
    let stats = Arc::new(ServiceStats::default());
    let cold = Some(ColdStart {
        timeout: Duration::from_secs(10),
        queue_limit: 2,
    });
    let route = |endpoints: Vec<Arc<Endpoint>>| Route {
        host: None,
        prefix: "/".into(),
        service: "lazy".into(),
        backends: Arc::new(Backends::new(endpoints, false)),
        stats: Arc::clone(&stats),
        cold_start: cold,
        split: None,
    };
    let gw = Arc::new(Gateway::new(config()));
    gw.publish(RoutingTable::new(vec![route(vec![])]));
    let addr = serve(&gw).await;

    let held: Vec<_> = (0..2)
        .map(|_| tokio::spawn(async move { get(addr, "/").await }))
        .collect();
    // The control plane is woken and sees two waiting requests; a third is refused at once.
    tokio::time::timeout(Duration::from_secs(5), stats.wake.notified())
        .await
        .unwrap();
    while stats.waiting() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, headers, body) = get(addr, "/").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(headers["retry-after"], "1");
    // The first instance becomes ready: the held requests go through.
    gw.publish(RoutingTable::new(vec![route(vec![ep(
        &cfg,
        "first",
        backend_addr,
    )])]));
    for h in held {
        let (status, _, body) = h.await.unwrap();
        assert_eq!((status.as_u16(), body.as_str()), (200, "first"));
    }
    assert_eq!(stats.waiting(), 0);
    let counts = stats.snapshot();
    assert_eq!(
        (counts.requests, counts.responses_2xx, counts.responses_5xx),
        (3, 2, 1)
    );
}

#[tokio::test]
async fn a_cold_start_that_takes_too_long_answers_503() {
    let gw = Arc::new(Gateway::new(config()));
    gw.publish(RoutingTable::new(vec![Route {
        host: None,
        prefix: "/".into(),
        service: "lazy".into(),
        backends: Arc::new(Backends::new(vec![], false)),
        stats: Arc::default(),
        cold_start: Some(ColdStart {
            timeout: Duration::from_millis(300),
            queue_limit: 10,
        }),
        split: None,
    }]));
    let addr = serve(&gw).await;
    let started = tokio::time::Instant::now();
    let (status, headers, body) = get(addr, "/").await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "1");
    assert!(body.contains("is starting"), "{body}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}
