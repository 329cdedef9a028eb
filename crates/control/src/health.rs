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
    if let HealthCheck::Exec { argv, program } = check {
        return exec_probe(program, argv, addr.port()).await;
    }
    let stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return Probe::Fail(format!("connect: {e}")),
    };
    let path = match check {
        HealthCheck::Tcp => return Probe::Pass,
        HealthCheck::Expect { send, expect } => return expect_probe(stream, send, expect).await,
        HealthCheck::Exec { .. } => unreachable!("handled above"),
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

/// The most of an answer a protocol probe reads while looking for `expect`.
const EXPECT_READ_LIMIT: usize = 4096;
/// The most of a probe program's output kept for the failure reason.
const EXEC_OUTPUT_LIMIT: usize = 512;

/// Writes `send`, then reads until the answer contains `expect` (pass), the peer closes, or
/// [`EXPECT_READ_LIMIT`] bytes came without it (fail). The caller bounds the time.
async fn expect_probe(mut stream: TcpStream, send: &str, expect: &str) -> Probe {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if !send.is_empty() {
        if let Err(e) = stream.write_all(send.as_bytes()).await {
            return Probe::Fail(format!("send: {e}"));
        }
    }
    let mut answer = Vec::with_capacity(256);
    let mut buf = [0u8; 512];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                if contains(&answer, expect.as_bytes()) {
                    return Probe::Pass;
                }
                if answer.len() >= EXPECT_READ_LIMIT {
                    break;
                }
            }
            Err(e) => return Probe::Fail(format!("read: {e}")),
        }
    }
    let shown = String::from_utf8_lossy(&answer[..answer.len().min(80)]);
    Probe::Fail(format!("expected {expect:?}, got {:?}", shown.trim_end()))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs the probe program (argv, never a shell) with `{port}` substituted; exit 0 passes. The
/// child is killed if the caller's timeout drops this future first.
async fn exec_probe(program: &std::path::Path, argv: &[String], port: u16) -> Probe {
    use tokio::io::AsyncReadExt;
    let args = shoal_spec::argv_with_port(argv, port);
    let mut child = match tokio::process::Command::new(program)
        .args(args.iter().skip(1))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return Probe::Fail(format!("cannot run {}: {e}", program.display())),
    };
    let mut output = Vec::new();
    if let Some(out) = child.stdout.take() {
        let _ = out
            .take(EXEC_OUTPUT_LIMIT as u64)
            .read_to_end(&mut output)
            .await;
    }
    if let Some(err) = child.stderr.take() {
        let _ = err
            .take(EXEC_OUTPUT_LIMIT as u64)
            .read_to_end(&mut output)
            .await;
    }
    match child.wait().await {
        Ok(status) if status.success() => Probe::Pass,
        Ok(status) => {
            let text = String::from_utf8_lossy(&output);
            let text = text.trim();
            let name = args.first().map_or("probe", String::as_str);
            if text.is_empty() {
                Probe::Fail(format!("{name} exited with {status}"))
            } else {
                Probe::Fail(format!("{name} exited with {status}: {text}"))
            }
        }
        Err(e) => Probe::Fail(format!("waiting for {}: {e}", program.display())),
    }
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

    #[tokio::test]
    async fn protocol_probes_look_for_the_expected_answer() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 64];
                let n = s.read(&mut buf).await.unwrap_or(0);
                let answer: &[u8] = if &buf[..n] == b"PING\r\n" {
                    b"+PO"
                } else {
                    b"-ERR unknown\r\n"
                };
                let _ = s.write_all(answer).await;
                // The answer arrives in two pieces: the probe must keep reading.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = s.write_all(b"NG\r\n").await;
            }
        });
        let mut s = spec();
        s.check = HealthCheck::Expect {
            send: "PING\r\n".into(),
            expect: "+PONG".into(),
        };
        assert_eq!(probe(&s, addr).await, Probe::Pass);
        s.check = HealthCheck::Expect {
            send: "HELLO\r\n".into(),
            expect: "+PONG".into(),
        };
        assert!(matches!(probe(&s, addr).await, Probe::Fail(m) if m.contains("-ERR unknown")));
    }

    #[tokio::test]
    async fn exec_probes_pass_on_exit_zero_and_are_killed_at_the_timeout() {
        let exec = |argv: &[&str]| HealthCheck::Exec {
            argv: argv.iter().map(|a| a.to_string()).collect(),
            program: argv[0].into(),
        };
        let addr: SocketAddr = "127.0.0.1:4321".parse().unwrap();
        let mut s = spec();
        s.check = exec(&["/bin/sh", "-c", "test \"$0\" = 4321", "{port}"]);
        assert_eq!(
            probe(&s, addr).await,
            Probe::Pass,
            "{{port}} is substituted"
        );
        s.check = exec(&["/bin/sh", "-c", "echo not ready >&2; exit 3"]);
        assert!(
            matches!(probe(&s, addr).await, Probe::Fail(m) if m.contains("not ready") && m.contains('3'))
        );
        s.check = exec(&["/bin/sleep", "30"]);
        let started = tokio::time::Instant::now();
        assert!(matches!(probe(&s, addr).await, Probe::Fail(m) if m.contains("no answer within")));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
