//! The sealed store against the chain (docs/LEDGER_FORMAT.md, section 12.4): every
//! commitment a version 2 record holds has a valid opening or was erased; no opening
//! is corrupted, outlives its erasure, or stands where no record put it. A finding here
//! says a value is unavailable or misplaced; it never says the chain is broken, which
//! `verify::verify_storage` alone decides.

use std::collections::{BTreeMap, HashSet};

use icac_format::chain::Hash32;
use icac_format::record::{EventRecord, LedgerId};
use icac_format::sealed::{self, erased_in, SealedRef};
use serde::Serialize;

use crate::storage::{Storage, StorageError};

/// Events read per step; bounds memory with the anomalies found.
const PAGE: u32 = 2_000;
/// Findings kept per kind (the counts go on).
const MAX_LISTED: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SealedFinding {
    /// An opening whose salt and value do not give its commitment.
    Corrupted,
    /// A commitment with no opening and no erasure.
    Unavailable,
    /// An opening for a commitment an erasure names.
    ErasedStillHeld,
    /// An opening at a position or path where no record holds its commitment.
    Unreferenced,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: SealedFinding,
    pub position: u64,
    pub path: String,
    pub commitment: Hash32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SealedReport {
    pub commitments: u64,
    pub opened: u64,
    pub erased: u64,
    pub findings: u64,
    /// The first findings, at most `MAX_LISTED`.
    pub listed: Vec<Finding>,
}

impl SealedReport {
    pub fn ok(&self) -> bool {
        self.findings == 0
    }

    fn note(&mut self, kind: SealedFinding, position: u64, path: &str, commitment: Hash32) {
        self.findings += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(Finding {
                kind,
                position,
                path: path.to_owned(),
                commitment,
            });
        }
    }
}

/// Walks the chain and the store together, a page of positions at a time.
pub async fn check_sealed(
    storage: &Storage,
    ledger: &LedgerId,
) -> Result<SealedReport, StorageError> {
    let mut report = SealedReport::default();
    let mut missing: Vec<(u64, String, Hash32)> = Vec::new();
    let mut erased: HashSet<SealedRef> = HashSet::new();
    let mut from = 1;
    loop {
        let rows = storage.read_page(ledger, from, PAGE).await?;
        let Some(last) = rows.last().map(|r| r.position) else {
            break;
        };
        let mut held: BTreeMap<(u64, String), Hash32> = BTreeMap::new();
        for row in &rows {
            // Unparseable records are the chain verifier's finding, not this one's.
            let Ok(record) = EventRecord::from_stored(&row.canonical) else {
                continue;
            };
            erased.extend(erased_in(&record.payload));
            if record.format() < sealed::FORMAT_VERSION_SEALED {
                continue;
            }
            for (path, c) in sealed::commitments(&record.payload).unwrap_or_default() {
                held.insert((record.position, path), c);
            }
        }
        report.commitments += held.len() as u64;
        for r in storage.sealed_in_positions(ledger, from, last).await? {
            let o = &r.opening;
            if held.remove(&(r.position, o.path.clone())) != Some(o.commitment) {
                report.note(
                    SealedFinding::Unreferenced,
                    r.position,
                    &o.path,
                    o.commitment,
                );
            } else if !o.is_valid() {
                report.note(SealedFinding::Corrupted, r.position, &o.path, o.commitment);
            } else {
                report.opened += 1;
            }
        }
        missing.extend(held.into_iter().map(|((p, path), c)| (p, path, c)));
        from = last + 1;
    }
    report.erased = erased.len() as u64;
    let erased_commitments: HashSet<Hash32> = erased.iter().map(|r| r.commitment).collect();
    for (position, path, c) in missing {
        if !erased_commitments.contains(&c) {
            report.note(SealedFinding::Unavailable, position, &path, c);
        }
    }
    let erased: Vec<SealedRef> = erased.into_iter().collect();
    for r in storage.sealed_at(ledger, &erased).await? {
        report.note(
            SealedFinding::ErasedStillHeld,
            r.position,
            &r.opening.path,
            r.opening.commitment,
        );
    }
    Ok(report)
}
