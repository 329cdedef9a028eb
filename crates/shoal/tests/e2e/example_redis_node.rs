//! Seed 002 from `examples/redis-node/`'s own files: a real Redis main and replicas, the Node
//! API, the Redis exporter and a real Prometheus, under load, with instances killed.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::examples::{example_dir, start_example};
use super::prometheus::Prometheus;
use super::resp::require_redis;
use super::support::*;

const S: Duration = Duration::from_secs(1);

fn addr() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

/// `POST /item` through the gateway; the new item's id.
async fn post_item(gateway: SocketAddr, value: &str) -> u64 {
    let body = format!("{{\"value\": \"{value}\"}}");
    let (code, text) = request_with_body(gateway, "POST", "/item", None, Some(&body))
        .await
        .unwrap();
    assert_eq!(code, 201, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["id"].as_u64().unwrap()
}

/// Healthy instances of a service and its desired count.
async fn counts(shoal: &Shoal, service: &str) -> (usize, u64) {
    let s = shoal.service(service).await;
    let healthy = s["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "healthy")
        .count();
    (healthy, s["desired"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_002_reads_scale_out_over_replicas_and_back_with_no_failed_request() {
    require_redis();
    let (main_tcp, replica_tcp) = (addr(), addr());
    let server_js = example_dir("redis-node").join("api/server.js");
    assert!(
        server_js.with_file_name("node_modules").is_dir(),
        "the API's npm packages are missing: run scripts/install-deps.sh test"
    );
    let (shoal, _) = start_example(
        "redis-node",
        &["shoal.toml"],
        &[
            ("\"127.0.0.1:6380\"", &format!("\"{main_tcp}\"")),
            ("\"127.0.0.1:6381\"", &format!("\"{replica_tcp}\"")),
            ("\"api/server.js\"", &format!("\"{}\"", server_js.display())),
        ],
    )
    .await;
    for (service, n) in [("redis-main", 1), ("redis-replica", 1), ("api", 2)] {
        shoal.wait_healthy(service, n, 60 * S).await;
    }

    // Write through the API to the main; read it back through the replicas' listener.
    let id = post_item(shoal.gateway, "seed 002").await;
    assert_eq!(id, 1, "a fresh main");
    let deadline = Instant::now() + 20 * S;
    let read = loop {
        let (code, text) = http_get(shoal.gateway, "/item?id=1").await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        if code == 200 && v["source"] == "replica" {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "never read from a replica: {code} {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(read["value"], "seed 002");

    // Prometheus, with the example's own configuration, finds every API instance.
    let prom_addr = addr();
    let config = std::fs::read_to_string(example_dir("redis-node").join("prometheus.yml"))
        .unwrap()
        .replace("127.0.0.1:7070", &shoal.admin.to_string())
        .replace("5s", "1s");
    let prom = Prometheus::with_config(prom_addr, &config).await;
    prom.wait_for("count(up{service=\"api\"} == 1)", 2.0, 60 * S)
        .await;
    prom.wait_for("max(redis_connected_slaves)", 1.0, 60 * S)
        .await;

    // Read load: the API scales out on concurrency, its read connections rise, replicas follow.
    let mut load = Load::start(shoal.gateway, "/item?id=1", 30);
    let started = Instant::now();
    let mut most_replicas = 1;
    loop {
        let (healthy, desired) = counts(&shoal, "redis-replica").await;
        most_replicas = most_replicas.max(healthy);
        if healthy >= 3 {
            break;
        }
        assert!(
            started.elapsed() < 90 * S,
            "replicas did not scale out: {healthy} healthy, desired {desired}\n{}",
            shoal.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "replicas 1 → {most_replicas} in {:.1?} under 30 clients",
        started.elapsed()
    );

    // SIGKILL a replica and an API instance under load: the gateway and the API's pool route
    // around them, shoal starts them again.
    let replica = shoal.instances("redis-replica").await.remove(0);
    let api = shoal.instances("api").await.remove(0);
    signal(replica["pid"].as_u64().unwrap() as u32, "KILL");
    signal(api["pid"].as_u64().unwrap() as u32, "KILL");
    let killed = Instant::now();
    shoal
        .wait_for("redis-replica", "the killed replica back", 60 * S, |s| {
            s["instances"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["id"] == replica["id"] && i["restarts"] == 1 && i["state"] == "healthy")
        })
        .await;
    println!(
        "killed replica healthy again after {:.1?}",
        killed.elapsed()
    );
    let (apis, _) = counts(&shoal, "api").await;
    prom.wait_for("count(up{service=\"api\"} == 1)", apis as f64, 60 * S)
        .await;
    let heavy = load.stop().await;
    println!(
        "under load: {} ok, {} failed; served by {:?}",
        heavy.ok,
        heavy.failures.len(),
        heavy.served_by
    );
    assert_no_failures(&heavy.failures);

    // Light steady reads while the replicas scale back in (3+ → 1).
    load = Load::start(shoal.gateway, "/item?id=1", 2);
    let calm = Instant::now();
    loop {
        let (healthy, desired) = counts(&shoal, "redis-replica").await;
        let all = shoal.instances("redis-replica").await.len();
        if desired == 1 && all == 1 && healthy == 1 {
            break;
        }
        assert!(
            calm.elapsed() < 120 * S,
            "replicas did not scale back: {all} running, desired {desired}\n{}",
            shoal.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("replicas back to 1 in {:.1?}", calm.elapsed());
    tokio::time::sleep(2 * S).await;
    let light = load.stop().await;
    println!(
        "during scale-in: {} ok, {} failed",
        light.ok,
        light.failures.len()
    );
    assert_no_failures(&light.failures);
    assert!(light.ok > 100, "{}", light.ok);
    // Every item written is still there, read from the remaining replica.
    let (code, text) = http_get(shoal.gateway, "/items").await.unwrap();
    assert_eq!(code, 200, "{text}");
    assert!(text.contains("seed 002"), "{text}");
    every_grafana_panel_has_data(&prom).await;
}

/// Each query of deploy/grafana/dashboards/redis-node.json returns series from the real
/// Prometheus that scraped this run: no panel of the shipped dashboard is empty.
async fn every_grafana_panel_has_data(prom: &Prometheus) {
    let path = example_dir("redis-node").join("../../deploy/grafana/dashboards/redis-node.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut checked = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "15s");
            let series = prom
                .query(&expr)
                .await
                .unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert!(
                !series.is_empty(),
                "panel {:?}: `{expr}` has no data",
                panel["title"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "{checked}");
}
