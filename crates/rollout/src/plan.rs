//! `shoal apply`'s plan: compare the running spec with a new one and say, per service, what is
//! added, removed or changed — and whether each change needs new instances (a rollout, because
//! it changes how instances are started) or applies in place (counts, health, routing, scaling).
//! Applying the same file twice yields an empty plan.

use serde::Serialize;
use shoal_spec::{ServiceSpec, Spec};

/// Every change between two specs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// One entry per service that is added, removed or changed, in name order.
    pub services: Vec<ServicePlan>,
    /// `[gateway]`/`[admin]` fields that differ: they cannot change while shoal runs.
    pub needs_restart: Vec<FieldChange>,
}

/// What happens to one service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServicePlan {
    /// Service name.
    pub name: String,
    /// Added, removed or changed.
    pub change: Change,
}

/// The kind of change to a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Change {
    /// New service: its instances start.
    Added,
    /// Gone from the spec: its instances drain and stop.
    Removed,
    /// Some fields differ.
    Changed {
        /// The fields, in spec order.
        fields: Vec<FieldChange>,
    },
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Spec key, e.g. `command`, `instances`, `health`.
    pub field: &'static str,
    /// The running value, as the spec would show it (debug form; never a secret's value).
    pub from: String,
    /// The new value.
    pub to: String,
    /// Rollout or in place.
    pub how: How,
}

/// How a change is carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// New instances of a new revision replace the old ones (rolling or canary).
    Rollout,
    /// The running instances stay; the new value takes effect at once.
    InPlace,
    /// Only a restart of shoal can apply it (listen addresses, data dir).
    Restart,
}

impl Plan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.needs_restart.is_empty()
    }

    /// Services that need a new revision.
    pub fn rollouts(&self) -> impl Iterator<Item = &ServicePlan> {
        self.services.iter().filter(|s| match &s.change {
            Change::Changed { fields } => fields.iter().any(|f| f.how == How::Rollout),
            _ => false,
        })
    }

    /// A terraform-like summary for people: `+ api`, `- old`, `~ web (rollout: command, env)`.
    pub fn render(&self) -> String {
        if self.is_empty() {
            return "No changes: the running system matches the spec.\n".into();
        }
        let mut out = String::new();
        for s in &self.services {
            match &s.change {
                Change::Added => out.push_str(&format!(
                    "+ {}  (new service: its instances start)\n",
                    s.name
                )),
                Change::Removed => out.push_str(&format!(
                    "- {}  (removed: its instances drain and stop)\n",
                    s.name
                )),
                Change::Changed { fields } => {
                    let rollout = fields.iter().any(|f| f.how == How::Rollout);
                    let how = if rollout {
                        "new revision, rolled out"
                    } else {
                        "in place"
                    };
                    out.push_str(&format!("~ {}  ({how})\n", s.name));
                    for f in fields {
                        let tag = match f.how {
                            How::Rollout => "rollout",
                            How::InPlace => "in place",
                            How::Restart => "restart",
                        };
                        out.push_str(&format!(
                            "    {}: {} → {}  [{tag}]\n",
                            f.field, f.from, f.to
                        ));
                    }
                }
            }
        }
        for f in &self.needs_restart {
            out.push_str(&format!(
                "! {}: {} → {}  (needs a restart of shoal)\n",
                f.field, f.from, f.to
            ));
        }
        out
    }
}

/// The plan that takes `running` to `next`.
pub fn plan(running: &Spec, next: &Spec) -> Plan {
    let mut services = Vec::new();
    for (name, new) in &next.services {
        match running.services.get(name) {
            None => services.push(ServicePlan {
                name: name.clone(),
                change: Change::Added,
            }),
            Some(old) => {
                let fields = service_fields(old, new);
                if !fields.is_empty() {
                    services.push(ServicePlan {
                        name: name.clone(),
                        change: Change::Changed { fields },
                    });
                }
            }
        }
    }
    for name in running.services.keys() {
        if !next.services.contains_key(name) {
            services.push(ServicePlan {
                name: name.clone(),
                change: Change::Removed,
            });
        }
    }
    services.sort_by(|a, b| a.name.cmp(&b.name));

    let mut needs_restart = Vec::new();
    let mut restart = |field, from: String, to: String| {
        if from != to {
            needs_restart.push(FieldChange {
                field,
                from,
                to,
                how: How::Restart,
            });
        }
    };
    restart(
        "gateway.listen",
        running.gateway.listen.to_string(),
        next.gateway.listen.to_string(),
    );
    restart(
        "admin.listen",
        running.admin.listen.to_string(),
        next.admin.listen.to_string(),
    );
    restart(
        "admin.data_dir",
        running.admin.data_dir.display().to_string(),
        next.admin.data_dir.display().to_string(),
    );
    // The gateway's other settings (timeouts, limits), compared with the listen address masked.
    let mut other = next.gateway.clone();
    other.listen = running.gateway.listen;
    restart(
        "gateway",
        format!("{:?}", running.gateway),
        format!("{:?}", other),
    );
    Plan {
        services,
        needs_restart,
    }
}

/// The differing fields of one service. What decides how instances are started (argv, program,
/// working directory, environment, resource limits) needs a new revision; the rest applies in
/// place.
fn service_fields(old: &ServiceSpec, new: &ServiceSpec) -> Vec<FieldChange> {
    // Unpacked field by field: a new `ServiceSpec` field does not compile until it is placed
    // here, as a rollout or an in-place change.
    let ServiceSpec {
        name: _,
        command,
        program,
        workdir,
        env: _,
        route,
        instances,
        health,
        stop,
        restart,
        resources,
        slow_start,
        autoscale,
        deploy,
        logs,
        tcp,
        stateful,
        depends_on,
        tags,
        meta,
    } = new;
    let mut fields = Vec::new();
    let mut diff = |field: &'static str, from: String, to: String, how: How| {
        if from != to {
            fields.push(FieldChange {
                field,
                from,
                to,
                how,
            });
        }
    };
    let debug = |v: &dyn std::fmt::Debug| format!("{v:?}");
    // How instances start: a new revision.
    diff("command", debug(&old.command), debug(command), How::Rollout);
    diff(
        "program",
        old.program.display().to_string(),
        program.display().to_string(),
        How::Rollout,
    );
    diff(
        "workdir",
        old.workdir.display().to_string(),
        workdir.display().to_string(),
        How::Rollout,
    );
    diff("env", env_keys(old), env_keys(new), How::Rollout);
    diff(
        "resources",
        debug(&old.resources),
        debug(resources),
        How::Rollout,
    );
    // Identities and their directories change what each instance starts with.
    diff(
        "stateful",
        debug(&old.stateful),
        debug(stateful),
        How::Rollout,
    );
    // The rest: the running instances stay.
    diff("route", debug(&old.route), debug(route), How::InPlace);
    // The listener is opened, moved or closed; connections to instances are unaffected.
    diff("tcp", debug(&old.tcp), debug(tcp), How::InPlace);
    diff(
        "instances",
        debug(&old.instances),
        debug(instances),
        How::InPlace,
    );
    diff("health", debug(&old.health), debug(health), How::InPlace);
    diff("stop", debug(&old.stop), debug(stop), How::InPlace);
    diff("restart", debug(&old.restart), debug(restart), How::InPlace);
    diff(
        "slow_start",
        debug(&old.slow_start),
        debug(slow_start),
        How::InPlace,
    );
    diff(
        "autoscale",
        debug(&old.autoscale),
        debug(autoscale),
        How::InPlace,
    );
    diff(
        "deploy",
        describe_deploy(&old.deploy),
        describe_deploy(deploy),
        How::InPlace,
    );
    // Instances started from now on rotate with the new bound (a running one keeps its own).
    diff("logs", debug(&old.logs), debug(logs), How::InPlace);
    // Start order matters only when an instance starts; the catalog shows the new labels at once.
    diff(
        "depends_on",
        debug(&old.depends_on),
        debug(depends_on),
        How::InPlace,
    );
    diff("tags", debug(&old.tags), debug(tags), How::InPlace);
    diff("meta", debug(&old.meta), debug(meta), How::InPlace);
    fields
}

/// `rolling (surge 1, unavailable 0, …)` or `canary 10 % (until promoted) → 50 % (30s), …`:
/// short enough for a plan line, complete enough to see what changed.
fn describe_deploy(d: &shoal_spec::DeploySpec) -> String {
    let common = format!(
        "surge {}, unavailable {}, min_healthy_time {:?}, healthy_deadline {:?}, progress_deadline {:?}, auto_revert {}",
        d.max_surge,
        d.max_unavailable,
        d.min_healthy_time,
        d.healthy_deadline,
        d.progress_deadline,
        d.auto_revert
    );
    match &d.strategy {
        shoal_spec::Strategy::Rolling => format!("rolling ({common})"),
        shoal_spec::Strategy::Canary(c) => {
            let steps: Vec<String> = c
                .steps
                .iter()
                .map(|s| match s.pause {
                    Some(p) => format!("{} % ({p:?})", s.weight),
                    None => format!("{} % (until promoted)", s.weight),
                })
                .collect();
            let a = &c.analysis;
            format!(
                "canary {} ({common}; analysis every {:?}, max_error_rate {}, max_p99 {}, failure_limit {}, min_requests {}, header {})",
                steps.join(" → "),
                a.interval,
                a.max_error_rate,
                a.max_p99.map_or_else(|| "none".to_string(), |p| format!("{p:?}")),
                a.failure_limit,
                a.min_requests,
                c.pin_header
            )
        }
    }
}

/// The environment as `KEY=…` with values fingerprinted, so a plan never prints a value that may
/// be a secret but still shows which variables changed.
fn env_keys(spec: &ServiceSpec) -> String {
    let parts: Vec<String> = spec
        .env
        .iter()
        .map(|(k, v)| format!("{k}=#{:08x}", fingerprint(v)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// FNV-1a: stable across runs, enough to tell values apart in a plan.
fn fingerprint(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_spec::{parse, LoadOptions};
    use std::path::Path;

    fn spec(services: &str) -> Spec {
        let src = format!("[gateway]\nlisten = \"127.0.0.1:18080\"\n[admin]\nlisten = \"127.0.0.1:17070\"\n{services}");
        parse(
            &src,
            Path::new("shoal.toml"),
            &LoadOptions {
                check_ports: false,
                check_programs: true,
            },
        )
        .unwrap_or_else(|d| panic!("{d}"))
    }

    const WEB: &str = "[services.web]\ncommand = [\"/bin/sleep\", \"1000\"]\nroute = \"/\"\n";

    #[test]
    fn the_same_spec_plans_nothing() {
        let p = plan(&spec(WEB), &spec(WEB));
        assert!(p.is_empty(), "{p:?}");
        assert!(p.render().contains("No changes"));
    }

    #[test]
    fn added_and_removed_services() {
        let api = "[services.api]\ncommand = [\"/bin/sleep\", \"1\"]\nroute = \"/api\"\n";
        let p = plan(&spec(WEB), &spec(api));
        let kinds: Vec<(&str, &Change)> = p
            .services
            .iter()
            .map(|s| (s.name.as_str(), &s.change))
            .collect();
        assert_eq!(kinds, [("api", &Change::Added), ("web", &Change::Removed)]);
        let text = p.render();
        assert!(text.contains("+ api") && text.contains("- web"), "{text}");
    }

    #[test]
    fn start_changes_need_a_rollout_and_the_rest_applies_in_place() {
        let next = "[services.web]\ncommand = [\"/bin/sleep\", \"2000\"]\nroute = \"/\"\ninstances = { min = 1, desired = 2, max = 4 }\nenv = { APP_VERSION = \"v2\" }\n";
        let p = plan(&spec(WEB), &spec(next));
        let Change::Changed { fields } = &p.services[0].change else {
            panic!("{p:?}")
        };
        let hows: Vec<(&str, How)> = fields.iter().map(|f| (f.field, f.how)).collect();
        assert_eq!(
            hows,
            [
                ("command", How::Rollout),
                ("env", How::Rollout),
                ("instances", How::InPlace)
            ]
        );
        assert_eq!(p.rollouts().count(), 1);
        assert!(p.render().contains("~ web  (new revision, rolled out)"));
    }

    #[test]
    fn in_place_only_changes_need_no_rollout() {
        let next = format!("{WEB}health = {{ path = \"/health\" }}\n");
        let p = plan(&spec(WEB), &spec(&next));
        assert_eq!(p.rollouts().count(), 0);
        assert!(p.render().contains("(in place)"), "{}", p.render());
    }

    #[test]
    fn env_values_are_never_printed() {
        let old = format!("{WEB}env = {{ DB_PASSWORD = \"hunter2\" }}\n");
        let new = format!("{WEB}env = {{ DB_PASSWORD = \"correct-horse\" }}\n");
        let p = plan(&spec(&old), &spec(&new));
        let text = p.render();
        assert!(text.contains("DB_PASSWORD=#"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("correct-horse"),
            "{text}"
        );
    }

    #[test]
    fn listen_address_changes_need_a_restart() {
        let a = spec(WEB);
        let mut b = spec(WEB);
        b.gateway.listen = "127.0.0.1:18081".parse().unwrap();
        let p = plan(&a, &b);
        assert_eq!(p.needs_restart.len(), 1, "{p:?}");
        assert_eq!(p.needs_restart[0].field, "gateway.listen");
        b.gateway.retry_budget = 0.5;
        let p = plan(&a, &b);
        assert_eq!(
            p.needs_restart.iter().map(|f| f.field).collect::<Vec<_>>(),
            ["gateway.listen", "gateway"]
        );
    }
}
