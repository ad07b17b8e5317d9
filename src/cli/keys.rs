//! `keys export` and `keys rotate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::CliError;
use crate::config::LedgerArgs;
use crate::ledger::key_file::destroy_key_file;
use crate::ledger::key_file::KeyFile;
use crate::ledger::keyring;
use icac_format::keys::LedgerKey;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the public keyring (every key and the positions it may sign) as JSON
    Export,
    /// Print the signing key's signed-note vkey (`log` line of a tlog-policy, `witness serve --log`)
    Vkey,
    /// Record a new signing key in the ledger, signed by the current one, then destroy
    /// the current key's file (--key). Safe while `serve` runs: the server stops writing
    /// until the new key file is at its --key path (docs/OPERATIONS.md)
    Rotate {
        /// Where to write the new private key (must not exist yet)
        #[arg(long)]
        new_key: PathBuf,
    },
}

pub async fn run(args: &LedgerArgs, cmd: KeysCommand) -> Result<ExitCode, CliError> {
    match cmd {
        KeysCommand::Vkey => {
            let id = args.ledger_id()?;
            let key = LedgerKey::load(&args.key)?;
            outln!(
                "{}",
                icac_format::checkpoint::verifier_key_string(id.as_str(), &key.public())?
            );
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Export => {
            let id = args.ledger_id()?;
            let storage = args.storage().await?;
            storage.check_schema().await?;
            let ring = keyring(&storage, &id).await?;
            let entries: Vec<_> = ring.entries().cloned().collect();
            outln!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"ledger_id": id, "keys": entries})
                )?
            );
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Rotate { new_key } => {
            let ledger = args.open().await?;
            let current = LedgerKey::load(&args.key)?;
            let next = LedgerKey::generate();
            // Write the new key before recording it: a rotation whose key was lost would
            // leave the ledger with no usable signer.
            next.save_new(&new_key)?;
            let next_id = next.id().clone();
            let event = ledger.rotate_key(&current, next, "cli:keys-rotate").await?;
            ledger.shutdown().await;
            // The retired key may sign nothing any more; a copy left on disk could only
            // forge history within its old period.
            destroy_key_file(&args.key)?;
            outln!(
                "rotated at position {}: key {} now signs; the retired key file {} was destroyed.\n\
                 A running server stops writing until the new key is at its --key path:\n  \
                 mv {} {}",
                event.record.position,
                next_id,
                args.key.display(),
                new_key.display(),
                args.key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
