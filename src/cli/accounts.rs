//! `accounts create|list|change|disable|enable|release|reset-password|disable-inactive`:
//! staff accounts, administered from the command line. Every action is written to the
//! access log with the operator (`cli:$USER`) as its principal; a generated password is
//! printed once and stored only as an argon2id hash.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use crate::access::access_log::AccessLog;
use crate::access::accounts::{AccountError, AccountInfo, AccountStore, Actor};
use crate::access::auth::Role;
use crate::config::LedgerArgs;

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create an account and print its first password (once)
    Create(CreateArgs),
    /// List accounts (never secrets)
    List {
        /// One JSON document instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Change an account's role (and unit); its sessions end
    Change(CreateArgs),
    /// Disable an account: no sign-in, sessions ended, tokens stop working
    Disable {
        username: String,
        #[arg(long)]
        reason: String,
    },
    /// Re-enable a disabled or locked account
    Enable { username: String },
    /// Release an account locked after failed sign-ins
    Release { username: String },
    /// Give an account a new password (printed once); its authenticator must be enrolled again
    ResetPassword { username: String },
    /// Disable every account unused for 90 days (`serve` also runs this every six hours)
    DisableInactive {
        /// Judge inactivity as of this instant (RFC 3339) instead of now
        #[arg(long)]
        as_of: Option<jiff::Timestamp>,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub username: String,
    /// unit_reporter, investigator, supervisor, auditor, report_author or admin
    #[arg(long)]
    pub role: Role,
    /// The unit (ORI) a unit_reporter acts for
    #[arg(long)]
    pub unit: Option<String>,
}

fn print(a: &AccountInfo) {
    outln!(
        "{:<20} {:<14} {:<10} {:<9} last used {}  totp={} passkeys={} recovery_codes={}",
        a.username,
        a.role.as_str(),
        a.unit.as_deref().unwrap_or("-"),
        a.status.as_str(),
        a.last_used_at,
        if a.totp { "on" } else { "off" },
        a.passkeys,
        a.recovery_codes_left
    );
}

pub async fn run(args: &LedgerArgs, cmd: AccountsCommand) -> Result<ExitCode, CliError> {
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let id = args.ledger_id()?;
    let store = AccountStore::new(storage.clone(), id.clone(), AccessLog::new(storage, id));
    let by = Actor::cli(super::tokens::principal());
    let now = jiff::Timestamp::now().as_second();
    let unit = |u: &Option<String>| {
        u.as_deref()
            .map(icac_aggregates::ids::Ori::parse)
            .transpose()
    };
    let result: Result<(), AccountError> = async {
        match cmd {
            AccountsCommand::Create(a) => {
                let unit = unit(&a.unit).map_err(|e| AccountError::Malformed(e.to_string()))?;
                let created = store.create(&a.username, a.role, unit, &by, now).await?;
                eprintln!(
                    "created {} account {}; its first password is shown only now (the first sign-in sets up the authenticator):",
                    created.account.role, created.account.username
                );
                outln!("{}", created.password);
            }
            AccountsCommand::List { json } => {
                let all = store.list().await?;
                if json {
                    outln!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({ "accounts": all }))
                            .map_err(|e| AccountError::Malformed(e.to_string()))?
                    );
                } else {
                    all.iter().for_each(print);
                }
            }
            AccountsCommand::Change(a) => {
                let unit = unit(&a.unit).map_err(|e| AccountError::Malformed(e.to_string()))?;
                print(&store.change(&a.username, a.role, unit, &by, now).await?);
            }
            AccountsCommand::Disable { username, reason } => {
                print(&store.disable(&username, &reason, &by, now).await?);
            }
            AccountsCommand::Enable { username } => print(&store.enable(&username, &by, now).await?),
            AccountsCommand::Release { username } => {
                print(&store.release(&username, &by, now).await?);
            }
            AccountsCommand::ResetPassword { username } => {
                let password = store.reset_password(&username, &by, now).await?;
                eprintln!("new password for {username}, shown only now; the authenticator must be set up again at the next sign-in:");
                outln!("{password}");
            }
            AccountsCommand::DisableInactive { as_of } => {
                let at = as_of.map_or(now, jiff::Timestamp::as_second);
                let done = store.disable_inactive(at, &by).await?;
                outln!("disabled {} account(s) unused for 90 days", done.len());
                for u in done {
                    outln!("  {u}");
                }
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ (AccountError::Sql(_) | AccountError::AccessLog(_) | AccountError::Hash(_))) => {
            Err(e.into())
        }
        Err(e) => {
            eprintln!("refused: {e}");
            Ok(ExitCode::from(super::EXIT_FAILED))
        }
    }
}
