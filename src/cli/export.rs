//! `export`: a JSON Lines bundle that `verify --bundle` checks offline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::audit::bundle;
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use icac_format::keys::LedgerKey;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The bundle file to write (must not be a directory; replaced if it exists)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// First position (default 1)
    #[arg(long)]
    pub from: Option<u64>,
    /// Last position (default: the current head)
    #[arg(long)]
    pub to: Option<u64>,
}

pub async fn run(args: &LedgerArgs, e: &ExportArgs) -> Result<ExitCode, CliError> {
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    // Without the key the export reuses a stored checkpoint of exactly --to.
    let key = LedgerKey::load(&args.key).ok();
    let summary = bundle::export(&storage, &id, key.as_ref(), &e.out, e.from, e.to).await?;
    outln!(
        "exported positions {}..={} ({} events) of ledger {} to {}; head {}, root {}",
        summary.from,
        summary.to,
        summary.count,
        summary.ledger_id,
        summary.path,
        summary.head,
        summary.root
    );
    storage.close().await;
    Ok(ExitCode::SUCCESS)
}
