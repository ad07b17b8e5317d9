//! All read models together: one fold over the ledger in position order.

use std::collections::{BTreeMap, BTreeSet};

use icac_aggregates::ids::{CaseId, OperationId, Ori, ReceiptNumber};
use serde::{Deserialize, Serialize};

use crate::case_view::{At, CaseView};
use crate::event::{DomainEvent, LedgerEvent};
use crate::intake::PublicReportView;
use crate::operations::OperationView;
use crate::unit_directory::UnitView;

/// A view that changed in the last `apply`, so the store knows what to write.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ViewKey {
    Case(CaseId),
    Operation(OperationId),
    PublicReport(ReceiptNumber),
    Unit(Ori),
}

impl ViewKey {
    /// The view `e` folds into, if it folds into one: its stream's id, parsed for its
    /// aggregate type. Whether that view exists yet is the models' business; a runner
    /// that holds only some views uses this to fetch the ones a batch needs first.
    pub fn of(e: &LedgerEvent) -> Option<ViewKey> {
        let id = e.aggregate_id.as_str();
        match &e.event {
            DomainEvent::Case(_) => CaseId::parse(id).ok().map(ViewKey::Case),
            DomainEvent::Operation(_) => OperationId::parse(id).ok().map(ViewKey::Operation),
            DomainEvent::PublicReport(_) => {
                ReceiptNumber::parse(id).ok().map(ViewKey::PublicReport)
            }
            DomainEvent::Unit(_) => Ori::parse(id).ok().map(ViewKey::Unit),
            // Tips are read by folding their streams on request (`tips::fold`).
            DomainEvent::Cybertip(_) | DomainEvent::NcmecTip(_) => None,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FoldError {
    #[error("position {got} does not follow {last}: read models need ledger order")]
    OutOfOrder { last: u64, got: u64 },
    #[error(
        "partitions of a fold both hold view {0:?}: a view's events must all go to one partition"
    )]
    Overlap(ViewKey),
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadModels {
    pub cases: BTreeMap<CaseId, CaseView>,
    pub operations: BTreeMap<OperationId, OperationView>,
    pub public_reports: BTreeMap<ReceiptNumber, PublicReportView>,
    pub units: BTreeMap<Ori, UnitView>,
    /// Last ledger position folded (key events included).
    pub position: u64,
    /// Events the models could not place (e.g. a case stream that did not
    /// open with a complaint or notification); counted, never silently lost.
    pub orphans: u64,
}

impl ReadModels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that a position carried nothing for the models (a key event).
    pub fn skip(&mut self, position: u64) -> Result<(), FoldError> {
        self.advance(position)
    }

    fn advance(&mut self, position: u64) -> Result<(), FoldError> {
        if position <= self.position {
            return Err(FoldError::OutOfOrder {
                last: self.position,
                got: position,
            });
        }
        self.position = position;
        Ok(())
    }

    /// Folds one event; returns the view it changed, if any.
    pub fn apply(&mut self, e: &LedgerEvent) -> Result<Option<ViewKey>, FoldError> {
        self.advance(e.position)?;
        let (seq, pos) = (e.sequence, e.position);
        let id = e.aggregate_id.as_str();
        let changed = match &e.event {
            DomainEvent::Case(event) => {
                let at = At {
                    position: pos,
                    sequence: seq,
                    hash: &e.hash,
                };
                fold_view(
                    &mut self.cases,
                    CaseId::parse(id).ok(),
                    |view| view.apply(event, at),
                    || CaseView::open(event, at),
                )
                .map(ViewKey::Case)
            }
            DomainEvent::Operation(event) => fold_view(
                &mut self.operations,
                OperationId::parse(id).ok(),
                |v| v.apply(event, seq, pos),
                || OperationView::open(event, seq, pos),
            )
            .map(ViewKey::Operation),
            DomainEvent::PublicReport(event) => fold_view(
                &mut self.public_reports,
                ReceiptNumber::parse(id).ok(),
                |v| v.apply(event, seq, pos),
                || PublicReportView::open(event, seq, pos),
            )
            .map(ViewKey::PublicReport),
            DomainEvent::Unit(event) => fold_view(
                &mut self.units,
                Ori::parse(id).ok(),
                |v| v.apply(event, seq, pos),
                || UnitView::open(event, seq, pos),
            )
            .map(ViewKey::Unit),
            // CyberTip claims matter to deconfliction, which reads the
            // cybertip streams itself; no published view needs them.
            // Tips are read by folding their streams on request (`tips::fold`).
            DomainEvent::Cybertip(_) | DomainEvent::NcmecTip(_) => return Ok(None),
        };
        if changed.is_none() {
            self.orphans += 1;
        }
        Ok(changed)
    }

    /// The partition of `partitions` an event's views fold in. Every view is changed
    /// only by the events of its own aggregate (see `apply`), so folding each partition
    /// in position order and merging them ([`ReadModels::merge`]) gives exactly the
    /// models of one fold over all events.
    pub fn partition_of(e: &LedgerEvent, partitions: usize) -> usize {
        // FNV-1a: stable across runs and platforms, and cheap for short ids.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in e.aggregate_id.as_bytes() {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        (h % partitions.max(1) as u64) as usize
    }

    /// Joins the models of partitions folded apart, up to `position` (the last
    /// position read, which may have carried no view). Views must not overlap.
    pub fn merge(
        parts: impl IntoIterator<Item = ReadModels>,
        position: u64,
    ) -> Result<ReadModels, FoldError> {
        fn join<K: Ord + Clone, V>(
            into: &mut BTreeMap<K, V>,
            from: BTreeMap<K, V>,
            key: impl Fn(K) -> ViewKey,
        ) -> Result<(), FoldError> {
            let expected = into.len() + from.len();
            let overlap = from.keys().find(|k| into.contains_key(k)).cloned();
            if let Some(k) = overlap {
                return Err(FoldError::Overlap(key(k)));
            }
            let mut from = from;
            into.append(&mut from);
            debug_assert_eq!(into.len(), expected);
            Ok(())
        }
        let mut out = ReadModels::new();
        for part in parts {
            if part.position > position {
                return Err(FoldError::OutOfOrder {
                    last: part.position,
                    got: position,
                });
            }
            join(&mut out.cases, part.cases, ViewKey::Case)?;
            join(&mut out.operations, part.operations, ViewKey::Operation)?;
            join(
                &mut out.public_reports,
                part.public_reports,
                ViewKey::PublicReport,
            )?;
            join(&mut out.units, part.units, ViewKey::Unit)?;
            out.orphans += part.orphans;
        }
        out.position = position;
        Ok(out)
    }

    /// Folds a run of events, collecting the distinct views they changed.
    pub fn apply_all<'a>(
        &mut self,
        events: impl IntoIterator<Item = &'a LedgerEvent>,
    ) -> Result<BTreeSet<ViewKey>, FoldError> {
        let mut changed = BTreeSet::new();
        for e in events {
            if let Some(key) = self.apply(e)? {
                changed.insert(key);
            }
        }
        Ok(changed)
    }

    /// Whether the models hold this view.
    pub fn contains(&self, key: &ViewKey) -> bool {
        self.version(key).is_some()
    }

    /// The stream sequence of the last event folded into this view, if it is held.
    pub fn version(&self, key: &ViewKey) -> Option<u64> {
        match key {
            ViewKey::Case(id) => self.cases.get(id).map(|v| v.version),
            ViewKey::Operation(id) => self.operations.get(id).map(|v| v.version),
            ViewKey::PublicReport(id) => self.public_reports.get(id).map(|v| v.version),
            ViewKey::Unit(id) => self.units.get(id).map(|v| v.version),
        }
    }

    /// Drops one view (a runner holding only some views lets go of it); true if held.
    pub fn remove(&mut self, key: &ViewKey) -> bool {
        match key {
            ViewKey::Case(id) => self.cases.remove(id).is_some(),
            ViewKey::Operation(id) => self.operations.remove(id).is_some(),
            ViewKey::PublicReport(id) => self.public_reports.remove(id).is_some(),
            ViewKey::Unit(id) => self.units.remove(id).is_some(),
        }
    }

    /// Views held, of every kind.
    pub fn views(&self) -> usize {
        self.cases.len() + self.operations.len() + self.public_reports.len() + self.units.len()
    }

    /// Open public reports awaiting triage or routing, oldest first.
    pub fn intake_queue(&self) -> Vec<&PublicReportView> {
        let mut open: Vec<_> = self
            .public_reports
            .values()
            .filter(|r| r.is_open())
            .collect();
        open.sort_by(|a, b| {
            (a.received_at, &a.receipt_number).cmp(&(b.received_at, &b.receipt_number))
        });
        open
    }
}

/// Folds an event into the view of `id`, or opens that view with it. `None` for an
/// event the models cannot place (an orphan): its stream's id did not parse, or it
/// has no view yet and does not open one.
fn fold_view<K: Ord + Clone, V>(
    views: &mut BTreeMap<K, V>,
    id: Option<K>,
    apply: impl FnOnce(&mut V),
    open: impl FnOnce() -> Option<V>,
) -> Option<K> {
    let id = id?;
    match views.get_mut(&id) {
        Some(view) => apply(view),
        None => {
            let view = open()?;
            views.insert(id.clone(), view);
        }
    }
    Some(id)
}
