//! Whole applications: `tcp`, non-HTTP health checks, `stateful`/`volume`, `depends_on`,
//! discovery placeholders, `tags` and `meta`.

use std::path::PathBuf;
use std::time::Duration;

use super::{compile_ok, diagnostics, single_error};
use crate::{HealthCheck, Strategy, TcpSpec};

const REDIS: &str = "[services.redis]\ncommand = [\"/bin/sleep\", \"{port}\"]\n";

#[test]
fn tcp_as_an_address_or_a_table() {
    let spec = compile_ok(&format!("{REDIS}tcp = \"127.0.0.1:6380\"\n"));
    let redis = &spec.services["redis"];
    assert_eq!(
        redis.tcp,
        Some(TcpSpec::on("127.0.0.1:6380".parse().unwrap()))
    );
    assert_eq!(
        redis.health.check,
        HealthCheck::Tcp,
        "unrouted: a TCP connect"
    );
    assert_eq!(redis.tcp.unwrap().max_connections, 1024);

    let spec = compile_ok(&format!(
        "{REDIS}tcp = {{ listen = \"0.0.0.0:6380\", max_connections = 10, idle_timeout = \"1m\", drain_quiet = \"50ms\" }}\n"
    ));
    let tcp = spec.services["redis"].tcp.unwrap();
    assert_eq!(tcp.max_connections, 10);
    assert_eq!(tcp.idle_timeout, Duration::from_secs(60));
    assert_eq!(tcp.drain_quiet, Duration::from_millis(50));
    assert_eq!(tcp.connect_address().to_string(), "127.0.0.1:6380");
}

#[test]
fn a_service_may_have_a_route_and_a_tcp_listener() {
    let spec = compile_ok(&format!("{REDIS}route = \"/\"\ntcp = \"127.0.0.1:6380\"\n"));
    let redis = &spec.services["redis"];
    assert!(redis.route.is_some() && redis.tcp.is_some());
    assert!(matches!(redis.health.check, HealthCheck::Http { .. }));
}

#[test]
fn bad_tcp_settings_are_reported_where_written() {
    single_error(
        &format!("{REDIS}tcp = 6380\n"),
        3,
        7,
        "expected an address or a table",
    );
    single_error(
        &format!("{REDIS}tcp = \"localhost:6380\"\n"),
        3,
        7,
        "invalid listen address",
    );
    single_error(
        &format!("{REDIS}tcp = {{ max_connections = 5 }}\n"),
        3,
        7,
        "no listen address",
    );
    single_error(
        &format!("{REDIS}tcp = {{ listen = \"127.0.0.1:6380\", max_connections = 0 }}\n"),
        3,
        54,
        "max_connections must be between 1 and 65536",
    );
    single_error(
        &format!("{REDIS}tcp = {{ listen = \"127.0.0.1:6380\", idle = \"1s\" }}\n"),
        3,
        36,
        "unknown key \"idle\"",
    );
}

#[test]
fn tcp_listeners_must_not_share_a_port() {
    let two = format!(
        "[gateway]\nlisten = \"127.0.0.1:8080\"\n{REDIS}tcp = \"127.0.0.1:8080\"\n[services.b]\ncommand = [\"/bin/sleep\"]\ntcp = \"127.0.0.1:6380\"\n[services.c]\ncommand = [\"/bin/sleep\"]\ntcp = \"0.0.0.0:6380\"\n"
    );
    let diags = diagnostics(&two);
    let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(diags.len(), 2, "{shown:#?}");
    assert!(
        shown[0].contains("/shoal.toml:5:7") && shown[0].contains("gateway.listen"),
        "{shown:#?}"
    );
    assert!(
        shown[1].contains("/shoal.toml:11:7") && shown[1].contains("services.b.tcp"),
        "{shown:#?}"
    );
}

#[test]
fn protocol_and_exec_probes() {
    let spec = compile_ok(&format!(
        "{REDIS}health = {{ send = \"PING\\r\\n\", expect = \"+PONG\" }}\n"
    ));
    assert_eq!(
        spec.services["redis"].health.check,
        HealthCheck::Expect {
            send: "PING\r\n".into(),
            expect: "+PONG".into()
        }
    );
    let spec = compile_ok(&format!("{REDIS}health = {{ expect = \"SSH-\" }}\n"));
    assert!(
        matches!(&spec.services["redis"].health.check, HealthCheck::Expect { send, .. } if send.is_empty())
    );

    let spec = compile_ok(&format!(
        "{REDIS}health = {{ exec = [\"/bin/true\", \"-p\", \"{{port}}\"], timeout = \"1s\" }}\n"
    ));
    let HealthCheck::Exec { argv, program } = &spec.services["redis"].health.check else {
        panic!("{:?}", spec.services["redis"].health.check)
    };
    assert_eq!(argv, &["/bin/true", "-p", "{port}"]);
    assert_eq!(program, &PathBuf::from("/bin/true"));
}

#[test]
fn bad_probes_are_reported() {
    single_error(
        &format!("{REDIS}health = {{ path = \"/\", expect = \"ok\" }}\n"),
        3,
        33,
        "health has both path and expect",
    );
    single_error(
        &format!("{REDIS}health = {{ send = \"PING\" }}\n"),
        3,
        19,
        "health.send needs expect",
    );
    single_error(
        &format!("{REDIS}health = {{ expect = \"\" }}\n"),
        3,
        21,
        "expect must not be empty",
    );
    single_error(
        &format!("{REDIS}health = {{ exec = [\"no-such-probe-program\"] }}\n"),
        3,
        20,
        "not found",
    );
    single_error(
        &format!("{REDIS}health = {{ exec = [] }}\n"),
        3,
        19,
        "health.exec is empty",
    );
}

#[test]
fn stateful_services_keep_volumes_and_roll_one_at_a_time() {
    let spec = compile_ok(&format!(
        "[admin]\ndata_dir = \"/d\"\n{REDIS}stateful = true\n"
    ));
    let redis = &spec.services["redis"];
    let st = redis.stateful.as_ref().unwrap();
    assert_eq!(st.volumes, PathBuf::from("/d/volumes/redis"));
    assert_eq!(
        st.volume_of("redis-2"),
        PathBuf::from("/d/volumes/redis/redis-2")
    );
    assert_eq!(
        (redis.deploy.max_surge, redis.deploy.max_unavailable),
        (0, 1)
    );
    assert!(redis.deploy.ordered);

    let spec = compile_ok(&format!(
        "{REDIS}stateful = true\nvolume = \"data/redis\"\n"
    ));
    let st = spec.services["redis"].stateful.as_ref().unwrap();
    assert_eq!(st.volumes, PathBuf::from("/data/redis"));
    assert!(!compile_ok(REDIS).services["redis"].deploy.ordered);
}

#[test]
fn stateful_mistakes_are_reported() {
    single_error(
        &format!("{REDIS}volume = \"data\"\n"),
        3,
        10,
        "not stateful",
    );
    single_error(
        &format!("{REDIS}stateful = true\ndeploy = {{ max_surge = 1 }}\n"),
        4,
        24,
        "max_surge must be 0 for a stateful service",
    );
    let d = single_error(
        &format!("{REDIS}stateful = true\ndeploy = {{ strategy = \"canary\", steps = [{{ weight = 10 }}] }}\n"),
        4,
        23,
        "not available for a stateful service",
    );
    assert!(d.hint.unwrap().contains("one instance at a time"));
    single_error(
        "[services.w]\ncommand = [\"/bin/sleep\", \"{volume}\"]\n",
        2,
        27,
        "{volume} is only set for stateful services",
    );
    assert_eq!(
        compile_ok(&format!(
            "{REDIS}stateful = true\nenv = {{ DIR = \"{{volume}}/x\" }}\n"
        ))
        .services["redis"]
            .env["DIR"],
        "{volume}/x",
        "resolved per instance at start"
    );
}

#[test]
fn depends_on_names_and_cycles() {
    let ok = compile_ok(&format!(
        "{REDIS}[services.api]\ncommand = [\"/bin/sleep\"]\ndepends_on = [\"redis\"]\n"
    ));
    assert_eq!(ok.services["api"].depends_on, ["redis"]);

    let d = single_error(
        &format!("{REDIS}[services.api]\ncommand = [\"/bin/sleep\"]\ndepends_on = [\"rediss\"]\n"),
        5,
        15,
        "depends_on names no service \"rediss\"",
    );
    assert!(d.hint.unwrap().contains("did you mean \"redis\""));
    single_error(
        &format!("{REDIS}depends_on = [\"redis\"]\n"),
        3,
        15,
        "depends on itself",
    );
    let cycle = "[services.a]\ncommand = [\"/bin/sleep\"]\ndepends_on = [\"b\"]\n[services.b]\ncommand = [\"/bin/sleep\"]\ndepends_on = [\"c\"]\n[services.c]\ncommand = [\"/bin/sleep\"]\ndepends_on = [\"a\"]\n";
    let d = single_error(cycle, 9, 15, "depends_on forms a cycle: a → b → c → a");
    assert!(d.hint.is_some());
}

#[test]
fn discovery_placeholders_resolve_to_gateway_addresses() {
    let src = format!(
        "[gateway]\nlisten = \"0.0.0.0:8080\"\n{REDIS}tcp = \"127.0.0.1:6380\"\n[services.api]\ncommand = [\"/bin/sleep\", \"--replicaof\", \"{{service.redis.host}}\", \"{{service.redis.port}}\"]\nroute = \"/api\"\nenv = {{ REDIS_URL = \"redis://{{service.redis.address}}\", SELF = \"{{service.api.url}}\" }}\n"
    );
    let spec = compile_ok(&src);
    let api = &spec.services["api"];
    assert_eq!(api.command[2..], ["127.0.0.1", "6380"]);
    assert_eq!(api.env["REDIS_URL"], "redis://127.0.0.1:6380");
    assert_eq!(api.env["SELF"], "http://127.0.0.1:8080/api");
}

#[test]
fn bad_placeholders_point_at_themselves() {
    let d = single_error(
        &format!(
            "{REDIS}[services.api]\ncommand = [\"/bin/sleep\", \"x={{service.redis.url}}\"]\n"
        ),
        4,
        29,
        "service \"redis\" has no route",
    );
    assert!(d.hint.unwrap().contains("route = \"/\""));
    single_error(
        &format!("{REDIS}[services.api]\ncommand = [\"/bin/sleep\"]\nenv = {{ A = \"{{service.db.address}}\" }}\n"),
        5,
        14,
        "names no service \"db\"",
    );
}

#[test]
fn tags_and_meta_for_the_catalog() {
    let spec = compile_ok(&format!(
        "{REDIS}tags = [\"primary\", \"v7\"]\nmeta = {{ version = \"7.0\" }}\n"
    ));
    let redis = &spec.services["redis"];
    assert_eq!(redis.tags, ["primary", "v7"]);
    assert_eq!(redis.meta["version"], "7.0");
    single_error(
        &format!("{REDIS}tags = [\"a\", \"a\"]\n"),
        3,
        14,
        "listed twice",
    );
    single_error(
        &format!("{REDIS}meta = {{ n = 1 }}\n"),
        3,
        14,
        "expected a string",
    );
}

#[test]
fn strategy_of_a_plain_service_is_unchanged() {
    assert_eq!(
        compile_ok(REDIS).services["redis"].deploy.strategy,
        Strategy::Rolling
    );
}

#[test]
fn connections_autoscaling_needs_a_tcp_listener() {
    let ok = compile_ok(&format!(
        "{REDIS}tcp = \"127.0.0.1:6380\"\ninstances = {{ min = 1, max = 4 }}\nautoscale = {{ metric = \"connections\", target = 20 }}\n"
    ));
    assert_eq!(
        ok.services["redis"].autoscale.as_ref().unwrap().metrics[0].metric,
        crate::Metric::Connections
    );
    single_error(
        &format!("{REDIS}instances = {{ min = 1, max = 4 }}\nautoscale = {{ metric = \"connections\", target = 20 }}\n"),
        4,
        13,
        "metric = \"connections\" needs a tcp listener",
    );
    single_error(
        &format!("{REDIS}tcp = \"127.0.0.1:6380\"\ninstances = {{ min = 0, max = 4 }}\nautoscale = {{ metric = \"connections\", target = 20 }}\n"),
        4,
        21,
        "cannot scale to zero",
    );
}

#[test]
fn what_discovery_could_not_honour_is_refused() {
    single_error(
        &format!("{REDIS}tcp = \"127.0.0.1:0\"\n"),
        3,
        7,
        "needs a fixed port",
    );
    single_error(
        &format!("{REDIS}tcp = {{ listen = \"127.0.0.1:0\" }}\n"),
        3,
        18,
        "needs a fixed port",
    );
    single_error(
        &format!("{REDIS}tcp = \"127.0.0.1:6380\"\ndeploy = {{ strategy = \"canary\", steps = [{{ weight = 10 }}] }}\n"),
        4,
        10,
        "strategy = \"canary\" needs a route",
    );
    let d = single_error(
        &format!("{REDIS}route = \"/\"\nhost = \"cache.local\"\n[services.api]\ncommand = [\"/bin/sleep\", \"{{service.redis.url}}\"]\n"),
        6,
        27,
        "routed by host \"cache.local\"",
    );
    assert!(d.hint.unwrap().contains("path route without host"));
}

#[test]
fn catalog_labels_and_start_order_are_bounded() {
    let many: Vec<String> = (0..65).map(|i| format!("k{i} = \"v\"")).collect();
    single_error(
        &format!("{REDIS}meta = {{ {} }}\n", many.join(", ")),
        3,
        8,
        "at most 64 meta entries",
    );
    single_error(
        &format!("{REDIS}meta = {{ big = \"{}\" }}\n", "x".repeat(600)),
        3,
        16,
        "at most 512 characters",
    );
    single_error(
        &format!("{REDIS}[services.api]\ncommand = [\"/bin/sleep\"]\ndepends_on = [\"redis\", \"redis\"]\n"),
        5,
        24,
        "lists \"redis\" twice",
    );
}
