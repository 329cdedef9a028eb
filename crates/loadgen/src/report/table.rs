//! The report as aligned text: one section per concern, labels in one column throughout.

use std::fmt::Write as _;

use super::{Report, ERROR_RATE};

/// One block of the table: the first cell of each row is the label.
struct Section {
    rows: Vec<Vec<String>>,
    /// Right-align figures into columns (free text stays left-aligned); otherwise every value
    /// is left-aligned, as in the summary where figures and descriptions mix.
    columns: bool,
}

impl Section {
    fn text(rows: Vec<Vec<String>>) -> Self {
        Self {
            rows,
            columns: false,
        }
    }

    fn columns(rows: Vec<Vec<String>>) -> Self {
        Self {
            rows,
            columns: true,
        }
    }
}

impl Report {
    /// The report for people: summary, latency, status codes, errors, thresholds.
    pub fn render_table(&self) -> String {
        let mut sections: Vec<Section> = Vec::new();

        let mut summary = vec![
            row(["Target", &format!("{} {}", self.method, self.url)]),
            row(["Load", &self.load]),
            row(["Requests", &self.requests.to_string()]),
            row(["Duration", &format!("{:.2}s", self.duration_s)]),
            row(["Requests/s", &format!("{:.1}", self.rps)]),
            row([
                "Failures",
                &format!("{} ({:.2} %)", self.failures, self.error_rate * 100.0),
            ]),
        ];
        if self.interrupted {
            summary.push(row([
                "Interrupted",
                "yes (figures cover the time until Ctrl-C)",
            ]));
        }
        sections.push(Section::text(summary));

        let l = &self.latency_ms;
        let cells = [l.p50, l.p90, l.p99, l.p999, l.max];
        sections.push(Section::columns(vec![
            row(["Latency (ms)", "p50", "p90", "p99", "p99.9", "max"]),
            std::iter::once(String::new())
                .chain(cells.iter().map(|v| v.map_or_else(|| "-".to_owned(), ms)))
                .collect(),
        ]));

        if !self.status.is_empty() {
            let mut status = vec![row(["Status", "count"])];
            for (class, n) in &self.status_class {
                status.push(row([&format!("  {class}"), &n.to_string()]));
                let prefix = &class[..1];
                for (code, n) in self.status.iter().filter(|(c, _)| c.starts_with(prefix)) {
                    status.push(row([&format!("    {code}"), &n.to_string()]));
                }
            }
            sections.push(Section::columns(status));
        }

        if !self.errors.is_empty() {
            let mut errors = vec![row(["Errors", "count", "first seen"])];
            for (kind, n) in &self.errors {
                let example = self.error_examples.get(kind).map_or("", String::as_str);
                errors.push(row([&format!("  {kind}"), &n.to_string(), example]));
            }
            sections.push(Section::columns(errors));
        }

        if !self.thresholds.is_empty() {
            let mut thresholds = vec![row(["Thresholds", "limit", "value", "result"])];
            for (name, t) in &self.thresholds {
                let number = |v: f64| {
                    if name == ERROR_RATE {
                        format!("{v:.4}")
                    } else {
                        ms(v)
                    }
                };
                thresholds.push(row([
                    &format!("  {name}"),
                    &number(t.limit),
                    &t.value.map_or_else(|| "-".to_owned(), number),
                    if t.passed { "passed" } else { "FAILED" },
                ]));
            }
            sections.push(Section::columns(thresholds));
        }

        layout(&sections)
    }
}

fn row<const N: usize>(cells: [&str; N]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn ms(v: f64) -> String {
    format!("{v:.2}")
}

/// Aligns every section on one label width; in column sections figures are right-aligned per
/// column and free text (messages) is left as it is.
fn layout(sections: &[Section]) -> String {
    let label_width = sections
        .iter()
        .flat_map(|s| &s.rows)
        .filter_map(|r| r.first())
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let columns = section.rows.iter().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for r in &section.rows {
            for (c, cell) in r.iter().enumerate().skip(1).filter(|(_, c)| !is_text(c)) {
                widths[c] = widths[c].max(cell.chars().count());
            }
        }
        for r in &section.rows {
            let mut line = String::new();
            for (c, cell) in r.iter().enumerate() {
                if c == 0 {
                    let _ = write!(line, "{cell:<label_width$}");
                } else if !section.columns || is_text(cell) {
                    let _ = write!(line, "  {cell}");
                } else {
                    let _ = write!(line, "  {cell:>width$}", width = widths[c]);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Free text is left as it is; figures and short headings are right-aligned.
fn is_text(cell: &str) -> bool {
    cell.contains(' ') || cell.chars().count() > 12
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::{Latency, Report, Threshold};
    use crate::args::Model;

    fn report() -> Report {
        Report {
            url: "http://127.0.0.1:8080/".into(),
            method: "GET".into(),
            model: Model::Closed,
            load: "closed model, 4 connections for 2s".into(),
            requests: 1000,
            responses: 990,
            duration_s: 2.0,
            rps: 500.0,
            latency_ms: Latency {
                p50: Some(1.5),
                p90: Some(3.0),
                p99: Some(12.25),
                p999: Some(40.0),
                max: Some(51.0),
                mean: Some(2.0),
            },
            status: BTreeMap::from([("200".into(), 980), ("503".into(), 10)]),
            status_class: BTreeMap::from([("2xx".into(), 980), ("5xx".into(), 10)]),
            errors: BTreeMap::from([("connect refused".into(), 10)]),
            error_examples: BTreeMap::from([(
                "connect refused".into(),
                "connect: Connection refused".into(),
            )]),
            failures: 20,
            error_rate: 0.02,
            thresholds: BTreeMap::from([(
                "error_rate".into(),
                Threshold {
                    limit: 0.01,
                    value: Some(0.02),
                    passed: false,
                },
            )]),
            interrupted: false,
        }
    }

    #[test]
    fn table_has_aligned_sections() {
        let text = report().render_table();
        assert!(text.contains("Requests/s"), "{text}");
        assert!(text.contains("12.25"), "{text}");
        assert!(text.contains("    503"), "{text}");
        assert!(text.contains("FAILED"), "{text}");
        assert!(text.contains("connect: Connection refused"), "{text}");
        // Every row's values start after the same label column.
        let label_width = "  connect refused".len() + 2;
        for line in text.lines().filter(|l| l.len() > label_width) {
            assert!(line[label_width..].starts_with("  "), "{line:?}");
            assert!(!line[..label_width].trim().contains("  "), "{line:?}");
        }
    }
}
