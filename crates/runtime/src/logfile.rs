//! Per-instance log files: written by the shim, read back by `shoal logs`.
//!
//! Each line is `<RFC 3339 UTC timestamp with millis> <out|err> <text>`. The current file is
//! `x.log`; rotation renames it to `x.log.1` (and `x.log.1` to `x.log.2`, ...), so a larger
//! suffix means older lines.

mod follow;
mod format;
mod rotate;
mod tail;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use follow::LogFollower;
pub use format::{LogLine, LogStream};
pub(crate) use rotate::RotatingWriter;
pub use tail::tail_lines;

/// The `n`-th rotated file of `log_path` (`x.log` → `x.log.n`); `n = 0` is the current file.
pub(crate) fn rotated_path(log_path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return log_path.to_path_buf();
    }
    let mut name = OsString::from(log_path.as_os_str());
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[cfg(test)]
pub(crate) mod testdir {
    //! Scratch directories for unit tests.

    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A fresh directory, removed on drop.
    pub(crate) struct TestDir(PathBuf);

    impl TestDir {
        pub(crate) fn new(name: &str) -> Self {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "shoal-runtime-unit-{}-{n}-{name}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_names_append_a_number() {
        let p = Path::new("/data/logs/web-2.log");
        assert_eq!(rotated_path(p, 0), p);
        assert_eq!(rotated_path(p, 1), Path::new("/data/logs/web-2.log.1"));
        assert_eq!(rotated_path(p, 12), Path::new("/data/logs/web-2.log.12"));
    }
}
