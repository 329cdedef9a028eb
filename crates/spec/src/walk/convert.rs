//! Typed reads of single TOML values. Each converter says what it expected and what it found,
//! with a hint that fits the specific mistake (e.g. an unquoted `5` where `"5s"` was meant).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use toml_edit::{Item, Value};

use crate::units::{parse_duration, parse_size};

/// What is wrong with one value, before it is given a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl Problem {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `expected <what>, found <type of item>`.
    pub(crate) fn expected(what: &str, item: &Item) -> Self {
        Problem::new(format!("expected {what}, found {}", type_name(item)))
    }
}

/// The TOML type of an item, as named in messages.
pub(crate) fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "table",
        Item::ArrayOfTables(_) => "array of tables",
        Item::Value(v) => value_type_name(v),
    }
}

/// The TOML type of a value, as named in messages.
pub(crate) fn value_type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Integer(_) => "integer",
        Value::Float(_) => "float",
        Value::Boolean(_) => "boolean",
        Value::Datetime(_) => "datetime",
        Value::Array(_) => "array",
        Value::InlineTable(_) => "table",
    }
}

/// Any string.
pub(crate) fn string(item: &Item) -> Result<String, Problem> {
    match item.as_str() {
        Some(s) => Ok(s.to_owned()),
        None => Err(Problem::expected("a string", item)),
    }
}

const DURATION_HINT: &str =
    "a duration is a number with a unit (ms, s, m or h), e.g. \"500ms\", \"2s\" or \"1m30s\"";

/// A duration string such as `"2s"` (see [`parse_duration`]).
pub(crate) fn duration(item: &Item) -> Result<Duration, Problem> {
    match item.as_value() {
        Some(Value::String(s)) => parse_duration(s.value())
            .map_err(|e| Problem::new(format!("invalid duration: {e}")).hint(DURATION_HINT)),
        Some(Value::Integer(n)) => {
            let n = n.value();
            Err(
                Problem::expected("a string like \"2s\"", item).hint(format!(
                    "durations need a unit: write \"{n}s\" or \"{n}ms\""
                )),
            )
        }
        _ => Err(Problem::expected("a string like \"2s\"", item).hint(DURATION_HINT)),
    }
}

const SIZE_HINT: &str =
    "a size is a number of bytes or a number with a unit, e.g. \"256MiB\", \"64KiB\" or \"100MB\"";

/// A size string such as `"256MiB"` (see [`parse_size`]) or a number of bytes.
pub(crate) fn size(item: &Item) -> Result<u64, Problem> {
    match item.as_value() {
        Some(Value::String(s)) => parse_size(s.value())
            .map_err(|e| Problem::new(format!("invalid size: {e}")).hint(SIZE_HINT)),
        Some(Value::Integer(n)) => u64::try_from(*n.value())
            .map_err(|_| Problem::new(format!("size must not be negative, found {}", n.value()))),
        _ => Err(
            Problem::expected("a size like \"256MiB\" or a number of bytes", item).hint(SIZE_HINT),
        ),
    }
}

/// A non-negative whole number that fits in `u32` (instance counts, thresholds).
pub(crate) fn count(item: &Item) -> Result<u32, Problem> {
    match item.as_value() {
        Some(Value::Integer(n)) => {
            let n = *n.value();
            if n < 0 {
                Err(Problem::new(format!("must not be negative, found {n}")))
            } else {
                u32::try_from(n).map_err(|_| Problem::new(format!("{n} is too large")))
            }
        }
        Some(Value::Float(f)) => Err(Problem::expected("a whole number", item)
            .hint(format!("write an integer, e.g. {}", f.value().trunc()))),
        Some(Value::String(s)) => Err(Problem::expected("a whole number", item)
            .hint(format!("remove the quotes: {}", s.value()))),
        _ => Err(Problem::expected("a whole number", item)),
    }
}

/// A finite number, written as a float or an integer.
pub(crate) fn number(item: &Item) -> Result<f64, Problem> {
    match item.as_value() {
        Some(Value::Float(f)) if f.value().is_finite() => Ok(*f.value()),
        Some(Value::Float(_)) => Err(Problem::new("expected a finite number")),
        // Every integer anyone would write here is exactly representable.
        Some(Value::Integer(n)) => Ok(*n.value() as f64),
        Some(Value::String(s)) => {
            Err(Problem::expected("a number", item)
                .hint(format!("remove the quotes: {}", s.value())))
        }
        _ => Err(Problem::expected("a number", item)),
    }
}

/// `true` or `false`.
pub(crate) fn boolean(item: &Item) -> Result<bool, Problem> {
    match item.as_bool() {
        Some(b) => Ok(b),
        None => Err(Problem::expected("true or false", item)),
    }
}

/// An IP address with a port, such as `"127.0.0.1:8080"`.
pub(crate) fn socket_addr(item: &Item) -> Result<SocketAddr, Problem> {
    let Some(s) = item.as_str() else {
        return Err(Problem::expected(
            "an address like \"127.0.0.1:8080\"",
            item,
        ));
    };
    s.parse::<SocketAddr>().map_err(|_| {
        let problem = Problem::new(format!("invalid listen address \"{s}\""));
        if let Ok(ip) = s.parse::<IpAddr>() {
            let ip = SocketAddr::new(ip, 8080);
            problem.hint(format!("add a port, e.g. \"{ip}\""))
        } else if let Some(port) = s.strip_prefix(':') {
            problem.hint(format!(
                "write an IP address before the port: \"127.0.0.1:{port}\" for this machine only, \"0.0.0.0:{port}\" for all interfaces"
            ))
        } else {
            problem.hint(
                "write an IP address and a port, e.g. \"127.0.0.1:8080\" (host names are not resolved)",
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use toml_edit::value;

    #[test]
    fn type_errors_name_both_sides() {
        let p = duration(&value(5)).unwrap_err();
        assert_eq!(p.message, "expected a string like \"2s\", found integer");
        assert_eq!(
            p.hint.as_deref(),
            Some("durations need a unit: write \"5s\" or \"5ms\"")
        );
        assert_eq!(
            string(&value(true)).unwrap_err().message,
            "expected a string, found boolean"
        );
        assert_eq!(
            count(&value(-1)).unwrap_err().message,
            "must not be negative, found -1"
        );
        assert_eq!(size(&value(4096)), Ok(4096));
        assert_eq!(number(&value(2)), Ok(2.0));
    }

    #[test]
    fn addresses() {
        assert_eq!(
            socket_addr(&value("127.0.0.1:80")),
            Ok("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            socket_addr(&value("[::1]:80")),
            Ok("[::1]:80".parse().unwrap())
        );
        let p = socket_addr(&value("127.0.0.1")).unwrap_err();
        assert!(p.hint.unwrap().contains("127.0.0.1:8080"));
        let p = socket_addr(&value("localhost:80")).unwrap_err();
        assert_eq!(p.message, "invalid listen address \"localhost:80\"");
    }
}
