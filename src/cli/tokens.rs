//! `tokens issue|revoke|list`: API and staff-page access. The token is printed once;
//! only its SHA-256 is stored. Issue and revoke are written to the access log.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use crate::config::LedgerArgs;
use crate::http::access_log::AccessLog;
use crate::http::auth::Role;
use crate::http::tokens::TokenStore;

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Issue a token and print it (once)
    Issue(IssueArgs),
    /// Revoke a token by its id
    Revoke(RevokeArgs),
    /// List tokens (never their secrets)
    List,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// unit_reporter, investigator, supervisor, auditor, report_author or admin
    #[arg(long)]
    pub role: Role,
    /// The unit (ORI) a unit_reporter acts for
    #[arg(long)]
    pub unit: Option<String>,
    /// Who holds the token (kept in the token table, never in events or logs)
    #[arg(long)]
    pub name: String,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token id (the part after `icac_`, before the second `_`)
    pub token_id: String,
}

fn principal() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!(
        "cli:{}",
        user.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(32)
            .collect::<String>()
    )
}

pub async fn run(args: &LedgerArgs, cmd: TokensCommand) -> Result<ExitCode, CliError> {
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let id = args.ledger_id()?;
    let store = TokenStore::new(storage.clone(), id.clone(), AccessLog::new(storage, id));
    match cmd {
        TokensCommand::Issue(a) => {
            let unit = a
                .unit
                .as_deref()
                .map(icac_aggregates::ids::Ori::parse)
                .transpose()?;
            let issued = store.issue(a.role, unit, &a.name, &principal()).await?;
            eprintln!(
                "issued {} token {} for {:?}{}; it is shown only now:",
                issued.info.role,
                issued.info.token_id,
                issued.info.name,
                issued
                    .info
                    .unit
                    .as_deref()
                    .map(|u| format!(" (unit {u})"))
                    .unwrap_or_default()
            );
            outln!("{}", issued.token);
        }
        TokensCommand::Revoke(a) => {
            store.revoke(&a.token_id, &principal()).await?;
            outln!("revoked token {}", a.token_id);
        }
        TokensCommand::List => {
            for t in store.list().await? {
                outln!(
                    "{}  {:<14} {:<10} {:<8} {}  {}",
                    t.token_id,
                    t.role.as_str(),
                    t.unit.as_deref().unwrap_or("-"),
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    },
                    t.issued_at,
                    t.name
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
