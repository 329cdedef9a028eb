//! `shoal logs SERVICE`: every instance's output, read straight from the rotated log files in the
//! data dir (so it works for instances that have already stopped), interleaved by the time each
//! line was written, with an `id |` prefix for people or one JSON object per line for programs.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use shoal_runtime::{LogFollower, LogLine};
use time::macros::format_description;
use time::OffsetDateTime;

use crate::cli::Target;
use crate::client::Admin;
use crate::exit::Failure;

/// Lines shown per instance when neither `--lines` nor `--since` is given.
pub const DEFAULT_LINES: usize = 50;

/// How often `--follow` looks for new lines and new instances.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// What `shoal logs` was asked for.
#[derive(Debug, Clone)]
pub struct LogsOptions {
    /// Keep printing lines as they are written, from every instance, including new ones.
    pub follow: bool,
    /// The last N lines of each instance (default [`DEFAULT_LINES`], or all with `since`).
    pub lines: Option<usize>,
    /// Only lines written within this long before now.
    pub since: Option<Duration>,
    /// One JSON object per line instead of text.
    pub json: bool,
}

/// `shoal logs SERVICE [-f] [--lines N] [--since DURATION] [--json]`.
pub async fn logs(target: &Target, service: &str, opts: &LogsOptions) -> Result<(), Failure> {
    let mut admin = Admin::connect(target)?;
    let status = admin.get("/v1/status").await?;
    let known: Vec<String> = status["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["name"].as_str().map(str::to_string))
        .collect();
    if !known.iter().any(|k| k == service) {
        return Err(Failure::input(format!(
            "no service named {service:?} (services: {})",
            known.join(", ")
        )));
    }
    let log_dir = admin.data_dir().await?.join("logs");
    let mut printer = Printer::new(opts.json);
    let files = instance_logs(&log_dir, service)?;
    printer.widen(files.iter().map(|(id, _)| id.as_str()));

    let cutoff = opts.since.map(cutoff_timestamp);
    let lines = opts.lines.or(if cutoff.is_some() {
        None
    } else {
        Some(DEFAULT_LINES)
    });
    let mut merged = Vec::new();
    for (id, path) in &files {
        merged.extend(recent_lines(path, id, lines, cutoff.as_deref())?);
    }
    // Stable: lines of one instance with equal times keep their order.
    merged.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
    if printer.print_all(&merged).is_err() || !opts.follow {
        return Ok(());
    }

    let mut followers: BTreeMap<String, LogFollower> = files
        .iter()
        .map(|(id, path)| (id.clone(), LogFollower::new(path, id, true)))
        .collect();
    loop {
        tokio::time::sleep(FOLLOW_EVERY).await;
        // New instances (scale-out, a rollout) appear as new files: read them from their start.
        for (id, path) in instance_logs(&log_dir, service)? {
            if !followers.contains_key(&id) {
                printer.widen([id.as_str()]);
                followers.insert(id.clone(), LogFollower::new(&path, &id, false));
            }
        }
        let mut batch = Vec::new();
        for f in followers.values_mut() {
            batch.extend(f.poll()?);
        }
        batch.sort_by(|a, b| a.timestamp.cmp(&b.timestamp));
        if printer.print_all(&batch).is_err() {
            // The reader went away (`| head`): nothing more to do.
            return Ok(());
        }
    }
}

/// The last `lines` lines of one instance's log (all if `None`), only those written at or after
/// `cutoff` (a log timestamp) if given. Reads back through rotated files only as far as needed.
pub fn recent_lines(
    path: &Path,
    id: &str,
    lines: Option<usize>,
    cutoff: Option<&str>,
) -> Result<Vec<LogLine>, Failure> {
    let Some(cutoff) = cutoff else {
        return Ok(shoal_runtime::tail_lines(
            path,
            id,
            lines.unwrap_or(usize::MAX),
        )?);
    };
    // Read ever more from the end until the oldest line read is before the cutoff.
    let mut n = lines.unwrap_or(usize::MAX).min(1024);
    loop {
        let mut got = shoal_runtime::tail_lines(path, id, n)?;
        let exhausted = got.len() < n || lines.is_some_and(|max| n >= max);
        let reached = got
            .first()
            .is_some_and(|l| !l.timestamp.is_empty() && l.timestamp.as_str() < cutoff);
        if exhausted || reached {
            got.retain(|l| l.timestamp.as_str() >= cutoff);
            return Ok(got);
        }
        n = n.saturating_mul(4).min(lines.unwrap_or(usize::MAX));
    }
}

/// The log timestamp of `ago` before now, comparable as a string with the ones in log files.
pub fn cutoff_timestamp(ago: Duration) -> String {
    let ago = time::Duration::try_from(ago).unwrap_or(time::Duration::MAX);
    let at = OffsetDateTime::now_utc()
        .checked_sub(ago)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_default()
}

/// `(instance id, path)` of each current log file of `service` (`<service>-<n>.log`).
pub fn instance_logs(dir: &Path, service: &str) -> Result<Vec<(String, PathBuf)>, Failure> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Failure::op(format!("cannot read {}: {e}", dir.display()))),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".log") else {
            continue;
        };
        let Some(n) = id.strip_prefix(service).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        if n.parse::<u32>().is_ok() {
            out.push((id.to_string(), entry.path()));
        }
    }
    // web-2 before web-10.
    out.sort_by_key(|(id, _)| (id.len(), id.clone()));
    Ok(out)
}

/// One line as `shoal logs --json` prints it: `time` is null and `stream` left out for a line
/// that was not written by the shim (its time and stream are unknown).
pub fn line_json(l: &LogLine) -> Value {
    let mut v = json!({
        "time": if l.timestamp.is_empty() { Value::Null } else { json!(l.timestamp) },
        "instance": l.instance_id,
        "line": l.text,
    });
    if !l.timestamp.is_empty() {
        v["stream"] = json!(l.stream.as_str());
    }
    v
}

/// Writes lines to stdout, with the prefix aligned across instances and (on a terminal, unless
/// `NO_COLOR` is set) each instance in its own colour, as `pm2 logs` and `docker compose logs`.
struct Printer {
    json: bool,
    color: bool,
    width: usize,
}

impl Printer {
    fn new(json: bool) -> Self {
        let color = !json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR")
                .filter(|v| !v.is_empty())
                .is_none();
        Self {
            json,
            color,
            width: 0,
        }
    }

    fn widen<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) {
        for id in ids {
            self.width = self.width.max(id.len());
        }
    }

    /// Fails only when stdout is gone.
    fn print_all(&self, lines: &[LogLine]) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        for l in lines {
            if self.json {
                writeln!(out, "{}", line_json(l))?;
            } else {
                writeln!(out, "{}", format_line(l, self.width, self.color))?;
            }
        }
        out.flush()
    }
}

/// `web-1 | 2024-05-01T12:00:00.123Z text` (the id padded to `width`).
pub fn format_line(l: &LogLine, width: usize, color: bool) -> String {
    let id = format!("{:<width$}", l.instance_id);
    let id = if color {
        format!("\x1b[{}m{id}\x1b[0m", colour_of(&l.instance_id))
    } else {
        id
    };
    let mut s = format!("{id} | ");
    if !l.timestamp.is_empty() {
        if color {
            s.push_str(&format!("\x1b[2m{}\x1b[0m ", l.timestamp));
        } else {
            s.push_str(&l.timestamp);
            s.push(' ');
        }
    }
    s.push_str(&l.text);
    s
}

/// An ANSI foreground colour per instance, stable across runs.
fn colour_of(id: &str) -> u8 {
    const COLOURS: [u8; 6] = [36, 33, 32, 35, 34, 31];
    let n: usize = id.bytes().map(usize::from).sum();
    COLOURS[n % COLOURS.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoal_runtime::LogStream;

    fn line(id: &str, ts: &str, stream: LogStream, text: &str) -> LogLine {
        LogLine {
            instance_id: id.into(),
            timestamp: ts.into(),
            stream,
            text: text.into(),
        }
    }

    #[test]
    fn text_lines_have_an_aligned_prefix_and_the_time() {
        let l = line("web-1", "2024-05-01T12:00:00.123Z", LogStream::Err, "hello");
        assert_eq!(
            format_line(&l, 6, false),
            "web-1  | 2024-05-01T12:00:00.123Z hello"
        );
        let foreign = line("web-1", "", LogStream::Out, "raw");
        assert_eq!(format_line(&foreign, 5, false), "web-1 | raw");
        assert!(format_line(&l, 5, true).contains("\x1b["));
    }

    #[test]
    fn json_lines_carry_time_instance_stream_and_line() {
        let l = line(
            "web-2",
            "2024-05-01T12:00:00.123Z",
            LogStream::Err,
            "a \"q\"",
        );
        let v = line_json(&l);
        assert_eq!(
            v,
            json!({"time": "2024-05-01T12:00:00.123Z", "instance": "web-2", "stream": "err", "line": "a \"q\""})
        );
        let v = line_json(&line("web-2", "", LogStream::Out, "raw"));
        assert_eq!(v, json!({"time": null, "instance": "web-2", "line": "raw"}));
    }

    #[test]
    fn cutoff_is_a_comparable_log_timestamp() {
        let now = cutoff_timestamp(Duration::ZERO);
        let hour_ago = cutoff_timestamp(Duration::from_secs(3600));
        assert_eq!(now.len(), "2024-05-01T12:00:00.123Z".len(), "{now}");
        assert!(now.ends_with('Z'));
        assert!(hour_ago < now);
        assert_eq!(cutoff_timestamp(Duration::MAX), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn since_reads_back_through_rotated_files_as_far_as_needed() {
        let dir = std::env::temp_dir().join(format!("shoal-logs-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("web-1.log");
        let mut old = String::new();
        for i in 0..3000 {
            old.push_str(&format!("2024-05-01T11:00:00.000Z out old {i}\n"));
        }
        std::fs::write(dir.join("web-1.log.1"), old).unwrap();
        let mut new = String::new();
        for i in 0..2000 {
            new.push_str(&format!(
                "2024-05-01T12:00:{:02}.000Z err new {i}\n",
                i % 60
            ));
        }
        std::fs::write(&path, new).unwrap();
        let cutoff = Some("2024-05-01T11:30:00.000Z");
        let got = recent_lines(&path, "web-1", None, cutoff).unwrap();
        assert_eq!(got.len(), 2000);
        assert_eq!(got[0].text, "new 0");
        let got = recent_lines(&path, "web-1", Some(10), cutoff).unwrap();
        assert_eq!(got.len(), 10);
        assert_eq!(got[9].text, "new 1999");
        let got = recent_lines(&path, "web-1", None, Some("2024-05-01T10:00:00.000Z")).unwrap();
        assert_eq!(got.len(), 5000);
        let got = recent_lines(&path, "web-1", Some(7), None).unwrap();
        assert_eq!(got.len(), 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn instance_files_are_found_by_service_and_ordered_by_number() {
        let dir = std::env::temp_dir().join(format!("shoal-logs-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "web-10.log",
            "web-2.log",
            "web-2.log.1",
            "web-api-1.log",
            "web-x.log",
        ] {
            std::fs::write(dir.join(f), "").unwrap();
        }
        let ids: Vec<String> = instance_logs(&dir, "web")
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["web-2", "web-10"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
