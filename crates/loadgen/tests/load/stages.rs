//! Stages ramp the level linearly; counted on the server, requests per second rise.

use std::time::Duration;

use tokio::time::Instant;

use super::servers::{delayed, fast, load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_stages_ramp_the_rate() {
    let server = fast().await;
    let url = server.url("/");
    let start = Instant::now();
    // 0 → 150 req/s over 3 s: 25, 75 and 125 requests in the three seconds.
    let report = load(&[&url, "--open", "--stages", "3s:150"]).await;
    let counts = server.per_second(start, 3);
    assert!(
        counts[0] < counts[1] && counts[1] < counts[2],
        "per second {counts:?}"
    );
    assert!((10..=45).contains(&counts[0]), "per second {counts:?}");
    assert!((100..=150).contains(&counts[2]), "per second {counts:?}");
    assert!(
        (200..=250).contains(&report.requests),
        "{}",
        report.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_stages_ramp_the_connections() {
    let server = delayed(Duration::from_millis(50)).await;
    let url = server.url("/");
    let start = Instant::now();
    // 0 → 6 connections over 3 s at 50 ms each: ~20, 60, 100 requests per second.
    let report = load(&[&url, "--stages", "3s:6"]).await;
    let counts = server.per_second(start, 3);
    assert!(
        counts[0] < counts[1] && counts[1] < counts[2],
        "per second {counts:?}"
    );
    assert!(counts[2] >= 2 * counts[0].max(1), "per second {counts:?}");
    assert!(report.errors.is_empty(), "{:?}", report.errors);
}
