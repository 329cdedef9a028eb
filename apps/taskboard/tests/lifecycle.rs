//! Process lifecycle: graceful shutdown on signals and command-line handling.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{wait_until, Launch, TempDir};
use serde_json::json;

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let dir = TempDir::new("sigterm");
    let mut server = Launch::new(&dir.db())
        .env("SHOAL_INSTANCE_ID", "web-1")
        .start();
    let port = server.port;

    let slow =
        std::thread::spawn(move || common::request(port, "GET", "/sleep?ms=1000", None, b""));
    // The metrics request itself is one; the sleep makes two.
    wait_until(Duration::from_secs(10), "the sleep to be in flight", || {
        server
            .metric("taskboard_in_flight_requests")
            .is_some_and(|n| n >= 2.0)
    });

    server.signal("TERM");
    let response = slow
        .join()
        .expect("client thread")
        .expect("in-flight request completes");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        json!({"instance": "web-1", "slept_ms": 1000})
    );

    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status}");
    let log = server.log();
    for line in ["listening on", "shutting down", "bye"] {
        assert!(log.contains(line), "missing {line:?} in log:\n{log}");
    }
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}

#[test]
fn sigint_exits_cleanly() {
    let dir = TempDir::new("sigint");
    let mut server = Launch::new(&dir.db()).start();
    server.signal("INT");
    let status = server.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status}");
    assert!(server.log().contains("bye"));
}

#[test]
fn unknown_arguments_exit_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_taskboard"))
        .arg("--frobnicate")
        .stdin(Stdio::null())
        .output()
        .expect("run taskboard");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown argument '--frobnicate'"),
        "{stderr}"
    );
    assert!(stderr.contains("USAGE"), "{stderr}");
}

#[test]
fn help_prints_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_taskboard"))
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .expect("run taskboard");
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("--port"), "{stdout}");
    assert!(stdout.contains("FAIL_RATE"), "{stdout}");
}
