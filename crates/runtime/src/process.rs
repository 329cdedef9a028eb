//! A running instance, seen from shoal: its shim process and the control channel to it.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::cgroup::InstanceCgroups;
use crate::error::RuntimeError;
use crate::exit::ExitInfo;
use crate::launch::{LaunchSpec, ShimCommand};
use crate::protocol::ControlMsg;
use crate::resources::Usage;
use crate::shim::ShimArgs;
use crate::usage::process_group_usage;

/// How long the shim may take to report that the program runs.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for the shim to end or report after it was sent `SIGKILL`.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);

/// A started instance: the program runs under its shim, in a process group led by the shim.
///
/// Dropping a `RunningProcess` does not leak processes: the write end of the shim's stdin pipe is
/// closed with it, and the shim answers end-of-file on its stdin by `SIGKILL`ing the whole group.
/// The same happens when shoal dies, however abruptly. Use [`RunningProcess::stop`] for a
/// graceful stop that also reports how the program ended.
///
/// Where the system allows, the instance runs in a cgroup of its own that enforces its
/// [`crate::Resources`] ([`RunningProcess::limits_enforced`]); it is removed once the instance's
/// processes are gone.
pub struct RunningProcess {
    instance_id: String,
    shim: Child,
    /// Keeps the shim's stdin pipe open; closing it kills the instance. Never written.
    _lifeline: Option<OwnedFd>,
    control: Lines<BufReader<ChildStdout>>,
    pid: u32,
    pgid: u32,
    /// How the program ended, once known.
    exit: Option<ExitInfo>,
    /// Whether the shim has been reaped; its pid (= the group id) may be reused from then on, so
    /// no more signals are sent.
    reaped: bool,
    /// The instance run's cgroups, if any.
    cgroups: InstanceCgroups,
}

impl fmt::Debug for RunningProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningProcess")
            .field("instance_id", &self.instance_id)
            .field("pid", &self.pid)
            .field("group_id", &self.pgid)
            .field("exit", &self.exit)
            .field("limits_enforced", &self.cgroups.enforced())
            .finish_non_exhaustive()
    }
}

impl RunningProcess {
    /// Starts the instance described by `spec` under a shim run with `shim`.
    ///
    /// Returns once the program runs (the shim reported its pid). A program that cannot be
    /// started yields [`RuntimeError::Start`] with a message naming the cause and path, e.g.
    /// `program not found: /srv/bin/web`; no report within 10 s yields
    /// [`RuntimeError::Timeout`]. Dropping the future before it completes kills what was started.
    pub async fn spawn(shim: &ShimCommand, spec: &LaunchSpec) -> Result<Self, RuntimeError> {
        // Dropped on an early return, this gives the parent cgroups back.
        let mut cgroups = InstanceCgroups::acquire();
        let shim_args = ShimArgs::from_spec(spec, cgroups.parents().cloned())?;
        let mut command = Command::new(&shim.exe);
        command
            .args(&shim.leading_args)
            .args(shim_args.to_args())
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .envs(
                crate::nofile::instance_limit()
                    .map(|n| (crate::nofile::INSTANCE_NOFILE_ENV, n.to_string())),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(false);
        let mut child = command.spawn().map_err(|e| RuntimeError::Start {
            message: format!(
                "cannot start the instance supervisor {}: {e}",
                shim.exe.display()
            ),
        })?;
        let lifeline = match child.stdin.take().map(|stdin| stdin.into_owned_fd()) {
            Some(Ok(fd)) => Some(fd),
            Some(Err(e)) => return Err(e.into()),
            None => None,
        };
        let Some(pgid) = child.id() else {
            return Err(RuntimeError::Protocol(
                "the instance supervisor ended at once".into(),
            ));
        };
        cgroups.started(&spec.instance_id, pgid);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| RuntimeError::Protocol("no control channel".into()))?;
        let mut process = Self {
            instance_id: spec.instance_id.clone(),
            shim: child,
            _lifeline: lifeline,
            control: BufReader::new(stdout).lines(),
            pid: 0,
            pgid,
            exit: None,
            reaped: false,
            cgroups,
        };

        let failure = match tokio::time::timeout(START_TIMEOUT, process.read_start()).await {
            Ok(Ok(pid)) => {
                process.pid = pid;
                tracing::debug!(
                    instance = %process.instance_id,
                    pid,
                    group = pgid,
                    limits_enforced = process.cgroups.enforced(),
                    "instance started"
                );
                return Ok(process);
            }
            Ok(Err(e)) => e,
            Err(_) => RuntimeError::Timeout(START_TIMEOUT),
        };
        process.exit = Some(ExitInfo::Lost);
        process.finish().await;
        Err(failure)
    }

    /// Reads the control channel until the shim reports the program's pid.
    async fn read_start(&mut self) -> Result<u32, RuntimeError> {
        loop {
            let line = match self.control.next_line().await {
                Ok(Some(line)) => line,
                Ok(None) => {
                    return Err(RuntimeError::Protocol(
                        "the instance supervisor ended without starting the program".into(),
                    ))
                }
                Err(e) => return Err(RuntimeError::Io(e)),
            };
            match ControlMsg::parse(&line) {
                Some(ControlMsg::NoLimits(reason)) => {
                    tracing::debug!(instance = %self.instance_id, %reason, "limits not enforced");
                    self.cgroups.not_enforced(&reason);
                }
                Some(ControlMsg::Pid(pid)) => return Ok(pid),
                Some(ControlMsg::Error(message)) => return Err(RuntimeError::Start { message }),
                _ => {
                    return Err(RuntimeError::Protocol(format!(
                        "unexpected first message from the instance supervisor: {line:?}"
                    )))
                }
            }
        }
    }

    /// The program's pid (a child of the shim).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The instance's process group id, which is the shim's pid. The program and everything it
    /// starts belong to this group unless they leave it on purpose.
    pub fn group_id(&self) -> u32 {
        self.pgid
    }

    /// Whether the instance's [`crate::Resources`] are enforced: it runs in a cgroup of its own
    /// with the limits set, and [`RunningProcess::usage`] reads from there. When `false` it runs
    /// without limits (not Linux, no writable cgroup file system, missing controllers; shoal
    /// logs the reason once) and usage is read from `/proc`.
    pub fn limits_enforced(&self) -> bool {
        self.cgroups.enforced()
    }

    /// The instance's cgroup directories (one per hierarchy; several with cgroup v1), for
    /// diagnostics; empty when limits are not enforced. They no longer exist once the instance
    /// ended and was waited for.
    pub fn cgroup_dirs(&self) -> Vec<&Path> {
        self.cgroups.dirs()
    }

    /// What the instance uses now: cumulative CPU time and current memory.
    ///
    /// With [`RunningProcess::limits_enforced`] it is read from the instance's cgroup, which
    /// counts every process in it, descendants that left the process group included (and the
    /// shim, whose share is negligible: it sleeps while copying output). Otherwise it is summed
    /// from `/proc` over the instance's process group, without the shim (see
    /// [`crate::process_group_usage`]). Fails once the instance has ended and was waited for,
    /// and with [`io::ErrorKind::NotFound`] when none of its processes runs.
    pub fn usage(&self) -> io::Result<Usage> {
        if self.reaped {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("instance {} has ended", self.instance_id),
            ));
        }
        match self.cgroups.usage() {
            Some(usage) => usage,
            None => process_group_usage(self.pgid, Some(self.pgid)),
        }
    }

    /// Sends `sig` to the whole process group (the shim ignores `SIGTERM`, `SIGINT` and
    /// `SIGHUP`). A group that no longer exists is not an error, and once the instance has been
    /// fully reaped nothing is sent, since the group id may belong to someone else by then.
    pub fn signal_group(&self, sig: Signal) -> Result<(), RuntimeError> {
        if self.reaped {
            return Ok(());
        }
        match killpg(Pid::from_raw(self.pgid as i32), sig) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(errno) => Err(RuntimeError::Signal {
                signal: sig,
                pgid: self.pgid,
                errno,
            }),
        }
    }

    /// Resolves when the program has ended, with how it ended.
    ///
    /// Cancel-safe: the status is kept once known, so this can be polled in `tokio::select!`
    /// repeatedly and called again after it resolved. Before it resolves the first time, whatever
    /// the program left behind in its group is killed and the shim is reaped.
    pub async fn wait(&mut self) -> ExitInfo {
        let info = self.read_exit().await;
        self.finish().await;
        info
    }

    /// Stops the instance: `SIGTERM` to the group, up to `grace` for the program to exit, then
    /// `SIGKILL` to the group. After the program exited the group is `SIGKILL`ed in any case, to
    /// clear leftover descendants. Returns how the program ended; when the group had to be
    /// killed before the shim could report, that is `SIGKILL`.
    ///
    /// If the instance had already ended this just returns its status. Not meant to be cancelled;
    /// if it is, calling it again (or dropping the process) is still safe.
    pub async fn stop(&mut self, grace: Duration) -> ExitInfo {
        if self.exit.is_none() {
            self.signal_logged(Signal::SIGTERM);
            if tokio::time::timeout(grace, self.read_exit()).await.is_err() {
                tracing::debug!(
                    instance = %self.instance_id,
                    ?grace,
                    "instance ignored SIGTERM; killing it"
                );
                self.signal_logged(Signal::SIGKILL);
                let reported = tokio::time::timeout(KILL_TIMEOUT, self.read_exit()).await;
                if matches!(reported, Ok(ExitInfo::Lost) | Err(_)) {
                    // The shim died with the group before it could report; the program was in
                    // the group, so it got the same SIGKILL.
                    self.exit = Some(ExitInfo::Signal(Signal::SIGKILL as i32));
                }
            }
        }
        self.wait().await
    }

    /// Reads the control channel until the program's status is known.
    async fn read_exit(&mut self) -> ExitInfo {
        loop {
            if let Some(info) = self.exit {
                return info;
            }
            match self.control.next_line().await {
                Ok(Some(line)) => match ControlMsg::parse(&line) {
                    Some(ControlMsg::Exit(info)) => self.exit = Some(info),
                    _ => tracing::warn!(
                        instance = %self.instance_id,
                        %line,
                        "unexpected message from the instance supervisor"
                    ),
                },
                Ok(None) => self.exit = Some(ExitInfo::Lost),
                Err(e) => {
                    tracing::warn!(
                        instance = %self.instance_id,
                        error = %e,
                        "cannot read the instance supervisor's control channel"
                    );
                    self.exit = Some(ExitInfo::Lost);
                }
            }
        }
    }

    /// Kills what is left of the group, reaps the shim and removes the instance's cgroups (killing
    /// what is left in them, such as descendants that left the group). Cancel-safe: until the
    /// shim is reaped its pid cannot be reused, so repeating the kill is harmless.
    async fn finish(&mut self) {
        if !self.reaped {
            self.reap().await;
        }
        if self.reaped {
            self.cgroups.remove().await;
        }
    }

    /// `SIGKILL`s the group and waits for the shim to end.
    async fn reap(&mut self) {
        self.signal_logged(Signal::SIGKILL);
        match tokio::time::timeout(KILL_TIMEOUT, self.shim.wait()).await {
            Ok(Ok(status)) => {
                tracing::trace!(instance = %self.instance_id, %status, "supervisor reaped");
                self.reaped = true;
            }
            Ok(Err(e)) => {
                tracing::warn!(
                    instance = %self.instance_id,
                    error = %e,
                    "cannot reap the instance supervisor"
                );
                self.reaped = true;
            }
            Err(_) => tracing::warn!(
                instance = %self.instance_id,
                "the instance supervisor did not end after SIGKILL"
            ),
        }
    }

    fn signal_logged(&self, sig: Signal) {
        if let Err(e) = self.signal_group(sig) {
            tracing::warn!(instance = %self.instance_id, error = %e, "cannot signal instance");
        }
    }
}
