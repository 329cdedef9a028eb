//! The format of one log line.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// Which of the program's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// Standard output.
    Out,
    /// Standard error.
    Err,
}

impl LogStream {
    /// The tag used in the log file.
    pub fn as_str(&self) -> &'static str {
        match self {
            LogStream::Out => "out",
            LogStream::Err => "err",
        }
    }
}

/// One line of an instance's output, read back from its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The instance the line belongs to (as given by the caller; the file does not repeat it).
    pub instance_id: String,
    /// When the shim read the line: RFC 3339 in UTC with milliseconds, e.g.
    /// `2024-05-01T12:00:00.123Z`. Empty if the line in the file was not in the expected format.
    pub timestamp: String,
    /// The stream the line came from.
    pub stream: LogStream,
    /// The line itself, without its newline.
    pub text: String,
}

const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The current time as written into the log.
pub(crate) fn timestamp_now() -> String {
    OffsetDateTime::now_utc()
        .format(TIMESTAMP)
        .unwrap_or_default()
}

/// One log file line, newline included. `text` must not contain a newline; invalid UTF-8 is
/// replaced so the file stays text.
pub(crate) fn format_line(timestamp: &str, stream: LogStream, text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let mut line = Vec::with_capacity(timestamp.len() + text.len() + 6);
    line.extend_from_slice(timestamp.as_bytes());
    line.push(b' ');
    line.extend_from_slice(stream.as_str().as_bytes());
    line.push(b' ');
    line.extend_from_slice(text.as_bytes());
    line.push(b'\n');
    line
}

/// Parses one log file line (without its newline). A line not in the expected format is kept
/// whole as stdout text with an empty timestamp rather than dropped.
pub(crate) fn parse_line(instance_id: &str, line: &str) -> LogLine {
    let parsed = line.split_once(' ').and_then(|(timestamp, rest)| {
        let (tag, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let stream = match tag {
            "out" => LogStream::Out,
            "err" => LogStream::Err,
            _ => return None,
        };
        let plausible = timestamp.len() >= 20 && timestamp.ends_with('Z');
        plausible.then(|| (timestamp.to_owned(), stream, text.to_owned()))
    });
    let (timestamp, stream, text) =
        parsed.unwrap_or_else(|| (String::new(), LogStream::Out, line.to_owned()));
    LogLine {
        instance_id: instance_id.to_owned(),
        timestamp,
        stream,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc_millis() {
        let ts = timestamp_now();
        assert_eq!(ts.len(), "2024-05-01T12:00:00.123Z".len(), "{ts}");
        assert!(ts.ends_with('Z'));
        assert_eq!(&ts[10..11], "T");
        assert_eq!(&ts[19..20], ".");
    }

    #[test]
    fn lines_round_trip() {
        let ts = "2024-05-01T12:00:00.123Z";
        for (stream, text) in [
            (LogStream::Out, "hello world"),
            (LogStream::Err, ""),
            (LogStream::Err, " leading  spaces "),
        ] {
            let line = format_line(ts, stream, text.as_bytes());
            let line = String::from_utf8(line).unwrap();
            let parsed = parse_line("web-1", line.strip_suffix('\n').unwrap());
            assert_eq!(
                parsed,
                LogLine {
                    instance_id: "web-1".into(),
                    timestamp: ts.into(),
                    stream,
                    text: text.into()
                }
            );
        }
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let line = format_line("2024-05-01T12:00:00.123Z", LogStream::Out, b"a\xffb");
        assert_eq!(line, "2024-05-01T12:00:00.123Z out a\u{fffd}b\n".as_bytes());
    }

    #[test]
    fn foreign_lines_are_kept_whole() {
        let parsed = parse_line("x", "something else entirely");
        assert_eq!(parsed.timestamp, "");
        assert_eq!(parsed.stream, LogStream::Out);
        assert_eq!(parsed.text, "something else entirely");
    }
}
