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
//! keeps every sum, so if such a shift keeps every hidden cell within its
//! possible values, a second table exists that shows the same figures but a
//! different value in that cell. [`witness`] builds that second table; the
//! property tests check it against the published figures independently.
//! The check is strict: a primary cell must stay within 1..=threshold in
//! the witness (a reader who guessed which cells are primary still learns
//! nothing), a complementary one at least 1.

use serde::{Deserialize, Serialize};

/// Most rows or columns a suppressed table may have (bounds the search).
pub const MAX_SIDE: usize = 12;
/// Cycles examined per cell before giving up on it (and hiding more).
const MAX_CYCLES: usize = 20_000;

/// Smallest threshold for which strict protection is always possible: with
/// 1, every hidden primary cell would be known to be exactly 1.
pub const MIN_THRESHOLD: u64 = 2;
pub const MAX_THRESHOLD: u64 = 1_000;
pub const DEFAULT_THRESHOLD: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuppressionError {
    #[error("suppression threshold must be {MIN_THRESHOLD} to {MAX_THRESHOLD}, got {0}")]
    Threshold(u64),
    #[error("table must have 1 to {MAX_SIDE} rows and columns, all rows the same length")]
    Shape,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hidden {
    Shown,
    Primary,
    Complementary,
}

/// The augmented grid: `rows + 1` by `cols + 1`; the last column holds row
/// totals, the last row column totals, the corner the grand total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    pub values: Vec<Vec<u64>>,
    pub hidden: Vec<Vec<Hidden>>,
    pub threshold: u64,
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
    fn allowed(&self, r: usize, c: usize, value: i64) -> bool {
        match self.hidden[r][c] {
            Hidden::Primary => value >= 1 && value <= self.threshold as i64,
            _ => value >= 1,
        }
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
    };
    // Each round hides at least one more non-zero cell, so this ends; the
    // bound is the grid size.
    for _ in 0..=(rows + 1) * (cols + 1) {
        let Some((r, c)) = first_unprotected(&s) else {
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
                protected(&trial, r, c)
            })
            .unwrap_or(candidates[0]);
        s.hidden[pick.0][pick.1] = Hidden::Complementary;
    }
    // Fallback: hide every non-zero figure, which is always safe.
    for r in 0..s.rows() {
        for c in 0..s.cols() {
            if s.values[r][c] >= 1 && !s.is_hidden(r, c) {
                s.hidden[r][c] = Hidden::Complementary;
            }
        }
    }
    Ok(s)
}

fn first_unprotected(s: &Suppressed) -> Option<(usize, usize)> {
    (0..s.rows())
        .flat_map(|r| (0..s.cols()).map(move |c| (r, c)))
        .find(|&(r, c)| s.is_hidden(r, c) && !protected(s, r, c))
}

/// True when some cycle through `(r, c)` can shift.
pub fn protected(s: &Suppressed, r: usize, c: usize) -> bool {
    witness(s, r, c).is_some()
}

/// A grid that shows the same figures as `s` but a different value at
/// `(r, c)`, with every hidden cell within its allowed values; `None` if no
/// single cycle gives one.
pub fn witness(s: &Suppressed, r: usize, c: usize) -> Option<Vec<Vec<u64>>> {
    if !s.is_hidden(r, c) {
        return None;
    }
    let mut found = None;
    let mut budget = MAX_CYCLES;
    // Path alternates column -> row -> column ..., starting at column c and
    // ending at row r, never reusing a node; edges are hidden cells.
    let mut path: Vec<(usize, usize)> = vec![(r, c)];
    let mut used_rows = vec![false; s.rows()];
    let mut used_cols = vec![false; s.cols()];
    used_rows[r] = true;
    used_cols[c] = true;
    search_from_col(
        s,
        c,
        r,
        &mut path,
        &mut used_rows,
        &mut used_cols,
        &mut budget,
        &mut found,
    );
    found
}

#[allow(clippy::too_many_arguments)]
fn search_from_col(
    s: &Suppressed,
    col: usize,
    target_row: usize,
    path: &mut Vec<(usize, usize)>,
    used_rows: &mut [bool],
    used_cols: &mut [bool],
    budget: &mut usize,
    found: &mut Option<Vec<Vec<u64>>>,
) {
    for row in 0..s.rows() {
        if found.is_some() || *budget == 0 {
            return;
        }
        if !s.is_hidden(row, col) || (row, col) == path[0] {
            continue;
        }
        if row == target_row {
            continue; // closing at the start row needs a column move first
        }
        if used_rows[row] {
            continue;
        }
        used_rows[row] = true;
        path.push((row, col));
        // From this row, move along it to another column.
        for next_col in 0..s.cols() {
            if found.is_some() || *budget == 0 {
                break;
            }
            if used_cols[next_col] || !s.is_hidden(row, next_col) {
                continue;
            }
            path.push((row, next_col));
            if s.is_hidden(target_row, next_col) {
                path.push((target_row, next_col));
                *budget = budget.saturating_sub(1);
                if let Some(grid) = try_shift(s, path) {
                    *found = Some(grid);
                }
                path.pop();
            }
            if found.is_none() {
                used_cols[next_col] = true;
                search_from_col(
                    s, next_col, target_row, path, used_rows, used_cols, budget, found,
                );
                used_cols[next_col] = false;
            }
            path.pop();
        }
        path.pop();
        used_rows[row] = false;
    }
}

/// `cycle` lists cells with alternating signs starting at +1.
fn try_shift(s: &Suppressed, cycle: &[(usize, usize)]) -> Option<Vec<Vec<u64>>> {
    for direction in [1i64, -1] {
        let mut grid = s.values.clone();
        let mut ok = true;
        for (i, &(r, c)) in cycle.iter().enumerate() {
            let sign = if i % 2 == 0 { direction } else { -direction };
            let new = s.values[r][c] as i64 + s.real_delta(r, c, sign);
            if !s.allowed(r, c, new) {
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
                    assert!(witness(&s, r, c).is_some(), "({r},{c})");
                }
            }
        }
    }

    #[test]
    fn threshold_bounds() {
        assert!(suppress(&[vec![1]], 1).is_err());
        assert!(suppress(&[vec![1]], 10).is_ok());
    }
}
