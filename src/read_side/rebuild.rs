//! Rebuilds every view from the ledger alone into fresh tables and swaps
//! them in atomically.

use std::time::Instant;

use super::replay::replay;
use super::{store, ProjectionError};
use crate::storage::Storage;
use icac_format::record::LedgerId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Replaying { position: u64, head: u64 },
    Writing { rows: usize, total: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildSummary {
    pub position: u64,
    pub views: usize,
    pub replay_micros: u128,
    pub write_micros: u128,
}

pub async fn rebuild(
    storage: &Storage,
    ledger_id: &LedgerId,
    mut progress: impl FnMut(Stage),
) -> Result<RebuildSummary, ProjectionError> {
    let head = storage.head(ledger_id).await?.position;
    let started = Instant::now();
    let models = replay(storage, ledger_id, Some(head), false, |position| {
        progress(Stage::Replaying { position, head });
    })
    .await?
    .models;
    let replay_micros = started.elapsed().as_micros();
    let written = Instant::now();
    let rows = store::all_rows(&models)?;
    tracing::debug!(
        rows = rows.len(),
        serialize_ms = written.elapsed().as_millis(),
        "views serialized"
    );
    let total = rows.len();
    store::replace_all(storage, ledger_id, rows, models.position, |n| {
        progress(Stage::Writing { rows: n, total });
    })
    .await?;
    Ok(RebuildSummary {
        position: models.position,
        views: total,
        replay_micros,
        write_micros: written.elapsed().as_micros(),
    })
}
