//! A minimal Redis client for tests that talk to real `redis-server`s, directly or through
//! shoal's TCP listeners: one connection, one command at a time, replies parsed as RESP.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One Redis connection.
pub struct Redis {
    stream: BufReader<TcpStream>,
}

/// A reply, flattened to what tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`, or a bulk string.
    Text(String),
    /// `:n`.
    Int(i64),
    /// `$-1` / `*-1`.
    Nil,
    /// `*n` of replies.
    List(Vec<Reply>),
    /// `-ERR …`.
    Error(String),
}

impl Reply {
    /// The text of a string reply (panics otherwise, with the reply).
    pub fn text(&self) -> &str {
        match self {
            Reply::Text(t) => t,
            other => panic!("expected a string reply, got {other:?}"),
        }
    }
}

impl Redis {
    /// Connects within 2 s.
    pub async fn connect(addr: SocketAddr) -> std::io::Result<Redis> {
        let stream = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::other(format!("connect to {addr} timed out")))??;
        stream.set_nodelay(true)?;
        Ok(Redis {
            stream: BufReader::new(stream),
        })
    }

    /// Sends one command and reads its reply (within 5 s).
    pub async fn cmd(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.stream.get_mut().write_all(out.as_bytes()).await?;
        tokio::time::timeout(Duration::from_secs(5), read_reply(&mut self.stream))
            .await
            .map_err(|_| std::io::Error::other("no reply within 5s"))?
    }

    /// True when the peer has closed the connection (checked without blocking): what a pooled
    /// client notices before it reuses a connection.
    pub fn closed_by_peer(&mut self) -> bool {
        if !self.stream.buffer().is_empty() {
            return false;
        }
        let mut byte = [0u8; 1];
        match self.stream.get_ref().try_read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(_) => true,
        }
    }

    /// The port of the `redis-server` that answers on this connection.
    pub async fn server_port(&mut self) -> std::io::Result<u16> {
        let info = self.cmd(&["INFO", "server"]).await?;
        let port = info
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("tcp_port:"))
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("no tcp_port in {info:?}")))?;
        Ok(port)
    }
}

fn read_reply(
    r: &mut BufReader<TcpStream>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Reply>> + Send + '_>> {
    Box::pin(async move {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before the reply",
            ));
        }
        let line = line.trim_end_matches("\r\n");
        let (kind, rest) = line.split_at(1.min(line.len()));
        let bad = || std::io::Error::other(format!("bad reply line {line:?}"));
        match kind {
            "+" => Ok(Reply::Text(rest.to_string())),
            "-" => Ok(Reply::Error(rest.to_string())),
            ":" => rest.parse().map(Reply::Int).map_err(|_| bad()),
            "$" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    return Ok(Reply::Nil);
                }
                let mut buf = vec![0u8; n as usize + 2];
                r.read_exact(&mut buf).await?;
                buf.truncate(n as usize);
                Ok(Reply::Text(String::from_utf8_lossy(&buf).into_owned()))
            }
            "*" => {
                let n: i64 = rest.parse().map_err(|_| bad())?;
                if n < 0 {
                    return Ok(Reply::Nil);
                }
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(read_reply(r).await?);
                }
                Ok(Reply::List(items))
            }
            _ => Err(bad()),
        }
    })
}

/// `redis-server` for specs: argv with `{port}`, no persistence unless `extra` adds it.
pub fn redis_command(extra: &[&str]) -> String {
    let mut argv = vec![
        "redis-server",
        "--port",
        "{port}",
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--protected-mode",
        "no",
    ];
    argv.extend_from_slice(extra);
    let quoted: Vec<String> = argv.iter().map(|a| format!("\"{a}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Whether `redis-server` is installed (the tests that need it say how to install it otherwise).
pub fn require_redis() {
    assert!(
        std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "redis-server is not installed: run scripts/install-deps.sh test"
    );
}
