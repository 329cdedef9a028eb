//! Command-line surface (the contract in DESIGN.md): verbs, flags and their help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Runs a multi-tier web application on one machine: instances of each service behind a
/// health-checked load-balancing gateway.
#[derive(Debug, Parser)]
#[command(name = "shoal", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the spec is and how to reach a running shoal.
#[derive(Debug, Args, Clone)]
pub struct Target {
    /// The spec file.
    #[arg(
        short = 'f',
        long = "file",
        default_value = "shoal.toml",
        value_name = "FILE"
    )]
    pub file: PathBuf,
    /// Admin address of a running shoal (default: `admin.listen` from the spec).
    #[arg(long, env = "SHOAL_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<String>,
}

/// Like [`Target`] for verbs whose `-f` means "follow" (`logs`, `events`).
#[derive(Debug, Args, Clone)]
pub struct FollowTarget {
    /// The spec file.
    #[arg(long = "file", default_value = "shoal.toml", value_name = "FILE")]
    pub file: PathBuf,
    /// Admin address of a running shoal (default: `admin.listen` from the spec).
    #[arg(long, env = "SHOAL_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<String>,
}

impl From<FollowTarget> for Target {
    fn from(t: FollowTarget) -> Self {
        Target {
            file: t.file,
            addr: t.addr,
        }
    }
}

/// Output format of read commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned tables for people.
    Table,
    /// JSON for programs.
    Json,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start every service of the spec and serve them through the gateway (foreground).
    ///
    /// Prints the gateway and admin URLs, then one line per event. Ctrl-C or SIGTERM drains
    /// in-flight requests and stops every instance; a second Ctrl-C stops at once.
    Up {
        /// The spec file.
        #[arg(
            short = 'f',
            long = "file",
            default_value = "shoal.toml",
            value_name = "FILE"
        )]
        file: PathBuf,
    },
    /// Check a spec file and report every problem with file:line:col (exit 2 on errors).
    Validate {
        /// The spec file.
        #[arg(
            short = 'f',
            long = "file",
            default_value = "shoal.toml",
            value_name = "FILE"
        )]
        file: PathBuf,
    },
    /// Show services and their instances.
    Status {
        /// Only this service.
        service: Option<String>,
        #[command(flatten)]
        target: Target,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Change a service's instance count: `N`, `+N` or `-N` (within instances.min..max).
    Scale {
        /// The service.
        service: String,
        /// Absolute (`5`) or relative (`+2`, `-1`) count.
        #[arg(allow_hyphen_values = true, value_name = "N|+N|-N")]
        count: String,
        #[command(flatten)]
        target: Target,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Show a service's logs, every instance interleaved with an `id |` prefix.
    Logs {
        /// The service.
        service: String,
        /// Keep printing new lines as they are written.
        #[arg(short = 'f', long = "follow")]
        follow: bool,
        /// Lines to show from the end of each instance's log.
        #[arg(short = 'n', long = "lines", default_value_t = 50)]
        lines: usize,
        #[command(flatten)]
        target: FollowTarget,
    },
    /// Show recent events (crashes, health changes, scaling).
    Events {
        #[command(flatten)]
        target: FollowTarget,
        /// Keep printing new events.
        #[arg(short = 'f', long = "follow")]
        follow: bool,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Move a running shoal to a spec file: print the plan, carry it out, follow its rollouts.
    ///
    /// Validates the file first (exit 2 and nothing changes if it is invalid). Changes to how
    /// instances start (command, env, resources) roll out a new revision with the service's
    /// `deploy` strategy; counts, health, routing and autoscaling change in place. Applying the
    /// same file again reports no changes. Ctrl-C stops following; the rollout goes on.
    Apply {
        #[command(flatten)]
        target: Target,
        /// Only print the plan; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not follow the rollouts started; return at once.
        #[arg(long)]
        detach: bool,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// List a service's revisions (the active one is marked `*`).
    History {
        /// The service.
        service: String,
        #[command(flatten)]
        target: Target,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Move a service's canary to its next step (or, with --full, promote it at once).
    Promote {
        /// The service.
        service: String,
        /// Skip every remaining step.
        #[arg(long)]
        full: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Abandon a rollout in progress, or go back to an earlier revision (the previous by default).
    Rollback {
        /// The service.
        service: String,
        /// The revision to go back to (see `shoal history SERVICE`).
        #[arg(long, value_name = "REVISION")]
        to: Option<u64>,
        #[command(flatten)]
        target: Target,
    },
    /// Stop a running shoal: drain, stop every instance, exit.
    Down {
        #[command(flatten)]
        target: Target,
    },
    /// Send HTTP load to a URL and report throughput, latency and errors.
    ///
    /// Closed model by default (-c connections back to back), open model with -r (a fixed rate,
    /// latency from each request's intended send time). Exit 1 when a threshold is breached.
    Load(Box<shoal_loadgen::LoadArgs>),
}
