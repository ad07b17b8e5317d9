//! The read side of the application: the pure folds of the `projections/` crate
//! (`icac_projections`) run against the ledger, fed by global position, persisted in
//! view tables.
//!
//! * [`runner::ProjectionRunner`]: follows `Ledger::committed()`, applies new
//!   events and writes the views they changed (`spawn`), or catches up once
//!   (`catch_up`, for CLI commands).
//! * [`decode`]: stored rows into the typed events the folds take.
//! * [`replay`]: folds the ledger into fresh models on all cores.
//! * [`rebuild`]: replays the whole ledger into fresh tables and swaps them in.
//! * [`history`]: one case's events, replayed to any earlier moment.
//! * [`annual`]: the annual report at an attested position, and its check.

pub mod annual;
pub mod decode;
pub mod history;
pub mod rebuild;
pub mod releases;
pub mod replay;
pub mod reveal;
pub mod runner;
pub mod skipped;
pub mod store;
pub mod views;

use icac_projections::{DecodeError, ReadModels};

pub use self::decode::{decode_page, from_sealed, to_ledger_event, DecodedRow};
use crate::ledger::LedgerError;
use crate::storage::{Storage, StorageError};
use icac_format::record::LedgerId;

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
    Merkle(#[from] icac_format::merkle::ProofError),
    #[error("the ledger has no position {0}")]
    NoSuchPosition(u64),
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
