//! `LOG_SPAM_BPS`: write that many bytes per second of filler lines to stdout, so tests can
//! check that an orchestrator's log rotation keeps disk use bounded under a program that logs
//! fast (the most common complaint about PM2), without a second program to start.

use std::io::Write;
use std::time::Duration;

use tokio::time::Instant;

/// Every filler line has this many bytes, newline included, so a rate is easy to check.
pub const LINE_LEN: usize = 100;

/// How often the writer thread wakes up to catch up with the rate.
const TICK: Duration = Duration::from_millis(10);

/// Parses `LOG_SPAM_BPS`: a whole number of bytes per second (0 = off).
pub fn parse_bps(raw: &str) -> Result<u64, String> {
    raw.trim()
        .parse::<u64>()
        .map_err(|_| format!("LOG_SPAM_BPS: '{raw}' is not a number of bytes per second"))
}

/// Keeps the output on its rate: after `elapsed`, exactly the whole lines owed so far have been
/// handed out, however irregularly the thread was woken.
#[derive(Debug)]
pub struct Pacer {
    bytes_per_sec: u64,
    instance: String,
    lines: u64,
}

impl Pacer {
    /// A pacer for `bytes_per_sec`, tagging its lines with `instance`.
    pub fn new(bytes_per_sec: u64, instance: &str) -> Self {
        Self {
            bytes_per_sec,
            instance: instance.to_string(),
            lines: 0,
        }
    }

    /// Appends to `out` the lines owed `elapsed` after the start.
    pub fn due(&mut self, elapsed: Duration, out: &mut Vec<u8>) {
        let owed_bytes = (self.bytes_per_sec as f64 * elapsed.as_secs_f64()) as u64;
        let owed_lines = owed_bytes / LINE_LEN as u64;
        while self.lines < owed_lines {
            self.lines += 1;
            let head = format!("spam {} {:012} ", self.instance, self.lines);
            out.extend_from_slice(head.as_bytes());
            out.extend(std::iter::repeat_n(
                b'x',
                LINE_LEN.saturating_sub(head.len() + 1),
            ));
            out.push(b'\n');
        }
    }
}

/// Starts the writer thread (it runs until the process exits or stdout is closed).
pub fn spawn(bytes_per_sec: u64, instance: &str) {
    let mut pacer = Pacer::new(bytes_per_sec, instance);
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name("log-spam".into())
        .spawn(move || {
            let mut buf = Vec::new();
            loop {
                std::thread::sleep(TICK);
                buf.clear();
                pacer.due(started.elapsed(), &mut buf);
                let mut out = std::io::stdout().lock();
                if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
                    return;
                }
            }
        });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot start the LOG_SPAM_BPS writer");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_rate_in_whole_fixed_size_lines() {
        let mut pacer = Pacer::new(10_000, "web-1");
        let mut out = Vec::new();
        // Irregular wake-ups add up to the same output as one at the end.
        for ms in [3, 10, 11, 250, 251, 700, 1000] {
            pacer.due(Duration::from_millis(ms), &mut out);
        }
        assert_eq!(out.len(), 10_000);
        let lines: Vec<&[u8]> = out.split_inclusive(|&b| b == b'\n').collect();
        assert_eq!(lines.len(), 100);
        assert!(lines.iter().all(|l| l.len() == LINE_LEN));
        let first = String::from_utf8_lossy(lines[0]);
        assert!(first.starts_with("spam web-1 000000000001 xx"), "{first}");
        let last = String::from_utf8_lossy(lines[99]);
        assert!(last.starts_with("spam web-1 000000000100 "), "{last}");
        pacer.due(Duration::from_millis(1000), &mut out);
        assert_eq!(out.len(), 10_000, "nothing more is owed at the same time");
    }

    #[test]
    fn parses_whole_byte_rates() {
        assert_eq!(parse_bps(" 65536 "), Ok(65536));
        assert_eq!(parse_bps("0"), Ok(0));
        assert!(parse_bps("64KiB").is_err());
        assert!(parse_bps("-1").is_err());
    }
}
