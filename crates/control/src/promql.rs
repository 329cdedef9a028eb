//! Reading a PromQL query's value from a Prometheus server (`GET /api/v1/query`), for
//! `metric = "prometheus"` autoscaling — the same source Nomad Autoscaler's and KEDA's
//! Prometheus plugins read. The query must come down to one number: a scalar, or a vector of
//! exactly one series (aggregate with `sum(...)` otherwise).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Largest answer read from Prometheus; a query that returns more is not one number anyway.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// A small HTTP client for Prometheus' query API; cheap to clone.
#[derive(Clone)]
pub(crate) struct PromClient {
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl PromClient {
    pub(crate) fn new() -> Self {
        Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// The value of `query` now, or why there is none (in words, for an event).
    pub(crate) async fn query(
        &self,
        base_url: &str,
        query: &str,
        timeout: Duration,
    ) -> Result<f64, String> {
        if base_url.starts_with("https://") {
            return Err("https Prometheus URLs are not supported yet; use http://".into());
        }
        let url = format!(
            "{}/api/v1/query?query={}",
            base_url.trim_end_matches('/'),
            encode(query)
        );
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("bad Prometheus URL {url}: {e}"))?;
        let answer = tokio::time::timeout(timeout, async {
            let resp = self.client.get(uri).await.map_err(|e| {
                format!("cannot reach Prometheus at {base_url}: {}", root_cause(&e))
            })?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading Prometheus' answer: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        })
        .await
        .map_err(|_| format!("Prometheus at {base_url} did not answer within {timeout:?}"))??;
        let (status, body) = answer;
        let json: Value = serde_json::from_slice(&body).map_err(|_| {
            format!(
                "Prometheus answered {status} with something that is not JSON: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )
        })?;
        value_of(&json)
    }
}

/// The one number in a query answer.
pub(crate) fn value_of(answer: &Value) -> Result<f64, String> {
    if answer["status"] != "success" {
        return Err(format!(
            "the query failed: {}",
            answer["error"].as_str().unwrap_or("(no error message)")
        ));
    }
    let data = &answer["data"];
    let sample = match data["resultType"].as_str() {
        Some("scalar") => &data["result"],
        Some("vector") => {
            let result = data["result"].as_array().map_or(&[][..], Vec::as_slice);
            match result {
                [one] => &one["value"],
                [] => return Err("the query returned no series (no data yet?)".into()),
                many => {
                    return Err(format!(
                        "the query returned {} series; aggregate it to one, e.g. sum(...)",
                        many.len()
                    ))
                }
            }
        }
        other => {
            return Err(format!(
                "the query returned a {}, not a number; use an instant vector or scalar",
                other.unwrap_or("nothing")
            ))
        }
    };
    let value: f64 = sample[1]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("unreadable sample {sample}"))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(format!("the query's value is {value}"))
    }
}

/// Percent-encodes a query-string value (everything but RFC 3986's unreserved characters).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_number_from_a_scalar_or_a_single_series() {
        let scalar = json!({"status":"success","data":{"resultType":"scalar","result":[1.5,"42"]}});
        assert_eq!(value_of(&scalar), Ok(42.0));
        let vector = json!({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"7.25"]}]}});
        assert_eq!(value_of(&vector), Ok(7.25));
    }

    #[test]
    fn everything_else_says_why() {
        let empty = json!({"status":"success","data":{"resultType":"vector","result":[]}});
        assert!(value_of(&empty).unwrap_err().contains("no series"));
        let two = json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]}]}});
        assert!(value_of(&two).unwrap_err().contains("sum(...)"));
        let error =
            json!({"status":"error","errorType":"bad_data","error":"parse error at char 5"});
        assert!(value_of(&error)
            .unwrap_err()
            .contains("parse error at char 5"));
        let nan = json!({"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}});
        assert!(value_of(&nan).is_err());
        let matrix = json!({"status":"success","data":{"resultType":"matrix","result":[]}});
        assert!(value_of(&matrix).unwrap_err().contains("matrix"));
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            encode("sum(rate(x{a=\"b c\"}[1m]))"),
            "sum%28rate%28x%7Ba%3D%22b%20c%22%7D%5B1m%5D%29%29"
        );
    }
}
