//! `/v1/stream` over a real socket: the admin router served by axum, read as a browser's
//! `EventSource` would (status every second, events as they happen, resume by `Last-Event-ID`,
//! a clean end on shutdown).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use shoal_control::{admin_router, AdminState, Controller};
use shoal_gateway::{Gateway, GatewayConfig, PoolConfig};
use shoal_runtime::ShimCommand;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A generous bound for one message on a loaded machine.
const WAIT: Duration = Duration::from_secs(15);

/// A controller running one service at zero instances (nothing is started), served on a free
/// loopback port.
struct Admin {
    addr: std::net::SocketAddr,
    controller: Arc<Controller>,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A private directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("shoal-stream-test-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Dir(dir)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Admin {
    async fn start(name: &str) -> Admin {
        let dir = tempdir::Dir::new(name);
        let source = r#"
[gateway]
listen = "127.0.0.1:1"

[admin]
listen = "127.0.0.1:2"
data_dir = "data"

[services.web]
command = ["/bin/sleep", "600"]
route = "/"
instances = { min = 0, desired = 0, max = 3 }

[services.web.autoscale]
metric = "concurrency"
target = 10
"#;
        let path = dir.0.join("shoal.toml");
        std::fs::write(&path, source).unwrap();
        let opts = shoal_spec::LoadOptions {
            check_ports: false,
            check_programs: true,
        };
        let spec = shoal_spec::parse(source, &path, &opts).unwrap_or_else(|d| panic!("{d}"));
        let gateway = Arc::new(Gateway::new(GatewayConfig {
            response_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(5),
            max_header_bytes: 16 * 1024,
            retry_budget: 0.2,
            runtime: None,
            pool: PoolConfig::default(),
        }));
        let shim = ShimCommand {
            exe: "/bin/false".into(),
            leading_args: Vec::new(),
        };
        let controller = Arc::new(Controller::start(spec, gateway, shim).unwrap());
        let (shutdown, mut stop) = watch::channel(false);
        let router = admin_router(AdminState {
            controller: Arc::clone(&controller),
            token: Arc::from("secret"),
            shutdown: shutdown.clone(),
            gateway_addr: "http://127.0.0.1:1".to_string(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await
                .unwrap();
        });
        Admin {
            addr,
            controller,
            shutdown,
            server,
            _dir: dir,
        }
    }

    async fn stop(self) {
        self.shutdown.send_replace(true);
        tokio::time::timeout(WAIT, self.server)
            .await
            .expect("the admin server stops while a stream is open")
            .unwrap();
        self.controller.shutdown().await;
    }
}

/// One server-sent event.
#[derive(Debug, Default)]
struct Message {
    event: String,
    data: String,
    id: Option<String>,
}

/// Reads an SSE response the way `EventSource` does (fields up to a blank line).
struct Reader {
    body: Incoming,
    buf: String,
}

impl Reader {
    async fn open(
        addr: std::net::SocketAddr,
        path: &str,
        last_event_id: Option<u64>,
    ) -> (u16, String, Reader) {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = hyper::Request::get(path).header("host", addr.to_string());
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id.to_string());
        }
        let resp = sender
            .send_request(req.body(Empty::<Bytes>::new()).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (
            status,
            content_type,
            Reader {
                body: resp.into_body(),
                buf: String::new(),
            },
        )
    }

    /// The next message (comments skipped), or `None` at the end of the body.
    async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut msg = Message::default();
                for line in block.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "event" => msg.event = value.to_string(),
                        "data" => msg.data.push_str(value),
                        "id" => msg.id = Some(value.to_string()),
                        _ => {}
                    }
                }
                if msg.event.is_empty() && msg.data.is_empty() {
                    continue; // a keep-alive comment, or `retry:` alone
                }
                return Some(msg);
            }
            let frame = tokio::time::timeout(WAIT, self.body.frame())
                .await
                .expect("a message within the time limit")?
                .unwrap();
            if let Ok(data) = frame.into_data() {
                self.buf.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
    }

    /// The next message of kind `event`, skipping others.
    async fn next_of(&mut self, event: &str) -> Message {
        loop {
            let msg = self.next().await.expect("stream ended early");
            if msg.event == event {
                return msg;
            }
        }
    }
}

#[tokio::test]
async fn sends_status_every_second_and_events_as_they_happen() {
    let admin = Admin::start("live").await;
    let (status, content_type, mut reader) = Reader::open(admin.addr, "/v1/stream", None).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/event-stream");

    let first = reader.next_of("status").await;
    let body: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(body["gateway"], "http://127.0.0.1:1");
    assert!(
        body["data_dir"].as_str().unwrap().ends_with("data"),
        "{body}"
    );
    assert_eq!(body["services"][0]["name"], "web");
    assert_eq!(body["services"][0]["desired"], 0);
    assert!(body["services"][0]["traffic"]["rps"].is_number(), "{body}");
    // A second status follows about a second later.
    let started = tokio::time::Instant::now();
    reader.next_of("status").await;
    assert!(started.elapsed() >= Duration::from_millis(500));

    admin.controller.registry().event(
        "web",
        Some("web-1"),
        "healthy",
        "web-1 is healthy (from the test)".to_string(),
    );
    let news = loop {
        let msg = reader.next_of("events").await;
        if msg.data.contains("from the test") {
            break msg;
        }
    };
    let body: Value = serde_json::from_str(&news.data).unwrap();
    let last = body["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "healthy");
    assert_eq!(last["instance"], "web-1");
    assert_eq!(
        news.id,
        Some(last["seq"].to_string()),
        "the id is the last seq"
    );
    admin.stop().await;
}

#[tokio::test]
async fn resumes_after_last_event_id_and_since() {
    let admin = Admin::start("resume").await;
    let registry = admin.controller.registry();
    for n in 1..=3 {
        registry.event("web", None, "scaled", format!("event number {n}"));
    }
    let all = registry.events_since(0, 1000);
    let seq = |n: usize| {
        all.iter()
            .find(|e| e.message == format!("event number {n}"))
            .unwrap()
            .seq
    };

    // Without a position: the backlog.
    let (_, _, mut reader) = Reader::open(admin.addr, "/v1/stream", None).await;
    let backlog = reader.next_of("events").await;
    assert!(backlog.data.contains("event number 1"), "{}", backlog.data);
    assert!(backlog.data.contains("event number 3"), "{}", backlog.data);

    // A reconnecting EventSource: only what it has not seen.
    let (_, _, mut reader) = Reader::open(admin.addr, "/v1/stream", Some(seq(2))).await;
    let rest = reader.next_of("events").await;
    assert!(!rest.data.contains("event number 2"), "{}", rest.data);
    assert!(rest.data.contains("event number 3"), "{}", rest.data);

    // `?since=` does the same for other clients.
    let path = format!("/v1/stream?since={}", seq(1));
    let (_, _, mut reader) = Reader::open(admin.addr, &path, None).await;
    let rest = reader.next_of("events").await;
    assert!(!rest.data.contains("event number 1"), "{}", rest.data);
    assert!(rest.data.contains("event number 2"), "{}", rest.data);

    // A position from before a restart (beyond the newest event) starts over.
    let (_, _, mut reader) = Reader::open(admin.addr, "/v1/stream", Some(seq(3) + 100)).await;
    let again = reader.next_of("events").await;
    assert!(again.data.contains("event number 1"), "{}", again.data);

    let (status, _, _) = Reader::open(admin.addr, "/v1/stream?since=soon", None).await;
    assert_eq!(status, 400);
    admin.stop().await;
}

#[tokio::test]
async fn ends_cleanly_on_shutdown() {
    let admin = Admin::start("shutdown").await;
    let (_, _, mut reader) = Reader::open(admin.addr, "/v1/stream", None).await;
    reader.next_of("status").await;
    admin.shutdown.send_replace(true);
    let last = reader.next_of("shutdown").await;
    assert_eq!(last.data, "shoal is shutting down");
    assert!(
        reader.next().await.is_none(),
        "the body ends after shutdown"
    );
    admin.stop().await;
}
