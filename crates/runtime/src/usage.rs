//! Usage readings from `/proc`, for instances that do not have a cgroup of their own.
//!
//! An instance's processes are the members of its process group (see
//! [`crate::RunningProcess::group_id`]), so its usage is the sum over the processes in `/proc`
//! whose group id matches. Processes that leave the group on purpose (`setsid`, daemons) are not
//! counted, and memory shared between processes is counted once per process; a cgroup has neither
//! blind spot.

use std::io;
use std::sync::OnceLock;

use nix::unistd::{sysconf, SysconfVar};

use crate::resources::Usage;

/// The fields of `/proc/<pid>/stat` that usage readings need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3 says the process has ended and waits to be reaped (`Z`, or `X` while it goes).
    pub(crate) zombie: bool,
    /// Field 5: the process group id.
    pub(crate) pgrp: u32,
    /// Fields 14–17 (`utime`, `stime`, `cutime`, `cstime`) in clock ticks. The children's times
    /// count the processes this one started and reaped, so a worker that exited is not lost from
    /// the cumulative total.
    pub(crate) cpu_ticks: u64,
    /// Field 24: the resident set size in pages.
    pub(crate) rss_pages: u64,
}

/// Parses the text of `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may
/// itself contain spaces and parentheses, so the fields are counted from the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    // Field 3 (the state) is the first one after the command name.
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    let ticks = |n: usize| -> Option<u64> { Some(field(n)?.parse::<i64>().ok()?.max(0) as u64) };
    Some(ProcStat {
        zombie: matches!(field(3)?, "Z" | "X" | "x"),
        pgrp: field(5)?.parse().ok()?,
        cpu_ticks: ticks(14)? + ticks(15)? + ticks(16)? + ticks(17)?,
        rss_pages: ticks(24)?,
    })
}

/// Usage of the processes in process group `pgid`, read from `/proc`, leaving out `exclude_pid`
/// (the instance's shim, so that only the program and its descendants count).
///
/// This is what [`crate::RunningProcess::usage`] reports for instances without a cgroup; it is
/// public so the fallback can be used, and checked, on machines that do have cgroups. Fails with
/// [`io::ErrorKind::NotFound`] when no process of the group runs, and with the error of reading
/// `/proc` itself (as on systems without it).
pub fn process_group_usage(pgid: u32, exclude_pid: Option<u32>) -> io::Result<Usage> {
    let (ticks_per_second, page_size) = units()?;
    let mut cpu_ticks = 0u64;
    let mut rss_pages = 0u64;
    let mut members = 0usize;
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        if Some(pid) == exclude_pid {
            continue;
        }
        // Processes end while the directory is read; they simply do not count.
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some(stat) = parse_stat(&text) else {
            continue;
        };
        if stat.pgrp == pgid {
            // An ended process still counts its CPU time until its parent reaps it (and then
            // counts it as its children's), but it is not a running member.
            members += usize::from(!stat.zombie);
            cpu_ticks += stat.cpu_ticks;
            rss_pages += stat.rss_pages;
        }
    }
    if members == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no process of group {pgid} is running"),
        ));
    }
    Ok(Usage {
        cpu_seconds: cpu_ticks as f64 / ticks_per_second as f64,
        memory_bytes: rss_pages.saturating_mul(page_size),
    })
}

/// Clock ticks per second and the page size, the units of `/proc/<pid>/stat`.
fn units() -> io::Result<(u64, u64)> {
    static UNITS: OnceLock<Result<(u64, u64), String>> = OnceLock::new();
    let units = UNITS.get_or_init(|| {
        let read = |var: SysconfVar, name: &str| match sysconf(var) {
            Ok(Some(value)) if value > 0 => Ok(value as u64),
            Ok(_) => Err(format!("the system does not report {name}")),
            Err(e) => Err(format!("cannot read {name}: {e}")),
        };
        Ok((
            read(SysconfVar::CLK_TCK, "clock ticks per second")?,
            read(SysconfVar::PAGE_SIZE, "the page size")?,
        ))
    });
    units.clone().map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line from `/proc/<pid>/stat` with a hostile command name.
    const STAT: &str = "4242 (my (odd) prog) S 1 4240 4240 0 -1 4194560 1000 0 0 0 \
        150 50 7 3 20 0 1 0 12345 1048576000 12800 18446744073709551615 1 1 0 0 0 0 0 0 0 0 \
        0 0 17 1 0 0 0 0 0";

    #[test]
    fn fields_are_counted_from_the_last_parenthesis() {
        let stat = parse_stat(STAT).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                zombie: false,
                pgrp: 4240,
                cpu_ticks: 150 + 50 + 7 + 3,
                rss_pages: 12800,
            }
        );
    }

    #[test]
    fn spaces_and_newlines_in_the_name_do_not_shift_fields() {
        let text = STAT.replace("(my (odd) prog)", "(a ) b ) c\n)");
        assert_eq!(parse_stat(&text).unwrap().pgrp, 4240);
        let zombie = STAT.replace(") S ", ") Z ");
        assert!(parse_stat(&zombie).unwrap().zombie);
    }

    #[test]
    fn truncated_or_garbled_lines_are_rejected() {
        assert_eq!(parse_stat(""), None);
        assert_eq!(parse_stat("4242 (x) S 1"), None);
        assert_eq!(parse_stat("4242 no parenthesis S 1 4240"), None);
        let cut = &STAT[..STAT.find("12345").unwrap()];
        assert_eq!(parse_stat(cut), None);
        assert_eq!(parse_stat(&STAT.replace(" 4240 4240 ", " x 4240 ")), None);
    }

    #[test]
    fn own_group_is_found() {
        let me = std::process::id();
        let pgid = nix::unistd::getpgrp().as_raw() as u32;
        let all = process_group_usage(pgid, None).unwrap();
        assert!(all.memory_bytes > 0);
        // Other processes (the test runner's) may share the group; if not, nothing is left.
        if let Err(e) = process_group_usage(pgid, Some(me)) {
            assert_eq!(e.kind(), io::ErrorKind::NotFound);
        }
        // Far beyond the largest pid (kernel threads are in group 0).
        let err = process_group_usage(u32::MAX, None).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
