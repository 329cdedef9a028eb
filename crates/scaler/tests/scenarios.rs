//! Scenario tests: each file in `scenarios/` runs a simulated service under a virtual clock,
//! one decision per simulated second, and checks what the instance count did. A failure prints
//! the whole trace (time, demand, count, ready instances, reason) so it can be read like a log;
//! `SHOAL_SCENARIO_TRACE=1 cargo test -p shoal-scaler --test scenarios -- --nocapture` prints
//! it for passing scenarios too.

#[path = "scenarios/expect.rs"]
mod expect;
#[path = "scenarios/load.rs"]
mod load;
#[path = "scenarios/scenario.rs"]
mod scenario;
#[path = "scenarios/sim.rs"]
mod sim;

use scenario::Scenario;

/// Runs one scenario file; panics with every failed expectation and the trace.
fn run(name: &str, text: &str) {
    let scenario = Scenario::parse(name, text);
    let compiled = scenario.compile(name);
    let trace = sim::run(&scenario, &compiled);
    let failures: Vec<String> = scenario
        .expect
        .iter()
        .filter_map(|e| expect::check(e, &trace).err())
        .collect();
    if std::env::var_os("SHOAL_SCENARIO_TRACE").is_some() {
        println!("scenario {name}:\n{}", trace.table());
    }
    if !failures.is_empty() {
        panic!(
            "scenario {name} ({}):\n  - {}\n\ntrace:\n{}",
            scenario.about,
            failures.join("\n  - "),
            trace.table()
        );
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(
                    stringify!($name),
                    include_str!(concat!("../scenarios/", stringify!($name), ".toml")),
                );
            }
        )*

        /// Every file in `scenarios/` has its test above.
        #[test]
        fn every_scenario_file_runs() {
            let known = [$(stringify!($name)),*];
            let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "toml") {
                    let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                    assert!(
                        known.contains(&stem.as_str()),
                        "{} has no test: add it to scenarios! in tests/scenarios.rs",
                        path.display()
                    );
                }
            }
        }
    };
}

scenarios!(
    step_up,
    short_spike,
    steady_sine,
    ramp_to_zero,
    cold_start,
    cpu_saturation,
    metric_missing,
);
