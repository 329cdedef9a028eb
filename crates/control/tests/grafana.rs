//! The Grafana dashboard in `deploy/grafana` against the `/metrics` of a real control plane: a
//! `Controller` running two python `http.server` instances behind a real gateway, real requests
//! through it, and `/metrics` and the discovery endpoint fetched over HTTP from the admin API.
//! Every metric name a panel's PromQL uses must be in that output.
//!
//! This binary is also the instance shim (re-executed with `__shim`, as shoal re-executes
//! itself), which libtest's generated `main` cannot do, so it brings a minimal one.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use shoal_control::{admin_router, AdminState, Controller};
use shoal_gateway::{Gateway, GatewayConfig, PoolConfig};
use shoal_runtime::{shim_main, ShimCommand, SHIM_SUBCOMMAND};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

type Test = (&'static str, fn());

const TESTS: &[Test] = &[
    (
        "promql_metric_names_are_found",
        promql_metric_names_are_found,
    ),
    ("dashboard_is_well_formed", dashboard_is_well_formed),
    (
        "every_panel_metric_is_in_real_metrics",
        every_panel_metric_is_in_real_metrics,
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(SHIM_SUBCOMMAND) {
        shim_main(args[2..].to_vec());
    }
    std::process::exit(run(&args[1..]));
}

/// Runs the selected tests one after the other and reports in libtest's format. Filters are
/// substrings; `--skip NAME` and `--list` are understood, other options are ignored.
fn run(args: &[String]) -> i32 {
    let (mut filters, mut skip, mut list) = (Vec::new(), Vec::new(), false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--list" => list = true,
            "--skip" => skip.extend(it.next().cloned()),
            "--test-threads" | "--format" | "--color" | "-Z" => {
                it.next();
            }
            s if s.starts_with('-') => {}
            s => filters.push(s.to_string()),
        }
    }
    let selected: Vec<&Test> = TESTS
        .iter()
        .filter(|(n, _)| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .filter(|(n, _)| !skip.iter().any(|s| n.contains(s.as_str())))
        .collect();
    if list {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return 0;
    }
    println!("\nrunning {} tests", selected.len());
    let started = Instant::now();
    let mut failed = Vec::new();
    for (name, test) in &selected {
        let ok = std::panic::catch_unwind(test).is_ok();
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if !ok {
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out; finished in {:.2}s\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        selected.len() - failed.len(),
        failed.len(),
        TESTS.len() - selected.len(),
        started.elapsed().as_secs_f64()
    );
    i32::from(!failed.is_empty())
}

fn grafana_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana")
}

fn dashboard() -> Value {
    let path = grafana_dir().join("dashboards/shoal.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?} is not JSON: {e}"))
}

/// Every panel (rows' nested panels included) with its title and the PromQL of its targets.
fn panel_queries(dash: &Value) -> Vec<(String, Vec<String>)> {
    fn walk(panels: &Value, out: &mut Vec<(String, Vec<String>)>) {
        for p in panels.as_array().into_iter().flatten() {
            if p["type"] == "row" {
                walk(&p["panels"], out);
                continue;
            }
            let exprs = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["expr"].as_str().map(str::to_string))
                .collect();
            out.push((p["title"].as_str().unwrap_or("?").to_string(), exprs));
        }
    }
    let mut out = Vec::new();
    walk(&dash["panels"], &mut out);
    out
}

/// Words of PromQL that are not metric names when they stand alone.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// Keywords followed by a parenthesised list of label names.
const GROUPINGS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// The metric names a PromQL expression selects: identifiers outside strings, label matchers
/// (`{…}`), ranges (`[…]`) and grouping lists, that are neither keywords, functions (followed by
/// `(`) nor template variables (`$…`).
fn metric_names(expr: &str) -> BTreeSet<String> {
    // Blank out strings, matchers and ranges.
    let mut plain = String::new();
    let (mut quote, mut depth) = (None, 0);
    let mut escaped = false;
    for c in expr.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            plain.push(' ');
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            _ if depth == 0 => {
                plain.push(c);
                continue;
            }
            _ => {}
        }
        plain.push(' ');
    }
    let chars: Vec<char> = plain.chars().collect();
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let next_non_space = |mut i: usize| {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        i
    };
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !ident_start(c) || (i > 0 && (ident_char(chars[i - 1]) || chars[i - 1] == '.')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && ident_char(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let variable = start > 0 && chars[start - 1] == '$';
        let next = next_non_space(i);
        if GROUPINGS.contains(&word.as_str()) && chars.get(next) == Some(&'(') {
            // Skip the label list.
            i = next;
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
            continue;
        }
        let function = chars.get(next) == Some(&'(');
        if !variable && !function && !KEYWORDS.contains(&word.as_str()) {
            names.insert(word);
        }
    }
    names
}

fn promql_metric_names_are_found() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.95, sum by (service, le) (rate(a_bucket{service=~"$service",x="y{z}"}[$__rate_interval])))"#
        ),
        ["a_bucket"]
    );
    assert_eq!(
        names(r#"sum by (service) (rate(a_total{code="5xx"}[5m])) / sum without(le) (b) > 0"#),
        ["a_total", "b"]
    );
    assert_eq!(
        names("x * on(instance) group_left(version) y unless z offset 5m"),
        ["x", "y", "z"]
    );
    assert_eq!(names("max(up) and bool 1e3"), ["up"]);
    assert_eq!(names(r#"count(up{job='a\'b'} == 1)"#), ["up"]);
}

fn dashboard_is_well_formed() {
    let dash = dashboard();
    assert!(dash["uid"].is_string() && dash["title"].is_string());
    let panels = panel_queries(&dash);
    assert!(panels.len() >= 7, "{panels:?}");
    for (title, exprs) in &panels {
        assert!(!exprs.is_empty(), "panel {title:?} has no query");
    }
    let mut ids = BTreeSet::new();
    for p in dash["panels"].as_array().unwrap() {
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "duplicate id {}",
            p["id"]
        );
        assert!(p["gridPos"]["w"].as_u64().unwrap() <= 24);
    }
    // The provisioning files are YAML of the expected shape (checked loosely: no YAML parser).
    let ds = std::fs::read_to_string(grafana_dir().join("datasources/prometheus.yaml")).unwrap();
    assert!(ds.contains("uid: shoal-prometheus") && ds.contains("type: prometheus"));
    let provider = std::fs::read_to_string(grafana_dir().join("dashboards/shoal.yaml")).unwrap();
    assert!(provider.contains("providers:") && provider.contains("type: file"));
    let default_ds = dash["templating"]["list"][0]["current"]["value"].as_str();
    assert_eq!(default_ds, Some("shoal-prometheus"));
}

/// One GET on a fresh connection: `(status, content type, body)`.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header("host", addr.to_string())
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ctype, String::from_utf8_lossy(&body).into_owned())
}

/// Sample names of an exposition (`name` of `name{labels} value`).
fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

fn every_panel_metric_is_in_real_metrics() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(real_metrics());
}

async fn real_metrics() {
    let dir = std::env::temp_dir().join(format!("shoal-grafana-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "hello\n").unwrap();
    let gateway_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (gw, admin) = (
        gateway_listener.local_addr().unwrap(),
        admin_listener.local_addr().unwrap(),
    );
    let d = dir.display();
    let source = format!(
        r#"[gateway]
listen = "{gw}"

[admin]
listen = "{admin}"
data_dir = "{d}/data"

[services.web]
command = ["python3", "-m", "http.server", "{{port}}", "--bind", "127.0.0.1", "--directory", "{d}"]
route = "/"
instances = {{ min = 1, desired = 2, max = 3 }}
health = {{ path = "/", interval = "500ms", timeout = "400ms", healthy_threshold = 1, unhealthy_threshold = 3 }}
stop = {{ drain = "1s", timeout = "2s" }}
"#
    );
    let opts = shoal_spec::LoadOptions {
        check_ports: false,
        check_programs: true,
    };
    let spec = shoal_spec::parse(&source, &dir.join("shoal.toml"), &opts).unwrap();
    let gateway = Arc::new(Gateway::new(GatewayConfig {
        response_timeout: spec.gateway.response_timeout,
        header_timeout: spec.gateway.header_timeout,
        max_header_bytes: spec.gateway.max_header_bytes,
        retry_budget: spec.gateway.retry_budget,
        runtime: None,
        pool: PoolConfig {
            connect_timeout: spec.gateway.connect_timeout,
            idle_timeout: spec.gateway.idle_timeout,
            ..PoolConfig::default()
        },
    }));
    let g = Arc::clone(&gateway);
    tokio::spawn(async move {
        g.serve(gateway_listener, std::future::pending(), Duration::ZERO)
            .await
    });
    let shim = ShimCommand {
        exe: std::env::current_exe().unwrap(),
        leading_args: vec![SHIM_SUBCOMMAND.to_string()],
    };
    let controller = Arc::new(Controller::start(spec, gateway, shim).unwrap());
    let (shutdown, _) = tokio::sync::watch::channel(false);
    let router = admin_router(AdminState {
        controller: Arc::clone(&controller),
        token: "test".into(),
        shutdown,
        gateway_addr: format!("http://{gw}"),
    });
    tokio::spawn(async move { axum::serve(admin_listener, router).await });

    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    let healthy = || {
        controller.registry().status().services[0]
            .instances
            .iter()
            .filter(|i| i.state == shoal_control::InstanceState::Healthy)
            .count()
    };
    while healthy() < 2 {
        assert!(
            Instant::now() < deadline,
            "{:#?}",
            controller.registry().status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("two instances healthy after {:?}", started.elapsed());
    for _ in 0..20 {
        assert_eq!(get(gw, "/").await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(get(gw, "/missing").await.0, 404);
    }

    // CPU needs two usage samples (a second apart) per instance.
    let text = loop {
        let (status, ctype, text) = get(admin, "/metrics").await;
        assert_eq!(status, 200, "{text}");
        assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
        if text
            .matches("shoal_instance_cpu_utilization_ratio{")
            .count()
            >= 2
        {
            break text;
        }
        assert!(Instant::now() < deadline, "no CPU readings:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("usage sampled after {:?}", started.elapsed());
    let exported = sample_names(&text);
    let mut missing = Vec::new();
    for (title, exprs) in panel_queries(&dashboard()) {
        for expr in exprs {
            for name in metric_names(&expr) {
                if !exported.contains(&name) {
                    missing.push(format!("panel {title:?}: {name} (in {expr})"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "metrics the dashboard uses but shoal does not export:\n{}\n\nexported: {exported:#?}",
        missing.join("\n")
    );
    let web = r#"shoal_gateway_requests_total{service="web",revision="1",code="2xx"} 20"#;
    assert!(text.contains(web), "{text}");

    // Discovery names shoal and both instances.
    let (status, ctype, body) = get(admin, "/v1/discovery/prometheus").await;
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let groups: Value = serde_json::from_str(&body).unwrap();
    let groups = groups.as_array().unwrap();
    assert_eq!(groups.len(), 3, "{body}");
    assert_eq!(groups[0]["targets"][0], admin.to_string());
    assert_eq!(groups[0]["labels"]["job"], "shoal");
    for i in &controller.registry().status().services[0].instances {
        let target = format!("127.0.0.1:{}", i.port.unwrap());
        let group = groups
            .iter()
            .find(|g| g["targets"][0] == target.as_str())
            .unwrap_or_else(|| panic!("{target} not in {body}"));
        assert_eq!(group["labels"]["instance"], i.id.as_str());
        assert_eq!(group["labels"]["service"], "web");
        assert_eq!(group["labels"]["revision"], "1");
        assert_eq!(group["labels"]["__metrics_path__"], "/metrics");
    }
    controller.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
