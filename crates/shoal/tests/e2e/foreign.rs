//! A program that knows nothing of shoal is run, checked and balanced the same way.

use std::time::Duration;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_http_server_is_run_checked_and_balanced() {
    let services = r#"[services.files]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", "{dir}"]
route = "/"
instances = { min = 1, desired = 2, max = 2 }
health = { path = "/", interval = "300ms", timeout = "250ms", healthy_threshold = 2, unhealthy_threshold = 2 }
slow_start = "0s"
"#;
    let shoal = Shoal::start("foreign", services).await;
    std::fs::write(shoal.dir.join("hello.txt"), "hello from python\n").unwrap();
    shoal
        .wait_healthy("files", 2, Duration::from_secs(60))
        .await;
    for _ in 0..10 {
        let (code, body) = http_get(shoal.gateway, "/hello.txt").await.unwrap();
        assert_eq!((code, body.as_str()), (200, "hello from python\n"));
    }

    // Balanced under concurrent load like any other service.
    let load = Load::start(shoal.gateway, "/hello.txt", 8);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let report = load.stop().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let instances = shoal.instances("files").await;
    let served: Vec<u64> = instances
        .iter()
        .map(|i| i["requests"].as_u64().unwrap())
        .collect();
    let total: u64 = served.iter().sum();
    // `requests` counts what the gateway sent (a connect that timed out on python's small
    // listen backlog and went to the other instance counts on both), nothing else.
    assert!(
        total >= report.ok as u64 + 10,
        "{total} < {} + 10",
        report.ok
    );
    assert!(
        served.iter().all(|n| *n * 5 >= total),
        "unbalanced: {served:?}\n{instances:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrouted_service_is_checked_over_tcp() {
    // No route: not exposed by the gateway, and checked by connecting (the default).
    let services = r#"[services.cache]
command = ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
instances = { min = 1, desired = 2, max = 3 }
health = { interval = "300ms", timeout = "250ms", healthy_threshold = 1, unhealthy_threshold = 1 }
"#;
    let shoal = Shoal::start("tcp", services).await;
    shoal
        .wait_healthy("cache", 2, Duration::from_secs(60))
        .await;
    let status = shoal.status().await;
    assert!(status["services"][0]["route"].is_null());
    let (code, _) = http_get(shoal.gateway, "/").await.unwrap();
    assert_eq!(
        code, 404,
        "an unrouted service must not be reachable through the gateway"
    );
    // Its port closes when it dies: the check notices, shoal restarts it.
    let pid = shoal.instances("cache").await[0]["pid"].as_u64().unwrap() as u32;
    signal(pid, "KILL");
    tokio::time::sleep(Duration::from_millis(500)).await;
    shoal
        .wait_healthy("cache", 2, Duration::from_secs(30))
        .await;
    assert_eq!(shoal.instances("cache").await[0]["restarts"], 1);
}
