//! `[services.NAME.deploy]`: the values and defaults valid tables compile to, and every problem
//! reported at its exact position.

use std::path::Path;
use std::time::Duration;

use super::{compile_ok, diagnostics, offline, single_error};
use crate::{
    parse, AnalysisSpec, CanarySpec, CanaryStep, DeploySpec, Strategy, DEFAULT_PIN_HEADER,
};

const WEB: &str = "[services.web]\ncommand = [\"sleep\"]\n";
/// `WEB` and the deploy table header (line 3); its keys start on line 4.
const DEPLOY: &str = "[services.web]\ncommand = [\"sleep\"]\n[services.web.deploy]\n";
/// `DEPLOY` with `strategy = "canary"` on line 4; further keys start on line 5.
const CANARY: &str =
    "[services.web]\ncommand = [\"sleep\"]\n[services.web.deploy]\nstrategy = \"canary\"\n";

fn hint(d: &crate::Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or("")
}

fn deploy_of(src: &str) -> DeploySpec {
    compile_ok(src).services["web"].deploy.clone()
}

fn canary_of(src: &str) -> CanarySpec {
    match deploy_of(src).strategy {
        Strategy::Canary(c) => c,
        Strategy::Rolling => panic!("expected a canary in:\n{src}"),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

// ---- valid ----

#[test]
fn absent_deploy_table_gives_the_defaults() {
    let d = deploy_of(WEB);
    assert_eq!(d, DeploySpec::default());
    // The documented defaults, spelled out.
    assert_eq!(d.strategy, Strategy::Rolling);
    assert_eq!((d.max_surge, d.max_unavailable), (1, 0));
    assert_eq!(d.min_healthy_time, secs(5));
    assert_eq!(d.healthy_deadline, secs(5 * 60));
    assert_eq!(d.progress_deadline, secs(10 * 60));
    assert!(d.auto_revert);

    // An empty table and an explicit rolling strategy mean the same.
    assert_eq!(deploy_of(DEPLOY), DeploySpec::default());
    assert_eq!(
        deploy_of(&format!("{WEB}deploy = {{ strategy = \"rolling\" }}\n")),
        DeploySpec::default()
    );
}

const FULL_CANARY: &str = r#"
[services.web]
command = ["sleep"]
route = "/"

[services.web.deploy]
strategy = "canary"
max_surge = 1
max_unavailable = 0
min_healthy_time = "2s"
healthy_deadline = "30s"
progress_deadline = "1m"
auto_revert = true
steps = [{ weight = 10, pause = "30s" }, { weight = 50 }]
header = "X-Shoal-Revision"
analysis = { interval = "5s", max_error_rate = 0.05, max_p99 = "500ms", failure_limit = 2, min_requests = 20 }
"#;

#[test]
fn full_canary_table() {
    assert_eq!(
        deploy_of(FULL_CANARY),
        DeploySpec {
            strategy: Strategy::Canary(CanarySpec {
                steps: vec![
                    CanaryStep {
                        weight: 10,
                        pause: Some(secs(30)),
                    },
                    CanaryStep {
                        weight: 50,
                        pause: None,
                    },
                ],
                pin_header: "x-shoal-revision".into(),
                analysis: AnalysisSpec {
                    interval: secs(5),
                    max_error_rate: 0.05,
                    max_p99: Some(Duration::from_millis(500)),
                    failure_limit: 2,
                    min_requests: 20,
                },
            }),
            max_surge: 1,
            max_unavailable: 0,
            min_healthy_time: secs(2),
            healthy_deadline: secs(30),
            progress_deadline: secs(60),
            auto_revert: true,
            ordered: false,
        }
    );
}

#[test]
fn rolling_table_with_every_key() {
    let d = deploy_of(&format!(
        "{DEPLOY}strategy = \"rolling\"\nmax_surge = 0\nmax_unavailable = 2\nmin_healthy_time = \"0s\"\nhealthy_deadline = \"1m\"\nprogress_deadline = \"1m\"\nauto_revert = false\n"
    ));
    assert_eq!(
        d,
        DeploySpec {
            strategy: Strategy::Rolling,
            max_surge: 0,
            max_unavailable: 2,
            min_healthy_time: Duration::ZERO,
            healthy_deadline: secs(60),
            progress_deadline: secs(60),
            auto_revert: false,
            ordered: false,
        }
    );
}

#[test]
fn inline_deploy_table_with_inline_steps() {
    let d = deploy_of(&format!(
        "{WEB}deploy = {{ strategy = \"canary\", steps = [{{ weight = 25, pause = \"0s\" }}, {{ weight = 100 }}], header = \"X-Canary\", max_surge = 2 }}\n"
    ));
    assert_eq!(d.max_surge, 2);
    let Strategy::Canary(c) = d.strategy else {
        panic!("{d:?}")
    };
    assert_eq!(
        c.steps,
        [
            CanaryStep {
                weight: 25,
                pause: Some(Duration::ZERO),
            },
            CanaryStep {
                weight: 100,
                pause: None,
            },
        ],
        "\"0s\" goes on at once; an absent pause waits for shoal promote"
    );
    assert_eq!(c.pin_header, "x-canary", "stored lower-case");
    assert_eq!(c.analysis, AnalysisSpec::default());
}

#[test]
fn canary_defaults() {
    let c = canary_of(&format!("{CANARY}steps = [{{ weight = 100 }}]\n"));
    assert_eq!(
        c.steps,
        [CanaryStep {
            weight: 100,
            pause: None
        }]
    );
    assert_eq!(c.pin_header, DEFAULT_PIN_HEADER);
    assert_eq!(DEFAULT_PIN_HEADER, "x-shoal-revision");
    let a = c.analysis;
    assert_eq!(a, AnalysisSpec::default());
    assert_eq!(a.interval, secs(10));
    assert_eq!(a.max_error_rate, 0.05);
    assert_eq!(a.max_p99, None);
    assert_eq!(a.failure_limit, 3);
    assert_eq!(a.min_requests, 10);
}

#[test]
fn steps_and_analysis_as_standard_tables() {
    let c = canary_of(&format!(
        "{CANARY}header = \"X-Pin_Rev.2\"\n\n[services.web.deploy.analysis]\nmax_error_rate = 0\nmin_requests = 5000000000\n\n[[services.web.deploy.steps]]\nweight = 5\npause = \"1m30s\"\n\n[[services.web.deploy.steps]]\nweight = 20\n"
    ));
    assert_eq!(
        c.steps,
        [
            CanaryStep {
                weight: 5,
                pause: Some(secs(90)),
            },
            CanaryStep {
                weight: 20,
                pause: None,
            },
        ]
    );
    assert_eq!(c.pin_header, "x-pin_rev.2");
    assert_eq!(
        c.analysis,
        AnalysisSpec {
            max_error_rate: 0.0,
            min_requests: 5_000_000_000,
            ..AnalysisSpec::default()
        }
    );
}

#[test]
fn deploy_as_dotted_keys() {
    let c = canary_of(&format!(
        "{WEB}deploy.strategy = \"canary\"\ndeploy.steps = [{{ weight = 1 }}, {{ weight = 2 }}]\ndeploy.analysis.max_p99 = \"1s\"\ndeploy.analysis.max_error_rate = 1\n"
    ));
    assert_eq!(c.steps.iter().map(|s| s.weight).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(c.analysis.max_p99, Some(secs(1)));
    assert_eq!(c.analysis.max_error_rate, 1.0);
}

// ---- invalid ----

#[test]
fn unknown_key_in_deploy() {
    let d = single_error(
        &format!("{DEPLOY}max_surg = 2\n"),
        4,
        1,
        "unknown key \"max_surg\" in [services.web.deploy]",
    );
    assert!(hint(&d).starts_with("did you mean \"max_surge\"?"), "{d}");
    assert!(
        hint(&d).contains("progress_deadline"),
        "lists the keys: {d}"
    );
    let d = single_error(
        &format!("{WEB}deploy = {{ auto_rever = false }}\n"),
        3,
        12,
        "unknown key \"auto_rever\" in [services.web.deploy]",
    );
    assert!(hint(&d).starts_with("did you mean \"auto_revert\"?"), "{d}");
    // Known mistakes get a tailored hint.
    let d = single_error(
        &format!("{DEPLOY}max_parallel = 2\n"),
        4,
        1,
        "unknown key \"max_parallel\"",
    );
    assert!(hint(&d).contains("max_surge"), "{d}");
    let d = single_error(
        &format!("{CANARY}steps = [{{ weight = 10 }}]\nmax_error_rate = 0.1\n"),
        6,
        1,
        "unknown key \"max_error_rate\" in [services.web.deploy]",
    );
    assert!(
        hint(&d).contains("analysis = { max_error_rate = 0.05 }"),
        "{d}"
    );
    let d = single_error(
        &format!("{WEB}update = {{ max_parallel = 1 }}\n"),
        3,
        1,
        "unknown key \"update\" in [services.web]",
    );
    assert!(hint(&d).contains("deploy"), "{d}");
}

#[test]
fn unknown_key_in_step() {
    let d = single_error(
        &format!("{CANARY}steps = [{{ weight = 10, paus = \"1m\" }}]\n"),
        5,
        25,
        "unknown key \"paus\" in [services.web.deploy.steps]",
    );
    assert!(hint(&d).starts_with("did you mean \"pause\"?"), "{d}");
    // In a [[...steps]] table, the misspelled weight is also missing: both are reported.
    let diags = diagnostics(&format!(
        "{CANARY}[[services.web.deploy.steps]]\nweigth = 10\n"
    ));
    let found: Vec<_> = diags
        .iter()
        .map(|d| (d.line, d.col, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (5, 1, "no weight in [services.web.deploy.steps]"),
            (
                6,
                1,
                "unknown key \"weigth\" in [services.web.deploy.steps]"
            ),
        ],
        "{diags:#?}"
    );
    assert!(hint(&diags[1]).starts_with("did you mean \"weight\"?"));
}

#[test]
fn unknown_key_in_analysis() {
    let steps = format!("{CANARY}steps = [{{ weight = 10 }}]\n");
    let d = single_error(
        &format!("{steps}analysis = {{ failure_limt = 2 }}\n"),
        6,
        14,
        "unknown key \"failure_limt\" in [services.web.deploy.analysis]",
    );
    assert!(
        hint(&d).starts_with("did you mean \"failure_limit\"?"),
        "{d}"
    );
    let d = single_error(
        &format!("{steps}[services.web.deploy.analysis]\nintervall = \"5s\"\n"),
        7,
        1,
        "unknown key \"intervall\" in [services.web.deploy.analysis]",
    );
    assert!(hint(&d).starts_with("did you mean \"interval\"?"), "{d}");
}

#[test]
fn deploy_not_a_table() {
    let d = single_error(
        &format!("{WEB}deploy = \"canary\"\n"),
        3,
        10,
        "expected a table, found string",
    );
    assert!(hint(&d).contains("[services.web.deploy]"), "{d}");
    single_error(
        &format!("{CANARY}analysis = \"strict\"\nsteps = [{{ weight = 10 }}]\n"),
        5,
        12,
        "expected a table, found string",
    );
}

#[test]
fn unknown_strategy() {
    let d = single_error(
        &format!("{DEPLOY}strategy = \"blue-green\"\n"),
        4,
        12,
        "services.web.deploy.strategy: unknown strategy \"blue-green\"",
    );
    assert_eq!(hint(&d), "strategies: rolling, canary");
    let d = single_error(
        &format!("{DEPLOY}strategy = \"canery\"\n"),
        4,
        12,
        "unknown strategy \"canery\"",
    );
    assert_eq!(
        hint(&d),
        "did you mean \"canary\"? (strategies: rolling, canary)"
    );
    let d = single_error(
        &format!("{DEPLOY}strategy = 1\n"),
        4,
        12,
        "services.web.deploy.strategy: expected a string, found integer",
    );
    assert!(hint(&d).contains("rolling, canary"), "{d}");
    // With an unknown strategy the canary keys are still checked, but never called misplaced
    // or missing.
    let diags = diagnostics(&format!(
        "{DEPLOY}strategy = \"canry\"\nsteps = [{{ weight = 0 }}]\n"
    ));
    let found: Vec<_> = diags.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(found, [(4, 12), (5, 21)], "{diags:#?}");
    assert!(diags[1]
        .message
        .contains("weight must be between 1 and 100"));
}

#[test]
fn canary_keys_with_rolling_strategy() {
    // Each is reported once, at its key; what is inside is not looked at.
    let diags = diagnostics(&format!(
        "{DEPLOY}strategy = \"rolling\"\nsteps = [{{ weight = 0 }}]\nheader = \"x rev\"\nanalysis = {{ interval = \"0s\" }}\n"
    ));
    let found: Vec<_> = diags
        .iter()
        .map(|d| (d.line, d.col, d.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (5, 1, "steps only applies to strategy = \"canary\""),
            (6, 1, "header only applies to strategy = \"canary\""),
            (7, 1, "analysis only applies to strategy = \"canary\""),
        ],
        "{diags:#?}"
    );
    assert_eq!(
        hint(&diags[0]),
        "remove steps, or set strategy = \"canary\""
    );
    // Without a strategy, the hint says rolling is the default.
    let d = single_error(
        &format!("{WEB}deploy = {{ max_surge = 2, header = \"x-rev\" }}\n"),
        3,
        27,
        "header only applies to strategy = \"canary\"",
    );
    assert!(
        hint(&d).starts_with("strategy is \"rolling\" by default: add strategy = \"canary\""),
        "{d}"
    );
    single_error(
        &format!("{DEPLOY}[[services.web.deploy.steps]]\nweight = 10\n"),
        4,
        23,
        "steps only applies to strategy = \"canary\"",
    );
}

#[test]
fn canary_without_steps() {
    let d = single_error(CANARY, 4, 12, "strategy = \"canary\" needs steps");
    assert!(hint(&d).contains("steps = [{ weight = 10"), "{d}");
    assert!(hint(&d).contains("shoal promote"), "{d}");
    single_error(
        &format!("{CANARY}steps = []\n"),
        5,
        9,
        "services.web.deploy.steps is empty",
    );
    single_error(
        &format!("{CANARY}steps = 10\n"),
        5,
        9,
        "expected an array of tables, found integer",
    );
    single_error(
        &format!("{CANARY}steps = [10]\n"),
        5,
        10,
        "services.web.deploy.steps: expected a table, found integer",
    );
}

#[test]
fn step_weight_out_of_range_or_not_an_integer() {
    // The weight's value is at line 5, column 21.
    let step = |weight: &str| format!("{CANARY}steps = [{{ weight = {weight} }}]\n");
    let d = single_error(
        &step("0"),
        5,
        21,
        "weight must be between 1 and 100, found 0",
    );
    assert!(hint(&d).contains("percent of requests"), "{d}");
    single_error(
        &step("101"),
        5,
        21,
        "weight must be between 1 and 100, found 101",
    );
    let d = single_error(
        &step("10.5"),
        5,
        21,
        "services.web.deploy.steps.weight: expected a whole number, found float",
    );
    assert_eq!(hint(&d), "write an integer, e.g. 10");
    let d = single_error(
        &step("\"10%\""),
        5,
        21,
        "expected a whole number, found string",
    );
    assert_eq!(
        hint(&d),
        "write weight = 10 (a percent, without quotes or %)"
    );
    single_error(&step("-5"), 5, 21, "must not be negative, found -5");
    let d = single_error(
        &format!("{CANARY}steps = [{{ pause = \"1m\" }}]\n"),
        5,
        10,
        "no weight in [services.web.deploy.steps]",
    );
    assert!(hint(&d).contains("weight = 10"), "{d}");
}

#[test]
fn step_weights_must_increase() {
    // Only the step that goes down is reported; 100 is above every earlier weight.
    let d = single_error(
        &format!("{CANARY}steps = [{{ weight = 10 }}, {{ weight = 50 }}, {{ weight = 30 }}, {{ weight = 100 }}]\n"),
        5,
        55,
        "step weights must increase: 30 comes after 50",
    );
    assert!(hint(&d).contains("more requests"), "{d}");
    single_error(
        &format!("{CANARY}steps = [{{ weight = 20 }}, {{ weight = 20 }}]\n"),
        5,
        38,
        "step weights must increase: 20 comes after 20",
    );
    single_error(
        &format!("{CANARY}[[services.web.deploy.steps]]\nweight = 50\n[[services.web.deploy.steps]]\nweight = 25\n"),
        8,
        10,
        "step weights must increase: 25 comes after 50",
    );
}

#[test]
fn max_surge_and_max_unavailable_both_zero() {
    let d = single_error(
        &format!("{DEPLOY}max_surge = 0\n"),
        4,
        13,
        "max_surge and max_unavailable cannot both be 0",
    );
    assert!(hint(&d).contains("max_unavailable = 1"), "{d}");
    single_error(
        &format!("{DEPLOY}max_unavailable = 0\nmax_surge = 0\n"),
        5,
        13,
        "max_surge and max_unavailable cannot both be 0",
    );
    single_error(
        &format!("{DEPLOY}max_surge = -1\n"),
        4,
        13,
        "services.web.deploy.max_surge: must not be negative, found -1",
    );
    compile_ok(&format!("{DEPLOY}max_surge = 0\nmax_unavailable = 1\n"));
}

#[test]
fn healthy_deadline_not_longer_than_min_healthy_time() {
    let d = single_error(
        &format!("{DEPLOY}min_healthy_time = \"30s\"\nhealthy_deadline = \"30s\"\n"),
        5,
        20,
        "healthy_deadline (30s) must be longer than min_healthy_time (30s)",
    );
    assert!(hint(&d).contains("raise healthy_deadline"), "{d}");
    // Only min_healthy_time is written: reported there, against the default deadline.
    single_error(
        &format!("{DEPLOY}min_healthy_time = \"10m\"\n"),
        4,
        20,
        "healthy_deadline (300s) must be longer than min_healthy_time (600s)",
    );
    single_error(
        &format!("{DEPLOY}healthy_deadline = \"0s\"\n"),
        4,
        20,
        "healthy_deadline must be greater than zero",
    );
}

#[test]
fn progress_deadline_shorter_than_healthy_deadline() {
    let d = single_error(
        &format!("{DEPLOY}healthy_deadline = \"2m\"\nprogress_deadline = \"1m\"\n"),
        5,
        21,
        "progress_deadline (60s) must not be shorter than healthy_deadline (120s)",
    );
    assert!(hint(&d).contains("raise progress_deadline"), "{d}");
    single_error(
        &format!("{DEPLOY}healthy_deadline = \"15m\"\n"),
        4,
        20,
        "progress_deadline (600s) must not be shorter than healthy_deadline (900s)",
    );
    single_error(
        &format!("{DEPLOY}progress_deadline = \"0s\"\n"),
        4,
        21,
        "progress_deadline must be greater than zero",
    );
}

#[test]
fn analysis_values_out_of_range() {
    // Line 6 is `analysis = { KEY = VALUE }`: KEY starts at column 14.
    let analysis =
        |kv: &str| format!("{CANARY}steps = [{{ weight = 10 }}]\nanalysis = {{ {kv} }}\n");
    let d = single_error(
        &analysis("max_error_rate = 5"),
        6,
        31,
        "max_error_rate must be between 0 and 1, found 5",
    );
    assert!(hint(&d).contains("0.05 = 5 %"), "{d}");
    single_error(
        &analysis("max_error_rate = -0.1"),
        6,
        31,
        "max_error_rate must be between 0 and 1, found -0.1",
    );
    single_error(
        &analysis("max_error_rate = \"5%\""),
        6,
        31,
        "services.web.deploy.analysis.max_error_rate: expected a number, found string",
    );
    let d = single_error(
        &analysis("failure_limit = 0"),
        6,
        30,
        "failure_limit must be at least 1",
    );
    assert!(hint(&d).contains("failure_limit = 3"), "{d}");
    let d = single_error(
        &analysis("interval = \"0s\""),
        6,
        25,
        "interval must be greater than zero",
    );
    assert!(hint(&d).contains("interval = \"10s\""), "{d}");
    let d = single_error(
        &analysis("max_p99 = \"0s\""),
        6,
        24,
        "max_p99 must be greater than zero",
    );
    assert!(hint(&d).contains("remove it"), "{d}");
    single_error(
        &analysis("min_requests = -1"),
        6,
        29,
        "services.web.deploy.analysis.min_requests: must not be negative, found -1",
    );
}

#[test]
fn bad_durations() {
    let d = single_error(
        &format!("{DEPLOY}min_healthy_time = 5\n"),
        4,
        20,
        "services.web.deploy.min_healthy_time: expected a string like \"2s\", found integer",
    );
    assert!(hint(&d).contains("\"5s\""), "{d}");
    single_error(
        &format!("{CANARY}steps = [{{ weight = 10, pause = \"30sec\" }}]\n"),
        5,
        33,
        "services.web.deploy.steps.pause: invalid duration: unknown unit \"sec\"",
    );
    single_error(
        &format!("{CANARY}steps = [{{ weight = 10 }}]\nanalysis = {{ interval = \"soon\" }}\n"),
        6,
        25,
        "services.web.deploy.analysis.interval: invalid duration",
    );
    single_error(
        &format!("{DEPLOY}progress_deadline = \"-1m\"\n"),
        4,
        21,
        "negative",
    );
    single_error(
        &format!("{CANARY}steps = [{{ weight = 10 }}]\nanalysis = {{ max_p99 = \"500\" }}\n"),
        6,
        24,
        "\"500\" has no unit",
    );
}

#[test]
fn bad_header_name() {
    let header = |h: &str| format!("{CANARY}steps = [{{ weight = 10 }}]\nheader = {h}\n");
    let d = single_error(
        &header("\"X Revision\""),
        6,
        10,
        "services.web.deploy.header: \"X Revision\" is not a valid HTTP header name",
    );
    assert!(hint(&d).contains("header = \"x-revision\""), "{d}");
    assert!(hint(&d).contains("!#$%&'*+-.^_`|~"), "{d}");
    let d = single_error(
        &header("\"x-rev:\""),
        6,
        10,
        "is not a valid HTTP header name",
    );
    assert!(hint(&d).contains("header = \"x-rev\""), "{d}");
    let d = single_error(&header("\"\""), 6, 10, "header must not be empty");
    assert!(hint(&d).contains(DEFAULT_PIN_HEADER), "{d}");
    single_error(
        &header("5"),
        6,
        10,
        "services.web.deploy.header: expected a string, found integer",
    );
}

#[test]
fn every_deploy_problem_is_reported() {
    let src = r#"[services.web]
command = ["sleep"]

[services.web.deploy]
strategy = "canary"
max_surge = 0
min_healthy_time = "1m"
healthy_deadline = "30s"
auto_revert = "yes"
steps = [{ weight = 50 }, { weight = 50, paus = "1m" }]
header = "x rev"
analysis = { max_error_rate = 5, failure_limit = 0 }
"#;
    let err = parse(src, Path::new("shoal.toml"), &offline()).unwrap_err();
    let found: Vec<_> = err.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(
        found,
        [
            (6, 13),
            (8, 20),
            (9, 15),
            (10, 38),
            (10, 42),
            (11, 10),
            (12, 31),
            (12, 50)
        ],
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(
            "shoal.toml:6:13: error: max_surge and max_unavailable cannot both be 0\n  hint: "
        ),
        "{text}"
    );
    assert!(
        text.contains("shoal.toml:9:15: error: services.web.deploy.auto_revert: expected true or false, found string"),
        "{text}"
    );
    assert!(text.ends_with("\n8 errors"), "{text}");
}
