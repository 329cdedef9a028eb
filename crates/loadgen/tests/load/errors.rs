//! Failures by kind: refused, reset/closed, timeout, 5xx; and what counts as a failure.

use std::time::Duration;

use hyper::StatusCode;

use super::servers::{closing, delayed, echo, failing_every, load, refused, status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_are_counted_as_such() {
    let addr = refused().await;
    let url = format!("http://{addr}/");
    let report = load(&[&url, "-c", "2", "-d", "500ms"]).await;
    let refused = report.errors["connect refused"];
    assert!(refused > 0, "{}", report.render_table());
    assert_eq!(report.requests, refused);
    assert_eq!(report.failures, refused);
    assert_eq!(report.error_rate, 1.0);
    assert_eq!(report.responses, 0);
    assert_eq!(report.latency_ms.p99, None);
    // Connect failures back off instead of spinning.
    assert!(refused < 1000, "{refused} attempts in 500 ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_closed_before_the_answer_are_reset_closed() {
    let addr = closing().await;
    let url = format!("http://{addr}/");
    let report = load(&[&url, "-c", "1", "-d", "300ms"]).await;
    assert!(
        report.errors.get("reset/closed").copied().unwrap_or(0) > 0,
        "{}",
        report.render_table()
    );
    assert_eq!(report.responses, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_are_timeouts() {
    let server = delayed(Duration::from_millis(400)).await;
    let url = server.url("/");
    let report = load(&[&url, "-c", "2", "-d", "300ms", "--timeout", "100ms"]).await;
    let timeouts = report.errors["timeout"];
    assert!(timeouts >= 2, "{}", report.render_table());
    assert_eq!(report.responses, 0);
    assert_eq!(report.failures, report.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_counted_by_status_and_as_failures() {
    let server = failing_every(4).await;
    let url = server.url("/");
    let report = load(&[&url, "-c", "2", "-d", "500ms", "--max-error-rate", "0.01"]).await;
    let errors = report.status["500"];
    let ok = report.status["200"];
    assert!(errors > 0 && ok > 0, "{}", report.render_table());
    assert_eq!(report.status_class["5xx"], errors);
    assert_eq!(report.status_class["2xx"], ok);
    assert!(report.errors.is_empty());
    assert_eq!(report.failures, errors);
    assert!(
        (0.2..0.3).contains(&report.error_rate),
        "{}",
        report.error_rate
    );
    assert!(!report.thresholds_passed());
    assert_eq!(report.failed_thresholds(), ["error_rate"]);
    assert!(report.render_table().contains("FAILED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_fail_only_when_asked() {
    let server = status(StatusCode::NOT_FOUND).await;
    let url = server.url("/missing");
    let report = load(&[&url, "-c", "1", "-d", "200ms", "--max-error-rate", "0"]).await;
    assert!(report.status["404"] > 0);
    assert_eq!(report.failures, 0);
    assert!(report.thresholds_passed(), "{}", report.render_table());

    let report = load(&[&url, "-c", "1", "-d", "200ms", "--fail-on-4xx"]).await;
    assert_eq!(report.failures, report.requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn method_headers_and_body_are_sent() {
    let server = echo().await;
    let url = server.url("/echo");
    let base = [url.as_str(), "-c", "1", "-d", "200ms", "-m", "post"];
    let report = load(&[&base[..], &["-H", "X-Test: yes", "--body", "hello"]].concat()).await;
    assert!(report.status["200"] > 0, "{}", report.render_table());
    assert!(!report.status.contains_key("400"));

    let file = std::env::temp_dir().join(format!("shoal-load-body-{}", std::process::id()));
    std::fs::write(&file, "hello").unwrap();
    let path = file.to_str().unwrap();
    let report = load(&[&base[..], &["-H", "x-test: yes", "--body-file", path]].concat()).await;
    let _ = std::fs::remove_file(&file);
    assert!(report.status["200"] > 0, "{}", report.render_table());
    assert!(!report.status.contains_key("400"));
}
