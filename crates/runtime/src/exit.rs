//! How an instance ended.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::signal::Signal;

/// How an instance's program ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitInfo {
    /// The program exited on its own with this code.
    Code(i32),
    /// The program was terminated by this signal number.
    Signal(i32),
    /// The shim ended without reporting the program's status (it was killed from outside), so
    /// how the program ended is unknown.
    Lost,
}

impl ExitInfo {
    /// Whether the program exited with code 0.
    pub fn success(&self) -> bool {
        matches!(self, ExitInfo::Code(0))
    }

    /// The status a process reported by `wait(2)`.
    pub(crate) fn from_status(status: ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitInfo::Code(code),
            (None, Some(signal)) => ExitInfo::Signal(signal),
            (None, None) => ExitInfo::Lost,
        }
    }

    /// The exit code the shim uses to mirror this status, following the shell convention of
    /// 128 + signal number for signals.
    pub(crate) fn mirrored_exit_code(&self) -> i32 {
        match *self {
            ExitInfo::Code(code) => code,
            ExitInfo::Signal(signal) => 128 + signal,
            ExitInfo::Lost => 255,
        }
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitInfo::Code(code) => write!(f, "exit code {code}"),
            ExitInfo::Signal(signal) => match Signal::try_from(signal) {
                Ok(sig) => write!(f, "killed by signal {signal} ({})", sig.as_str()),
                Err(_) => write!(f, "killed by signal {signal}"),
            },
            ExitInfo::Lost => f.write_str("lost (its supervisor ended without reporting a status)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_operator_friendly() {
        assert_eq!(ExitInfo::Code(1).to_string(), "exit code 1");
        assert_eq!(
            ExitInfo::Signal(9).to_string(),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            ExitInfo::Signal(15).to_string(),
            "killed by signal 15 (SIGTERM)"
        );
        assert_eq!(ExitInfo::Signal(99).to_string(), "killed by signal 99");
        assert!(ExitInfo::Lost.to_string().starts_with("lost"));
    }

    #[test]
    fn only_code_zero_is_success() {
        assert!(ExitInfo::Code(0).success());
        assert!(!ExitInfo::Code(3).success());
        assert!(!ExitInfo::Signal(15).success());
        assert!(!ExitInfo::Lost.success());
    }

    #[test]
    fn mirrored_codes_follow_the_shell_convention() {
        assert_eq!(ExitInfo::Code(3).mirrored_exit_code(), 3);
        assert_eq!(ExitInfo::Signal(9).mirrored_exit_code(), 137);
    }
}
