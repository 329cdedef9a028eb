//! Active health checks (DESIGN principle 4: health is earned). One probe is one fresh connection,
//! so a check also proves the instance still accepts connections.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use shoal_spec::{HealthCheck, HealthSpec};
use tokio::net::TcpStream;

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// 2xx/3xx (HTTP) or connected (TCP).
    Pass,
    /// Anything else, with a short reason for the event log.
    Fail(String),
}

/// Runs one check against `addr` within `spec.timeout`.
pub async fn probe(spec: &HealthSpec, addr: SocketAddr) -> Probe {
    match tokio::time::timeout(spec.timeout, probe_inner(&spec.check, addr)).await {
        Ok(p) => p,
        Err(_) => Probe::Fail(format!("no answer within {}", fmt_duration(spec.timeout))),
    }
}

async fn probe_inner(check: &HealthCheck, addr: SocketAddr) -> Probe {
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return Probe::Fail(format!("connect: {e}")),
    };
    let path = match check {
        HealthCheck::Tcp => return Probe::Pass,
        HealthCheck::Http { path } => path,
    };
    let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    {
        Ok(pair) => pair,
        Err(e) => return Probe::Fail(format!("handshake: {e}")),
    };
    let conn = tokio::spawn(conn);
    let req = http::Request::get(path.as_str())
        .header(http::header::HOST, addr.to_string())
        .header(http::header::USER_AGENT, "shoal-health")
        .header(http::header::CONNECTION, "close")
        .body(Empty::<bytes::Bytes>::new());
    let req = match req {
        Ok(r) => r,
        Err(e) => return Probe::Fail(format!("bad health path {path:?}: {e}")),
    };
    let result = match sender.send_request(req).await {
        Ok(resp) if resp.status().is_success() || resp.status().is_redirection() => Probe::Pass,
        Ok(resp) => Probe::Fail(format!("GET {path} answered {}", resp.status())),
        Err(e) => Probe::Fail(format!("GET {path}: {e}")),
    };
    conn.abort();
    result
}

/// `1.5s`, `250ms`, `2m`: durations as the spec writes them.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".into()
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// Consecutive pass/fail counting with the two thresholds.
#[derive(Debug, Default, Clone, Copy)]
pub struct Streak {
    passes: u32,
    fails: u32,
}

/// What a probe result means for the instance's routability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Crossed `healthy_threshold` consecutive passes.
    BecameHealthy,
    /// Crossed `unhealthy_threshold` consecutive failures.
    BecameUnhealthy,
    /// No change.
    Same,
}

impl Streak {
    /// Records a probe; `healthy` is whether the instance is routable now.
    pub fn record(&mut self, pass: bool, healthy: bool, spec: &HealthSpec) -> Verdict {
        if pass {
            self.passes += 1;
            self.fails = 0;
            if !healthy && self.passes >= spec.healthy_threshold {
                return Verdict::BecameHealthy;
            }
        } else {
            self.fails += 1;
            self.passes = 0;
            if healthy && self.fails >= spec.unhealthy_threshold {
                return Verdict::BecameUnhealthy;
            }
        }
        Verdict::Same
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HealthSpec {
        HealthSpec {
            check: HealthCheck::Tcp,
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            healthy_threshold: 2,
            unhealthy_threshold: 3,
            restart_after: None,
        }
    }

    #[test]
    fn thresholds_are_consecutive() {
        let s = spec();
        let mut st = Streak::default();
        assert_eq!(st.record(true, false, &s), Verdict::Same);
        assert_eq!(st.record(false, false, &s), Verdict::Same);
        assert_eq!(st.record(true, false, &s), Verdict::Same);
        assert_eq!(st.record(true, false, &s), Verdict::BecameHealthy);
        assert_eq!(st.record(false, true, &s), Verdict::Same);
        assert_eq!(st.record(false, true, &s), Verdict::Same);
        assert_eq!(st.record(true, true, &s), Verdict::Same);
        for _ in 0..2 {
            assert_eq!(st.record(false, true, &s), Verdict::Same);
        }
        assert_eq!(st.record(false, true, &s), Verdict::BecameUnhealthy);
    }

    #[test]
    fn durations_read_like_the_spec() {
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(fmt_duration(Duration::from_secs(30)), "30s");
        assert_eq!(fmt_duration(Duration::from_secs(120)), "2m");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
    }

    #[tokio::test]
    async fn tcp_and_http_probes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut n = 0;
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                n += 1;
                let status = if n % 2 == 0 { "200 OK" } else { "503 Nope" };
                let _ = s
                    .write_all(format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let mut s = spec();
        assert_eq!(probe(&s, addr).await, Probe::Pass);
        s.check = HealthCheck::Http {
            path: "/health".into(),
        };
        // The TCP probe above was the listener's first connection; the next answer is 200.
        assert_eq!(probe(&s, addr).await, Probe::Pass);
        assert!(matches!(probe(&s, addr).await, Probe::Fail(m) if m.contains("503")));
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(matches!(probe(&s, closed).await, Probe::Fail(m) if m.contains("connect")));
    }
}
