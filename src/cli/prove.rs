//! `prove inclusion` and `prove consistency`: proof files for `verify-proof`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::CliError;
use crate::audit::bundle::read_note_file;
use crate::audit::proofs;
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use icac_format::keys::LedgerKey;

#[derive(Debug, Subcommand)]
pub enum ProveCommand {
    /// Prove that the event at a position is in the ledger (against a checkpoint)
    Inclusion {
        #[arg(long)]
        position: u64,
        /// Prove against this checkpoint (default: the ledger's current head)
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// Write the proof here instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Prove that the ledger at --to extends the ledger at --from
    Consistency {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: u64,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub async fn run(args: &LedgerArgs, cmd: &ProveCommand) -> Result<ExitCode, CliError> {
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    // The key is only needed when no stored checkpoint fits; an auditor may not have it.
    let key = LedgerKey::load(&args.key).ok();
    let (json, out) = match cmd {
        ProveCommand::Inclusion {
            position,
            checkpoint,
            out,
        } => {
            let note = checkpoint.as_deref().map(read_note_file).transpose()?;
            let proof =
                proofs::prove_inclusion(&storage, &id, key.as_ref(), *position, note).await?;
            (serde_json::to_string_pretty(&proof)?, out)
        }
        ProveCommand::Consistency { from, to, out } => {
            let proof = proofs::prove_consistency(&storage, &id, key.as_ref(), *from, *to).await?;
            (serde_json::to_string_pretty(&proof)?, out)
        }
    };
    match out {
        Some(path) => std::fs::write(path, format!("{json}\n"))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?,
        None => outln!("{json}"),
    }
    storage.close().await;
    Ok(ExitCode::SUCCESS)
}
