//! Autoscaling with real instances and real load: a concurrency step, CPU under a limit (seed
//! 003), scale to zero and back, and steady noisy load that must not move the count.

use std::time::Duration;

use tokio::time::Instant;

use super::support::*;

fn autoscaled(
    name: &str,
    min: u32,
    desired: u32,
    max: u32,
    autoscale: &str,
    extra: &str,
) -> String {
    format!(
        r#"[services.{name}]
command = ["{{taskboard}}", "--port", "{{port}}", "--db", "{{dir}}/tasks.db"]
route = "/"
instances = {{ min = {min}, desired = {desired}, max = {max} }}
health = {{ path = "/health", interval = "300ms", timeout = "250ms", healthy_threshold = 1, unhealthy_threshold = 2 }}
stop = {{ drain = "10s", timeout = "5s" }}
slow_start = "0s"
{extra}

[services.{name}.autoscale]
{autoscale}
"#
    )
}

async fn desired(shoal: &Shoal, service: &str) -> u64 {
    let status = shoal.status().await;
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == service)
        .unwrap()["desired"]
        .as_u64()
        .unwrap()
}

async fn healthy(shoal: &Shoal, service: &str) -> usize {
    shoal
        .instances(service)
        .await
        .iter()
        .filter(|i| i["state"] == "healthy")
        .count()
}

/// Polls until `check(desired, healthy)` holds; returns how long it took.
async fn wait_for(
    shoal: &Shoal,
    service: &str,
    limit: Duration,
    what: &str,
    check: impl Fn(u64, usize) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let (d, h) = (desired(shoal, service).await, healthy(shoal, service).await);
        if check(d, h) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{what}: not reached within {limit:?} (desired {d}, healthy {h})\nevents: {:#?}",
            shoal.events().await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn scale_events(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "scale_up" || e["kind"] == "scale_down")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrency_step_scales_out_and_latency_recovers() {
    let spec = autoscaled(
        "api",
        1,
        1,
        12,
        "metric = \"concurrency\"\ntarget = 5\nscale_down_stabilization = \"60s\"",
        "",
    );
    let shoal = Shoal::start("step", &spec).await;
    shoal.wait_healthy("api", 1, Duration::from_secs(30)).await;
    let mut load = Load::start(shoal.gateway, "/sleep?ms=100", 2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        desired(&shoal, "api").await,
        1,
        "2 clients fit one instance (target 5 × 0.7)"
    );

    // The step: 40 concurrent clients.
    load.add_clients(shoal.gateway, "/sleep?ms=100", 38);
    let took = wait_for(
        &shoal,
        "api",
        Duration::from_secs(30),
        "≥ 8 instances",
        |d, h| d >= 8 && h >= 8,
    )
    .await;
    println!("step 2 → 40 clients: ≥ 8 healthy instances after {took:?}");
    // Once they serve, the p99 falls back near the 100 ms the app takes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let serving = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let report = load.stop().await;
    assert!(
        report.failures.is_empty(),
        "failed requests: {:?}",
        report.failures
    );
    let p99 = report.p99_after(serving).unwrap();
    println!("p99 once scaled: {p99:?}");
    assert!(
        p99 < Duration::from_millis(300),
        "p99 {p99:?} did not recover"
    );

    let events = shoal.events().await;
    let ups = scale_events(&events);
    assert!(!ups.is_empty());
    assert!(ups.iter().all(|m| m.contains("concurrency")), "{ups:#?}");
    let out = shoal.cli(&["events"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("scale_up"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_service_scales_to_zero_and_the_next_request_is_served() {
    let spec = autoscaled(
        "lazy",
        0,
        1,
        2,
        "metric = \"concurrency\"\ntarget = 10\nidle = \"2s\"\ncold_start_timeout = \"30s\"",
        "",
    );
    let shoal = Shoal::start("zero", &spec).await;
    shoal.wait_healthy("lazy", 1, Duration::from_secs(30)).await;
    // Idle: down to zero, and the instance is gone.
    wait_for(
        &shoal,
        "lazy",
        Duration::from_secs(30),
        "zero instances",
        |d, _| d == 0,
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !shoal.instances("lazy").await.is_empty() {
        assert!(Instant::now() < deadline, "instance never stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The next request is held, an instance starts, and it is answered 200.
    let started = Instant::now();
    let (code, body) = http_get(shoal.gateway, "/instance").await.unwrap();
    let cold = started.elapsed();
    assert_eq!(code, 200, "{body}");
    println!("first request after scale to zero: 200 after {cold:?} (cold start)");
    let started = Instant::now();
    let (code, _) = http_get(shoal.gateway, "/instance").await.unwrap();
    println!("next request: {code} after {:?}", started.elapsed());
    assert_eq!(desired(&shoal, "lazy").await, 1);
    let events = scale_events(&shoal.events().await);
    assert!(
        events.iter().any(|m| m.contains("scale to zero")),
        "{events:#?}"
    );
    assert!(
        events.iter().any(|m| m.contains("scale from zero to 1")),
        "{events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_noisy_load_causes_no_scale_change() {
    let spec = autoscaled(
        "steady",
        1,
        3,
        10,
        "metric = \"concurrency\"\ntarget = 5",
        "",
    );
    let shoal = Shoal::start("steady", &spec).await;
    shoal
        .wait_healthy("steady", 3, Duration::from_secs(30))
        .await;
    // 9 clients (≈ 2.6 instances' worth at 5 × 0.7), ±1 client flickering at random.
    let mut load = Load::start(shoal.gateway, "/sleep?ms=50", 8);
    let until = Instant::now() + Duration::from_secs(120);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    while Instant::now() < until {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let extra = (rng % 3) as usize; // 0, 1 or 2 extra clients: 8..10 in all
        let flag = load.add_temporary_clients(shoal.gateway, "/sleep?ms=50", extra);
        tokio::time::sleep(Duration::from_millis(1000 + rng % 2000)).await;
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let report = load.stop().await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let changes = scale_events(&shoal.events().await);
    assert!(changes.is_empty(), "scaled under steady load: {changes:#?}");
    assert_eq!(desired(&shoal, "steady").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_003_example_cpu_load_takes_the_group_from_1_to_3_and_back() {
    // examples/ec2-asg as written (the seed's group, target group and target tracking), with a
    // shorter scale-down window so the test does not wait a minute.
    let (shoal, _) = super::examples::start_example(
        "ec2-asg",
        &["shoal.toml"],
        &[(
            "scale_down_stabilization = \"60s\"",
            "scale_down_stabilization = \"10s\"",
        )],
    )
    .await;
    shoal.wait_healthy("web", 1, Duration::from_secs(30)).await;

    // `stress --cpu`, through the load balancer: each request burns 50 ms of CPU.
    let load = Load::start(shoal.gateway, "/work?ms=50", 4);
    let took = wait_for(
        &shoal,
        "web",
        Duration::from_secs(60),
        "3 healthy instances",
        |d, h| d == 3 && h == 3,
    )
    .await;
    println!("CPU load: 1 → 3 instances in {took:?}");
    let cpu: Vec<_> = shoal
        .instances("web")
        .await
        .iter()
        .map(|i| i["cpu_percent"].clone())
        .collect();
    println!("CPU per instance (percent of 0.5 core): {cpu:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = load.stop().await;
    assert!(
        report.failures.is_empty(),
        "failed requests: {:?}",
        report.failures
    );

    // Load gone: back to the minimum after the stabilization window, draining as it goes.
    let took = wait_for(
        &shoal,
        "web",
        Duration::from_secs(90),
        "back to 1",
        |d, h| d == 1 && h == 1,
    )
    .await;
    println!("idle: 3 → 1 in {took:?}");
    let events = scale_events(&shoal.events().await);
    assert!(events.iter().any(|m| m.contains("cpu")), "{events:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_by_hand_sets_the_count_the_autoscaler_continues_from() {
    let spec = autoscaled(
        "hand",
        1,
        1,
        5,
        "metric = \"concurrency\"\ntarget = 5\nscale_down_stabilization = \"3s\"\nscale_down_cooldown = \"3s\"",
        "",
    );
    let shoal = Shoal::start("hand", &spec).await;
    shoal.wait_healthy("hand", 1, Duration::from_secs(30)).await;
    let out = shoal.cli(&["scale", "hand", "4"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    shoal.wait_healthy("hand", 4, Duration::from_secs(30)).await;
    // Out of range is still refused.
    assert_eq!(shoal.cli(&["scale", "hand", "9"]).status.code(), Some(2));
    // Without load, the autoscaler takes it from there back to the minimum, saying why.
    let took = wait_for(
        &shoal,
        "hand",
        Duration::from_secs(40),
        "back to 1",
        |d, h| d == 1 && h == 1,
    )
    .await;
    println!("after `scale 4` with no load: back to 1 in {took:?}");
    let events = scale_events(&shoal.events().await);
    assert!(
        events
            .iter()
            .any(|m| m.contains("concurrency") && m.contains("4 → ")),
        "{events:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promql_query_against_a_real_prometheus_scales_out_under_load_and_back() {
    use super::prometheus::Prometheus;
    // Prometheus' address goes into the spec, so it is chosen first; Prometheus itself starts
    // once shoal's discovery URL is known.
    let prom_addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let autoscale = format!(
        r#"slow_start = "0s"

[services.web.autoscale]
metric = "prometheus"
url = "http://{prom_addr}"
query = 'sum(rate(shoal_gateway_requests_total{{service="web"}}[5s]))'
target = 100
warmup = "1s"
scale_down_stabilization = "5s"
scale_down_cooldown = "2s"
"#
    );
    let shoal = Shoal::start("promql-scale", &taskboard_service("web", 1, 4, &autoscale)).await;
    shoal.wait_healthy("web", 1, Duration::from_secs(30)).await;
    let prometheus = Prometheus::start_on(
        prom_addr,
        &format!("http://{}/v1/discovery/prometheus", shoal.admin),
    )
    .await;
    prometheus
        .wait_for(
            "count(up{job=\"shoal\"} == 1)",
            1.0,
            Duration::from_secs(60),
        )
        .await;

    // About 8 × 45 requests/s against a target of 100 per instance: 4 instances (the max).
    let load = Load::start(shoal.gateway, "/sleep?ms=20", 8);
    let started = Instant::now();
    shoal
        .wait_for(
            "web",
            "scale-out on the query",
            Duration::from_secs(90),
            |s| s["desired"].as_u64().unwrap_or(0) >= 3,
        )
        .await;
    let out_after = started.elapsed();
    let value = prometheus
        .scalar("sum(rate(shoal_gateway_requests_total{service=\"web\"}[5s]))")
        .await;
    let report = load.stop().await;
    assert_no_failures(&report.failures);
    let stopped = Instant::now();
    shoal
        .wait_for(
            "web",
            "scale-in after the load",
            Duration::from_secs(120),
            |s| s["desired"] == 1,
        )
        .await;
    let in_after = stopped.elapsed();
    println!(
        "promql autoscaling: query value under load {value:?} req/s; desired ≥ 3 after {out_after:.1?}; back to 1 {in_after:.1?} after the load"
    );
    let events = shoal.events().await;
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "scale_up"
                && e["message"].as_str().unwrap().contains("prometheus")),
        "{events:#?}"
    );
    drop(prometheus);
}
