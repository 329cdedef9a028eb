//! The dashboard in a real browser: headless Chromium (Debian's `chromium`, or `$CHROMIUM`)
//! driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: no port, no
//! websocket), against a real shoal. It opens the page, reads the instance count from the DOM,
//! sees it follow `shoal scale` live, scales with the admin token from the page itself, shows
//! the API's errors, saves a screenshot under the target dir, and fails on any JavaScript error
//! or Content-Security-Policy violation. A second page shows Redis tiers: a TCP listener with
//! connections held open through it, stateful volumes, and a service waiting for its
//! dependencies until they are healthy.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::resp::{redis_command, require_redis, Redis, Reply};
use super::support::*;

/// One CDP call on a loaded 2-core machine.
const CALL_LIMIT: Duration = Duration::from_secs(60);

/// A headless Chromium with one page, spoken to over `--remote-debugging-pipe`.
struct Browser {
    child: Child,
    to_browser: ChildStdin,
    from_browser: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    /// Every event the page reported (console, exceptions, log entries), in order.
    events: Vec<Value>,
    _profile: Scratch,
}

impl Browser {
    /// Starts Chromium and opens a blank page of `width`×`height` CSS pixels.
    fn launch(width: u32, height: u32) -> Browser {
        let bin = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
        let profile = scratch("chromium-profile");
        // The protocol runs on fds 3 (commands in) and 4 (replies out); a shell maps them onto
        // our stdin/stdout pipes, so no unsafe fd juggling is needed here.
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(&bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
                "--mute-audio",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} (scripts/install-deps.sh test installs it): {e}")
            });
        let to_browser = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, from_browser) = mpsc::channel();
        std::thread::spawn(move || {
            // Messages are JSON, each followed by a NUL byte.
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            while reader.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(msg) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(msg).is_err() {
                        break;
                    }
                }
                buf.clear();
            }
        });
        let mut browser = Browser {
            child,
            to_browser,
            from_browser,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = browser.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Runtime.enable", "Log.enable", "Page.enable"] {
            browser.page(domain, json!({}));
        }
        browser.page(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        browser
    }

    fn send(&mut self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("chromium went away ({method}): {e}"));
        let deadline = Instant::now() + CALL_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = self
                .from_browser
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no answer from chromium to {method}: {e}"));
            if reply["id"] == id {
                if let Some(err) = reply.get("error") {
                    panic!("{method} failed: {err}");
                }
                return reply["result"].clone();
            }
            self.events.push(reply);
        }
    }

    /// A browser-level command.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, None)
    }

    /// A command to the page.
    fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
    }

    fn open(&mut self, url: &str) {
        let nav = self.page("Page.navigate", json!({ "url": url }));
        assert!(nav.get("errorText").is_none(), "cannot open {url}: {nav}");
    }

    /// Evaluates `expr` in the page (promises awaited) and returns its JSON value.
    fn eval(&mut self, expr: &str) -> Value {
        let out = self.page(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(e) = out.get("exceptionDetails") {
            panic!("{expr} threw: {e}");
        }
        out["result"]["value"].clone()
    }

    /// Waits until `expr` is true in the page; on timeout shows `explain` (an expression).
    async fn wait_until(&mut self, what: &str, expr: &str, explain: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let started = Instant::now();
        loop {
            if self.eval(expr) == json!(true) {
                println!("dashboard: {what} after {:?}", started.elapsed());
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "dashboard never showed {what} within {limit:?}; page: {}\nerrors: {:#?}",
                    self.eval(explain),
                    self.errors(&[])
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Saves the whole page (not only the viewport) as a PNG.
    fn screenshot(&mut self, path: &Path) {
        let metrics = self.page("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let shot = self.page(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 },
            }),
        );
        let png = base64_decode(shot["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// JavaScript exceptions, console errors and error log entries (CSP violations, failed
    /// loads) so far, except network failures whose text contains one of `expected`.
    fn errors(&mut self, expected: &[&str]) -> Vec<String> {
        // Collect what arrived since the last call.
        while let Ok(msg) = self.from_browser.try_recv() {
            self.events.push(msg);
        }
        let mut out = Vec::new();
        for e in &self.events {
            let p = &e["params"];
            match e["method"].as_str().unwrap_or("") {
                "Runtime.exceptionThrown" => out.push(format!(
                    "uncaught: {}",
                    p["exceptionDetails"]["exception"]["description"]
                        .as_str()
                        .unwrap_or(&p["exceptionDetails"]["text"].to_string())
                )),
                "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
                    out.push(format!("console.{}: {}", p["type"], p["args"]))
                }
                "Log.entryAdded" if p["entry"]["level"] == "error" => {
                    let text = p["entry"]["text"].as_str().unwrap_or("");
                    let url = p["entry"]["url"].as_str().unwrap_or("");
                    let allowed = p["entry"]["source"] == "network"
                        && expected.iter().any(|x| text.contains(x));
                    if !allowed {
                        out.push(format!("{}: {text} {url}", p["entry"]["source"]));
                    }
                }
                _ => {}
            }
        }
        out
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let mut bytes = serde_json::to_vec(&json!({ "id": 0, "method": "Browser.close" })).unwrap();
        bytes.push(0);
        let _ = self.to_browser.write_all(&bytes);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (the screenshot's encoding), without a dependency.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

/// The cargo target dir (`CARGO_TARGET_TMPDIR` is `<target>/tmp`).
fn target_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// What the page shows of service `web`, as JSON (for assertions and failure messages).
const SNAPSHOT: &str = r##"(() => {
  const card = document.querySelector('[data-service="web"]');
  return JSON.stringify({
    ready: document.body.dataset.ready,
    conn: document.getElementById("conn").dataset.state,
    card: card ? { ...card.dataset } : null,
    rows: [...document.querySelectorAll('[data-service="web"] tr[data-instance]')]
      .map((r) => [r.dataset.instance, r.dataset.state]),
    gateway: document.getElementById("lb-gateway").textContent,
    routes: [...document.querySelectorAll("#lb-routes tr[data-service]")].map((r) => r.dataset.service),
    events: [...document.querySelectorAll("#events li")].map((l) => l.dataset.kind),
    toasts: [...document.querySelectorAll("#toasts .toast")].map((t) => [t.dataset.kind, t.textContent]),
  });
})()"##;

fn web_shows(healthy: usize, desired: usize) -> String {
    format!(
        r#"(() => {{
  const card = document.querySelector('[data-service="web"]');
  if (!card) return false;
  const rows = card.querySelectorAll('tr[data-instance][data-state="healthy"]').length;
  return card.dataset.healthy === "{healthy}" && card.dataset.total === "{healthy}"
    && card.dataset.desired === "{desired}" && rows === {healthy};
}})()"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_follows_shoal_live_in_a_browser() {
    let shoal = Shoal::start("dashboard", &taskboard_service("web", 2, 5, "")).await;
    shoal.wait_healthy("web", 2, Duration::from_secs(60)).await;
    // Some traffic, so the charts and rates have something to show.
    let load = Load::start(shoal.gateway, "/instance", 2);

    let mut browser = Browser::launch(1400, 1000);
    browser.open(&format!("http://{}/", shoal.admin));
    let limit = Duration::from_secs(60);
    browser
        .wait_until("2 healthy instances", &web_shows(2, 2), SNAPSHOT, limit)
        .await;
    let page: Value = serde_json::from_str(browser.eval(SNAPSHOT).as_str().unwrap()).unwrap();
    assert_eq!(page["conn"], "live", "{page:#}");
    assert_eq!(
        page["gateway"],
        format!("http://{}", shoal.gateway),
        "{page:#}"
    );
    assert_eq!(page["routes"], json!(["web"]), "{page:#}");
    let rows = page["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{page:#}");
    assert!(
        page["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "healthy"),
        "the timeline shows the instances becoming healthy: {page:#}"
    );

    // `shoal scale` in another terminal: the open page follows without a reload.
    let out = shoal.cli(&["scale", "web", "4"]);
    assert!(out.status.success(), "{}", text(&out));
    browser
        .wait_until("4 healthy instances", &web_shows(4, 4), SNAPSHOT, limit)
        .await;
    browser
        .wait_until(
            "the scaling event",
            r#"!!document.querySelector('#events li[data-kind="scaled"]')"#,
            SNAPSHOT,
            limit,
        )
        .await;
    // A few more seconds of traffic on the charts, then the picture.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let shot = target_dir().join("dashboard.png");
    browser.screenshot(&shot);
    println!("dashboard: screenshot at {}", shot.display());

    // Read-only without the token: no scale buttons.
    assert_eq!(
        browser.eval(
            r#"getComputedStyle(document.querySelector('[data-service="web"] [data-action="scale-down"]')).display"#
        ),
        "none"
    );
    // A wrong token: the API's refusal is shown, and the page goes back to read-only.
    browser.eval(
        r#"(() => {
  document.getElementById("token-input").value = "not-the-token";
  document.getElementById("token-form").requestSubmit();
  document.querySelector('[data-service="web"] [data-action="scale-down"]').click();
})()"#,
    );
    browser
        .wait_until(
            "the refusal of a wrong token",
            r#"[...document.querySelectorAll('#toasts .toast[data-kind="error"]')]
                 .some((t) => t.textContent.includes("401") && t.textContent.includes("admin token"))
               && document.getElementById("auth").dataset.mode === "read-only""#,
            SNAPSHOT,
            limit,
        )
        .await;
    // The right token: − scales web down through the API.
    let unlock = format!(
        r#"(() => {{
  document.getElementById("token-input").value = {};
  document.getElementById("token-form").requestSubmit();
  const minus = document.querySelector('[data-service="web"] [data-action="scale-down"]');
  if (getComputedStyle(minus).display === "none") return "hidden";
  minus.click();
  return "clicked";
}})()"#,
        json!(shoal.token())
    );
    assert_eq!(browser.eval(&unlock), "clicked");
    browser
        .wait_until(
            "the confirmation of the new count",
            r#"[...document.querySelectorAll('#toasts .toast[data-kind="ok"]')]
                 .some((t) => t.textContent.includes("web: desired 4 → 3"))"#,
            SNAPSHOT,
            limit,
        )
        .await;

    shoal
        .wait_for("web", "desired 3 (scaled from the page)", limit, |s| {
            s["desired"] == 3
        })
        .await;
    browser
        .wait_until("3 healthy instances", &web_shows(3, 3), SNAPSHOT, limit)
        .await;
    let report = load.stop().await;
    assert_no_failures(&report.failures);

    // shoal stops: the page says so and keeps retrying.
    let mut shoal = shoal;
    assert_eq!(shoal.terminate(Duration::from_secs(60)), Some(0));
    browser
        .wait_until(
            "the disconnected state",
            r#"document.getElementById("conn").dataset.state === "disconnected"
               && document.getElementById("conn-text").textContent.includes("retrying")
               && !document.getElementById("banner").hidden"#,
            SNAPSHOT,
            limit,
        )
        .await;
    browser.screenshot(&target_dir().join("dashboard-disconnected.png"));

    // The refused token's 401 and the refused reconnections are the only failed loads.
    let expected = ["401", "ERR_CONNECTION_REFUSED"];
    let errors = browser.errors(&expected);
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");

    // The net above catches what it should: an uncaught exception and a CSP violation.
    browser.eval(
        r#"(() => {
  setTimeout(() => { throw new Error("probe exception"); });
  const img = document.createElement("img");
  img.src = "https://example.invalid/probe.png";
  document.body.append(img);
})()"#,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let errors = browser.errors(&expected).join("\n");
        if errors.contains("probe exception") && errors.contains("Content Security Policy") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the harness missed a probe error: {errors}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `/v1/stream` from the real binary: a status message and the events so far.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_carries_status_and_events() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let shoal = Shoal::start("stream", &taskboard_service("web", 1, 2, "")).await;
    shoal.wait_healthy("web", 1, Duration::from_secs(60)).await;
    let mut conn = tokio::net::TcpStream::connect(shoal.admin).await.unwrap();
    conn.write_all(b"GET /v1/stream HTTP/1.1\r\nHost: shoal\r\nAccept: text/event-stream\r\n\r\n")
        .await
        .unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = vec![0u8; 64 * 1024];
    while !(seen.contains("event: status") && seen.contains("event: events")) {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, conn.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no status and events message in 30s:\n{seen}"))
            .unwrap();
        assert!(n > 0, "stream closed early:\n{seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("content-type: text/event-stream"), "{seen}");
    let status = seen
        .split("event: status\ndata: ")
        .nth(1)
        .and_then(|rest| rest.split('\n').next())
        .unwrap();
    let status: Value = serde_json::from_str(status).unwrap();
    assert_eq!(status["services"][0]["name"], "web");
    assert_eq!(status["gateway"], format!("http://{}", shoal.gateway));
    assert!(seen.contains(r#""kind":"healthy""#), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_keeps_a_sample_a_second_for_fresh_dashboards() {
    let shoal = Shoal::start("history", &taskboard_service("web", 2, 4, "")).await;
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;
    let load = Load::start(shoal.gateway, "/instance", 4);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    let (code, body) = http_get(shoal.admin, "/v1/history").await.unwrap();
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let samples = v["services"]["web"].as_array().unwrap();
    assert!(samples.len() >= 3, "{body}");
    let times: Vec<u64> = samples.iter().map(|s| s["t"].as_u64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {times:?}"
    );
    let last = samples.last().unwrap();
    assert_eq!(last["desired"], 2, "{last}");
    assert_eq!(last["healthy"], 2, "{last}");
    assert!(
        samples.iter().any(|s| s["rps"].as_f64().unwrap() > 0.0),
        "traffic recorded: {body}"
    );
}

/// Connections held open through a TCP listener, each sending `PING` every 100 ms (so bytes
/// flow and the page has rates to show) until dropped.
pub(super) struct HeldConnections {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl HeldConnections {
    pub(super) async fn open(addr: std::net::SocketAddr, n: usize) -> HeldConnections {
        let mut conns = Vec::new();
        for _ in 0..n {
            let mut c = Redis::connect(addr).await.unwrap();
            assert_eq!(c.cmd(&["PING"]).await.unwrap(), Reply::Text("PONG".into()));
            conns.push(c);
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&stop);
        let task = tokio::spawn(async move {
            while !flag.load(std::sync::atomic::Ordering::SeqCst) {
                for c in &mut conns {
                    let _ = c.cmd(&["PING"]).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        HeldConnections { stop, task }
    }
}

impl Drop for HeldConnections {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.task.abort();
    }
}

/// A free loopback address for a TCP listener.
pub(super) fn listen_addr() -> std::net::SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

/// Redis tiers: `cache` (stateful, tagged, behind a listener) and `queue` (behind its own
/// listener, started after `cache` and `migrate`; `migrate` turns healthy once `{dir}/migrated`
/// exists, so the test decides how long `queue` waits).
pub(super) fn redis_tiers(cache: std::net::SocketAddr, queue: std::net::SocketAddr) -> String {
    let ping = r#"health = { send = "PING\r\n", expect = "+PONG", interval = "300ms", timeout = "250ms" }"#;
    format!(
        r#"[services.cache]
command = {cache_cmd}
stateful = true
tcp = "{cache}"
tags = ["primary", "cache"]
instances = {{ min = 1, desired = 2, max = 3 }}
{ping}

[services.migrate]
command = ["sleep", "600"]
health = {{ exec = ["test", "-e", "{{dir}}/migrated"], interval = "300ms", timeout = "250ms" }}

[services.queue]
command = {queue_cmd}
tcp = "{queue}"
depends_on = ["cache", "migrate"]
{ping}
"#,
        cache_cmd = redis_command(&["--dir", "{volume}"]),
        queue_cmd = redis_command(&[]),
    )
}

/// What the page shows of the TCP tiers, as JSON.
const TIERS: &str = r##"(() => {
  if (document.body?.dataset.ready !== "1") return JSON.stringify({ ready: false });
  const card = (name) => {
    const el = document.querySelector(`[data-service="${name}"]`);
    if (!el) return null;
    const q = (sel) => el.querySelector(sel);
    const shown = (sel) => { const x = q(sel); return x && !x.hidden ? x.textContent : null; };
    return {
      ...el.dataset,
      route: shown(".svc-title .tag.mono:not(.tcp)"),
      tcp: shown(".tag.tcp"),
      internal: shown(".tag.dim"),
      stateful: shown(".tag.stateful"),
      waiting: shown(".tag.waiting"),
      deps: shown(".deps"),
      labels: [...el.querySelectorAll(".labels .label")].map((l) => l.textContent),
      open: q(".tcp-conns") && !q(".tcp-conns").hidden ? q(".tcp-conns").dataset.open : null,
      conns_sub: shown(".tcp-conns .stat-sub"),
      bytes: shown(".tcp-bytes .stat-value"),
      stats: [...el.querySelectorAll(".stats > .stat")].filter((s) => !s.hidden).length,
      charts: [...el.querySelectorAll(".chart")].filter((c) => !c.hidden).map((c) => c.dataset.chart),
      rows: [...el.querySelectorAll("tr[data-instance]")].map((r) => ({
        id: r.dataset.instance,
        state: r.dataset.state,
        conns: r.querySelector("td.col-tcp").textContent,
        conns_shown: getComputedStyle(r.querySelector("td.col-tcp")).display !== "none",
        volume: r.querySelector("td.vol").textContent,
        volume_title: r.querySelector("td.vol").title,
        inflight_shown: getComputedStyle(r.querySelector("td.col-http")).display !== "none",
      })),
      empty: shown("tr.no-instances td"),
    };
  };
  return JSON.stringify({
    cache: card("cache"),
    queue: card("queue"),
    migrate: card("migrate"),
    listeners: [...document.querySelectorAll("#lb-routes tr[data-listener]")]
      .map((r) => [r.dataset.service, r.dataset.listener, r.textContent]),
    lb_sub: document.getElementById("lb-sub").textContent,
  });
})()"##;

fn tiers_page(browser: &mut Browser) -> Value {
    serde_json::from_str(browser.eval(TIERS).as_str().unwrap()).unwrap()
}

/// The cache card shows its listener, connections, volumes and tags and no HTTP route; the
/// queue card its start order and what it waits for; the load balancer both listeners.
fn assert_tiers_shown(page: &Value, cache: std::net::SocketAddr) {
    let c = &page["cache"];
    assert_eq!(c["tcp"], format!("tcp {cache}"), "{page:#}");
    assert_eq!(c["route"], Value::Null, "no HTTP route line: {page:#}");
    assert_eq!(c["internal"], Value::Null, "{page:#}");
    assert_eq!(c["stateful"], "stateful", "{page:#}");
    assert_eq!(c["labels"], json!(["primary", "cache"]), "{page:#}");
    assert_eq!(
        c["charts"],
        json!(["conns", "bytes", "instances"]),
        "{page:#}"
    );
    assert_eq!(
        c["stats"], 3,
        "instances and the two TCP stats only: {page:#}"
    );
    assert!(
        c["conns_sub"].as_str().unwrap().contains("3 accepted"),
        "{page:#}"
    );
    assert!(c["bytes"].as_str().unwrap().ends_with("/s"), "{page:#}");
    for (n, row) in c["rows"].as_array().unwrap().iter().enumerate() {
        let id = format!("cache-{}", n + 1);
        assert_eq!(row["id"], id.as_str(), "{page:#}");
        assert!(
            row["conns_shown"] == true && row["inflight_shown"] == false,
            "{page:#}"
        );
        let full = row["volume_title"].as_str().unwrap();
        assert!(full.ends_with(&format!("/volumes/cache/{id}")), "{page:#}");
        let short = row["volume"].as_str().unwrap();
        assert!(
            short.ends_with(&format!("volumes/cache/{id}")) && short.len() <= full.len(),
            "{page:#}"
        );
    }
    let q = &page["queue"];
    assert_eq!(q["tone"], "warn", "waiting is not an outage: {page:#}");
    assert_eq!(q["waiting"], "waiting for migrate", "{page:#}");
    assert_eq!(q["deps"], "starts after cache and migrate", "{page:#}");
    assert!(
        q["empty"]
            .as_str()
            .unwrap()
            .contains("starts once migrate is healthy"),
        "{page:#}"
    );
    assert_eq!(page["migrate"]["internal"], "internal", "{page:#}");
    let listeners = page["listeners"].as_array().unwrap();
    assert_eq!(listeners.len(), 2, "{page:#}");
    assert!(
        listeners.iter().any(|l| l[0] == "cache"
            && l[1] == cache.to_string()
            && l[2].as_str().unwrap().contains("3 conns")),
        "{page:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_tcp_tiers_connections_volumes_and_start_order() {
    require_redis();
    let (cache, queue) = (listen_addr(), listen_addr());
    let shoal = Shoal::start("dashboard-tcp", &redis_tiers(cache, queue)).await;
    shoal
        .wait_healthy("cache", 2, Duration::from_secs(30))
        .await;
    let held = HeldConnections::open(cache, 3).await;

    let mut browser = Browser::launch(1400, 1000);
    browser.open(&format!("http://{}/", shoal.admin));
    let limit = Duration::from_secs(60);
    let shown = format!(
        r#"(() => {{
  const p = JSON.parse({TIERS});
  return !!p.cache && p.cache.open === "3" && p.cache.rows.length === 2
    && p.cache.rows.reduce((n, r) => n + Number(r.conns), 0) === 3
    && !!p.queue && p.queue.waiting !== null && p.cache.bytes !== "—";
}})()"#
    );
    browser
        .wait_until(
            "3 open connections and a waiting queue",
            &shown,
            TIERS,
            limit,
        )
        .await;
    assert_tiers_shown(&tiers_page(&mut browser), cache);
    // A few seconds of pings on the charts, then the picture.
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser.screenshot(&target_dir().join("dashboard-tcp.png"));

    // The dependency turns healthy: queue starts, and the badge goes.
    std::fs::write(shoal.dir.join("migrated"), "").unwrap();
    shoal
        .wait_healthy("queue", 1, Duration::from_secs(30))
        .await;
    let started = format!(
        r#"(() => {{
  const q = JSON.parse({TIERS}).queue;
  return q.waiting === null && q.rows.length === 1 && q.rows[0].state === "healthy"
    && q.deps === "starts after cache and migrate" && q.empty === null;
}})()"#
    );
    browser
        .wait_until("queue started after migrate", &started, TIERS, limit)
        .await;
    // Closing the held connections: the count follows.
    drop(held);
    browser
        .wait_until(
            "no open connections",
            &format!(r#"JSON.parse({TIERS}).cache.open === "0""#),
            TIERS,
            limit,
        )
        .await;
    let errors = browser.errors(&[]);
    assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
}
