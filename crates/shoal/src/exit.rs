//! Exit codes of the contract: 0 ok, 1 the operation failed, 2 bad input (spec, arguments).

use std::fmt;

/// A command's failure, carrying its exit code.
#[derive(Debug)]
pub struct Failure {
    /// 1 or 2.
    pub code: u8,
    /// What to print (already says what to do next where possible).
    pub message: String,
    /// The message carries its own `error:` prefixes.
    pub prefixed: bool,
}

impl Failure {
    /// The operation failed (exit 1).
    pub fn op(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
            prefixed: false,
        }
    }

    /// A spec that failed validation (exit 2); the diagnostics already say `error:` each.
    pub fn spec(diagnostics: shoal_spec::Diagnostics) -> Self {
        Self {
            code: 2,
            message: diagnostics.to_string(),
            prefixed: true,
        }
    }

    /// The input was bad (exit 2).
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
            prefixed: false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::op(e.to_string())
    }
}
