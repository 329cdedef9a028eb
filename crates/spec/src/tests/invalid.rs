//! Specs that must be rejected, each at the exact position of the problem.

use std::path::Path;

use super::{diagnostics, offline, single_error, TempDir};
use crate::{parse, LoadOptions};

const WEB: &str = "[services.web]\ncommand = [\"sleep\"]\n";

fn hint(d: &crate::Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or("")
}

#[test]
fn toml_syntax_error() {
    let d = single_error(
        "[services.web]\ncommand = foo\n",
        2,
        11,
        "TOML syntax: invalid string",
    );
    assert!(hint(&d).contains("quoted"), "{d}");
    // An unclosed array is noticed where the file ends.
    single_error(
        "[services.web]\ncommand = [\"a\"\n",
        3,
        1,
        "TOML syntax: invalid array",
    );
    single_error(
        "[services.web]\ncommand = [\"sleep\"]\ncommand = [\"sleep\"]\n",
        3,
        1,
        "duplicate key",
    );
}

#[test]
fn unknown_key_in_service() {
    let d = single_error(
        &format!("{WEB}helth = {{ path = \"/\" }}\n"),
        3,
        1,
        "unknown key \"helth\" in [services.web]",
    );
    assert!(hint(&d).starts_with("did you mean \"health\"?"), "{d}");
    assert!(
        hint(&d).contains("slow_start"),
        "hint lists allowed keys: {d}"
    );
}

#[test]
fn unknown_key_in_standard_sub_table() {
    let d = single_error(
        &format!("{WEB}[services.web.health]\nintervall = \"2s\"\n"),
        4,
        1,
        "unknown key \"intervall\" in [services.web.health]",
    );
    assert!(hint(&d).starts_with("did you mean \"interval\"?"), "{d}");
}

#[test]
fn unknown_key_in_inline_sub_table() {
    let d = single_error(
        &format!("{WEB}health = {{ path = \"/\", intervl = \"3s\" }}\n"),
        3,
        24,
        "unknown key \"intervl\" in [services.web.health]",
    );
    assert!(hint(&d).contains("\"interval\""), "{d}");
}

#[test]
fn unknown_key_with_tailored_hint() {
    let d = single_error(&format!("{WEB}port = 8080\n"), 3, 1, "unknown key \"port\"");
    assert!(hint(&d).contains("{port}"), "{d}");
}

#[test]
fn unknown_top_level_key() {
    let diags = diagnostics("[servces.web]\ncommand = [\"sleep\"]\n");
    let found: Vec<_> = diags.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(found, [(1, 1), (1, 2)], "{diags:#?}");
    assert_eq!(diags[0].message, "no services defined");
    assert!(
        diags[1]
            .message
            .contains("unknown key \"servces\" at the top level"),
        "{}",
        diags[1]
    );
    assert!(hint(&diags[1]).contains("did you mean \"services\"?"));
}

#[test]
fn duration_written_as_integer() {
    let d = single_error(
        &format!("{WEB}stop = {{ drain = 5 }}\n"),
        3,
        18,
        "expected a string like \"2s\", found integer",
    );
    assert!(hint(&d).contains("\"5s\""), "{d}");
}

#[test]
fn duration_that_does_not_parse() {
    single_error(
        &format!("{WEB}slow_start = \"5sec\"\n"),
        3,
        14,
        "unknown unit \"sec\"",
    );
}

#[test]
fn invalid_service_name() {
    let d = single_error(
        "[services.Web_1]\ncommand = [\"sleep\"]\n",
        1,
        11,
        "invalid service name \"Web_1\"",
    );
    assert!(hint(&d).contains("\"web-1\""), "{d}");
    single_error(
        &format!("[services.{}]\ncommand = [\"sleep\"]\n", "a".repeat(41)),
        1,
        11,
        "invalid service name",
    );
}

#[test]
fn service_is_not_a_table() {
    single_error(
        "[services]\nweb = \"sleep\"\n",
        2,
        7,
        "expected a table, found string",
    );
}

#[test]
fn services_as_array_of_tables() {
    let diags = diagnostics("[[services]]\ncommand = [\"sleep\"]\n");
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!((diags[0].line, diags[0].col), (1, 1));
    assert!(
        diags[0].message.contains("found array of tables"),
        "{}",
        diags[0]
    );
}

#[test]
fn missing_command() {
    let d = single_error(
        "[gateway]\nlisten = \"127.0.0.1:8080\"\n\n[services.web]\nroute = \"/\"\n",
        4,
        1,
        "service \"web\" has no command",
    );
    assert!(hint(&d).contains("command = ["), "{d}");
}

#[test]
fn command_as_a_string() {
    let d = single_error(
        "[services.web]\ncommand = \"sleep 1000\"\n",
        2,
        11,
        "expected an array of strings, found string",
    );
    assert!(hint(&d).contains("[\"sleep\", \"1000\"]"), "{d}");
}

#[test]
fn empty_command() {
    single_error("[services.web]\ncommand = []\n", 2, 11, "command is empty");
}

#[test]
fn empty_program() {
    single_error(
        "[services.web]\ncommand = [\"\", \"x\"]\n",
        2,
        12,
        "the program (first element of command) is empty",
    );
}

#[test]
fn command_element_not_a_string() {
    let d = single_error(
        "[services.web]\ncommand = [\"sleep\", 1000]\n",
        2,
        21,
        "expected a string, found integer",
    );
    assert_eq!(hint(&d), "quote it: \"1000\"");
}

#[test]
fn relative_program_not_found() {
    let d = single_error(
        "[services.web]\ncommand = [\"./nope\", \"x\"]\n",
        2,
        12,
        "command \"./nope\" not found",
    );
    assert!(hint(&d).contains("looked for /nope"), "{d}");
}

#[test]
fn program_not_on_path() {
    let d = single_error(
        "[services.web]\ncommand = [\"no-such-program-for-shoal\"]\n",
        2,
        12,
        "command \"no-such-program-for-shoal\" not found",
    );
    assert!(hint(&d).contains("PATH"), "{d}");
}

#[cfg(unix)]
#[test]
fn program_not_executable_or_a_directory() {
    let dir = TempDir::new("noexec");
    let tool = dir.path().join("tool");
    std::fs::write(&tool, "#!/bin/sh\n").unwrap();
    super::valid::set_mode(&tool, 0o644);
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let spec_path = dir.path().join("shoal.toml");

    let src = "[services.web]\ncommand = [\"./tool\"]\n";
    let err = parse(src, &spec_path, &offline()).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    let d = &err.0[0];
    assert_eq!((d.line, d.col), (2, 12));
    assert_eq!(d.file, spec_path);
    assert_eq!(d.message, "command \"./tool\" is not executable");
    assert!(
        hint(d).contains(&format!("chmod +x {}", tool.display())),
        "{d}"
    );

    let src = "[services.web]\ncommand = [\"sub\"]\nworkdir = \"tool\"\n";
    // "sub" has no '/', so it is searched on PATH, where it does not exist.
    let err = parse(src, &spec_path, &offline()).unwrap_err();
    let found: Vec<_> = err
        .iter()
        .map(|d| (d.line, d.col, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (2, 12, "command \"sub\" not found"),
            (3, 11, "services.web.workdir: \"tool\" is not a directory")
        ]
    );

    let src = "[services.web]\ncommand = [\"./sub\"]\n";
    let err = parse(src, &spec_path, &offline()).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert_eq!((err.0[0].line, err.0[0].col), (2, 12));
    assert_eq!(err.0[0].message, "command \"./sub\" is a directory");
}

#[test]
fn workdir_does_not_exist() {
    let d = single_error(
        &format!("{WEB}workdir = \"no-such-dir-for-shoal\"\n"),
        3,
        11,
        "services.web.workdir: \"no-such-dir-for-shoal\" does not exist",
    );
    assert!(hint(&d).contains("/no-such-dir-for-shoal"), "{d}");
}

#[test]
fn env_value_not_a_string() {
    let d = single_error(
        &format!("{WEB}env = {{ DEBUG = 1 }}\n"),
        3,
        17,
        "environment variable \"DEBUG\" must be a string, found integer",
    );
    assert_eq!(hint(&d), "quote it: DEBUG = \"1\"");
    let d = single_error(
        &format!("{WEB}env.VERBOSE = true\n"),
        3,
        15,
        "found boolean",
    );
    assert_eq!(hint(&d), "quote it: VERBOSE = \"true\"");
}

#[test]
fn env_reserved_name() {
    let d = single_error(
        &format!("{WEB}[services.web.env]\nPORT = \"8080\"\n"),
        4,
        1,
        "environment variable \"PORT\" is set by shoal",
    );
    assert!(hint(&d).contains("{port}"), "{d}");
    single_error(
        &format!("{WEB}env = {{ SHOAL_REVISION = \"x\" }}\n"),
        3,
        9,
        "SHOAL_REVISION",
    );
}

#[test]
fn env_invalid_name() {
    single_error(
        &format!("{WEB}env = {{ \"1X\" = \"a\" }}\n"),
        3,
        9,
        "invalid environment variable name \"1X\"",
    );
}

#[test]
fn route_without_leading_slash() {
    let d = single_error(
        &format!("{WEB}route = \"api\"\n"),
        3,
        9,
        "route must start with \"/\"",
    );
    assert_eq!(hint(&d), "write route = \"/api\"");
}

#[test]
fn host_with_port_or_scheme() {
    let d = single_error(
        &format!("{WEB}route = \"/\"\nhost = \"app.local:8080\"\n"),
        4,
        8,
        "host \"app.local:8080\" must be a bare host name",
    );
    assert!(hint(&d).contains("host = \"app.local\""), "{d}");
    single_error(
        &format!("{WEB}route = \"/\"\nhost = \"https://app.local\"\n"),
        4,
        8,
        "bare host name",
    );
}

#[test]
fn host_without_route() {
    single_error(
        &format!("{WEB}host = \"app.local\"\n"),
        3,
        8,
        "host is set but route is not",
    );
}

#[test]
fn instance_counts_out_of_order() {
    single_error(
        &format!("{WEB}instances = {{ min = 3, max = 2 }}\n"),
        3,
        21,
        "min (3) is greater than max (2)",
    );
    single_error(
        &format!("{WEB}instances = {{ desired = 4, max = 2 }}\n"),
        3,
        25,
        "desired (4) is greater than max (2)",
    );
    let d = single_error(
        &format!("{WEB}instances = {{ desired = 0 }}\n"),
        3,
        25,
        "desired (0) is less than min (1)",
    );
    assert!(hint(&d).contains("min = 0"), "{d}");
}

#[test]
fn instance_max_bounds() {
    single_error(
        &format!("{WEB}instances = {{ min = 0, max = 0 }}\n"),
        3,
        30,
        "max must be at least 1",
    );
    single_error(
        &format!("{WEB}instances.max = 1001\n"),
        3,
        17,
        "max must be at most 1000",
    );
    single_error(
        &format!("{WEB}instances = {{ min = -1 }}\n"),
        3,
        21,
        "must not be negative, found -1",
    );
}

#[test]
fn health_threshold_zero() {
    single_error(
        &format!("{WEB}health = {{ healthy_threshold = 0 }}\n"),
        3,
        32,
        "healthy_threshold must be at least 1",
    );
    single_error(
        &format!("{WEB}health.unhealthy_threshold = 0\n"),
        3,
        30,
        "unhealthy_threshold must be at least 1",
    );
}

#[test]
fn health_timeout_not_shorter_than_interval() {
    single_error(
        &format!("{WEB}[services.web.health]\ninterval = \"1s\"\ntimeout = \"1s\"\n"),
        5,
        11,
        "health timeout (1s) must be shorter than interval (1s)",
    );
    // Only the interval is written: the default timeout (1s) collides with it.
    single_error(
        &format!("{WEB}health = {{ interval = \"500ms\" }}\n"),
        3,
        23,
        "must be shorter than interval (500ms)",
    );
}

#[test]
fn health_interval_too_short() {
    single_error(
        &format!("{WEB}[services.web.health]\ninterval = \"50ms\"\n"),
        4,
        12,
        "health interval must be at least 100ms, found 50ms",
    );
}

#[test]
fn health_path_and_tcp() {
    single_error(
        &format!("{WEB}health = {{ path = \"/\", tcp = true }}\n"),
        3,
        30,
        "health has both path and tcp",
    );
}

#[test]
fn section_of_the_wrong_type() {
    let d = single_error(
        &format!("{WEB}health = \"/healthz\"\n"),
        3,
        10,
        "expected a table, found string",
    );
    assert!(hint(&d).contains("health = {"), "{d}");
}

#[test]
fn duplicate_route() {
    let src = "[services.web]\ncommand = [\"sleep\"]\nroute = \"/\"\n\n[services.web2]\ncommand = [\"sleep\"]\nroute = \"/\"\n";
    let d = single_error(src, 7, 9, "route \"/\" is already used by service \"web\"");
    assert!(hint(&d).contains("\"web2\""), "{d}");

    // Same host, same prefix once the trailing slash is dropped; a different host is fine.
    let src = "[services.a]\ncommand = [\"sleep\"]\nroute = \"/api\"\nhost = \"x.local\"\n\n\
               [services.b]\ncommand = [\"sleep\"]\nroute = \"/api\"\nhost = \"y.local\"\n\n\
               [services.c]\ncommand = [\"sleep\"]\nroute = \"/api/\"\nhost = \"X.local\"\n";
    single_error(
        src,
        13,
        9,
        "route \"/api\" on host \"x.local\" is already used by service \"a\"",
    );
}

#[test]
fn gateway_and_admin_on_the_same_address() {
    let src = "[gateway]\nlisten = \"127.0.0.1:9000\"\n[admin]\nlisten = \"127.0.0.1:9000\"\n[services.w]\ncommand = [\"sleep\"]\n";
    single_error(src, 4, 10, "use the same port");
    // Only the gateway is written, and it takes the admin default.
    let src = "[gateway]\nlisten = \"0.0.0.0:7070\"\n[services.w]\ncommand = [\"sleep\"]\n";
    single_error(
        src,
        2,
        10,
        "admin.listen (127.0.0.1:7070) and gateway.listen (0.0.0.0:7070)",
    );
}

#[test]
fn port_in_use() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let src = format!(
        "[gateway]\nlisten = \"{addr}\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[services.w]\ncommand = [\"sleep\"]\n"
    );
    let err = parse(&src, Path::new("/shoal.toml"), &LoadOptions::default()).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    let d = &err.0[0];
    assert_eq!((d.line, d.col), (2, 10));
    assert_eq!(
        d.message,
        format!("port {} is in use ({addr})", addr.port())
    );
    assert!(hint(d).contains("stop the program using it"), "{d}");
    // The same spec passes when ports are not checked.
    assert!(parse(&src, Path::new("/shoal.toml"), &offline()).is_ok());
}

#[test]
fn invalid_listen_address() {
    let d = single_error(
        &format!("[gateway]\nlisten = \"localhost:8080\"\n{WEB}"),
        2,
        10,
        "invalid listen address \"localhost:8080\"",
    );
    assert!(hint(&d).contains("127.0.0.1:8080"), "{d}");
}

#[test]
fn zero_and_out_of_range_gateway_values() {
    single_error(
        &format!("[gateway]\nconnect_timeout = \"0s\"\n{WEB}"),
        2,
        19,
        "connect_timeout must be greater than zero",
    );
    single_error(
        &format!("[gateway]\nretry_budget = 1.5\n{WEB}"),
        2,
        16,
        "retry_budget must be between 0 and 1, found 1.5",
    );
    single_error(
        &format!("[gateway]\nmax_header_bytes = \"lots\"\n{WEB}"),
        2,
        20,
        "invalid size",
    );
}

#[test]
fn restart_backoff() {
    single_error(
        &format!("{WEB}restart = {{ backoff = \"1m\" }}\n"),
        3,
        23,
        "restart backoff (60s) is longer than max_backoff (30s)",
    );
    single_error(
        &format!("{WEB}restart = {{ backoff = \"0s\" }}\n"),
        3,
        23,
        "restart backoff must be greater than zero",
    );
}

#[test]
fn stop_timeout_zero() {
    single_error(
        &format!("{WEB}stop.timeout = \"0s\"\n"),
        3,
        16,
        "stop timeout must be greater than zero",
    );
}

#[test]
fn resources_out_of_range() {
    single_error(
        &format!("{WEB}resources = {{ cpu = 0 }}\n"),
        3,
        21,
        "cpu must be greater than 0 and at most 1024",
    );
    single_error(
        &format!("{WEB}resources = {{ memory = 1000 }}\n"),
        3,
        24,
        "memory must be at least 4MiB",
    );
    single_error(
        &format!("{WEB}resources = {{ memory = \"5M\" }}\n"),
        3,
        24,
        "ambiguous unit \"M\"",
    );
}

#[test]
fn no_services() {
    let d = single_error(
        "[gateway]\nlisten = \"127.0.0.1:8080\"\n",
        1,
        1,
        "no services defined",
    );
    assert!(hint(&d).contains("[services.web]"), "{d}");
    single_error("[services]\n", 1, 1, "no services defined");
    single_error("", 1, 1, "no services defined");
}

#[test]
fn every_problem_in_a_file_is_reported() {
    let src = r#"[gateway]
listen = "127.0.0.1:9000"
retry_budget = 2

[admin]
listen = "127.0.0.1:9000"

[services.web]
command = []
helth = { path = "/" }
instances = { min = 2, max = 1 }

[services.Api]
command = ["sleep"]
env = { N = 1 }
health = { interval = "1s", timeout = "2s" }
"#;
    let err = parse(src, Path::new("shoal.toml"), &offline()).unwrap_err();
    let found: Vec<_> = err.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(
        found,
        [
            (3, 16),
            (6, 10),
            (9, 11),
            (10, 1),
            (11, 21),
            (13, 11),
            (15, 13),
            (16, 39)
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("shoal.toml:3:16: error: retry_budget must be between 0 and 1"),
        "{text}"
    );
    assert!(text.contains("\n  hint: "), "{text}");
    assert!(text.ends_with("\n8 errors"), "{text}");
}

const API: &str = "[services.api]\ncommand = [\"sleep\"]\n";

#[test]
fn autoscale_unknown_keys() {
    let d = single_error(
        &format!("{API}[services.api.autoscale]\nmetric = \"cpu\"\ntarget = 70\nstable_windw = \"30s\"\n"),
        6,
        1,
        "unknown key \"stable_windw\" in [services.api.autoscale]",
    );
    assert!(
        hint(&d).starts_with("did you mean \"stable_window\"?"),
        "{d}"
    );
    let d = single_error(
        &format!("{API}autoscale = {{ metric = \"cpu\", target = 70, max = 5 }}\n"),
        3,
        44,
        "unknown key \"max\" in [services.api.autoscale]",
    );
    assert!(hint(&d).contains("instances = { min"), "{d}");
    let d = single_error(
        &format!("{API}[[services.api.autoscale.metrics]]\nmetric = \"cpu\"\ntarget = 70\nurll = \"x\"\n"),
        6,
        1,
        "unknown key \"urll\" in [services.api.autoscale.metrics]",
    );
    assert!(hint(&d).starts_with("did you mean \"url\"?"), "{d}");
    single_error(
        &format!("{API}autoscale = {{ metric = \"cpu\", target = 70, scale_up_limit = {{ pods = 2 }} }}\n"),
        3,
        63,
        "unknown key \"pods\" in [services.api.autoscale.scale_up_limit]",
    );
}

#[test]
fn autoscale_not_a_table() {
    let d = single_error(
        &format!("{API}autoscale = \"cpu\"\n"),
        3,
        13,
        "expected a table, found string",
    );
    assert!(hint(&d).contains("[services.api.autoscale]"), "{d}");
}

#[test]
fn autoscale_unknown_metric() {
    let d = single_error(
        &format!("{API}autoscale = {{ metric = \"cpus\", target = 70 }}\n"),
        3,
        24,
        "services.api.autoscale.metric: unknown metric \"cpus\"",
    );
    assert!(hint(&d).starts_with("did you mean \"cpu\"?"), "{d}");
    assert!(hint(&d).contains("latency_p95, prometheus"), "{d}");
    let d = single_error(
        &format!("{API}autoscale = {{ metric = \"latency\", target = 70 }}\n"),
        3,
        24,
        "unknown metric \"latency\"",
    );
    assert!(hint(&d).starts_with("did you mean \"latency_p95\"?"), "{d}");
    single_error(
        &format!("{API}autoscale = {{ metric = 5, target = 70 }}\n"),
        3,
        24,
        "expected a string, found integer",
    );
}

#[test]
fn autoscale_without_metric() {
    let d = single_error(
        &format!("{API}[services.api.autoscale]\nidle = \"1m\"\n"),
        3,
        1,
        "no metric in [services.api.autoscale]",
    );
    assert!(hint(&d).contains("metric = \"concurrency\""), "{d}");
    assert!(
        hint(&d).contains("[[services.api.autoscale.metrics]]"),
        "{d}"
    );
    single_error(
        &format!("{API}[services.api.autoscale]\ntarget = 5\n"),
        3,
        1,
        "no metric in [services.api.autoscale]",
    );
    single_error(
        &format!("{API}[services.api.autoscale]\nmetrics = [{{ target = 5 }}]\n"),
        4,
        12,
        "no metric in [services.api.autoscale.metrics]",
    );
}

#[test]
fn autoscale_metric_and_metrics_together() {
    let d = single_error(
        &format!("{API}[services.api.autoscale]\nmetric = \"cpu\"\ntarget = 70\nmetrics = [{{ metric = \"rps\", target = 5 }}]\n"),
        6,
        11,
        "[services.api.autoscale] has both metric and metrics",
    );
    assert!(hint(&d).contains("not both"), "{d}");
    single_error(
        &format!("{API}[services.api.autoscale]\nmetrics = []\n"),
        4,
        11,
        "services.api.autoscale.metrics is empty",
    );
    single_error(
        &format!("{API}[services.api.autoscale]\nmetrics = [\"cpu\"]\n"),
        4,
        12,
        "services.api.autoscale.metrics: expected a table, found string",
    );
    single_error(
        &format!("{API}[services.api.autoscale]\nmetrics = \"cpu\"\n"),
        4,
        11,
        "expected an array of tables, found string",
    );
}

#[test]
fn autoscale_metrics_and_metric_as_array_of_tables() {
    let diags = diagnostics(&format!(
        "{API}[services.api.autoscale]\nmetric = \"cpu\"\ntarget = 70\n\n[[services.api.autoscale.metrics]]\nmetric = \"rps\"\ntarget = 5\n"
    ));
    let found: Vec<_> = diags
        .iter()
        .map(|d| (d.line, d.col, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [(7, 1, "[services.api.autoscale] has both metric and metrics")],
        "{diags:#?}"
    );
}

#[test]
fn autoscale_target_missing_or_out_of_range() {
    let d = single_error(
        &format!("{API}autoscale = {{ metric = \"rps\" }}\n"),
        3,
        24,
        "metric \"rps\" has no target",
    );
    assert!(hint(&d).contains("requests per second"), "{d}");
    single_error(
        &format!("{API}autoscale = {{ metric = \"rps\", target = 0 }}\n"),
        3,
        40,
        "target must be greater than 0, found 0",
    );
    single_error(
        &format!("{API}autoscale = {{ metric = \"rps\", target = -2.5 }}\n"),
        3,
        40,
        "target must be greater than 0, found -2.5",
    );
    let d = single_error(
        &format!("{API}autoscale = {{ metric = \"cpu\", target = 1001 }}\n"),
        3,
        40,
        "cpu target must be at most 1000, found 1001",
    );
    assert!(hint(&d).contains("percent of resources.cpu"), "{d}");
    single_error(
        &format!("{API}resources.memory = \"1GiB\"\nautoscale = {{ metric = \"memory\", target = 101 }}\n"),
        4,
        43,
        "memory target must be at most 100, found 101",
    );
    single_error(
        &format!("{API}autoscale = {{ metric = \"cpu\", target = \"70\" }}\n"),
        3,
        40,
        "services.api.autoscale.target: expected a number, found string",
    );
}

#[test]
fn autoscale_memory_needs_a_memory_limit() {
    let d = single_error(
        &format!("{API}autoscale = {{ metric = \"memory\", target = 80 }}\n"),
        3,
        24,
        "metric \"memory\" needs resources.memory",
    );
    assert!(hint(&d).contains("resources = { memory ="), "{d}");
    // A memory limit that is itself wrong is reported once, where it is written.
    single_error(
        &format!("{API}resources = {{ memory = \"1KiB\" }}\nautoscale = {{ metric = \"memory\", target = 80 }}\n"),
        3,
        24,
        "memory must be at least 4MiB",
    );
}

#[test]
fn autoscale_prometheus_needs_url_and_query() {
    let prom = format!("{API}[services.api.autoscale]\nmetric = \"prometheus\"\ntarget = 10\n");
    let d = single_error(
        &format!("{prom}query = \"up\"\n"),
        4,
        10,
        "metric \"prometheus\" needs url",
    );
    assert!(hint(&d).contains("url = \"http://"), "{d}");
    single_error(
        &format!("{prom}url = \"http://127.0.0.1:9090\"\n"),
        4,
        10,
        "metric \"prometheus\" needs query",
    );
    let d = single_error(
        &format!("{prom}url = \"prom:9090\"\nquery = \"up\"\n"),
        6,
        7,
        "url \"prom:9090\" must start with http:// or https://",
    );
    assert!(hint(&d).contains("http://127.0.0.1:9090"), "{d}");
    single_error(
        &format!("{prom}url = \"http:///x\"\nquery = \"up\"\n"),
        6,
        7,
        "url \"http:///x\" is not a valid URL",
    );
    single_error(
        &format!("{prom}url = \"http://p\"\nquery = \" \"\n"),
        7,
        9,
        "query must not be empty",
    );
    let d = single_error(
        &format!("{API}autoscale = {{ metric = \"cpu\", target = 70, url = \"http://p\" }}\n"),
        3,
        50,
        "url is only used with metric = \"prometheus\"",
    );
    assert!(hint(&d).contains("remove url"), "{d}");
}

#[test]
fn autoscale_tolerance_out_of_range() {
    let base = format!("{API}autoscale = {{ metric = \"cpu\", target = 70, ");
    let d = single_error(
        &format!("{base}tolerance = 1 }}\n"),
        3,
        56,
        "tolerance must be at least 0 and less than 1, found 1",
    );
    assert!(hint(&d).contains("±10%"), "{d}");
    single_error(
        &format!("{base}tolerance_down = -0.1 }}\n"),
        3,
        61,
        "tolerance_down must be at least 0 and less than 1, found -0.1",
    );
    single_error(
        &format!("{base}tolerance_up = 1.5 }}\n"),
        3,
        59,
        "tolerance_up must be at least 0 and less than 1, found 1.5",
    );
}

#[test]
fn autoscale_windows() {
    let table = format!("{API}[services.api.autoscale]\nmetric = \"rps\"\ntarget = 5\n");
    let d = single_error(
        &format!("{table}panic_window = \"60s\"\n"),
        6,
        16,
        "panic_window (60s) must be shorter than stable_window (60s)",
    );
    assert!(hint(&d).contains("defaults 6s and 60s"), "{d}");
    // Only stable_window is written: the problem is reported there.
    single_error(
        &format!("{table}stable_window = \"5s\"\n"),
        6,
        17,
        "panic_window (6s) must be shorter than stable_window (5s)",
    );
    single_error(
        &format!("{table}stable_window = \"0s\"\n"),
        6,
        17,
        "stable_window must be greater than zero",
    );
    single_error(
        &format!("{table}panic_threshold = 1\n"),
        6,
        19,
        "panic_threshold must be greater than 1, found 1",
    );
    single_error(
        &format!("{table}target_utilization = 0\n"),
        6,
        22,
        "target_utilization must be greater than 0 and at most 1, found 0",
    );
    single_error(
        &format!("{table}target_utilization = 1.5\n"),
        6,
        22,
        "target_utilization must be greater than 0 and at most 1, found 1.5",
    );
    single_error(
        &format!("{table}warmup = 5\n"),
        6,
        10,
        "services.api.autoscale.warmup: expected a string like \"2s\", found integer",
    );
    single_error(
        &format!("{table}scale_down_cooldown = \"soon\"\n"),
        6,
        23,
        "services.api.autoscale.scale_down_cooldown: invalid duration",
    );
}

#[test]
fn autoscale_rate_limits() {
    let table = format!("{API}[services.api.autoscale]\nmetric = \"rps\"\ntarget = 5\n");
    let d = single_error(
        &format!("{table}scale_up_limit = {{ instances = 0, percent = 0 }}\n"),
        6,
        32,
        "scale_up_limit allows no change at all (instances = 0 and percent = 0)",
    );
    assert!(hint(&d).contains("instances to at least 1"), "{d}");
    // percent defaults to 50 for scale-down, so instances = 0 alone is fine; percent = 0 too
    // (instances defaults to 1).
    compile_ok_with(&format!("{table}scale_down_limit = {{ instances = 0 }}\n"));
    compile_ok_with(&format!("{table}scale_down_limit = {{ percent = 0 }}\n"));
    single_error(
        &format!("{table}scale_down_limit = {{ period = \"0s\" }}\n"),
        6,
        31,
        "period must be greater than zero",
    );
    single_error(
        &format!("{table}scale_down_limit = {{ percent = -5 }}\n"),
        6,
        32,
        "percent must not be negative, found -5",
    );
    single_error(
        &format!("{table}[services.api.autoscale.scale_up_limit]\ninstances = 1.5\n"),
        7,
        13,
        "services.api.autoscale.scale_up_limit.instances: expected a whole number, found float",
    );
}

#[test]
fn autoscale_zero_durations_and_queue() {
    let table = format!("{API}[services.api.autoscale]\nmetric = \"rps\"\ntarget = 5\n");
    single_error(
        &format!("{table}idle = \"0s\"\n"),
        6,
        8,
        "idle must be greater than zero",
    );
    single_error(
        &format!("{table}cold_start_timeout = \"0s\"\n"),
        6,
        22,
        "cold_start_timeout must be greater than zero",
    );
    single_error(
        &format!("{table}cold_start_queue = 0\n"),
        6,
        20,
        "cold_start_queue must be at least 1",
    );
}

#[test]
fn scale_to_zero_needs_autoscale() {
    let d = single_error(
        &format!("{API}instances = {{ min = 0, max = 3 }}\n"),
        3,
        21,
        "min = 0 needs an autoscaler",
    );
    assert!(hint(&d).contains("add [services.api.autoscale]"), "{d}");
    assert!(hint(&d).contains("or set min = 1"), "{d}");
    single_error(
        &format!("{API}instances.min = 0\n"),
        3,
        17,
        "min = 0 needs an autoscaler",
    );
    // With an autoscale table that has its own problem, only that problem is reported.
    single_error(
        &format!("{API}instances.min = 0\n[services.api.autoscale]\nidle = \"1m\"\n"),
        4,
        1,
        "no metric in [services.api.autoscale]",
    );
}

/// Compiles `src`, failing the test with the diagnostics if it does not compile.
fn compile_ok_with(src: &str) {
    if let Err(d) = parse(src, Path::new("/shoal.toml"), &offline()) {
        panic!("expected {src} to compile:\n{d}");
    }
}

#[test]
fn gateway_threads_must_be_at_least_one() {
    single_error(
        &format!("[gateway]\nthreads = 0\n{WEB}"),
        2,
        11,
        "threads must be at least 1",
    );
}
