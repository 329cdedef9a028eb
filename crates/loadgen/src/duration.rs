//! Durations as people write them on a command line: `500ms`, `10s`, `1m`, `1m30s`, `1.5s`, `2h`.
//!
//! A unit is always required: a bare `30` could mean seconds or milliseconds, and guessing wrong
//! in a load generator means a run a thousand times longer than intended.

use std::time::Duration;

/// The longest run (and the longest value any duration option accepts): a load generator must
/// never run without a bound, and a day is far beyond any deliberate test.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Units from largest to smallest; components must follow this order (`1m30s`, not `30s1m`).
const UNITS: &[(&str, f64)] = &[("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 0.001)];

/// Parses `1m30s`-style text; the error says what was wrong and what is accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration; write e.g. 500ms, 10s, 1m or 1m30s".to_owned());
    }
    let mut rest = s;
    let mut total = 0.0_f64;
    // Index into UNITS of the previous component: each next unit must be strictly smaller.
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        let letters = tail
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(letters);
        if number.is_empty() {
            return Err(format!(
                "invalid duration '{s}': expected a number before '{}'",
                if unit.is_empty() { tail } else { unit }
            ));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration '{s}': '{number}' is not a number"))?;
        if unit.is_empty() {
            return Err(format!(
                "invalid duration '{s}': '{number}' has no unit; write e.g. {number}s or {number}ms"
            ));
        }
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!(
                "invalid duration '{s}': unknown unit '{unit}' (use h, m, s or ms)"
            ));
        };
        if last_unit.is_some_and(|last| index <= last) {
            return Err(format!(
                "invalid duration '{s}': units must go from largest to smallest, each once \
                 (e.g. 1m30s)"
            ));
        }
        last_unit = Some(index);
        total += value * UNITS[index].1;
        rest = tail;
    }
    if !total.is_finite() || total > MAX_DURATION.as_secs_f64() {
        return Err(format!("duration '{s}' is longer than the limit of 24h"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Like [`parse_duration`] but rejects zero: for run lengths and timeouts, where zero is a mistake.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!(
            "duration '{}' must be greater than zero",
            text.trim()
        ));
    }
    Ok(d)
}

/// Short human form for reports and progress: `850ms`, `12.5s`, `2m05s`, `1h02m`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1.0 {
        format!("{}ms", d.as_millis())
    } else if secs < 60.0 {
        let text = format!("{secs:.1}");
        format!("{}s", text.strip_suffix(".0").unwrap_or(&text))
    } else if secs < 3600.0 {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        let whole = d.as_secs();
        format!("{}h{:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        parse_duration(s).unwrap()
    }

    #[test]
    fn accepts_the_usual_forms() {
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("1m"), Duration::from_secs(60));
        assert_eq!(ok("1m30s"), Duration::from_secs(90));
        assert_eq!(ok("1h2m3s4ms"), Duration::from_millis(3_723_004));
        assert_eq!(ok("1.5s"), Duration::from_millis(1500));
        assert_eq!(ok(" 2s "), Duration::from_secs(2));
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("24h"), MAX_DURATION);
    }

    #[test]
    fn rejects_ambiguous_or_malformed_text() {
        for bad in [
            "", "30", "10x", "s", "1s1m", "1s1s", "1..5s", "-1s", "1m 30s", "ms",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("25h").unwrap_err().contains("24h"));
    }

    #[test]
    fn positive_rejects_zero() {
        assert!(parse_positive_duration("0ms").is_err());
        assert_eq!(
            parse_positive_duration("1ms").unwrap(),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_duration(Duration::from_millis(12_540)), "12.5s");
        assert_eq!(format_duration(Duration::from_secs(125)), "2m05s");
        assert_eq!(format_duration(Duration::from_secs(3720)), "1h02m");
    }
}
