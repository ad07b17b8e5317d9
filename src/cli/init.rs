//! `init` and `status`.

use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::config::LedgerArgs;
use crate::ledger::keys::LedgerKey;
use crate::ledger::{keyring, Ledger};

pub async fn init(args: &LedgerArgs) -> Result<ExitCode, CliError> {
    let ledger = open_or_initialise(args).await?;
    let head = ledger.head().await?;
    println!(
        "ledger {} ready on {} ({} events, head {})",
        ledger.id(),
        args.db_for_display(),
        head.position,
        head.hash
    );
    ledger.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// Migrates the schema, creates the signing key if missing, writes the genesis event if
/// the ledger is empty, and opens the ledger for writing. Idempotent.
pub async fn open_or_initialise(args: &LedgerArgs) -> Result<Ledger, CliError> {
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    storage.migrate().await?;
    let key = if args.key.exists() {
        LedgerKey::load(&args.key)?
    } else {
        let key = LedgerKey::generate();
        key.save_new(&args.key)?;
        println!("created signing key {} at {}", key.id(), args.key.display());
        key
    };
    Ledger::initialise(&storage, &id, &key).await?;
    // Opening checks that this key is the ledger's active key; the writer re-reads the
    // file after a rotation by another process.
    Ok(Ledger::open_with_key_file(storage, id, &args.key).await?)
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
        println!("{value}");
    } else {
        println!("ledger {id} ({})", storage.dialect());
        println!("  size        {}", head.position);
        println!("  head        {}", head.hash);
        println!("  active key  {active}");
        println!("  schema      {version}");
    }
    Ok(ExitCode::SUCCESS)
}
