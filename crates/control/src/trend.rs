//! The last 15 minutes of each service, one sample per observation tick, kept by shoal itself so
//! a dashboard opened now draws full charts at once (`GET /v1/history`) instead of starting
//! empty. Bounded: a fixed number of samples per service.

use std::collections::VecDeque;

use serde::Serialize;

/// Samples kept per service: 15 minutes at one per second, plus a little slack.
const KEEP: usize = 15 * 60 + 30;

/// One second of one service.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// Unix time in milliseconds.
    pub t: u64,
    /// Requests per second through the gateway.
    pub rps: f64,
    /// 95th percentile latency, ms (none without responses).
    pub p95: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99: Option<f64>,
    /// Instances healthy.
    pub healthy: usize,
    /// Instances running (any state but stopped).
    pub total: usize,
    /// Instances wanted.
    pub desired: u32,
    /// Services with a TCP listener: connections open, and per second since the last sample
    /// connections accepted and bytes in (from clients) and out, so the dashboard's TCP charts
    /// start full too. The names are the dashboard's series keys.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSample>,
}

/// One second of a TCP listener, in [`Sample`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TcpSample {
    /// Connections open.
    pub conns: usize,
    /// Connections accepted per second (none for the first sample).
    pub accepts: Option<f64>,
    /// Bytes per second from clients to instances.
    pub bin: Option<f64>,
    /// Bytes per second from instances to clients.
    pub bout: Option<f64>,
}

impl TcpSample {
    /// A sample from the counters now and, if any, the previous ones `seconds` earlier.
    pub(crate) fn between(
        now: &shoal_gateway::TcpStatsSnapshot,
        before: Option<(&shoal_gateway::TcpStatsSnapshot, f64)>,
    ) -> Self {
        let rate = |f: fn(&shoal_gateway::TcpStatsSnapshot) -> u64| {
            before
                .filter(|(_, secs)| *secs > 0.0)
                .map(|(b, secs)| f(now).saturating_sub(f(b)) as f64 / secs)
        };
        TcpSample {
            conns: now.open,
            accepts: rate(|t| t.accepted_total),
            bin: rate(|t| t.bytes_from_clients_total),
            bout: rate(|t| t.bytes_to_clients_total),
        }
    }
}

/// A bounded ring of samples, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Trend {
    samples: VecDeque<Sample>,
}

impl Trend {
    pub(crate) fn push(&mut self, sample: Sample) {
        if self.samples.len() >= KEEP {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    pub(crate) fn samples(&self) -> Vec<Sample> {
        self.samples.iter().copied().collect()
    }
}

/// Unix time now, in milliseconds.
pub(crate) fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_a_bounded_window_oldest_first() {
        let mut trend = Trend::default();
        for t in 0..(KEEP as u64 + 10) {
            trend.push(Sample {
                t,
                rps: 1.0,
                p95: None,
                p99: None,
                healthy: 1,
                total: 1,
                desired: 1,
                tcp: None,
            });
        }
        let samples = trend.samples();
        assert_eq!(samples.len(), KEEP);
        assert_eq!(samples[0].t, 10);
        assert_eq!(samples.last().unwrap().t, KEEP as u64 + 9);
    }

    #[test]
    fn tcp_samples_are_rates_between_readings_with_the_dashboards_keys() {
        let at = |accepted, bytes_in, open| shoal_gateway::TcpStatsSnapshot {
            open,
            accepted_total: accepted,
            bytes_from_clients_total: bytes_in,
            bytes_to_clients_total: 2 * bytes_in,
            ..Default::default()
        };
        let first = TcpSample::between(&at(10, 1000, 3), None);
        assert_eq!((first.conns, first.accepts), (3, None));
        let next = TcpSample::between(&at(14, 3000, 4), Some((&at(10, 1000, 3), 2.0)));
        assert_eq!(
            (next.accepts, next.bin, next.bout),
            (Some(2.0), Some(1000.0), Some(2000.0))
        );
        let json = serde_json::to_value(Sample {
            t: 1,
            rps: 0.0,
            p95: None,
            p99: None,
            healthy: 1,
            total: 1,
            desired: 1,
            tcp: Some(next),
        })
        .unwrap();
        assert_eq!(
            (json["conns"].as_u64(), json["bin"].as_f64()),
            (Some(4), Some(1000.0))
        );
        // A counter that went back (a new listener) gives no negative rate.
        let reset = TcpSample::between(&at(1, 0, 0), Some((&at(14, 3000, 4), 1.0)));
        assert_eq!(reset.accepts, Some(0.0));
    }
}
