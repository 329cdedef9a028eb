//! Stage one of loading a spec: typed access to the raw `toml_edit` tree, keeping every value's
//! position and collecting problems instead of stopping at the first one.
//!
//! Inline tables (`health = { path = "/" }`), standard tables (`[services.web.health]`) and dotted
//! keys (`health.path = "/"`) all look the same through [`TableRef`].

pub(crate) mod convert;
pub(crate) mod suggest;

use std::ops::Range;
use std::path::Path;
use std::sync::OnceLock;

use toml_edit::{Item, Key, TableLike, TomlError};

use crate::diagnostic::{Diagnostic, SourceMap};
use convert::Problem;

/// A byte range in the spec source.
pub(crate) type Span = Range<usize>;

/// Collects diagnostics against one source file.
pub(crate) struct Walker<'s> {
    src: &'s str,
    file: &'s Path,
    map: SourceMap<'s>,
    diags: Vec<Diagnostic>,
}

impl<'s> Walker<'s> {
    pub(crate) fn new(src: &'s str, file: &'s Path) -> Self {
        Walker {
            src,
            file,
            map: SourceMap::new(src),
            diags: Vec::new(),
        }
    }

    /// Records a problem at the start of `at` (`None` = the start of the file).
    pub(crate) fn error(
        &mut self,
        at: Option<Span>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let d = self
            .map
            .diagnostic(self.file, at.map(|s| s.start), message.into(), hint);
        self.diags.push(d);
    }

    /// Records a converter's [`Problem`] at `at`.
    pub(crate) fn problem(&mut self, at: Option<Span>, problem: Problem) {
        self.error(at, problem.message, problem.hint);
    }

    /// Records a TOML syntax error, which is the only thing reported for a file that does not parse.
    pub(crate) fn syntax_error(&mut self, err: &TomlError) {
        let mut lines = err
            .message()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty());
        let first = lines.next().unwrap_or("invalid TOML");
        let rest: Vec<&str> = lines.collect();
        let mut message = format!("TOML syntax: {first}");
        if !rest.is_empty() {
            message.push_str(&format!(" ({})", rest.join("; ")));
        }
        let hint = first
            .contains("invalid string")
            .then(|| "strings must be quoted, e.g. \"value\"".to_owned());
        self.error(err.span(), message, hint);
    }

    /// The source text of a span, as the user wrote it.
    pub(crate) fn text(&self, span: &Span) -> &'s str {
        self.src.get(span.clone()).unwrap_or("")
    }

    /// True once anything was reported; the compiled spec is then discarded.
    pub(crate) fn has_errors(&self) -> bool {
        !self.diags.is_empty()
    }

    /// All problems, in file order.
    pub(crate) fn into_diagnostics(mut self) -> Vec<Diagnostic> {
        self.diags.sort_by_key(|d| (d.line, d.col));
        self.diags
    }

    /// Reports every key of `table` that is not in `allowed`, suggesting the closest allowed key.
    /// `special` gives a tailored hint for keys that are a known mistake.
    pub(crate) fn check_keys(
        &mut self,
        table: &TableRef<'_>,
        allowed: &[&str],
        special: &[(&str, &str)],
    ) {
        for entry in table.entries() {
            if allowed.contains(&entry.name) {
                continue;
            }
            let hint = if let Some((_, hint)) = special.iter().find(|(k, _)| *k == entry.name) {
                (*hint).to_owned()
            } else {
                let list = allowed.join(", ");
                match suggest::closest(entry.name, allowed) {
                    Some(close) => format!("did you mean \"{close}\"? (allowed keys: {list})"),
                    None => format!("allowed keys: {list}"),
                }
            };
            self.error(
                entry.key_span(),
                format!("unknown key \"{}\" {}", entry.name, table.location()),
                Some(hint),
            );
        }
    }

    /// `entry` as a table, or a type error. `example` shows what a correct value looks like.
    pub(crate) fn table<'a>(
        &mut self,
        parent: &TableRef<'a>,
        entry: Entry<'a>,
        example: &str,
    ) -> Option<TableRef<'a>> {
        match entry.item.as_table_like() {
            Some(table) => Some(TableRef {
                table,
                path: parent.child_path(entry.name),
                span: entry.item.span().or_else(|| entry.key_span()),
                valid: true,
            }),
            None => {
                self.problem(
                    entry.value_span(),
                    Problem::expected("a table", entry.item).hint(format!("write {example}")),
                );
                None
            }
        }
    }

    /// The sub-table `key` of `parent`, with its keys checked against `allowed`. An absent table
    /// reads as empty (so every key takes its default); a value that is not a table is reported
    /// and reads as an empty *invalid* table (so every key reads as [`Val::Invalid`]).
    pub(crate) fn section<'a>(
        &mut self,
        parent: &TableRef<'a>,
        key: &str,
        allowed: &[&str],
        example: &str,
    ) -> TableRef<'a> {
        let table = self.open(parent, key, example);
        self.check_keys(&table, allowed, &[]);
        table
    }

    /// Like [`Walker::section`], without checking the keys (for free-form tables such as `env`).
    pub(crate) fn open<'a>(
        &mut self,
        parent: &TableRef<'a>,
        key: &str,
        example: &str,
    ) -> TableRef<'a> {
        let path = parent.child_path(key);
        if !parent.valid {
            return TableRef::empty(path, false);
        }
        match parent.get(key) {
            None => TableRef::empty(path, true),
            Some(entry) => self
                .table(parent, entry, example)
                .unwrap_or_else(|| TableRef::empty(path, false)),
        }
    }

    /// `key` of `parent` as a list of tables: `[[parent.key]]` sections or an inline array of
    /// inline tables. Each table's keys are checked against `allowed`; an element that is not a
    /// table is reported and left out. Elements come in file order.
    pub(crate) fn table_array<'a>(
        &mut self,
        parent: &TableRef<'a>,
        key: &str,
        allowed: &[&str],
        example: &str,
    ) -> Val<Vec<TableRef<'a>>> {
        if !parent.valid {
            return Val::Invalid;
        }
        let Some(entry) = parent.get(key) else {
            return Val::Missing;
        };
        let path = parent.child_path(key);
        let mut out = Vec::new();
        let mut valid = true;
        match entry.item {
            Item::ArrayOfTables(tables) => {
                for table in tables.iter() {
                    out.push(TableRef {
                        table,
                        path: path.clone(),
                        span: table.span(),
                        valid: true,
                    });
                }
            }
            Item::Value(toml_edit::Value::Array(array)) => {
                for v in array.iter() {
                    match v.as_inline_table() {
                        Some(table) => out.push(TableRef {
                            table,
                            path: path.clone(),
                            span: v.span(),
                            valid: true,
                        }),
                        None => {
                            self.error(
                                v.span(),
                                format!(
                                    "{path}: expected a table, found {}",
                                    convert::value_type_name(v)
                                ),
                                Some(format!("write {example}")),
                            );
                            valid = false;
                        }
                    }
                }
            }
            item => {
                self.problem(
                    entry.value_span(),
                    Problem::expected("an array of tables", item).hint(format!("write {example}")),
                );
                return Val::Invalid;
            }
        }
        for table in &out {
            self.check_keys(table, allowed, &[]);
        }
        if valid {
            Val::Given(out, entry.value_span())
        } else {
            Val::Invalid
        }
    }

    /// Reads `key` of `table` with `convert`, reporting a problem at the value.
    pub(crate) fn get<T>(
        &mut self,
        table: &TableRef<'_>,
        key: &str,
        convert: impl FnOnce(&Item) -> Result<T, Problem>,
    ) -> Val<T> {
        if !table.valid {
            return Val::Invalid;
        }
        let Some(entry) = table.get(key) else {
            return Val::Missing;
        };
        let span = entry.value_span();
        match convert(entry.item) {
            Ok(v) => Val::Given(v, span),
            Err(mut p) => {
                // Name the key: "health.interval: invalid duration" reads better than the bare
                // complaint, above all in inline tables where the key is off to the left.
                p.message = format!("{}: {}", table.child_path(key), p.message);
                self.problem(span, p);
                Val::Invalid
            }
        }
    }

    /// Reads `key` of `table` as an array of strings, reporting every element that is not one.
    /// Each string comes with its position.
    pub(crate) fn string_list(
        &mut self,
        table: &TableRef<'_>,
        key: &str,
        example: &str,
    ) -> Val<Vec<(String, Option<Span>)>> {
        if !table.valid {
            return Val::Invalid;
        }
        let Some(entry) = table.get(key) else {
            return Val::Missing;
        };
        let span = entry.value_span();
        let Some(array) = entry.item.as_array() else {
            self.problem(
                span,
                Problem::expected("an array of strings", entry.item)
                    .hint(format!("write {key} = {example}")),
            );
            return Val::Invalid;
        };
        let mut out = Vec::new();
        let mut valid = true;
        for v in array.iter() {
            match v.as_str() {
                Some(s) => out.push((s.to_owned(), v.span())),
                None => {
                    let shown = v.span().map_or("", |s| self.text(&s)).trim();
                    self.error(
                        v.span(),
                        format!("expected a string, found {}", convert::value_type_name(v)),
                        Some(format!("quote it: \"{shown}\"")),
                    );
                    valid = false;
                }
            }
        }
        if valid {
            Val::Given(out, span)
        } else {
            Val::Invalid
        }
    }
}

/// A table of the spec (any TOML table syntax), with its dotted path for messages.
#[derive(Clone)]
pub(crate) struct TableRef<'a> {
    table: &'a dyn TableLike,
    path: String,
    span: Option<Span>,
    /// False when the table's value was reported as wrong: its keys read as [`Val::Invalid`].
    valid: bool,
}

impl<'a> TableRef<'a> {
    pub(crate) fn root(table: &'a toml_edit::Table) -> Self {
        TableRef {
            table,
            path: String::new(),
            span: None,
            valid: true,
        }
    }

    /// A table that is not in the file: absent (`valid`) or not a table (`!valid`).
    fn empty(path: String, valid: bool) -> Self {
        static EMPTY: OnceLock<toml_edit::Table> = OnceLock::new();
        TableRef {
            table: EMPTY.get_or_init(toml_edit::Table::new),
            path,
            span: None,
            valid,
        }
    }

    /// False when the table was written with a value of the wrong type (already reported).
    pub(crate) fn valid(&self) -> bool {
        self.valid
    }

    /// The dotted path of the table, e.g. `services.web.health` (empty for the root).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    fn child_path(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// Where a key of this table is, in messages: "in [services.web]" or "at the top level".
    pub(crate) fn location(&self) -> String {
        if self.path.is_empty() {
            "at the top level".to_owned()
        } else {
            format!("in [{}]", self.path)
        }
    }

    /// Where the table starts (its header, opening brace or first dotted key), if known.
    pub(crate) fn span(&self) -> Option<Span> {
        self.span.clone()
    }

    pub(crate) fn get(&self, key: &str) -> Option<Entry<'a>> {
        let (key, item) = self.table.get_key_value(key)?;
        (!item.is_none()).then_some(Entry {
            name: key.get(),
            key,
            item,
        })
    }

    /// All entries, in file order.
    pub(crate) fn entries(&self) -> Vec<Entry<'a>> {
        let table: &'a dyn TableLike = self.table;
        table
            .iter()
            .filter_map(|(name, _)| {
                let (key, item) = table.get_key_value(name)?;
                Some(Entry {
                    name: key.get(),
                    key,
                    item,
                })
            })
            .collect()
    }
}

/// One `key = value` of a table.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub(crate) name: &'a str,
    pub(crate) key: &'a Key,
    pub(crate) item: &'a Item,
}

impl Entry<'_> {
    pub(crate) fn key_span(&self) -> Option<Span> {
        self.key.span()
    }

    /// Where the value is (for implicit tables, which have no position, the key).
    pub(crate) fn value_span(&self) -> Option<Span> {
        self.item.span().or_else(|| self.key_span())
    }
}

/// The outcome of reading one optional value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<T> {
    /// The key is absent.
    Missing,
    /// The key is present but its value was reported as wrong.
    Invalid,
    /// The key is present with a good value, at this position.
    Given(T, Option<Span>),
}

impl<T> Val<T> {
    /// Falls back to `default` when the key is absent.
    pub(crate) fn or(self, default: T) -> Setting<T> {
        match self {
            Val::Missing => Setting {
                value: default,
                span: None,
                valid: true,
            },
            Val::Invalid => Setting {
                value: default,
                span: None,
                valid: false,
            },
            Val::Given(value, span) => Setting {
                value,
                span,
                valid: true,
            },
        }
    }
}

/// A value after defaults: either given (with a position) or defaulted.
/// `valid == false` means a problem was already reported, so checks that combine it with other
/// values are skipped rather than reporting a second, confusing error.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Setting<T> {
    pub(crate) value: T,
    pub(crate) span: Option<Span>,
    pub(crate) valid: bool,
}

impl<T> Setting<T> {
    /// The value, if it can take part in further checks.
    pub(crate) fn ok(&self) -> Option<&T> {
        self.valid.then_some(&self.value)
    }

    /// True when the value was written in the file (not defaulted).
    pub(crate) fn given(&self) -> bool {
        self.span.is_some()
    }
}
