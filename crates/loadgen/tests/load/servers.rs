//! Small in-process servers on 127.0.0.1:0, each with one behaviour, and a helper that runs the
//! load generator from command-line words.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use shoal_loadgen::{LoadArgs, Report};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::time::{sleep, sleep_until, Instant};

type BoxFut = Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>>;
type Handler = Arc<dyn Fn(Request<Incoming>) -> BoxFut + Send + Sync>;

/// A running test server: where it listens, and what it saw.
#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    /// Connections accepted.
    pub connections: Arc<AtomicU64>,
    /// Arrival time of every request.
    pub arrivals: Arc<Mutex<Vec<Instant>>>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests that arrived in each whole second after `start`.
    pub fn per_second(&self, start: Instant, seconds: usize) -> Vec<usize> {
        let mut counts = vec![0; seconds];
        for t in self.arrivals.lock().unwrap().iter() {
            let second = t.duration_since(start).as_secs() as usize;
            if second < seconds {
                counts[second] += 1;
            }
        }
        counts
    }
}

/// An HTTP/1.1 server answering every request with `handler`.
pub async fn serve(handler: Handler) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = Server {
        addr: listener.local_addr().unwrap(),
        connections: Arc::new(AtomicU64::new(0)),
        arrivals: Arc::new(Mutex::new(Vec::new())),
    };
    let (connections, arrivals) = (
        Arc::clone(&server.connections),
        Arc::clone(&server.arrivals),
    );
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            connections.fetch_add(1, Ordering::SeqCst);
            let handler = Arc::clone(&handler);
            let arrivals = Arc::clone(&arrivals);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    arrivals.lock().unwrap().push(Instant::now());
                    let fut = handler(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    server
}

fn answer(status: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from_static(b"ok\n")))
        .unwrap()
}

/// Answers 200 at once.
pub async fn fast() -> Server {
    serve(Arc::new(|_| Box::pin(async { answer(StatusCode::OK) }))).await
}

/// Answers `status` at once.
pub async fn status(status: StatusCode) -> Server {
    serve(Arc::new(move |_| Box::pin(async move { answer(status) }))).await
}

/// Answers 200 after `delay`.
pub async fn delayed(delay: Duration) -> Server {
    serve(Arc::new(move |_| {
        Box::pin(async move {
            sleep(delay).await;
            answer(StatusCode::OK)
        })
    }))
    .await
}

/// Answers 500 to every `nth` request, 200 to the others.
pub async fn failing_every(nth: u64) -> Server {
    let count = Arc::new(AtomicU64::new(0));
    serve(Arc::new(move |_| {
        let n = count.fetch_add(1, Ordering::SeqCst) + 1;
        Box::pin(async move {
            if !n.is_multiple_of(nth) {
                answer(StatusCode::OK)
            } else {
                answer(StatusCode::INTERNAL_SERVER_ERROR)
            }
        })
    }))
    .await
}

/// Answers after `delay`, but stops answering for `stall` starting `after` its first request:
/// anything arriving in that window waits until it ends (a GC pause, a lock, a full queue).
pub async fn stalling(delay: Duration, after: Duration, stall: Duration) -> Server {
    let first: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    serve(Arc::new(move |_| {
        let now = Instant::now();
        let begin = *first.get_or_init(|| now) + after;
        let end = begin + stall;
        Box::pin(async move {
            if now >= begin && now < end {
                sleep_until(end).await;
            }
            sleep(delay).await;
            answer(StatusCode::OK)
        })
    }))
    .await
}

/// Echoes what it received: method, `x-test` header and body, as `METHOD|HEADER|BODY`.
pub async fn echo() -> Server {
    serve(Arc::new(|req: Request<Incoming>| {
        Box::pin(async move {
            let method = req.method().to_string();
            let header = req
                .headers()
                .get("x-test")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let text = format!("{method}|{header}|{}", String::from_utf8_lossy(&body));
            let status = if text == "POST|yes|hello" {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            Response::builder()
                .status(status)
                .body(Full::new(Bytes::from(text)))
                .unwrap()
        })
    }))
    .await
}

/// Reads each request and closes the connection without answering.
pub async fn closing() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
            });
        }
    });
    addr
}

/// A loopback port nothing listens on.
pub async fn refused() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: LoadArgs,
}

/// Parses `argv` as `shoal load` does.
pub fn args(argv: &[&str]) -> LoadArgs {
    Cli::try_parse_from(std::iter::once("load").chain(argv.iter().copied()))
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
        .args
}

/// Runs `shoal load ARGV` and returns its report.
pub async fn load(argv: &[&str]) -> Report {
    shoal_loadgen::run(&args(argv), false)
        .await
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"))
}
