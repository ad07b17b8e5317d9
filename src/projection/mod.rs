//! Read models kept current from the ledger: the pure folds of
//! `icac_projections`, fed by global position, persisted in view tables.
//!
//! * [`runner::ProjectionRunner`]: follows `Ledger::committed()`, applies new
//!   events and writes the views they changed (`spawn`), or catches up once
//!   (`catch_up`, for CLI commands).
//! * [`replay`]: folds the ledger into fresh models on all cores.
//! * [`rebuild`]: replays the whole ledger into fresh tables and swaps them in.
//! * [`history`]: one case's events, replayed to any earlier moment.
//! * [`annual`]: the annual report at an attested position, and its check.

pub mod annual;
pub mod history;
pub mod rebuild;
pub mod replay;
pub mod runner;
pub mod store;
pub mod views;

use std::borrow::Cow;

use icac_projections::event::decode_str;
use icac_projections::{DecodeError, EventHash, LedgerEvent, ReadModels};
use serde_json::value::RawValue;

use crate::ledger::chain::Hash32;
use crate::ledger::record::{LedgerId, RecordError, SealedEvent, MAX_EVENT_BYTES};
use crate::ledger::LedgerError;
use crate::storage::{CanonicalRow, Storage, StorageError, StoredRow};

#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("event at position {position}: {source}")]
    Decode { position: u64, source: DecodeError },
    #[error("event at position {position} has an unreadable recorded_at {value:?}")]
    Time { position: u64, value: String },
    #[error(transparent)]
    Fold(#[from] icac_projections::read_models::FoldError),
    #[error("stored view {table}/{view_id} is unreadable: {reason}")]
    View {
        table: &'static str,
        view_id: String,
        reason: String,
    },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("decoding worker failed: {0}")]
    Worker(String),
    #[error("merkle tree: {0}")]
    Merkle(#[from] crate::ledger::merkle::ProofError),
    #[error("the ledger has no position {0}")]
    NoSuchPosition(u64),
}

/// The fields of a stored record the read models use, borrowed from its canonical
/// bytes where possible; the payload stays JSON text until it is decoded into its
/// typed event.
#[derive(serde::Deserialize)]
struct RecordFields<'a> {
    position: u64,
    #[serde(borrow)]
    aggregate_type: Cow<'a, str>,
    aggregate_id: String,
    sequence: u64,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    event_version: Cow<'a, str>,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(borrow)]
    metadata: MetadataFields<'a>,
}

#[derive(serde::Deserialize)]
struct MetadataFields<'a> {
    principal: String,
    unit: Option<String>,
    #[serde(borrow)]
    recorded_at: Cow<'a, str>,
}

/// Parses and decodes one stored row; `Ok(None)` for the ledger's own key
/// events. Trusts the database, like `sealed_from_row` (verification trusts
/// nothing), and reads only what the read models need.
pub fn to_ledger_event(row: StoredRow) -> Result<Option<LedgerEvent>, ProjectionError> {
    decode_event(row.position, &row.hash, &row.canonical)
}

/// Decodes one sealed event this process committed, from the canonical bytes it
/// carries; `Ok(None)` for the ledger's own key events.
pub fn from_sealed(sealed: &SealedEvent) -> Result<Option<LedgerEvent>, ProjectionError> {
    decode_event(sealed.record.position, &sealed.hash.0, &sealed.canonical)
}

fn decode_event(
    position: u64,
    hash: &[u8],
    canonical: &[u8],
) -> Result<Option<LedgerEvent>, ProjectionError> {
    let bad_row = |reason: String| {
        ProjectionError::Ledger(LedgerError::BadRow {
            position,
            source: RecordError::Shape(reason),
        })
    };
    if canonical.len() > MAX_EVENT_BYTES {
        return Err(bad_row(format!(
            "event is {} bytes; the limit is {MAX_EVENT_BYTES}",
            canonical.len()
        )));
    }
    let r: RecordFields<'_> =
        serde_json::from_slice(canonical).map_err(|e| bad_row(e.to_string()))?;
    let position = r.position;
    let Some(event) = decode_str(
        &r.aggregate_type,
        &r.event_type,
        &r.event_version,
        r.payload.get(),
    )
    .map_err(|source| ProjectionError::Decode { position, source })?
    else {
        return Ok(None);
    };
    let recorded_at = r
        .metadata
        .recorded_at
        .parse()
        .map_err(|_| ProjectionError::Time {
            position,
            value: r.metadata.recorded_at.clone().into_owned(),
        })?;
    let hash = Hash32::from_slice(hash).map_err(|e| bad_row(e.to_string()))?;
    Ok(Some(LedgerEvent {
        position,
        hash: EventHash::from_bytes(&hash.0),
        recorded_at,
        principal: r.metadata.principal,
        unit: r.metadata.unit,
        aggregate_id: r.aggregate_id,
        sequence: r.sequence,
        event,
    }))
}

/// One row read for the projections, decoded.
pub struct DecodedRow {
    pub position: u64,
    pub hash: Hash32,
    /// As stored (checkpoints state the time exactly as written).
    pub recorded_at: String,
    /// `None` for the ledger's own key events.
    pub event: Option<LedgerEvent>,
}

/// Decodes a page on all cores, keeping position order.
pub fn decode_page(rows: Vec<CanonicalRow>) -> Result<Vec<DecodedRow>, ProjectionError> {
    use rayon::prelude::*;
    rows.into_par_iter()
        .map(|row| {
            let event = decode_event(row.position, &row.hash, &row.canonical)?;
            let hash = Hash32::from_slice(&row.hash).map_err(|e| {
                ProjectionError::Storage(StorageError::Malformed {
                    position: row.position,
                    reason: e.to_string(),
                })
            })?;
            Ok(DecodedRow {
                position: row.position,
                hash,
                recorded_at: row.recorded_at,
                event,
            })
        })
        .collect()
}

/// The read models exactly as they stood at `position` (folded from the ledger).
pub async fn models_at(
    storage: &Storage,
    ledger_id: &LedgerId,
    position: u64,
) -> Result<ReadModels, ProjectionError> {
    Ok(
        replay::replay(storage, ledger_id, Some(position), false, |_| {})
            .await?
            .models,
    )
}
