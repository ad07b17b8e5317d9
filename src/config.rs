//! Where the ledger lives and which key signs it: flags, environment, defaults.

use std::path::PathBuf;

use clap::Args;

use crate::ledger::key_file::KeyFileError;
use crate::ledger::{Ledger, LedgerError};
use crate::storage::{redact_url, Storage, StorageError};
use icac_format::record::{LedgerId, RecordError};

pub const DEFAULT_DB: &str = "sqlite://icac-ledger.db";
pub const DEFAULT_KEY: &str = "icac-ledger.key";
pub const DEFAULT_LEDGER_ID: &str = "ct-icac";

#[derive(Debug, Clone, Args)]
pub struct LedgerArgs {
    /// Database URL: postgres://... or sqlite://FILE
    // Hidden in --help: the URL may carry a password.
    #[arg(long, env = "ICAC_LEDGER_DB", hide_env_values = true, default_value = DEFAULT_DB, global = true)]
    pub db: String,
    /// Ed25519 signing key (PKCS#8 PEM, mode 0600)
    #[arg(long, env = "ICAC_LEDGER_KEY", default_value = DEFAULT_KEY, global = true)]
    pub key: PathBuf,
    /// Ledger id within the database (the partition key)
    #[arg(long, env = "ICAC_LEDGER_ID", default_value = DEFAULT_LEDGER_ID, global = true)]
    pub ledger_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("invalid --ledger-id: {0}")]
    LedgerId(RecordError),
}

impl LedgerArgs {
    pub fn ledger_id(&self) -> Result<LedgerId, ConfigError> {
        LedgerId::new(&self.ledger_id).map_err(ConfigError::LedgerId)
    }

    pub fn db_for_display(&self) -> String {
        redact_url(&self.db)
    }

    pub async fn storage(&self) -> Result<Storage, ConfigError> {
        Ok(Storage::connect(&self.db).await?)
    }

    /// Opens the ledger for writing: schema must be current, key must be the active one.
    pub async fn open(&self) -> Result<Ledger, ConfigError> {
        let id = self.ledger_id()?;
        let storage = self.storage().await?;
        Ok(Ledger::open_with_key_file(storage, id, &self.key).await?)
    }
}
