//! Whole applications on real servers: TCP listeners in front of real `redis-server`s, stateful
//! tiers (Redis, PostgreSQL) keeping their identity and data, start order and discovery.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::resp::{redis_command, require_redis, Redis, Reply};
use super::support::{free_port, signal, text, Shoal};

const S: Duration = Duration::from_secs(1);

/// A Redis service block: `desired` instances behind a TCP listener on `tcp`.
fn redis_service(name: &str, desired: u32, max: u32, tcp: SocketAddr, extra: &str) -> String {
    format!(
        r#"[services.{name}]
command = {command}
tcp = {{ listen = "{tcp}", drain_quiet = "100ms" }}
instances = {{ min = 1, desired = {desired}, max = {max} }}
health = {{ send = "PING\r\n", expect = "+PONG", interval = "300ms", timeout = "250ms" }}
stop = {{ drain = "5s", timeout = "5s" }}
slow_start = "0s"
{extra}
"#,
        command = redis_command(&[])
    )
}

fn listen_addr() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

fn ports_of(instances: &[Value]) -> Vec<u16> {
    instances
        .iter()
        .filter_map(|i| i["port"].as_u64())
        .map(|p| p as u16)
        .collect()
}

#[tokio::test]
async fn a_tcp_listener_spreads_connections_and_routes_around_a_killed_instance() {
    require_redis();
    let tcp = listen_addr();
    let shoal = Shoal::start("tcp-spread", &redis_service("cache", 3, 3, tcp, "")).await;
    shoal.wait_healthy("cache", 3, 20 * S).await;
    let instances = shoal.instances("cache").await;
    let ports = ports_of(&instances);

    // Held-open connections: P2C on open connections spreads them evenly.
    let mut held = Vec::new();
    let mut per_port: BTreeMap<u16, usize> = BTreeMap::new();
    for _ in 0..30 {
        let mut c = Redis::connect(tcp).await.unwrap();
        *per_port.entry(c.server_port().await.unwrap()).or_default() += 1;
        held.push(c);
    }
    println!("30 held connections per instance port: {per_port:?}");
    assert_eq!(per_port.keys().copied().collect::<Vec<_>>(), {
        let mut p = ports.clone();
        p.sort_unstable();
        p
    });
    assert!(
        per_port.values().all(|&n| (5..=15).contains(&n)),
        "{per_port:?}"
    );
    let status = shoal.service("cache").await;
    assert_eq!(status["tcp"]["open"], 30, "{status:#}");
    let conns: u64 = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["connections"].as_u64().unwrap())
        .sum();
    assert_eq!(conns, 30);
    // /metrics carries the same.
    let (_, metrics) = super::support::http_get(shoal.admin, "/metrics")
        .await
        .unwrap();
    for line in [
        "shoal_tcp_connections_open{service=\"cache\"} 30",
        "shoal_tcp_connections_accepted_total{service=\"cache\"} 30",
        "shoal_tcp_connections_refused_total{service=\"cache\"} 0",
        "shoal_tcp_transferred_bytes_total{service=\"cache\",direction=\"in\"}",
    ] {
        assert!(metrics.contains(line), "{line} not in /metrics:\n{metrics}");
    }
    let per_instance: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("shoal_instance_tcp_connections{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(per_instance, 30);

    // SIGKILL one instance: every new connection still works, through the others.
    let victim = &instances[0];
    let victim_port = victim["port"].as_u64().unwrap() as u16;
    signal(victim["pid"].as_u64().unwrap() as u32, "KILL");
    // From the moment shoal sees it die (its shim reports at once), no connection goes to it.
    // (A connection made in the instant between the kill and that report is reset by the
    // dying process's kernel socket, as with any proxy.)
    let victim_id = victim["id"].as_str().unwrap().to_string();
    shoal
        .wait_for("cache", "the kill noticed", 10 * S, |s| {
            s["instances"].as_array().unwrap().iter().any(|i| {
                i["id"] == victim_id.as_str() && (i["restarts"] == 1 || i["state"] != "healthy")
            })
        })
        .await;
    let mut served: BTreeMap<u16, usize> = BTreeMap::new();
    for _ in 0..40 {
        let mut c = Redis::connect(tcp).await.unwrap();
        assert_eq!(c.cmd(&["PING"]).await.unwrap(), Reply::Text("PONG".into()));
        *served.entry(c.server_port().await.unwrap()).or_default() += 1;
    }
    println!("after SIGKILL of the instance on port {victim_port}: {served:?}");
    assert!(!served.contains_key(&victim_port), "{served:?}");
    // Its connections were cut with it; the others' are untouched.
    let mut cut = 0;
    for c in &mut held {
        if c.cmd(&["PING"]).await.is_err() {
            cut += 1;
        }
    }
    assert_eq!(
        cut, per_port[&victim_port],
        "only the killed instance's connections end"
    );
    // It comes back (a new process of the same slot) and takes connections again.
    shoal.wait_healthy("cache", 3, 20 * S).await;
}

/// A pooled request/response client: `conns` connections, each sending one command, waiting for
/// its reply, then pausing; a connection the server closed is noticed before reuse and replaced,
/// as Redis and PostgreSQL client pools do. Counts commands that got no reply.
struct PooledClients {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    reconnects: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl PooledClients {
    fn start(addr: SocketAddr, conns: usize, pause: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed, reconnects) = (Arc::default(), Arc::default(), Arc::default());
        let tasks = (0..conns)
            .map(|_| {
                let stop = Arc::clone(&stop);
                let (ok, failed, reconnects): (
                    Arc<AtomicUsize>,
                    Arc<AtomicUsize>,
                    Arc<AtomicUsize>,
                ) = (
                    Arc::clone(&ok),
                    Arc::clone(&failed),
                    Arc::clone(&reconnects),
                );
                tokio::spawn(async move {
                    let mut conn = Redis::connect(addr).await.ok();
                    while !stop.load(Ordering::SeqCst) {
                        if conn.as_mut().is_none_or(Redis::closed_by_peer) {
                            reconnects.fetch_add(1, Ordering::SeqCst);
                            conn = Redis::connect(addr).await.ok();
                        }
                        let Some(c) = conn.as_mut() else {
                            failed.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(pause).await;
                            continue;
                        };
                        match c.cmd(&["GET", "k"]).await {
                            Ok(Reply::Text(_)) => ok.fetch_add(1, Ordering::SeqCst),
                            _ => {
                                conn = None;
                                failed.fetch_add(1, Ordering::SeqCst)
                            }
                        };
                        tokio::time::sleep(pause).await;
                    }
                })
            })
            .collect();
        PooledClients {
            stop,
            ok,
            failed,
            reconnects,
            tasks,
        }
    }

    async fn stop(self) -> (usize, usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            let _ = t.await;
        }
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            self.reconnects.load(Ordering::SeqCst),
        )
    }
}

#[tokio::test]
async fn scale_in_closes_tcp_connections_only_between_replies() {
    require_redis();
    let tcp = listen_addr();
    let shoal = Shoal::start("tcp-scale-in", &redis_service("cache", 3, 3, tcp, "")).await;
    shoal.wait_healthy("cache", 3, 20 * S).await;
    for i in shoal.instances("cache").await {
        let addr = format!("127.0.0.1:{}", i["port"]).parse().unwrap();
        let mut c = Redis::connect(addr).await.unwrap();
        c.cmd(&["SET", "k", "v"]).await.unwrap();
    }
    // Pauses longer than drain_quiet (100ms) give each connection quiet moments to be closed in.
    let clients = PooledClients::start(tcp, 12, Duration::from_millis(150));
    tokio::time::sleep(2 * S).await;
    let out = shoal.cli(&["scale", "cache", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    shoal.wait_healthy("cache", 1, 20 * S).await;
    tokio::time::sleep(S).await;
    let (ok, failed, reconnects) = clients.stop().await;
    println!("scale-in 3 → 1 under 12 pooled clients: {ok} replies, {failed} failed, {reconnects} reconnects");
    assert_eq!(failed, 0);
    assert!(
        reconnects >= 12 * 2 / 3 - 1,
        "the removed instances' connections moved: {reconnects}"
    );
    assert!(ok > 150, "{ok}");
    let events = shoal.events().await;
    let forced = events
        .iter()
        .filter(|e| {
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("drain limit"))
        })
        .count();
    assert_eq!(
        forced, 0,
        "every connection closed while quiet, none at the drain limit"
    );
}

/// `[services.db]`: Debian's PostgreSQL through scripts/postgres-instance.sh, stateful, behind a
/// TCP listener, checked with `pg_isready`.
fn postgres_service(tcp: SocketAddr, extra: &str) -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts/postgres-instance.sh")
        .canonicalize()
        .unwrap();
    format!(
        r#"[services.db]
command = ["{script}"]
stateful = true
tcp = "{tcp}"
health = {{ exec = ["pg_isready", "-h", "127.0.0.1", "-p", "{{port}}"], interval = "500ms", timeout = "400ms" }}
stop = {{ drain = "2s", timeout = "10s" }}
{extra}
"#,
        script = script.display()
    )
}

/// Runs `sql` with Debian's psql through the listener at `tcp`.
fn try_psql(tcp: SocketAddr, sql: &str) -> std::process::Output {
    let port = tcp.port().to_string();
    std::process::Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql (scripts/install-deps.sh test installs PostgreSQL)")
}

fn psql(tcp: SocketAddr, sql: &str) -> String {
    let out = try_psql(tcp, sql);
    assert!(out.status.success(), "psql {sql}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Polls until psql through the listener answers (the listener may briefly have no instance).
async fn wait_for_rows(tcp: SocketAddr, expect: &str) {
    let deadline = Instant::now() + 30 * S;
    loop {
        let out = try_psql(tcp, "select count(*) from items");
        if out.status.success() {
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expect);
            return;
        }
        assert!(
            Instant::now() < deadline,
            "psql never answered: {}",
            text(&out)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_stateful_postgres_keeps_its_identity_and_rows() {
    let tcp = listen_addr();
    let mut shoal = Shoal::start("stateful-pg", &postgres_service(tcp, "")).await;
    shoal.wait_healthy("db", 1, 60 * S).await;
    let first = shoal.instance("db", "db-1").await;
    let volume = first["volume"].as_str().unwrap().to_string();
    assert!(volume.ends_with("/volumes/db/db-1"), "{volume}");
    psql(tcp, "create table items(id int primary key, v text)");
    psql(
        tcp,
        "insert into items select g, 'row ' || g from generate_series(1, 100) g",
    );

    // SIGKILL: the same identity comes back on the same volume, with every row.
    signal(first["pid"].as_u64().unwrap() as u32, "KILL");
    shoal
        .wait_for("db", "db-1 restarted and healthy", 60 * S, |s| {
            s["instances"][0]["restarts"] == 1 && s["instances"][0]["state"] == "healthy"
        })
        .await;
    let again = shoal.instance("db", "db-1").await;
    assert_eq!(again["volume"], volume.as_str());
    wait_for_rows(tcp, "100").await;

    // `shoal down` + `shoal up`: the data is still there.
    assert_eq!(shoal.terminate(60 * S), Some(0), "{}", shoal.log());
    assert!(std::path::Path::new(&volume)
        .join("pgdata/PG_VERSION")
        .exists());
    shoal.relaunch().await;
    shoal.wait_healthy("db", 1, 60 * S).await;
    wait_for_rows(tcp, "100").await;

    // A rollout (a new revision) stops db-1 before its replacement starts: never two at once.
    let next = shoal.spec_variant(
        "v2.toml",
        &postgres_service(tcp, "env = { PGAPPNAME = \"v2\" }"),
    );
    let apply = shoal.cli_async(&next, &["apply", "--detach"]);
    let watch = async {
        let deadline = Instant::now() + 90 * S;
        let mut most = 0;
        loop {
            let s = shoal.service("db").await;
            let running = s["instances"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| !i["pid"].is_null())
                .count();
            most = most.max(running);
            let done = s["rollout"].is_null()
                && s["revision"] == 2
                && s["instances"][0]["state"] == "healthy";
            if done {
                return most;
            }
            assert!(
                Instant::now() < deadline,
                "rollout did not finish: {s:#}\n{}",
                shoal.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let (out, most) = tokio::join!(apply, watch);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(most, 1, "two instances of db ran at once");
    let after = shoal.instance("db", "db-1").await;
    assert_eq!(
        (after["revision"].as_u64(), after["volume"].as_str()),
        (Some(2), Some(volume.as_str()))
    );
    wait_for_rows(tcp, "100").await;
    let events = shoal.events().await;
    let pos = |needle: &str| {
        events
            .iter()
            .position(|e| e["message"].as_str().is_some_and(|m| m.contains(needle)))
            .unwrap_or_else(|| panic!("no event {needle:?}"))
    };
    assert!(pos("db-1 stopped") < pos("db-1 started (revision 2"));
}

#[tokio::test]
async fn stateful_scale_in_keeps_the_highest_volume_for_the_next_scale_out() {
    require_redis();
    let tcp = listen_addr();
    let service = format!(
        r#"[services.kv]
command = {command}
stateful = true
tcp = "{tcp}"
instances = {{ min = 1, desired = 2, max = 3 }}
health = {{ send = "PING\r\n", expect = "+PONG", interval = "300ms", timeout = "250ms" }}
"#,
        command = redis_command(&["--dir", "{volume}", "--appendonly", "yes"])
    );
    let shoal = Shoal::start("stateful-scale", &service).await;
    shoal.wait_healthy("kv", 2, 20 * S).await;
    let kv2 = shoal.instance("kv", "kv-2").await;
    let addr: SocketAddr = format!("127.0.0.1:{}", kv2["port"]).parse().unwrap();
    let mut c = Redis::connect(addr).await.unwrap();
    c.cmd(&["SET", "who", "kv-2's data"]).await.unwrap();

    // Scale-in removes the highest identity; its volume stays.
    assert!(shoal.cli(&["scale", "kv", "1"]).status.success());
    shoal.wait_healthy("kv", 1, 20 * S).await;
    assert_eq!(shoal.instances("kv").await[0]["id"], "kv-1");
    let volume = kv2["volume"].as_str().unwrap();
    assert!(
        std::path::Path::new(volume).join("appendonlydir").is_dir(),
        "{volume}"
    );

    // Scaling out again brings kv-2 back on the same volume, with its data.
    assert!(shoal.cli(&["scale", "kv", "2"]).status.success());
    shoal.wait_healthy("kv", 2, 20 * S).await;
    let back = shoal.instance("kv", "kv-2").await;
    assert_eq!(back["volume"], volume);
    let addr: SocketAddr = format!("127.0.0.1:{}", back["port"]).parse().unwrap();
    let mut c = Redis::connect(addr).await.unwrap();
    assert_eq!(
        c.cmd(&["GET", "who"]).await.unwrap(),
        Reply::Text("kv-2's data".into())
    );
}

#[tokio::test]
async fn depends_on_orders_start_and_stop_and_discovery_names_the_listener() {
    require_redis();
    let tcp = listen_addr();
    // The main takes a while to be healthy (three passing checks 300ms apart).
    let services = format!(
        r#"[services.main]
command = {main}
tcp = "{tcp}"
health = {{ send = "PING\r\n", expect = "+PONG", interval = "300ms", timeout = "250ms", healthy_threshold = 3 }}

[services.replica]
command = {replica}
tcp = "{replica_tcp}"
depends_on = ["main"]
health = {{ send = "PING\r\n", expect = "+PONG", interval = "300ms", timeout = "250ms" }}

[services.client]
command = ["/bin/sh", "-c", "echo \"$MAIN_ADDRESS $MAIN_PORT $SHOAL_GATEWAY\" > {{dir}}/client-env; exec sleep 600"]
env = {{ MAIN_ADDRESS = "{{service.main.address}}", MAIN_PORT = "{{service.main.port}}" }}
health = {{ exec = ["/bin/true"], interval = "300ms", timeout = "250ms" }}
"#,
        main = redis_command(&[]),
        replica = redis_command(&["--replicaof", "{service.main.host}", "{service.main.port}"]),
        replica_tcp = listen_addr(),
    );
    let mut shoal = Shoal::start("depends-on", &services).await;
    shoal.wait_healthy("replica", 1, 30 * S).await;
    let events = shoal.events().await;
    let first = |kind: &str, who: &str| {
        events
            .iter()
            .find(|e| {
                e["kind"] == kind && e["instance"].as_str().is_some_and(|i| i.starts_with(who))
            })
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or_else(|| panic!("no {kind} event of {who}: {events:#?}"))
    };
    assert!(
        first("healthy", "main-") < first("started", "replica-"),
        "the replica started before the main was healthy: {events:#?}"
    );
    assert!(events.iter().any(|e| e["kind"] == "waiting"), "{events:#?}");

    // Discovery: the replica replicates from the main's listener, and its env names it.
    let mut main = Redis::connect(tcp).await.unwrap();
    main.cmd(&["SET", "k", "through the listener"])
        .await
        .unwrap();
    let replica = shoal.instances("replica").await.remove(0);
    shoal.wait_healthy("client", 1, 20 * S).await;
    let env = std::fs::read_to_string(shoal.dir.join("client-env")).unwrap();
    assert_eq!(
        env.trim(),
        format!("{tcp} {} http://{}", tcp.port(), shoal.gateway),
        "discovery placeholders and SHOAL_GATEWAY"
    );
    let replica_addr: SocketAddr = format!("127.0.0.1:{}", replica["port"]).parse().unwrap();
    let mut r = Redis::connect(replica_addr).await.unwrap();
    let deadline = Instant::now() + 20 * S;
    while r.cmd(&["GET", "k"]).await.unwrap() != Reply::Text("through the listener".into()) {
        assert!(
            Instant::now() < deadline,
            "the write never reached the replica"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = shoal.cli(&["status"]);
    assert!(
        text(&status).contains("replica starts after main"),
        "{}",
        text(&status)
    );

    // Shutdown in reverse: the replica is stopped before the main starts draining.
    assert_eq!(shoal.terminate(30 * S), Some(0));
    let log = shoal.log();
    let at = |needle: &str| {
        log.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{log}"))
    };
    assert!(at("replica-1 stopped") < at("main-1 draining"), "{log}");
}

#[tokio::test]
async fn apply_moves_adds_and_removes_tcp_listeners_and_refuses_a_taken_port() {
    require_redis();
    let (first, second) = (listen_addr(), listen_addr());
    let shoal = Shoal::start("tcp-apply", &redis_service("cache", 1, 2, first, "")).await;
    shoal.wait_healthy("cache", 1, 20 * S).await;
    let pid = shoal.instances("cache").await[0]["pid"].clone();
    let ping = |addr: SocketAddr| async move {
        match Redis::connect(addr).await {
            Ok(mut c) => c.cmd(&["PING"]).await.ok(),
            Err(_) => None,
        }
    };
    assert_eq!(ping(first).await, Some(Reply::Text("PONG".into())));

    // A port another program holds: refused, nothing changes.
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = squatter.local_addr().unwrap();
    let bad = shoal.spec_variant("taken.toml", &redis_service("cache", 1, 2, taken, ""));
    let out = shoal.cli_on(&bad, &["apply"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("cannot listen on {taken}")),
        "{}",
        text(&out)
    );
    assert_eq!(ping(first).await, Some(Reply::Text("PONG".into())));
    drop(squatter);

    // Moving the listener applies in place: the same instance, reached at the new address.
    let moved = shoal.spec_variant("moved.toml", &redis_service("cache", 1, 2, second, ""));
    let plan = shoal.cli_on(&moved, &["apply", "--dry-run"]);
    assert!(
        text(&plan).contains("tcp:") && text(&plan).contains("in place"),
        "{}",
        text(&plan)
    );
    let out = shoal.cli_on(&moved, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ping(second).await, Some(Reply::Text("PONG".into())));
    let deadline = Instant::now() + 5 * S;
    while ping(first).await.is_some() {
        assert!(Instant::now() < deadline, "the old listener still accepts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(shoal.instances("cache").await[0]["pid"], pid, "no restart");

    // Only the settings change (the same address): the socket and its connections stay.
    let mut held = Redis::connect(second).await.unwrap();
    held.cmd(&["PING"]).await.unwrap();
    let capped = shoal.spec_variant(
        "capped.toml",
        &redis_service("cache", 1, 2, second, "").replace(
            "drain_quiet = \"100ms\" }",
            "drain_quiet = \"100ms\", max_connections = 1 }",
        ),
    );
    let out = shoal.cli_on(&capped, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        held.cmd(&["PING"]).await.unwrap(),
        Reply::Text("PONG".into())
    );
    assert_eq!(ping(second).await, None, "one connection is the new cap");
    drop(held);

    // A service added with a listener gets one; a removed one loses it.
    let third = listen_addr();
    let both = format!(
        "{}{}",
        redis_service("cache", 1, 2, second, ""),
        redis_service("queue", 1, 1, third, "")
    );
    let out = shoal.cli_on(&shoal.spec_variant("both.toml", &both), &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    shoal.wait_healthy("queue", 1, 20 * S).await;
    assert_eq!(ping(third).await, Some(Reply::Text("PONG".into())));
    let only_queue = shoal.spec_variant("queue.toml", &redis_service("queue", 1, 1, third, ""));
    let out = shoal.cli_on(&only_queue, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let deadline = Instant::now() + 20 * S;
    while ping(second).await.is_some() {
        assert!(
            Instant::now() < deadline,
            "the removed service's listener still accepts"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ping(third).await, Some(Reply::Text("PONG".into())));
}

#[tokio::test]
async fn a_tcp_service_with_no_healthy_instance_fails_open_and_says_so() {
    require_redis();
    let tcp = listen_addr();
    let shoal = Shoal::start("tcp-fail-open", &redis_service("cache", 1, 1, tcp, "")).await;
    shoal.wait_healthy("cache", 1, 20 * S).await;
    // A password makes the PING probe answer -NOAUTH: the only instance turns unhealthy.
    let mut c = Redis::connect(tcp).await.unwrap();
    c.cmd(&["CONFIG", "SET", "requirepass", "sesame"])
        .await
        .unwrap();
    shoal
        .wait_for("cache", "fail open", 20 * S, |s| s["fail_open"] == true)
        .await;
    assert!(shoal
        .events()
        .await
        .iter()
        .any(|e| e["kind"] == "fail_open"));
    // Clients still reach it (as over HTTP, an unhealthy instance beats none at all).
    let mut again = Redis::connect(tcp).await.unwrap();
    assert_eq!(
        again.cmd(&["AUTH", "sesame"]).await.unwrap(),
        Reply::Text("OK".into())
    );
    again
        .cmd(&["CONFIG", "SET", "requirepass", ""])
        .await
        .unwrap();
    shoal
        .wait_for("cache", "recovered", 20 * S, |s| {
            s["fail_open"] == false && s["instances"][0]["state"] == "healthy"
        })
        .await;
}

#[tokio::test]
async fn shoal_raises_its_open_file_limit_and_instances_keep_the_one_it_started_with() {
    let dir = super::support::scratch("nofile");
    let (gateway, admin) = (listen_addr(), listen_addr());
    let spec = dir.join("shoal.toml");
    std::fs::write(
        &spec,
        format!(
            "[gateway]\nlisten = \"{gateway}\"\n[admin]\nlisten = \"{admin}\"\ndata_dir = \"data\"\n[services.probe]\ncommand = [\"/bin/sh\", \"-c\", \"ulimit -n > {}/instance-nofile; exec sleep 600\"]\nhealth = {{ exec = [\"/bin/true\"] }}\n",
            dir.display()
        ),
    )
    .unwrap();
    let hard = std::fs::read_to_string("/proc/self/limits")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4).map(str::to_string))
        .unwrap();
    let mut child = std::process::Command::new("bash")
        .args(["-c", "ulimit -Sn 1024 && exec \"$0\" up -f \"$1\""])
        .arg(super::support::shoal_bin())
        .arg(&spec)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + 20 * S;
    while !dir.join("instance-nofile").exists() {
        assert!(Instant::now() < deadline, "the instance never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3).map(str::to_string))
        .unwrap();
    signal(child.id(), "TERM");
    let _ = child.wait();
    assert_eq!(soft, hard, "shoal's soft limit is its hard limit");
    let instance = std::fs::read_to_string(dir.join("instance-nofile")).unwrap();
    assert_eq!(
        instance.trim(),
        "1024",
        "the instance keeps the limit shoal started with"
    );
}
