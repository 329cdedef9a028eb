//! What to start: the instance description and the way to run the shim.

use std::path::PathBuf;

use crate::resources::Resources;

/// The hidden subcommand of the shoal binary that runs [`crate::shim_main`].
pub const SHIM_SUBCOMMAND: &str = "__shim";

/// Rotate an instance's log once it would grow beyond this many bytes, unless configured
/// otherwise.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;

/// Keep this many rotated log files per instance, unless configured otherwise.
pub const DEFAULT_LOG_KEEP: u32 = 3;

/// Everything needed to start one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    /// The instance's name, e.g. `web-2`; used in diagnostics and in the shim's command line so
    /// operators can tell shims apart in `ps`.
    pub instance_id: String,
    /// Absolute path of the executable. It is executed directly (argv only, no shell).
    pub program: PathBuf,
    /// `argv[1..]`, with placeholders such as `{port}` already substituted.
    pub args: Vec<String>,
    /// Variables added to (or overriding) shoal's own environment.
    pub env: Vec<(String, String)>,
    /// The program's working directory; it must exist.
    pub workdir: PathBuf,
    /// The instance's log file, e.g. `<data_dir>/logs/web-2.log`. Parent directories are created
    /// as needed; rotated files are named `web-2.log.1`, `web-2.log.2`, ...
    pub log_path: PathBuf,
    /// Rotate the log when it would grow beyond this size (see [`DEFAULT_LOG_MAX_BYTES`]).
    pub log_max_bytes: u64,
    /// How many rotated files to keep (see [`DEFAULT_LOG_KEEP`]). Disk use per instance is
    /// bounded by about `(log_keep + 1) * log_max_bytes`.
    pub log_keep: u32,
    /// CPU and memory limits, enforced where the system allows (see
    /// [`crate::RunningProcess::limits_enforced`]).
    pub resources: Resources,
}

/// How to run the shim: an executable plus the arguments that select the shim mode.
///
/// Normally this is shoal's own binary with [`SHIM_SUBCOMMAND`] ([`ShimCommand::current_exe`]);
/// tests point it at a test binary that dispatches to [`crate::shim_main`] the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimCommand {
    /// The executable to run.
    pub exe: PathBuf,
    /// Arguments placed before the shim's own arguments, e.g. `["__shim"]`.
    pub leading_args: Vec<String>,
}

impl ShimCommand {
    /// The running executable with the [`SHIM_SUBCOMMAND`].
    pub fn current_exe() -> std::io::Result<Self> {
        Ok(Self {
            exe: std::env::current_exe()?,
            leading_args: vec![SHIM_SUBCOMMAND.to_owned()],
        })
    }
}
