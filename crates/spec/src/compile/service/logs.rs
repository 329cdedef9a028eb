//! `logs = { max_size, keep }`: the disk bound on each instance's rotated log files.

use crate::model::LogsSpec;
use crate::walk::{convert, TableRef, Walker};

const LOGS_KEYS: &[&str] = &["max_size", "keep"];

pub(crate) fn logs(w: &mut Walker<'_>, t: &TableRef<'_>) -> LogsSpec {
    let d = LogsSpec::default();
    let l = w.section(
        t,
        "logs",
        LOGS_KEYS,
        "logs = { max_size = \"10MiB\", keep = 3 }",
    );
    let max_size = w.get(&l, "max_size", convert::size).or(d.max_size);
    if max_size.ok().is_some_and(|&m| m < LogsSpec::MIN_SIZE) {
        w.error(
            max_size.span.clone(),
            format!(
                "logs.max_size must be at least 4KiB ({} bytes), found {} bytes",
                LogsSpec::MIN_SIZE,
                max_size.value
            ),
            Some(
                "it is the size of one log file before it is rotated; write a size with a unit, e.g. max_size = \"10MiB\" (a bare number is bytes)"
                    .into(),
            ),
        );
    }
    let keep = w.get(&l, "keep", convert::count).or(d.keep);
    if keep.ok().is_some_and(|&k| k > LogsSpec::MAX_KEEP) {
        w.error(
            keep.span.clone(),
            format!(
                "logs.keep must be at most {}, found {}",
                LogsSpec::MAX_KEEP,
                keep.value
            ),
            Some(
                "it counts rotated files kept per instance; for more history raise max_size instead"
                    .into(),
            ),
        );
    }
    LogsSpec {
        max_size: max_size.value,
        keep: keep.value,
    }
}
