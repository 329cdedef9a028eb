//! Following an instance's log as it grows (`shoal logs --follow`).

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::format::{parse_line, LogLine};

/// At most this much is read per [`LogFollower::poll`], so one poll's memory stays bounded.
const MAX_READ_PER_POLL: u64 = 8 * 1024 * 1024;

/// A line without a newline longer than this is handed out in pieces.
const MAX_PARTIAL: usize = 1024 * 1024;

/// Identifies a file independently of its name, to notice that rotation replaced it.
type FileId = (u64, u64);

fn file_id(meta: &fs::Metadata) -> FileId {
    (meta.dev(), meta.ino())
}

/// Yields the complete lines appended to an instance's log since the previous call.
///
/// Poll-based so it needs no file-watching machinery: the caller sleeps between calls. It copes
/// with rotation: when the log's name points at a new file, the rest of the old file is read and
/// then the new one from its start. Lines of a rotated file that was itself rotated away again
/// before the next poll are skipped, so poll at least a few times per second.
pub struct LogFollower {
    path: PathBuf,
    instance_id: String,
    /// The file being read and its identity.
    file: Option<(File, FileId)>,
    /// How far `file` has been read.
    offset: u64,
    /// Bytes after the last newline read so far.
    partial: Vec<u8>,
    /// Started at the end of a file whose last line was unfinished: drop the rest of that line.
    skip_to_newline: bool,
}

impl LogFollower {
    /// Follows `log_path`. With `from_end`, only lines appended from now on are returned;
    /// otherwise the current file is returned from its start first. A log that does not exist
    /// yet is picked up, from its start, when it appears.
    pub fn new(log_path: &Path, instance_id: &str, from_end: bool) -> Self {
        let mut follower = Self {
            path: log_path.to_path_buf(),
            instance_id: instance_id.to_owned(),
            file: None,
            offset: 0,
            partial: Vec::new(),
            skip_to_newline: false,
        };
        if from_end {
            if let Ok(mut file) = File::open(log_path) {
                if let Ok(meta) = file.metadata() {
                    let len = meta.len();
                    follower.offset = len;
                    follower.skip_to_newline = len > 0 && !ends_with_newline(&mut file, len);
                    follower.file = Some((file, file_id(&meta)));
                }
            }
        }
        follower
    }

    /// The complete lines appended since the last call, in order.
    pub fn poll(&mut self) -> io::Result<Vec<LogLine>> {
        let mut out = Vec::new();
        // Look at the name first: once it points at a new file, the old one is final (the writer
        // flushes it before renaming), so reading it to its end below loses nothing.
        let named = match fs::metadata(&self.path) {
            Ok(meta) => Some(file_id(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let drained = self.read_available(&mut out)?;
        let current = self.file.as_ref().map(|(_, id)| *id);
        if let Some(named) = named {
            if current != Some(named) && drained {
                self.switch_to_named_file(&mut out)?;
            }
        }
        Ok(out)
    }

    /// Opens the file now at the log's path and reads it from its start.
    fn switch_to_named_file(&mut self, out: &mut Vec<LogLine>) -> io::Result<()> {
        if !self.partial.is_empty() {
            // The old file ended without a newline; what is there is all there will be.
            let rest = std::mem::take(&mut self.partial);
            self.emit(&rest, out);
        }
        self.file = None;
        self.offset = 0;
        self.skip_to_newline = false;
        let file = match File::open(&self.path) {
            Ok(file) => file,
            // Rotated again in between; the next poll picks up the newest file.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let id = file_id(&file.metadata()?);
        self.file = Some((file, id));
        self.read_available(out)?;
        Ok(())
    }

    /// Reads what was appended to the current file; `true` if it was read to its end.
    fn read_available(&mut self, out: &mut Vec<LogLine>) -> io::Result<bool> {
        let Some((file, _)) = self.file.as_mut() else {
            return Ok(true);
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated in place: start over.
            self.offset = 0;
            self.partial.clear();
            self.skip_to_newline = false;
        }
        if len == self.offset {
            return Ok(true);
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut data = Vec::new();
        let read = file.take(MAX_READ_PER_POLL).read_to_end(&mut data)?;
        self.offset += read as u64;
        self.take_lines(&data, out);
        Ok((read as u64) < MAX_READ_PER_POLL)
    }

    fn take_lines(&mut self, mut data: &[u8], out: &mut Vec<LogLine>) {
        if self.skip_to_newline {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    data = &data[i + 1..];
                    self.skip_to_newline = false;
                }
                None => return,
            }
        }
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.emit(&data[..i], out);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&data[..i]);
                self.emit(&line, out);
            }
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
        if self.partial.len() > MAX_PARTIAL {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line, out);
        }
    }

    fn emit(&self, line: &[u8], out: &mut Vec<LogLine>) {
        out.push(parse_line(
            &self.instance_id,
            &String::from_utf8_lossy(line),
        ));
    }
}

fn ends_with_newline(file: &mut File, len: u64) -> bool {
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1)).is_ok()
        && file.read_exact(&mut last).is_ok()
        && last[0] == b'\n'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logfile::testdir::TestDir;
    use crate::logfile::{rotated_path, LogStream, RotatingWriter};
    use std::io::Write;

    fn texts(lines: Vec<LogLine>) -> Vec<String> {
        lines.into_iter().map(|l| l.text).collect()
    }

    fn append(path: &Path, raw: &str) {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(raw.as_bytes()).unwrap();
    }

    #[test]
    fn sees_appended_lines_only_when_complete() {
        let dir = TestDir::new("follow-append");
        let path = dir.path().join("x.log");
        let mut f = LogFollower::new(&path, "x", true);
        assert!(f.poll().unwrap().is_empty());
        append(
            &path,
            "2024-05-01T12:00:00.000Z out one\n2024-05-01T12:00:00.000Z err tw",
        );
        let got = f.poll().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].text, "one");
        assert_eq!(got[0].instance_id, "x");
        append(&path, "o\n");
        let got = f.poll().unwrap();
        assert_eq!(got[0].stream, LogStream::Err);
        assert_eq!(got[0].text, "two");
        assert!(f.poll().unwrap().is_empty());
    }

    #[test]
    fn from_end_skips_existing_lines_and_unfinished_line() {
        let dir = TestDir::new("follow-from-end");
        let path = dir.path().join("x.log");
        append(&path, "old\nhalf-");
        let mut from_end = LogFollower::new(&path, "x", true);
        let mut from_start = LogFollower::new(&path, "x", false);
        append(&path, "done\nnew\n");
        assert_eq!(texts(from_end.poll().unwrap()), ["new"]);
        assert_eq!(
            texts(from_start.poll().unwrap()),
            ["old", "half-done", "new"]
        );
    }

    #[test]
    fn survives_rotation_and_truncation() {
        let dir = TestDir::new("follow-rotate");
        let path = dir.path().join("x.log");
        let mut writer = RotatingWriter::open(&path, 200, 3).unwrap();
        let mut follower = LogFollower::new(&path, "x", false);
        let mut seen = Vec::new();
        for i in 0..100 {
            writer
                .write_line(LogStream::Out, format!("line-{i}").as_bytes())
                .unwrap();
            writer.flush().unwrap();
            if i % 2 == 0 {
                seen.extend(texts(follower.poll().unwrap()));
            }
        }
        seen.extend(texts(follower.poll().unwrap()));
        let want: Vec<String> = (0..100).map(|i| format!("line-{i}")).collect();
        assert_eq!(seen, want);
        assert!(rotated_path(&path, 3).exists());

        drop(writer);
        fs::write(&path, "").unwrap();
        append(&path, "after truncation\n");
        assert_eq!(texts(follower.poll().unwrap()), ["after truncation"]);
    }

    #[test]
    fn waits_for_a_log_that_does_not_exist_yet() {
        let dir = TestDir::new("follow-late");
        let path = dir.path().join("x.log");
        let mut f = LogFollower::new(&path, "x", true);
        assert!(f.poll().unwrap().is_empty());
        append(&path, "first\n");
        assert_eq!(texts(f.poll().unwrap()), ["first"]);
    }
}
