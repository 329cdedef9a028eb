//! Helpers shared by the integration tests: start the real binary on a free
//! port against a temporary database, and talk to it with a tiny blocking
//! HTTP/1.1 client.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

/// How long a fresh instance may take to answer `/health` on a slow machine.
pub const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Environment variables the app reads; cleared so tests are hermetic.
const APP_ENV: &[&str] = &[
    "PORT",
    "TASKBOARD_DB",
    "APP_VERSION",
    "FAIL_RATE",
    "SHOAL_INSTANCE_ID",
    "SHOAL_SERVICE",
    "SHOAL_REVISION",
    "SHOAL_LIVE_INSTANCES",
    "RUST_LOG",
];

/// A directory removed when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, uniquely named directory.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "taskboard-it-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A database path inside the directory.
    pub fn db(&self) -> PathBuf {
        self.path.join("taskboard.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Asks the OS for a port that is free right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("find a free port")
        .port()
}

/// How to start one instance.
pub struct Launch {
    db: PathBuf,
    envs: Vec<(String, String)>,
    port_via_env: bool,
}

impl Launch {
    /// An instance using the database at `db`.
    pub fn new(db: &Path) -> Launch {
        Launch {
            db: db.to_path_buf(),
            envs: Vec::new(),
            port_via_env: false,
        }
    }

    /// Sets an environment variable for the instance.
    pub fn env(mut self, key: &str, value: &str) -> Launch {
        self.envs.push((key.to_string(), value.to_string()));
        self
    }

    /// Passes the port through `PORT` instead of `--port`.
    pub fn port_via_env(mut self) -> Launch {
        self.port_via_env = true;
        self
    }

    /// Starts the instance and waits until `/health` answers.
    ///
    /// The free port can be taken by someone else before the child binds it,
    /// so a start that dies early is retried on another port.
    pub fn start(self) -> Server {
        let mut last_log = String::new();
        for attempt in 0..3 {
            let port = free_port();
            let log_path = self
                .db
                .with_file_name(format!("instance-{port}-{attempt}.log"));
            let log = File::create(&log_path).expect("create log file");
            let mut command = Command::new(env!("CARGO_BIN_EXE_taskboard"));
            for key in APP_ENV {
                command.env_remove(key);
            }
            command
                .arg("--db")
                .arg(&self.db)
                .current_dir(self.db.parent().expect("db has a parent dir"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log));
            if self.port_via_env {
                command.env("PORT", port.to_string());
            } else {
                command.arg("--port").arg(port.to_string());
            }
            for (key, value) in &self.envs {
                command.env(key, value);
            }
            let child = command.spawn().expect("spawn taskboard");
            let mut server = Server {
                child,
                port,
                log_path,
                exited: None,
            };
            match server.wait_ready() {
                Ok(()) => return server,
                Err(log) => last_log = log,
            }
        }
        panic!("taskboard never became ready; last log:\n{last_log}");
    }
}

/// A running instance, killed when dropped.
pub struct Server {
    child: Child,
    /// Port the instance listens on.
    pub port: u16,
    log_path: PathBuf,
    exited: Option<ExitStatus>,
}

impl Server {
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return Err(format!("exited with {status}:\n{}", self.log()));
            }
            if let Ok(response) = request(self.port, "GET", "/health", None, b"") {
                if response.status == 200 {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!(
            "not ready after {READY_TIMEOUT:?}:\n{}",
            self.log()
        ))
    }

    /// Process id of the instance.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the instance logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Sends a signal with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, failing the test after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                self.exited = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "taskboard did not exit within {timeout:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `GET path`, failing the test on transport errors.
    pub fn get(&self, path: &str) -> Response {
        self.call("GET", path, None, "")
    }

    /// Sends a JSON body, failing the test on transport errors.
    pub fn send_json(&self, method: &str, path: &str, body: &str) -> Response {
        self.call(method, path, Some("application/json"), body)
    }

    /// Sends a form body, failing the test on transport errors.
    pub fn send_form(&self, path: &str, body: &str) -> Response {
        self.call(
            "POST",
            path,
            Some("application/x-www-form-urlencoded"),
            body,
        )
    }

    /// Any request, failing the test on transport errors.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> Response {
        request(self.port, method, path, content_type, body.as_bytes())
            .unwrap_or_else(|err| panic!("{method} {path}: {err}\nlog:\n{}", self.log()))
    }

    /// Current value of an unlabelled metric.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let body = self.get("/metrics").body;
        body.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let (key, value) = line.split_once(' ')?;
                (key == name).then(|| value.trim().parse().ok())?
            })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body as text.
    pub body: String,
}

impl Response {
    /// First header with that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body parsed as JSON, failing the test if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {:?}", self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> io::Result<Response> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(90)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;

    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;

    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| invalid("head not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| invalid("no status line"))?;
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();

    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(key, value)| key == "transfer-encoding" && value.contains("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| invalid("bad chunked body"))?;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Polls `check` until it holds, failing the test after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
