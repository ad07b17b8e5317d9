//! Setting a ledger up: which commands may create a signing key, and when.
//!
//! A key file is created only for a ledger that has no genesis event yet. For a ledger
//! that exists, a missing key file is an operator's mistake (a wrong `--key`, a lost
//! mount), and writing a fresh private key there would only leave a useless secret on
//! disk next to a refusal to start.

use std::path::Path;

use crate::ledger::key_file::{KeyFile, KeyFileError as KeyError};
use crate::storage::{Storage, StorageError};
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("signing key {path} does not exist, and ledger {ledger} already has {size} events: no new key is created for an existing ledger; give --key the path of its active key")]
    KeyMissingForExistingLedger {
        path: std::path::PathBuf,
        ledger: LedgerId,
        size: u64,
    },
}

/// The key to initialise `ledger` with: the file at `path`, or, if there is none and
/// the ledger is still empty, a new key written there (mode 0600). Returns whether it
/// was created.
pub async fn first_key(
    storage: &Storage,
    ledger: &LedgerId,
    path: &Path,
) -> Result<(LedgerKey, bool), SetupError> {
    match LedgerKey::load(path) {
        Ok(key) => Ok((key, false)),
        Err(KeyError::Missing { .. }) => {
            let size = storage.head(ledger).await?.position;
            if size > 0 {
                return Err(SetupError::KeyMissingForExistingLedger {
                    path: path.to_owned(),
                    ledger: ledger.clone(),
                    size,
                });
            }
            let key = LedgerKey::generate();
            key.save_new(path)?;
            Ok((key, true))
        }
        Err(e) => Err(e.into()),
    }
}
