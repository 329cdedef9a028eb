//! Checks a trace against a scenario's expectations.

use super::scenario::Expect;
use super::sim::Trace;

/// `Err` says what was expected and what happened instead.
pub fn check(e: &Expect, trace: &Trace) -> Result<(), String> {
    let rows = &trace.rows;
    let span = |from: u64, to: u64| rows.iter().filter(move |r| r.t >= from && r.t <= to);
    match *e {
        Expect::Within { from, to, lo, hi } => {
            match span(from, to).find(|r| r.desired < lo || r.desired > hi) {
                Some(r) => Err(format!(
                    "desired should stay within [{lo}, {hi}] during {from}..={to}s, was {} at t={}",
                    r.desired, r.t
                )),
                None => Ok(()),
            }
        }
        Expect::FirstScaleUp { after, within } => {
            match span(after, u64::MAX).find(|r| r.desired > r.before) {
                Some(r) if r.t <= after + within => Ok(()),
                Some(r) => Err(format!(
                    "first scale-up after t={after} should come within {within}s, came at t={}",
                    r.t
                )),
                None => Err(format!("no scale-up after t={after}")),
            }
        }
        Expect::AtLeastBy { value, by } => {
            if span(0, by).any(|r| r.desired >= value) {
                Ok(())
            } else {
                Err(format!("desired should reach {value} by t={by}"))
            }
        }
        Expect::MaxChanges { from, to, changes } => {
            let n = span(from, to).filter(|r| r.desired != r.before).count();
            if n <= changes {
                Ok(())
            } else {
                Err(format!(
                    "at most {changes} changes during {from}..={to}s, saw {n}"
                ))
            }
        }
        Expect::Reaches {
            value,
            after,
            by,
            stays,
        } => {
            let Some(first) = span(after, by).find(|r| r.desired == value) else {
                return Err(format!(
                    "desired should reach {value} between t={after} and t={by}"
                ));
            };
            if !stays {
                return Ok(());
            }
            match span(first.t, u64::MAX).find(|r| r.desired != value) {
                Some(r) => Err(format!(
                    "desired reached {value} at t={} but was {} at t={}",
                    first.t, r.desired, r.t
                )),
                None => Ok(()),
            }
        }
        Expect::FromZeroWithin { ticks } => {
            let cold: Vec<u64> = rows
                .iter()
                .filter(|r| r.waiting > 0 && r.before == 0)
                .map(|r| r.t)
                .collect();
            if cold.is_empty() {
                return Err("no request ever waited on a service at zero".into());
            }
            for t in cold {
                if !span(t, t + ticks).any(|r| r.desired >= 1) {
                    return Err(format!(
                        "a request waited at t={t}, desired was still 0 {ticks} ticks later"
                    ));
                }
            }
            Ok(())
        }
        Expect::NeverAbove { value } => match rows.iter().find(|r| r.desired > value) {
            Some(r) => Err(format!(
                "desired should never exceed {value}, was {} at t={}",
                r.desired, r.t
            )),
            None => Ok(()),
        },
        Expect::NoScaleDown { from, to } => match span(from, to).find(|r| r.desired < r.before) {
            Some(r) => Err(format!(
                "no scale-down during {from}..={to}s, went {} → {} at t={}",
                r.before, r.desired, r.t
            )),
            None => Ok(()),
        },
    }
}
