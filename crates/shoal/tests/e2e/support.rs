//! Test harness: start `shoal up` on a spec in a private directory, talk to its admin API, and
//! drive HTTP load through its gateway while counting every failure.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The `shoal` binary under test.
pub fn shoal_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shoal"))
}

/// The taskboard demo app, built by the same `cargo test` run (it is a workspace member).
pub fn taskboard_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = dir.join("taskboard");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p taskboard` (or `cargo test --workspace`)",
        bin.display()
    );
    bin
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private directory that is removed when dropped.
pub struct Scratch(pub PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh private directory under the system temp dir, removed on drop.
pub fn scratch(name: &str) -> Scratch {
    Scratch(scratch_dir(name))
}

/// A fresh private directory under the system temp dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "shoal-e2e-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A running `shoal up`.
pub struct Shoal {
    child: Option<Child>,
    pub dir: PathBuf,
    pub spec: PathBuf,
    pub gateway: SocketAddr,
    pub admin: SocketAddr,
}

impl Shoal {
    /// Writes `[gateway]`/`[admin]` with free ports plus `services` (TOML; `{dir}` and
    /// `{taskboard}` are substituted) and starts `shoal up`. Returns once the admin API answers.
    pub async fn start(name: &str, services: &str) -> Shoal {
        let dir = scratch_dir(name);
        let gateway: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let services = services
            .replace("{dir}", dir.to_str().unwrap())
            .replace("{taskboard}", taskboard_bin().to_str().unwrap());
        let spec = dir.join("shoal.toml");
        std::fs::write(
            &spec,
            format!(
                "[gateway]\nlisten = \"{gateway}\"\n\n[admin]\nlisten = \"{admin}\"\ndata_dir = \"data\"\n\n{services}"
            ),
        )
        .unwrap();
        Shoal::launch(dir, spec, gateway, admin).await
    }

    /// Starts `shoal up -f spec` on a spec already written in `dir` (whose listen addresses are
    /// `gateway` and `admin`). Returns once the admin API answers; `dir` is removed on drop.
    pub async fn launch(
        dir: PathBuf,
        spec: PathBuf,
        gateway: SocketAddr,
        admin: SocketAddr,
    ) -> Shoal {
        let log = std::fs::File::create(dir.join("shoal-up.log")).unwrap();
        let child = Command::new(shoal_bin())
            .args(["up", "-f"])
            .arg(&spec)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start shoal up");
        let mut shoal = Shoal {
            child: Some(child),
            dir,
            spec,
            gateway,
            admin,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if http_get(admin, "/v1/status").await.is_ok() {
                break;
            }
            if let Some(status) = shoal.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("shoal up exited early ({status}):\n{}", shoal.log());
            }
            assert!(
                Instant::now() < deadline,
                "admin API never answered:\n{}",
                shoal.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shoal
    }

    /// Starts `shoal up` again on the same spec and data dir after the previous one exited.
    pub async fn relaunch(&mut self) {
        let mut old = self.child.take().unwrap();
        assert!(
            wait_exit(&mut old, Duration::from_secs(30)).is_some(),
            "previous shoal still running"
        );
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("shoal-up.log"))
            .unwrap();
        self.child = Some(
            Command::new(shoal_bin())
                .args(["up", "-f"])
                .arg(&self.spec)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start shoal up"),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while http_get(self.admin, "/v1/status").await.is_err() {
            assert!(
                Instant::now() < deadline,
                "admin API never answered:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What `shoal up` printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("shoal-up.log")).unwrap_or_default()
    }

    /// Runs a client verb against this shoal (`-f`/`--file` added as the verb expects).
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_on(&self.spec, args)
    }

    /// Runs a client verb with another spec file (e.g. the next version for `apply`).
    pub fn cli_on(&self, spec: &Path, args: &[&str]) -> Output {
        let file_flag = match args.first() {
            Some(&"logs") | Some(&"events") => "--file",
            _ => "-f",
        };
        Command::new(shoal_bin())
            .args(args)
            .arg(file_flag)
            .arg(spec)
            .env_remove("SHOAL_ADDR")
            .env_remove("SHOAL_TOKEN")
            .output()
            .unwrap()
    }

    /// Runs a CLI verb with `-f spec` (it may block for a while, e.g. `apply` following a
    /// rollout) without holding up the test's runtime.
    pub async fn cli_async(&self, spec: &Path, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let spec = spec.to_path_buf();
        tokio::task::spawn_blocking(move || {
            Command::new(shoal_bin())
                .args(&args)
                .arg("-f")
                .arg(&spec)
                .env_remove("SHOAL_ADDR")
                .env_remove("SHOAL_TOKEN")
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    /// One service's status.
    pub async fn service(&self, name: &str) -> Value {
        let status = self.status().await;
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no service {name} in {status:#}"))
            .clone()
    }

    /// Waits until `check` holds for a service's status.
    pub async fn wait_for(
        &self,
        name: &str,
        what: &str,
        limit: Duration,
        check: impl Fn(&Value) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.service(name).await;
            if check(&s) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; {name}: {s:#}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every instance of `name` runs `revision`, and each one's own `/instance` says `version`.
    pub async fn all_instances_run(&self, name: &str, revision: u64, version: &str, count: usize) {
        let instances = self.instances(name).await;
        assert_eq!(instances.len(), count, "{instances:#?}");
        for i in instances {
            assert_eq!(i["revision"], revision, "{i:#}");
            let port = i["port"].as_u64().unwrap() as u16;
            let addr = format!("127.0.0.1:{port}").parse().unwrap();
            let (code, body) = http_get(addr, "/instance").await.unwrap();
            assert_eq!(code, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["version"], version, "{body}");
            assert_eq!(v["revision"], revision.to_string(), "{body}");
        }
    }

    /// Writes another spec next to this one, with the same `[gateway]`/`[admin]` and these
    /// `services` (substituted like [`Shoal::start`]); returns its path.
    pub fn spec_variant(&self, file: &str, services: &str) -> PathBuf {
        let services = services
            .replace("{dir}", self.dir.to_str().unwrap())
            .replace("{taskboard}", taskboard_bin().to_str().unwrap());
        let path = self.dir.join(file);
        std::fs::write(
            &path,
            format!(
                "[gateway]\nlisten = \"{}\"\n\n[admin]\nlisten = \"{}\"\ndata_dir = \"data\"\n\n{services}",
                self.gateway, self.admin
            ),
        )
        .unwrap();
        path
    }

    /// The admin token.
    pub fn token(&self) -> String {
        std::fs::read_to_string(self.dir.join("data/token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Value {
        let (code, body) = http_get(self.admin, "/v1/status").await.unwrap();
        assert_eq!(code, 200);
        serde_json::from_str(&body).unwrap()
    }

    /// Instances of `service` as JSON objects.
    pub async fn instances(&self, service: &str) -> Vec<Value> {
        let status = self.status().await;
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == service)
            .unwrap_or_else(|| panic!("no service {service} in {status}"))["instances"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// One instance by id (panics if it does not exist).
    pub async fn instance(&self, service: &str, id: &str) -> Value {
        self.instances(service)
            .await
            .into_iter()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("no instance {id} of {service}"))
    }

    /// Waits until `service` has exactly `n` instances, all healthy.
    pub async fn wait_healthy(&self, service: &str, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let list = self.instances(service).await;
            if list.len() == n && list.iter().all(|i| i["state"] == "healthy") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{service} did not reach {n} healthy instances within {limit:?}: {list:#?}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `instance` is in `state`.
    pub async fn wait_state(&self, service: &str, instance: &str, state: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let list = self.instances(service).await;
            if list
                .iter()
                .any(|i| i["id"] == instance && i["state"] == state)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{instance} not {state} within {limit:?}: {list:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every event so far.
    pub async fn events(&self) -> Vec<Value> {
        let (_, body) = http_get(self.admin, "/v1/events?limit=1000").await.unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        v["events"].as_array().unwrap().clone()
    }

    /// Sends SIGTERM and waits (up to `limit`) for `shoal up` to exit; returns its exit code.
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        let child = self.child.as_mut().unwrap();
        signal(child.id(), "TERM");
        wait_exit(child, limit)
    }

    /// Sends SIGKILL to `shoal up` and reaps it.
    pub fn kill(&mut self) {
        let child = self.child.as_mut().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Shoal {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if child.try_wait().ok().flatten().is_none() {
                // Orderly first so instances do not linger; SIGKILL if that hangs.
                signal(child.id(), "TERM");
                if wait_exit(&mut child, Duration::from_secs(20)).is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = std::time::SystemTime::now() + limit;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status.code().unwrap_or(-1));
        }
        if std::time::SystemTime::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends a signal with `kill(1)` (no unsafe code needed).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// One request on a fresh connection: `(status, body)`.
pub async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    request(addr, "GET", path, None).await
}

/// One request with an optional bearer token.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> Result<(u16, String), String> {
    request_with_body(addr, method, path, token, None).await
}

/// One request with an optional token and JSON body.
pub async fn request_with_body(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> Result<(u16, String), String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let body = match json {
        Some(j) => {
            req = req.header("content-type", "application/json");
            http_body_util::Full::new(Bytes::from(j.to_string())).boxed()
        }
        None => Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed(),
    };
    let resp = tokio::time::timeout(
        Duration::from_secs(30),
        sender.send_request(req.body(body).unwrap()),
    )
    .await
    .map_err(|_| "timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// Closed-model load: `concurrency` clients, each on its own keep-alive connection, sending GETs
/// back to back. Every non-2xx answer and every transport error counts as a failure.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    pub ok: Arc<AtomicUsize>,
    pub failures: Arc<Mutex<Vec<String>>>,
    pub served_by: Arc<Mutex<std::collections::BTreeMap<String, usize>>>,
    /// Successful answers by the `version` the instance reported.
    pub versions: Arc<Mutex<std::collections::BTreeMap<String, usize>>>,
    /// Latency of each successful request, with the time it completed.
    pub latencies: Arc<Mutex<Vec<(Instant, Duration)>>>,
}

/// What a load run saw.
#[derive(Debug)]
pub struct LoadReport {
    pub ok: usize,
    pub failures: Vec<String>,
    pub served_by: std::collections::BTreeMap<String, usize>,
    pub versions: std::collections::BTreeMap<String, usize>,
    pub latencies: Vec<(Instant, Duration)>,
}

impl LoadReport {
    /// The p99 latency of requests that completed after `since`.
    pub fn p99_after(&self, since: Instant) -> Option<Duration> {
        let mut l: Vec<Duration> = self
            .latencies
            .iter()
            .filter(|(at, _)| *at >= since)
            .map(|(_, d)| *d)
            .collect();
        if l.is_empty() {
            return None;
        }
        l.sort();
        Some(l[((l.len() as f64 * 0.99).ceil() as usize).clamp(1, l.len()) - 1])
    }
}

impl Load {
    /// Starts the clients against `addr` + `path`.
    pub fn start(addr: SocketAddr, path: &'static str, concurrency: usize) -> Load {
        let mut load = Load {
            stop: Arc::new(AtomicBool::new(false)),
            tasks: Vec::new(),
            ok: Arc::new(AtomicUsize::new(0)),
            failures: Arc::new(Mutex::new(Vec::new())),
            served_by: Arc::new(Mutex::new(std::collections::BTreeMap::new())),
            versions: Arc::new(Mutex::new(std::collections::BTreeMap::new())),
            latencies: Arc::new(Mutex::new(Vec::new())),
        };
        load.add_clients(addr, path, concurrency);
        load
    }

    /// Adds `n` more clients for the rest of the run.
    pub fn add_clients(&mut self, addr: SocketAddr, path: &'static str, n: usize) {
        for _ in 0..n {
            let stop = Arc::clone(&self.stop);
            self.spawn_client(addr, path, stop);
        }
    }

    /// Adds `n` clients that stop when the returned flag is set (or the whole load stops).
    pub fn add_temporary_clients(
        &mut self,
        addr: SocketAddr,
        path: &'static str,
        n: usize,
    ) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        for _ in 0..n {
            let (flag, all) = (Arc::clone(&flag), Arc::clone(&self.stop));
            let stop = Arc::new(AtomicBool::new(false));
            let client_stop = Arc::clone(&stop);
            self.tasks.push(tokio::spawn(async move {
                while !flag.load(Ordering::Relaxed) && !all.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                stop.store(true, Ordering::Relaxed);
            }));
            self.spawn_client(addr, path, client_stop);
        }
        flag
    }

    fn spawn_client(&mut self, addr: SocketAddr, path: &'static str, stop: Arc<AtomicBool>) {
        let (ok, failures, served_by, latencies) = (
            self.ok.clone(),
            self.failures.clone(),
            self.served_by.clone(),
            self.latencies.clone(),
        );
        let versions = self.versions.clone();
        self.tasks.push(tokio::spawn(async move {
            let mut sender = None;
            while !stop.load(Ordering::Relaxed) {
                if sender.is_none() {
                    match connect(addr).await {
                        Ok(s) => sender = Some(s),
                        Err(e) => {
                            failures.lock().unwrap().push(format!("connect: {e}"));
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    }
                }
                let s = sender.as_mut().unwrap();
                if s.ready().await.is_err() {
                    // The gateway closed an idle keep-alive connection: not a failed request.
                    sender = None;
                    continue;
                }
                let req = hyper::Request::get(path)
                    .header("host", "shoal.test")
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let sent = Instant::now();
                match s.send_request(req).await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
                        match body {
                            Ok(b) if (200..300).contains(&status) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                                latencies
                                    .lock()
                                    .unwrap()
                                    .push((Instant::now(), sent.elapsed()));
                                if let Ok(v) = serde_json::from_slice::<Value>(&b) {
                                    if let Some(id) = v["instance"].as_str() {
                                        *served_by
                                            .lock()
                                            .unwrap()
                                            .entry(id.to_string())
                                            .or_default() += 1;
                                    }
                                    if let Some(version) = v["version"].as_str() {
                                        *versions
                                            .lock()
                                            .unwrap()
                                            .entry(version.to_string())
                                            .or_default() += 1;
                                    }
                                }
                            }
                            Ok(b) => failures.lock().unwrap().push(format!(
                                "status {status}: {}",
                                String::from_utf8_lossy(&b).trim()
                            )),
                            Err(e) => failures.lock().unwrap().push(format!("body: {e}")),
                        }
                    }
                    Err(e) => {
                        failures.lock().unwrap().push(format!("request: {e}"));
                        sender = None;
                    }
                }
            }
        }));
    }

    /// Successful answers by reported version so far.
    pub fn versions_so_far(&self) -> std::collections::BTreeMap<String, usize> {
        self.versions.lock().unwrap().clone()
    }

    /// Failures so far.
    pub fn failures_so_far(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    /// Requests answered 2xx so far.
    pub fn ok_so_far(&self) -> usize {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops the clients (each finishes its current request) and reports.
    pub async fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        LoadReport {
            ok: self.ok.load(Ordering::Relaxed),
            failures: self.failures.lock().unwrap().clone(),
            served_by: self.served_by.lock().unwrap().clone(),
            versions: self.versions.lock().unwrap().clone(),
            latencies: self.latencies.lock().unwrap().clone(),
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok(sender)
}

/// A taskboard service block for specs.
pub fn taskboard_service(name: &str, desired: u32, max: u32, extra: &str) -> String {
    format!(
        r#"[services.{name}]
command = ["{{taskboard}}", "--port", "{{port}}", "--db", "{{dir}}/tasks.db"]
route = "/"
instances = {{ min = 1, desired = {desired}, max = {max} }}
health = {{ path = "/health", interval = "300ms", timeout = "250ms", healthy_threshold = 2, unhealthy_threshold = 2 }}
stop = {{ drain = "10s", timeout = "5s" }}
{extra}
"#
    )
}

/// A command's exit code and output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every client request succeeded (else the first few failures are shown).
pub fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failed, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

/// A GET with one extra header line, over a fresh connection; returns the raw response.
pub async fn get_with_header(addr: SocketAddr, path: &str, header: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: shoal.test\r\n{header}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
