//! The service loop, rollouts and canaries with the fake driver, under paused time: what the
//! end-to-end tests show with real processes, here exact to the millisecond and in no time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shoal_gateway::{Gateway, GatewayConfig, PoolConfig};
use tokio::time::Instant;

use crate::driver::fake::FakeDriver;
use crate::{Controller, InstanceState, ScaleTarget};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// A scratch data dir, removed on drop.
struct DataDir(PathBuf);

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn data_dir(name: &str) -> DataDir {
    let dir = std::env::temp_dir().join(format!("shoal-loop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    DataDir(dir)
}

/// `[services.web]` with `FAKE = fake` and `extra` keys, in a spec with its data in `dir`.
fn spec(dir: &DataDir, fake: &str, extra: &str) -> shoal_spec::Spec {
    let src = format!(
        r#"[admin]
data_dir = "{}"
[services.web]
command = ["fake-app"]
route = "/"
env = {{ FAKE = "{fake}" }}
instances = {{ min = 1, desired = 3, max = 8 }}
health = {{ interval = "1s", timeout = "500ms", healthy_threshold = 1, unhealthy_threshold = 1 }}
restart = {{ backoff = "100ms", max_backoff = "1s" }}
stop = {{ drain = "1s", timeout = "1s" }}
slow_start = "0s"
{extra}
"#,
        dir.0.display()
    );
    let opts = shoal_spec::LoadOptions {
        check_ports: false,
        check_programs: false,
    };
    shoal_spec::parse(&src, std::path::Path::new("/shoal.toml"), &opts)
        .unwrap_or_else(|d| panic!("{d}"))
}

fn start(spec: shoal_spec::Spec) -> (Controller, Arc<FakeDriver>) {
    let gateway = Arc::new(Gateway::new(GatewayConfig {
        response_timeout: S,
        header_timeout: S,
        max_header_bytes: 8192,
        retry_budget: 0.2,
        runtime: None,
        pool: PoolConfig::default(),
    }));
    let driver = Arc::new(FakeDriver::default());
    let controller = Controller::start_with(spec, gateway, Arc::clone(&driver) as _).unwrap();
    (controller, driver)
}

/// Instances of `web` by state, and their revisions.
fn web(controller: &Controller) -> (usize, Vec<u64>) {
    let status = controller.registry().status();
    let web = &status.services[0];
    let healthy = web
        .instances
        .iter()
        .filter(|i| i.state == InstanceState::Healthy)
        .count();
    (healthy, web.instances.iter().map(|i| i.revision).collect())
}

/// Whether the service's last rollout ended with `result`.
fn last_rollout_was(controller: &Controller, result: &str) -> bool {
    controller.registry().status().services[0]
        .last_rollout
        .as_ref()
        .is_some_and(|o| o.result == result)
}

/// Advances paused time in small steps until `check` holds (or `limit` passes).
async fn until(limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(10 * MS).await;
    }
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn a_crashing_instance_restarts_with_doubling_backoff() {
    let dir = data_dir("backoff");
    let mut s = spec(&dir, "crash:1s", "");
    s.services.get_mut("web").unwrap().instances.desired = 1;
    let (controller, driver) = start(s);
    until(10 * S, || driver.starts().len() >= 5).await;
    let starts = driver.starts();
    assert!(
        starts.iter().all(|s| s.id == "web-1"),
        "one slot: {starts:?}"
    );
    // Each run lasts 1 s, then waits 100 ms, 200 ms, 400 ms, 800 ms before the next.
    let gaps: Vec<u128> = starts
        .windows(2)
        .map(|w| (w[1].at - w[0].at).as_millis())
        .collect();
    for (gap, want) in gaps.iter().zip([1100u128, 1200, 1400, 1800]) {
        assert!(gap.abs_diff(want) <= 30, "gaps {gaps:?}");
    }
    let crashes = controller
        .registry()
        .events_since(0, 1000)
        .iter()
        .filter(|e| e.kind == "crashed")
        .count();
    assert!(crashes >= 4, "{crashes}");
    assert_eq!(
        controller.registry().status().services[0].instances[0].restarts as usize,
        starts.len() - 1
    );
    controller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn scaling_during_a_rolling_update_ends_with_every_instance_new() {
    let dir = data_dir("scale-rollout");
    let (controller, driver) = start(spec(
        &dir,
        "healthy",
        "deploy = { min_healthy_time = \"1s\" }",
    ));
    until(10 * S, || web(&controller).0 == 3).await;
    // A new revision that needs 2 s to become healthy: the rollout takes a while.
    let next = spec(&dir, "healthy:2s", "deploy = { min_healthy_time = \"1s\" }");
    let outcome = controller.apply(next, false).await.unwrap();
    assert_eq!(outcome.rollouts.len(), 1);
    tokio::time::sleep(2500 * MS).await;
    assert!(
        controller.registry().status().services[0].rollout.is_some(),
        "still rolling"
    );
    controller.scale("web", ScaleTarget::To(5)).unwrap();
    let took = until(60 * S, || {
        let (healthy, revisions) = web(&controller);
        healthy == 5
            && revisions.iter().all(|&r| r == 2)
            && controller.registry().status().services[0].rollout.is_none()
    })
    .await;
    println!("rolled out and scaled to 5 in {took:?}");
    // Never more than desired + max_surge (1) running at once.
    assert!(driver.running() <= 5);
    let outcome = controller.registry().status().services[0]
        .last_rollout
        .clone()
        .unwrap();
    assert_eq!(outcome.result, "complete");
    controller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_revision_that_never_gets_healthy_is_reverted_at_its_deadline() {
    let dir = data_dir("revert");
    let deploy = "deploy = { min_healthy_time = \"500ms\", healthy_deadline = \"3s\", progress_deadline = \"3s\" }";
    let (controller, driver) = start(spec(&dir, "healthy", deploy));
    until(10 * S, || web(&controller).0 == 3).await;
    controller
        .apply(spec(&dir, "never", deploy), false)
        .await
        .unwrap();
    let took = until(30 * S, || last_rollout_was(&controller, "reverted")).await;
    // Failed at its 3 s deadline (the first new instance started at once).
    assert!((3 * S..4 * S).contains(&took), "{took:?}");
    until(30 * S, || {
        let (healthy, revisions) = web(&controller);
        healthy == 3 && revisions.iter().all(|&r| r == 1)
    })
    .await;
    // Only one instance of the bad revision was ever started (surge 1, nothing became healthy).
    let bad = driver.starts().iter().filter(|s| s.revision == 2).count();
    assert_eq!(bad, 1);
    controller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_canary_whose_instance_crashes_is_abandoned_and_stable_serves_on() {
    let dir = data_dir("canary");
    let deploy = "deploy = { strategy = \"canary\", steps = [{ weight = 10 }], min_healthy_time = \"500ms\" }";
    let (controller, driver) = start(spec(&dir, "healthy", deploy));
    until(10 * S, || web(&controller).0 == 3).await;
    controller
        .apply(spec(&dir, "crash:2s", deploy), false)
        .await
        .unwrap();
    until(10 * S, || driver.starts().iter().any(|s| s.revision == 2)).await;
    let took = until(30 * S, || last_rollout_was(&controller, "reverted")).await;
    println!("canary abandoned {took:?} after it started");
    until(10 * S, || {
        let (healthy, revisions) = web(&controller);
        healthy == 3 && revisions.len() == 3 && revisions.iter().all(|&r| r == 1)
    })
    .await;
    // The stable instances were never touched: still the first three starts.
    assert_eq!(
        driver.starts().iter().filter(|s| s.revision == 1).count(),
        3
    );
    assert!(controller.registry().status().services[0].rollout.is_none());
    controller.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_killed_instance_leaves_the_routes_at_once_and_comes_back_in_its_slot() {
    let dir = data_dir("kill");
    let (controller, driver) = start(spec(&dir, "healthy", ""));
    until(10 * S, || web(&controller).0 == 3).await;
    let routed = || {
        controller.registry().gateway().table().routes()[0]
            .backends
            .endpoints()
            .len()
    };
    assert_eq!(routed(), 3);
    let victim = controller.registry().status().services[0].instances[1].clone();
    driver.kill(victim.port.unwrap());
    until(S, || routed() == 2).await;
    let back = until(10 * S, || web(&controller).0 == 3).await;
    let again = controller.registry().status().services[0].instances[1].clone();
    assert_eq!((again.id.as_str(), again.restarts), (victim.id.as_str(), 1));
    assert!(
        back < 2 * S,
        "restarted after its 100 ms backoff and one check: {back:?}"
    );
    assert_eq!(routed(), 3);
    controller.shutdown().await;
}
