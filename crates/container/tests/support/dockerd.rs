//! A Docker Engine of the tests' own: `dockerd` with its own data root, exec root, socket and
//! pidfile under a short temporary directory (unix socket paths are limited to 108 bytes, and
//! dockerd's containerd puts its sockets under the exec root), stopped with its containerd and
//! containers when dropped.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use shoal_container::Engine;
use tokio::time::Instant;

/// The directory of a test run's dockerd is this followed by the test process's pid.
const ROOT_PREFIX: &str = "/tmp/shoal-dk-";

/// How long dockerd may take to answer after it was started.
const START_LIMIT: Duration = Duration::from_secs(60);

/// How long dockerd may take to shut down after SIGTERM before it is killed.
const STOP_LIMIT: Duration = Duration::from_secs(20);

/// A running test dockerd.
pub struct Dockerd {
    child: Child,
    root: PathBuf,
    address: String,
}

impl Dockerd {
    /// Starts dockerd and waits until its API answers. Panics (failing the test run) when
    /// dockerd is not installed or does not come up, with its log.
    pub fn start() -> Dockerd {
        let binary = find_dockerd().unwrap_or_else(|| {
            panic!("dockerd is not installed: run scripts/install-deps.sh test")
        });
        reap_stale();
        let root = PathBuf::from(format!("{ROOT_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the dockerd directory");
        let log = File::create(root.join("dockerd.log")).expect("create dockerd.log");
        let address = format!("unix://{}", root.join("d.sock").display());
        let child = Command::new(binary)
            .arg("--data-root")
            .arg(root.join("data"))
            .arg("--exec-root")
            .arg(root.join("x"))
            .args(["-H", &address])
            .arg("--pidfile")
            .arg(root.join("d.pid"))
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let mut daemon = Dockerd {
            child,
            root,
            address,
        };
        daemon.wait_until_up();
        daemon
    }

    /// The daemon's API address (`unix:///tmp/shoal-dk-PID/d.sock`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Polls the API until it answers; panics with dockerd's log if it exits or takes too long.
    fn wait_until_up(&mut self) {
        let started = Instant::now();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        loop {
            if runtime
                .block_on(Engine::connect(Some(&self.address)))
                .is_ok()
            {
                eprintln!(
                    "fixture: dockerd answers at {} after {:.1}s",
                    self.address,
                    started.elapsed().as_secs_f64()
                );
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("dockerd exited with {status}:\n{}", self.log());
            }
            if started.elapsed() > START_LIMIT {
                panic!(
                    "dockerd did not answer within {START_LIMIT:?}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for Dockerd {
    /// Stops dockerd and removes its directory (see [`stop`]).
    fn drop(&mut self) {
        let started = Instant::now();
        let pid = Pid::from_raw(self.child.id() as i32);
        stop(&self.root, pid, || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        let _ = self.child.wait();
        eprintln!(
            "fixture: dockerd stopped in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// Stops the dockerd `pid` whose directory is `root` and removes the directory: SIGTERM (dockerd
/// stops its containers and its containerd), SIGKILL for both after [`STOP_LIMIT`], then
/// [`remove_root`]. `exited` says whether dockerd has ended (and reaps it, for a child).
fn stop(root: &Path, pid: Pid, mut exited: impl FnMut() -> bool) {
    let containerd = containerd_pid(root);
    let _ = kill(pid, Signal::SIGTERM);
    let started = Instant::now();
    while !exited() && started.elapsed() < STOP_LIMIT {
        std::thread::sleep(Duration::from_millis(50));
    }
    if !exited() {
        // Only then is its containerd left behind: a clean shutdown stops it.
        eprintln!("dockerd did not stop within {STOP_LIMIT:?}: killing it and its containerd");
        let _ = kill(pid, Signal::SIGKILL);
        if let Some(containerd) = containerd {
            let _ = kill(containerd, Signal::SIGKILL);
        }
    }
    remove_root(root);
}

/// Unmounts what a stopped dockerd leaves mounted under `root` (its default network namespace)
/// and removes the directory.
fn remove_root(root: &Path) {
    if let Ok(entries) = std::fs::read_dir(root.join("x/netns")) {
        for entry in entries.flatten() {
            let _ = nix::mount::umount2(&entry.path(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
    if let Err(e) = std::fs::remove_dir_all(root) {
        eprintln!("cannot remove {}: {e}", root.display());
    }
}

/// The pid of the containerd the dockerd of `root` started, if it wrote one.
fn containerd_pid(root: &Path) -> Option<Pid> {
    read_pid(&root.join("x/containerd/containerd.pid"))
}

fn read_pid(file: &Path) -> Option<Pid> {
    let pid: i32 = std::fs::read_to_string(file).ok()?.trim().parse().ok()?;
    Some(Pid::from_raw(pid))
}

/// Stops the dockerds of earlier test runs that were killed before they could stop their own
/// (their test process is gone), so they do not pile up.
fn reap_stale() {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(owner) = path.to_str().and_then(|p| p.strip_prefix(ROOT_PREFIX)) else {
            continue;
        };
        if owner.parse::<u32>().is_err() || Path::new("/proc").join(owner).exists() {
            continue;
        }
        let daemon = read_pid(&path.join("d.pid")).filter(|pid| is_dockerd(*pid));
        eprintln!("fixture: cleaning up {} of an earlier run", path.display());
        match daemon {
            Some(pid) => stop(&path, pid, || !is_dockerd(pid)),
            None => remove_root(&path),
        }
    }
}

/// Whether `pid` is a running (not zombie) dockerd.
fn is_dockerd(pid: Pid) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(") ")
        .next()
        .and_then(|rest| rest.chars().next());
    comm.trim() == "dockerd" && state != Some('Z')
}

/// `dockerd` on the PATH, or where Debian's docker.io puts it.
fn find_dockerd() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("dockerd"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
