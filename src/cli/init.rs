//! `init` and `status`.

use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::commands::setup;
use crate::config::LedgerArgs;
use crate::ledger::{keyring, Ledger};

pub async fn init(args: &LedgerArgs) -> Result<ExitCode, CliError> {
    let ledger = open_or_initialise(args).await?;
    let head = ledger.head().await?;
    outln!(
        "ledger {} ready on {} ({} events, head {})",
        ledger.id(),
        args.db_for_display(),
        head.position,
        head.hash
    );
    ledger.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Migrates the schema, creates the signing key if the file is missing and the ledger
/// has no genesis yet, writes the genesis event if the ledger is empty, and opens the
/// ledger for writing. Idempotent.
pub async fn open_or_initialise(args: &LedgerArgs) -> Result<Ledger, CliError> {
    open_or_initialise_with(args, false).await
}

/// [`open_or_initialise`] for the demo commands: a ledger created here declares the
/// demo clock in its genesis (its commit times follow the demo's story). A ledger that
/// exists already keeps the clock its genesis declares.
pub async fn open_or_initialise_demo(args: &LedgerArgs) -> Result<Ledger, CliError> {
    open_or_initialise_with(args, true).await
}

async fn open_or_initialise_with(args: &LedgerArgs, demo: bool) -> Result<Ledger, CliError> {
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    storage.migrate().await?;
    let (key, created) = setup::first_key(&storage, &id, &args.key).await?;
    if created {
        outln!("created signing key {} at {}", key.id(), args.key.display());
    }
    if demo {
        Ledger::initialise_demo(&storage, &id, &key, crate::commands::demo::story_start()).await?;
    } else {
        Ledger::initialise(&storage, &id, &key).await?;
    }
    // Opening checks that this key is the ledger's active key; the writer re-reads the
    // file after a rotation by another process.
    Ok(Ledger::open_with_key_file(storage, id, &args.key).await?)
}

/// `migrate`: applies pending schema migrations and nothing else (no key, no genesis),
/// for the owner role before a `serve` as the application role.
pub async fn migrate(args: &LedgerArgs) -> Result<ExitCode, CliError> {
    let storage = args.storage().await?;
    let version = storage.migrate().await?;
    outln!(
        "schema of {} is at version {version}",
        args.db_for_display()
    );
    storage.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub async fn status(args: &LedgerArgs, status: &StatusArgs) -> Result<ExitCode, CliError> {
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    let version = storage.check_schema().await?;
    let head = storage.head(&id).await?;
    let ring = keyring(&storage, &id).await?;
    let active = ring
        .active()
        .map(|k| k.key_id.to_string())
        .unwrap_or_default();
    let checkpoint = storage.latest_checkpoint(&id).await?;
    let value = serde_json::json!({
        "ledger_id": id,
        "database": storage.dialect(),
        "schema_version": version,
        "size": head.position,
        "head": head.hash,
        "last_recorded_at": head.recorded_at,
        "active_key_id": active,
        "last_checkpoint_size": checkpoint.map(|c| c.size),
    });
    if status.json {
        outln!("{value}");
    } else {
        outln!("ledger {id} ({})", storage.dialect());
        outln!("  size        {}", head.position);
        outln!("  head        {}", head.hash);
        outln!("  active key  {active}");
        outln!("  schema      {version}");
    }
    Ok(ExitCode::SUCCESS)
}
