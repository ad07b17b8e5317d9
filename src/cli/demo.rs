//! `demo`: a realistic, deterministic synthetic year through the real command path.

use std::process::ExitCode;

use clap::Args;

use super::progress::Progress;
use super::CliError;
use crate::commands::{demo, Commands};
use crate::config::LedgerArgs;
use icac_format::key_events::CommitClock;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of cases to generate
    #[arg(long, default_value_t = 300)]
    pub cases: usize,
    /// Seed; the same seed and case count give identical event payloads
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

pub async fn run(args: &LedgerArgs, demo_args: &DemoArgs) -> Result<ExitCode, CliError> {
    let ledger = super::init::open_or_initialise_demo(args).await?;
    let commands = Commands::open(ledger.clone()).await?;
    if ledger.clock().commit_clock() != CommitClock::Demo {
        eprintln!("demo: this ledger was not created as a demo ledger (its genesis declares the system clock): the demo's events are stamped when they are loaded, not at their time in the story");
    }
    let bar = Progress::new("demo", 0, "commands");
    let summary = demo::run(&commands, demo_args.cases, demo_args.seed, |done, total| {
        if bar.is_drawn() {
            if done == 1 {
                bar.restart("demo", total as u64);
            }
            bar.set(done as u64);
        } else if done % 500 == 0 || done == total {
            eprintln!("demo: {done}/{total} commands");
        }
    })
    .await?;
    bar.finish();
    drop(commands);
    let head = ledger.head().await?;
    ledger.shutdown().await;
    outln!(
        "demo: {} commands ({} rejected); ledger now has {} events, head {}",
        summary.commands,
        summary.rejected,
        head.position,
        head.hash
    );
    Ok(ExitCode::SUCCESS)
}
