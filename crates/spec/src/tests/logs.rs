//! `logs = { max_size, keep }`: the per-instance log bound.

use super::{compile_ok, diagnostics, single_error};
use crate::LogsSpec;

const WEB: &str = "[services.web]\ncommand = [\"/bin/sleep\"]\n";

#[test]
fn defaults_are_ten_mebibytes_and_three_files() {
    let spec = compile_ok(WEB);
    let logs = spec.services["web"].logs;
    assert_eq!(logs, LogsSpec::default());
    assert_eq!((logs.max_size, logs.keep), (10 << 20, 3));
    assert_eq!(logs.disk_bound(), 40 << 20);
}

#[test]
fn given_values_in_every_form() {
    let spec = compile_ok(&format!(
        "{WEB}logs = {{ max_size = \"256KiB\", keep = 2 }}\n"
    ));
    assert_eq!(
        spec.services["web"].logs,
        LogsSpec {
            max_size: 256 << 10,
            keep: 2
        }
    );
    assert_eq!(spec.services["web"].logs.disk_bound(), 768 << 10);

    // A standard table, a bare byte count, keep = 0 and one key left to its default.
    let spec = compile_ok(&format!("{WEB}[services.web.logs]\nmax_size = 4096\n"));
    assert_eq!(
        spec.services["web"].logs,
        LogsSpec {
            max_size: 4096,
            keep: 3
        }
    );
    let spec = compile_ok(&format!("{WEB}logs.keep = 0\n"));
    assert_eq!(spec.services["web"].logs.keep, 0);
    assert_eq!(spec.services["web"].logs.max_size, 10 << 20);
}

#[test]
fn too_small_a_file_is_refused_with_a_hint() {
    let d = single_error(
        &format!("{WEB}logs = {{ max_size = \"1KiB\" }}\n"),
        3,
        21,
        "logs.max_size must be at least 4KiB (4096 bytes), found 1024 bytes",
    );
    assert!(d.hint.as_deref().unwrap_or("").contains("\"10MiB\""), "{d}");
}

#[test]
fn bad_values_are_reported_where_written() {
    single_error(
        &format!("{WEB}logs = {{ max_size = \"10 parsecs\" }}\n"),
        3,
        21,
        "logs.max_size: invalid size",
    );
    single_error(
        &format!("{WEB}logs = {{ keep = 101 }}\n"),
        3,
        17,
        "logs.keep must be at most 100, found 101",
    );
    single_error(
        &format!("{WEB}logs = {{ keep = -1 }}\n"),
        3,
        17,
        "logs.keep",
    );
    single_error(
        &format!("{WEB}logs = \"10MiB\"\n"),
        3,
        8,
        "expected a table, found string",
    );
}

#[test]
fn unknown_keys_get_a_suggestion_and_every_error_is_reported() {
    let d = single_error(
        &format!("{WEB}logs = {{ maxsize = \"1MiB\" }}\n"),
        3,
        10,
        "unknown key \"maxsize\" in [services.web.logs]",
    );
    assert!(
        d.hint
            .as_deref()
            .unwrap_or("")
            .starts_with("did you mean \"max_size\"?"),
        "{d}"
    );
    let diags = diagnostics(&format!(
        "{WEB}logs = {{ max_size = \"1KiB\", keep = 1000 }}\n"
    ));
    let at: Vec<(usize, usize)> = diags.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(at, [(3, 21), (3, 36)], "{diags:#?}");
}
