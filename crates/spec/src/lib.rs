//! `shoal.toml`: parsed in two stages (DESIGN principle 7). The raw TOML document is walked with
//! its spans so that every error — syntax, unknown key, wrong type, semantic conflict — is reported
//! at once with file:line:col and a hint, and nothing downstream ever sees an invalid value.
//!
//! Stage one (`walk`) reads the `toml_edit` tree by hand: unknown keys, wrong types and values
//! that do not parse. Stage two (`compile`) applies defaults and checks what involves several
//! values or the machine (instance counts, duplicate routes, executables, free ports).

mod compile;
mod diagnostic;
mod model;
mod units;
mod walk;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use diagnostic::{Diagnostic, Diagnostics};
pub use model::*;
pub use units::{parse_duration, parse_size};

/// Choices about how much of the machine a load may look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Check that `gateway.listen` and `admin.listen` can be bound right now. On when about to
    /// start; off for commands that only inspect a spec (and in tests).
    pub check_ports: bool,
    /// Check that each service's program exists and is executable. On to validate and start;
    /// off for clients that only need the admin address (a moved binary must not stop
    /// `shoal status` from reaching the running shoal).
    pub check_programs: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            check_ports: true,
            check_programs: true,
        }
    }
}

/// Reads and compiles the spec at `path`. A file that cannot be read is one diagnostic at 1:1.
pub fn load(path: &Path, opts: &LoadOptions) -> Result<Spec, Diagnostics> {
    match std::fs::read_to_string(path) {
        Ok(src) => parse(&src, path, opts),
        Err(e) => {
            let hint = match e.kind() {
                std::io::ErrorKind::NotFound => Some(
                    "run shoal in the directory that holds shoal.toml, or pass the spec's path"
                        .to_owned(),
                ),
                std::io::ErrorKind::InvalidData => Some("the spec must be UTF-8 text".to_owned()),
                _ => None,
            };
            Err(Diagnostic {
                file: path.to_path_buf(),
                line: 1,
                col: 1,
                message: format!("cannot read {}: {e}", path.display()),
                hint,
            }
            .into())
        }
    }
}

/// Compiles spec text. `path` is used in messages and to find the base directory (the directory
/// containing it, made absolute) that relative paths in the spec are resolved against.
pub fn parse(src: &str, path: &Path, opts: &LoadOptions) -> Result<Spec, Diagnostics> {
    let base_dir = base_dir(path);
    let mut w = walk::Walker::new(src, path);
    let doc = match toml_edit::ImDocument::parse(src) {
        Ok(doc) => doc,
        Err(e) => {
            w.syntax_error(&e);
            return Err(Diagnostics(w.into_diagnostics()));
        }
    };
    let cx = compile::Context {
        source: path,
        base_dir: &base_dir,
        check_ports: opts.check_ports,
        check_programs: opts.check_programs,
    };
    let spec = compile::compile(&mut w, &cx, &walk::TableRef::root(doc.as_table()));
    if w.has_errors() {
        Err(Diagnostics(w.into_diagnostics()))
    } else {
        Ok(spec)
    }
}

/// The absolute directory containing `path` (the current directory for a bare file name).
fn base_dir(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    compile::absolute(dir)
}
