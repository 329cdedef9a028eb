//! Human-written durations (`"1m30s"`) and sizes (`"256MiB"`). Units are always explicit for
//! durations, so `timeout = 5` can never silently mean 5 ms or 5 hours.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// The longest duration a spec may give (10 years): long enough to mean "never", short enough
/// that adding it to any clock reading cannot overflow.
pub const MAX_DURATION_SECS: u64 = 10 * 365 * 24 * 3600;

/// Parses a duration such as `"500ms"`, `"2s"`, `"1m"`, `"1h"`, `"1m30s"` or `"0s"`.
///
/// Units are `ms`, `s`, `m` and `h`, from largest to smallest, each at most once; a number may
/// have a fraction (`"1.5s"`). A bare number is rejected because its unit would be a guess.
/// The error text is meant to be shown to the user as is.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. \"2s\" or \"500ms\"".into());
    }
    if text.starts_with('-') {
        return Err(format!("\"{s}\" is negative; durations cannot be negative"));
    }
    let mut rest = text;
    let mut total: u128 = 0;
    let mut last_rank: Option<usize> = None;
    while !rest.is_empty() {
        let (number, after) = split_number(rest);
        if number.is_empty() {
            return Err(format!(
                "expected a number in \"{s}\"; write e.g. \"2s\", \"500ms\" or \"1m30s\""
            ));
        }
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(if !after.is_empty() {
                format!("unexpected \"{after}\" in \"{s}\"; write e.g. \"2s\" or \"1m30s\"")
            } else if rest.len() == text.len() {
                format!("\"{s}\" has no unit; write \"{number}s\" or \"{number}ms\"")
            } else {
                format!("\"{s}\" ends with \"{number}\" without a unit")
            });
        }
        let (rank, unit_nanos) = match unit {
            "h" => (0, 3600 * NANOS_PER_SEC),
            "m" => (1, 60 * NANOS_PER_SEC),
            "s" => (2, NANOS_PER_SEC),
            "ms" => (3, 1_000_000),
            _ => {
                return Err(format!(
                    "unknown unit \"{unit}\" in \"{s}\"; use ms, s, m or h"
                ))
            }
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(format!(
                "units in \"{s}\" must go from largest to smallest, each at most once (like \"1h30m\")"
            ));
        }
        last_rank = Some(rank);
        let nanos = scale(number, unit_nanos).ok_or_else(|| format!("\"{s}\" is too long"))?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| format!("\"{s}\" is too long"))?;
        rest = after;
    }
    if total > MAX_DURATION_SECS as u128 * NANOS_PER_SEC {
        return Err(format!(
            "\"{s}\" is too long: durations are at most {}h (10 years)",
            MAX_DURATION_SECS / 3600
        ));
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| format!("\"{s}\" is too long"))?;
    // The remainder is below one second, so it always fits.
    let nanos = (total % NANOS_PER_SEC) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Parses a size in bytes such as `"256MiB"`, `"1GiB"`, `"512KiB"`, `"100MB"`, `"1000"` or `"10B"`.
///
/// Binary units (`KiB`, `MiB`, `GiB`, `TiB`) are powers of 1024, decimal ones (`KB`, `MB`, `GB`,
/// `TB`) powers of 1000; units are case-insensitive. A bare number is bytes. A fraction is allowed
/// with a unit (`"1.5GiB"`) and rounds down to whole bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("empty size; write e.g. \"256MiB\" or \"1000\"".into());
    }
    if text.starts_with('-') {
        return Err(format!("\"{s}\" is negative; sizes cannot be negative"));
    }
    let (number, unit) = split_number(text);
    if number.is_empty() {
        return Err(format!(
            "expected a number in \"{s}\"; write e.g. \"256MiB\", \"100MB\" or \"1000\""
        ));
    }
    let unit = unit.trim_start();
    let multiplier: u128 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        "k" | "m" | "g" | "t" | "ki" | "mi" | "gi" | "ti" => {
            let letter = unit[..1].to_ascii_uppercase();
            return Err(format!(
                "ambiguous unit \"{unit}\" in \"{s}\"; write \"{number}{letter}iB\" (powers of 1024) or \"{number}{letter}B\" (powers of 1000)"
            ));
        }
        _ => {
            return Err(format!(
                "unknown unit \"{unit}\" in \"{s}\"; use B, KiB, MiB, GiB, KB, MB or GB"
            ))
        }
    };
    if multiplier == 1 && number.contains('.') {
        return Err(format!("\"{s}\" is not a whole number of bytes"));
    }
    let bytes = scale(number, multiplier).ok_or_else(|| format!("\"{s}\" is too large"))?;
    u64::try_from(bytes).map_err(|_| format!("\"{s}\" is too large"))
}

/// Splits a leading `digits[.digits]` off `s`. Returns an empty number when `s` does not start
/// with a digit; a dot without digits after it is left in the rest.
fn split_number(s: &str) -> (&str, &str) {
    let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if int_len == 0 {
        return ("", s);
    }
    let after = &s[int_len..];
    if let Some(frac) = after.strip_prefix('.') {
        let frac_len = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        if frac_len > 0 {
            return s.split_at(int_len + 1 + frac_len);
        }
    }
    s.split_at(int_len)
}

/// `number * unit`, where `number` is `digits[.digits]`, rounded down; `None` on overflow.
fn scale(number: &str, unit: u128) -> Option<u128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let mut value = int.parse::<u128>().ok()?.checked_mul(unit)?;
    // Fraction digits beyond what any unit can resolve (1 ns / 1 byte) change nothing.
    let frac = &frac[..frac.len().min(18)];
    if !frac.is_empty() {
        let denom = 10u128.pow(frac.len() as u32);
        let frac_value = frac.parse::<u128>().ok()?;
        value = value.checked_add(frac_value.checked_mul(unit)? / denom)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = [
            ("500ms", Duration::from_millis(500)),
            ("2s", Duration::from_secs(2)),
            ("1m", Duration::from_secs(60)),
            ("1h", Duration::from_secs(3600)),
            ("1m30s", Duration::from_secs(90)),
            ("1h2m3s4ms", Duration::from_millis(3_723_004)),
            ("0s", Duration::ZERO),
            ("0ms", Duration::ZERO),
            ("1.5s", Duration::from_millis(1500)),
            ("0.25ms", Duration::from_micros(250)),
            (" 10s ", Duration::from_secs(10)),
        ];
        for (s, want) in ok {
            assert_eq!(parse_duration(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn duration_rejects() {
        let bad = [
            ("", "empty"),
            ("   ", "empty"),
            ("5", "has no unit; write \"5s\""),
            ("0", "has no unit"),
            ("-1s", "negative"),
            ("5sec", "unknown unit \"sec\""),
            ("5 s", "unexpected"),
            ("30s1m", "largest to smallest"),
            ("1s1s", "largest to smallest"),
            ("s", "expected a number"),
            ("1.s", "unexpected"),
            ("1m30", "without a unit"),
            ("2d", "unknown unit \"d\""),
            ("99999999999999999999999h", "too long"),
            ("99999999999999h", "at most 87600h"),
        ];
        for (s, want) in bad {
            let err = parse_duration(s).expect_err(s);
            assert!(err.contains(want), "{s:?}: {err}");
        }
    }

    #[test]
    fn sizes() {
        let ok = [
            ("256MiB", 256 << 20),
            ("1GiB", 1 << 30),
            ("512KiB", 512 << 10),
            ("100MB", 100_000_000),
            ("1000", 1000),
            ("10B", 10),
            ("0", 0),
            ("64kib", 64 << 10),
            ("1.5KiB", 1536),
            ("2 GB", 2_000_000_000),
            ("1TiB", 1 << 40),
        ];
        for (s, want) in ok {
            assert_eq!(parse_size(s), Ok(want), "{s}");
        }
    }

    #[test]
    fn size_rejects() {
        let bad = [
            ("", "empty"),
            ("-5MiB", "negative"),
            ("MiB", "expected a number"),
            ("5M", "ambiguous unit \"M\""),
            ("5XB", "unknown unit"),
            ("1.5", "whole number"),
            ("99999999999GiB", "too large"),
        ];
        for (s, want) in bad {
            let err = parse_size(s).expect_err(s);
            assert!(err.contains(want), "{s:?}: {err}");
        }
    }
}
