//! The closed model: N workers on N keep-alive connections, back to back.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::servers::{delayed, load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_connections_measure_the_server_delay() {
    let server = delayed(Duration::from_millis(20)).await;
    let url = server.url("/");
    let report = load(&[&url, "-c", "4", "-d", "2s"]).await;

    // 4 workers × 2 s ÷ 20 ms ≈ 400 requests; the bound leaves room for a busy machine.
    assert!(report.requests > 100, "{}", report.render_table());
    assert_eq!(report.requests, report.responses);
    assert_eq!(report.status.get("200").copied(), Some(report.requests));
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let p50 = report.latency_ms.p50.unwrap();
    assert!(
        (19.0..80.0).contains(&p50),
        "p50 {p50} ms for a 20 ms server"
    );
    assert!(
        (1.9..4.0).contains(&report.duration_s),
        "{}",
        report.duration_s
    );
    assert!((report.rps - report.requests as f64 / report.duration_s).abs() < 1e-6);
    // Each worker keeps its one connection alive.
    assert_eq!(server.connections.load(Ordering::SeqCst), 4);
}
