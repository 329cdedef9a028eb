//! Revisions: how a service's instances are started (command, program, workdir, env, resources),
//! numbered. Every instance runs one revision and is told its number (`SHOAL_REVISION`). The
//! history is kept in `<data_dir>/revisions.json` (0600: it holds env values) so `history` and
//! `rollback --to` work after a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shoal_spec::ServiceSpec;

/// Revisions kept per service; older ones are forgotten.
const KEEP: usize = 20;

/// Everything that decides how an instance is started. Two specs with equal templates run the
/// same revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// argv with `{port}` placeholders.
    pub command: Vec<String>,
    /// The resolved executable.
    pub program: PathBuf,
    /// Working directory.
    pub workdir: PathBuf,
    /// Environment added by the spec.
    pub env: BTreeMap<String, String>,
    /// CPU limit, cores.
    pub cpu: f64,
    /// Memory limit, bytes.
    pub memory: Option<u64>,
    /// Stateful services: the directory holding one persistent directory per identity
    /// (`{volume}` = `<volumes>/<instance id>`). Absent in revisions recorded before stateful
    /// services existed, which were not stateful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<PathBuf>,
}

impl Template {
    /// The template of a service spec.
    pub fn of(spec: &ServiceSpec) -> Self {
        // Unpacked field by field: a new `ServiceSpec` field does not compile until it is either
        // part of how instances start (here, and a rollout in `rollout::plan`) or named below as
        // applying to running instances in place.
        let ServiceSpec {
            name: _,
            command,
            program,
            workdir,
            env,
            resources,
            stateful,
            route: _,
            instances: _,
            health: _,
            stop: _,
            restart: _,
            slow_start: _,
            autoscale: _,
            deploy: _,
            logs: _,
            tcp: _,
            depends_on: _,
            tags: _,
            meta: _,
        } = spec;
        Self {
            command: command.clone(),
            program: program.clone(),
            workdir: workdir.clone(),
            env: env.clone(),
            cpu: resources.cpu,
            memory: resources.memory,
            volumes: stateful.as_ref().map(|s| s.volumes.clone()),
        }
    }

    /// `spec` with its launch fields replaced by this template's: the spec as it runs.
    pub fn apply_to(&self, spec: &mut ServiceSpec) {
        spec.command = self.command.clone();
        spec.program = self.program.clone();
        spec.workdir = self.workdir.clone();
        spec.env = self.env.clone();
        spec.resources.cpu = self.cpu;
        spec.resources.memory = self.memory;
        spec.stateful = self
            .volumes
            .clone()
            .map(|volumes| shoal_spec::StatefulSpec { volumes });
    }

    /// The persistent directory of one identity, for stateful services.
    pub fn volume_of(&self, instance_id: &str) -> Option<PathBuf> {
        self.volumes.as_ref().map(|v| v.join(instance_id))
    }

    /// argv for one instance: `{port}` and (stateful) `{volume}` substituted.
    pub fn argv_for(&self, port: u16, volume: Option<&Path>) -> Vec<String> {
        shoal_spec::argv_with_port(&self.command, port)
            .into_iter()
            .map(|a| with_volume(a, volume))
            .collect()
    }

    /// The spec's env with `{volume}` substituted (stateful services).
    pub fn env_for(&self, volume: Option<&Path>) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), with_volume(v.clone(), volume)))
            .collect()
    }

    /// One line for `history`: the command, and env keys with fingerprinted values (never the
    /// values themselves).
    pub fn summary(&self) -> String {
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}=#{:04x}", fingerprint(v) & 0xffff))
            .collect();
        let mut s = self.command.join(" ");
        if !env.is_empty() {
            s.push_str(&format!("  env {}", env.join(" ")));
        }
        s
    }

    fn fingerprint(&self) -> u64 {
        fingerprint(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// `s` with `{volume}` replaced by the instance's directory (left as is without one: the spec
/// refuses `{volume}` in services that are not stateful).
fn with_volume(s: String, volume: Option<&Path>) -> String {
    match volume {
        Some(v) if s.contains("{volume}") => s.replace("{volume}", &v.display().to_string()),
        _ => s,
    }
}

/// FNV-1a 64: stable across runs.
fn fingerprint(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A revision and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionRecord {
    /// Its number, from 1.
    pub number: u64,
    /// When it was first created (RFC 3339).
    pub created: String,
    /// How instances of it are started.
    pub template: Template,
    /// What it is now.
    pub status: RevisionStatus,
    /// Why it has that status, in words.
    pub note: String,
}

/// The life of a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionStatus {
    /// What the service runs.
    Active,
    /// Being rolled out.
    RollingOut,
    /// Replaced by a later revision.
    Superseded,
    /// Its rollout failed, or its canary was rolled back.
    Failed,
}

impl RevisionStatus {
    /// Lower-case name for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            RevisionStatus::Active => "active",
            RevisionStatus::RollingOut => "rolling out",
            RevisionStatus::Superseded => "superseded",
            RevisionStatus::Failed => "failed",
        }
    }
}

/// One service's history.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceHistory {
    /// The revision that runs (or ran, when shoal stopped).
    pub active: u64,
    /// A rollout in progress when last saved: a restart starts this revision directly.
    #[serde(default)]
    pub pending: Option<u64>,
    /// Fingerprint of the spec file's template when last applied: while the file still says the
    /// same, a restart resumes `active` (so a rollback survives a restart); an edited file wins.
    pub spec_fingerprint: u64,
    /// Newest last.
    pub revisions: Vec<RevisionRecord>,
}

impl ServiceHistory {
    /// A revision by number.
    pub fn get(&self, number: u64) -> Option<&RevisionRecord> {
        self.revisions.iter().find(|r| r.number == number)
    }

    fn get_mut(&mut self, number: u64) -> Option<&mut RevisionRecord> {
        self.revisions.iter_mut().find(|r| r.number == number)
    }

    /// The number of the revision with this template, creating it if it is new.
    pub fn revision_for(&mut self, template: &Template, note: &str) -> u64 {
        if let Some(r) = self.revisions.iter().find(|r| &r.template == template) {
            return r.number;
        }
        let number = self.revisions.iter().map(|r| r.number).max().unwrap_or(0) + 1;
        self.revisions.push(RevisionRecord {
            number,
            created: crate::events::now_rfc3339(),
            template: template.clone(),
            status: RevisionStatus::RollingOut,
            note: note.to_string(),
        });
        if self.revisions.len() > KEEP {
            // The oldest one nothing needs: not active, not being rolled out, not the default
            // of `rollback`, not the one just made.
            let keep = [
                Some(self.active),
                self.pending,
                self.previous(),
                Some(number),
            ];
            if let Some(i) = self
                .revisions
                .iter()
                .position(|r| !keep.contains(&Some(r.number)))
            {
                self.revisions.remove(i);
            }
        }
        number
    }

    /// Records a status change of one revision.
    pub fn mark(&mut self, number: u64, status: RevisionStatus, note: impl Into<String>) {
        if let Some(r) = self.get_mut(number) {
            r.status = status;
            r.note = note.into();
        }
    }

    /// `number` now runs; the previously active revision is superseded.
    pub fn activate(&mut self, number: u64, note: impl Into<String>) {
        let previous = self.active;
        if previous != number && self.get(previous).is_some() {
            self.mark(
                previous,
                RevisionStatus::Superseded,
                format!("replaced by revision {number}"),
            );
        }
        self.active = number;
        self.pending = None;
        self.mark(number, RevisionStatus::Active, note);
    }

    /// The newest revision older than the active one that did not fail: `rollback`'s default.
    /// Never a newer one (going forward again takes `--to`).
    pub fn previous(&self) -> Option<u64> {
        self.revisions
            .iter()
            .filter(|r| r.number < self.active && r.status != RevisionStatus::Failed)
            .map(|r| r.number)
            .max()
    }

    /// The template instances run (or are being rolled out to).
    pub fn running_template(&self) -> Option<&Template> {
        self.get(self.pending.unwrap_or(self.active))
            .map(|r| &r.template)
    }
}

/// Every service's history; `<data_dir>/revisions.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// By service name.
    pub services: BTreeMap<String, ServiceHistory>,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("revisions.json")
}

impl History {
    /// Loads the history; a missing or unreadable file is an empty history (logged).
    pub fn load(data_dir: &Path) -> Self {
        match std::fs::read(path(data_dir)) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "ignoring unreadable revisions.json");
                Self::default()
            }),
            Err(_) => Self::default(),
        }
    }

    /// Saves atomically, readable by the owner only (env values may be secrets).
    pub fn save(&self, data_dir: &Path) -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let tmp = data_dir.join("revisions.json.tmp");
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(tmp, path(data_dir))
    }

    /// The revision a service starts with when shoal starts, and a rollout to resume: while the
    /// spec file still says what it said when last applied, the saved active revision (so a
    /// rollback survives a restart) and the rollout that was in progress (it starts over, with
    /// its health gates, rather than jumping to the new revision); else the spec's own template
    /// (an existing revision if equal to one, else a new one).
    pub fn startup_revision(&mut self, spec: &ServiceSpec) -> (u64, Option<u64>) {
        let template = Template::of(spec);
        let fp = template.fingerprint();
        let history = self.services.entry(spec.name.clone()).or_default();
        if history.spec_fingerprint == fp && history.get(history.active).is_some() {
            let pending = history
                .pending
                .filter(|p| *p != history.active && history.get(*p).is_some());
            history.pending = None;
            return (history.active, pending);
        }
        let number = history.revision_for(&template, "from the spec file at startup");
        history.spec_fingerprint = fp;
        history.activate(number, "from the spec file at startup");
        (number, None)
    }

    /// Records that the spec file now says `spec` (after `apply`).
    pub fn note_spec(&mut self, spec: &ServiceSpec) {
        let fp = Template::of(spec).fingerprint();
        self.services
            .entry(spec.name.clone())
            .or_default()
            .spec_fingerprint = fp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(version: &str) -> ServiceSpec {
        let text = format!(
            "[services.web]\ncommand = [\"/bin/sleep\", \"1\"]\nenv = {{ APP_VERSION = \"{version}\" }}\n"
        );
        shoal_spec::parse(
            &text,
            Path::new("shoal.toml"),
            &shoal_spec::LoadOptions {
                check_ports: false,
                check_programs: true,
            },
        )
        .unwrap()
        .services["web"]
            .clone()
    }

    #[test]
    fn equal_templates_share_a_revision_and_changes_make_new_ones() {
        let mut h = History::default();
        assert_eq!(h.startup_revision(&spec("v1")), (1, None));
        let web = h.services.get_mut("web").unwrap();
        assert_eq!(web.revision_for(&Template::of(&spec("v2")), "apply"), 2);
        assert_eq!(web.revision_for(&Template::of(&spec("v1")), "apply"), 1);
        web.activate(2, "rolled out");
        assert_eq!(web.get(1).unwrap().status, RevisionStatus::Superseded);
        assert_eq!(web.previous(), Some(1));
        // After going back to 1, "previous" never means the newer 2.
        web.activate(1, "rolled back");
        assert_eq!(web.previous(), None);
    }

    #[test]
    fn a_rollback_survives_a_restart_until_the_file_changes() {
        let dir = std::env::temp_dir().join(format!("shoal-rev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut h = History::default();
        h.startup_revision(&spec("v1"));
        let web = h.services.get_mut("web").unwrap();
        let two = web.revision_for(&Template::of(&spec("v2")), "apply");
        web.activate(two, "rolled out");
        h.note_spec(&spec("v2"));
        // Rolled back to 1 by hand; the file still says v2.
        h.services.get_mut("web").unwrap().activate(1, "rollback");
        h.save(&dir).unwrap();
        let mut again = History::load(&dir);
        assert_eq!(again.startup_revision(&spec("v2")), (1, None));
        // A rollout in progress at the restart is resumed, not jumped to.
        again.services.get_mut("web").unwrap().pending = Some(2);
        assert_eq!(again.startup_revision(&spec("v2")), (1, Some(2)));
        // The file moves on: it wins.
        assert_eq!(again.startup_revision(&spec("v3")), (3, None));
        let mode = std::fs::metadata(dir.join("revisions.json")).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod pruning {
    use super::*;

    #[test]
    fn pruning_keeps_what_is_active_pending_or_the_rollback_default() {
        let mut h = ServiceHistory::default();
        let t = |n: u64| Template {
            command: vec![format!("v{n}")],
            program: PathBuf::from("/bin/true"),
            workdir: PathBuf::from("/"),
            env: BTreeMap::new(),
            cpu: 1.0,
            memory: None,
            volumes: None,
        };
        let one = h.revision_for(&t(1), "first");
        h.activate(one, "good");
        for n in 2..=(KEEP as u64 + 5) {
            let r = h.revision_for(&t(n), "bad");
            h.mark(r, RevisionStatus::Failed, "never healthy");
        }
        assert_eq!(h.revisions.len(), KEEP);
        assert!(h.get(1).is_some(), "the active revision stays");
    }
}
