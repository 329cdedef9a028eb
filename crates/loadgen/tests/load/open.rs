//! The open model: a fixed arrival rate, latency from each request's intended send time.

use std::time::Duration;

use super::servers::{delayed, fast, load, stalling};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_the_rate_for_the_duration() {
    let server = fast().await;
    let url = server.url("/");
    let report = load(&[&url, "-r", "200", "-d", "3s"]).await;
    assert!(
        (540..=660).contains(&report.requests),
        "{}",
        report.render_table()
    );
    assert_eq!(report.status.get("200").copied(), Some(report.requests));
    assert!(
        (2.9..4.0).contains(&report.duration_s),
        "{}",
        report.duration_s
    );
    assert!((150.0..=220.0).contains(&report.rps), "{}", report.rps);
}

/// The server stops answering for 500 ms in the middle. The ~100 requests due in that window
/// are sent on time and wait, so their latency (from the intended send time) is up to 500 ms:
/// that is 1/6 of all requests, well above the 99th percentile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stall_shows_in_the_percentiles() {
    let server = stalling(
        Duration::ZERO,
        Duration::from_millis(1000),
        Duration::from_millis(500),
    )
    .await;
    let url = server.url("/");
    let report = load(&[&url, "-r", "200", "-d", "3s"]).await;
    assert!(
        (540..=660).contains(&report.requests),
        "{}",
        report.render_table()
    );
    let p99 = report.latency_ms.p99.unwrap();
    assert!(p99 >= 400.0, "p99 {p99} ms hides the 500 ms stall");
    let p90 = report.latency_ms.p90.unwrap();
    assert!(p90 >= 100.0, "p90 {p90} ms: a sixth of the requests waited");
}

/// The same stall seen by a closed loop: its two workers simply wait it out, so only two
/// requests are slow and the 99th percentile stays low. This is the blind spot the open model
/// exists for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_loop_hides_the_same_stall() {
    let server = stalling(
        Duration::from_millis(5),
        Duration::from_millis(1000),
        Duration::from_millis(500),
    )
    .await;
    let url = server.url("/");
    let report = load(&[&url, "-c", "2", "-d", "3s"]).await;
    assert!(report.requests > 200, "{}", report.render_table());
    let p99 = report.latency_ms.p99.unwrap();
    assert!(p99 < 400.0, "p99 {p99} ms");
    assert!(report.latency_ms.max.unwrap() >= 400.0);
}

/// Requests due while `--max-inflight` are already waiting are dropped and counted, not queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_in_flight_requests_are_dropped() {
    let server = delayed(Duration::from_millis(400)).await;
    let url = server.url("/");
    let report = load(&[&url, "-r", "100", "-d", "1s", "--max-inflight", "5"]).await;
    let dropped = report.errors["dropped: too many in flight"];
    // 100 due in 1 s, at most 5 waiting at a time over 400 ms each: ~15 sent.
    assert!(dropped >= 60, "{}", report.render_table());
    assert_eq!(report.requests, 100);
    assert_eq!(report.responses + dropped, 100);
}
