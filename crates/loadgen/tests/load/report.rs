//! Thresholds, the JSON report's stable fields, early stop, and input errors.

use std::time::Duration;

use tokio::time::Instant;

use super::servers::{args, delayed, fast, load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_threshold_decides() {
    let server = delayed(Duration::from_millis(30)).await;
    let url = server.url("/");
    let report = load(&[&url, "-c", "2", "-d", "300ms", "--p99", "5ms"]).await;
    assert!(!report.thresholds_passed(), "{}", report.render_table());
    assert_eq!(report.failed_thresholds(), ["p99_ms"]);
    let t = report.thresholds["p99_ms"];
    assert_eq!(t.limit, 5.0);
    assert!(t.value.unwrap() >= 29.0);

    let report = load(&[
        &url,
        "-c",
        "2",
        "-d",
        "300ms",
        "--p99",
        "2s",
        "--max-error-rate",
        "0.01",
    ])
    .await;
    assert!(report.thresholds_passed(), "{}", report.render_table());
    assert_eq!(report.thresholds.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_report_has_the_stable_fields() {
    let server = fast().await;
    let url = server.url("/");
    let report = load(&[&url, "-r", "50", "-d", "500ms", "--p99", "1s", "-o", "json"]).await;
    let json: serde_json::Value = serde_json::from_str(&report.render_json()).unwrap();
    assert_eq!(json["requests"], 25);
    assert!(json["duration_s"].as_f64().unwrap() > 0.4);
    assert!(json["rps"].as_f64().unwrap() > 0.0);
    for p in ["p50", "p90", "p99", "p999", "max"] {
        assert!(
            json["latency_ms"][p].as_f64().is_some(),
            "latency_ms.{p}: {json}"
        );
    }
    assert_eq!(json["status"]["200"], 25);
    assert!(json["errors"].as_object().unwrap().is_empty());
    let t = &json["thresholds"]["p99_ms"];
    assert_eq!(t["limit"], 1000.0);
    assert!(t["value"].as_f64().is_some());
    assert_eq!(t["passed"], true);
    assert_eq!(json["model"], "open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_ends_the_run_early_with_a_report() {
    let server = delayed(Duration::from_millis(10)).await;
    let url = server.url("/");
    let started = Instant::now();
    let report = shoal_loadgen::run_until(
        &args(&[&url, "-c", "2", "-d", "1m"]),
        false,
        tokio::time::sleep(Duration::from_millis(500)),
    )
    .await
    .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(report.interrupted);
    assert!(report.requests > 0);
    assert!(report.duration_s < 2.0);
}

#[tokio::test]
async fn impossible_runs_are_input_errors() {
    let err = shoal_loadgen::run(&args(&["http://127.0.0.1:9/", "--stages", "2s:0"]), false)
        .await
        .unwrap_err();
    assert!(err.is_input(), "{err}");
}
