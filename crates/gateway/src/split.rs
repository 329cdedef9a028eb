//! Which side of a [`Split`] a request goes to: the side its pin header names, else the canary
//! with probability `canary_weight`; an unpinned request whose side has no instance takes the
//! other side. Decided once per request, before any header is rewritten.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;

use crate::stats::ServiceStats;
use crate::table::{Backends, Split};

/// One of the two revisions of a split route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// `Route::backends`, the revision being replaced.
    Stable,
    /// `Split::canary`, the revision being tried.
    Canary,
}

impl Side {
    /// The side a request falls back to.
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Stable => Side::Canary,
            Side::Canary => Side::Stable,
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Stable => "stable",
            Side::Canary => "canary",
        })
    }
}

/// The side a request goes to, and whether its header pinned it there (a pinned request never
/// falls back to the other side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Choice {
    pub(crate) side: Side,
    pub(crate) pinned: bool,
}

/// A pinned request's side, named in the 503 it gets when that side has no instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pinned {
    pub(crate) side: Side,
    pub(crate) revision: u64,
}

impl fmt::Display for Pinned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} revision {}", self.side, self.revision)
    }
}

impl Split {
    /// The side `headers` pin the request to, if the pin header holds `canary`, `stable` or one
    /// of the two revision numbers (case-insensitive, trimmed).
    pub(crate) fn pinned_side(&self, headers: &HeaderMap) -> Option<Side> {
        let value = headers.get(&self.pin_header)?.to_str().ok()?.trim();
        if value.eq_ignore_ascii_case("canary") {
            return Some(Side::Canary);
        }
        if value.eq_ignore_ascii_case("stable") {
            return Some(Side::Stable);
        }
        match value.parse::<u64>().ok()? {
            n if n == self.canary_revision => Some(Side::Canary),
            n if n == self.stable_revision => Some(Side::Stable),
            _ => None,
        }
    }

    /// The side for a request with `headers`; `stable` is the route's `backends`.
    pub(crate) fn choose(&self, stable: &Backends, headers: &HeaderMap) -> Choice {
        choose_side(
            self.pinned_side(headers),
            self.canary_weight,
            fastrand::f64(),
            |side| match side {
                Side::Stable => stable.endpoints().is_empty(),
                Side::Canary => self.canary.endpoints().is_empty(),
            },
        )
    }

    /// The instances of `side` (the stable ones are the route's own `backends`).
    pub(crate) fn backends<'a>(
        &'a self,
        side: Side,
        stable: &'a Arc<Backends>,
    ) -> &'a Arc<Backends> {
        match side {
            Side::Stable => stable,
            Side::Canary => &self.canary,
        }
    }

    /// The counters of `side`.
    pub(crate) fn stats(&self, side: Side) -> &Arc<ServiceStats> {
        match side {
            Side::Stable => &self.stable_stats,
            Side::Canary => &self.canary_stats,
        }
    }

    /// The revision number of `side`.
    pub(crate) fn revision(&self, side: Side) -> u64 {
        match side {
            Side::Stable => self.stable_revision,
            Side::Canary => self.canary_revision,
        }
    }
}

/// The choice itself, with the random draw `roll` (uniform in `[0, 1)`) passed in so tests can
/// pin it: a pin wins; otherwise the canary when `roll < weight` (so weight 0 never picks it and
/// weight 1 always does), moved to the other side if the drawn side is empty and the other is not.
fn choose_side(
    pin: Option<Side>,
    weight: f64,
    roll: f64,
    is_empty: impl Fn(Side) -> bool,
) -> Choice {
    if let Some(side) = pin {
        return Choice { side, pinned: true };
    }
    // `f64::clamp` keeps NaN, and `roll < NaN` is false: a NaN weight sends nothing to the canary.
    let side = if roll < weight.clamp(0.0, 1.0) {
        Side::Canary
    } else {
        Side::Stable
    };
    let side = if is_empty(side) && !is_empty(side.other()) {
        side.other()
    } else {
        side
    };
    Choice {
        side,
        pinned: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Endpoint, PoolConfig};
    use http::{HeaderName, HeaderValue};
    use std::time::Duration;

    const PIN: &str = "x-shoal-revision";

    fn backends(ids: &[&str]) -> Arc<Backends> {
        let endpoints = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                Endpoint::new(
                    *id,
                    "web",
                    ([127, 0, 0, 1], 1 + i as u16).into(),
                    Duration::ZERO,
                    PoolConfig::default(),
                )
            })
            .collect();
        Arc::new(Backends::new(endpoints, false))
    }

    fn split(canary: Arc<Backends>, canary_weight: f64) -> Split {
        Split {
            canary,
            canary_weight,
            canary_stats: Arc::default(),
            stable_stats: Arc::default(),
            pin_header: HeaderName::from_static(PIN),
            canary_revision: 7,
            stable_revision: 6,
        }
    }

    fn pin(value: &[u8]) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(PIN, HeaderValue::from_bytes(value).unwrap());
        h
    }

    /// Canary picks out of `n` choices.
    fn canary_count(s: &Split, stable: &Backends, headers: &HeaderMap, n: usize) -> usize {
        (0..n)
            .filter(|_| s.choose(stable, headers).side == Side::Canary)
            .count()
    }

    #[test]
    fn pin_values_are_keywords_or_revision_numbers() {
        let s = split(backends(&["c"]), 0.5);
        let side = |v: &[u8]| s.pinned_side(&pin(v));
        assert_eq!(side(b"canary"), Some(Side::Canary));
        assert_eq!(side(b"CANARY "), Some(Side::Canary));
        assert_eq!(side(b" Canary"), Some(Side::Canary));
        assert_eq!(side(b"7"), Some(Side::Canary));
        assert_eq!(side(b" 7 "), Some(Side::Canary));
        assert_eq!(side(b"stable"), Some(Side::Stable));
        assert_eq!(side(b"StAbLe"), Some(Side::Stable));
        assert_eq!(side(b"6"), Some(Side::Stable));
        for garbage in [
            &b"beta"[..],
            b"",
            b"8",
            b"-7",
            b"canary,stable",
            b"7.0",
            b"\xff",
        ] {
            assert_eq!(side(garbage), None, "{garbage:?}");
        }
        assert_eq!(s.pinned_side(&HeaderMap::new()), None);
        // Only the configured header pins.
        let mut other = HeaderMap::new();
        other.insert("x-other", HeaderValue::from_static("canary"));
        assert_eq!(s.pinned_side(&other), None);
    }

    #[test]
    fn a_pin_overrides_the_weight() {
        let stable = backends(&["s"]);
        let never = split(backends(&["c"]), 0.0);
        assert_eq!(canary_count(&never, &stable, &pin(b"canary"), 200), 200);
        let always = split(backends(&["c"]), 1.0);
        assert_eq!(canary_count(&always, &stable, &pin(b"6"), 200), 0);
        let choice = always.choose(&stable, &pin(b"stable"));
        assert_eq!(
            choice,
            Choice {
                side: Side::Stable,
                pinned: true
            }
        );
    }

    #[test]
    fn unknown_pins_fall_back_to_the_weight() {
        let stable = backends(&["s"]);
        let s = split(backends(&["c"]), 0.5);
        let n = canary_count(&s, &stable, &pin(b"garbage"), 4000);
        assert!((1700..=2300).contains(&n), "canary got {n} of 4000");
        assert!(!s.choose(&stable, &pin(b"garbage")).pinned);
    }

    #[test]
    fn weight_bounds_are_exact_and_clamped() {
        let stable = backends(&["s"]);
        let none = HeaderMap::new();
        for (weight, want) in [
            (0.0, 0),
            (-3.0, 0),
            (f64::NAN, 0),
            (1.0, 10_000),
            (5.0, 10_000),
        ] {
            let s = split(backends(&["c"]), weight);
            assert_eq!(canary_count(&s, &stable, &none, 10_000), want, "{weight}");
        }
        // The draw itself: weight 0 loses even to a roll of 0, weight 1 wins even at the top.
        let never_empty = |_| false;
        assert_eq!(choose_side(None, 0.0, 0.0, never_empty).side, Side::Stable);
        assert_eq!(
            choose_side(None, 1.0, 1.0 - f64::EPSILON, never_empty).side,
            Side::Canary
        );
        assert_eq!(choose_side(None, 0.1, 0.09, never_empty).side, Side::Canary);
        assert_eq!(choose_side(None, 0.1, 0.1, never_empty).side, Side::Stable);
    }

    #[test]
    fn weighted_share_follows_the_weight() {
        let stable = backends(&["s1", "s2", "s3"]);
        let s = split(backends(&["c"]), 0.1);
        let n = canary_count(&s, &stable, &HeaderMap::new(), 10_000);
        assert!((800..=1200).contains(&n), "canary got {n} of 10000");
    }

    #[test]
    fn an_empty_side_sends_unpinned_requests_to_the_other() {
        let none = HeaderMap::new();
        // The canary has no instance yet: everything goes to stable, even at weight 1.
        let stable = backends(&["s"]);
        let s = split(backends(&[]), 1.0);
        assert_eq!(canary_count(&s, &stable, &none, 500), 0);
        // No stable instance: everything goes to the canary, even at weight 0.
        let s = split(backends(&["c"]), 0.0);
        assert_eq!(canary_count(&s, &backends(&[]), &none, 500), 500);
        // A pinned request keeps its empty side (and gets a 503 there).
        let s = split(backends(&[]), 0.5);
        assert_eq!(
            s.choose(&stable, &pin(b"canary")),
            Choice {
                side: Side::Canary,
                pinned: true
            }
        );
        // Both empty: the weighted draw stands.
        let both_empty = |_| true;
        assert_eq!(choose_side(None, 0.5, 0.2, both_empty).side, Side::Canary);
        assert_eq!(choose_side(None, 0.5, 0.7, both_empty).side, Side::Stable);
    }

    #[test]
    fn sides_name_their_stats_and_revisions() {
        let s = split(backends(&["c"]), 0.5);
        assert!(Arc::ptr_eq(s.stats(Side::Canary), &s.canary_stats));
        assert!(Arc::ptr_eq(s.stats(Side::Stable), &s.stable_stats));
        let pinned = Pinned {
            side: Side::Canary,
            revision: s.revision(Side::Canary),
        };
        assert_eq!(pinned.to_string(), "canary revision 7");
        assert_eq!(s.revision(Side::Stable), 6);
    }
}
