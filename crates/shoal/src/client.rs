//! The CLI's side of the admin API: finds the daemon (`--addr`/`SHOAL_ADDR`, else the spec's
//! `admin.listen`), finds the token (`SHOAL_TOKEN`, else `<data_dir>/token`), and turns API errors
//! into messages and exit codes.

use std::path::PathBuf;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::cli::Target;
use crate::exit::Failure;

/// A connection to a running shoal's admin API.
pub struct Admin {
    base: String,
    token: Option<String>,
    data_dir: Option<PathBuf>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Admin {
    /// Resolves the admin address and token for `target`.
    pub fn connect(target: &Target) -> Result<Self, Failure> {
        let (addr, data_dir) = match &target.addr {
            Some(a) => (a.clone(), None),
            None => {
                // Only the admin address and data dir are needed: a program that moved since shoal
                // started must not keep `status` from reaching it.
                let opts = shoal_spec::LoadOptions {
                    check_ports: false,
                    check_programs: false,
                };
                let spec = shoal_spec::load(&target.file, &opts).map_err(|d| {
                    Failure::input(format!(
                        "cannot find the admin address: {} is not a valid spec\n{d}\nhint: pass --addr HOST:PORT or set SHOAL_ADDR",
                        target.file.display()
                    ))
                })?;
                (spec.admin.listen.to_string(), Some(spec.admin.data_dir))
            }
        };
        let token = std::env::var("SHOAL_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .or_else(|| {
                data_dir
                    .as_ref()
                    .and_then(|d| std::fs::read_to_string(shoal_control::token_path(d)).ok())
                    .map(|t| t.trim().to_string())
            });
        Ok(Self {
            base: format!("http://{addr}"),
            token,
            data_dir,
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// The data dir, from the spec or (with `--addr`) from the daemon's status.
    pub async fn data_dir(&mut self) -> Result<PathBuf, Failure> {
        if let Some(d) = &self.data_dir {
            return Ok(d.clone());
        }
        let status = self.get("/v1/status").await?;
        let dir = PathBuf::from(status["data_dir"].as_str().unwrap_or(".shoal"));
        self.data_dir = Some(dir.clone());
        Ok(dir)
    }

    /// GET a JSON document.
    pub async fn get(&self, path: &str) -> Result<Value, Failure> {
        self.call(Method::GET, path, None).await
    }

    /// POST a JSON body with the token.
    pub async fn post(&mut self, path: &str, body: Value) -> Result<Value, Failure> {
        if self.token.is_none() {
            // With --addr only, the token file is found through the daemon's data dir.
            if let Ok(dir) = self.data_dir().await {
                self.token = std::fs::read_to_string(shoal_control::token_path(&dir))
                    .ok()
                    .map(|t| t.trim().to_string());
            }
        }
        self.call(Method::POST, path, Some(body)).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let url = format!("{}{path}", self.base);
        let mut req = Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                req = req.header(http::header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(v.to_string()))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req
            .body(body)
            .map_err(|e| Failure::input(format!("bad admin address {url}: {e}")))?;
        let resp = self.client.request(req).await.map_err(|e| {
            Failure::op(format!(
                "cannot reach shoal at {}: {}\nhint: is `shoal up` running? Start it, or point --addr/SHOAL_ADDR at it",
                self.base,
                root_cause(&e)
            ))
        })?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| Failure::op(format!("reading the answer from {url}: {e}")))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        if status.is_success() {
            return Ok(value);
        }
        let message = value["error"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string());
        let hint = value["hint"]
            .as_str()
            .map(|h| format!("\nhint: {h}"))
            .unwrap_or_default();
        Err(match status {
            // Refused for what is running now (no canary to promote…), not for the input.
            StatusCode::UNAUTHORIZED | StatusCode::CONFLICT => {
                Failure::op(format!("{message}{hint}"))
            }
            s if s.is_client_error() => Failure::input(format!("{message}{hint}")),
            _ => Failure::op(format!("{message}{hint}")),
        })
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
