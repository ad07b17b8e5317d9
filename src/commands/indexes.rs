//! The outside facts the domain's rules read (which units exist, which case holds a
//! CyberTip, what event sits at a ledger position), kept as in-memory snapshots.
//!
//! They are warmed from the ledger at start-up and kept current by cqrs-es queries on
//! every commit. They are lookups, not guarantees: the per-stream optimistic concurrency
//! of the ledger is what makes the rules that matter (one holder per CyberTip) race-safe.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use cqrs_es::{EventEnvelope, Query};
use icac_aggregates::cybertip::{CyberTip, CyberTipEvent};
use icac_aggregates::ids::{CyberTipNumber, LedgerPosition, Ori};
use icac_aggregates::services::{
    InMemoryCyberTipIndex, InMemoryUnitDirectory, LedgerEventRef, LedgerIndex,
};
use icac_aggregates::units::{Unit, UnitEvent};

use crate::ledger::{sealed_from_row, Ledger, LedgerError};
use icac_format::record::StreamId;

/// Keeps the unit directory current from committed unit events.
pub struct UnitDirectoryQuery(pub Arc<InMemoryUnitDirectory>);

#[async_trait]
impl Query<Unit> for UnitDirectoryQuery {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<Unit>]) {
        if let Ok(ori) = Ori::parse(aggregate_id) {
            for e in events {
                self.0.apply(&ori, &e.payload);
            }
        }
    }
}

/// Keeps the CyberTip index current from committed claims and releases.
pub struct CyberTipIndexQuery(pub Arc<InMemoryCyberTipIndex>);

impl CyberTipIndexQuery {
    fn apply(&self, tip: &str, event: &CyberTipEvent) {
        match event {
            CyberTipEvent::CyberTipClaimed {
                cybertip_number,
                case_id,
                ..
            } => self.0.insert(cybertip_number.clone(), case_id.clone()),
            CyberTipEvent::CyberTipReleased { .. } => {
                if let Ok(tip) = CyberTipNumber::parse(tip) {
                    self.0.remove(&tip);
                }
            }
        }
    }
}

#[async_trait]
impl Query<CyberTip> for CyberTipIndexQuery {
    async fn dispatch(&self, aggregate_id: &str, events: &[EventEnvelope<CyberTip>]) {
        for e in events {
            self.apply(aggregate_id, &e.payload);
        }
    }
}

/// Answers "what event is at position P" for corrections. Holding every position in
/// memory would grow with the ledger, so the command layer fetches the one position a
/// correction names just before executing it.
#[derive(Default)]
pub struct PrefetchedLedgerIndex {
    events: RwLock<HashMap<LedgerPosition, LedgerEventRef>>,
}

/// Positions kept at most; a correction needs one at a time.
const PREFETCH_LIMIT: usize = 1_024;

impl PrefetchedLedgerIndex {
    pub async fn prefetch(
        &self,
        ledger: &Ledger,
        position: LedgerPosition,
    ) -> Result<(), LedgerError> {
        // Storage positions are signed 64-bit (PostgreSQL BIGINT); a position beyond
        // that names no event, and the domain refuses the correction for it (422).
        if i64::try_from(position.get()).is_err() {
            return Ok(());
        }
        let rows = ledger
            .storage()
            .read_page(ledger.id(), position.get(), 1)
            .await?;
        let Some(row) = rows.into_iter().find(|r| r.position == position.get()) else {
            return Ok(());
        };
        let event = LedgerEventRef {
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            event_type: row.event_type,
        };
        if let Ok(mut map) = self.events.write() {
            if map.len() >= PREFETCH_LIMIT {
                map.clear();
            }
            map.insert(position, event);
        }
        Ok(())
    }
}

impl LedgerIndex for PrefetchedLedgerIndex {
    fn event_at(&self, position: LedgerPosition) -> Option<LedgerEventRef> {
        self.events.read().ok()?.get(&position).cloned()
    }
}

/// Fills the unit directory and CyberTip index from the ledger's unit and cybertip
/// streams, in position order.
pub async fn warm(
    ledger: &Ledger,
    units: &InMemoryUnitDirectory,
    tips: &CyberTipIndexQuery,
) -> Result<(), LedgerError> {
    let storage = ledger.storage();
    for aggregate_type in [
        <Unit as cqrs_es::Aggregate>::TYPE,
        <CyberTip as cqrs_es::Aggregate>::TYPE,
    ] {
        let rows = storage.read_type(ledger.id(), aggregate_type).await?;
        for row in rows {
            let record = sealed_from_row(row)?.record;
            if aggregate_type == <Unit as cqrs_es::Aggregate>::TYPE {
                if let (Ok(ori), Ok(event)) = (
                    Ori::parse(record.aggregate_id.as_str()),
                    serde_json::from_value::<UnitEvent>(record.payload),
                ) {
                    units.apply(&ori, &event);
                }
            } else if let Ok(event) = serde_json::from_value::<CyberTipEvent>(record.payload) {
                tips.apply(&record.aggregate_id, &event);
            }
        }
    }
    Ok(())
}

/// The stream id of an aggregate instance.
pub fn stream_of<A: cqrs_es::Aggregate>(aggregate_id: &str) -> StreamId {
    StreamId::new(A::TYPE, aggregate_id)
}
