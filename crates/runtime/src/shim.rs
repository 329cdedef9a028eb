//! The shim: the small supervisor process that runs one instance's program.
//!
//! It is shoal's own binary, started by [`crate::RunningProcess::spawn`] as the leader of a new
//! process group with a pipe on its stdin whose write end only shoal holds. It
//!
//! 1. when shoal passed its parent cgroups, creates the instance run's cgroup with the limits
//!    and moves itself in, so the program starts inside (or reports `nolimits <reason>` and goes
//!    on without);
//! 2. starts the program in its process group (stdin `/dev/null`, stdout and stderr piped) and
//!    reports `pid <N>` on its stdout, the control channel;
//! 3. copies the program's output into the instance's rotating log file;
//! 4. `SIGKILL`s its whole process group as soon as its stdin reports end-of-file, which happens
//!    when shoal is gone however it ended — this is what keeps instances from outliving shoal;
//! 5. survives `SIGTERM`, `SIGINT` and `SIGHUP`, which shoal sends to the whole group to stop the
//!    program gracefully, so it can report how the program ended;
//! 6. when the program ended, reports `exit code <N>` or `exit signal <S>` and then `SIGKILL`s
//!    its group, so background processes left behind by the program do not linger.
//!
//! It is synchronous (plain threads, no async runtime) to stay small and predictable.

mod args;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::{getpgrp, getpid, setpgid, Pid};

pub(crate) use args::ShimArgs;

use crate::cgroup;
use crate::exit::ExitInfo;
use crate::logfile::{LogStream, RotatingWriter};
use crate::protocol::ControlMsg;

/// Longer output lines are split into pieces of this size.
const MAX_LINE: usize = 16 * 1024;

/// How long to wait, after the program exited, for its output to be drained. Background processes
/// it left behind may keep the pipes open indefinitely.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(500);

/// Exit code of the shim when the program could not be started (as shells do).
const START_FAILED: i32 = 127;

/// Exit code of the shim when its command line is invalid.
const USAGE: i32 = 2;

/// Entry point of the hidden `__shim` subcommand; `args` are the arguments after it.
///
/// Never returns: the process ends by killing its own process group once the program has exited
/// (or with an exit code mirroring the program's status should that fail).
pub fn shim_main(args: Vec<String>) -> ! {
    let code = run(args);
    std::process::exit(code)
}

fn run(args: Vec<String>) -> i32 {
    let args = match ShimArgs::parse(args) {
        Ok(args) => args,
        Err(e) => {
            send(&ControlMsg::Error(format!(
                "invalid instance supervisor arguments: {e}"
            )));
            return USAGE;
        }
    };
    if let Err(message) = prepare_process() {
        send(&ControlMsg::Error(message));
        return START_FAILED;
    }
    // Before anything else is started: children inherit the cgroup when they are created.
    if let Some(parents) = &args.cgroups {
        if let Err(reason) = cgroup::enter(parents, &args.instance, args.resources) {
            send(&ControlMsg::NoLimits(reason));
        }
    }
    let writer = match RotatingWriter::open(Path::new(&args.log), args.max_bytes, args.keep) {
        Ok(writer) => Arc::new(Mutex::new(writer)),
        Err(e) => {
            send(&ControlMsg::Error(format!(
                "cannot open log file {}: {}",
                args.log,
                describe_io(&e)
            )));
            return START_FAILED;
        }
    };
    let mut child = match start_program(&args) {
        Ok(child) => child,
        Err(message) => {
            send(&ControlMsg::Error(message));
            return START_FAILED;
        }
    };

    // `false` from a reader that reached end-of-file, `true` from the drain deadline.
    let (done_tx, done_rx) = mpsc::channel::<bool>();
    let mut readers = 0;
    let stdout = child
        .stdout
        .take()
        .map(|s| (Box::new(s) as Box<dyn Read + Send>, LogStream::Out));
    let stderr = child
        .stderr
        .take()
        .map(|s| (Box::new(s) as Box<dyn Read + Send>, LogStream::Err));
    for (source, stream) in [stdout, stderr].into_iter().flatten() {
        let writer = Arc::clone(&writer);
        let done = done_tx.clone();
        let instance = args.instance.clone();
        let spawned = thread::Builder::new()
            .name(format!("shim-{}", stream.as_str()))
            .spawn(move || {
                copy_lines(source, stream, &writer, &instance);
                let _ = done.send(false);
            });
        match spawned {
            Ok(_) => readers += 1,
            Err(e) => {
                // Without a reader the program would block on a full pipe; do not run it.
                let _ = child.kill();
                let _ = child.wait();
                send(&ControlMsg::Error(format!(
                    "cannot start output reader: {e}"
                )));
                return START_FAILED;
            }
        }
    }
    send(&ControlMsg::Pid(child.id()));

    let status = wait_child(&mut child);
    let info = ExitInfo::from_status(status);

    // Give the readers a moment to drain what the program wrote last.
    let deadline = done_tx;
    let _ = thread::Builder::new()
        .name("shim-drain-deadline".into())
        .spawn(move || {
            thread::sleep(DRAIN_TIMEOUT);
            let _ = deadline.send(true);
        });
    for _ in 0..readers {
        // The timeout only matters should the deadline thread have failed to start.
        match done_rx.recv_timeout(DRAIN_TIMEOUT) {
            Ok(false) => {}
            Ok(true) | Err(_) => break,
        }
    }
    if let Err(e) = lock(&writer).flush() {
        eprintln!("shoal shim [{}]: cannot write log: {e}", args.instance);
    }

    send(&ControlMsg::Exit(info));
    kill_own_group();
    info.mirrored_exit_code()
}

/// Makes this process a group leader that survives termination signals and kills its group when
/// shoal goes away.
fn prepare_process() -> Result<(), String> {
    // Killing "our group" must never hit shoal's own group, even if started without a group.
    if getpgrp() != getpid() {
        setpgid(Pid::from_raw(0), Pid::from_raw(0))
            .map_err(|e| format!("cannot create a process group: {e}"))?;
    }
    // Replace the default action (terminate) of the signals shoal and terminals send; the
    // program gets the default actions back when it is executed.
    for signal in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::new(AtomicBool::new(false)))
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
    }
    thread::Builder::new()
        .name("shim-watchdog".into())
        .spawn(watch_parent)
        .map_err(|e| format!("cannot start watchdog thread: {e}"))?;
    Ok(())
}

/// Blocks until stdin reports end-of-file or an error, which means shoal (the only holder of the
/// pipe's write end) is gone, then kills the whole group.
fn watch_parent() {
    let mut stdin = io::stdin().lock();
    let mut buf = [0u8; 256];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    kill_own_group();
}

fn kill_own_group() {
    let _ = killpg(getpgrp(), Signal::SIGKILL);
}

fn start_program(args: &ShimArgs) -> Result<Child, String> {
    let workdir = Path::new(&args.workdir);
    match std::fs::metadata(workdir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "working directory is not a directory: {}",
                args.workdir
            ))
        }
        Err(e) => {
            return Err(format!(
                "working directory {}: {}",
                args.workdir,
                describe_io(&e)
            ))
        }
    }
    let program = Path::new(&args.program);
    if std::fs::metadata(program).is_ok_and(|meta| meta.is_dir()) {
        return Err(format!("program is a directory: {}", args.program));
    }
    // The open-file limit shoal started with, not the one it raised for itself.
    crate::nofile::restore_for_program(
        std::env::var(crate::nofile::INSTANCE_NOFILE_ENV)
            .ok()
            .as_deref(),
    );
    Command::new(program)
        .args(&args.args)
        .env_remove(crate::nofile::INSTANCE_NOFILE_ENV)
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| describe_spawn_error(&args.program, &e))
}

fn describe_spawn_error(program: &str, e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound if Path::new(program).exists() => {
            format!("cannot execute {program}: its interpreter or loader was not found")
        }
        io::ErrorKind::NotFound => format!("program not found: {program}"),
        io::ErrorKind::PermissionDenied => format!("permission denied: {program}"),
        _ => format!("cannot execute {program}: {}", describe_io(e)),
    }
}

/// An I/O error as a short phrase, without the "(os error N)" suffix.
fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "not found".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(i) => text[..i].to_owned(),
                None => text,
            }
        }
    }
}

fn wait_child(child: &mut Child) -> ExitStatus {
    loop {
        match child.wait() {
            Ok(status) => return status,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Cannot happen for our own child; without a status the group is killed.
                send(&ControlMsg::Exit(ExitInfo::Lost));
                eprintln!("shoal shim: cannot wait for the program: {e}");
                kill_own_group();
                std::process::exit(255);
            }
        }
    }
}

/// Copies `source` line by line into the log until end-of-file.
fn copy_lines(
    source: Box<dyn Read + Send>,
    stream: LogStream,
    writer: &Mutex<RotatingWriter>,
    instance: &str,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, source);
    let mut line = Vec::with_capacity(1024);
    let mut after_split = false;
    let mut reported_error = false;
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
        let complete = line.last() == Some(&b'\n');
        if complete && after_split && line.len() == 1 {
            // The newline ending a line that was just split at the size limit.
            after_split = false;
            continue;
        }
        after_split = !complete;
        if complete {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let mut log = lock(writer);
        let mut result = log.write_line(stream, &line);
        // Flush when nothing else is at hand, so followers see lines promptly.
        if result.is_ok() && reader.buffer().is_empty() {
            result = log.flush();
        }
        drop(log);
        // Keep draining the pipe even if the log cannot be written (disk full, ...): a program
        // blocked on a full pipe would hang.
        if let Err(e) = result {
            if !reported_error {
                reported_error = true;
                eprintln!("shoal shim [{instance}]: cannot write log: {e}");
            }
        }
    }
}

fn lock(writer: &Mutex<RotatingWriter>) -> MutexGuard<'_, RotatingWriter> {
    writer
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes one control message to stdout. Failures are ignored: they mean shoal is gone, and the
/// watchdog takes care of that.
fn send(msg: &ControlMsg) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(msg.encode().as_bytes());
    let _ = out.flush();
}
