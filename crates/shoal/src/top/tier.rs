//! A service as one tier of an application: its TCP listener and connection counters, stateful
//! volumes, start order and tags, as `GET /v1/status` reports them. The API gives counters
//! only; [`TcpMeter`] turns two readings into the per-second rates the screen shows.

use serde_json::Value;
use tokio::time::Instant;

/// The gateway's TCP listener for a service and its counters (which only grow).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TcpView {
    pub listen: String,
    pub open: u64,
    pub max_connections: u64,
    pub accepted: u64,
    pub refused: u64,
    pub no_instance: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl TcpView {
    /// The `tcp` object of a service; `None` for a service without a listener.
    pub fn parse(tcp: &Value) -> Option<TcpView> {
        let n = |key: &str| tcp[key].as_u64().unwrap_or(0);
        Some(TcpView {
            listen: tcp["listen"].as_str()?.to_string(),
            open: n("open"),
            max_connections: n("max_connections"),
            accepted: n("accepted"),
            refused: n("refused"),
            no_instance: n("no_instance"),
            bytes_in: n("bytes_in"),
            bytes_out: n("bytes_out"),
        })
    }

    /// `:6380` for a loopback listener (on one machine the host goes without saying), else the
    /// whole address.
    pub fn short_listen(&self) -> String {
        match self.listen.rsplit_once(':') {
            Some(("127.0.0.1" | "localhost" | "[::1]", port)) => format!(":{port}"),
            _ => self.listen.clone(),
        }
    }
}

/// Per-second rates between two readings of a listener's counters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TcpRates {
    pub accepted: f64,
    pub bytes_in: f64,
    pub bytes_out: f64,
}

/// Two readings make a rate: the last reading, and the rates it gave.
#[derive(Debug, Default)]
pub struct TcpMeter {
    last: Option<(TcpView, Instant)>,
    /// `None` until there are two readings, and again after the counters went back (shoal
    /// restarted and counts from zero).
    pub rates: Option<TcpRates>,
}

impl TcpMeter {
    /// Takes a new reading at `now`.
    pub fn push(&mut self, tcp: &TcpView, now: Instant) {
        self.rates = match &self.last {
            Some((prev, at)) if now > *at => {
                let secs = (now - *at).as_secs_f64();
                let rate = |new: u64, old: u64| new.checked_sub(old).map(|d| d as f64 / secs);
                match (
                    rate(tcp.accepted, prev.accepted),
                    rate(tcp.bytes_in, prev.bytes_in),
                    rate(tcp.bytes_out, prev.bytes_out),
                ) {
                    (Some(accepted), Some(bytes_in), Some(bytes_out)) => Some(TcpRates {
                        accepted,
                        bytes_in,
                        bytes_out,
                    }),
                    _ => None,
                }
            }
            // Two readings at the same instant say nothing new: keep the rates.
            Some(_) => self.rates,
            None => None,
        };
        self.last = Some((tcp.clone(), now));
    }
}

/// A list of strings in a status document (`depends_on`, `tags`…); empty when absent.
pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `1.2KiB/s`: bytes per second in the binary units the rest of the screen uses.
pub fn byte_rate(per_sec: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = per_sec.max(0.0);
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0}B/s")
    } else {
        format!("{v:.1}{}/s", UNITS[unit])
    }
}

/// `path`, or when longer than `max` chars its last components after `…/`: a volume's
/// identity and service are at its end, the data dir's location matters less.
pub fn short_path(path: &str, max: usize) -> String {
    if path.chars().count() <= max {
        return path.to_string();
    }
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut out = parts.pop().unwrap_or(path).to_string();
    while let Some(next) = parts.last() {
        if out.chars().count() + next.chars().count() + 3 > max {
            break;
        }
        out = format!("{next}/{out}");
        parts.pop();
    }
    format!("…/{out}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn tcp(accepted: u64, bytes_in: u64, bytes_out: u64) -> TcpView {
        TcpView::parse(
            &json!({"listen": "127.0.0.1:6380", "open": 3, "max_connections": 1024,
            "accepted": accepted, "refused": 0, "no_instance": 0,
            "bytes_in": bytes_in, "bytes_out": bytes_out}),
        )
        .unwrap()
    }

    #[test]
    fn parses_the_listener_and_shortens_loopback() {
        let t = tcp(1, 2, 3);
        assert_eq!((t.open, t.max_connections, t.bytes_out), (3, 1024, 3));
        assert_eq!(t.short_listen(), ":6380");
        let public = TcpView {
            listen: "0.0.0.0:5432".into(),
            ..TcpView::default()
        };
        assert_eq!(public.short_listen(), "0.0.0.0:5432");
        assert_eq!(TcpView::parse(&Value::Null), None);
    }

    #[test]
    fn rates_come_from_two_readings_and_reset_when_counters_go_back() {
        let t0 = Instant::now();
        let mut m = TcpMeter::default();
        m.push(&tcp(10, 1000, 2000), t0);
        assert_eq!(m.rates, None);
        m.push(&tcp(14, 3048, 2000), t0 + Duration::from_secs(2));
        assert_eq!(
            m.rates,
            Some(TcpRates {
                accepted: 2.0,
                bytes_in: 1024.0,
                bytes_out: 0.0
            })
        );
        // The same instant again: nothing to divide by, the rates stay.
        m.push(&tcp(15, 3048, 2000), t0 + Duration::from_secs(2));
        assert_eq!(m.rates.map(|r| r.accepted), Some(2.0));
        // shoal restarted: its counters start over, so there is no rate until the next reading.
        m.push(&tcp(1, 10, 10), t0 + Duration::from_secs(3));
        assert_eq!(m.rates, None);
        m.push(&tcp(2, 10, 10), t0 + Duration::from_secs(4));
        assert_eq!(m.rates.map(|r| r.accepted), Some(1.0));
    }

    #[test]
    fn formats_rates_and_paths() {
        assert_eq!(byte_rate(0.0), "0B/s");
        assert_eq!(byte_rate(1536.0), "1.5KiB/s");
        assert_eq!(byte_rate(3.0 * 1024.0 * 1024.0), "3.0MiB/s");
        assert_eq!(
            short_path("/data/volumes/db/db-1", 40),
            "/data/volumes/db/db-1"
        );
        assert_eq!(
            short_path("/tmp/shoal-e2e-123-4-top/data/volumes/kv/kv-1", 24),
            "…/data/volumes/kv/kv-1"
        );
        assert_eq!(
            short_path("/x/averyveryverylongname", 8),
            "…/averyveryverylongname"
        );
        assert_eq!(strings(&json!(["a", "b"])), ["a", "b"]);
        assert!(strings(&Value::Null).is_empty());
    }
}
