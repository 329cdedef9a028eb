//! The shim's command line, private to this crate:
//!
//! ```text
//! __shim --instance ID --log PATH --max-bytes N --keep K --workdir DIR
//!        [--cpu-limit CORES] [--memory-limit BYTES]
//!        [--cgroup2 DIR | --cgroup-cpu DIR --cgroup-cpuacct DIR --cgroup-memory DIR]
//!        -- PROGRAM [ARG]...
//! ```
//!
//! The `--cgroup*` options name shoal's parent cgroups (v2, or the v1 hierarchies of the three
//! controllers); with them the shim puts itself into a new child cgroup with the limits before
//! it starts the program. Without them the limits are not enforced.
//!
//! The program's environment is not part of it: shoal starts the shim with the instance's
//! environment already applied and the shim passes its own environment on.

use std::path::PathBuf;

use crate::cgroup::Cgroups;
use crate::error::RuntimeError;
use crate::launch::LaunchSpec;
use crate::resources::Resources;

/// The parsed shim command line.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShimArgs {
    pub(crate) instance: String,
    pub(crate) log: String,
    pub(crate) max_bytes: u64,
    pub(crate) keep: u32,
    pub(crate) workdir: String,
    /// The limits to enforce, should `cgroups` be given.
    pub(crate) resources: Resources,
    /// Shoal's parent cgroups, under which the shim creates the instance run's cgroups.
    pub(crate) cgroups: Option<Cgroups>,
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
}

impl ShimArgs {
    /// The shim arguments for `spec`, its cgroups to be created under `cgroups`. Paths must be
    /// valid UTF-8 because they travel as `String`s.
    pub(crate) fn from_spec(
        spec: &LaunchSpec,
        cgroups: Option<Cgroups>,
    ) -> Result<Self, RuntimeError> {
        let utf8 = |what: &str, path: &std::path::Path| {
            path.to_str()
                .map(str::to_owned)
                .ok_or_else(|| RuntimeError::Start {
                    message: format!("{what} is not valid UTF-8: {}", path.display()),
                })
        };
        let start_error = |message: String| Err(RuntimeError::Start { message });
        for (key, value) in &spec.env {
            if key.is_empty() || key.contains(['=', '\0']) {
                return start_error(format!("invalid environment variable name {key:?}"));
            }
            if value.contains('\0') {
                return start_error(format!("environment variable {key} contains a NUL byte"));
            }
        }
        if let Some(arg) = spec.args.iter().find(|arg| arg.contains('\0')) {
            return start_error(format!("argument {arg:?} contains a NUL byte"));
        }
        Ok(Self {
            instance: spec.instance_id.clone(),
            log: utf8("log path", &spec.log_path)?,
            max_bytes: spec.log_max_bytes,
            keep: spec.log_keep,
            workdir: utf8("working directory", &spec.workdir)?,
            resources: spec.resources,
            cgroups,
            program: utf8("program path", &spec.program)?,
            args: spec.args.clone(),
        })
    }

    /// The command line, without the leading subcommand.
    pub(crate) fn to_args(&self) -> Vec<String> {
        let mut out = vec![
            "--instance".to_owned(),
            self.instance.clone(),
            "--log".to_owned(),
            self.log.clone(),
            "--max-bytes".to_owned(),
            self.max_bytes.to_string(),
            "--keep".to_owned(),
            self.keep.to_string(),
            "--workdir".to_owned(),
            self.workdir.clone(),
        ];
        let mut option = |flag: &str, value: String| {
            out.push(flag.to_owned());
            out.push(value);
        };
        if let Some(cores) = self.resources.cpu_limit {
            option("--cpu-limit", cores.to_string());
        }
        if let Some(bytes) = self.resources.memory_limit {
            option("--memory-limit", bytes.to_string());
        }
        let path = |dir: &PathBuf| dir.to_string_lossy().into_owned();
        match &self.cgroups {
            None => {}
            Some(Cgroups::V2(dir)) => option("--cgroup2", path(dir)),
            Some(Cgroups::V1 {
                cpu,
                cpuacct,
                memory,
            }) => {
                option("--cgroup-cpu", path(cpu));
                option("--cgroup-cpuacct", path(cpuacct));
                option("--cgroup-memory", path(memory));
            }
        }
        out.push("--".to_owned());
        out.push(self.program.clone());
        out.extend(self.args.iter().cloned());
        out
    }

    /// Parses the command line produced by [`ShimArgs::to_args`].
    pub(crate) fn parse(args: Vec<String>) -> Result<Self, String> {
        let mut instance = String::new();
        let mut log = None;
        let mut max_bytes = None;
        let mut keep = None;
        let mut workdir = None;
        let mut resources = Resources::default();
        let mut cgroup2 = None;
        let mut cgroup_v1: [Option<PathBuf>; 3] = [None, None, None];
        let mut iter = args.into_iter();
        loop {
            let Some(flag) = iter.next() else {
                return Err("missing `-- PROGRAM`".to_owned());
            };
            if flag == "--" {
                break;
            }
            let value = iter
                .next()
                .ok_or_else(|| format!("option {flag} needs a value"))?;
            match flag.as_str() {
                "--instance" => instance = value,
                "--log" => log = Some(value),
                "--max-bytes" => {
                    max_bytes = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| format!("--max-bytes: not a byte count: {value:?}"))?,
                    )
                }
                "--keep" => {
                    keep = Some(
                        value
                            .parse::<u32>()
                            .map_err(|_| format!("--keep: not a file count: {value:?}"))?,
                    )
                }
                "--workdir" => workdir = Some(value),
                "--cpu-limit" => {
                    resources.cpu_limit = Some(
                        value
                            .parse::<f64>()
                            .ok()
                            .filter(|cores| cores.is_finite() && *cores > 0.0)
                            .ok_or_else(|| format!("--cpu-limit: not a core count: {value:?}"))?,
                    )
                }
                "--memory-limit" => {
                    resources.memory_limit = Some(
                        value
                            .parse::<u64>()
                            .map_err(|_| format!("--memory-limit: not a byte count: {value:?}"))?,
                    )
                }
                "--cgroup2" => cgroup2 = Some(PathBuf::from(value)),
                "--cgroup-cpu" => cgroup_v1[0] = Some(PathBuf::from(value)),
                "--cgroup-cpuacct" => cgroup_v1[1] = Some(PathBuf::from(value)),
                "--cgroup-memory" => cgroup_v1[2] = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        let cgroups = match (cgroup2, cgroup_v1) {
            (None, [None, None, None]) => None,
            (Some(dir), [None, None, None]) => Some(Cgroups::V2(dir)),
            (None, [Some(cpu), Some(cpuacct), Some(memory)]) => Some(Cgroups::V1 {
                cpu,
                cpuacct,
                memory,
            }),
            (None, _) => {
                return Err(
                    "--cgroup-cpu, --cgroup-cpuacct and --cgroup-memory go together".to_owned(),
                )
            }
            (Some(_), _) => return Err("--cgroup2 excludes the v1 --cgroup-* options".to_owned()),
        };
        let program = iter.next().ok_or("missing PROGRAM after `--`")?;
        Ok(Self {
            instance,
            log: log.ok_or("missing --log")?,
            max_bytes: max_bytes.ok_or("missing --max-bytes")?,
            keep: keep.ok_or("missing --keep")?,
            workdir: workdir.ok_or("missing --workdir")?,
            resources,
            cgroups,
            program,
            args: iter.collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn sample() -> ShimArgs {
        ShimArgs {
            instance: "web-2".into(),
            log: "/data/logs/web-2.log".into(),
            max_bytes: 10 << 20,
            keep: 3,
            workdir: "/srv/web".into(),
            resources: Resources {
                cpu_limit: Some(0.25),
                memory_limit: Some(256 << 20),
            },
            cgroups: Some(Cgroups::V2("/sys/fs/cgroup/shoal-1".into())),
            program: "/srv/web/bin/server".into(),
            args: strings(&["--port", "8002", "--", "--not-an-option", ""]),
        }
    }

    #[test]
    fn round_trips_including_dashes_and_empty_args() {
        let args = sample();
        assert_eq!(ShimArgs::parse(args.to_args()), Ok(args));
    }

    #[test]
    fn limits_and_cgroups_are_optional() {
        let mut args = sample();
        args.resources = Resources::default();
        args.cgroups = None;
        assert_eq!(ShimArgs::parse(args.to_args()), Ok(args.clone()));
        args.cgroups = Some(Cgroups::V1 {
            cpu: "/cg/cpu,cpuacct/shoal-1".into(),
            cpuacct: "/cg/cpu,cpuacct/shoal-1".into(),
            memory: "/cg/memory/shoal-1".into(),
        });
        args.resources.cpu_limit = Some(1.0 / 3.0);
        assert_eq!(ShimArgs::parse(args.to_args()), Ok(args));
    }

    #[test]
    fn program_without_args() {
        let mut args = sample();
        args.args.clear();
        assert_eq!(ShimArgs::parse(args.to_args()), Ok(args));
    }

    #[test]
    fn from_spec_copies_everything() {
        let spec = LaunchSpec {
            instance_id: "web-2".into(),
            program: "/srv/web/bin/server".into(),
            args: strings(&["--port", "8002", "--", "--not-an-option", ""]),
            env: vec![("A".into(), "B".into())],
            workdir: "/srv/web".into(),
            log_path: "/data/logs/web-2.log".into(),
            log_max_bytes: 10 << 20,
            log_keep: 3,
            resources: Resources {
                cpu_limit: Some(0.25),
                memory_limit: Some(256 << 20),
            },
        };
        let cgroups = Some(Cgroups::V2("/sys/fs/cgroup/shoal-1".into()));
        assert_eq!(ShimArgs::from_spec(&spec, cgroups).unwrap(), sample());
    }

    #[test]
    fn from_spec_rejects_what_cannot_be_executed() {
        let base = LaunchSpec {
            instance_id: "x".into(),
            program: "/bin/true".into(),
            args: Vec::new(),
            env: Vec::new(),
            workdir: "/".into(),
            log_path: "/tmp/x.log".into(),
            log_max_bytes: 1,
            log_keep: 1,
            resources: Resources::default(),
        };
        let message = |spec: &LaunchSpec| match ShimArgs::from_spec(spec, None) {
            Err(RuntimeError::Start { message }) => message,
            other => panic!("{other:?}"),
        };
        let mut spec = base.clone();
        spec.env = vec![("A=B".into(), "x".into())];
        assert_eq!(message(&spec), "invalid environment variable name \"A=B\"");
        let mut spec = base.clone();
        spec.env = vec![("A".into(), "x\0".into())];
        assert_eq!(message(&spec), "environment variable A contains a NUL byte");
        let mut spec = base;
        spec.args = vec!["a\0b".into()];
        assert_eq!(message(&spec), "argument \"a\\0b\" contains a NUL byte");
    }

    #[test]
    fn errors_are_precise() {
        let err = |items: &[&str]| ShimArgs::parse(strings(items)).unwrap_err();
        assert_eq!(err(&[]), "missing `-- PROGRAM`");
        assert_eq!(err(&["--log"]), "option --log needs a value");
        assert_eq!(err(&["--bogus", "1", "--", "x"]), "unknown option --bogus");
        assert!(err(&["--max-bytes", "ten", "--", "x"]).contains("not a byte count"));
        assert!(err(&["--cpu-limit", "0", "--", "x"]).contains("not a core count"));
        assert!(err(&["--cpu-limit", "NaN", "--", "x"]).contains("not a core count"));
        assert!(err(&["--memory-limit", "1G", "--", "x"]).contains("not a byte count"));
        assert_eq!(
            err(&["--cgroup-cpu", "/a", "--", "x"]),
            "--cgroup-cpu, --cgroup-cpuacct and --cgroup-memory go together"
        );
        assert_eq!(
            err(&["--cgroup2", "/a", "--cgroup-memory", "/b", "--", "x"]),
            "--cgroup2 excludes the v1 --cgroup-* options"
        );
        assert_eq!(
            err(&["--log", "l", "--max-bytes", "1", "--keep", "1", "--"]),
            "missing PROGRAM after `--`"
        );
        assert_eq!(
            err(&["--log", "l", "--max-bytes", "1", "--keep", "1", "--", "x"]),
            "missing --workdir"
        );
    }
}
