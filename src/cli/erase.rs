//! `erase --case ID --reason TEXT` and `erase --subject VALUE --reason TEXT`: lawful
//! erasure of personal values (C.G.S. 54-142a). The chain keeps verifying; the values
//! are gone from the sealed store.

use std::process::ExitCode;

use clap::Args;
use icac_aggregates::ids::CaseId;

use super::{CliError, EXIT_FAILED};
use crate::access::access_log::{AccessEntry, AccessLog};
use crate::commands::erasure::{erase_case, erase_subject, Erased, ErasureError};
use crate::commands::{Actor, CommandError, Commands};
use crate::config::LedgerArgs;

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["case", "subject"])))]
pub struct EraseArgs {
    /// Erase every personal value of this case (e.g. CT0006400:24-00123)
    #[arg(long)]
    pub case: Option<String>,
    /// Erase this one identifier (e.g. a screen name) in every case that holds it
    #[arg(long)]
    pub subject: Option<String>,
    /// The legal reason, recorded in the ledger (e.g. "C.G.S. 54-142a(a): dismissed")
    #[arg(long)]
    pub reason: String,
}

pub async fn run(args: &LedgerArgs, e: &EraseArgs) -> Result<ExitCode, CliError> {
    let ledger = args.open().await?;
    let commands = Commands::open(ledger.clone()).await?;
    let actor = Actor::system("cli:erase", format!("erase-{}", jiff::Timestamp::now()));
    let outcome = match (&e.case, &e.subject) {
        (Some(case), _) => match CaseId::parse(case.as_str()) {
            Ok(id) => erase_case(&commands, &id, &e.reason, &actor)
                .await
                .map(|x| vec![x]),
            Err(err) => {
                eprintln!("error: {err}");
                return Ok(ExitCode::from(EXIT_FAILED));
            }
        },
        (None, Some(value)) => erase_subject(&commands, value, &e.reason, &actor).await,
        (None, None) => unreachable_group(),
    };
    // The writer stops once every handle is gone: the commands hold one.
    drop(commands);
    if let Ok(done) = &outcome {
        log_erasures(&ledger, done, &e.reason).await?;
    }
    ledger.shutdown().await;
    match outcome {
        Ok(done) => {
            for d in &done {
                println!("{}", summary(d));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(ErasureError::Command(CommandError::Invalid(problems))) => {
            for p in &problems {
                eprintln!(
                    "error: {}: {}",
                    p.pointer.trim_start_matches('/'),
                    p.message
                );
            }
            Ok(ExitCode::from(EXIT_FAILED))
        }
        Err(err) if is_refusal(&err) => {
            eprintln!("error: {err}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
        Err(err) => Err(err.into()),
    }
}

/// clap's group makes one of the two required.
fn unreachable_group() -> Result<Vec<Erased>, ErasureError> {
    Err(ErasureError::UnknownValue)
}

/// Refused input (exit 1), as opposed to a failure to run (exit 2).
fn is_refusal(err: &ErasureError) -> bool {
    matches!(
        err,
        ErasureError::UnknownCase(_)
            | ErasureError::NothingToErase(_)
            | ErasureError::UnknownValue
            | ErasureError::Command(CommandError::Rejected(_) | CommandError::Invalid(_))
    )
}

fn summary(d: &Erased) -> String {
    format!(
        "erased {} value(s) of case {}: {}",
        d.values,
        d.case_id,
        d.paths.join(", ")
    )
}

/// The erasure is in the ledger already; the access log records it too, so the weekly
/// review lists it beside erasures made over the API.
async fn log_erasures(
    ledger: &crate::ledger::Ledger,
    done: &[Erased],
    reason: &str,
) -> Result<(), CliError> {
    let log = AccessLog::new(ledger.storage().clone(), ledger.id().clone());
    for d in done {
        let entry = AccessEntry::new(
            "personal_data_erased",
            "cli:erase",
            "cli",
            d.case_id.as_str(),
            "ok",
        )
        .with_detail(format!("{} value(s): {reason}", d.values));
        log.append(entry).await?;
    }
    Ok(())
}
