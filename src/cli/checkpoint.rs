//! `checkpoint`: cut, sign and store a checkpoint of the ledger as it is now.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::audit::checkpointer;
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use icac_format::keys::LedgerKey;

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Also write the signed note to this file (it is always printed and stored)
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print one JSON object instead of the note
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &LedgerArgs, c: &CheckpointArgs) -> Result<ExitCode, CliError> {
    let id = args.ledger_id()?;
    let key = LedgerKey::load(&args.key)?;
    let storage = args.storage().await?;
    let signed = checkpointer::cut(&storage, &id, &key).await?;
    if let Some(out) = &c.out {
        std::fs::write(out, &signed.note)
            .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    }
    if c.json {
        let cp = &signed.checkpoint;
        outln!(
            "{}",
            serde_json::json!({
                "ledger_id": cp.ledger_id, "size": cp.size, "root": cp.root, "head": cp.head,
                "time": cp.time, "key_id": key.id(), "note": signed.note,
            })
        );
    } else {
        out!("{}", signed.note);
    }
    storage.close().await;
    Ok(ExitCode::SUCCESS)
}
