//! `bench append`, `bench http` and `bench load`: benchmarks against their baselines in
//! one run, and the soak script's load generator. `bench generate`, `bench rebuild`,
//! `bench report`: a realistic domain ledger, and the projections and the annual report
//! over it, each next to a raw read.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use crate::bench::append::{self, AppendBenchArgs};
use crate::bench::generate::{self, GenerateOptions};
use crate::bench::ownership;
use crate::bench::projections;
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use crate::ledger::Ledger;
use crate::storage::Storage;
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;

mod verify;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Verify throughput on the configured database, next to raw batch verification
    Verify(BenchVerifyArgs),
    /// Append throughput through the full command path, next to postgres-es and a naive chain
    Append(AppendArgs),
    /// Notifications filed over HTTP, next to GET /healthz and in-process filings
    Http(HttpArgs),
    /// A mixed load at a fixed rate against a running server (scripts/soak.sh)
    Load(LoadArgs),
    /// The staff pages under concurrent signed-in users, on the demo year
    Pages(PagesArgs),
    /// Build a realistic domain ledger fast (the demo scenario, batched appends)
    Generate(GenerateArgs),
    /// Rebuild all projections, next to a raw read of the same ledger
    Rebuild(LedgerBenchArgs),
    /// Build the annual report in every format, next to a raw read of the same ledger
    Report(ReportBenchArgs),
    /// Write the C2SP tiles, then inclusion proofs from tiles next to proofs from every hash
    Tiles(BenchTilesArgs),
    /// Publish two overlapping releases (joint suppression, audit, event, proof), next to a draft
    Release(ReleaseBenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchTilesArgs {
    /// The tiles directory to write (must be new or of this ledger)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Inclusion proofs to build from the tiles
    #[arg(long, default_value_t = 200)]
    pub proofs: usize,
}

#[derive(Debug, Args)]
pub struct BenchVerifyArgs {
    /// Grow the ledger to at least this many events first (through Ledger::append)
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Concurrent appending tasks for the generator
    #[arg(long, default_value_t = 16)]
    pub tasks: usize,
    /// Events per append request
    #[arg(long, default_value_t = 64)]
    pub per_request: usize,
    /// Approximate payload size of generated events
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,
    /// Signatures for the raw verify_batch measurement
    #[arg(long, default_value_t = 200_000)]
    pub raw_signatures: usize,
    /// Also verify an export bundle of the ledger (written to FILE unless it exists):
    /// the same checks with no database competing for the CPU
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &LedgerArgs, cmd: &BenchCommand) -> Result<ExitCode, CliError> {
    match cmd {
        BenchCommand::Verify(b) => verify::run(args, b).await,
        BenchCommand::Append(a) => append(a).await,
        BenchCommand::Http(a) => http(a).await,
        BenchCommand::Load(a) => load(a).await,
        BenchCommand::Pages(a) => pages(a).await,
        BenchCommand::Generate(g) => generate(args, g).await,
        BenchCommand::Rebuild(r) => rebuild(args, r).await,
        BenchCommand::Report(r) => report(args, r).await,
        BenchCommand::Tiles(t) => {
            let storage = args.storage().await?;
            let r =
                crate::bench::tiles::run(&storage, &args.ledger_id()?, &t.dir, t.proofs).await?;
            outln!("{}", serde_json::to_string_pretty(&r)?);
            storage.close().await;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Release(r) => release(args, r).await,
    }
}

#[derive(Debug, Args)]
pub struct AppendArgs {
    /// PostgreSQL server (admin URL); benchmark databases are created and dropped on it
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
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
    /// Also run this many ledgers at once on one PostgreSQL database (docs/SCALING.md)
    #[arg(long, default_value_t = 0)]
    pub ledgers: usize,
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
        ledgers: args.ledgers,
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
        );
    })
    .await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!(
            "append, {} writers x {} commands (fsync={}, synchronous_commit={})",
            report.writers,
            report.per_writer,
            report.postgres_fsync,
            report.postgres_synchronous_commit
        );
        outln!(
            "load average before: {}; after: {}",
            report.load_average.0.as_deref().unwrap_or("?"),
            report.load_average.1.as_deref().unwrap_or("?")
        );
        outln!("| run | events | events/s | p50 ms | p99 ms | errors | CPU µs/event (client + PostgreSQL) |");
        outln!("|---|---:|---:|---:|---:|---:|---|");
        for r in &report.runs {
            outln!(
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
        outln!(
            "ratio vs postgres-es (a): {:.2}x",
            report.ratio_vs_postgres_es
        );
        outln!(
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
        hide_env_values = true,
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
        );
    })
    .await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "http, {} connections, {} s per run",
        report.connections,
        report.seconds
    );
    outln!("| run | requests | req/s | p50 ms | p99 ms | errors |");
    outln!("|---|---:|---:|---:|---:|---:|");
    for db in &report.databases {
        for r in [&db.healthz, &db.commands, &db.http] {
            outln!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} |",
                r.name,
                r.requests,
                r.requests_per_second,
                r.p50_ms,
                r.p99_ms,
                r.errors
            );
        }
    }
    for db in &report.databases {
        outln!(
            "{}: HTTP filings {:.2}x of in-process filings, {:.2}x of GET /healthz; {} events",
            db.database,
            db.ratio_http_vs_commands,
            db.ratio_http_vs_healthz,
            db.events
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
    outln!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Events to append (the demo scenario with enough cases, cut at this count)
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Scenario seed: the same seed gives the same streams, events and positions
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LedgerBenchArgs {
    /// Generate the ledger first if it holds fewer events than this (fresh ledgers only)
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Scenario seed for the generator
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Print the figures as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReportBenchArgs {
    #[command(flatten)]
    pub ledger: LedgerBenchArgs,
    /// First day of the reporting period
    #[arg(long, default_value = "2024-07-01")]
    pub from: jiff::civil::Date,
    /// Last day of the reporting period
    #[arg(long, default_value = "2025-06-30")]
    pub to: jiff::civil::Date,
}

#[derive(Debug, Args)]
pub struct ReleaseBenchArgs {
    #[command(flatten)]
    pub ledger: LedgerBenchArgs,
    /// The first release: whole quarters
    #[arg(long, default_value = "2024-07-01")]
    pub from: jiff::civil::Date,
    #[arg(long, default_value = "2025-06-30")]
    pub to: jiff::civil::Date,
    /// The second release, overlapping the first
    #[arg(long, default_value = "2025-01-01")]
    pub second_from: jiff::civil::Date,
    #[arg(long, default_value = "2025-12-31")]
    pub second_to: jiff::civil::Date,
    /// Suppression threshold (and protection width); raise it to make suppression work
    #[arg(long, default_value_t = icac_projections::report::suppression::DEFAULT_THRESHOLD)]
    pub threshold: u64,
}

pub async fn release(args: &LedgerArgs, r: &ReleaseBenchArgs) -> Result<ExitCode, CliError> {
    let (storage, id, key) = prepared(args, r.ledger.events, r.ledger.seed).await?;
    let f = crate::bench::release::release_bench(
        &storage,
        &id,
        key,
        (r.from, r.to),
        (r.second_from, r.second_to),
        r.threshold,
    )
    .await?;
    if r.ledger.json {
        outln!("{}", serde_json::to_string(&f)?);
    } else {
        outln!("release benchmark ({}, {} events)", f.database, f.events);
        outln!("| run | seconds | CPU seconds | hidden victim figures |");
        outln!("|---|---:|---:|---:|");
        outln!(
            "| baseline: draft report annual --format json | {:.2} | {:.2} | |",
            f.draft_seconds,
            f.draft_cpu_seconds
        );
        for run in &f.runs {
            outln!(
                "| {} | {:.2} | {:.2} | {} |",
                run.what,
                run.seconds,
                run.cpu_seconds,
                run.hidden
            );
        }
        outln!("slowest over the draft: {:.2}x", f.ratio_to_draft);
    }
    Ok(ExitCode::SUCCESS)
}

async fn prepared(
    args: &LedgerArgs,
    events: u64,
    seed: u64,
) -> Result<(Storage, LedgerId, LedgerKey), CliError> {
    let storage = args.storage().await?;
    let id = args.ledger_id()?;
    // A ledger big enough is only read; growing one writes, so it must be our own.
    let key = if ownership::size(&storage, &id).await? < events {
        ownership::writable(&storage, &id, &args.key).await?
    } else {
        LedgerKey::load(&args.key)?
    };
    let generated = projections::ensure_ledger(
        &storage,
        &id,
        LedgerKey::from_signing_key(key.signing_key().clone()),
        events,
        seed,
        |n| {
            eprint!("\rgenerating: {n} events");
        },
    )
    .await?;
    if let Some(g) = generated {
        eprintln!(
            "\rgenerated {} events ({} cases, {} commands, {} refused) in {:.1} s: {:.0} events/s",
            g.events, g.cases, g.commands, g.rejected, g.seconds, g.events_per_second
        );
    }
    Ok((storage, id, key))
}

pub async fn generate(args: &LedgerArgs, g: &GenerateArgs) -> Result<ExitCode, CliError> {
    let storage = args.storage().await?;
    let id = args.ledger_id()?;
    let key = ownership::writable(&storage, &id, &args.key).await?;
    let ledger = Ledger::open(storage.clone(), id, key).await?;
    let options = GenerateOptions::for_events(g.events, g.seed);
    let result =
        generate::generate(&ledger, options, |n| eprint!("\rgenerating: {n} events")).await;
    ledger.shutdown().await;
    let summary = result?;
    eprintln!();
    if g.json {
        outln!("{}", serde_json::to_string(&summary)?);
    } else {
        outln!(
            "generated {} events ({} cases, {} commands, {} refused) in {:.1} s: {:.0} events/s; head {}",
            summary.events,
            summary.cases,
            summary.commands,
            summary.rejected,
            summary.seconds,
            summary.events_per_second,
            summary.head
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |s| format!("{s:.2}"))
}

fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |m| format!("{m:.0} MiB"))
}

pub async fn rebuild(args: &LedgerArgs, r: &LedgerBenchArgs) -> Result<ExitCode, CliError> {
    let (storage, id, _) = prepared(args, r.events, r.seed).await?;
    let f = projections::rebuild_bench(&storage, &id).await?;
    if r.json {
        outln!("{}", serde_json::to_string(&f)?);
    } else {
        outln!("rebuild benchmark ({}, {} events)", f.database, f.events);
        outln!("| run | seconds | process CPU s | events/s |");
        outln!("|---|---:|---:|---:|");
        outln!(
            "| baseline: raw read, no decoding ({:.0} MiB) | {:.2} | {} | {:.0} |",
            f.raw.bytes as f64 / 1048576.0,
            f.raw.seconds,
            secs(f.raw.cpu_seconds),
            f.raw.events_per_second
        );
        outln!(
            "| projections rebuild (replay {:.2} s + write {} views {:.2} s) | {:.2} | {} | {:.0} |",
            f.replay_seconds,
            f.views,
            f.write_seconds,
            f.seconds,
            secs(f.cpu_seconds),
            f.events_per_second
        );
        outln!(
            "ratio rebuild/raw: {:.2}; peak RSS during rebuild {}",
            f.ratio,
            mib(f.peak_rss_mib)
        );
        for p in &f.persist {
            outln!(
                "live runner persist, batch changing {} views: mean {:.2} ms, max {:.2} ms ({} batches)",
                p.views, p.mean_ms, p.max_ms, p.batches
            );
        }
    }
    storage.close().await;
    Ok(ExitCode::SUCCESS)
}

pub async fn report(args: &LedgerArgs, r: &ReportBenchArgs) -> Result<ExitCode, CliError> {
    let (storage, id, key) = prepared(args, r.ledger.events, r.ledger.seed).await?;
    let f = projections::report_bench(&storage, &id, &key, r.from, r.to).await?;
    if r.ledger.json {
        outln!("{}", serde_json::to_string(&f)?);
    } else {
        outln!(
            "annual report benchmark ({}, {} events, {} to {})",
            f.database,
            f.events,
            f.from,
            f.to
        );
        outln!("| run | seconds | process CPU s | output bytes |");
        outln!("|---|---:|---:|---:|");
        outln!(
            "| baseline: raw read, no decoding ({:.0} events/s) | {:.2} | {} | |",
            f.raw.events_per_second,
            f.raw.seconds,
            secs(f.raw.cpu_seconds)
        );
        for run in &f.runs {
            outln!(
                "| report annual --format {} ({} notifications) | {:.2} | {} | {} |",
                run.format,
                run.notifications,
                run.seconds,
                secs(run.cpu_seconds),
                run.bytes
            );
        }
        outln!(
            "slowest report / raw read: {:.2}; peak RSS during reports {}",
            f.ratio_to_raw,
            mib(f.peak_rss_mib)
        );
    }
    storage.close().await;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct PagesArgs {
    /// Concurrent signed-in users, each with its own session and connection
    #[arg(long, default_value_t = 64)]
    pub users: usize,
    /// Measured seconds
    #[arg(long, default_value_t = 20)]
    pub seconds: u64,
    /// Cases in the demo year the pages show
    #[arg(long, default_value_t = 2000)]
    pub cases: usize,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

pub async fn pages(args: &PagesArgs) -> Result<ExitCode, CliError> {
    use crate::bench::pages;
    let bench = pages::PagesBenchArgs {
        users: args.users.max(1),
        duration: std::time::Duration::from_secs(args.seconds.max(1)),
        cases: args.cases.max(1),
        seed: 7,
    };
    let report = pages::run(&bench, |m| eprintln!("{m}...")).await?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "pages, {} users, {} cases, {} s ({} events)",
        report.users,
        report.cases,
        report.seconds,
        report.events
    );
    for r in report.pages.iter().chain([&report.all]) {
        outln!(
            "  {:<12} {:>7} requests  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
            r.page,
            r.requests,
            r.p50_ms,
            r.p99_ms,
            r.errors
        );
    }
    Ok(ExitCode::SUCCESS)
}
