//! Specs that must compile, and the values and defaults they compile to.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{compile_ok, offline, TempDir};
use crate::{
    load, parse, AutoscaleSpec, DeploySpec, GatewaySpec, HealthCheck, HealthSpec, InstanceCounts,
    Metric, MetricTarget, RateLimit, ResourcesSpec, RestartSpec, RouteSpec, StopSpec,
};

const FULL: &str = r#"
[gateway]
listen = "127.0.0.1:9080"
connect_timeout = "2s"
response_timeout = "30s"
header_timeout = "5s"
idle_timeout = "1m30s"
max_header_bytes = "32KiB"
retry_budget = 0.1
threads = 3

[admin]
listen = "127.0.0.1:9070"
data_dir = "state"

[services.web]
command = ["bin/sleep", "--port", "{port}"]
workdir = "tmp"
env = { RUST_LOG = "info", DATABASE_URL = "postgres://localhost/db" }
route = "/app/"
host = "App.Local"
instances = { min = 2, desired = 3, max = 5 }
health = { path = "/healthz", interval = "5s", timeout = "500ms", healthy_threshold = 1, unhealthy_threshold = 4, restart_after = "never" }
stop = { drain = "0s", timeout = "20s" }
restart = { backoff = "250ms", max_backoff = "1m" }
resources = { cpu = 0.5, memory = "256MiB" }
slow_start = "0s"

[services.db]
command = ["sleep", "1000"]

[services.db.health]
tcp = true
interval = "1s"
timeout = "200ms"
restart_after = "0s"

[services.db.env]
PGDATA = "/var/lib/pg"

[services.api]
command = ["/bin/sh", "-c", "exec sleep 1000"]
route = "/api"
instances.max = 4
resources.cpu = 2
resources.memory = 8388608
"#;

#[test]
fn full_spec_compiles_with_given_values() {
    let spec = compile_ok(FULL);
    assert_eq!(spec.source, PathBuf::from("/shoal.toml"));
    assert_eq!(spec.base_dir, PathBuf::from("/"));
    assert_eq!(
        spec.gateway,
        GatewaySpec {
            listen: "127.0.0.1:9080".parse().unwrap(),
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(90),
            max_header_bytes: 32 * 1024,
            retry_budget: 0.1,
            threads: Some(3),
        }
    );
    assert_eq!(spec.admin.listen, "127.0.0.1:9070".parse().unwrap());
    assert_eq!(spec.admin.data_dir, PathBuf::from("/state"));
    assert_eq!(
        spec.services.keys().collect::<Vec<_>>(),
        ["api", "db", "web"],
        "services are in name order"
    );

    let web = &spec.services["web"];
    assert_eq!(web.name, "web");
    assert_eq!(web.command, ["bin/sleep", "--port", "{port}"]);
    assert_eq!(web.program, PathBuf::from("/bin/sleep"));
    assert_eq!(web.argv_for_port(4100), ["bin/sleep", "--port", "4100"]);
    assert_eq!(web.workdir, PathBuf::from("/tmp"));
    assert_eq!(
        web.env,
        BTreeMap::from([
            (
                "DATABASE_URL".to_owned(),
                "postgres://localhost/db".to_owned()
            ),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ])
    );
    assert_eq!(
        web.route,
        Some(RouteSpec {
            host: Some("app.local".into()),
            path_prefix: "/app".into(),
        })
    );
    assert_eq!(
        web.instances,
        InstanceCounts {
            min: 2,
            desired: 3,
            max: 5
        }
    );
    assert_eq!(
        web.health,
        HealthSpec {
            check: HealthCheck::Http {
                path: "/healthz".into()
            },
            interval: Duration::from_secs(5),
            timeout: Duration::from_millis(500),
            healthy_threshold: 1,
            unhealthy_threshold: 4,
            restart_after: None,
        }
    );
    assert_eq!(
        web.stop,
        StopSpec {
            drain: Duration::ZERO,
            timeout: Duration::from_secs(20)
        }
    );
    assert_eq!(
        web.restart,
        RestartSpec {
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(60)
        }
    );
    assert_eq!(
        web.resources,
        ResourcesSpec {
            cpu: 0.5,
            memory: Some(256 << 20)
        }
    );
    assert_eq!(web.slow_start, Duration::ZERO);

    let db = &spec.services["db"];
    assert!(
        db.program.is_absolute() && db.program.ends_with("sleep"),
        "{:?}",
        db.program
    );
    assert_eq!(db.route, None);
    assert_eq!(db.health.check, HealthCheck::Tcp);
    assert_eq!(db.health.interval, Duration::from_secs(1));
    assert_eq!(db.health.timeout, Duration::from_millis(200));
    assert_eq!(db.health.restart_after, None, "\"0s\" disables restarts");
    assert_eq!(db.env["PGDATA"], "/var/lib/pg");

    let api = &spec.services["api"];
    assert_eq!(api.program, PathBuf::from("/bin/sh"));
    assert_eq!(
        api.route,
        Some(RouteSpec {
            host: None,
            path_prefix: "/api".into()
        })
    );
    assert_eq!(api.health.check, HealthCheck::Http { path: "/".into() });
    assert_eq!(
        api.instances,
        InstanceCounts {
            min: 1,
            desired: 1,
            max: 4
        }
    );
    assert_eq!(
        api.resources,
        ResourcesSpec {
            cpu: 2.0,
            memory: Some(8 << 20)
        }
    );
}

#[test]
fn minimal_spec_gets_every_default() {
    let src = "[services.web]\ncommand = [\"/bin/sleep\", \"1000\"]\n";
    let spec = parse(src, Path::new("shoal.toml"), &offline()).unwrap_or_else(|d| panic!("{d}"));
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(spec.source, PathBuf::from("shoal.toml"));
    assert_eq!(spec.base_dir, cwd);
    assert_eq!(spec.gateway, GatewaySpec::default());
    assert_eq!(
        spec.gateway.listen,
        SocketAddr::from(([127, 0, 0, 1], 8080))
    );
    assert_eq!(spec.gateway.max_header_bytes, 65536);
    assert_eq!(spec.gateway.retry_budget, 0.2);
    assert_eq!(spec.admin.listen, SocketAddr::from(([127, 0, 0, 1], 7070)));
    assert_eq!(spec.admin.data_dir, cwd.join(".shoal"));

    let web = &spec.services["web"];
    assert_eq!(web.command, ["/bin/sleep", "1000"]);
    assert_eq!(web.program, PathBuf::from("/bin/sleep"));
    assert_eq!(web.workdir, cwd);
    assert!(web.env.is_empty());
    assert_eq!(web.route, None);
    assert_eq!(
        web.instances,
        InstanceCounts {
            min: 1,
            desired: 1,
            max: 1
        }
    );
    assert_eq!(
        web.health,
        HealthSpec {
            check: HealthCheck::Tcp,
            interval: Duration::from_secs(2),
            timeout: Duration::from_secs(1),
            healthy_threshold: 2,
            unhealthy_threshold: 3,
            restart_after: Some(Duration::from_secs(60)),
        }
    );
    assert_eq!(web.stop, StopSpec::default());
    assert_eq!(web.stop.drain, Duration::from_secs(10));
    assert_eq!(web.restart, RestartSpec::default());
    assert_eq!(web.restart.backoff, Duration::from_millis(100));
    assert_eq!(
        web.resources,
        ResourcesSpec {
            cpu: 1.0,
            memory: None
        }
    );
    assert_eq!(web.slow_start, Duration::from_secs(10));
    assert_eq!(web.deploy, DeploySpec::default());
}

#[test]
fn routed_service_defaults_to_http_check_of_root() {
    let spec = compile_ok("[services.web]\ncommand = [\"sleep\"]\nroute = \"/\"\n");
    let web = &spec.services["web"];
    assert_eq!(web.health.check, HealthCheck::Http { path: "/".into() });
    assert_eq!(
        web.route,
        Some(RouteSpec {
            host: None,
            path_prefix: "/".into()
        })
    );
}

#[test]
fn tcp_false_means_http() {
    let spec = compile_ok("[services.db]\ncommand = [\"sleep\"]\nhealth.tcp = false\n");
    assert_eq!(
        spec.services["db"].health.check,
        HealthCheck::Http { path: "/".into() }
    );
}

#[test]
fn instance_count_defaults() {
    let cases = [
        ("{}", (1, 1, 1)),
        ("{ max = 3 }", (1, 1, 3)),
        ("{ min = 0 }", (0, 1, 1)),
        ("{ min = 2 }", (2, 2, 2)),
        ("{ desired = 5 }", (1, 5, 5)),
        ("{ min = 0, desired = 0 }", (0, 0, 1)),
        ("{ min = 0, max = 4 }", (0, 1, 4)),
        ("{ min = 0, desired = 2, max = 3 }", (0, 2, 3)),
    ];
    for (instances, (min, desired, max)) in cases {
        // Scale to zero needs an autoscaler; it does not change the counts.
        let src = format!(
            "[services.w]\ncommand = [\"sleep\"]\ninstances = {instances}\nautoscale = {{ metric = \"rps\", target = 50 }}\n"
        );
        let spec = compile_ok(&src);
        assert_eq!(
            spec.services["w"].instances,
            InstanceCounts { min, desired, max },
            "{instances}"
        );
    }
}

#[test]
fn listen_addresses_may_share_port_zero_and_be_public() {
    let spec = compile_ok(
        "[gateway]\nlisten = \"0.0.0.0:0\"\n[admin]\nlisten = \"0.0.0.0:0\"\n[services.w]\ncommand = [\"sleep\"]\n",
    );
    assert_eq!(spec.gateway.listen.port(), 0);
}

#[test]
fn integer_forms_of_numbers_and_sizes() {
    let spec = compile_ok(
        "[gateway]\nmax_header_bytes = 8192\nretry_budget = 1\n[services.w]\ncommand = [\"sleep\"]\nresources = { cpu = 1, memory = \"1GiB\" }\n",
    );
    assert_eq!(spec.gateway.max_header_bytes, 8192);
    assert_eq!(spec.gateway.retry_budget, 1.0);
    assert_eq!(spec.services["w"].resources.memory, Some(1 << 30));
}

#[test]
fn free_ports_pass_the_port_check() {
    let spec = parse(
        "[gateway]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[services.w]\ncommand = [\"sleep\"]\n",
        Path::new("/shoal.toml"),
        &crate::LoadOptions::default(),
    );
    assert!(spec.is_ok(), "{}", spec.unwrap_err());
}

#[test]
fn load_resolves_paths_against_the_spec_directory() {
    let dir = TempDir::new("load");
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let app = dir.path().join("bin/app");
    std::fs::write(&app, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    set_mode(&app, 0o755);
    let spec_path = dir.path().join("shoal.toml");
    std::fs::write(
        &spec_path,
        "[services.app]\ncommand = [\"./bin/app\"]\nworkdir = \"data\"\n",
    )
    .unwrap();

    let spec = load(&spec_path, &offline()).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(spec.base_dir, dir.path());
    assert_eq!(spec.services["app"].program, app);
    assert_eq!(spec.services["app"].workdir, dir.path().join("data"));
    assert_eq!(spec.admin.data_dir, dir.path().join(".shoal"));
}

#[test]
fn load_reports_an_unreadable_file_at_the_start() {
    let missing = Path::new("/nonexistent-shoal-dir/shoal.toml");
    let err = load(missing, &offline()).unwrap_err();
    assert_eq!(err.len(), 1);
    let d = &err.0[0];
    assert_eq!((d.line, d.col), (1, 1));
    assert_eq!(d.file, missing);
    assert!(
        d.message
            .starts_with("cannot read /nonexistent-shoal-dir/shoal.toml"),
        "{d}"
    );
}

const AUTOSCALE_FULL: &str = r#"
[services.api]
command = ["sleep"]
route = "/"
instances = { min = 0, max = 8 }
resources = { cpu = 0.5, memory = "512MiB" }

[services.api.autoscale]
metric = "cpu"
target = 150
tolerance_up = 0.05
tolerance_down = 0.2
stable_window = "30s"
panic_window = "3s"
panic_threshold = 3
target_utilization = 0.5
scale_down_stabilization = "2m"
scale_up_cooldown = "1s"
scale_down_cooldown = "20s"
scale_up_limit = { instances = 2, percent = 50, period = "5s" }
scale_down_limit = { instances = 3, percent = 0, period = "10s" }
warmup = "0s"
idle = "5m"
cold_start_timeout = "45s"
cold_start_queue = 10
"#;

#[test]
fn autoscale_full_table() {
    let spec = compile_ok(AUTOSCALE_FULL);
    assert_eq!(
        spec.services["api"].autoscale,
        Some(AutoscaleSpec {
            metrics: vec![MetricTarget {
                metric: Metric::Cpu,
                target: 150.0,
            }],
            tolerance_up: 0.05,
            tolerance_down: 0.2,
            stable_window: Duration::from_secs(30),
            panic_window: Duration::from_secs(3),
            panic_threshold: 3.0,
            target_utilization: 0.5,
            scale_down_stabilization: Duration::from_secs(120),
            scale_up_cooldown: Duration::from_secs(1),
            scale_down_cooldown: Duration::from_secs(20),
            scale_up_limit: RateLimit {
                instances: 2,
                percent: 50.0,
                period: Duration::from_secs(5),
            },
            scale_down_limit: RateLimit {
                instances: 3,
                percent: 0.0,
                period: Duration::from_secs(10),
            },
            warmup: Duration::ZERO,
            idle: Duration::from_secs(300),
            cold_start_timeout: Duration::from_secs(45),
            cold_start_queue: 10,
        })
    );
    assert_eq!(spec.services["api"].instances.min, 0);
}

#[test]
fn autoscale_defaults() {
    let spec = compile_ok(
        "[services.api]\ncommand = [\"sleep\"]\nautoscale = { metric = \"concurrency\", target = 5 }\n",
    );
    let a = spec.services["api"].autoscale.clone().unwrap();
    let concurrency = MetricTarget {
        metric: Metric::Concurrency,
        target: 5.0,
    };
    assert_eq!(a, AutoscaleSpec::with_metrics(vec![concurrency]));
    // The documented defaults, spelled out.
    assert_eq!((a.tolerance_up, a.tolerance_down), (0.1, 0.1));
    assert_eq!(a.stable_window, Duration::from_secs(60));
    assert_eq!(a.panic_window, Duration::from_secs(6));
    assert_eq!(a.panic_threshold, 2.0);
    assert_eq!(a.target_utilization, 0.7);
    assert_eq!(a.scale_down_stabilization, Duration::from_secs(60));
    assert_eq!(a.scale_up_cooldown, Duration::ZERO);
    assert_eq!(a.scale_down_cooldown, Duration::from_secs(10));
    assert_eq!(
        a.scale_up_limit,
        RateLimit {
            instances: 4,
            percent: 100.0,
            period: Duration::from_secs(1)
        }
    );
    assert_eq!(
        a.scale_down_limit,
        RateLimit {
            instances: 1,
            percent: 50.0,
            period: Duration::from_secs(2)
        }
    );
    assert_eq!(a.warmup, Duration::from_secs(5));
    assert_eq!(a.idle, Duration::from_secs(30));
    assert_eq!(a.cold_start_timeout, Duration::from_secs(30));
    assert_eq!(a.cold_start_queue, 1000);
    assert_eq!(spec.services["api"].instances.min, 1);
}

#[test]
fn autoscale_absent_is_none() {
    let spec = compile_ok("[services.api]\ncommand = [\"sleep\"]\ninstances.max = 3\n");
    assert_eq!(spec.services["api"].autoscale, None);
}

#[test]
fn autoscale_metrics_as_array_of_tables() {
    let spec = compile_ok(
        r#"
[services.api]
command = ["sleep"]
resources.memory = "1GiB"

[services.api.autoscale]
tolerance = 0.2
tolerance_down = 0.3
scale_down_limit.period = "4s"

[[services.api.autoscale.metrics]]
metric = "rps"
target = 100

[[services.api.autoscale.metrics]]
metric = "prometheus"
url = "https://prom.local:9090/"
query = "sum(queue_depth)"
target = 2.5

[[services.api.autoscale.metrics]]
metric = "memory"
target = 80

[[services.api.autoscale.metrics]]
metric = "latency_p95"
target = 250
"#,
    );
    let a = spec.services["api"].autoscale.clone().unwrap();
    assert_eq!(
        a.metrics,
        [
            MetricTarget {
                metric: Metric::Rps,
                target: 100.0
            },
            MetricTarget {
                metric: Metric::Prometheus {
                    url: "https://prom.local:9090/".into(),
                    query: "sum(queue_depth)".into()
                },
                target: 2.5
            },
            MetricTarget {
                metric: Metric::Memory,
                target: 80.0
            },
            MetricTarget {
                metric: Metric::LatencyP95,
                target: 250.0
            },
        ]
    );
    assert_eq!(a.metrics[1].metric.name(), "prometheus");
    // `tolerance` sets both directions; `tolerance_down` overrides one.
    assert_eq!((a.tolerance_up, a.tolerance_down), (0.2, 0.3));
    // A limit's keys left out keep that limit's defaults.
    assert_eq!(
        a.scale_down_limit,
        RateLimit {
            instances: 1,
            percent: 50.0,
            period: Duration::from_secs(4)
        }
    );
}

#[test]
fn autoscale_metrics_as_inline_array() {
    let spec = compile_ok(
        "[services.api]\ncommand = [\"sleep\"]\n[services.api.autoscale]\nmetrics = [{ metric = \"cpu\", target = 70 }, { metric = \"concurrency\", target = 8 }]\n",
    );
    let a = spec.services["api"].autoscale.clone().unwrap();
    assert_eq!(
        a.metrics,
        [
            MetricTarget {
                metric: Metric::Cpu,
                target: 70.0
            },
            MetricTarget {
                metric: Metric::Concurrency,
                target: 8.0
            },
        ]
    );
}

#[test]
fn autoscale_dotted_keys_and_scale_to_zero() {
    let spec = compile_ok(
        "[services.api]\ncommand = [\"sleep\"]\ninstances = { min = 0, desired = 0, max = 2 }\nautoscale.metric = \"concurrency\"\nautoscale.target = 1\nautoscale.idle = \"10s\"\n",
    );
    let api = &spec.services["api"];
    assert_eq!(api.instances.desired, 0);
    let a = api.autoscale.as_ref().unwrap();
    assert_eq!(a.metrics[0].metric, Metric::Concurrency);
    assert_eq!(a.idle, Duration::from_secs(10));
}

#[cfg(unix)]
pub(super) fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
