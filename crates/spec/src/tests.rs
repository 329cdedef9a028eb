//! End-to-end tests of [`crate::parse`] / [`crate::load`]: valid specs compile to the right
//! values, invalid ones are reported at the right place.

mod deploy;
mod invalid;
mod logs;
mod tiers;
mod valid;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{parse, Diagnostic, LoadOptions, Spec};

/// Port checks off: tests must not depend on which ports happen to be free.
fn offline() -> LoadOptions {
    LoadOptions {
        check_ports: false,
        check_programs: true,
    }
}

/// Compiles `src` as if it were `/shoal.toml` (so the base directory is `/`).
fn compile_ok(src: &str) -> Spec {
    parse(src, Path::new("/shoal.toml"), &offline()).unwrap_or_else(|d| panic!("{d}"))
}

/// All diagnostics for `src` as if it were `/shoal.toml`.
fn diagnostics(src: &str) -> Vec<Diagnostic> {
    match parse(src, Path::new("/shoal.toml"), &offline()) {
        Ok(spec) => panic!("expected errors, got {spec:#?}"),
        Err(d) => d.0,
    }
}

/// Asserts that compiling `src` reports exactly one problem, at `line:col`, whose message
/// contains `message`. Returns it for further checks of the hint.
#[track_caller]
fn single_error(src: &str, line: usize, col: usize, message: &str) -> Diagnostic {
    let diags = diagnostics(src);
    let shown: Vec<String> = diags.iter().map(ToString::to_string).collect();
    assert_eq!(
        diags.len(),
        1,
        "expected one error, got:\n{}",
        shown.join("\n")
    );
    let d = diags.into_iter().next().unwrap();
    assert_eq!((d.line, d.col), (line, col), "wrong position for:\n{d}");
    assert!(
        d.message.contains(message),
        "wrong message:\n{d}\nwanted: {message}"
    );
    d
}

/// A fresh, empty directory under the system temp dir.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("shoal-spec-test-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
