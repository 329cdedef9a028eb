//! Command-line surface (the contract in DESIGN.md): verbs, flags and their help.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Runs a multi-tier web application on one machine: instances of each service behind a
/// health-checked load-balancing gateway, scaled automatically, rolled out without failed
/// requests, watched on /metrics, a web dashboard and `shoal top`.
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
    /// Show a service's logs: every instance interleaved by time, each line as `id | time text`.
    ///
    /// Lines come from the instances' log files in the data dir (rotated by the service's
    /// `logs = { max_size, keep }`), so the output of stopped instances can be read too. Each line
    /// carries the time the instance wrote it (RFC 3339, UTC, milliseconds). With -f, lines of
    /// instances started later (scale-out, rollouts) join as they appear.
    #[command(
        after_help = "Examples:\n  shoal logs web --lines 20\n  shoal logs web -f --since 5m\n  shoal logs web --json | jq -r 'select(.stream == \"err\") | .line'"
    )]
    Logs {
        /// The service.
        service: String,
        /// Keep printing new lines as they are written, from every instance (Ctrl-C stops).
        #[arg(short = 'f', long = "follow")]
        follow: bool,
        /// Lines to show from the end of each instance's log [default: 50, or every line with --since].
        #[arg(short = 'n', long = "lines", value_name = "N")]
        lines: Option<usize>,
        /// Only lines written in this last stretch of time, e.g. `30s`, `10m`, `1h`.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        since: Option<std::time::Duration>,
        /// One JSON object per line: {"time", "instance", "stream", "line"}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        target: FollowTarget,
    },
    /// A live terminal dashboard: services, instances, CPU and request-rate sparklines, events,
    /// logs; scale with +/-.
    ///
    /// Polls the admin API every second (`--interval`); if shoal is unreachable the last screen
    /// stays, the error shows in the status line and polling goes on. Keys: ↑/↓ or j/k select,
    /// Tab or ←/→ switch between services and instances, + / - scale the selected service by one
    /// (needs the token), l follows the selected instance's log, ? help, q or Ctrl-C quit (Esc
    /// closes the help or the log pane, else quits). Needs a terminal: for scripts use
    /// `shoal status` (or `-o json`).
    Top {
        #[command(flatten)]
        target: Target,
        /// How often to poll the admin API, e.g. `500ms`, `2s`.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
        interval: std::time::Duration,
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

/// A duration as the spec writes them (`500ms`, `2s`, `1m30s`).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    shoal_spec::parse_duration(s)
}

/// A polling interval: a duration of at least 100ms (faster would only load the daemon).
fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = shoal_spec::parse_duration(s)?;
    if d < std::time::Duration::from_millis(100) {
        return Err(format!("{s:?} is too short; use 100ms or more"));
    }
    Ok(d)
}
