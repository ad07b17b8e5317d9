//! `projections rebuild`

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use super::progress::Progress;
use super::CliError;
use crate::config::LedgerArgs;
use crate::read_side::rebuild::{rebuild, Stage};

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Replay the whole ledger into fresh view tables and swap them in
    Rebuild,
}

pub async fn run(args: &LedgerArgs, cmd: &ProjectionsCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ProjectionsCommand::Rebuild => {
            let storage = args.storage().await?;
            storage.check_schema().await?;
            let id = args.ledger_id()?;
            let mut stderr = std::io::stderr();
            let mut last_report = 0u64;
            let head = storage.head(&id).await?.position;
            let bar = Progress::new("replaying", head, "events");
            let mut writing = false;
            let summary = rebuild(&storage, &id, |stage| match stage {
                Stage::Replaying { position, .. } if bar.is_drawn() => bar.set(position),
                Stage::Writing { rows, total } if bar.is_drawn() => {
                    if !writing {
                        writing = true;
                        bar.restart("writing views", total as u64);
                    }
                    bar.set(rows as u64);
                }
                Stage::Replaying { position, head } => {
                    if position >= last_report + 50_000 || position == head {
                        last_report = position;
                        let _ = write!(stderr, "\rreplaying {position}/{head}");
                    }
                }
                Stage::Writing { rows, total } => {
                    let _ = write!(stderr, "\rwriting views {rows}/{total}      ");
                }
            })
            .await?;
            if bar.is_drawn() {
                bar.finish();
            } else {
                let _ = writeln!(stderr);
            }
            let secs = summary.replay_micros.max(1) as f64 / 1e6;
            outln!(
                "rebuilt {} views at position {} (replay {:.2}s, {:.0} events/s; write {:.2}s)",
                summary.views,
                summary.position,
                secs,
                summary.position as f64 / secs,
                summary.write_micros as f64 / 1e6
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
