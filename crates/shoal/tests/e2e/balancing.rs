//! The gateway spreads requests over healthy instances, survives a crashed one, and follows
//! health checks out and back in.

use std::time::Duration;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_reach_every_healthy_instance() {
    let shoal = Shoal::start("spread", &taskboard_service("web", 3, 5, "")).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;

    // The contract's status shape.
    let status = shoal.status().await;
    let web = &status["services"][0];
    assert_eq!(web["name"], "web");
    assert_eq!(
        (
            web["desired"].as_u64(),
            web["min"].as_u64(),
            web["max"].as_u64()
        ),
        (Some(3), Some(1), Some(5))
    );
    for i in web["instances"].as_array().unwrap() {
        assert!(i["id"].as_str().unwrap().starts_with("web-"));
        assert!(i["port"].as_u64().unwrap() > 0 && i["pid"].as_u64().unwrap() > 0);
        assert_eq!(i["revision"], 1);
    }

    // Sequential requests, each on a new connection, like a user refreshing /instance. Spread
    // over a few seconds: one slow response may make the gateway avoid an instance briefly.
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..120 {
        tokio::time::sleep(Duration::from_millis(25)).await;
        let (code, body) = http_get(shoal.gateway, "/instance").await.unwrap();
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        *seen
            .entry(v["instance"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(
        seen.keys().cloned().collect::<Vec<_>>(),
        ["web-1", "web-2", "web-3"],
        "{seen:?}"
    );
    assert!(
        seen.values().all(|n| *n >= 10),
        "uneven spread: {seen:?}\n{:#?}",
        shoal.instances("web").await
    );

    // And under concurrent load.
    let load = Load::start(shoal.gateway, "/instance", 12);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Every second, the service's traffic as the gateway saw it.
    let traffic = shoal.status().await["services"][0]["traffic"].clone();
    assert!(traffic["rps"].as_f64().unwrap() > 10.0, "{traffic}");
    assert!(traffic["inflight"].as_f64().unwrap() > 0.0, "{traffic}");
    assert!(traffic["p95_ms"].as_f64().is_some(), "{traffic}");
    assert_eq!(traffic["error_rate"].as_f64(), Some(0.0), "{traffic}");
    let report = load.stop().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.served_by.len(), 3, "{:?}", report.served_by);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_an_instance_under_load_fails_no_request() {
    let shoal = Shoal::start("crash", &taskboard_service("web", 3, 5, "")).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let victim = shoal.instance("web", "web-2").await;
    let victim_pid = victim["pid"].as_u64().unwrap() as u32;

    // 20 clients; /sleep keeps requests in flight on every instance when the kill lands.
    let load = Load::start(shoal.gateway, "/sleep?ms=20", 20);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = load.ok_so_far();
    signal(victim_pid, "KILL");
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Back and healthy, with a new process.
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let report = load.stop().await;

    assert!(
        report.failures.is_empty(),
        "failed requests: {:?}",
        report.failures
    );
    assert!(
        report.ok > before + 100,
        "load stalled: {} then {}",
        before,
        report.ok
    );
    let web2 = shoal.instance("web", "web-2").await;
    assert_ne!(web2["pid"].as_u64().unwrap() as u32, victim_pid);
    assert_eq!(web2["restarts"], 1);
    assert!(
        web2["last_exit"].as_str().unwrap().contains("signal 9"),
        "{web2}"
    );
    let events = shoal.events().await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "crashed" && e["instance"] == "web-2"),
        "no crash event: {events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_health_takes_an_instance_out_and_passing_brings_it_back() {
    let shoal = Shoal::start(
        "health",
        &taskboard_service("web", 2, 3, "slow_start = \"0s\""),
    )
    .await;
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;
    let web1 = shoal.instance("web", "web-1").await;
    let direct: std::net::SocketAddr = format!("127.0.0.1:{}", web1["port"]).parse().unwrap();

    let (code, _) = request(direct, "PUT", "/health/fail", None).await.unwrap();
    assert_eq!(code, 200);
    // unhealthy_threshold = 2 at a 300 ms interval.
    shoal
        .wait_state("web", "web-1", "unhealthy", Duration::from_secs(10))
        .await;
    for _ in 0..40 {
        let (code, body) = http_get(shoal.gateway, "/instance").await.unwrap();
        assert_eq!(code, 200);
        assert!(
            body.contains("\"web-2\""),
            "unhealthy web-1 still got traffic: {body}"
        );
    }

    let (code, _) = request(direct, "PUT", "/health/ok", None).await.unwrap();
    assert_eq!(code, 200);
    shoal
        .wait_state("web", "web-1", "healthy", Duration::from_secs(10))
        .await;
    let mut back = 0;
    for _ in 0..40 {
        let (_, body) = http_get(shoal.gateway, "/instance").await.unwrap();
        if body.contains("\"web-1\"") {
            back += 1;
        }
    }
    assert!(back >= 5, "web-1 got {back} of 40 after recovering");
    let kinds: Vec<String> = shoal
        .events()
        .await
        .iter()
        .filter(|e| e["instance"] == "web-1")
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    let unhealthy = kinds
        .iter()
        .position(|k| k == "unhealthy")
        .expect("unhealthy event");
    assert!(
        kinds[unhealthy..].iter().any(|k| k == "healthy"),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_instance_unhealthy_the_gateway_fails_open_and_says_so() {
    let extra = "health = { path = \"/health\", interval = \"300ms\", timeout = \"250ms\", healthy_threshold = 2, unhealthy_threshold = 2, restart_after = \"never\" }";
    let services = taskboard_service("web", 2, 2, "").replace(
        "health = { path = \"/health\", interval = \"300ms\", timeout = \"250ms\", healthy_threshold = 2, unhealthy_threshold = 2 }",
        extra,
    );
    let shoal = Shoal::start("failopen", &services).await;
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;
    for i in shoal.instances("web").await {
        let direct = format!("127.0.0.1:{}", i["port"]).parse().unwrap();
        assert_eq!(
            request(direct, "PUT", "/health/fail", None)
                .await
                .unwrap()
                .0,
            200
        );
    }
    shoal
        .wait_state("web", "web-1", "unhealthy", Duration::from_secs(10))
        .await;
    shoal
        .wait_state("web", "web-2", "unhealthy", Duration::from_secs(10))
        .await;
    // The app still answers its other routes: serving beats a blanket 503.
    for _ in 0..10 {
        let (code, body) = http_get(shoal.gateway, "/instance").await.unwrap();
        assert_eq!(code, 200, "{body}");
    }
    let status = shoal.status().await;
    assert_eq!(status["services"][0]["fail_open"], true);
    let out = shoal.cli(&["status"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILING OPEN"));
    assert!(shoal
        .events()
        .await
        .iter()
        .any(|e| e["kind"] == "fail_open"));

    // One recovers: fail-open ends and only the healthy one serves.
    let web1 = shoal.instance("web", "web-1").await;
    let direct = format!("127.0.0.1:{}", web1["port"]).parse().unwrap();
    request(direct, "PUT", "/health/ok", None).await.unwrap();
    shoal
        .wait_state("web", "web-1", "healthy", Duration::from_secs(10))
        .await;
    assert_eq!(shoal.status().await["services"][0]["fail_open"], false);
    for _ in 0..10 {
        let (_, body) = http_get(shoal.gateway, "/instance").await.unwrap();
        assert!(body.contains("\"web-1\""), "{body}");
    }
    assert!(shoal
        .events()
        .await
        .iter()
        .any(|e| e["kind"] == "recovered"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_unhealthy_for_restart_after_is_restarted() {
    let services = taskboard_service("web", 2, 2, "").replace(
        "unhealthy_threshold = 2 }",
        "unhealthy_threshold = 2, restart_after = \"1s\" }",
    );
    let shoal = Shoal::start("restart-after", &services).await;
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;
    let web2 = shoal.instance("web", "web-2").await;
    let old_pid = web2["pid"].as_u64().unwrap();
    let direct = format!("127.0.0.1:{}", web2["port"]).parse().unwrap();
    request(direct, "PUT", "/health/fail", None).await.unwrap();
    shoal
        .wait_state("web", "web-2", "unhealthy", Duration::from_secs(10))
        .await;
    // Restarted (drained, stopped, started again) and healthy with a fresh process.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let web2 = shoal.instance("web", "web-2").await;
        if web2["state"] == "healthy" && web2["pid"].as_u64() != Some(old_pid) {
            assert_eq!(web2["restarts"], 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not restarted: {web2}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(shoal
        .events()
        .await
        .iter()
        .any(|e| e["kind"] == "restarting" && e["instance"] == "web-2"));
}
