//! The Consul-shaped catalog on the admin address, read by a real Consul client library
//! (py-consul, `import consul`) the way a tool that discovers services through Consul would:
//! the service list with tags, healthy instances, and a blocking query that returns when an
//! instance's health changes, not before (events about other services do not end it).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

use super::support::*;

/// Fails at once, with what to do, where the client library is missing.
fn require_consul_client() {
    let ok = Command::new("python3")
        .args(["-c", "import consul"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 cannot `import consul` (the py-consul client library): run `scripts/install-deps.sh test`"
    );
}

/// What every script starts with: a client for shoal's admin address (argv[1]).
const PRELUDE: &str = r#"
import json, sys, threading, time
import consul
c = consul.Consul(host="127.0.0.1", port=int(sys.argv[1]))
def passing(entries):
    return [e for e in entries if all(ch["Status"] == "passing" for ch in e["Checks"])]
"#;

/// Runs a script (after [`PRELUDE`]) to the end; its stdout is one JSON value.
async fn python(admin: SocketAddr, script: &str) -> Value {
    let source = format!("{PRELUDE}\n{script}");
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(&source)
        .arg(admin.port().to_string())
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "python failed:\n{}", text(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("python printed no JSON ({e}):\n{}", text(&out)))
}

const DISCOVER: &str = r#"
_, services = c.catalog.services()
_, healthy = c.health.service("web", passing=True)
_, web = c.catalog.service("web")
_, tagged = c.catalog.service("web", tag="v1")
_, both = c.health.service("web", tag=["v1", "primary"])
_, untagged = c.catalog.service("web", tag="nope")
_, unknown = c.catalog.service("nope")
_, api = c.health.service("api", passing=True)
print(json.dumps({
    "services": services,
    "healthy": sorted(e["Service"]["Port"] for e in healthy),
    "healthy_ids": sorted(e["Service"]["ID"] for e in healthy),
    "web": web,
    "tagged": len(tagged), "both": len(both), "untagged": len(untagged), "unknown": unknown,
    "api": len(api),
}))
"#;

/// Gets the index, then blocks on it in a thread; prints `ready` first so the test can change
/// things while the call waits, then the outcome.
const BLOCK: &str = r#"
idx, before = c.health.service("web")
print(json.dumps({"ready": idx}), flush=True)
out = {"before": int(idx), "passing_before": len(passing(before))}
def block():
    t = time.monotonic()
    i, entries = c.health.service("web", index=idx, wait="30s")
    out.update(index=int(i), seconds=time.monotonic() - t, passing=len(passing(entries)),
               total=len(entries), states=[e["Service"]["Meta"]["shoal_state"] for e in entries])
th = threading.Thread(target=block)
th.start()
th.join()
print(json.dumps(out), flush=True)
"#;

fn services() -> String {
    let web = taskboard_service(
        "web",
        2,
        3,
        "tags = [\"v1\", \"primary\"]\nmeta = { team = \"core\" }",
    );
    let api = taskboard_service("api", 1, 3, "")
        .replace("route = \"/\"", "route = \"/api\"")
        .replace("tasks.db", "api.db");
    format!("{web}\n{api}")
}

/// Ports of a service's instances as `shoal status -o json` shows them.
fn status_ports(shoal: &Shoal, service: &str) -> Vec<u64> {
    let out = shoal.cli(&["status", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let svc = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == service)
        .unwrap()
        .clone();
    let mut ports: Vec<u64> = svc["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["port"].as_u64().unwrap())
        .collect();
    ports.sort();
    ports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consul_client_discovers_services_and_blocks_until_health_changes() {
    require_consul_client();
    let shoal = Shoal::start("catalog", &services()).await;
    shoal.wait_healthy("web", 2, Duration::from_secs(60)).await;
    shoal.wait_healthy("api", 1, Duration::from_secs(60)).await;

    let found = python(shoal.admin, DISCOVER).await;
    println!("catalog.services(): {}", found["services"]);
    assert_eq!(
        found["services"],
        serde_json::json!({ "web": ["v1", "primary"], "api": [] })
    );
    let ports = status_ports(&shoal, "web");
    assert_eq!(found["healthy"], serde_json::json!(ports), "{found:#}");
    assert_eq!(found["healthy_ids"], serde_json::json!(["web-1", "web-2"]));
    let web = found["web"].as_array().unwrap();
    assert_eq!(web.len(), 2, "{found:#}");
    for entry in web {
        assert_eq!(entry["ServiceName"], "web");
        assert_eq!(entry["Node"], "shoal");
        assert_eq!(entry["ServiceAddress"], "127.0.0.1");
        assert_eq!(entry["ServiceMeta"]["team"], "core");
        assert_eq!(entry["ServiceMeta"]["shoal_state"], "healthy");
        assert_eq!(entry["ServiceMeta"]["shoal_revision"], "1");
        assert!(ports.contains(&entry["ServicePort"].as_u64().unwrap()));
    }
    assert_eq!(
        (&found["tagged"], &found["both"], &found["untagged"]),
        (&2.into(), &2.into(), &0.into())
    );
    assert_eq!(found["unknown"], serde_json::json!([]));
    assert_eq!(found["api"], 1);

    agent_health_is(&shoal, 200, "passing").await;
    consul_headers_are_set(&shoal).await;
    blocking_query_returns_on_a_health_change(&shoal).await;
    agent_health_is(&shoal, 200, "passing").await;

    // Every instance failing its health: the agent check says critical with a 503.
    fail_health(&shoal, "web-2").await;
    shoal
        .wait_state("web", "web-2", "unhealthy", Duration::from_secs(20))
        .await;
    agent_health_is(&shoal, 503, "critical").await;
    let (code, body) = http_get(shoal.admin, "/v1/agent/health/service/name/web")
        .await
        .unwrap();
    assert_eq!(code, 503, "{body}");
    let entries: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(entries.len(), 2, "{body}");
    assert!(
        entries.iter().all(|e| e["AggregatedStatus"] == "critical"),
        "{body}"
    );
    let (code, body) = http_get(shoal.admin, "/v1/health/service/web?passing")
        .await
        .unwrap();
    assert_eq!((code, body.as_str()), (200, "[]"));
    let (code, body) = http_get(
        shoal.admin,
        "/v1/agent/health/service/name/nope?format=text",
    )
    .await
    .unwrap();
    assert_eq!((code, body.as_str()), (404, "ServiceName nope Not Found"));
}

/// Makes one taskboard instance fail its health checks from now on.
async fn fail_health(shoal: &Shoal, id: &str) {
    let port = shoal.instance("web", id).await["port"].as_u64().unwrap() as u16;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (code, body) = request(addr, "PUT", "/health/fail", None).await.unwrap();
    assert!((200..300).contains(&code), "{code} {body}");
}

async fn agent_health_is(shoal: &Shoal, code: u16, word: &str) {
    let path = "/v1/agent/health/service/name/web?format=text";
    let (got, body) = http_get(shoal.admin, path).await.unwrap();
    println!("GET {path} → {got} {body}");
    assert_eq!((got, body.as_str()), (code, word));
}

async fn consul_headers_are_set(shoal: &Shoal) {
    let raw = get_with_header(shoal.admin, "/v1/health/service/web", "Accept: */*").await;
    let head = raw.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    for want in [
        "content-type: application/json",
        "x-consul-knownleader: true",
        "x-consul-lastcontact: 0",
        "x-consul-index: ",
    ] {
        assert!(head.contains(want), "no {want:?} in\n{head}");
    }
    let (code, body) = http_get(shoal.admin, "/v1/health/service/web?index=1&wait=soon")
        .await
        .unwrap();
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("Invalid wait"), "{body}");
    let (code, _) = http_get(shoal.admin, "/v1/catalog/service/web?index=x")
        .await
        .unwrap();
    assert_eq!(code, 400);
}

/// While py-consul blocks on web's index: scale api (events, but web's answer does not change,
/// so the call keeps waiting), then make web-1 fail its health (the call returns).
async fn blocking_query_returns_on_a_health_change(shoal: &Shoal) {
    let mut child = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(format!("{PRELUDE}\n{BLOCK}"))
        .arg(shoal.admin.port().to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("python never got the index")
        .unwrap()
        .expect("python ended before blocking");
    let ready_at = Instant::now();
    println!("blocking on {ready}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let out = shoal.cli(&["scale", "api", "+1"]);
    assert!(out.status.success(), "{}", text(&out));
    shoal.wait_healthy("api", 2, Duration::from_secs(30)).await;
    let unrelated = ready_at.elapsed();
    // Apart from api's last event, so that a return on it could not pass for one on web's.
    tokio::time::sleep(Duration::from_millis(500)).await;
    fail_health(shoal, "web-1").await;
    let failed_after = ready_at.elapsed();

    let line = tokio::time::timeout(Duration::from_secs(40), lines.next_line())
        .await
        .expect("the blocking call did not return")
        .unwrap()
        .expect("python printed no outcome");
    let returned_after = ready_at.elapsed();
    assert!(child.wait().await.unwrap().success());
    let out: Value = serde_json::from_str(&line).unwrap();
    let seconds = out["seconds"].as_f64().unwrap();
    println!(
        "blocking query: {out}; api scaled (unrelated events) {unrelated:?} into the wait, \
         web-1 failed at {failed_after:?}, the call returned {seconds:.2} s after it started"
    );
    assert_eq!(out["passing_before"], 2, "{out}");
    assert!(out["index"].as_u64() > out["before"].as_u64(), "{out}");
    assert_eq!(
        (&out["passing"], &out["total"]),
        (&1.into(), &2.into()),
        "{out}"
    );
    assert!(out["states"].to_string().contains("unhealthy"), "{out}");
    // It did wait through api's events: it returned only after web-1 was failed…
    assert!(
        Duration::from_secs_f64(seconds) + Duration::from_millis(300) >= failed_after,
        "returned after {seconds} s, before web-1 was failed ({failed_after:?})"
    );
    // …and well before its 30 s wait.
    assert!(
        returned_after - failed_after < Duration::from_secs(10),
        "{out}"
    );
}
