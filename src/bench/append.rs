//! Append throughput through the full command path (cqrs-es → aggregate → ledger group
//! commit) against two baselines measured in the same run:
//! (a) the same commands through unmodified postgres-es `PostgresEventRepository`
//!     (no chain, no signature), and
//! (b) a naive chain that locks its head row and commits one event per transaction.
//! 64 writers each drive their own case; latency is measured per command.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::CqrsFramework;
use ed25519_dalek::Signer;
use icac_aggregates::case::{
    Case, CaseCommand, FileNotification, ShareCategory, ShareDirection, ShareInformation,
};
use icac_aggregates::catalog::Catalog;
use icac_aggregates::form::{parse_and_validate, NotificationForm, ValidationContext};
use icac_aggregates::ids::{CaseId, Ori};
use icac_aggregates::services::{
    CaseServices, InMemoryCyberTipIndex, InMemoryLedgerIndex, InMemoryUnitDirectory, UnitInfo,
};
use icac_aggregates::units::{RegisterUnit, UnitCommand, UnitKind};
use jiff::Timestamp;
use postgres_es::PostgresEventRepository;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection};

use crate::commands::{Actor, Commands};
use crate::ledger::key_file::KeyFile;
use crate::ledger::Ledger;
use crate::read_side::runner::ProjectionRunner;
use crate::storage::Storage;
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;

const UNIT: &str = "CT0006400";
/// When the benchmark's complaints were received.
const BENCH_RECEIVED: &str = "2026-01-05";

#[derive(Debug, Clone)]
pub struct AppendBenchArgs {
    /// Admin URL of a PostgreSQL server; benchmark databases are created on it.
    pub postgres_url: String,
    pub writers: usize,
    /// Commands per writer in each measured run.
    pub per_writer: usize,
    /// Also measure the embedded SQLite default.
    pub sqlite: bool,
    /// Also measure this many ledgers appending at once to one PostgreSQL database
    /// (one task force each), `writers` writers per ledger; 0 or 1 skips it.
    pub ledgers: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub name: String,
    pub events: usize,
    pub seconds: f64,
    pub events_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
    /// Mean events per committed batch (group commit), for the ledger's own runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_batch: Option<f64>,
    /// CPU time per event of this process and of the PostgreSQL backends serving the
    /// run (sampled from /proc; only when the server is on this machine). Unlike the
    /// rates, these do not depend on what else the machine is doing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cpu_us_per_event: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_us_per_event: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct AppendReport {
    pub writers: usize,
    pub per_writer: usize,
    pub postgres_fsync: String,
    pub postgres_synchronous_commit: String,
    /// `/proc/loadavg` before and after: other work on the machine depresses the rates.
    pub load_average: (Option<String>, Option<String>),
    pub runs: Vec<RunResult>,
    /// Ledger throughput over baseline (a), postgres-es without chain or signature.
    pub ratio_vs_postgres_es: f64,
    /// Ledger throughput over baseline (b), a naive head-locking chain.
    pub ratio_vs_naive_chain: f64,
}

type BenchError = Box<dyn std::error::Error + Send + Sync>;

fn now() -> Timestamp {
    Timestamp::now()
}

/// A valid notification form from the benchmark unit, received on `received`.
pub(crate) fn form_json(case_number: &str, received: &str) -> serde_json::Value {
    json!({
        "form_version": "1",
        "reporting_unit": UNIT,
        "officer": { "name": "Det. Bench", "badge": "1", "phone": "(860) 555-0100", "email": "bench@example.gov" },
        "unit_case_number": case_number,
        "received": { "date": received, "time": "09:30:00" },
        "source": { "kind": "school" },
        "incident": { "type": "online_enticement", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false, "date_from": received },
        "medium": "chat_im",
        "platform": "Example",
        "suspected_statutes": ["53a-90a"],
        "urgent": false,
        "subject_identifiers": [],
        "victim": { "identified": false, "age_band": "unknown" },
        "evidence": { "item_count": 0, "image_count": 0, "video_count": 0, "hashes": [] },
        "deconfliction_checked": true,
        "assistance_requested": { "undercover": false, "forensic": false, "technical": false },
        "attestation": { "name": "Det. Bench", "statement_accepted": true }
    })
}

fn share(n: usize, to: &Ori) -> CaseCommand {
    CaseCommand::ShareInformation(ShareInformation {
        direction: ShareDirection::TaskForceToUnits {
            to_units: vec![to.clone()],
        },
        category: ShareCategory::CaseUpdate,
        summary: format!("Benchmark update {n}: subscriber records returned from provider"),
        recorded_at: now(),
    })
}

fn actor(w: usize, n: usize) -> Actor {
    Actor::system("bench:writer", format!("bench-{w}-{n}"))
}

fn directory() -> Arc<InMemoryUnitDirectory> {
    let dir = InMemoryUnitDirectory::default();
    if let Ok(ori) = Ori::parse(UNIT) {
        dir.insert(UnitInfo {
            ori,
            name: "Hartford Police Department".into(),
            kind: UnitKind::MunicipalPolice,
            town: "Hartford".into(),
            active: true,
        });
    }
    Arc::new(dir)
}

fn validated_form(
    case_number: &str,
    units: &InMemoryUnitDirectory,
) -> Result<NotificationForm, BenchError> {
    let ctx = ValidationContext {
        recorded_at: now(),
        units,
        catalog: Catalog::builtin()?,
    };
    parse_and_validate(&form_json(case_number, BENCH_RECEIVED), &ctx)
        .map_err(|e| format!("benchmark form does not validate: {e:?}").into())
}

fn summarize(
    name: &str,
    started: Instant,
    mut latencies: Vec<Duration>,
    errors: usize,
) -> RunResult {
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pick = |q: f64| {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[i.min(latencies.len() - 1)].as_secs_f64() * 1000.0
    };
    RunResult {
        name: name.to_string(),
        events: latencies.len(),
        seconds,
        events_per_second: latencies.len() as f64 / seconds.max(1e-9),
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        errors,
        mean_batch: None,
        client_cpu_us_per_event: None,
        server_cpu_us_per_event: None,
    }
}

/// A database created for one run and dropped afterwards.
struct BenchDb {
    admin: String,
    name: String,
    url: String,
}

impl BenchDb {
    async fn create(admin: &str, tag: &str) -> Result<Self, BenchError> {
        let name = format!("icac_bench_{tag}_{}", std::process::id());
        let mut conn = PgConnection::connect(admin).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        let url = with_database(admin, &name);
        Ok(Self {
            admin: admin.to_string(),
            name,
            url,
        })
    }

    async fn drop_db(self) -> Result<(), BenchError> {
        let mut conn = PgConnection::connect(&self.admin).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let prefix = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{prefix}/{name}{query}")
}

/// Drives `writers` concurrent writers, each running `per_writer` commands through `op`.
async fn drive<F, Fut>(name: &str, writers: usize, per_writer: usize, op: F) -> RunResult
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_writer);
            let mut errors = 0;
            for n in 0..per_writer {
                let t = Instant::now();
                match op(w, n).await {
                    Ok(()) => lat.push(t.elapsed()),
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            tracing::warn!(writer = w, error = %e, "benchmark command failed");
                        }
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(writers * per_writer);
    let mut errors = 0;
    for t in tasks {
        if let Ok((lat, e)) = t.await {
            latencies.extend(lat);
            errors += e;
        } else {
            errors += per_writer;
        }
    }
    summarize(name, started, latencies, errors)
}

/// The ledger's full command path on `url`.
async fn ledger_run(
    name: &str,
    url: &str,
    args: &AppendBenchArgs,
) -> Result<RunResult, BenchError> {
    ledger_run_as(name, url, "bench", args).await
}

async fn ledger_run_as(
    name: &str,
    url: &str,
    ledger_id: &str,
    args: &AppendBenchArgs,
) -> Result<RunResult, BenchError> {
    let storage = Storage::connect(url).await?;
    storage.migrate().await?;
    let id = LedgerId::new(ledger_id)?;
    let key = LedgerKey::generate();
    Ledger::initialise(&storage, &id, &key).await?;
    let ledger = Ledger::open(storage.clone(), id.clone(), key).await?;
    // The projections follow the ledger as they do in the server.
    let projections = ProjectionRunner::open(storage, id).await?;
    let follower = projections.spawn(&ledger);
    let commands = Arc::new(Commands::open(ledger.clone()).await?);
    let register = UnitCommand::Register(RegisterUnit {
        ori: Ori::parse(UNIT)?,
        name: "Hartford Police Department".into(),
        kind: UnitKind::MunicipalPolice,
        town: "Hartford".into(),
        recorded_at: now(),
    });
    commands
        .execute(&commands.units, UNIT, register, &actor(0, 0))
        .await?;
    let mut cases = Vec::with_capacity(args.writers);
    for w in 0..args.writers {
        let value = form_json(&format!("B-{w}"), BENCH_RECEIVED);
        let receipt =
            crate::commands::filing::file_notification(&commands, &value, &actor(w, 0), now())
                .await?;
        cases.push(receipt.case_id().clone());
    }
    let cases = Arc::new(cases);
    let c = commands.clone();
    let to = Ori::parse(UNIT)?;
    let stats = ledger.stats();
    let (batches_before, events_before) = (
        stats.batches.load(Ordering::Relaxed),
        stats.events.load(Ordering::Relaxed),
    );
    let mut result = drive(name, args.writers, args.per_writer, move |w, n| {
        let (c, cases, to) = (c.clone(), cases.clone(), to.clone());
        async move {
            c.execute_case(&cases[w], share(n, &to), &actor(w, n + 1))
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await;
    let batches = stats.batches.load(Ordering::Relaxed) - batches_before;
    let events = stats.events.load(Ordering::Relaxed) - events_before;
    result.mean_batch = Some(events as f64 / batches.max(1) as f64);
    let caught_up = projections.catch_up().await?;
    follower.abort();
    drop(commands);
    let head = ledger.head().await?.position;
    ledger.shutdown().await;
    if caught_up < head {
        return Err(format!("projections reached {caught_up}, ledger head is {head}").into());
    }
    Ok(result)
}

/// Baseline (a): the same commands through postgres-es, no chain, no signature.
async fn postgres_es_run(url: &str, args: &AppendBenchArgs) -> Result<RunResult, BenchError> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(url)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE events (aggregate_type text NOT NULL, aggregate_id text NOT NULL,
             sequence bigint CHECK (sequence >= 0) NOT NULL, event_type text NOT NULL,
             event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
             PRIMARY KEY (aggregate_type, aggregate_id, sequence));
         CREATE TABLE snapshots (aggregate_type text NOT NULL, aggregate_id text NOT NULL,
             last_sequence bigint NOT NULL, current_snapshot bigint NOT NULL, payload json NOT NULL,
             PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));",
    )
    .execute(&pool)
    .await?;
    let units = directory();
    let services = CaseServices::new(
        units.clone(),
        Arc::new(InMemoryCyberTipIndex::default()),
        Arc::new(InMemoryLedgerIndex::default()),
    )?;
    let store = PersistedEventStore::new_event_store(PostgresEventRepository::new(pool.clone()));
    let cqrs = Arc::new(CqrsFramework::<Case, _>::new(store, vec![], services));
    let mut cases = Vec::with_capacity(args.writers);
    for w in 0..args.writers {
        let form = validated_form(&format!("B-{w}"), &units)?;
        let case_id = CaseId::for_unit_case(&form.reporting_unit, &form.unit_case_number)?;
        let cmd = CaseCommand::FileNotification(FileNotification {
            case_id: case_id.clone(),
            form,
            recorded_at: now(),
        });
        cqrs.execute_with_metadata(case_id.as_str(), cmd, Default::default())
            .await?;
        cases.push(case_id);
    }
    let cases = Arc::new(cases);
    let to = Ori::parse(UNIT)?;
    let result = drive(
        "baseline (a): postgres-es, no chain or signature",
        args.writers,
        args.per_writer,
        move |w, n| {
            let (cqrs, cases, to) = (cqrs.clone(), cases.clone(), to.clone());
            async move {
                let mut meta = std::collections::HashMap::new();
                meta.insert("principal".to_string(), "bench:writer".to_string());
                cqrs.execute_with_metadata(cases[w].as_str(), share(n, &to), meta)
                    .await
                    .map_err(|e| e.to_string())
            }
        },
    )
    .await;
    pool.close().await;
    Ok(result)
}

/// Baseline (b): a chain that locks its head and commits one event per transaction.
async fn naive_chain_run(url: &str, args: &AppendBenchArgs) -> Result<RunResult, BenchError> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(64)
        .connect(url)
        .await?;
    sqlx::raw_sql(
        "CREATE TABLE naive_events (position bigint PRIMARY KEY, prev_hash bytea NOT NULL,
             hash bytea NOT NULL, signature bytea NOT NULL, payload bytea NOT NULL);
         CREATE TABLE naive_head (id int PRIMARY KEY, position bigint NOT NULL, hash bytea NOT NULL);
         INSERT INTO naive_head VALUES (1, 0, decode(repeat('00', 32), 'hex'));",
    )
    .execute(&pool)
    .await?;
    let key = Arc::new(LedgerKey::generate());
    let result = drive("baseline (b): naive chain, head lock, one event per transaction", args.writers, args.per_writer, move |w, n| {
        let (pool, key) = (pool.clone(), key.clone());
        async move {
            let payload = format!("{{\"writer\":{w},\"n\":{n},\"summary\":\"Benchmark update: subscriber records returned from provider\"}}");
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            let (position, prev): (i64, Vec<u8>) = sqlx::query_as("SELECT position, hash FROM naive_head WHERE id = 1 FOR UPDATE")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            let mut h = Sha256::new();
            h.update(&prev);
            h.update(payload.as_bytes());
            let hash: [u8; 32] = h.finalize().into();
            let signature = key.signing_key().sign(&hash).to_bytes();
            sqlx::query("INSERT INTO naive_events VALUES ($1, $2, $3, $4, $5)")
                .bind(position + 1)
                .bind(&prev)
                .bind(hash.as_slice())
                .bind(signature.as_slice())
                .bind(payload.as_bytes())
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query("UPDATE naive_head SET position = $1, hash = $2 WHERE id = 1")
                .bind(position + 1)
                .bind(hash.as_slice())
                .execute(&mut *tx)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())
        }
    })
    .await;
    Ok(result)
}

async fn setting(url: &str, name: &str) -> Result<String, BenchError> {
    let mut conn = PgConnection::connect(url).await?;
    let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
        .fetch_one(&mut conn)
        .await?;
    Ok(value)
}

pub async fn run(
    args: &AppendBenchArgs,
    mut progress: impl FnMut(&RunResult),
) -> Result<AppendReport, BenchError> {
    let mut runs = Vec::new();
    let load_before = crate::bench::measure::load_average();

    let db = BenchDb::create(&args.postgres_url, "ledger").await?;
    let ledger = with_cpu(
        &db.name,
        ledger_run("icac-ledger: full command path, PostgreSQL", &db.url, args),
    )
    .await;
    db.drop_db().await?;
    runs.push(ledger?);
    progress(&runs[runs.len() - 1]);

    let db = BenchDb::create(&args.postgres_url, "pges").await?;
    let baseline_a = with_cpu(&db.name, postgres_es_run(&db.url, args)).await;
    db.drop_db().await?;
    runs.push(baseline_a?);
    progress(&runs[runs.len() - 1]);

    let db = BenchDb::create(&args.postgres_url, "naive").await?;
    let baseline_b = with_cpu(&db.name, naive_chain_run(&db.url, args)).await;
    db.drop_db().await?;
    runs.push(baseline_b?);
    progress(&runs[runs.len() - 1]);

    if args.sqlite {
        let dir = tempfile_dir()?;
        let url = format!("sqlite://{}", dir.join("bench.db").display());
        let r = ledger_run(
            "icac-ledger: full command path, SQLite (embedded default)",
            &url,
            args,
        )
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        runs.push(r?);
        progress(&runs[runs.len() - 1]);
    }

    if args.ledgers > 1 {
        let db = BenchDb::create(&args.postgres_url, "many").await?;
        let r = with_cpu(&db.name, many_ledgers_run(&db.url, args)).await;
        db.drop_db().await?;
        runs.push(r?);
        progress(&runs[runs.len() - 1]);
    }

    let ratio = |i: usize| runs[0].events_per_second / runs[i].events_per_second.max(1e-9);
    Ok(AppendReport {
        writers: args.writers,
        per_writer: args.per_writer,
        postgres_fsync: setting(&args.postgres_url, "fsync").await?,
        postgres_synchronous_commit: setting(&args.postgres_url, "synchronous_commit").await?,
        load_average: (load_before, crate::bench::measure::load_average()),
        ratio_vs_postgres_es: ratio(1),
        ratio_vs_naive_chain: ratio(2),
        runs,
    })
}

/// Several ledgers (task forces) on one database, each with its own writer, chain head
/// lock and projections, appending at the same time; figures are the sum over ledgers.
async fn many_ledgers_run(url: &str, args: &AppendBenchArgs) -> Result<RunResult, BenchError> {
    let name = format!(
        "icac-ledger: {} ledgers at once on one PostgreSQL database",
        args.ledgers
    );
    // Migrate once up front, so the runs do not race to create the schema.
    Storage::connect(url).await?.migrate().await?;
    let started = Instant::now();
    let runs = futures::future::join_all((0..args.ledgers).map(|i| {
        let id = format!("task-force-{}", i + 1);
        let name = name.clone();
        async move { ledger_run_as(&name, url, &id, args).await }
    }))
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut total = RunResult {
        name,
        events: 0,
        seconds,
        events_per_second: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: 0,
        mean_batch: None,
        client_cpu_us_per_event: None,
        server_cpu_us_per_event: None,
    };
    for r in runs {
        let r = r?;
        total.events += r.events;
        total.errors += r.errors;
        total.events_per_second += r.events_per_second;
        // The worst ledger's latencies: a task force sees its own ledger's.
        total.p50_ms = total.p50_ms.max(r.p50_ms);
        total.p99_ms = total.p99_ms.max(r.p99_ms);
    }
    Ok(total)
}

/// Runs `run` while measuring the CPU time this process and `database`'s backends use.
async fn with_cpu(
    database: &str,
    run: impl std::future::Future<Output = Result<RunResult, BenchError>>,
) -> Result<RunResult, BenchError> {
    use crate::bench::measure::{process_cpu_seconds, BackendCpu};
    let sampler = BackendCpu::start(database);
    let before = process_cpu_seconds();
    let result = run.await;
    let after = process_cpu_seconds();
    let (server, sampler_own) = sampler.finish();
    let mut result = result?;
    let per_event = |seconds: f64| seconds * 1e6 / result.events.max(1) as f64;
    result.client_cpu_us_per_event = match (before, after) {
        (Some(b), Some(a)) => Some(per_event(a - b - sampler_own.unwrap_or(0.0))),
        _ => None,
    };
    result.server_cpu_us_per_event = server.map(per_event);
    Ok(result)
}

fn tempfile_dir() -> Result<std::path::PathBuf, BenchError> {
    let dir = std::env::temp_dir().join(format!("icac-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
