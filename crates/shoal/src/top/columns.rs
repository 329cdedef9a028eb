//! Tables that fit the terminal: each column has a width and a rank, and when the screen is
//! too narrow for all of them the least needed go first (as `htop` and k9s drop columns),
//! rather than every column being squeezed until none can be read. The two tables of the
//! screen are defined here too.

use ratatui::layout::Constraint;
use ratatui::widgets::{Cell, Row};

use super::app::ServiceView;

/// Cells between columns (ratatui's default column spacing).
const SPACING: u16 = 1;

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub title: &'static str,
    /// Cells it needs; for the last, flexible column the least it is worth showing with.
    pub width: u16,
    /// Which goes first when space runs out: 0 never goes, higher ranks go before lower ones.
    pub rank: u8,
    /// Takes whatever width is left over (the last column of a table).
    pub fill: bool,
}

/// A fixed-width column.
pub const fn col(title: &'static str, width: u16, rank: u8) -> Column {
    Column {
        title,
        width,
        rank,
        fill: false,
    }
}

/// A column that takes the rest of the row, shown only with at least `min` cells.
pub const fn fill(title: &'static str, min: u16, rank: u8) -> Column {
    Column {
        title,
        width: min,
        rank,
        fill: true,
    }
}

/// The indices of the columns that fit in `width` cells, in their order: the highest-ranked
/// columns are dropped (the rightmost first among equals) until the rest fit. Columns ranked 0
/// always stay, even if they then overflow.
pub fn fit(columns: &[Column], width: u16) -> Vec<usize> {
    let mut keep: Vec<usize> = (0..columns.len()).collect();
    let needed = |keep: &[usize]| -> u32 {
        let cells: u32 = keep.iter().map(|&i| u32::from(columns[i].width)).sum();
        cells + u32::from(SPACING) * keep.len().saturating_sub(1) as u32
    };
    while needed(&keep) > u32::from(width) {
        let victim = keep
            .iter()
            .enumerate()
            .filter(|(_, &i)| columns[i].rank > 0)
            .max_by_key(|(pos, &i)| (columns[i].rank, *pos))
            .map(|(pos, _)| pos);
        match victim {
            Some(pos) => {
                keep.remove(pos);
            }
            None => break,
        }
    }
    keep
}

/// The kept columns' constraints for ratatui.
pub fn widths(columns: &[Column], keep: &[usize]) -> Vec<Constraint> {
    keep.iter()
        .map(|&i| match columns[i] {
            Column { fill: true, .. } => Constraint::Fill(1),
            Column { width, .. } => Constraint::Length(width),
        })
        .collect()
}

/// The kept columns' headings, styled like every table header here.
pub fn header(columns: &[Column], keep: &[usize], style: ratatui::style::Style) -> Row<'static> {
    Row::new(keep.iter().map(|&i| columns[i].title)).style(style)
}

/// The kept cells of a row built with one cell per column.
pub fn kept<'a>(cells: Vec<Cell<'a>>, keep: &[usize]) -> Vec<Cell<'a>> {
    cells
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep.contains(i))
        .map(|(_, c)| c)
        .collect()
}

/// The services table: rank 0 stays, higher ranks go first on narrow terminals.
pub const SERVICE_COLUMNS: [Column; 10] = [
    col("SERVICE", 8, 0),
    col("INSTANCES", 12, 0),
    col("DESIRED", 8, 3),
    col("MIN..MAX", 9, 5),
    col("RPS", 8, 2),
    col("P95", 9, 4),
    col("ERRORS", 7, 4),
    col("TCP", 17, 1),
    col("REV", 5, 6),
    fill("NOTE", 14, 0),
];

/// The instances table, likewise.
pub const INSTANCE_COLUMNS: [Column; 13] = [
    col("ID", 3, 0),
    col("STATE", 11, 0),
    col("REV", 4, 5),
    col("PORT", 6, 3),
    col("PID", 8, 4),
    col("CPU", 7, 1),
    col("MEM", 9, 2),
    col("INFLIGHT", 8, 3),
    col("CONNS", 6, 1),
    col("RESTARTS", 8, 3),
    col("UPTIME", 8, 2),
    col("REQ/S", 7, 3),
    fill("CPU HISTORY", 16, 7),
];

/// Cells a table loses to its borders and the highlight symbol.
pub const TABLE_CHROME: u16 = 4;

/// A table's columns with the first one as wide as its widest entry.
pub fn sized(columns: &[Column], first: usize) -> Vec<Column> {
    let mut out = columns.to_vec();
    out[0].width = out[0].width.max(first as u16 + 1);
    out
}

/// The instance columns for `service`: on a narrow screen, requests in flight matter for an
/// HTTP service and connections for a TCP one, so the other goes early.
pub fn instance_columns(service: &ServiceView, id_w: usize) -> Vec<Column> {
    let mut cols = sized(&INSTANCE_COLUMNS, id_w);
    let rank = |cols: &mut [Column], title: &str, rank: u8| {
        if let Some(c) = cols.iter_mut().find(|c| c.title == title) {
            c.rank = rank;
        }
    };
    if service.tcp.is_none() {
        rank(&mut cols, "CONNS", 6);
        rank(&mut cols, "INFLIGHT", 1);
    } else if service.tcp_only() {
        rank(&mut cols, "INFLIGHT", 6);
        rank(&mut cols, "REQ/S", 6);
    }
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [Column; 5] = [
        col("NAME", 10, 0),
        col("A", 10, 2),
        col("B", 10, 1),
        col("C", 10, 2),
        fill("REST", 10, 3),
    ];

    #[test]
    fn everything_fits_on_a_wide_screen() {
        assert_eq!(fit(&COLS, 54), [0, 1, 2, 3, 4]);
        assert_eq!(widths(&COLS, &[0, 4])[1], Constraint::Fill(1));
    }

    #[test]
    fn the_highest_rank_goes_first_then_the_rightmost_of_a_rank() {
        assert_eq!(fit(&COLS, 53), [0, 1, 2, 3]);
        assert_eq!(fit(&COLS, 40), [0, 1, 2]);
        assert_eq!(fit(&COLS, 25), [0, 2]);
        assert_eq!(fit(&COLS, 12), [0]);
    }

    #[test]
    fn rank_zero_stays_even_when_it_overflows() {
        assert_eq!(fit(&COLS, 3), [0]);
        assert_eq!(fit(&[], 3), Vec::<usize>::new());
    }

    #[test]
    fn cells_follow_the_kept_columns() {
        let cells = vec![Cell::from("a"), Cell::from("b"), Cell::from("c")];
        assert_eq!(kept(cells, &[0, 2]), vec![Cell::from("a"), Cell::from("c")]);
    }
}
