//! `bench append`, `bench http` and `bench load`: benchmarks against their baselines in
//! one run, and the soak script's load generator.

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

fn cpu_text(r: &append::RunResult) -> String {
    match (r.client_cpu_us_per_event, r.server_cpu_us_per_event) {
        (Some(c), Some(s)) => format!("  cpu {c:.0} + {s:.0} µs/event"),
        (Some(c), None) => format!("  cpu {c:.0} µs/event"),
        _ => String::new(),
    }
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
                + &cpu_text(r)
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
        println!(
            "load average before: {}; after: {}",
            report.load_average.0.as_deref().unwrap_or("?"),
            report.load_average.1.as_deref().unwrap_or("?")
        );
        println!("| run | events | events/s | p50 ms | p99 ms | errors | CPU µs/event (client + PostgreSQL) |");
        println!("|---|---:|---:|---:|---:|---:|---|");
        for r in &report.runs {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} |",
                r.name,
                r.events,
                r.events_per_second,
                r.p50_ms,
                r.p99_ms,
                r.errors,
                cpu_text(r).trim()
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

#[derive(Debug, Args)]
pub struct HttpArgs {
    /// PostgreSQL server (admin URL); a benchmark database is created and dropped on it
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// Concurrent connections, each filing notifications for its own new cases
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Measured seconds per run (after one second of warm-up)
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Skip the embedded SQLite run
    #[arg(long)]
    pub no_sqlite: bool,
    /// Skip the PostgreSQL run
    #[arg(long)]
    pub no_postgres: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn http(args: &HttpArgs) -> Result<ExitCode, CliError> {
    use crate::bench::http;
    let bench = http::HttpBenchArgs {
        postgres_url: args.postgres.clone(),
        connections: args.connections.max(1),
        duration: std::time::Duration::from_secs(args.seconds.max(1)),
        sqlite: !args.no_sqlite,
        postgres: !args.no_postgres,
    };
    let report = http::run(&bench, |r| {
        eprintln!(
            "{:<72} {:>7.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
            r.name, r.requests_per_second, r.p50_ms, r.p99_ms, r.errors
        )
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "http, {} connections, {} s per run",
        report.connections, report.seconds
    );
    println!("| run | requests | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for db in &report.databases {
        for r in [&db.healthz, &db.commands, &db.http] {
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} |",
                r.name, r.requests, r.requests_per_second, r.p50_ms, r.p99_ms, r.errors
            );
        }
    }
    for db in &report.databases {
        println!(
            "{}: HTTP filings {:.2}x of in-process filings, {:.2}x of GET /healthz; {} events",
            db.database, db.ratio_http_vs_commands, db.ratio_http_vs_healthz, db.events
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Base URL of a running `icac-ledger serve`
    #[arg(long)]
    pub url: String,
    /// An investigator token
    #[arg(long, env = "ICAC_LOAD_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Requests per second across all connections
    #[arg(long, default_value_t = 500.0)]
    pub rate: f64,
    /// Concurrent connections
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// How long to run, in seconds
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// A progress line every this many seconds
    #[arg(long, default_value_t = 10)]
    pub report_every: u64,
}

pub async fn load(args: &LoadArgs) -> Result<ExitCode, CliError> {
    use crate::bench::http;
    let report = http::mixed_load(
        &http::MixedLoadArgs {
            url: args.url.clone(),
            token: args.token.clone(),
            connections: args.connections,
            rate: args.rate,
            duration: std::time::Duration::from_secs(args.seconds.max(1)),
            report_every: std::time::Duration::from_secs(args.report_every.max(1)),
        },
        |line| eprintln!("{line}"),
    )
    .await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
