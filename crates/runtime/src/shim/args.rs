//! The shim's command line, private to this crate:
//!
//! ```text
//! __shim --instance ID --log PATH --max-bytes N --keep K --workdir DIR -- PROGRAM [ARG]...
//! ```
//!
//! The program's environment is not part of it: shoal starts the shim with the instance's
//! environment already applied and the shim passes its own environment on.

use crate::error::RuntimeError;
use crate::launch::LaunchSpec;

/// The parsed shim command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShimArgs {
    pub(crate) instance: String,
    pub(crate) log: String,
    pub(crate) max_bytes: u64,
    pub(crate) keep: u32,
    pub(crate) workdir: String,
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
}

impl ShimArgs {
    /// The shim arguments for `spec`. Paths must be valid UTF-8 because they travel as `String`s.
    pub(crate) fn from_spec(spec: &LaunchSpec) -> Result<Self, RuntimeError> {
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
            "--".to_owned(),
            self.program.clone(),
        ];
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
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        let program = iter.next().ok_or("missing PROGRAM after `--`")?;
        Ok(Self {
            instance,
            log: log.ok_or("missing --log")?,
            max_bytes: max_bytes.ok_or("missing --max-bytes")?,
            keep: keep.ok_or("missing --keep")?,
            workdir: workdir.ok_or("missing --workdir")?,
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
        };
        assert_eq!(ShimArgs::from_spec(&spec).unwrap(), sample());
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
        };
        let message = |spec: &LaunchSpec| match ShimArgs::from_spec(spec) {
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
