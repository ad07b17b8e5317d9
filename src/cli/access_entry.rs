//! The access-log entry of a command-line read (CJIS AU-2): `history`, `export`,
//! `compliance` and `report` read case data or figures straight from the database, so
//! each run is logged before it reads, under the operating-system account that ran it.
//! If the entry cannot be written the command does not run (fail closed).

use super::{CliError, Command};
use crate::access::access_log::{AccessEntry, AccessLog};
use crate::config::LedgerArgs;

/// The action and target of a command that reads, if it is one.
pub fn read_by(command: &Command) -> Option<(&'static str, String)> {
    match command {
        Command::History(h) => Some(("cli history", h.case_id.clone())),
        Command::Export(_) => Some(("cli export", "ledger".to_owned())),
        Command::Compliance(_) => Some(("cli compliance", "compliance".to_owned())),
        // Rendering a report file reads no database.
        Command::Report(super::report::ReportCommand::Render(_)) => None,
        Command::Report(_) => Some(("cli report", "annual_report".to_owned())),
        _ => None,
    }
}

pub async fn record(args: &LedgerArgs, action: &str, target: &str) -> Result<(), CliError> {
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let log = AccessLog::new(storage.clone(), args.ledger_id()?);
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    let written = log
        .append(AccessEntry::new(
            action,
            &format!("cli:{user}"),
            "cli",
            target,
            "ok",
        ))
        .await;
    storage.close().await;
    written?;
    Ok(())
}
