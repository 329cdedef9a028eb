//! Reading the end of an instance's log across its rotated files.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::format::{parse_line, LogLine};
use super::rotated_path;

/// Rotated files beyond this suffix are not looked for.
const MAX_ROTATED: u32 = 1000;

/// Bytes read per step when scanning a file backwards.
const BLOCK: u64 = 64 * 1024;

/// The last `n` lines of an instance's log, oldest first, across the current file and its
/// rotated predecessors (`x.log.1`, `x.log.2`, ...). Only as much of each file as needed is read,
/// from the end. An unfinished last line of the current file (still being written) is left out.
/// A log that does not exist yet yields no lines.
pub fn tail_lines(log_path: &Path, instance_id: &str, n: usize) -> io::Result<Vec<LogLine>> {
    // Newest file first; each entry holds that file's lines in order.
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut needed = n;
    let mut index = 0;
    while needed > 0 && index <= MAX_ROTATED {
        let path = rotated_path(log_path, index);
        let file = match File::open(&path) {
            Ok(file) => file,
            // The current file is briefly missing during a rotation; rotated ones end the list.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if index == 0 {
                    index += 1;
                    continue;
                }
                break;
            }
            Err(e) => return Err(e),
        };
        let lines = last_lines(file, needed, index == 0)?;
        needed -= lines.len();
        chunks.push(lines);
        index += 1;
    }
    Ok(chunks
        .into_iter()
        .rev()
        .flatten()
        .map(|line| parse_line(instance_id, &line))
        .collect())
}

/// Up to `n` last lines of `file`, reading backwards in blocks.
fn last_lines(mut file: File, n: usize, drop_unfinished: bool) -> io::Result<Vec<String>> {
    let mut pos = file.metadata()?.len();
    // Blocks read so far, newest first.
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut newlines = 0;
    // Whether the fragment after the last newline has been cut off (or need not be).
    let mut trimmed = !drop_unfinished;
    // Enough once there are `n` complete lines plus the newline that ends the line before them.
    while pos > 0 && !(trimmed && newlines > n) {
        let step = BLOCK.min(pos);
        pos -= step;
        file.seek(SeekFrom::Start(pos))?;
        let mut block = vec![0; step as usize];
        file.read_exact(&mut block)?;
        if !trimmed {
            match block.iter().rposition(|&b| b == b'\n') {
                Some(i) => {
                    block.truncate(i + 1);
                    blocks.clear();
                    trimmed = true;
                }
                None => {
                    blocks.push(block);
                    continue;
                }
            }
        }
        newlines += block.iter().filter(|&&b| b == b'\n').count();
        blocks.push(block);
    }
    if !trimmed {
        // The whole file is one unfinished line.
        return Ok(Vec::new());
    }
    let mut buf: Vec<u8> = blocks.into_iter().rev().flatten().collect();
    if pos > 0 {
        // The first bytes belong to a line that started before `pos`.
        let start = buf
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len(), |i| i + 1);
        buf.drain(..start);
    }
    let text = String::from_utf8_lossy(&buf);
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let skip = lines.len().saturating_sub(n);
    Ok(lines[skip..].iter().map(|l| (*l).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logfile::testdir::TestDir;
    use crate::logfile::LogStream;
    use std::fs;

    fn texts(lines: &[LogLine]) -> Vec<String> {
        lines.iter().map(|l| l.text.clone()).collect()
    }

    /// Line `i` of a test log: `i` left-padded with zeros to `width` digits.
    fn padded(i: usize, width: usize) -> String {
        let digits = i.to_string();
        "0".repeat(width.saturating_sub(digits.len())) + &digits
    }

    fn write_file(path: &Path, range: std::ops::Range<usize>, width: usize) {
        let mut content = String::new();
        for i in range {
            content.push_str("2024-05-01T12:00:00.000Z out ");
            content.push_str(&padded(i, width));
            content.push('\n');
        }
        fs::write(path, content).unwrap();
    }

    #[test]
    fn missing_log_is_empty() {
        let dir = TestDir::new("tail-missing");
        assert!(tail_lines(&dir.path().join("x.log"), "x", 10)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn reads_across_rotated_files_oldest_first() {
        let dir = TestDir::new("tail-rotated");
        let path = dir.path().join("x.log");
        write_file(&rotated_path(&path, 2), 0..10, 8);
        write_file(&rotated_path(&path, 1), 10..20, 8);
        write_file(&path, 20..25, 8);
        let all: Vec<String> = (0..25).map(|i| padded(i, 8)).collect();
        for n in [0, 1, 5, 6, 15, 25, 100] {
            let got = tail_lines(&path, "web-1", n).unwrap();
            let want = &all[all.len().saturating_sub(n)..];
            assert_eq!(texts(&got), want, "n = {n}");
        }
        let got = tail_lines(&path, "web-1", 1).unwrap();
        assert_eq!(got[0].instance_id, "web-1");
        assert_eq!(got[0].stream, LogStream::Out);
        assert_eq!(got[0].timestamp, "2024-05-01T12:00:00.000Z");
    }

    #[test]
    fn large_files_are_read_from_the_end_in_blocks() {
        let dir = TestDir::new("tail-large");
        let path = dir.path().join("x.log");
        // Lines longer than a block and many blocks in total.
        write_file(&rotated_path(&path, 1), 0..40, 70_000);
        write_file(&path, 40..50, 70_000);
        let got = tail_lines(&path, "x", 12).unwrap();
        let want: Vec<String> = (38..50).map(|i| padded(i, 70_000)).collect();
        assert_eq!(texts(&got), want);
    }

    #[test]
    fn unfinished_last_line_of_current_file_is_left_out() {
        let dir = TestDir::new("tail-partial");
        let path = dir.path().join("x.log");
        write_file(&path, 0..3, 1);
        let mut content = fs::read(&path).unwrap();
        content.extend_from_slice(b"2024-05-01T12:00:00.000Z out half");
        fs::write(&path, &content).unwrap();
        assert_eq!(texts(&tail_lines(&path, "x", 2).unwrap()), ["1", "2"]);

        // Also when the fragment is longer than a block.
        let mut content = fs::read(&path).unwrap();
        content.extend(std::iter::repeat_n(b'y', 200_000));
        fs::write(&path, &content).unwrap();
        assert_eq!(texts(&tail_lines(&path, "x", 2).unwrap()), ["1", "2"]);
    }
}
