//! `export`: a JSON Lines bundle that `verify --bundle` checks offline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::progress::Progress;
use super::CliError;
use crate::audit::bundle;
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use icac_format::keys::LedgerKey;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub what: Option<ExportWhat>,
    /// The bundle file to write (must not be a directory; replaced if it exists)
    #[arg(long, value_name = "FILE", required = true)]
    pub out: Option<PathBuf>,
    /// First position (default 1)
    #[arg(long)]
    pub from: Option<u64>,
    /// Last position (default: the current head)
    #[arg(long)]
    pub to: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// Write the Merkle tree as a C2SP tlog-tiles directory (incremental on later runs)
    Tiles {
        dir: PathBuf,
        /// Publish this checkpoint (e.g. a cosigned one) instead of the latest stored one
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
}

pub async fn run(args: &LedgerArgs, e: &ExportArgs) -> Result<ExitCode, CliError> {
    if let Some(ExportWhat::Tiles { dir, checkpoint }) = &e.what {
        return export_tiles(args, dir, checkpoint.as_deref()).await;
    }
    let out = e.out.as_ref().ok_or("--out FILE is required")?;
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    // Without the key the export reuses a stored checkpoint of exactly --to.
    let key = LedgerKey::load(&args.key).ok();
    let bar = Progress::new("exporting", 0, "events");
    let sized = std::cell::Cell::new(false);
    let summary = bundle::export_with_progress(
        &storage,
        &id,
        key.as_ref(),
        out,
        e.from,
        e.to,
        |done, to| {
            if !sized.replace(true) {
                bar.restart("exporting", to);
            }
            bar.set(done);
        },
    )
    .await?;
    bar.finish();
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

async fn export_tiles(
    args: &LedgerArgs,
    dir: &std::path::Path,
    checkpoint: Option<&std::path::Path>,
) -> Result<ExitCode, CliError> {
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let note = match checkpoint {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => {
            storage
                .latest_checkpoint(&id)
                .await?
                .ok_or("the ledger has no stored checkpoint; run `icac-ledger checkpoint` first")?
                .note
        }
    };
    let (text, _) = icac_format::cosignature::split_note(&note)?;
    let cp = icac_format::checkpoint::Checkpoint::parse_body(text)?;
    if cp.ledger_id != id.as_str() {
        return Err(format!("the checkpoint is of ledger {}, not {id}", cp.ledger_id).into());
    }
    let written = crate::tlog::tiles::write_tiles(&storage, &id, dir, &cp).await?;
    crate::tlog::tiles::write_checkpoint(dir, &note)?;
    outln!(
        "wrote {} tiles to {} for {} events (was {}); root {}",
        written.tiles_written,
        dir.display(),
        written.size,
        written.previous_size,
        written.root
    );
    storage.close().await;
    Ok(ExitCode::SUCCESS)
}
