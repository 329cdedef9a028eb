//! A scenario file: the autoscale table (read by the spec parser itself, so scenarios use
//! exactly the keys and defaults of `shoal.toml`), a simulated service, a load trace, events and
//! what must happen.

use std::path::Path;

use serde::Deserialize;
use shoal_spec::{AutoscaleSpec, InstanceCounts, LoadOptions};

use super::load::Segment;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the scenario shows, printed with a failing trace.
    pub about: String,
    /// Noise seed.
    #[serde(default = "one")]
    pub seed: u64,
    pub service: Service,
    /// Same keys as `[services.NAME.autoscale]`.
    pub autoscale: toml::Table,
    pub load: Vec<Segment>,
    #[serde(default)]
    pub events: Vec<Event>,
    pub expect: Vec<Expect>,
}

fn one() -> u64 {
    1
}

/// The simulated service.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// Ticks from being added to being ready.
    pub startup: u64,
    /// What one instance handles at 100 % of its cpu: concurrent requests, requests per second
    /// or cores, in the unit of the load.
    pub capacity: f64,
    /// `resources.cpu`.
    #[serde(default = "one_core")]
    pub cpu: f64,
    /// `resources.memory`, e.g. "512MiB".
    pub memory: Option<String>,
    /// p95 latency of an idle instance, ms; it grows as instances fill up.
    #[serde(default = "base_latency")]
    pub latency_ms: f64,
}

fn one_core() -> f64 {
    1.0
}

fn base_latency() -> f64 {
    20.0
}

/// Something that happens to the observations.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// The source of `metric` ("cpu", "memory", "concurrency", "rps", "latency_p95",
    /// "prometheus" or "all") has no data for ticks `from..to`.
    Missing { metric: String, from: u64, to: u64 },
}

/// What the trace must show. Times are ticks (simulated seconds), ranges inclusive.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// desired stays within [lo, hi] for every tick of [from, to].
    Within {
        from: u64,
        to: u64,
        lo: u32,
        hi: u32,
    },
    /// The first scale-up at or after `after` happens no later than `after + within`.
    FirstScaleUp { after: u64, within: u64 },
    /// desired is at least `value` at some tick no later than `by`.
    AtLeastBy { value: u32, by: u64 },
    /// At most `changes` changes of desired during [from, to].
    MaxChanges { from: u64, to: u64, changes: usize },
    /// desired is `value` at some tick of [after, by] (and, with `stays`, from then on).
    Reaches {
        value: u32,
        #[serde(default)]
        after: u64,
        by: u64,
        #[serde(default)]
        stays: bool,
    },
    /// Whenever a request waits on a service at zero, desired is at least 1 within `ticks`
    /// ticks (0: the same tick).
    FromZeroWithin { ticks: u64 },
    /// desired never exceeds `value`.
    NeverAbove { value: u32 },
    /// desired never goes down during [from, to].
    NoScaleDown { from: u64, to: u64 },
}

/// The scenario's service compiled by the spec parser.
pub struct Compiled {
    pub instances: InstanceCounts,
    pub autoscale: AutoscaleSpec,
}

impl Scenario {
    pub fn parse(name: &str, text: &str) -> Scenario {
        toml::from_str(text).unwrap_or_else(|e| panic!("scenario {name}: {e}"))
    }

    /// Writes the service as a `shoal.toml` and compiles it, so a scenario can only use
    /// what a spec can say.
    pub fn compile(&self, name: &str) -> Compiled {
        let s = &self.service;
        let mut instances = toml::Table::new();
        instances.insert("min".into(), i64::from(s.min).into());
        instances.insert("desired".into(), i64::from(s.desired).into());
        instances.insert("max".into(), i64::from(s.max).into());
        let mut resources = toml::Table::new();
        resources.insert("cpu".into(), s.cpu.into());
        if let Some(m) = &s.memory {
            resources.insert("memory".into(), m.clone().into());
        }
        let mut service = toml::Table::new();
        service.insert("command".into(), vec!["/bin/sh".to_owned()].into());
        service.insert("instances".into(), instances.into());
        service.insert("resources".into(), resources.into());
        service.insert("autoscale".into(), self.autoscale.clone().into());
        let mut services = toml::Table::new();
        services.insert("sim".into(), service.into());
        let mut doc = toml::Table::new();
        doc.insert("services".into(), services.into());
        let text = toml::to_string(&doc).expect("a table serializes");
        let file = format!("{name}.shoal.toml");
        let spec = shoal_spec::parse(
            &text,
            Path::new(&file),
            &LoadOptions {
                check_ports: false,
                check_programs: true,
            },
        )
        .unwrap_or_else(|d| panic!("scenario {name}: the spec does not compile:\n{d}\n{text}"));
        let sim = &spec.services["sim"];
        Compiled {
            instances: sim.instances,
            autoscale: sim
                .autoscale
                .clone()
                .expect("the scenario has an autoscale table"),
        }
    }
}
