//! The process driver: starts and stops one service instance, captures its output into rotated
//! per-instance log files, and guarantees that no instance process outlives shoal.
//!
//! # Why a shim
//!
//! Every instance runs under a small supervisor process, the *shim*, which is shoal's own binary
//! re-executed with the hidden [`SHIM_SUBCOMMAND`]. Shoal starts the shim as the leader of a new
//! process group and keeps the write end of the shim's stdin. The shim starts the real program in
//! that group and watches its stdin: when the pipe reports end-of-file, shoal is gone — even after
//! `SIGKILL`, because the kernel closes a dead process's descriptors — and the shim `SIGKILL`s the
//! whole group. This needs no `pre_exec` hook and no `unsafe` code.
//!
//! The shim also writes the program's stdout and stderr, line by line and timestamped, into one
//! rotating log file (see [`tail_lines`] and [`LogFollower`] for reading it back), and reports the
//! program's pid and exit status to shoal over its stdout (the *control channel*).
//!
//! # Limits and usage
//!
//! Where the system allows (Linux with a writable cgroup file system, v1 or v2), each instance
//! run gets a cgroup of its own that enforces its [`Resources`] and counts its CPU time and
//! memory; the shim enters it before starting the program. Elsewhere instances run without
//! limits and their usage is summed from `/proc` over their process group. Either way
//! [`RunningProcess::usage`] reports it, and [`cpu_percent`] turns two readings into a
//! utilisation. Call [`cleanup_stale_cgroups`] once at start and [`remove_own_cgroups`] on exit.

mod cgroup;
mod error;
mod exit;
mod launch;
mod logfile;
mod nofile;
mod process;
mod protocol;
mod resources;
mod shim;
mod usage;

pub use cgroup::{cleanup_stale_cgroups, remove_own_cgroups};
pub use error::RuntimeError;
pub use exit::ExitInfo;
pub use launch::{
    LaunchSpec, ShimCommand, DEFAULT_LOG_KEEP, DEFAULT_LOG_MAX_BYTES, SHIM_SUBCOMMAND,
};
pub use logfile::{tail_lines, LogFollower, LogLine, LogStream};
pub use nofile::{raise_nofile_limit, NofileLimit};
pub use process::RunningProcess;
pub use resources::{cpu_percent, Resources, Usage};
pub use shim::shim_main;
pub use usage::process_group_usage;
