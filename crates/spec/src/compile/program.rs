//! Finding the executable a service runs, at validation time, so that a typo in `command` is a
//! spec error with a position instead of a crash loop after start.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::absolute;
use crate::walk::convert::Problem;

/// What is at a candidate path.
enum Found {
    Missing,
    Directory,
    NotExecutable,
    Executable,
}

fn inspect(path: &Path) -> Found {
    match std::fs::metadata(path) {
        Err(_) => Found::Missing,
        Ok(meta) if meta.is_dir() => Found::Directory,
        Ok(meta) if is_executable(&meta) => Found::Executable,
        Ok(_) => Found::NotExecutable,
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.is_file() && meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    meta.is_file()
}

/// Resolves `program` (a service's `command[0]`) to an absolute path of an executable file.
///
/// A name containing `/` is a path, relative to `base_dir` unless absolute. Any other name is
/// searched in each directory of `path_var` (the `PATH` value), like a shell does.
pub(crate) fn resolve(
    program: &str,
    base_dir: &Path,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, Problem> {
    let not_found = Problem::new(format!("command \"{program}\" not found"));
    // `command = ["sleep 1000"]`: the whole command line in one string is the likely mistake.
    if program.contains(char::is_whitespace) {
        let words: Vec<String> = program
            .split_whitespace()
            .map(|w| format!("\"{w}\""))
            .collect();
        if resolve(
            program.split_whitespace().next().unwrap_or_default(),
            base_dir,
            path_var,
        )
        .is_ok()
        {
            return Err(not_found.hint(format!(
                "command is not run by a shell, so each argument is its own string: [{}]",
                words.join(", ")
            )));
        }
    }

    if program.contains('/') {
        let candidate = absolute(&base_dir.join(program));
        return match inspect(&candidate) {
            Found::Executable => Ok(candidate),
            Found::Missing => Err(not_found.hint(format!(
                "looked for {} (relative paths are resolved against {})",
                candidate.display(),
                base_dir.display()
            ))),
            Found::Directory => Err(not_a_file(program, &candidate)),
            Found::NotExecutable => Err(not_executable(program, &candidate)),
        };
    }

    let mut not_executable_match = None;
    for dir in std::env::split_paths(path_var.unwrap_or_default()) {
        // An empty PATH entry means the current directory.
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(program);
        match inspect(&candidate) {
            Found::Executable => return Ok(absolute(&candidate)),
            Found::NotExecutable if not_executable_match.is_none() => {
                not_executable_match = Some(absolute(&candidate));
            }
            _ => {}
        }
    }
    if let Some(candidate) = not_executable_match {
        return Err(not_executable(program, &candidate));
    }
    let searched = if path_var.is_some_and(|p| !p.is_empty()) {
        "searched every directory on PATH"
    } else {
        "PATH is not set, so nothing was searched"
    };
    Err(not_found.hint(format!(
        "{searched}; install it, or give a path containing \"/\" such as \"./{program}\" (relative to the spec's directory)"
    )))
}

fn not_executable(program: &str, path: &Path) -> Problem {
    Problem::new(format!("command \"{program}\" is not executable")).hint(format!(
        "{} has no execute permission; run: chmod +x {}",
        path.display(),
        path.display()
    ))
}

fn not_a_file(program: &str, path: &Path) -> Problem {
    Problem::new(format!("command \"{program}\" is a directory")).hint(format!(
        "{} is a directory; point command at the program file inside it",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_relative_paths() {
        let root = Path::new("/");
        assert_eq!(resolve("/bin/sh", root, None), Ok(PathBuf::from("/bin/sh")));
        assert_eq!(resolve("bin/sh", root, None), Ok(PathBuf::from("/bin/sh")));
        assert_eq!(
            resolve("./bin/sh", root, None),
            Ok(PathBuf::from("/bin/sh"))
        );
        let err = resolve("./nope-not-here", Path::new("/tmp"), None).unwrap_err();
        assert_eq!(err.message, "command \"./nope-not-here\" not found");
        assert!(err.hint.unwrap().contains("/tmp/nope-not-here"));
        let err = resolve("/bin/", root, None).unwrap_err();
        assert!(err.message.contains("is a directory"), "{}", err.message);
    }

    #[test]
    fn path_search() {
        let path = std::ffi::OsString::from("/nonexistent-dir:/bin:/usr/bin");
        let found = resolve("sh", Path::new("/"), Some(&path)).unwrap();
        assert!(found.is_absolute() && found.ends_with("sh"), "{found:?}");
        let err = resolve("surely-no-such-program-xyz", Path::new("/"), Some(&path)).unwrap_err();
        assert!(err
            .hint
            .unwrap()
            .contains("searched every directory on PATH"));
        let err = resolve("sleep 1000", Path::new("/"), Some(&path)).unwrap_err();
        assert!(err.hint.unwrap().contains("[\"sleep\", \"1000\"]"));
        let err = resolve("sh", Path::new("/"), None).unwrap_err();
        assert!(err.hint.unwrap().contains("PATH is not set"));
    }
}
