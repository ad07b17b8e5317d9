//! `bench append`: the ledger's append path against its baselines, in one run.

use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::bench::append::{self, AppendBenchArgs};

#[derive(Debug, Args)]
pub struct AppendArgs {
    /// PostgreSQL server (admin URL); benchmark databases are created and dropped on it
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// Concurrent writers, each on its own case
    #[arg(long, default_value_t = 64)]
    pub writers: usize,
    /// Commands per writer per run
    #[arg(long, default_value_t = 300)]
    pub per_writer: usize,
    /// Skip the embedded SQLite run
    #[arg(long)]
    pub no_sqlite: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn append(args: &AppendArgs) -> Result<ExitCode, CliError> {
    let bench = AppendBenchArgs {
        postgres_url: args.postgres.clone(),
        writers: args.writers,
        per_writer: args.per_writer,
        sqlite: !args.no_sqlite,
    };
    let report = append::run(&bench, |r| {
        eprintln!(
            "{:<70} {:>9.0} events/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}",
            r.name,
            r.events_per_second,
            r.p50_ms,
            r.p99_ms,
            r.errors,
            r.mean_batch
                .map(|b| format!("  mean batch {b:.1}"))
                .unwrap_or_default()
        )
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "append, {} writers x {} commands (fsync={}, synchronous_commit={})",
            report.writers,
            report.per_writer,
            report.postgres_fsync,
            report.postgres_synchronous_commit
        );
        println!("| run | events | events/s | p50 ms | p99 ms | errors |");
        println!("|---|---:|---:|---:|---:|---:|");
        for r in &report.runs {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} |",
                r.name, r.events, r.events_per_second, r.p50_ms, r.p99_ms, r.errors
            );
        }
        println!(
            "ratio vs postgres-es (a): {:.2}x",
            report.ratio_vs_postgres_es
        );
        println!(
            "ratio vs naive chain (b): {:.2}x",
            report.ratio_vs_naive_chain
        );
    }
    Ok(ExitCode::SUCCESS)
}
