//! Small-cell suppression for victim-related counts.
//!
//! A table of counts is published with its row totals, column totals and
//! grand total. Counts of 1..=threshold are hidden (primary suppression);
//! zeros are shown, so a reader knows every hidden value is at least 1.
//! More cells are then hidden (complementary suppression) until no hidden
//! value can be recovered from what is shown.
//!
//! Why the check is sound: put the table and its totals in one augmented
//! grid and negate the totals; every row and column of that grid then sums
//! to zero, and those sums are exactly what a reader can use. Adding +1 and
//! -1 alternately around a cycle of hidden cells (row, column, row, ...)
//! keeps every sum, so if such a shift keeps every hidden cell within what
//! the reader knows of it, a second table exists that shows the same figures
//! but a different value in that cell. [`witness`] builds that second table;
//! the property tests check it against the published figures independently.
//!
//! Two readers are guarded against ([`Reader`]). Every table is protected
//! from the one who knows only what is published. Suppression aims higher:
//! unless it had to hide every non-zero figure, a reader who also knew which
//! hidden cells are the small ones learns nothing either. That stronger
//! protection cannot exist for some tables, whatever is hidden: two 1s and
//! threshold 2 make a grand total of 2, and a reader told that the total is
//! small knows both cells are 1. [`Suppressed::protection`] says which holds.

use serde::{Deserialize, Serialize};

/// Most rows or columns a suppressed table may have (bounds the search).
pub const MAX_SIDE: usize = 12;
/// Cycles examined per cell before giving up on it (and hiding more).
const MAX_CYCLES: usize = 20_000;

/// Smallest threshold: with 1, a reader who knew which hidden cells are small
/// would know each of them is exactly 1.
pub const MIN_THRESHOLD: u64 = 2;
pub const MAX_THRESHOLD: u64 = 1_000;
pub const DEFAULT_THRESHOLD: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuppressionError {
    #[error("suppression threshold must be {MIN_THRESHOLD} to {MAX_THRESHOLD}, got {0}")]
    Threshold(u64),
    #[error("table must have 1 to {MAX_SIDE} rows and columns, all rows the same length")]
    Shape,
    /// Hiding every non-zero figure always protects them (proof at [`suppress`]);
    /// this refuses to publish rather than trust that proof blindly.
    #[error("suppression could not protect the hidden figure at row {row}, column {col}")]
    Unprotected { row: usize, col: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hidden {
    Shown,
    Primary,
    Complementary,
}

/// What a reader is assumed to know about the hidden cells, besides the
/// published figures: the constraints a witness table must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reader {
    /// Every hidden value is at least 1, because zeros are shown.
    Published,
    /// Also which hidden cells are small: each of those is within
    /// 1..=threshold. Every suppressed cell looks the same in the report, so
    /// this is more than any reader is told.
    KnowsWhichAreSmall,
}

/// The augmented grid: `rows + 1` by `cols + 1`; the last column holds row
/// totals, the last row column totals, the corner the grand total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub values: Vec<Vec<u64>>,
    pub hidden: Vec<Vec<Hidden>>,
    pub threshold: u64,
    /// The strongest reader from whom every hidden figure is protected.
    pub protection: Reader,
}

impl Suppressed {
    pub fn rows(&self) -> usize {
        self.values.len()
    }
    pub fn cols(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }
    pub fn is_hidden(&self, r: usize, c: usize) -> bool {
        self.hidden[r][c] != Hidden::Shown
    }
    fn is_margin(&self, r: usize, c: usize) -> bool {
        r + 1 == self.rows() || c + 1 == self.cols()
    }
    fn is_grand(&self, r: usize, c: usize) -> bool {
        r + 1 == self.rows() && c + 1 == self.cols()
    }
    /// Change of the real value when the negated-margin grid moves by `sign`.
    fn real_delta(&self, r: usize, c: usize, sign: i64) -> i64 {
        if self.is_margin(r, c) && !self.is_grand(r, c) {
            -sign
        } else {
            sign
        }
    }
    fn allowed(&self, reader: Reader, r: usize, c: usize, value: i64) -> bool {
        match (reader, self.hidden[r][c]) {
            (Reader::KnowsWhichAreSmall, Hidden::Primary) => {
                value >= 1 && value <= self.threshold as i64
            }
            _ => value >= 1,
        }
    }
    fn hidden_cells(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.rows())
            .flat_map(move |r| (0..self.cols()).map(move |c| (r, c)))
            .filter(|&(r, c)| self.is_hidden(r, c))
    }
    fn first_unprotected(&self, reader: Reader) -> Option<(usize, usize)> {
        self.hidden_cells()
            .find(|&(r, c)| witness(self, r, c, reader).is_none())
    }
}

/// Augments `table` with its totals.
pub fn augment(table: &[Vec<u64>]) -> Result<Vec<Vec<u64>>, SuppressionError> {
    let rows = table.len();
    let cols = table.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 || rows > MAX_SIDE || cols > MAX_SIDE {
        return Err(SuppressionError::Shape);
    }
    if table.iter().any(|r| r.len() != cols) {
        return Err(SuppressionError::Shape);
    }
    let mut grid = vec![vec![0u64; cols + 1]; rows + 1];
    for (r, row) in table.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            grid[r][c] = *v;
            grid[r][cols] = grid[r][cols].saturating_add(*v);
            grid[rows][c] = grid[rows][c].saturating_add(*v);
            grid[rows][cols] = grid[rows][cols].saturating_add(*v);
        }
    }
    Ok(grid)
}

/// Hides small counts of `table` and enough others that none can be derived.
///
/// Complements are added greedily until every hidden cell is protected from
/// [`Reader::KnowsWhichAreSmall`]. If that fails, every non-zero figure is
/// hidden, which protects each from [`Reader::Published`]: a non-zero cell
/// `(r, c)` of the table, its row total, its column total and the grand total
/// are all at least as large as it, so all non-zero, so all hidden, and
/// raising those four by 1 keeps every published figure. A non-zero total
/// sums some non-zero cell, and lies on that cell's four. The search tries
/// such four-cell cycles before any longer one, so it finds them.
pub fn suppress(table: &[Vec<u64>], threshold: u64) -> Result<Suppressed, SuppressionError> {
    if !(MIN_THRESHOLD..=MAX_THRESHOLD).contains(&threshold) {
        return Err(SuppressionError::Threshold(threshold));
    }
    let values = augment(table)?;
    let (rows, cols) = (table.len(), table[0].len());
    let mut hidden = vec![vec![Hidden::Shown; cols + 1]; rows + 1];
    // Totals are victim counts too: a small total is hidden like any cell.
    for r in 0..=rows {
        for c in 0..=cols {
            if (1..=threshold).contains(&values[r][c]) {
                hidden[r][c] = Hidden::Primary;
            }
        }
    }
    let mut s = Suppressed {
        values,
        hidden,
        threshold,
        protection: Reader::KnowsWhichAreSmall,
    };
    // Each round hides at least one more non-zero cell, so this ends; the
    // bound is the grid size.
    for _ in 0..=(rows + 1) * (cols + 1) {
        let Some((r, c)) = s.first_unprotected(Reader::KnowsWhichAreSmall) else {
            return Ok(s);
        };
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        for rr in 0..s.rows() {
            for cc in 0..s.cols() {
                if !s.is_hidden(rr, cc) && s.values[rr][cc] >= 1 {
                    candidates.push((rr, cc));
                }
            }
        }
        if candidates.is_empty() {
            break;
        }
        // Prefer cells in the same row or column, then the smallest counts:
        // hide as little information as possible.
        candidates.sort_by_key(|&(rr, cc)| {
            let near = rr == r || cc == c;
            (!near, s.values[rr][cc], rr, cc)
        });
        let pick = candidates
            .iter()
            .copied()
            .find(|&(rr, cc)| {
                let mut trial = s.clone();
                trial.hidden[rr][cc] = Hidden::Complementary;
                witness(&trial, r, c, Reader::KnowsWhichAreSmall).is_some()
            })
            .unwrap_or(candidates[0]);
        s.hidden[pick.0][pick.1] = Hidden::Complementary;
    }
    for r in 0..s.rows() {
        for c in 0..s.cols() {
            if s.values[r][c] >= 1 && !s.is_hidden(r, c) {
                s.hidden[r][c] = Hidden::Complementary;
            }
        }
    }
    if s.first_unprotected(Reader::KnowsWhichAreSmall).is_none() {
        return Ok(s);
    }
    s.protection = Reader::Published;
    match s.first_unprotected(Reader::Published) {
        None => Ok(s),
        Some((row, col)) => Err(SuppressionError::Unprotected { row, col }),
    }
}

/// A grid that shows the same figures as `s` but a different value at
/// `(r, c)`, with every hidden cell within what `reader` knows of it; `None`
/// if no single cycle gives one within the search budget.
///
/// Shorter cycles are tried first (4 cells, then 6, ...): they change the
/// fewest figures, and a deep search down one branch must not spend the
/// budget before the short cycles elsewhere are seen.
pub fn witness(s: &Suppressed, r: usize, c: usize, reader: Reader) -> Option<Vec<Vec<u64>>> {
    if !s.is_hidden(r, c) {
        return None;
    }
    let mut search = CycleSearch {
        s,
        reader,
        target_row: r,
        path: vec![(r, c)],
        used_rows: vec![false; s.rows()],
        used_cols: vec![false; s.cols()],
        budget: MAX_CYCLES,
        found: None,
    };
    search.used_rows[r] = true;
    search.used_cols[c] = true;
    // A cycle visits as many rows as columns, each at most once.
    for rows_beyond_start in 1..s.rows().min(s.cols()) {
        search.extend_down(c, rows_beyond_start);
        if search.found.is_some() || search.budget == 0 {
            break;
        }
    }
    search.found
}

/// Depth-first search for shifting cycles through one hidden cell.
struct CycleSearch<'a> {
    s: &'a Suppressed,
    reader: Reader,
    target_row: usize,
    /// Alternates column move, row move, ...: starts at the target cell and
    /// closes back on `target_row`.
    path: Vec<(usize, usize)>,
    used_rows: Vec<bool>,
    used_cols: Vec<bool>,
    budget: usize,
    found: Option<Vec<Vec<u64>>>,
}

impl CycleSearch<'_> {
    fn done(&self) -> bool {
        self.found.is_some() || self.budget == 0
    }

    /// Extends the path down column `col` to another row, then along that
    /// row; closes the cycle only after exactly `rows_left` more rows.
    fn extend_down(&mut self, col: usize, rows_left: usize) {
        let s = self.s;
        for row in 0..s.rows() {
            if self.done() {
                return;
            }
            // Closing at the start row needs a column move first.
            if row == self.target_row || self.used_rows[row] || !s.is_hidden(row, col) {
                continue;
            }
            self.used_rows[row] = true;
            self.path.push((row, col));
            for next_col in 0..s.cols() {
                if self.done() {
                    break;
                }
                if self.used_cols[next_col] || !s.is_hidden(row, next_col) {
                    continue;
                }
                self.path.push((row, next_col));
                if rows_left == 1 {
                    if s.is_hidden(self.target_row, next_col) {
                        self.path.push((self.target_row, next_col));
                        self.budget = self.budget.saturating_sub(1);
                        self.found = try_shift(s, self.reader, &self.path);
                        self.path.pop();
                    }
                } else {
                    self.used_cols[next_col] = true;
                    self.extend_down(next_col, rows_left - 1);
                    self.used_cols[next_col] = false;
                }
                self.path.pop();
            }
            self.path.pop();
            self.used_rows[row] = false;
        }
    }
}

/// `cycle` lists cells with alternating signs starting at +1.
fn try_shift(s: &Suppressed, reader: Reader, cycle: &[(usize, usize)]) -> Option<Vec<Vec<u64>>> {
    for direction in [1i64, -1] {
        let mut grid = s.values.clone();
        let mut ok = true;
        for (i, &(r, c)) in cycle.iter().enumerate() {
            let sign = if i % 2 == 0 { direction } else { -direction };
            let new = s.values[r][c] as i64 + s.real_delta(r, c, sign);
            if !s.allowed(reader, r, c, new) {
                ok = false;
                break;
            }
            grid[r][c] = new as u64;
        }
        if ok {
            return Some(grid);
        }
    }
    None
}

/// What a reader sees: `None` where hidden.
pub fn published(s: &Suppressed) -> Vec<Vec<Option<u64>>> {
    (0..s.rows())
        .map(|r| {
            (0..s.cols())
                .map(|c| (!s.is_hidden(r, c)).then_some(s.values[r][c]))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_small_nothing_hidden() {
        let s = suppress(&[vec![0, 20], vec![30, 0]], 10).unwrap();
        assert!(published(&s).iter().flatten().all(Option::is_some));
    }

    #[test]
    fn a_lone_small_cell_gets_a_partner_in_its_row_and_column() {
        let s = suppress(&[vec![3, 20, 40], vec![30, 50, 60]], 10).unwrap();
        let p = published(&s);
        assert_eq!(p[0][0], None);
        assert!(p[0].iter().filter(|v| v.is_none()).count() >= 2);
        assert!((0..3).map(|r| p[r][0]).filter(Option::is_none).count() >= 2);
        for r in 0..s.rows() {
            for c in 0..s.cols() {
                if s.is_hidden(r, c) {
                    assert!(
                        witness(&s, r, c, Reader::KnowsWhichAreSmall).is_some(),
                        "({r},{c})"
                    );
                }
            }
        }
    }

    #[test]
    fn four_cell_cycles_are_found_before_the_budget_goes_down_one_branch() {
        // Every figure small and every inner cell 1, the grand total exactly the
        // threshold: no cycle of inner cells can shift (one of them would drop to 0)
        // and the strict reader pins everything, so the witnesses must come from
        // cycles through the totals, and deep searches over the inner cells must not
        // spend the budget first.
        let table = vec![vec![1u64; MAX_SIDE]; MAX_SIDE];
        let s = suppress(&table, (MAX_SIDE * MAX_SIDE) as u64).unwrap();
        assert_eq!(s.protection, Reader::Published);
        assert!(s.hidden_cells().count() == (MAX_SIDE + 1) * (MAX_SIDE + 1));
    }

    #[test]
    fn threshold_bounds() {
        assert!(suppress(&[vec![1]], 1).is_err());
        assert!(suppress(&[vec![1]], 10).is_ok());
    }
}
