//! How a service's instances are started: `command`, `workdir` and `env`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml_edit::Value;

use crate::compile::{absolute, program, Context};
use crate::walk::convert::{self, value_type_name, Problem};
use crate::walk::{TableRef, Val, Walker};

/// Variables shoal sets for every instance; a spec may not override them.
pub(crate) const RESERVED_ENV: &[&str] = &[
    "PORT",
    "SHOAL_INSTANCE_ID",
    "SHOAL_SERVICE",
    "SHOAL_REVISION",
    "SHOAL_VOLUME",
    "SHOAL_GATEWAY",
];

const COMMAND_EXAMPLE: &str = "[\"./my-app\", \"--port\", \"{port}\"]";

/// `command` and its resolved program. Problems are reported; the returned values then are
/// placeholders.
pub(crate) fn command(
    w: &mut Walker<'_>,
    cx: &Context<'_>,
    t: &TableRef<'_>,
    service: &str,
) -> (Vec<String>, PathBuf) {
    // A single string is the most likely mistake: show it split into an argv.
    if let Some(entry) = t.get("command").filter(|e| e.item.is_str()) {
        let words: Vec<String> = entry
            .item
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .map(|s| format!("\"{s}\""))
            .collect();
        w.error(
            entry.value_span(),
            "expected an array of strings, found string",
            Some(format!(
                "command is not run by a shell; write each argument as its own string: command = [{}]",
                words.join(", ")
            )),
        );
        return (Vec::new(), PathBuf::new());
    }
    let list = match w.string_list(t, "command", COMMAND_EXAMPLE) {
        Val::Given(list, span) => (list, span),
        Val::Invalid => return (Vec::new(), PathBuf::new()),
        Val::Missing => {
            if t.valid() {
                w.error(
                    t.span(),
                    format!("service \"{service}\" has no command"),
                    Some(format!(
                        "add the program to run: command = {COMMAND_EXAMPLE}"
                    )),
                );
            }
            return (Vec::new(), PathBuf::new());
        }
    };
    let (args, array_span) = list;
    let Some((first, first_span)) = args.first() else {
        w.error(
            array_span,
            "command is empty",
            Some(format!(
                "put the program and its arguments in it: command = {COMMAND_EXAMPLE}"
            )),
        );
        return (Vec::new(), PathBuf::new());
    };
    if first.trim().is_empty() {
        w.error(
            first_span.clone(),
            "the program (first element of command) is empty",
            Some(format!(
                "start command with the program to run: command = {COMMAND_EXAMPLE}"
            )),
        );
        return (Vec::new(), PathBuf::new());
    }
    if !cx.check_programs {
        // Where it would be, without looking (clients only need the rest of the spec).
        let program = if first.contains('/') {
            cx.base_dir.join(first)
        } else {
            PathBuf::from(first)
        };
        return (args.into_iter().map(|(s, _)| s).collect(), program);
    }
    let path_var = std::env::var_os("PATH");
    let program = match program::resolve(first, cx.base_dir, path_var.as_deref()) {
        Ok(p) => p,
        Err(p) => {
            w.problem(first_span.clone(), p);
            PathBuf::new()
        }
    };
    (args.into_iter().map(|(s, _)| s).collect(), program)
}

/// `workdir`, absolute; must be an existing directory. Default: the spec's directory.
pub(crate) fn workdir(w: &mut Walker<'_>, cx: &Context<'_>, t: &TableRef<'_>) -> PathBuf {
    let dir = w.get(t, "workdir", |item| {
        let s = convert::string(item)?;
        if s.is_empty() {
            return Err(Problem::new("workdir must not be empty")
                .hint("write \".\" for the spec's directory, or remove workdir"));
        }
        let path = absolute(&cx.base_dir.join(&s));
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => Ok(path),
            Ok(_) => Err(
                Problem::new(format!("\"{s}\" is not a directory")).hint(format!(
                    "{} is a file; workdir must be a directory",
                    path.display()
                )),
            ),
            Err(_) => Err(
                Problem::new(format!("\"{s}\" does not exist")).hint(format!(
                "looked for {} (relative paths are resolved against {}); create it or fix the path",
                path.display(),
                cx.base_dir.display()
            )),
            ),
        }
    });
    dir.or(cx.base_dir.to_path_buf()).value
}

/// True for `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `env`: a table of string values with valid, non-reserved names.
pub(crate) fn env(w: &mut Walker<'_>, t: &TableRef<'_>) -> BTreeMap<String, String> {
    let table = w.open(t, "env", "env = { RUST_LOG = \"info\" }");
    let mut out = BTreeMap::new();
    for entry in table.entries() {
        let name = entry.name;
        if !valid_env_name(name) {
            w.error(
                entry.key_span(),
                format!("invalid environment variable name \"{name}\""),
                Some("names are letters, digits and '_', and do not start with a digit".into()),
            );
        } else if RESERVED_ENV.contains(&name) {
            w.error(
                entry.key_span(),
                format!("environment variable \"{name}\" is set by shoal for each instance"),
                Some(format!(
                    "remove it; shoal sets {} itself (use \"{{port}}\" in command or read $PORT for the port)",
                    RESERVED_ENV.join(", ")
                )),
            );
        }
        match entry.item.as_value() {
            Some(Value::String(s)) => {
                out.insert(name.to_owned(), s.value().clone());
            }
            Some(v @ (Value::Integer(_) | Value::Float(_) | Value::Boolean(_))) => {
                let raw = entry
                    .item
                    .span()
                    .map(|s| w.text(&s).trim().to_owned())
                    .unwrap_or_default();
                w.error(
                    entry.value_span(),
                    format!(
                        "environment variable \"{name}\" must be a string, found {}",
                        value_type_name(v)
                    ),
                    Some(format!("quote it: {name} = \"{raw}\"")),
                );
            }
            _ => w.problem(
                entry.value_span(),
                Problem::expected("a string", entry.item).hint(format!(
                    "environment values are strings: {name} = \"value\""
                )),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::valid_env_name;

    #[test]
    fn env_names() {
        for ok in ["RUST_LOG", "_X", "a1", "DATABASE_URL"] {
            assert!(valid_env_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A.B", "A B", "É"] {
            assert!(!valid_env_name(bad), "{bad}");
        }
    }
}
