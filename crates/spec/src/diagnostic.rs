//! Errors as the user sees them: a `file:line:col` position, a message and a hint, so that every
//! problem in a spec can be fixed without guessing where or how.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found in a spec, pointing at the exact place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The spec file, as it was given to [`crate::load`] / [`crate::parse`].
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters (not bytes).
    pub col: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.file.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Every problem found in a spec, in file order. Returned instead of stopping at the first
/// problem, so one edit-and-retry round fixes them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Number of problems.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is nothing to report.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems, in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        let n = self.0.len();
        write!(f, "{n} {}", if n == 1 { "error" } else { "errors" })
    }
}

impl std::error::Error for Diagnostics {}

/// Turns byte offsets (what `toml_edit` spans are) into 1-based line and character columns.
pub(crate) struct SourceMap<'s> {
    src: &'s str,
    line_starts: Vec<usize>,
}

impl<'s> SourceMap<'s> {
    pub(crate) fn new(src: &'s str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(src.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceMap { src, line_starts }
    }

    /// 1-based `(line, col)` of a byte offset; offsets past the end map to the end.
    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.src.len());
        while !self.src.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let col = self.src[start..offset].chars().count() + 1;
        (line, col)
    }

    /// A diagnostic at a byte offset (`None` = the start of the file).
    pub(crate) fn diagnostic(
        &self,
        file: &Path,
        offset: Option<usize>,
        message: String,
        hint: Option<String>,
    ) -> Diagnostic {
        let (line, col) = offset.map_or((1, 1), |o| self.position(o));
        Diagnostic {
            file: file.to_path_buf(),
            line,
            col,
            message,
            hint,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let map = SourceMap::new("ab\nx = \"é\" y\n");
        assert_eq!(map.position(0), (1, 1));
        assert_eq!(map.position(1), (1, 2));
        assert_eq!(map.position(3), (2, 1));
        // 'y' is at byte 12 but char column 9.
        assert_eq!(map.position(12), (2, 9));
        assert_eq!(map.position(1000), (3, 1));
    }

    #[test]
    fn display_format() {
        let d = Diagnostic {
            file: PathBuf::from("shoal.toml"),
            line: 12,
            col: 9,
            message: "bad".into(),
            hint: Some("fix it".into()),
        };
        assert_eq!(d.to_string(), "shoal.toml:12:9: error: bad\n  hint: fix it");
        let two = Diagnostics(vec![d.clone(), Diagnostic { hint: None, ..d }]);
        assert_eq!(
            two.to_string(),
            "shoal.toml:12:9: error: bad\n  hint: fix it\nshoal.toml:12:9: error: bad\n2 errors"
        );
    }
}
