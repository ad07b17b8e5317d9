//! Benchmarks write only to ledgers they created.
//!
//! A benchmark appends tens of thousands of synthetic events; on an operator's ledger
//! they would stay forever (it is append-only). So a benchmark that needs to write
//! creates its ledger itself, marking the genesis event with [`BENCH_PRINCIPAL`], and
//! refuses any ledger whose genesis says otherwise.

use std::path::Path;

use crate::commands::setup::{self, SetupError};
use crate::ledger::key_file::{KeyFile, KeyFileError as KeyError};
use crate::ledger::{sealed_from_row, Ledger, LedgerError};
use crate::storage::{Storage, StorageError};
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;

/// The author of the genesis event of a ledger a benchmark created.
pub const BENCH_PRINCIPAL: &str = "system:bench";

#[derive(Debug, thiserror::Error)]
pub enum OwnershipError {
    #[error("ledger {ledger} holds {size} events and was not created by a benchmark; benchmarks write only to a ledger of their own: give --db a new database, e.g. --db sqlite://bench.db --key bench.key")]
    NotABenchLedger { ledger: LedgerId, size: u64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// Events in the ledger, 0 when the database has no schema yet. Reads only.
pub async fn size(storage: &Storage, id: &LedgerId) -> Result<u64, OwnershipError> {
    match storage.check_schema().await {
        Ok(_) => Ok(storage.head(id).await?.position),
        Err(StorageError::NotInitialised) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// The signing key for a benchmark ledger it may write to: the ledger is created (with
/// its schema, and its key file if missing) when empty, and must have been created by
/// a benchmark otherwise.
pub async fn writable(
    storage: &Storage,
    id: &LedgerId,
    key_path: &Path,
) -> Result<LedgerKey, OwnershipError> {
    let size = size(storage, id).await?;
    if size == 0 {
        storage.migrate().await?;
        let (key, _) = setup::first_key(storage, id, key_path).await?;
        Ledger::initialise_as(storage, id, &key, BENCH_PRINCIPAL).await?;
        return Ok(key);
    }
    let genesis = storage.read_page(id, 1, 1).await?.into_iter().next();
    let author = match genesis {
        Some(row) => Some(sealed_from_row(row)?.record.metadata.principal),
        None => None,
    };
    if author.as_deref() != Some(BENCH_PRINCIPAL) {
        return Err(OwnershipError::NotABenchLedger {
            ledger: id.clone(),
            size,
        });
    }
    Ok(LedgerKey::load(key_path)?)
}
