//! The open-file limit. Every proxied TCP connection takes two descriptors and every HTTP one at
//! least one, so the usual soft limit of 1024 would make the gateway fail to accept (and health
//! checks fail to connect) long before its own caps. shoal raises its soft limit to the hard
//! limit at start, as nginx (`worker_rlimit_nofile`) and Go programs do, and gives instances the
//! limit it started with: a program written for 1024 descriptors (`select`) keeps working.

use std::sync::OnceLock;

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Carries the soft limit shoal started with from shoal to the shim, which restores it for the
/// program (and removes the variable from the program's environment).
pub(crate) const INSTANCE_NOFILE_ENV: &str = "SHOAL_INSTANCE_NOFILE";

/// The soft limit shoal started with, once [`raise_nofile_limit`] raised it.
static STARTED_WITH: OnceLock<u64> = OnceLock::new();

/// The open-file limit before and after raising it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileLimit {
    /// The soft limit shoal started with (what instances get).
    pub before: u64,
    /// shoal's soft limit now.
    pub now: u64,
}

/// Raises this process's soft open-file limit to its hard limit. Call once, at start.
pub fn raise_nofile_limit() -> std::io::Result<NofileLimit> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(std::io::Error::from)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(std::io::Error::from)?;
        let _ = STARTED_WITH.set(soft);
    }
    Ok(NofileLimit {
        before: soft,
        now: soft.max(hard),
    })
}

/// What the shim's environment carries for the program, if shoal raised its limit.
pub(crate) fn instance_limit() -> Option<u64> {
    STARTED_WITH.get().copied()
}

/// In the shim, before the program starts: puts back the soft limit shoal started with.
pub(crate) fn restore_for_program(value: Option<&str>) {
    let Some(soft) = value.and_then(|v| v.parse::<u64>().ok()) else {
        return;
    };
    if let Ok((_, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, soft.min(hard), hard);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_reaches_the_hard_limit() {
        let limit = raise_nofile_limit().unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!((soft, limit.now), (hard, hard));
        assert!(limit.before <= limit.now);
    }
}
