//! Real-process tests of the process driver. This binary is also the shim: the driver re-executes
//! it with `__shim`, exactly as shoal re-executes itself.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use shoal_runtime::{
    cleanup_stale_cgroups, cpu_percent, process_group_usage, remove_own_cgroups, shim_main,
    tail_lines, ExitInfo, LogFollower, LogStream, RunningProcess, RuntimeError, SHIM_SUBCOMMAND,
};
use tokio::time::{timeout, Instant};

use support::{
    alive, assert_gone_within, block_on, dirs_gone_within, sh_spec, shim, skip, test_dir,
    wait_for_log_line, wait_for_logged_pid,
};

/// Mode of this binary that starts an instance and then idles until it is killed.
const ORPHAN_PARENT: &str = "__orphan-parent";

/// Mode of this binary that starts an instance, drops it, removes its own cgroups and exits.
const OWN_CGROUPS: &str = "__own-cgroups";

/// Generous limits: the tests run on small, busy machines.
const EXIT_LIMIT: Duration = Duration::from_secs(60);
const GONE_LIMIT: Duration = Duration::from_secs(5);

const TESTS: &[shoal_testkit::Test] = &[
    (
        "output_lands_in_the_log_with_stream_tags",
        output_lands_in_the_log_with_stream_tags,
    ),
    (
        "exit_codes_and_signals_are_reported",
        exit_codes_and_signals_are_reported,
    ),
    (
        "args_env_and_workdir_reach_the_program",
        args_env_and_workdir_reach_the_program,
    ),
    ("wait_is_cancel_safe", wait_is_cancel_safe),
    (
        "stop_ends_a_program_with_sigterm",
        stop_ends_a_program_with_sigterm,
    ),
    (
        "stop_kills_a_program_that_ignores_sigterm",
        stop_kills_a_program_that_ignores_sigterm,
    ),
    ("stop_kills_descendants", stop_kills_descendants),
    (
        "descendants_of_an_exited_program_are_killed",
        descendants_of_an_exited_program_are_killed,
    ),
    (
        "dropping_the_handle_kills_the_instance",
        dropping_the_handle_kills_the_instance,
    ),
    (
        "sigkilled_parent_leaves_no_instance_behind",
        sigkilled_parent_leaves_no_instance_behind,
    ),
    ("log_rotation_bounds_disk_use", log_rotation_bounds_disk_use),
    (
        "tail_reads_across_rotated_files",
        tail_reads_across_rotated_files,
    ),
    ("start_failures_are_precise", start_failures_are_precise),
    (
        "follower_sees_new_lines_across_rotation",
        follower_sees_new_lines_across_rotation,
    ),
    ("cpu_limit_caps_a_busy_loop", cpu_limit_caps_a_busy_loop),
    ("memory_limit_kills_a_hog", memory_limit_kills_a_hog),
    ("memory_usage_is_plausible", memory_usage_is_plausible),
    (
        "proc_fallback_sums_the_process_group",
        proc_fallback_sums_the_process_group,
    ),
    (
        "own_cgroups_are_removed_on_exit",
        own_cgroups_are_removed_on_exit,
    ),
    (
        "descendants_that_left_the_group_are_killed_with_the_cgroup",
        descendants_that_left_the_group_are_killed_with_the_cgroup,
    ),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(SHIM_SUBCOMMAND) => shim_main(args[2..].to_vec()),
        Some(ORPHAN_PARENT) => orphan_parent(Path::new(&args[2])),
        Some(OWN_CGROUPS) => own_cgroups(Path::new(&args[2])),
        _ => std::process::exit(shoal_testkit::run(TESTS, &args[1..], || ())),
    }
}

/// Starts an instance whose program has a background child, prints the program's and the shim's
/// pids, and idles; the test then kills this process with SIGKILL.
fn orphan_parent(dir: &Path) -> ! {
    block_on(async {
        let spec = sh_spec(dir, "orphan", "sleep 1000 & echo $!; wait");
        let process = RunningProcess::spawn(&shim(), &spec).await.expect("spawn");
        println!("pids {} {}", process.pid(), process.group_id());
        println!("cgroups {}", joined(&process.cgroup_dirs()));
        std::io::stdout().flush().expect("flush");
        std::future::pending::<()>().await;
        unreachable!("{process:?}")
    })
}

/// Starts an instance, drops it (its cgroups are then removed in the background), removes the
/// process's own cgroups as shoal does on a clean exit, and prints the instance's cgroups.
fn own_cgroups(dir: &Path) -> ! {
    block_on(async {
        let spec = sh_spec(dir, "own", "exec sleep 1000");
        let process = RunningProcess::spawn(&shim(), &spec).await.expect("spawn");
        println!("cgroups {}", joined(&process.cgroup_dirs()));
        drop(process);
        remove_own_cgroups();
    });
    std::process::exit(0)
}

fn joined(dirs: &[&Path]) -> String {
    let dirs: Vec<&str> = dirs.iter().map(|d| d.to_str().expect("UTF-8")).collect();
    dirs.join(" ")
}

/// The directories of a `cgroups ...` line printed by a child of this binary.
fn parse_cgroups_line(line: &str) -> Vec<PathBuf> {
    line.trim_end()
        .strip_prefix("cgroups")
        .unwrap_or_else(|| panic!("unexpected output {line:?}"))
        .split_whitespace()
        .map(PathBuf::from)
        .collect()
}

/// The parent of each of `dirs` (shoal's `shoal-<pid>` cgroups).
fn parents(dirs: &[PathBuf]) -> Vec<PathBuf> {
    dirs.iter()
        .map(|d| d.parent().expect("parent").to_path_buf())
        .collect()
}

fn output_lands_in_the_log_with_stream_tags() {
    block_on(async {
        let dir = test_dir("output");
        let spec = sh_spec(dir.path(), "out-1", "echo hi; echo oops >&2");
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        assert!(process.pid() > 0);
        assert_ne!(process.pid(), process.group_id());
        let info = timeout(EXIT_LIMIT, process.wait()).await.unwrap();
        assert_eq!(info, ExitInfo::Code(0));
        assert!(info.success());

        let lines = tail_lines(&spec.log_path, "out-1", 10).unwrap();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let find = |text: &str| lines.iter().find(|l| l.text == text).unwrap();
        assert_eq!(find("hi").stream, LogStream::Out);
        assert_eq!(find("oops").stream, LogStream::Err);
        for line in &lines {
            assert_eq!(line.instance_id, "out-1");
            assert_eq!(line.timestamp.len(), "2024-05-01T12:00:00.123Z".len());
            assert!(line.timestamp.ends_with('Z'));
        }
        let raw = std::fs::read_to_string(&spec.log_path).unwrap();
        assert!(raw.contains(" out hi\n"), "{raw}");
        assert!(raw.contains(" err oops\n"), "{raw}");
    })
}

fn exit_codes_and_signals_are_reported() {
    block_on(async {
        let dir = test_dir("exit");
        let spec = sh_spec(dir.path(), "code", "exit 3");
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let info = timeout(EXIT_LIMIT, process.wait()).await.unwrap();
        assert_eq!(info, ExitInfo::Code(3));
        assert!(!info.success());
        assert_eq!(info.to_string(), "exit code 3");
        // Asking again, or stopping an ended instance, gives the same answer.
        assert_eq!(process.wait().await, ExitInfo::Code(3));
        assert_eq!(
            process.stop(Duration::from_secs(1)).await,
            ExitInfo::Code(3)
        );
        process.signal_group(Signal::SIGTERM).unwrap();

        let spec = sh_spec(dir.path(), "signal", "kill -9 $$");
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let info = timeout(EXIT_LIMIT, process.wait()).await.unwrap();
        assert_eq!(info, ExitInfo::Signal(9));
        assert_eq!(info.to_string(), "killed by signal 9 (SIGKILL)");
    })
}

fn args_env_and_workdir_reach_the_program() {
    block_on(async {
        let dir = test_dir("env");
        let workdir = dir.path().join("work");
        std::fs::create_dir(&workdir).unwrap();
        let mut spec = sh_spec(dir.path(), "env", "");
        spec.args = vec![
            "-c".into(),
            r#"echo "$SHOAL_TEST_VAR"; pwd -P; echo "$0|$1""#.into(),
            "zero".into(),
            "one  two".into(),
        ];
        spec.env = vec![("SHOAL_TEST_VAR".into(), "hello env".into())];
        spec.workdir = workdir.clone();
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        assert_eq!(
            timeout(EXIT_LIMIT, process.wait()).await.unwrap(),
            ExitInfo::Code(0)
        );
        let texts: Vec<String> = tail_lines(&spec.log_path, "env", 10)
            .unwrap()
            .into_iter()
            .map(|l| l.text)
            .collect();
        let real_workdir = workdir.canonicalize().unwrap();
        assert_eq!(
            texts,
            ["hello env", real_workdir.to_str().unwrap(), "zero|one  two"]
        );
    })
}

fn wait_is_cancel_safe() {
    block_on(async {
        let dir = test_dir("cancel");
        let spec = sh_spec(dir.path(), "cancel", "sleep 1; echo done; exit 5");
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let started = Instant::now();
        let mut ticks = 0;
        let info = loop {
            tokio::select! {
                info = process.wait() => break info,
                _ = tokio::time::sleep(Duration::from_millis(20)) => ticks += 1,
            }
            assert!(started.elapsed() < EXIT_LIMIT, "no exit");
        };
        assert!(ticks > 5, "wait resolved too early ({ticks} ticks)");
        assert_eq!(info, ExitInfo::Code(5));
        assert_eq!(process.wait().await, ExitInfo::Code(5));
        let texts: Vec<String> = tail_lines(&spec.log_path, "t", 5)
            .unwrap()
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert_eq!(texts, ["done"]);
    })
}

fn stop_ends_a_program_with_sigterm() {
    block_on(async {
        let dir = test_dir("sigterm");
        let spec = sh_spec(dir.path(), "sleeper", "exec sleep 1000");
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let pid = process.pid();
        assert!(alive(pid));
        let started = Instant::now();
        let info = process.stop(Duration::from_secs(30)).await;
        assert_eq!(info, ExitInfo::Signal(Signal::SIGTERM as i32));
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{:?}",
            started.elapsed()
        );
        assert_gone_within(&[pid, process.group_id()], GONE_LIMIT);
    })
}

fn stop_kills_a_program_that_ignores_sigterm() {
    block_on(async {
        let dir = test_dir("stubborn");
        // The background sleep inherits the ignored SIGTERM.
        let spec = sh_spec(
            dir.path(),
            "stubborn",
            "trap '' TERM; sleep 1000 & echo $!; wait; wait; wait",
        );
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        // Once the pid is logged the trap is in place.
        let background = wait_for_logged_pid(&spec.log_path, EXIT_LIMIT);
        assert!(alive(background));
        let pid = process.pid();
        let started = Instant::now();
        let info = process.stop(Duration::from_secs(1)).await;
        let took = started.elapsed();
        assert_eq!(info, ExitInfo::Signal(Signal::SIGKILL as i32));
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took < Duration::from_secs(20), "{took:?}");
        assert_gone_within(&[pid, background, process.group_id()], GONE_LIMIT);
    })
}

fn stop_kills_descendants() {
    block_on(async {
        let dir = test_dir("descendants");
        let spec = sh_spec(dir.path(), "parent", "sleep 1000 & echo $!; wait");
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let background = wait_for_logged_pid(&spec.log_path, EXIT_LIMIT);
        assert!(alive(background));
        let info = process.stop(Duration::from_secs(30)).await;
        assert_eq!(info, ExitInfo::Signal(Signal::SIGTERM as i32));
        assert_gone_within(&[process.pid(), background], GONE_LIMIT);
    })
}

fn descendants_of_an_exited_program_are_killed() {
    block_on(async {
        let dir = test_dir("leftovers");
        let spec = sh_spec(dir.path(), "crash", "sleep 1000 & echo $!; exit 4");
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let info = timeout(EXIT_LIMIT, process.wait()).await.unwrap();
        assert_eq!(info, ExitInfo::Code(4));
        let background = wait_for_logged_pid(&spec.log_path, EXIT_LIMIT);
        assert_gone_within(&[background, process.group_id()], GONE_LIMIT);
    })
}

fn dropping_the_handle_kills_the_instance() {
    block_on(async {
        let dir = test_dir("drop");
        let spec = sh_spec(dir.path(), "dropped", "sleep 1000 & echo $!; wait");
        let process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let background = wait_for_logged_pid(&spec.log_path, EXIT_LIMIT);
        let pids = [process.pid(), background];
        assert!(pids.iter().all(|&p| alive(p)));
        drop(process);
        assert_gone_within(&pids, GONE_LIMIT);
    })
}

fn sigkilled_parent_leaves_no_instance_behind() {
    let dir = test_dir("orphan");
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .arg(ORPHAN_PARENT)
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(parent.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let mut cgroups_line = String::new();
    stdout.read_line(&mut cgroups_line).unwrap();
    let cgroups = parse_cgroups_line(&cgroups_line);
    let pids: Vec<u32> = line
        .strip_prefix("pids ")
        .unwrap_or_else(|| panic!("unexpected output {line:?}"))
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    let log = dir.path().join("logs/orphan.log");
    let background = wait_for_logged_pid(&log, EXIT_LIMIT);
    let (app, shim_pid) = (pids[0], pids[1]);
    for pid in [app, shim_pid, background] {
        assert!(alive(pid), "{pid} should run before the parent is killed");
    }

    parent.kill().unwrap(); // SIGKILL: no chance to clean up
    parent.wait().unwrap();
    assert_gone_within(&[app, background, shim_pid], GONE_LIMIT);

    // Its cgroups are left behind, until a later shoal cleans up stale ones.
    if cgroups.is_empty() {
        skip(
            "sigkilled_parent_leaves_no_instance_behind",
            "stale cgroup cleanup",
        );
        return;
    }
    assert!(cgroups.iter().all(|d| d.exists()), "{cgroups:?}");
    let stale = parents(&cgroups);
    let deadline = Instant::now() + GONE_LIMIT;
    while stale.iter().any(|d| d.exists()) && Instant::now() < deadline {
        cleanup_stale_cgroups();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        stale.iter().all(|d| !d.exists()),
        "stale cgroups left: {stale:?}"
    );
}

/// A program that writes 20 000 lines of about 65 bytes each as fast as it can.
const FAST_WRITER: &str = "i=0; while [ $i -lt 20000 ]; do \
    echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); done";

async fn run_fast_writer(dir: &Path, id: &str) -> shoal_runtime::LaunchSpec {
    let mut spec = sh_spec(dir, id, FAST_WRITER);
    spec.log_max_bytes = 64 * 1024;
    spec.log_keep = 2;
    let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
    let info = timeout(Duration::from_secs(300), process.wait())
        .await
        .unwrap();
    assert_eq!(info, ExitInfo::Code(0));
    spec
}

fn log_rotation_bounds_disk_use() {
    block_on(async {
        let dir = test_dir("rotation");
        let spec = run_fast_writer(dir.path(), "fast").await;
        let mut files: Vec<(String, u64)> = std::fs::read_dir(dir.path().join("logs"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                (name, e.metadata().unwrap().len())
            })
            .collect();
        files.sort();
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["fast.log", "fast.log.1", "fast.log.2"]);
        for (name, len) in &files {
            assert!(*len <= spec.log_max_bytes, "{name} has {len} bytes");
        }
        let last = tail_lines(&spec.log_path, "fast", 1).unwrap();
        assert_eq!(last[0].text, "line-19999-xxxxxxxxxxxxxxxxxxxxxxxx");
    })
}

fn tail_reads_across_rotated_files() {
    block_on(async {
        let dir = test_dir("tail");
        let spec = run_fast_writer(dir.path(), "tail").await;
        let current = std::fs::read_to_string(&spec.log_path)
            .unwrap()
            .lines()
            .count();
        let n = current + 500;
        let lines = tail_lines(&spec.log_path, "tail", n).unwrap();
        assert_eq!(lines.len(), n);
        let numbers: Vec<usize> = lines
            .iter()
            .map(|l| {
                assert_eq!(l.stream, LogStream::Out);
                l.text.split('-').nth(1).unwrap().parse().unwrap()
            })
            .collect();
        let expected: Vec<usize> = (20000 - n..20000).collect();
        assert_eq!(numbers, expected);
    })
}

fn start_failures_are_precise() {
    block_on(async {
        let dir = test_dir("start");
        let start_error = |result: Result<RunningProcess, RuntimeError>| match result {
            Err(RuntimeError::Start { message }) => message,
            other => panic!("expected a start error, got {other:?}"),
        };

        let mut spec = sh_spec(dir.path(), "missing", "");
        spec.program = "/nonexistent/program".into();
        let message = start_error(RunningProcess::spawn(&shim(), &spec).await);
        assert_eq!(message, "program not found: /nonexistent/program");

        let not_executable = dir.path().join("not-executable");
        std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&not_executable, std::fs::Permissions::from_mode(0o644)).unwrap();
        spec.program = not_executable.clone();
        let message = start_error(RunningProcess::spawn(&shim(), &spec).await);
        assert_eq!(
            message,
            format!("permission denied: {}", not_executable.display())
        );

        let mut spec = sh_spec(dir.path(), "nowhere", "true");
        spec.workdir = dir.path().join("no-such-dir");
        let message = start_error(RunningProcess::spawn(&shim(), &spec).await);
        assert_eq!(
            message,
            format!("working directory {}: not found", spec.workdir.display())
        );
    })
}

fn follower_sees_new_lines_across_rotation() {
    block_on(async {
        let dir = test_dir("follow");
        let mut spec = sh_spec(
            dir.path(),
            "follow",
            "i=0; while [ $i -lt 50 ]; do echo follow-$i; i=$((i+1)); sleep 0.1; done",
        );
        // About ten lines per file: several rotations while following.
        spec.log_max_bytes = 400;
        spec.log_keep = 2;
        let mut follower = LogFollower::new(&spec.log_path, "follow", true);
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let mut seen: Vec<usize> = Vec::new();
        let mut collect = |follower: &mut LogFollower| {
            for line in follower.poll().unwrap() {
                assert_eq!(line.instance_id, "follow");
                seen.push(line.text["follow-".len()..].parse().unwrap());
            }
        };
        let started = Instant::now();
        let info = loop {
            tokio::select! {
                info = process.wait() => break info,
                _ = tokio::time::sleep(Duration::from_millis(20)) => collect(&mut follower),
            }
            assert!(started.elapsed() < EXIT_LIMIT, "no exit");
        };
        collect(&mut follower);
        assert_eq!(info, ExitInfo::Code(0));
        assert!(spec.log_path.with_extension("log.2").exists());
        // In order, without duplicates, through to the end. A poll delayed past two rotations on
        // a very busy machine may skip lines, so only nearly all are required.
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&49), "{seen:?}");
        assert!(seen.len() >= 45, "{seen:?}");
    })
}

/// How long the CPU tests measure; the quota is enforced per 100 ms period.
const CPU_WINDOW: Duration = Duration::from_secs(2);

fn cpu_limit_caps_a_busy_loop() {
    block_on(async {
        let dir = test_dir("cpu");
        let mut spec = sh_spec(dir.path(), "busy", "while :; do :; done");
        spec.resources.cpu_limit = Some(0.5);
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let started = Instant::now();
        let reading = |process: &RunningProcess| {
            let usage = process.usage().unwrap();
            (usage.cpu_seconds, started.elapsed())
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let first = reading(&process);
        tokio::time::sleep(CPU_WINDOW).await;
        let second = reading(&process);
        let of_limit = cpu_percent(first, second, 0.5);
        let of_a_core = cpu_percent(first, second, 1.0);
        println!(
            "note: busy loop limited to 0.5 cores used {of_a_core:.1} % of a core \
             ({of_limit:.1} % of its limit; enforced: {})",
            process.limits_enforced()
        );
        // The /proc reading of the same group sees the loop too, whatever the mode.
        let group = process.group_id();
        let from_proc = process_group_usage(group, Some(group)).unwrap();
        assert!(from_proc.cpu_seconds > 0.0, "{from_proc:?}");

        if process.limits_enforced() {
            // The quota guarantees the upper bound. Below it the loop competes for the CPUs
            // with the other tests (and whatever else runs), so the lower bound is generous.
            assert!(
                (25.0..=65.0).contains(&of_a_core),
                "{of_a_core:.1} % of a core, limit 50 %"
            );
            assert!((50.0..=130.0).contains(&of_limit), "{of_limit:.1} %");
            let dirs: Vec<PathBuf> = process
                .cgroup_dirs()
                .into_iter()
                .map(Path::to_path_buf)
                .collect();
            assert!(
                !dirs.is_empty() && dirs.iter().all(|d| d.is_dir()),
                "{dirs:?}"
            );
            process.stop(Duration::from_secs(5)).await;
            assert!(
                dirs.iter().all(|d| !d.exists()),
                "left after stop: {dirs:?}"
            );
        } else {
            skip("cpu_limit_caps_a_busy_loop", "the limit check");
            assert!(of_a_core > 0.0, "{first:?} {second:?}");
            process.stop(Duration::from_secs(5)).await;
        }
        assert!(process.usage().is_err());
    })
}

fn memory_limit_kills_a_hog() {
    block_on(async {
        let dir = test_dir("hog");
        let mut spec = sh_spec(
            dir.path(),
            "hog",
            "exec python3 -c 'b = bytearray(256 * 1024 * 1024); import time; time.sleep(5)'",
        );
        spec.resources.memory_limit = Some(64 << 20);
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        if !process.limits_enforced() {
            skip("memory_limit_kills_a_hog", "the memory limit");
            process.stop(Duration::from_secs(1)).await;
            return;
        }
        let dirs: Vec<PathBuf> = process
            .cgroup_dirs()
            .into_iter()
            .map(Path::to_path_buf)
            .collect();
        let info = timeout(EXIT_LIMIT, process.wait()).await.unwrap();
        assert_eq!(info, ExitInfo::Signal(Signal::SIGKILL as i32));
        assert!(
            dirs.iter().all(|d| !d.exists()),
            "left after exit: {dirs:?}"
        );
    })
}

fn memory_usage_is_plausible() {
    block_on(async {
        let dir = test_dir("memory");
        let spec = sh_spec(
            dir.path(),
            "holder",
            "exec python3 -c 'import time; b = bytearray(50 * 1024 * 1024); \
             print(\"ready\", flush=True); time.sleep(30)'",
        );
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        wait_for_log_line(&spec.log_path, "ready", EXIT_LIMIT);
        let usage = process.usage().unwrap();
        let group = process.group_id();
        let from_proc = process_group_usage(group, Some(group)).unwrap();
        println!(
            "note: a python process holding 50 MiB uses {} MiB ({} MiB by /proc; enforced: {})",
            usage.memory_bytes >> 20,
            from_proc.memory_bytes >> 20,
            process.limits_enforced()
        );
        let sane = (45 << 20)..=(250 << 20);
        assert!(sane.contains(&usage.memory_bytes), "{usage:?}");
        assert!(sane.contains(&from_proc.memory_bytes), "{from_proc:?}");
        let dirs: Vec<PathBuf> = process
            .cgroup_dirs()
            .into_iter()
            .map(Path::to_path_buf)
            .collect();
        process.stop(Duration::from_secs(5)).await;
        assert!(
            dirs.iter().all(|d| !d.exists()),
            "left after stop: {dirs:?}"
        );
    })
}

fn proc_fallback_sums_the_process_group() {
    block_on(async {
        let dir = test_dir("proc");
        // A busy background process and an idle foreground one, both in the group.
        let spec = sh_spec(
            dir.path(),
            "pair",
            "(while :; do :; done) & echo $!; exec sleep 1000",
        );
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let busy = wait_for_logged_pid(&spec.log_path, EXIT_LIMIT);
        let group = process.group_id();
        let started = Instant::now();
        let first = process_group_usage(group, Some(group)).unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let second = process_group_usage(group, Some(group)).unwrap();
        let elapsed = started.elapsed();
        let used = second.cpu_seconds - first.cpu_seconds;
        assert!(used > 0.0, "{first:?} {second:?}");
        assert!(
            used <= elapsed.as_secs_f64() * 2.0 + 0.05,
            "{used} in {elapsed:?}"
        );
        assert!(second.memory_bytes > 0);
        // With the shim counted there is more memory.
        let with_shim = process_group_usage(group, None).unwrap();
        assert!(with_shim.memory_bytes > second.memory_bytes);

        process.stop(Duration::from_secs(5)).await;
        assert_gone_within(&[busy], GONE_LIMIT);
        let err = process_group_usage(group, None).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(process.usage().is_err());
    })
}

fn own_cgroups_are_removed_on_exit() {
    let dir = test_dir("own");
    let output = Command::new(std::env::current_exe().unwrap())
        .arg(OWN_CGROUPS)
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let cgroups = parse_cgroups_line(stdout.lines().next().unwrap_or_default());
    if cgroups.is_empty() {
        skip("own_cgroups_are_removed_on_exit", "the check");
        return;
    }
    let mut all = parents(&cgroups);
    all.extend(cgroups);
    assert!(dirs_gone_within(&all, Duration::ZERO), "left: {all:?}");
}

fn descendants_that_left_the_group_are_killed_with_the_cgroup() {
    block_on(async {
        let dir = test_dir("escapee");
        // `setsid` (not a group leader here) moves the sleep into a session and group of its own.
        let spec = sh_spec(dir.path(), "escapee", "setsid sleep 1000 & echo $!; wait");
        let mut process = RunningProcess::spawn(&shim(), &spec).await.unwrap();
        let escapee = wait_for_logged_pid(&spec.log_path, EXIT_LIMIT);
        if !process.limits_enforced() {
            skip(
                "descendants_that_left_the_group_are_killed_with_the_cgroup",
                "the check",
            );
            process.stop(Duration::from_secs(5)).await;
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(escapee as i32), Signal::SIGKILL);
            return;
        }
        // Wait until the sleep has left the group (setsid runs right after the fork).
        let deadline = Instant::now() + EXIT_LIMIT;
        while nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(escapee as i32)))
            .is_ok_and(|g| g.as_raw() as u32 == process.group_id())
        {
            assert!(Instant::now() < deadline, "sleep never left the group");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(alive(escapee));
        process.stop(Duration::from_secs(5)).await;
        assert_gone_within(&[escapee], GONE_LIMIT);
    })
}
