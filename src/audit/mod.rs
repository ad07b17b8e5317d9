//! What auditors use: full verification, checkpoints, proofs and export bundles.
//!
//! Nothing here trusts the database: `verify` recomputes every hash from the stored
//! canonical bytes and every signature against the keyring the ledger's own key events
//! define, anchored on a key the auditor pins. Checkpoints and proofs let an auditor
//! carry that trust forward without re-reading the whole ledger; bundles let them do it
//! with no database at all.

pub mod bundle;
pub mod checkpointer;
pub mod proofs;
pub mod record_view;
pub mod sealed_check;
pub mod signature_batch;
pub mod trust;
pub mod verify;

use crate::ledger::LedgerError;
use crate::storage::StorageError;
use icac_format::checkpoint::CheckpointError;
use icac_format::keys::KeyError;
use icac_format::merkle::ProofError;
use icac_format::record::RecordError;

/// Why an audit command could not run at all (as opposed to finding a break, which is a
/// successful run with a "broken" result).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    #[error("key: {0}")]
    Key(#[from] KeyError),
    #[error("record: {0}")]
    Record(#[from] RecordError),
    #[error("{0}")]
    Invalid(String),
    #[error("verification worker failed: {0}")]
    Worker(String),
}

impl AuditError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        AuditError::Invalid(msg.into())
    }
}

/// Current time in the ledger's one timestamp format.
pub fn now_rfc3339() -> String {
    icac_format::record::format_recorded_at(jiff::Timestamp::now())
}
