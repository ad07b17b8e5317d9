//! `import notifications FILE.jsonl` and `import units FILE.csv`.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use icac_aggregates::units::import::parse_csv;

use super::progress::Progress;
use super::{CliError, EXIT_FAILED};
use crate::commands::import::{import_notifications, import_units, LineOutcome, UnitOutcome};
use crate::commands::Commands;
use crate::config::LedgerArgs;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// File standardized notifications, one JSON form per line
    Notifications { file: PathBuf },
    /// Register law enforcement units from a CSV file (ori,name,kind,town)
    Units { file: PathBuf },
    /// Receive CyberTipline reports made available by NCMEC, one JSON report per line
    Tips { file: PathBuf },
}

pub async fn run(args: &LedgerArgs, cmd: ImportCommand) -> Result<ExitCode, CliError> {
    let ledger = args.open().await?;
    let commands = Commands::open(ledger.clone()).await?;
    let code = match cmd {
        ImportCommand::Tips { file } => {
            let reader = std::fs::File::open(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let bar = Progress::bytes("importing tips", file_size(&reader));
            let outcomes = crate::commands::tip_intake::import_tips(
                &commands,
                bar.reader(BufReader::new(reader)),
                "cli:import",
                jiff::Timestamp::now,
            )
            .await?;
            bar.finish();
            let rejected = outcomes
                .iter()
                .filter(|o| {
                    matches!(
                        o,
                        crate::commands::tip_intake::TipLineOutcome::Rejected { .. }
                    )
                })
                .count();
            for outcome in &outcomes {
                outln!("{}", serde_json::to_string(outcome)?);
            }
            eprintln!(
                "import: {} received, {rejected} rejected",
                outcomes.len() - rejected
            );
            if rejected > 0 {
                ExitCode::from(EXIT_FAILED)
            } else {
                ExitCode::SUCCESS
            }
        }
        ImportCommand::Notifications { file } => {
            let reader = std::fs::File::open(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let bar = Progress::bytes("importing notifications", file_size(&reader));
            let outcomes = import_notifications(
                &commands,
                bar.reader(BufReader::new(reader)),
                "cli:import",
                jiff::Timestamp::now,
            )
            .await?;
            bar.finish();
            let mut rejected = 0;
            for outcome in &outcomes {
                if matches!(outcome, LineOutcome::Rejected { .. }) {
                    rejected += 1;
                }
                outln!("{}", serde_json::to_string(outcome)?);
            }
            eprintln!(
                "import: {} accepted, {rejected} rejected",
                outcomes.len() - rejected
            );
            if rejected > 0 {
                ExitCode::from(EXIT_FAILED)
            } else {
                ExitCode::SUCCESS
            }
        }
        ImportCommand::Units { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            match parse_csv(&text, jiff::Timestamp::now()) {
                Err(errors) => {
                    for e in &errors {
                        eprintln!("line {}: {}: {}", e.line, e.field, e.message);
                    }
                    eprintln!("import: nothing recorded ({} problem(s))", errors.len());
                    ExitCode::from(EXIT_FAILED)
                }
                Ok(units) => {
                    let outcomes = import_units(&commands, units, "cli:import").await?;
                    let mut rejected = 0;
                    for outcome in &outcomes {
                        if let UnitOutcome::Rejected { ori, message } = outcome {
                            rejected += 1;
                            eprintln!("unit {ori}: {message}");
                        }
                    }
                    outln!(
                        "import: {} units registered, {rejected} rejected",
                        outcomes.len() - rejected
                    );
                    if rejected > 0 {
                        ExitCode::from(EXIT_FAILED)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
            }
        }
    };
    drop(commands);
    ledger.shutdown().await;
    Ok(code)
}

/// The file's size for the progress bar (0 when the system cannot tell).
fn file_size(file: &std::fs::File) -> u64 {
    file.metadata().map_or(0, |m| m.len())
}
