//! Errors of the process driver.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::Signal;

/// Why an instance could not be started or controlled.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The program could not be started (missing, not executable, bad working directory, log file
    /// not writable, ...). The message is meant for the operator as is, e.g.
    /// `permission denied: /srv/app/bin/web`.
    #[error("{message}")]
    Start {
        /// What went wrong, including the offending path.
        message: String,
    },
    /// An I/O error while talking to the shim.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The shim said something unexpected on its control channel, or ended before saying anything.
    #[error("instance supervisor protocol error: {0}")]
    Protocol(String),
    /// The shim did not report the program's pid in time.
    #[error("the instance did not start within {0:?}")]
    Timeout(Duration),
    /// Sending a signal to the instance's process group failed for a reason other than the group
    /// being gone already.
    #[error("cannot send {signal} to process group {pgid}: {errno}")]
    Signal {
        /// The signal that could not be sent.
        signal: Signal,
        /// The process group it was meant for.
        pgid: u32,
        /// The error returned by `kill(2)`.
        errno: Errno,
    },
}
