//! Rendering and discovery against a real registry publishing to a real gateway, with real
//! requests on loopback.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use shoal_gateway::{Gateway, GatewayConfig, PoolConfig};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::registry::RolloutStatus;

const SPEC: &str = r#"
[services.web]
command = ["sleep", "1"]
route = "/"
instances = { min = 1, desired = 2, max = 4 }

[services.db]
command = ["sleep", "1"]
instances = { min = 1, desired = 1, max = 1 }
"#;

fn services() -> shoal_spec::Spec {
    let opts = shoal_spec::LoadOptions {
        check_ports: false,
        check_programs: true,
    };
    shoal_spec::parse(SPEC, Path::new("/nonexistent/shoal.toml"), &opts).unwrap()
}

/// A real gateway serving on loopback, and a registry publishing to it.
async fn registry() -> (Registry, SocketAddr) {
    let gateway = Arc::new(Gateway::new(GatewayConfig {
        response_timeout: Duration::from_secs(5),
        header_timeout: Duration::from_secs(5),
        max_header_bytes: 16 * 1024,
        retry_budget: 0.2,
        runtime: None,
        pool: PoolConfig::default(),
    }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let g = Arc::clone(&gateway);
    tokio::spawn(async move {
        g.serve(listener, std::future::pending(), Duration::ZERO)
            .await
            .unwrap()
    });
    let registry = Registry::new(gateway);
    let spec = services();
    registry.add_service(&spec.services["web"], 2, 1, Arc::default());
    registry.add_service(&spec.services["db"], 1, 1, Arc::default());
    (registry, addr)
}

/// A real instance: 200 on `/`, 404 elsewhere.
async fn app() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// Registers a healthy instance of `web` in `slot`, running `revision`, served at `addr`.
fn healthy(registry: &Registry, slot: u32, revision: u64, addr: SocketAddr) {
    let id = format!("web-{slot}");
    let endpoint = registry
        .gateway()
        .endpoint(&id, "web", addr, Duration::ZERO);
    registry.update_instance("web", slot, |r| {
        r.state = InstanceState::Healthy;
        r.revision = revision;
        r.port = Some(addr.port());
        r.pid = Some(4000 + slot);
        r.endpoint = Some(endpoint);
    });
}

async fn get(addr: SocketAddr, path: &str) -> u16 {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("host", "shoal.test")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

/// Every sample of an exposition, `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[tokio::test]
async fn renders_services_instances_rollouts_and_gateway_traffic() {
    let (registry, gw) = registry().await;
    healthy(&registry, 1, 1, app().await);
    healthy(&registry, 2, 2, app().await);
    registry.update_instance("web", 3, |r| {
        r.state = InstanceState::Stopped;
        r.restarts = 2;
    });
    registry.update_instance("db", 1, |r| r.port = Some(5432));
    registry.record_usage("web", 1, Some(50.0), 64 << 20);
    for kind in ["scale_up", "scale_up", "scale_down", "scaled"] {
        registry.event("web", None, kind, "test".into());
    }
    registry.set_rollout(
        "web",
        1,
        Some(RolloutStatus {
            revision: 2,
            from: 1,
            strategy: "canary",
            phase: "canary",
            updated: 1,
            new: 1,
            healthy: 1,
            old: 1,
            desired: 2,
            canary_weight: Some(10),
            step: Some((1, 2)),
            failures: Some((0, 3)),
            checks: Vec::new(),
            message: String::new(),
        }),
    );
    for _ in 0..20 {
        assert_eq!(get(gw, "/").await, 200);
    }
    assert_eq!(get(gw, "/missing").await, 404);

    let text = render(Scrape::of(&registry));
    assert!(text.ends_with("# EOF\n"), "{text}");
    let s = samples(&text);
    let v = |series: &str| value(&s, series);
    assert_eq!(
        v(&format!(
            "shoal_build_info{{version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );

    // Services.
    assert_eq!(v(r#"shoal_service_desired_instances{service="web"}"#), 2.0);
    assert_eq!(v(r#"shoal_service_max_instances{service="web"}"#), 4.0);
    for (state, n) in [
        ("starting", 0.0),
        ("healthy", 2.0),
        ("unhealthy", 0.0),
        ("draining", 0.0),
        ("stopped", 1.0),
    ] {
        assert_eq!(
            v(&format!(
                "shoal_service_instances{{service=\"web\",state=\"{state}\"}}"
            )),
            n,
            "{state}"
        );
    }
    assert_eq!(
        v(r#"shoal_service_instances{service="db",state="starting"}"#),
        1.0
    );
    assert_eq!(
        v(r#"shoal_scaling_decisions_total{service="web",direction="up"}"#),
        2.0
    );
    assert_eq!(
        v(r#"shoal_scaling_decisions_total{service="web",direction="down"}"#),
        1.0
    );
    assert_eq!(
        v(r#"shoal_scaling_decisions_total{service="db",direction="up"}"#),
        0.0
    );
    assert_eq!(
        v(r#"shoal_rollout_in_progress{service="web",strategy="canary"}"#),
        1.0
    );
    assert_eq!(
        v(r#"shoal_rollout_in_progress{service="web",strategy="rolling"}"#),
        0.0
    );
    assert_eq!(
        v(r#"shoal_rollout_in_progress{service="db",strategy="canary"}"#),
        0.0
    );
    assert_eq!(v(r#"shoal_canary_weight_ratio{service="web"}"#), 0.1);
    assert_eq!(v(r#"shoal_canary_weight_ratio{service="db"}"#), 0.0);
    assert_eq!(v(r#"shoal_service_active_revision{service="web"}"#), 1.0);
    assert_eq!(v(r#"shoal_rollout_target_revision{service="web"}"#), 2.0);
    assert_eq!(v(r#"shoal_rollout_target_revision{service="db"}"#), 1.0);
    assert!(text.contains("# UNIT shoal_canary_weight_ratio ratio\n"));

    // Instances: usage only where measured; restarts for every slot.
    let web1 = r#"{service="web",instance="web-1",revision="1"}"#;
    assert_eq!(
        v(&format!("shoal_instance_cpu_utilization_ratio{web1}")),
        0.5
    );
    assert_eq!(
        v(&format!("shoal_instance_memory_bytes{web1}")),
        f64::from(64 << 20)
    );
    assert!(!s.contains_key(
        r#"shoal_instance_memory_bytes{service="web",instance="web-2",revision="2"}"#
    ));
    assert_eq!(
        v(r#"shoal_instance_restarts_total{service="web",instance="web-3",revision="1"}"#),
        2.0
    );

    // The gateway: every response by the revision that answered, none by the gateway.
    let by_rev = |rev: &str, code: &str| {
        v(&format!(
            "shoal_gateway_requests_total{{service=\"web\",revision=\"{rev}\",code=\"{code}\"}}"
        ))
    };
    assert_eq!(by_rev("1", "2xx") + by_rev("2", "2xx"), 20.0);
    assert_eq!(by_rev("1", "4xx") + by_rev("2", "4xx"), 1.0);
    assert!(
        by_rev("1", "2xx") > 0.0 && by_rev("2", "2xx") > 0.0,
        "{text}"
    );
    for code in STATUS_CLASSES {
        assert_eq!(by_rev("", code), 0.0);
    }
    assert_eq!(v(r#"shoal_gateway_requests_in_flight{service="web"}"#), 0.0);
    assert_eq!(v(r#"shoal_gateway_retries_total{service="web"}"#), 0.0);
    assert_eq!(
        v(r#"shoal_gateway_upstream_errors_total{service="web",kind="connect"}"#),
        0.0
    );
    // Only routed services have gateway series.
    assert!(!text.contains(r#"shoal_gateway_requests_total{service="db""#));
    assert!(!text.contains(r#"shoal_gateway_request_duration_seconds_count{service="db"}"#));

    // The histogram: cumulative buckets in order, +Inf = count = responses.
    let mut last = 0.0;
    for le in DURATION_BUCKETS
        .iter()
        .map(|b| format!("{b:?}"))
        .chain(["+Inf".to_string()])
    {
        let n = v(&format!(
            "shoal_gateway_request_duration_seconds_bucket{{le=\"{le}\",service=\"web\"}}"
        ));
        assert!(n >= last, "bucket {le} is {n}, below {last}");
        last = n;
    }
    assert_eq!(last, 21.0);
    assert_eq!(
        v(r#"shoal_gateway_request_duration_seconds_count{service="web"}"#),
        21.0
    );
    let sum = v(r#"shoal_gateway_request_duration_seconds_sum{service="web"}"#);
    assert!(sum > 0.0 && sum < 21.0 * 5.0, "{sum}");
}

#[tokio::test]
async fn a_removed_instance_leaves_no_series_but_its_revisions_counts_stay() {
    let (registry, gw) = registry().await;
    healthy(&registry, 1, 1, app().await);
    healthy(&registry, 2, 2, app().await);
    registry.record_usage("web", 2, Some(10.0), 1000);
    for _ in 0..10 {
        get(gw, "/").await;
    }
    let before = samples(&render(Scrape::of(&registry)));
    registry.remove_instance("web", 2);
    let text = render(Scrape::of(&registry));
    assert!(!text.contains(r#"instance="web-2""#), "{text}");
    let after = samples(&text);
    let rev2 = r#"shoal_gateway_requests_total{service="web",revision="2",code="2xx"}"#;
    assert_eq!(after.get(rev2), before.get(rev2));
    assert_eq!(
        value(
            &after,
            r#"shoal_service_instances{service="web",state="healthy"}"#
        ),
        1.0
    );
    // A removed service has no series at all.
    registry.remove_service("web");
    let text = render(Scrape::of(&registry));
    assert!(!text.contains(r#"service="web""#), "{text}");
    assert!(text.contains(r#"service="db""#), "{text}");
}

#[tokio::test]
async fn answers_of_the_gateway_itself_carry_no_revision() {
    let (registry, gw) = registry().await;
    assert_eq!(get(gw, "/").await, 503);
    let s = samples(&render(Scrape::of(&registry)));
    let own = r#"shoal_gateway_requests_total{service="web",revision="",code="5xx"}"#;
    assert_eq!(value(&s, own), 1.0);
    assert_eq!(
        value(
            &s,
            r#"shoal_gateway_request_duration_seconds_count{service="web"}"#
        ),
        1.0
    );
}

#[tokio::test]
async fn counts_of_old_revisions_are_bounded() {
    let (registry, _gw) = registry().await;
    let addr = app().await;
    for revision in 1..=20 {
        healthy(&registry, 1, revision, addr);
    }
    let text = render(Scrape::of(&registry));
    let revisions: BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("shoal_gateway_requests_total"))
        .filter_map(|l| l.split("revision=\"").nth(1)?.split('"').next())
        .collect();
    let want: BTreeSet<String> = (12..=20)
        .map(|r| r.to_string())
        .chain([String::new()])
        .collect();
    assert_eq!(revisions, want.iter().map(String::as_str).collect());
}

#[tokio::test]
async fn discovery_lists_shoal_and_every_running_instance() {
    let (registry, _gw) = registry().await;
    healthy(&registry, 1, 3, "127.0.0.1:41001".parse().unwrap());
    registry.update_instance("web", 2, |r| r.state = InstanceState::Stopped);
    registry.update_instance("db", 1, |r| r.port = Some(41002));
    let admin = connect_address("0.0.0.0:7070".parse().unwrap());
    let json = serde_json::to_value(targets(&registry, admin)).unwrap();
    assert_eq!(
        json,
        serde_json::json!([
            {"targets": ["127.0.0.1:7070"], "labels": {"job": "shoal", "__metrics_path__": "/metrics"}},
            {"targets": ["127.0.0.1:41002"], "labels": {
                "service": "db", "revision": "1", "instance": "db-1",
                "__metrics_path__": "/metrics", "__meta_shoal_routed": "false"}},
            {"targets": ["127.0.0.1:41001"], "labels": {
                "service": "web", "revision": "3", "instance": "web-1",
                "__metrics_path__": "/metrics", "__meta_shoal_routed": "true"}},
        ])
    );
    assert_eq!(
        connect_address("[::]:7070".parse().unwrap()).to_string(),
        "[::1]:7070"
    );
}
