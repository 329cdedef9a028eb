//! Random failure injection (`FAIL_RATE`), used to see how the gateway copes
//! with an instance that answers some requests with errors.
//!
//! Health checks and metrics are never failed on purpose: `/health` has its own
//! explicit switch, and metrics should stay scrapeable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::SharedState;

/// Body of every injected failure.
pub const FAILURE_BODY: &str = "injected failure";

/// Decides, request by request, whether to fail on purpose.
pub struct FailureInjector {
    rate: f64,
    rng: AtomicU64,
}

impl FailureInjector {
    /// Fails roughly `rate` (0..=1) of the requests it is asked about.
    pub fn new(rate: f64) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let seed = splitmix64(nanos ^ (u64::from(std::process::id()) << 32));
        FailureInjector {
            rate: rate.clamp(0.0, 1.0),
            // xorshift must never hold zero.
            rng: AtomicU64::new(seed | 1),
        }
    }

    /// Whether the current request should be failed.
    pub fn should_fail(&self) -> bool {
        if self.rate <= 0.0 {
            return false;
        }
        if self.rate >= 1.0 {
            return true;
        }
        // 53 random bits mapped onto [0, 1).
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < self.rate
    }

    /// xorshift64*: tiny, fast and good enough to pick which requests fail.
    fn next_u64(&self) -> u64 {
        let step = |mut x: u64| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x
        };
        let mut current = self.rng.load(Ordering::Relaxed);
        loop {
            let next = step(current);
            match self.rng.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next.wrapping_mul(0x2545_F491_4F6C_DD1D),
                Err(actual) => current = actual,
            }
        }
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Whether requests to `path` may be failed on purpose.
pub fn applies_to(path: &str) -> bool {
    !(path == "/health" || path.starts_with("/health/") || path == "/metrics")
}

/// Middleware answering the configured share of requests with a 500.
pub async fn inject(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    if applies_to(request.uri().path()) && state.failure.should_fail() {
        return (StatusCode::INTERNAL_SERVER_ERROR, FAILURE_BODY).into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremes_are_exact() {
        let never = FailureInjector::new(0.0);
        let always = FailureInjector::new(1.0);
        assert!((0..1000).all(|_| !never.should_fail()));
        assert!((0..1000).all(|_| always.should_fail()));
    }

    #[test]
    fn rate_is_roughly_respected() {
        let injector = FailureInjector::new(0.3);
        let failed = (0..20_000).filter(|_| injector.should_fail()).count();
        assert!((5_000..7_000).contains(&failed), "failed {failed} of 20000");
    }

    #[test]
    fn health_and_metrics_are_exempt() {
        assert!(!applies_to("/health"));
        assert!(!applies_to("/health/fail"));
        assert!(!applies_to("/metrics"));
        assert!(applies_to("/"));
        assert!(applies_to("/api/tasks"));
        assert!(applies_to("/instance"));
        assert!(applies_to("/healthz"));
    }
}
