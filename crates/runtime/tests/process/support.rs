//! Helpers shared by the process tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use shoal_runtime::{tail_lines, LaunchSpec, Resources, ShimCommand, SHIM_SUBCOMMAND};
use tokio::time::Instant;

/// The test binary itself, acting as the shim when re-executed with `__shim`.
pub fn shim() -> ShimCommand {
    ShimCommand {
        exe: std::env::current_exe().expect("current exe"),
        leading_args: vec![SHIM_SUBCOMMAND.to_owned()],
    }
}

pub use shoal_testkit::block_on;

/// A scratch directory under cargo's target tmpdir, removed on drop.
pub type TestDir = shoal_testkit::TestDir;

/// A fresh [`TestDir`] for one test.
pub fn test_dir(name: &str) -> TestDir {
    TestDir::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "runtime", name)
}

/// An instance running `/bin/sh -c script`, logging to `<dir>/logs/<id>.log`.
pub fn sh_spec(dir: &Path, id: &str, script: &str) -> LaunchSpec {
    LaunchSpec {
        instance_id: id.to_owned(),
        program: PathBuf::from("/bin/sh"),
        args: vec!["-c".to_owned(), script.to_owned()],
        env: Vec::new(),
        workdir: dir.to_path_buf(),
        log_path: dir.join("logs").join(format!("{id}.log")),
        log_max_bytes: 1024 * 1024,
        log_keep: 3,
        resources: Resources::default(),
    }
}

/// Whether `pid` is a live process (zombies count as gone: they only wait to be reaped).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain anything.
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X" | "x"))
}

/// Waits up to `limit` for all of `pids` to be gone; panics naming the survivors otherwise.
pub fn assert_gone_within(pids: &[u32], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let survivors: Vec<u32> = pids.iter().copied().filter(|&p| alive(p)).collect();
        if survivors.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            panic!("processes still alive after {limit:?}: {survivors:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the first log line that is a pid (printed by a test program via `echo $!`).
pub fn wait_for_logged_pid(log: &Path, limit: Duration) -> u32 {
    let deadline = Instant::now() + limit;
    loop {
        let lines = tail_lines(log, "t", 100).expect("read log");
        if let Some(pid) = lines.iter().find_map(|l| l.text.trim().parse().ok()) {
            return pid;
        }
        if Instant::now() > deadline {
            panic!("no pid logged to {} within {limit:?}", log.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a log line with exactly `text`.
pub fn wait_for_log_line(log: &Path, text: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let lines = tail_lines(log, "t", 100).expect("read log");
        if lines.iter().any(|l| l.text == text) {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "no line {text:?} logged to {} within {limit:?}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether all of `dirs` are gone, waiting up to `limit` for that.
pub fn dirs_gone_within(dirs: &[PathBuf], limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if dirs.iter().all(|d| !d.exists()) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Says, visibly in the test output, that a check was skipped and why.
pub fn skip(test: &str, what: &str) {
    println!("note: {test}: skipped {what}: resource limits are not enforced on this machine");
}
