//! The size-bounded log writer used by the shim.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::format::{format_line, timestamp_now, LogStream};
use super::rotated_path;

/// Rotated files beyond `keep` are looked for up to this number when a writer opens.
const MAX_STALE: u32 = 1000;

/// Appends formatted lines to a log file and rotates it by size, so an instance's disk use stays
/// bounded by about `(keep + 1) * max_bytes` however much it writes.
///
/// Writes are buffered; callers flush when their input has no more data at hand, which keeps
/// `shoal logs --follow` prompt without a system call per line for chatty programs.
pub(crate) struct RotatingWriter {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    /// `None` after a failed rotation or open; reopened on the next write.
    file: Option<BufWriter<File>>,
    /// Bytes in the current file, including buffered ones.
    size: u64,
}

impl RotatingWriter {
    /// Opens (appending to) `path`, creating parent directories as needed.
    pub(crate) fn open(path: &Path, max_bytes: u64, keep: u32) -> io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)?;
        }
        let mut writer = Self {
            path: path.to_path_buf(),
            max_bytes,
            keep,
            file: None,
            size: 0,
        };
        writer.remove_beyond_keep()?;
        writer.reopen()?;
        Ok(writer)
    }

    /// Removes rotated files numbered above `keep`, left by an earlier run with a larger `keep`
    /// (the spec's `logs.keep` was lowered), so the bound holds from the first line on.
    fn remove_beyond_keep(&self) -> io::Result<()> {
        let mut n = self.keep.saturating_add(1);
        // Rotation numbers files without gaps, so the first missing one ends the list.
        while n <= MAX_STALE && rotated_path(&self.path, n).exists() {
            remove_if_present(&rotated_path(&self.path, n))?;
            n += 1;
        }
        Ok(())
    }

    /// Writes one line, stamped with the current time. `text` excludes the newline.
    pub(crate) fn write_line(&mut self, stream: LogStream, text: &[u8]) -> io::Result<()> {
        let line = format_line(&timestamp_now(), stream, text);
        let len = line.len() as u64;
        if self.size > 0 && self.size.saturating_add(len) > self.max_bytes {
            self.rotate()?;
        }
        if self.file.is_none() {
            self.reopen()?;
        }
        let file = self.file.as_mut().expect("log file was just opened");
        // Count the line even if writing fails half-way, so a broken file still gets rotated.
        self.size = self.size.saturating_add(len);
        file.write_all(&line)
    }

    /// Pushes buffered lines to the file.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        match self.file.as_mut() {
            Some(file) => file.flush(),
            None => Ok(()),
        }
    }

    fn reopen(&mut self) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = file.metadata()?.len();
        self.file = Some(BufWriter::with_capacity(64 * 1024, file));
        Ok(())
    }

    /// `x.log.{keep-1}` → `x.log.{keep}`, ..., `x.log` → `x.log.1`, then a fresh `x.log`.
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut file) = self.file.take() {
            // The old file must be complete before it is renamed: a follower that sees the new
            // file reads the old one to its end one last time.
            file.flush()?;
        }
        if self.keep == 0 {
            remove_if_present(&self.path)?;
        } else {
            remove_if_present(&rotated_path(&self.path, self.keep))?;
            for n in (0..self.keep).rev() {
                match fs::rename(rotated_path(&self.path, n), rotated_path(&self.path, n + 1)) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        self.reopen()
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logfile::testdir::TestDir;

    fn lines_of(path: &Path) -> Vec<String> {
        fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.splitn(3, ' ').nth(2).unwrap().to_owned())
            .collect()
    }

    #[test]
    fn creates_parent_directories_and_appends() {
        let dir = TestDir::new("append");
        let path = dir.path().join("a/b/x.log");
        let mut w = RotatingWriter::open(&path, 1 << 20, 2).unwrap();
        w.write_line(LogStream::Out, b"one").unwrap();
        w.flush().unwrap();
        drop(w);
        let mut w = RotatingWriter::open(&path, 1 << 20, 2).unwrap();
        w.write_line(LogStream::Err, b"two").unwrap();
        w.flush().unwrap();
        assert_eq!(lines_of(&path), ["one", "two"]);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.lines().nth(1).unwrap().contains(" err two"));
    }

    #[test]
    fn rotation_keeps_files_bounded_and_ordered() {
        let dir = TestDir::new("rotate");
        let path = dir.path().join("x.log");
        let max = 1000;
        let mut w = RotatingWriter::open(&path, max, 2).unwrap();
        for i in 0..500 {
            w.write_line(LogStream::Out, format!("line-{i:04}").as_bytes())
                .unwrap();
        }
        w.flush().unwrap();
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["x.log", "x.log.1", "x.log.2"]);
        let mut all = Vec::new();
        for n in [2, 1, 0] {
            let p = rotated_path(&path, n);
            assert!(fs::metadata(&p).unwrap().len() <= max);
            all.extend(lines_of(&p));
        }
        assert_eq!(all.last().unwrap(), "line-0499");
        let first: usize = all[0]["line-".len()..].parse().unwrap();
        let expected: Vec<String> = (first..500).map(|i| format!("line-{i:04}")).collect();
        assert_eq!(all, expected);
    }

    #[test]
    fn a_lowered_keep_removes_the_extra_files_at_open() {
        let dir = TestDir::new("lowered-keep");
        let path = dir.path().join("x.log");
        let mut w = RotatingWriter::open(&path, 100, 4).unwrap();
        for i in 0..100 {
            w.write_line(LogStream::Out, format!("{i}").as_bytes())
                .unwrap();
        }
        w.flush().unwrap();
        drop(w);
        assert!(rotated_path(&path, 4).exists());
        let w = RotatingWriter::open(&path, 100, 1).unwrap();
        drop(w);
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["x.log", "x.log.1"]);
    }

    #[test]
    fn keep_zero_only_keeps_the_current_file() {
        let dir = TestDir::new("keep0");
        let path = dir.path().join("x.log");
        let mut w = RotatingWriter::open(&path, 100, 0).unwrap();
        for i in 0..50 {
            w.write_line(LogStream::Out, format!("{i}").as_bytes())
                .unwrap();
        }
        w.flush().unwrap();
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(lines_of(&path).last().unwrap(), "49");
    }

    #[test]
    fn a_line_longer_than_the_limit_gets_a_file_of_its_own() {
        let dir = TestDir::new("long");
        let path = dir.path().join("x.log");
        let mut w = RotatingWriter::open(&path, 50, 3).unwrap();
        w.write_line(LogStream::Out, b"short").unwrap();
        w.write_line(LogStream::Out, &[b'x'; 200]).unwrap();
        w.write_line(LogStream::Out, b"after").unwrap();
        w.flush().unwrap();
        assert_eq!(lines_of(&rotated_path(&path, 2)), ["short"]);
        assert_eq!(lines_of(&rotated_path(&path, 1))[0].len(), 200);
        assert_eq!(lines_of(&path), ["after"]);
    }
}
