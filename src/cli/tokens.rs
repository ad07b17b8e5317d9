//! `tokens issue|revoke|list`: API and staff-page access. The token is printed once;
//! only its SHA-256 is stored. Issue and revoke are written to the access log.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use crate::access::access_log::AccessLog;
use crate::access::auth::Role;
use crate::access::tokens::{TokenScope, TokenStore};
use crate::config::LedgerArgs;

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
    /// A service token's role: unit_reporter, investigator, supervisor, auditor,
    /// report_author or admin
    #[arg(long, required_unless_present = "account", conflicts_with = "account")]
    pub role: Option<Role>,
    /// Scope the token to this account instead: it acts with the account's role and
    /// unit, and only while the account is enabled
    #[arg(long)]
    pub account: Option<String>,
    /// Days until the token expires (1 to 366)
    #[arg(long, default_value_t = crate::access::tokens::DEFAULT_TOKEN_DAYS)]
    pub days: i64,
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

pub(super) fn principal() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    format!(
        "cli:{}",
        user.chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect::<String>()
    )
}

pub async fn run(args: &LedgerArgs, cmd: TokensCommand) -> Result<ExitCode, CliError> {
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let id = args.ledger_id()?;
    let storage_for_accounts = storage.clone();
    let store = TokenStore::new(
        storage.clone(),
        id.clone(),
        AccessLog::new(storage, id.clone()),
    );
    match cmd {
        TokensCommand::Issue(a) => {
            let unit = a
                .unit
                .as_deref()
                .map(icac_aggregates::ids::Ori::parse)
                .transpose()?;
            let scope = match (a.role, &a.account) {
                (_, Some(username)) => {
                    let accounts = crate::access::accounts::AccountStore::new(
                        storage_for_accounts.clone(),
                        id.clone(),
                        AccessLog::new(storage_for_accounts.clone(), id.clone()),
                    );
                    let account = accounts
                        .get(username)
                        .await?
                        .ok_or_else(|| format!("no account {username}"))?;
                    if unit.is_some() {
                        return Err("--unit is the account's; leave it out with --account".into());
                    }
                    TokenScope::Account(account)
                }
                (Some(role), None) => TokenScope::Service { role, unit },
                (None, None) => return Err("give --role or --account".into()),
            };
            let issued = store
                .issue_scoped(scope, &a.name, &principal(), a.days)
                .await?;
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
                let expired = t
                    .expires_at
                    .as_deref()
                    .and_then(|e| e.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|e| e <= jiff::Timestamp::now());
                outln!(
                    "{}  {:<14} {:<10} {:<8} {:<20} expires {:<28} {}  {}",
                    t.token_id,
                    t.role.as_str(),
                    t.unit.as_deref().unwrap_or("-"),
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else if expired {
                        "expired"
                    } else {
                        "active"
                    },
                    t.account
                        .as_deref()
                        .map_or_else(|| "service".into(), |a| format!("account {a}")),
                    t.expires_at.as_deref().unwrap_or("never (pre-schema-10)"),
                    t.issued_at,
                    t.name
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
