//! `demo`: a realistic, deterministic synthetic year through the real command path.

use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::commands::{demo, Commands};
use crate::config::LedgerArgs;

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
    let summary = demo::run(&commands, demo_args.cases, demo_args.seed, |done, total| {
        eprintln!("demo: {done}/{total} commands");
    })
    .await?;
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
