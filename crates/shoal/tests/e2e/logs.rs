//! `shoal logs`: every instance interleaved with an `id |` prefix and the time each line was
//! written, following instances that start later; `--json`, `--since`; and rotation keeping an
//! instance that logs fast within its configured disk bound.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::support::{shoal_bin, taskboard_service, text, Shoal};

/// True for `2024-05-01T12:00:00.123Z`: RFC 3339, UTC, milliseconds.
fn is_log_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

/// `(instance, timestamp, text)` of a `shoal logs` text line, if it has that shape.
fn split_line(line: &str) -> Option<(&str, &str, &str)> {
    let (id, rest) = line.split_once(" | ")?;
    let (ts, text) = rest.split_once(' ')?;
    is_log_timestamp(ts).then_some((id.trim_end(), ts, text))
}

/// A `shoal logs … -f` running in the background, its stdout collected line by line.
struct Following {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Following {
    fn start(shoal: &Shoal, args: &[&str]) -> Following {
        let mut child = Command::new(shoal_bin())
            .args(args)
            .arg("--file")
            .arg(&shoal.spec)
            .env_remove("SHOAL_ADDR")
            .env_remove("SHOAL_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(l) => sink.lock().unwrap().push(l),
                    Err(_) => return,
                }
            }
        });
        Following { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until some collected line satisfies `check`.
    async fn wait_for(&self, what: &str, limit: Duration, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if self.lines().iter().any(|l| check(l)) {
                return;
            }
            let lines = self.lines();
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last lines:\n{}",
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_interleaves_every_instance_with_prefixes_and_times_and_json_parses() {
    // Each instance writes five filler lines a second, so there is always something to follow.
    let service = taskboard_service("web", 2, 4, "env = { LOG_SPAM_BPS = \"500\" }");
    let shoal = Shoal::start("logs-follow", &service).await;
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;

    // --lines 0: everything seen is followed, not read back.
    let follow = Following::start(&shoal, &["logs", "web", "-f", "--lines", "0"]);
    for id in ["web-1", "web-2"] {
        follow
            .wait_for(&format!("a line of {id}"), Duration::from_secs(15), |l| {
                split_line(l).is_some_and(|(i, _, t)| i == id && t.starts_with("spam "))
            })
            .await;
    }
    let out = shoal.cli(&["scale", "web", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    // The new instance is followed from its first line.
    follow
        .wait_for("web-3's first line", Duration::from_secs(30), |l| {
            split_line(l).is_some_and(|(i, _, t)| i == "web-3" && t.contains("listening on"))
        })
        .await;
    follow
        .wait_for("web-3's filler", Duration::from_secs(15), |l| {
            split_line(l).is_some_and(|(i, _, t)| i == "web-3" && t.starts_with("spam "))
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lines = follow.lines();
    drop(follow);
    for l in &lines {
        assert!(split_line(l).is_some(), "not `id | time text`: {l:?}");
    }
    let mut seen: Vec<&str> = lines
        .iter()
        .filter_map(|l| split_line(l))
        .map(|p| p.0)
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["web-1", "web-2", "web-3"]);
    println!(
        "--- shoal logs web -f (first of {}) ---\n{}",
        lines.len(),
        lines[..lines.len().min(8)].join("\n")
    );

    // --json: one object per line with time, instance, stream and line.
    let out = shoal.cli(&["logs", "web", "--json", "--lines", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut instances = std::collections::BTreeSet::new();
    let mut times = Vec::new();
    for l in stdout.lines() {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
        let time = v["time"].as_str().unwrap_or_else(|| panic!("no time: {l}"));
        assert!(is_log_timestamp(time), "{l}");
        assert!(matches!(v["stream"].as_str(), Some("out" | "err")), "{l}");
        assert!(v["line"].is_string(), "{l}");
        instances.insert(v["instance"].as_str().unwrap().to_string());
        times.push(time.to_string());
    }
    assert_eq!(instances.len(), 3, "{stdout}");
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "interleaved by time:\n{stdout}"
    );
    assert_eq!(times.len(), 9, "3 lines of each instance:\n{stdout}");

    // --since: the startup lines are older than a few milliseconds but not than an hour.
    let recent = shoal.cli(&["logs", "web", "--since", "1ms"]);
    assert!(recent.status.success(), "{}", text(&recent));
    assert!(!String::from_utf8_lossy(&recent.stdout).contains("listening on"));
    let hour = shoal.cli(&["logs", "web", "--since", "1h", "--json"]);
    let hour = String::from_utf8_lossy(&hour.stdout);
    let startup: Vec<Value> = hour
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["line"].as_str().unwrap().contains("listening on"))
        .collect();
    assert_eq!(startup.len(), 3, "{hour}");
    assert!(
        startup.iter().all(|v| v["stream"] == "err"),
        "tracing writes to stderr"
    );
}

/// Bytes in the log directory (every file: current and rotated).
fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_keeps_a_fast_writer_within_its_configured_bound() {
    const MAX_SIZE: u64 = 256 * 1024;
    const KEEP: u64 = 2;
    // The shim splits longer lines, so no line in a log file is longer than this.
    const ONE_LINE: u64 = 16 * 1024 + 64;
    let service = taskboard_service(
        "web",
        1,
        1,
        "env = { LOG_SPAM_BPS = \"524288\" }\nlogs = { max_size = \"256KiB\", keep = 2 }",
    );
    let shoal = Shoal::start("logs-bound", &service).await;
    shoal.wait_healthy("web", 1, Duration::from_secs(30)).await;

    let logs = shoal.dir.join("data/logs");
    let bound = (KEEP + 1) * MAX_SIZE + ONE_LINE;
    let started = Instant::now();
    let mut max_seen = 0;
    let mut samples = 0;
    while started.elapsed() < Duration::from_secs(60) {
        let size = dir_size(&logs);
        max_seen = max_seen.max(size);
        samples += 1;
        assert!(
            size <= bound,
            "log dir at {size} bytes after {:?}, over the bound {bound}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!(
        "log dir: max {max_seen} bytes over {samples} samples in 60s; bound (keep+1) × max_size = {} (+ one line {ONE_LINE})",
        (KEEP + 1) * MAX_SIZE
    );

    // It did write far more than the bound: the filler's line numbers count what was written.
    let out = shoal.cli(&["logs", "web", "--lines", "1"]);
    let last = String::from_utf8_lossy(&out.stdout).into_owned();
    let written_lines: u64 = last
        .split_whitespace()
        .skip_while(|w| *w != "spam")
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no filler line in {last:?}"));
    let written = written_lines * 100;
    println!("the instance wrote about {written} bytes");
    assert!(written > 10 * bound, "wrote only {written} bytes");
    let mut names: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["web-1.log", "web-1.log.1", "web-1.log.2"]);
    // The instance was never held up by its logging.
    shoal.wait_healthy("web", 1, Duration::from_secs(5)).await;
    assert_eq!(shoal.instance("web", "web-1").await["restarts"], 0);
}
