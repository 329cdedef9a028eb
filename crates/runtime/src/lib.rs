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

mod error;
mod exit;
mod launch;
mod logfile;
mod process;
mod protocol;
mod shim;

pub use error::RuntimeError;
pub use exit::ExitInfo;
pub use launch::{
    LaunchSpec, ShimCommand, DEFAULT_LOG_KEEP, DEFAULT_LOG_MAX_BYTES, SHIM_SUBCOMMAND,
};
pub use logfile::{tail_lines, LogFollower, LogLine, LogStream};
pub use process::RunningProcess;
pub use shim::shim_main;
