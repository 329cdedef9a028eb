//! Control groups: one per instance run, so that the kernel enforces the instance's CPU and
//! memory limits on all of its processes and counts what they use, including descendants that
//! left the process group.
//!
//! Shoal makes one parent per shoal process, `shoal-<pid>`, in each hierarchy it needs (see
//! [`host`]), and every instance run gets a child named `<instance-id>-<shim pid>` under it. The
//! shim creates the child, writes the limits and moves itself in before it starts the program
//! ([`enter`]), so the program and everything it starts are inside from their first instruction;
//! only the child's name depends on the shim's pid, which shoal knows once the shim runs, so both
//! sides arrive at the same directories. Shoal reads usage from them and removes them once the
//! instance's processes are gone.
//!
//! Both interfaces are supported: cgroup v2 (one unified hierarchy, [`v2`]) and v1 (a hierarchy
//! per controller, [`v1`]); which one is found at run time in `/proc/self/mountinfo`.

mod host;
mod instance;
mod mounts;
mod v1;
mod v2;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use host::{acquire, release, warn_not_enforced};
pub use host::{cleanup_stale_cgroups, remove_own_cgroups};
pub(crate) use instance::InstanceCgroups;

use crate::resources::{Resources, Usage};

/// The CFS period the CPU quota refers to, in microseconds (the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;

/// The smallest quota the kernel accepts, in microseconds.
const MIN_CPU_QUOTA_US: u64 = 1_000;

/// How often, and how long apart, removing a cgroup is tried while its processes are still
/// being torn down by the kernel: about two seconds in all.
const REMOVE_ATTEMPTS: u32 = 100;
const REMOVE_INTERVAL: Duration = Duration::from_millis(20);

/// One cgroup (or, for v1, the same-named cgroups in the hierarchies of the needed controllers),
/// identified by its directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cgroups {
    /// A cgroup of the unified hierarchy.
    V2(PathBuf),
    /// Cgroups in the v1 hierarchies carrying `cpu`, `cpuacct` and `memory`; two or all three
    /// are the same directory when the controllers share a hierarchy.
    V1 {
        cpu: PathBuf,
        cpuacct: PathBuf,
        memory: PathBuf,
    },
}

impl Cgroups {
    /// The child cgroup(s) called `name`.
    pub(crate) fn child(&self, name: &str) -> Self {
        match self {
            Cgroups::V2(dir) => Cgroups::V2(dir.join(name)),
            Cgroups::V1 {
                cpu,
                cpuacct,
                memory,
            } => Cgroups::V1 {
                cpu: cpu.join(name),
                cpuacct: cpuacct.join(name),
                memory: memory.join(name),
            },
        }
    }

    /// The directories, each once.
    pub(crate) fn dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = Vec::new();
        let all: Vec<&Path> = match self {
            Cgroups::V2(dir) => vec![dir],
            Cgroups::V1 {
                cpu,
                cpuacct,
                memory,
            } => vec![cpu, cpuacct, memory],
        };
        for dir in all {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// Creates the directories; existing ones are fine.
    pub(crate) fn create(&self) -> io::Result<()> {
        for dir in self.dirs() {
            match std::fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(context(e, format!("cannot create {}", dir.display()))),
            }
        }
        Ok(())
    }

    /// Writes the limits; `None` parts are left as they are (unlimited in a new cgroup).
    pub(crate) fn set_limits(&self, limits: Resources) -> io::Result<()> {
        match self {
            Cgroups::V2(dir) => v2::set_limits(dir, limits),
            Cgroups::V1 { cpu, memory, .. } => v1::set_limits(cpu, memory, limits),
        }
    }

    /// Lifts the limits (best effort).
    pub(crate) fn reset_limits(&self) {
        match self {
            Cgroups::V2(dir) => v2::reset_limits(dir),
            Cgroups::V1 { cpu, memory, .. } => v1::reset_limits(cpu, memory),
        }
    }

    /// Moves process `pid` (with all its threads) into the cgroup(s).
    pub(crate) fn join(&self, pid: u32) -> io::Result<()> {
        for dir in self.dirs() {
            write(dir, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    /// What the processes in the cgroup use, and have used since it was created.
    pub(crate) fn usage(&self) -> io::Result<Usage> {
        match self {
            Cgroups::V2(dir) => v2::usage(dir),
            Cgroups::V1 {
                cpuacct, memory, ..
            } => v1::usage(cpuacct, memory),
        }
    }

    /// `SIGKILL`s every process in the cgroup(s): descendants that left the instance's process
    /// group would otherwise keep the cgroup from being removed, and outlive the instance.
    pub(crate) fn kill_members(&self) {
        kill_members_of(&self.dirs());
    }

    /// Removes the directories once: fails with `EBUSY` while processes are still inside.
    /// Missing directories are fine.
    pub(crate) fn try_remove(&self) -> io::Result<()> {
        let mut result = Ok(());
        for dir in self.dirs() {
            match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    if result.is_ok() {
                        result = Err(context(e, format!("cannot remove {}", dir.display())));
                    }
                }
            }
        }
        result
    }

    /// Kills what is left inside and removes the directories, retrying for about two seconds
    /// while the kernel finishes tearing the processes down.
    pub(crate) async fn remove(&self) -> io::Result<()> {
        let mut attempt = 0;
        loop {
            self.kill_members();
            match self.try_remove() {
                Ok(()) => return Ok(()),
                Err(e) if attempt + 1 >= REMOVE_ATTEMPTS => return Err(e),
                Err(_) => attempt += 1,
            }
            tokio::time::sleep(REMOVE_INTERVAL).await;
        }
    }

    /// [`Cgroups::remove`] for threads without an async runtime.
    pub(crate) fn remove_blocking(&self) -> io::Result<()> {
        let mut attempt = 0;
        loop {
            self.kill_members();
            match self.try_remove() {
                Ok(()) => return Ok(()),
                Err(e) if attempt + 1 >= REMOVE_ATTEMPTS => return Err(e),
                Err(_) => attempt += 1,
            }
            std::thread::sleep(REMOVE_INTERVAL);
        }
    }
}

/// The name of an instance run's cgroup: `<instance-id>-<shim pid>`, unique across restarts of
/// the instance. Characters other than ASCII letters, digits, `.`, `_` and `-` become `_`.
pub(crate) fn instance_dir_name(instance: &str, shim_pid: u32) -> String {
    let id: String = instance
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{id}-{shim_pid}")
}

/// Run by the shim before it starts the program: creates the instance run's cgroup(s) under
/// `parents`, writes `limits` and moves the shim in, so the program is born inside. On failure
/// nothing stays in effect (the limits are lifted again) and the reason is returned; a directory
/// the shim could not leave again is removed by shoal once the instance is gone.
pub(crate) fn enter(parents: &Cgroups, instance: &str, limits: Resources) -> Result<(), String> {
    let cgroups = parents.child(&instance_dir_name(instance, std::process::id()));
    let result = cgroups
        .create()
        .and_then(|()| cgroups.set_limits(limits))
        .and_then(|()| cgroups.join(std::process::id()));
    result.map_err(|e| {
        cgroups.reset_limits();
        let _ = cgroups.try_remove();
        e.to_string()
    })
}

/// `SIGKILL`s every process in the cgroups `dirs`.
fn kill_members_of(dirs: &[&Path]) {
    let mut pids: Vec<u32> = Vec::new();
    for dir in dirs {
        let Ok(text) = read(dir, "cgroup.procs") else {
            continue;
        };
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    pids.sort_unstable();
    pids.dedup();
    for pid in pids {
        if let Ok(raw) = i32::try_from(pid) {
            let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        }
    }
}

/// The requested CPU limit as a quota per [`CPU_PERIOD_US`]; `None` for no (or a meaningless)
/// limit.
fn cpu_quota_us(cpu_limit: f64) -> Option<u64> {
    if !cpu_limit.is_finite() || cpu_limit <= 0.0 {
        return None;
    }
    let quota = (cpu_limit * CPU_PERIOD_US as f64).round();
    Some((quota as u64).max(MIN_CPU_QUOTA_US))
}

/// The value of `key` in a flat keyed file such as `memory.stat` or `cpu.stat` (`key value`
/// lines).
fn parse_flat_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

/// A file holding a single number, such as `memory.current`.
fn parse_number(text: &str, what: &str) -> io::Result<u64> {
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{what}: not a number: {:?}", text.trim()),
        )
    })
}

/// Reads `dir/file`; errors name the path.
fn read(dir: &Path, file: &str) -> io::Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .map_err(|e| context(e, format!("cannot read {}", path.display())))
}

/// Writes `value` into `dir/file` in one `write(2)`, as control files require; errors name the
/// path and value.
fn write(dir: &Path, file: &str, value: &str) -> io::Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value)
        .map_err(|e| context(e, format!("cannot write {value:?} to {}", path.display())))
}

fn context(e: io::Error, what: String) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory standing in for a cgroup: control files are plain files here.
    struct FakeCgroup(PathBuf);

    impl FakeCgroup {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("shoal-cgroup-unit-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn file(&self, name: &str, text: &str) {
            std::fs::write(self.0.join(name), text).unwrap();
        }

        fn text(&self, name: &str) -> String {
            std::fs::read_to_string(self.0.join(name)).unwrap()
        }
    }

    impl Drop for FakeCgroup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn quotas() {
        assert_eq!(cpu_quota_us(0.5), Some(50_000));
        assert_eq!(cpu_quota_us(1.0), Some(100_000));
        assert_eq!(cpu_quota_us(2.25), Some(225_000));
        assert_eq!(cpu_quota_us(0.001), Some(MIN_CPU_QUOTA_US));
        assert_eq!(cpu_quota_us(0.0), None);
        assert_eq!(cpu_quota_us(-1.0), None);
        assert_eq!(cpu_quota_us(f64::NAN), None);
        assert_eq!(cpu_quota_us(f64::INFINITY), None);
    }

    #[test]
    fn flat_keyed_files() {
        let stat = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n";
        assert_eq!(parse_flat_keyed(stat, "usage_usec"), Some(1_234_567));
        assert_eq!(parse_flat_keyed(stat, "user_usec"), Some(1_000_000));
        assert_eq!(parse_flat_keyed(stat, "usage"), None);
        assert_eq!(parse_flat_keyed("inactive_file x\n", "inactive_file"), None);
        assert_eq!(parse_number("42\n", "x").unwrap(), 42);
        let err = parse_number("max\n", "memory.max").unwrap_err();
        assert_eq!(err.to_string(), "memory.max: not a number: \"max\"");
    }

    #[test]
    fn instance_names_are_safe_directory_names() {
        assert_eq!(instance_dir_name("web-2", 4242), "web-2-4242");
        assert_eq!(instance_dir_name("a/b c", 1), "a_b_c-1");
        assert_eq!(instance_dir_name("..", 7), "..-7");
    }

    #[test]
    fn v1_controllers_sharing_a_hierarchy_have_one_directory() {
        let shared = Cgroups::V1 {
            cpu: "/cg/cpu,cpuacct/shoal-1".into(),
            cpuacct: "/cg/cpu,cpuacct/shoal-1".into(),
            memory: "/cg/memory/shoal-1".into(),
        };
        let child = shared.child("web-1-99");
        assert_eq!(
            child.dirs(),
            [
                Path::new("/cg/cpu,cpuacct/shoal-1/web-1-99"),
                Path::new("/cg/memory/shoal-1/web-1-99")
            ]
        );
        assert_eq!(
            Cgroups::V2("/cg/shoal-1".into()).child("x").dirs(),
            [Path::new("/cg/shoal-1/x")]
        );
    }

    #[test]
    fn v2_limits_and_usage_files() {
        let cg = FakeCgroup::new("v2");
        let cgroups = Cgroups::V2(cg.0.clone());
        cgroups
            .set_limits(Resources {
                cpu_limit: Some(0.5),
                memory_limit: Some(64 << 20),
            })
            .unwrap();
        assert_eq!(cg.text("cpu.max"), "50000 100000");
        assert_eq!(cg.text("memory.max"), "67108864");
        assert!(!cg.0.join("memory.swap.max").exists());

        cg.file("cpu.stat", "usage_usec 2500000\nuser_usec 2000000\n");
        cg.file("memory.current", "52428800\n");
        cg.file(
            "memory.stat",
            "anon 40000000\nfile 12428800\ninactive_file 2428800\n",
        );
        let usage = cgroups.usage().unwrap();
        assert_eq!(usage.cpu_seconds, 2.5);
        assert_eq!(usage.memory_bytes, 50_000_000);

        cg.file("cpu.stat", "user_usec 2000000\n");
        assert!(cgroups.usage().is_err());
    }

    #[test]
    fn v1_limits_and_usage_files() {
        let cg = FakeCgroup::new("v1");
        let cgroups = Cgroups::V1 {
            cpu: cg.0.clone(),
            cpuacct: cg.0.clone(),
            memory: cg.0.clone(),
        };
        cg.file("memory.memsw.limit_in_bytes", "9223372036854771712\n");
        cgroups
            .set_limits(Resources {
                cpu_limit: Some(1.5),
                memory_limit: Some(1 << 30),
            })
            .unwrap();
        assert_eq!(cg.text("cpu.cfs_period_us"), "100000");
        assert_eq!(cg.text("cpu.cfs_quota_us"), "150000");
        assert_eq!(cg.text("memory.limit_in_bytes"), "1073741824");
        assert_eq!(cg.text("memory.memsw.limit_in_bytes"), "1073741824");
        cgroups.reset_limits();
        assert_eq!(cg.text("cpu.cfs_quota_us"), "-1");
        assert_eq!(cg.text("memory.limit_in_bytes"), "-1");

        cg.file("cpuacct.usage", "1500000000\n");
        cg.file("memory.usage_in_bytes", "10000000\n");
        cg.file(
            "memory.stat",
            "cache 5000\ninactive_file 1\ntotal_cache 5000\ntotal_inactive_file 4000\n",
        );
        let usage = cgroups.usage().unwrap();
        assert_eq!(usage.cpu_seconds, 1.5);
        assert_eq!(usage.memory_bytes, 9_996_000);
    }

    #[test]
    fn no_limits_write_nothing() {
        let cg = FakeCgroup::new("none");
        Cgroups::V2(cg.0.clone())
            .set_limits(Resources::default())
            .unwrap();
        assert_eq!(std::fs::read_dir(&cg.0).unwrap().count(), 0);
    }

    #[test]
    fn errors_name_the_file() {
        let err = Cgroups::V2("/nonexistent/shoal-cg".into())
            .set_limits(Resources {
                cpu_limit: Some(1.0),
                memory_limit: None,
            })
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot write \"100000 100000\" to /nonexistent/shoal-cg/cpu.max: "),
            "{err}"
        );
        // Missing directories are already removed.
        Cgroups::V2("/nonexistent/shoal-cg".into())
            .try_remove()
            .unwrap();
    }
}
