//! `shoal.toml`: parsed in two stages (DESIGN principle 7). The raw TOML document is walked with
//! its spans so that every error — syntax, unknown key, wrong type, semantic conflict — is reported
//! at once with file:line:col and a hint, and nothing downstream ever sees an invalid value.

mod model;

pub use model::*;
