//! `/metrics` and Prometheus discovery with the real binary and taskboard instances, scraped by a
//! real Prometheus (Debian's `prometheus`) that follows the instances through `http_sd_configs`
//! as shoal scales them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::support::*;

/// Every sample of an exposition, `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str, text: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

/// A Prometheus server on a free loopback port with a scratch config and storage; killed when
/// dropped (a panicking test included).
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    dir: Scratch,
}

impl Prometheus {
    /// Scrapes every second whatever `discovery` lists, refreshing the list every second.
    async fn start(discovery: &str) -> Prometheus {
        let bin = std::env::var("PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
        let dir = scratch("prometheus");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
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

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }

    /// An instant query: `Ok(result vector)`, or `Err(Prometheus' error)`.
    async fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let path = format!("/api/v1/query?query={}", urlencode(promql));
        let (_, body) = http_get(self.addr, &path).await?;
        let v: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if v["status"] != "success" {
            return Err(body);
        }
        Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// The value of a query returning one number (`None` when it returns nothing).
    async fn scalar(&self, promql: &str) -> Option<f64> {
        let result = self.query(promql).await.ok()?;
        result.first()?["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `promql` returns exactly `want`; returns how long it took.
    async fn wait_for(&self, promql: &str, want: f64, limit: Duration) -> Duration {
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

/// The PromQL of every panel of the Grafana dashboard, with its variables filled in.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/dashboards/shoal.json"
    );
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let expr = expr
                .replace("$__rate_interval", "5s")
                .replace("$service", ".*");
            out.push((panel["title"].as_str().unwrap().to_string(), expr));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_traffic_and_prometheus_follows_scaling() {
    let started = Instant::now();
    let shoal = Shoal::start("metrics", &taskboard_service("web", 2, 4, "")).await;
    shoal.wait_healthy("web", 2, Duration::from_secs(60)).await;
    println!("2 instances healthy after {:?}", started.elapsed());

    let load = Load::start(shoal.gateway, "/instance", 4);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    assert!(report.ok > 20, "{}", report.ok);

    let (code, exposition) = http_get(shoal.admin, "/metrics").await.unwrap();
    assert_eq!(code, 200, "{exposition}");
    let s = samples(&exposition);
    let v = |series: &str| value(&s, series, &exposition);
    assert!(exposition.ends_with("# EOF\n"));
    assert_eq!(
        v(&format!(
            "shoal_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    let ok = v(r#"shoal_gateway_requests_total{service="web",revision="1",code="2xx"}"#);
    assert!(ok >= report.ok as f64, "{ok} < {}", report.ok);
    assert_eq!(
        v(r#"shoal_gateway_requests_total{service="web",revision="",code="5xx"}"#),
        0.0
    );
    let count = v(r#"shoal_gateway_request_duration_seconds_count{service="web"}"#);
    let inf = v(r#"shoal_gateway_request_duration_seconds_bucket{le="+Inf",service="web"}"#);
    let fast = v(r#"shoal_gateway_request_duration_seconds_bucket{le="1.0",service="web"}"#);
    assert!(
        count >= ok && inf == count && fast <= inf && fast > 0.0,
        "{exposition}"
    );
    // Every state has its series; a probe slowed by a busy machine may move one instance.
    let states = ["starting", "healthy", "unhealthy", "draining", "stopped"].map(|state| {
        v(&format!(
            "shoal_service_instances{{service=\"web\",state=\"{state}\"}}"
        ))
    });
    assert_eq!(states.iter().sum::<f64>(), 2.0, "{states:?}");
    assert!(states[1] >= 1.0, "{states:?}");
    assert_eq!(v(r#"shoal_service_desired_instances{service="web"}"#), 2.0);
    assert_eq!(
        v(r#"shoal_rollout_in_progress{service="web",strategy="rolling"}"#),
        0.0
    );

    let (code, body) = http_get(shoal.admin, "/v1/discovery/prometheus")
        .await
        .unwrap();
    assert_eq!(code, 200, "{body}");
    let groups: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(groups.as_array().unwrap().len(), 3, "{body}");

    // A real Prometheus finds shoal and both instances, and scrapes them.
    let prom = Prometheus::start(&format!("http://{}/v1/discovery/prometheus", shoal.admin)).await;
    let limit = Duration::from_secs(60);
    let t = prom
        .wait_for(r#"count(up{service="web"} == 1)"#, 2.0, limit)
        .await;
    println!("prometheus scraped 2 instances after {t:?}");
    prom.wait_for(r#"count(up{service="web"})"#, 2.0, limit)
        .await;
    let t = prom
        .wait_for(r#"count(up{job="shoal"} == 1)"#, 1.0, limit)
        .await;
    println!("prometheus scraped shoal after {t:?}");
    let web_ok = r#"sum(shoal_gateway_requests_total{service="web",code="2xx"})"#;
    let seen = prom.scalar(web_ok).await.unwrap_or(0.0);
    assert!(seen >= report.ok as f64, "prometheus sees {seen} requests");
    // The instances' own metrics arrive too, labelled with their instance.
    let series = prom.query("taskboard_up").await.unwrap();
    assert_eq!(series.len(), 2, "{series:?}");
    assert!(series.iter().all(|s| s["metric"]["service"] == "web"));

    let out = shoal.cli(&["scale", "web", "4"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = prom
        .wait_for(r#"count(up{service="web"} == 1)"#, 4.0, limit)
        .await;
    println!("scaled to 4: prometheus scraped 4 instances after {t:?}");
    prom.wait_for(
        r#"shoal_service_desired_instances{service="web"}"#,
        4.0,
        limit,
    )
    .await;

    let out = shoal.cli(&["scale", "web", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = prom
        .wait_for(r#"count(up{service="web"})"#, 2.0, limit)
        .await;
    println!("scaled to 2: prometheus down to 2 targets after {t:?}");
    prom.wait_for(r#"count(up{service="web"} == 1)"#, 2.0, limit)
        .await;

    // Every query of the Grafana dashboard is valid PromQL on this data, and the main panels
    // have something to show.
    for (title, expr) in dashboard_queries() {
        let result = prom.query(&expr).await;
        assert!(result.is_ok(), "panel {title:?}: `{expr}`: {result:?}");
    }
    let desired = prom
        .query(r#"shoal_service_desired_instances"#)
        .await
        .unwrap();
    assert_eq!(desired.len(), 1);
    println!("total {:?}", started.elapsed());
}
