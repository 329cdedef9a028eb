//! A real Prometheus (Debian's `prometheus`, installed by scripts/install-deps.sh) for tests:
//! scratch config and storage, a free loopback port, killed on drop.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::support::*;

/// A Prometheus server on a free loopback port with a scratch config and storage; killed when
/// dropped (a panicking test included).
pub struct Prometheus {
    child: Child,
    pub addr: SocketAddr,
    dir: Scratch,
}

impl Prometheus {
    /// Scrapes every second whatever `discovery` lists, refreshing the list every second.
    pub async fn start(discovery: &str) -> Prometheus {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        Prometheus::start_on(addr, discovery).await
    }

    /// Like [`Prometheus::start`], on a given address (for specs that must name it first).
    pub async fn start_on(addr: SocketAddr, discovery: &str) -> Prometheus {
        let config = format!(
            r#"global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: shoal-e2e
    http_sd_configs:
      - url: {discovery}
        refresh_interval: 1s
"#
        );
        Prometheus::with_config(addr, &config).await
    }

    /// Runs Prometheus on `addr` with a whole configuration file's text (an example's own).
    pub async fn with_config(addr: SocketAddr, config: &str) -> Prometheus {
        let bin = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
        let dir = scratch("prometheus");
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new(&bin)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {bin} ({e}): scripts/install-deps.sh installs it")
            });
        let mut prom = Prometheus { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if matches!(http_get(addr, "/-/ready").await, Ok((200, _))) {
                return prom;
            }
            if let Ok(Some(status)) = prom.child.try_wait() {
                panic!("prometheus exited early ({status}):\n{}", prom.log());
            }
            assert!(
                Instant::now() < deadline,
                "prometheus never became ready:\n{}",
                prom.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query: `Ok(result vector)`, or `Err(Prometheus' error)`.
    pub async fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let path = format!("/api/v1/query?query={}", urlencode(promql));
        let (_, body) = http_get(self.addr, &path).await?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if v["status"] != "success" {
            return Err(body);
        }
        Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// The value of a query returning one number (`None` when it returns nothing).
    pub async fn scalar(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql).await.ok()?;
        result.first()?["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `promql` returns exactly `want`; returns how long it took.
    pub async fn wait_for(&self, promql: &str, want: f64, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let got = self.scalar(promql).await;
            if got == Some(want) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "`{promql}` is {got:?}, not {want}, after {limit:?}; targets: {}\n{}",
                http_get(self.addr, "/api/v1/targets")
                    .await
                    .unwrap_or_default()
                    .1,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
