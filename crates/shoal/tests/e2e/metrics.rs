//! `/metrics` and Prometheus discovery with the real binary and taskboard instances, scraped by a
//! real Prometheus (Debian's `prometheus`) that follows the instances through `http_sd_configs`
//! as shoal scales them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::prometheus::Prometheus;
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
