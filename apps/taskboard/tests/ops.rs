//! Operational routes: health switch, instance identity, failure injection,
//! synthetic work and slow requests.

mod common;

use std::time::Duration;

use common::{Launch, TempDir};
use serde_json::json;
use tokio::time::Instant;

#[test]
fn health_can_be_switched_off_and_on() {
    let dir = TempDir::new("health");
    let server = Launch::new(&dir.db()).start();

    let health = server.get("/health");
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));

    let fail = server.call("PUT", "/health/fail", None, "");
    assert_eq!((fail.status, fail.body.as_str()), (200, "failing"));
    let health = server.get("/health");
    assert_eq!((health.status, health.body.as_str()), (503, "failing"));
    // Only the health check fails; the app keeps serving.
    assert_eq!(server.get("/api/tasks").status, 200);
    assert_eq!(server.metric("taskboard_healthy"), Some(0.0));

    let ok = server.call("PUT", "/health/ok", None, "");
    assert_eq!((ok.status, ok.body.as_str()), (200, "ok"));
    let health = server.get("/health");
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));

    // The switch is driven with PUT only.
    assert_eq!(server.get("/health/fail").status, 405);
    assert_eq!(server.get("/health").status, 200);
}

#[test]
fn instance_reports_its_environment() {
    let dir = TempDir::new("instance");
    let server = Launch::new(&dir.db())
        .env("SHOAL_INSTANCE_ID", "web-2")
        .env("SHOAL_SERVICE", "web")
        .env("SHOAL_REVISION", "rev-7")
        .env("APP_VERSION", "v2")
        .port_via_env()
        .start();

    let first = server.get("/instance");
    assert_eq!(first.status, 200);
    let report = first.json();
    assert_eq!(report["instance"], "web-2");
    assert_eq!(report["service"], "web");
    assert_eq!(report["revision"], "rev-7");
    assert_eq!(report["version"], "v2");
    assert_eq!(report["port"], json!(server.port));
    assert_eq!(report["pid"], json!(server.pid()));
    assert!(report["uptime_ms"].is_u64());
    let requests = report["requests"].as_u64().expect("requests");
    assert!(
        requests >= 2,
        "readiness probe and this request: {requests}"
    );

    let again = server.get("/instance").json();
    assert_eq!(again["requests"].as_u64(), Some(requests + 1));
}

#[test]
fn instance_defaults_without_orchestrator() {
    let dir = TempDir::new("defaults");
    let server = Launch::new(&dir.db()).start();
    let report = server.get("/instance").json();
    assert_eq!(
        report["instance"],
        json!(format!("taskboard-{}", server.pid()))
    );
    assert_eq!(report["version"], "v1");
    assert_eq!(report["revision"], json!(null));
    assert_eq!(report["service"], json!(null));
}

#[test]
fn fail_rate_one_fails_everything_but_health() {
    let dir = TempDir::new("failrate");
    let server = Launch::new(&dir.db()).env("FAIL_RATE", "1").start();

    for path in ["/", "/api/tasks", "/instance", "/work?ms=1", "/sleep?ms=1"] {
        let response = server.get(path);
        assert_eq!(
            (response.status, response.body.as_str()),
            (500, "injected failure"),
            "{path}"
        );
    }
    let created = server.send_json("POST", "/api/tasks", r#"{"title":"x"}"#);
    assert_eq!(created.status, 500);

    let health = server.get("/health");
    assert_eq!((health.status, health.body.as_str()), (200, "ok"));
    let metrics = server.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics
        .body
        .contains("taskboard_requests_total{route=\"/\",status=\"500\"} 1"));
}

#[test]
fn sleep_waits_at_least_as_long_as_asked() {
    let dir = TempDir::new("sleep");
    let server = Launch::new(&dir.db())
        .env("SHOAL_INSTANCE_ID", "web-9")
        .start();

    let started = Instant::now();
    let response = server.get("/sleep?ms=200");
    let elapsed = started.elapsed();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({"instance": "web-9", "slept_ms": 200})
    );
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
}

#[test]
fn work_burns_the_requested_time() {
    let dir = TempDir::new("work");
    let server = Launch::new(&dir.db())
        .env("SHOAL_INSTANCE_ID", "web-3")
        .start();

    let started = Instant::now();
    let response = server.get("/work?ms=100");
    let elapsed = started.elapsed();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({"instance": "web-3", "worked_ms": 100})
    );
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");

    // Zero is valid and quick; the server stays responsive.
    assert_eq!(server.get("/work?ms=0").json()["worked_ms"], 0);
    assert_eq!(server.get("/health").status, 200);
}
