//! Read models kept current from the ledger: the pure folds of
//! `icac_projections`, fed by global position, persisted in view tables.
//!
//! * [`runner::ProjectionRunner`]: follows `Ledger::committed()`, applies new
//!   events and writes the views they changed (`spawn`), or catches up once
//!   (`catch_up`, for CLI commands).
//! * [`rebuild`]: replays the whole ledger into fresh tables and swaps them in.
//! * [`history`]: one case's events, replayed to any earlier moment.
//! * [`annual`]: the annual report at an attested position, and its check.

pub mod annual;
pub mod history;
pub mod rebuild;
pub mod runner;
pub mod store;

use icac_projections::{decode, DecodeError, EventHash, LedgerEvent, ReadModels};

use crate::ledger::record::{LedgerId, SealedEvent};
use crate::ledger::{sealed_from_row, LedgerError};
use crate::storage::{Storage, StorageError, StoredRow, READ_PAGE};

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
    #[error("the ledger has no position {0}")]
    NoSuchPosition(u64),
}

/// Parses and decodes one stored row; `Ok(None)` for the ledger's own key
/// events.
pub fn to_ledger_event(row: StoredRow) -> Result<Option<LedgerEvent>, ProjectionError> {
    from_sealed(sealed_from_row(row)?)
}

/// Decodes one sealed event; `Ok(None)` for the ledger's own key events.
pub fn from_sealed(sealed: SealedEvent) -> Result<Option<LedgerEvent>, ProjectionError> {
    let hash = sealed.hash;
    let r = sealed.record;
    let position = r.position;
    let Some(event) = decode(
        &r.aggregate_type,
        &r.event_type,
        &r.event_version,
        r.payload,
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
            value: r.metadata.recorded_at.clone(),
        })?;
    let hash = EventHash::parse(&hash.to_hex())
        .map_err(|source| ProjectionError::Decode { position, source })?;
    Ok(Some(LedgerEvent {
        position,
        hash,
        recorded_at,
        principal: r.metadata.principal,
        unit: r.metadata.unit,
        aggregate_id: r.aggregate_id,
        sequence: r.sequence,
        event,
    }))
}

/// Folds ledger events after `models.position` up to `up_to` (inclusive;
/// `None` = the head) into `models`, page by page. `on_page` sees each page's
/// events and the set of views they changed, before the next page is read.
pub async fn fold<F>(
    storage: &Storage,
    ledger_id: &LedgerId,
    models: &mut ReadModels,
    up_to: Option<u64>,
    mut on_page: F,
) -> Result<(), ProjectionError>
where
    F: FnMut(&ReadModels, &std::collections::BTreeSet<icac_projections::ViewKey>, u64),
{
    loop {
        let from = models.position + 1;
        if up_to.is_some_and(|limit| from > limit) {
            return Ok(());
        }
        let limit = match up_to {
            Some(limit) => {
                u32::try_from((limit - from + 1).min(u64::from(READ_PAGE))).unwrap_or(READ_PAGE)
            }
            None => READ_PAGE,
        };
        let rows = storage.read_page(ledger_id, from, limit).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let count = rows.len();
        let mut changed = std::collections::BTreeSet::new();
        for row in rows {
            let position = row.position;
            match to_ledger_event(row)? {
                Some(event) => {
                    if let Some(key) = models.apply(&event)? {
                        changed.insert(key);
                    }
                }
                None => models.skip(position)?,
            }
        }
        on_page(models, &changed, models.position);
        if count < limit as usize {
            return Ok(());
        }
    }
}

/// The read models exactly as they stood at `position` (folded from the ledger).
pub async fn models_at(
    storage: &Storage,
    ledger_id: &LedgerId,
    position: u64,
) -> Result<ReadModels, ProjectionError> {
    let mut models = ReadModels::new();
    fold(
        storage,
        ledger_id,
        &mut models,
        Some(position),
        |_, _, _| {},
    )
    .await?;
    if models.position != position {
        return Err(ProjectionError::NoSuchPosition(position));
    }
    Ok(models)
}
