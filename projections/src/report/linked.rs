//! Every victim figure ever published, as one system of sums over unknown
//! base cells: the count of one age band in one quarter.
//!
//! A release's table publishes, for its quarters, each band in each quarter,
//! each quarter over all bands, each band over the period and the period
//! over all bands. Releases covering the same quarter share that quarter's
//! base cells, so a reader can subtract a calendar year from a fiscal year or
//! a nested period from its parent: the system holds all of them at once,
//! and the audit and the suppression both reason over the whole system.
//!
//! A base cell belongs to a *generation*: the quarter's figures as they stood
//! when first released. A declared revision that changes a quarter's counts
//! starts a new generation; the earlier release's figures stay public and in
//! the system, over the old generation's cells.

use std::collections::BTreeMap;

use icac_aggregates::release::{PublishedVictims, Quarter};

/// One unknown: a band's count in a quarter, of one generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct BaseCell {
    pub band: usize,
    pub quarter: Quarter,
    pub generation: u32,
}

/// Where a published figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A release already public (its number).
    Public(u32),
    /// The release being prepared.
    Current,
}

/// A published figure: the sum of some base cells, shown or hidden.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// E.g. `2025-Q1, age 13-15` or `2025-Q1..2025-Q4, all ages`.
    pub label: String,
    /// Indexes into [`System::base`], sorted.
    pub cells: Vec<usize>,
    /// `None` while hidden (or, for the current release, undecided).
    pub shown: Option<u64>,
    pub origin: Origin,
}

/// The linked figures and the true value of every base cell.
#[derive(Debug, Clone, Default)]
pub struct System {
    pub bands: Vec<String>,
    pub base: Vec<BaseCell>,
    /// True counts, one per base cell. Only the publisher and the audit (which
    /// recomputes them from the ledger) hold these; readers never do.
    pub truth: Vec<u64>,
    pub items: Vec<Item>,
    by_cells: BTreeMap<Vec<usize>, usize>,
    /// Per quarter, the true band counts of each generation so far.
    generations: BTreeMap<Quarter, Vec<Vec<u64>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("release {release} has {got} age bands, this release {want}")]
    Bands {
        release: u32,
        got: usize,
        want: usize,
    },
    #[error("the true counts given for {quarter} do not have one figure per band")]
    Truth { quarter: Quarter },
    #[error(
        "release {release} and a later one publish {label} as {a} and {b} over the same counts"
    )]
    Inconsistent {
        release: u32,
        label: String,
        a: String,
        b: String,
    },
}

/// One release's table as the system takes it: per quarter (in order) the
/// true band counts, and what was published (`None` for the current release,
/// whose pattern is still to be chosen).
pub struct TableInput<'a> {
    pub origin: Origin,
    pub period_label: String,
    pub truth: &'a [(Quarter, Vec<u64>)],
    pub published: Option<&'a PublishedVictims>,
}

impl System {
    pub fn new(bands: Vec<String>) -> System {
        System {
            bands,
            ..System::default()
        }
    }

    /// Value of an item under the true counts.
    pub fn true_value(&self, item: usize) -> u64 {
        self.items[item].cells.iter().map(|&b| self.truth[b]).sum()
    }

    fn generation(&mut self, quarter: Quarter, counts: &[u64]) -> u32 {
        let gens = self.generations.entry(quarter).or_default();
        let g = match gens.iter().position(|g| g == counts) {
            Some(g) => g,
            None => {
                gens.push(counts.to_vec());
                gens.len() - 1
            }
        };
        u32::try_from(g).unwrap_or(u32::MAX)
    }

    fn base_index(&mut self, cell: BaseCell, truth: u64) -> usize {
        if let Some(i) = self.base.iter().position(|b| *b == cell) {
            return i;
        }
        self.base.push(cell);
        self.truth.push(truth);
        self.base.len() - 1
    }

    /// Adds an item, or merges it with the item over the same cells (the
    /// same figure published twice is one figure); returns its index.
    fn add_item(
        &mut self,
        label: String,
        mut cells: Vec<usize>,
        shown: Option<u64>,
        origin: Origin,
    ) -> Result<usize, LinkError> {
        cells.sort_unstable();
        if let Some(&i) = self.by_cells.get(&cells) {
            let item = &mut self.items[i];
            match (item.shown, shown) {
                (Some(a), Some(b)) if a != b => {
                    let release = match item.origin {
                        Origin::Public(n) => n,
                        Origin::Current => 0,
                    };
                    return Err(LinkError::Inconsistent {
                        release,
                        label,
                        a: a.to_string(),
                        b: b.to_string(),
                    });
                }
                // What any release shows, the reader knows.
                (None, Some(b)) => item.shown = Some(b),
                _ => {}
            }
            return Ok(i);
        }
        self.items.push(Item {
            label,
            cells: cells.clone(),
            shown,
            origin,
        });
        self.by_cells.insert(cells, self.items.len() - 1);
        Ok(self.items.len() - 1)
    }

    /// Adds one release's table; returns the indexes of its items in the
    /// order of [`TableItems`].
    pub fn add_table(&mut self, t: &TableInput<'_>) -> Result<TableItems, LinkError> {
        let bands = self.bands.len();
        if let Some(p) = t.published {
            if p.bands.len() != bands {
                return Err(LinkError::Bands {
                    release: match t.origin {
                        Origin::Public(n) => n,
                        Origin::Current => 0,
                    },
                    got: p.bands.len(),
                    want: bands,
                });
            }
        }
        let mut grid: Vec<Vec<usize>> = Vec::with_capacity(t.truth.len());
        for (quarter, counts) in t.truth {
            if counts.len() != bands {
                return Err(LinkError::Truth { quarter: *quarter });
            }
            let generation = self.generation(*quarter, counts);
            let row = (0..bands)
                .map(|band| {
                    let cell = BaseCell {
                        band,
                        quarter: *quarter,
                        generation,
                    };
                    self.base_index(cell, counts[band])
                })
                .collect();
            grid.push(row);
        }
        let shown_cell = |qi: usize, b: usize| {
            t.published
                .and_then(|p| p.quarters.get(qi))
                .and_then(|q| q.victims.get(b).copied().flatten())
        };
        let mut out = TableItems::default();
        for (qi, (quarter, _)) in t.truth.iter().enumerate() {
            let mut row = Vec::with_capacity(bands);
            // `b` indexes three things, and the body borrows `self` mutably.
            #[allow(clippy::needless_range_loop)]
            for b in 0..bands {
                let label = format!("{quarter}, age {}", self.bands[b]);
                row.push(self.add_item(label, vec![grid[qi][b]], shown_cell(qi, b), t.origin)?);
            }
            out.cells.push(row);
            let shown = t
                .published
                .and_then(|p| p.quarters.get(qi))
                .and_then(|q| q.victims_total);
            let label = format!("{quarter}, all ages");
            out.quarter_totals
                .push(self.add_item(label, grid[qi].clone(), shown, t.origin)?);
        }
        for b in 0..bands {
            let cells = grid.iter().map(|row| row[b]).collect();
            let shown = t
                .published
                .and_then(|p| p.band_totals.get(b).copied().flatten());
            let label = format!("{}, age {}", t.period_label, self.bands[b]);
            out.band_totals
                .push(self.add_item(label, cells, shown, t.origin)?);
        }
        let all = grid.iter().flatten().copied().collect();
        let shown = t.published.and_then(|p| p.total);
        let label = format!("{}, all ages", t.period_label);
        out.total = self.add_item(label, all, shown, t.origin)?;
        Ok(out)
    }
}

/// The items of one table: `cells[quarter][band]`, per-quarter totals,
/// per-band totals over the period, the grand total.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableItems {
    pub cells: Vec<Vec<usize>>,
    pub quarter_totals: Vec<usize>,
    pub band_totals: Vec<usize>,
    pub total: usize,
}

impl TableItems {
    pub fn all(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.cells.iter().flatten().copied().collect();
        v.extend(&self.quarter_totals);
        v.extend(&self.band_totals);
        v.push(self.total);
        v
    }
}

/// A release already public, with the true counts of its quarters as they
/// stood at its position (folded from the ledger by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicTable {
    pub number: u32,
    pub period_label: String,
    pub victims: PublishedVictims,
    pub truth: Vec<(Quarter, Vec<u64>)>,
}

/// The system of every public table plus the current one (still unpublished:
/// its figures not yet shown), and the current table's items.
pub fn system_for(
    bands: Vec<String>,
    earlier: &[PublicTable],
    period_label: String,
    truth: &[(Quarter, Vec<u64>)],
) -> Result<(System, TableItems), LinkError> {
    let mut system = System::new(bands);
    for t in earlier {
        system.add_table(&TableInput {
            origin: Origin::Public(t.number),
            period_label: t.period_label.clone(),
            truth: &t.truth,
            published: Some(&t.victims),
        })?;
    }
    let items = system.add_table(&TableInput {
        origin: Origin::Current,
        period_label,
        truth,
        published: None,
    })?;
    Ok((system, items))
}
