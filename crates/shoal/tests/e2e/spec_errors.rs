//! Invalid specs: every kind is reported with file:line:col, exit code 2, and nothing starts.

use std::process::Command;

use super::support::*;

/// `(what is wrong, spec text, expected "line:col", expected message fragment)`.
fn cases(
    taken_port: u16,
    not_executable: &str,
) -> Vec<(&'static str, String, &'static str, &'static str)> {
    let ok_cmd = r#"command = ["/bin/sleep", "1000"]"#;
    vec![
        ("toml syntax", "[services.web]\ncommand = [\"/bin/sleep\"\n".into(), "3:1", ""),
        ("unknown key", format!("[services.web]\n{ok_cmd}\nhelth = {{ path = \"/\" }}\n"), "3:1", "helth"),
        ("unknown nested key", format!("[services.web]\n{ok_cmd}\nhealth = {{ paht = \"/\" }}\n"), "3:12", "paht"),
        ("wrong type", format!("[services.web]\n{ok_cmd}\ninstances = {{ min = \"one\" }}\n"), "3:21", "expected"),
        ("bad duration", format!("[services.web]\n{ok_cmd}\nhealth = {{ interval = \"5 parsecs\" }}\n"), "3:23", "interval"),
        ("min > max", format!("[services.web]\n{ok_cmd}\ninstances = {{ min = 4, desired = 4, max = 2 }}\n"), "3:", "min"),
        ("zero threshold", format!("[services.web]\n{ok_cmd}\nhealth = {{ healthy_threshold = 0 }}\n"), "3:", "threshold"),
        ("timeout >= interval", format!("[services.web]\n{ok_cmd}\nhealth = {{ interval = \"1s\", timeout = \"2s\" }}\n"), "3:", "timeout"),
        ("empty command", "[services.web]\ncommand = []\n".into(), "2:11", "empty"),
        ("command not found", "[services.web]\ncommand = [\"no-such-program-anywhere\"]\n".into(), "2:12", "not found"),
        ("not executable", format!("[services.web]\ncommand = [\"{not_executable}\"]\n"), "2:12", "executable"),
        (
            "routes collide",
            format!("[services.a]\n{ok_cmd}\nroute = \"/api\"\n\n[services.b]\n{ok_cmd}\nroute = \"/api\"\n"),
            "7:9",
            "route",
        ),
        (
            "port in use",
            format!("[gateway]\nlisten = \"127.0.0.1:{taken_port}\"\n\n[services.web]\n{ok_cmd}\n"),
            "2:10",
            "in use",
        ),
        ("bad service name", format!("[services.Web_1]\n{ok_cmd}\n"), "1:", "name"),
        ("route without slash", format!("[services.web]\n{ok_cmd}\nroute = \"api\"\n"), "3:9", "/"),
        ("no services", "[gateway]\nlisten = \"127.0.0.1:18080\"\n".into(), "1:1", "no services"),
        ("reserved env", format!("[services.web]\n{ok_cmd}\nenv = {{ PORT = \"1\" }}\n"), "3:", "PORT"),
    ]
}

#[test]
fn every_kind_of_invalid_spec_names_file_line_and_column_and_exits_2() {
    // Hold a port so the "in use" case is real.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let dir = scratch("invalid");
    let plain_file = dir.join("plain.txt");
    std::fs::write(&plain_file, "not a program").unwrap();
    let all = cases(taken_port, plain_file.to_str().unwrap());
    assert!(all.len() >= 12);
    for (what, text, at, fragment) in all {
        let spec = dir.join("shoal.toml");
        std::fs::write(&spec, &text).unwrap();
        let out = shoal_on("validate", &spec);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: exit code; stderr:\n{err}"
        );
        let location = format!("shoal.toml:{at}");
        assert!(
            err.contains(&location),
            "{what}: expected {location} in:\n{err}"
        );
        assert!(
            err.contains(fragment),
            "{what}: expected {fragment:?} in:\n{err}"
        );
        assert!(!err.contains("panicked"), "{what}: panic:\n{err}");
    }
    drop(taken);
}

#[test]
fn several_errors_are_reported_at_once() {
    let dir = scratch("several");
    let spec = dir.join("shoal.toml");
    std::fs::write(
        &spec,
        "[services.web]\ncommand = []\nhelth = 1\ninstances = { min = 3, max = 1 }\n",
    )
    .unwrap();
    let out = shoal_on("validate", &spec);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for at in ["shoal.toml:2:", "shoal.toml:3:", "shoal.toml:4:"] {
        assert!(err.contains(at), "missing {at} in:\n{err}");
    }
}

#[test]
fn up_with_an_invalid_spec_starts_nothing() {
    let dir = scratch("up-invalid");
    let spec = dir.join("shoal.toml");
    let marker = dir.join("started");
    // The command would create a file if it ever ran; the spec is invalid elsewhere.
    std::fs::write(
        &spec,
        format!(
            "[admin]\ndata_dir = \"data\"\n\n[services.web]\ncommand = [\"/usr/bin/touch\", \"{}\"]\ninstances = {{ min = 2, max = 1 }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let out = shoal_on("up", &spec);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(!marker.exists(), "an instance ran despite the invalid spec");
    assert!(
        !dir.join("data").exists(),
        "shoal created its data dir despite the invalid spec"
    );
}

#[test]
fn a_valid_spec_validates() {
    let dir = scratch("valid");
    let spec = dir.join("shoal.toml");
    let (g, a) = (free_port(), free_port());
    std::fs::write(
        &spec,
        format!("[gateway]\nlisten = \"127.0.0.1:{g}\"\n[admin]\nlisten = \"127.0.0.1:{a}\"\n[services.web]\ncommand = [\"/bin/sleep\", \"1000\"]\nroute = \"/\"\n"),
    )
    .unwrap();
    let out = shoal_on("validate", &spec);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn bad_arguments_exit_2_with_help() {
    for args in [
        vec!["frobnicate"],
        vec!["scale"],
        vec!["status", "--output", "xml"],
    ] {
        let out = Command::new(shoal_bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
    }
    let out = Command::new(shoal_bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for verb in ["up", "validate", "status", "scale", "logs", "down"] {
        assert!(help.contains(verb), "--help lacks {verb}");
    }
}

/// Runs `shoal VERB -f SPEC` to completion.
fn shoal_on(verb: &str, spec: &std::path::Path) -> std::process::Output {
    Command::new(shoal_bin())
        .args([verb, "-f"])
        .arg(spec)
        .output()
        .unwrap()
}
