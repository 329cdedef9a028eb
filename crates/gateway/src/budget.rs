//! Retry budget (linkerd, Envoy): retries may add at most a fixed share of the request rate, so a
//! struggling service is never hit by a retry storm.

use std::sync::atomic::{AtomicI64, Ordering};

/// Milli-tokens: each request deposits `ratio × 1000`, each retry withdraws 1000.
pub struct RetryBudget {
    balance: AtomicI64,
    deposit: i64,
    cap: i64,
}

const TOKEN: i64 = 1000;

impl RetryBudget {
    /// `ratio` of 0.2 allows one retry per five requests on average; a small initial balance
    /// lets the first failures of a quiet service be retried too.
    pub fn new(ratio: f64) -> Self {
        let deposit = (ratio.clamp(0.0, 1.0) * TOKEN as f64).round() as i64;
        Self {
            balance: AtomicI64::new(10 * TOKEN),
            deposit,
            cap: 100 * TOKEN,
        }
    }

    /// Called for every request that arrives.
    pub fn deposit(&self) {
        if self.deposit == 0 {
            return;
        }
        let _ = self
            .balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                Some((b + self.deposit).min(self.cap))
            });
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn try_withdraw(&self) -> bool {
        self.balance
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                (b >= TOKEN).then_some(b - TOKEN)
            })
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_limits_retries_to_the_ratio() {
        let b = RetryBudget::new(0.2);
        // Spend the initial allowance.
        while b.try_withdraw() {}
        for _ in 0..100 {
            b.deposit();
        }
        let mut retries = 0;
        while b.try_withdraw() {
            retries += 1;
        }
        assert_eq!(retries, 20);
    }

    #[test]
    fn zero_ratio_allows_only_the_initial_allowance() {
        let b = RetryBudget::new(0.0);
        let mut n = 0;
        while b.try_withdraw() {
            n += 1;
        }
        for _ in 0..1000 {
            b.deposit();
        }
        assert!(!b.try_withdraw());
        assert_eq!(n, 10);
    }
}
