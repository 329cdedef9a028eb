//! Scaling under load, and shoal's own shutdown: drained, orderly, and nothing left behind even
//! when shoal is killed outright.

use std::time::Duration;

use tokio::time::Instant;

use super::support::*;

fn pids(instances: &[serde_json::Value]) -> Vec<u32> {
    instances
        .iter()
        .filter_map(|i| i["pid"].as_u64())
        .map(|p| p as u32)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_out_and_in_under_load_fails_no_request_and_drains_slow_ones() {
    let shoal = Shoal::start(
        "scale",
        &taskboard_service("web", 2, 5, "slow_start = \"0s\""),
    )
    .await;
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;
    let load = Load::start(shoal.gateway, "/instance", 20);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let out = shoal.cli(&["scale", "web", "+2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 → 4"));
    shoal.wait_healthy("web", 4, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Slow requests in flight everywhere, then scale in.
    let slow: Vec<_> = (0..8)
        .map(|_| {
            let gw = shoal.gateway;
            tokio::spawn(async move { http_get(gw, "/sleep?ms=2000").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let out = shoal.cli(&["scale", "web", "-2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut slow_by = std::collections::BTreeMap::<String, usize>::new();
    for s in slow {
        let (code, body) = s.await.unwrap().expect("slow request failed");
        assert_eq!(code, 200, "slow request: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        *slow_by
            .entry(v["instance"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    shoal.wait_healthy("web", 2, Duration::from_secs(30)).await;
    let report = load.stop().await;
    assert!(
        report.failures.is_empty(),
        "failed requests: {:?}",
        report.failures
    );
    assert!(report.ok > 200, "{report:?}");
    // The removed instances had slow requests in flight, and those completed.
    assert!(
        slow_by.contains_key("web-3") || slow_by.contains_key("web-4"),
        "no slow request landed on a removed instance: {slow_by:?}"
    );
    let left: Vec<String> = shoal
        .instances("web")
        .await
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["web-1", "web-2"]);
    let events = shoal.events().await;
    assert!(events
        .iter()
        .any(|e| e["kind"] == "draining" && e["instance"] == "web-4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_stops_every_instance() {
    let mut shoal = Shoal::start("sigterm", &taskboard_service("web", 3, 3, "")).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let instance_pids = pids(&shoal.instances("web").await);
    assert_eq!(instance_pids.len(), 3);

    let slow: Vec<_> = (0..9)
        .map(|_| {
            let gw = shoal.gateway;
            tokio::spawn(async move { http_get(gw, "/sleep?ms=1500").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let code = tokio::task::spawn_blocking(move || {
        let code = shoal.terminate(Duration::from_secs(30));
        (code, shoal)
    });
    for s in slow {
        let (status, body) = s.await.unwrap().expect("in-flight request failed");
        assert_eq!(status, 200, "{body}");
    }
    let (code, shoal) = code.await.unwrap();
    assert_eq!(code, Some(0), "shoal up did not exit 0:\n{}", shoal.log());
    for pid in instance_pids {
        assert!(!alive(pid), "instance pid {pid} survived shoal");
    }
    assert!(shoal.log().contains("shoal stopped"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_shoal_leaves_no_instance_running() {
    let mut shoal = Shoal::start("sigkill", &taskboard_service("web", 3, 3, "")).await;
    shoal.wait_healthy("web", 3, Duration::from_secs(30)).await;
    let instance_pids = pids(&shoal.instances("web").await);
    shoal.kill();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while instance_pids.iter().any(|p| alive(*p)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "instances still alive 10s after shoal was killed: {:?}",
            instance_pids
                .iter()
                .filter(|p| alive(**p))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_does_not_wait_for_a_hanging_health_check() {
    // Accepts connections and never answers: every probe hangs until its 8 s timeout.
    let services = r#"[services.mute]
command = ["python3", "-c", "import socket, sys, time\ns = socket.socket()\ns.bind(('127.0.0.1', int(sys.argv[1])))\ns.listen(64)\ntime.sleep(1000)", "{port}"]
route = "/"
health = { path = "/", interval = "10s", timeout = "8s" }
stop = { drain = "1s", timeout = "2s" }
"#;
    let mut shoal = Shoal::start("mute", services).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while shoal
        .instances("mute")
        .await
        .first()
        .and_then(|i| i["pid"].as_u64())
        .is_none()
    {
        assert!(Instant::now() < deadline, "instance never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = shoal.instances("mute").await[0]["pid"].as_u64().unwrap() as u32;
    // The first probe (250 ms after start) is hanging now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = Instant::now();
    let code = tokio::task::spawn_blocking(move || {
        let code = shoal.terminate(Duration::from_secs(30));
        (code, shoal)
    });
    let (code, shoal) = code.await.unwrap();
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{}", shoal.log());
    assert!(
        took < Duration::from_secs(5),
        "shutdown waited {took:?} for a hanging probe"
    );
    assert!(!alive(pid));
}
