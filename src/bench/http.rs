//! HTTP load: notifications filed over loopback through the real server (axum, auth,
//! validation, cqrs-es, ledger, projections), next to two baselines measured in the same
//! run on the same database: `GET /healthz` through the same server and client (the
//! ceiling of the HTTP stack and the load generator on this machine), and the same
//! filings through `Commands` in-process without HTTP (the ceiling of the command path).
//!
//! The server runs in this process on 127.0.0.1:0 with the settings `serve` uses; the
//! client is reqwest with one connection per concurrent worker. Each worker files
//! notifications for distinct cases, back to back, for a fixed time.
//!
//! `mixed_load` drives a running server at a fixed rate with a mix of filings, shares,
//! status changes, reads and public reports, for `scripts/soak.sh`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use icac_aggregates::ids::Ori;
use icac_aggregates::units::{RegisterUnit, UnitCommand, UnitKind};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection};

use super::append::with_database;
use crate::access::auth::Role;
use crate::commands::filing::{file_notification, FilingReceipt};
use crate::commands::Actor;
use crate::http::{serve, AppState, ServerConfig, SharedState};
use crate::ledger::key_file::KeyFile;
use crate::ledger::Ledger;
use crate::storage::Storage;
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;

type BenchError = Box<dyn std::error::Error + Send + Sync>;

const UNIT: &str = "CT0006400";
/// Unmeasured time at the start of each run (connections open, caches warm).
const WARMUP: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct HttpBenchArgs {
    /// Admin URL of a PostgreSQL server; a benchmark database is created on it.
    pub postgres_url: String,
    pub connections: usize,
    pub duration: Duration,
    pub sqlite: bool,
    pub postgres: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub name: String,
    pub requests: usize,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseRuns {
    pub database: String,
    pub healthz: RunResult,
    pub commands: RunResult,
    pub http: RunResult,
    /// HTTP filings over in-process filings: what the HTTP layer keeps of the command path.
    pub ratio_http_vs_commands: f64,
    /// HTTP filings over `GET /healthz`: how far filing is from the HTTP stack's ceiling.
    pub ratio_http_vs_healthz: f64,
    pub events: u64,
}

#[derive(Debug, Serialize)]
pub struct HttpReport {
    pub connections: usize,
    pub seconds: f64,
    pub databases: Vec<DatabaseRuns>,
}

/// A valid notification received two days ago (so it is on time).
fn form_json(case_number: &str) -> Value {
    let today = icac_aggregates::local_time::ct_date(Timestamp::now());
    let day = today
        .checked_sub(jiff::Span::new().days(2))
        .map_or_else(|_| today.to_string(), |d| d.to_string());
    super::append::form_json(case_number, &day)
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

fn summarize(name: &str, seconds: f64, mut latencies: Vec<Duration>, errors: usize) -> RunResult {
    latencies.sort_unstable();
    RunResult {
        name: name.to_owned(),
        requests: latencies.len(),
        seconds,
        requests_per_second: latencies.len() as f64 / seconds.max(1e-9),
        p50_ms: quantile(&latencies, 0.50),
        p99_ms: quantile(&latencies, 0.99),
        errors,
    }
}

/// Runs `workers` closed-loop workers for `WARMUP + duration`; measures the requests
/// that start after the warm-up and finish before the end.
async fn drive_for<F, Fut>(name: &str, workers: usize, duration: Duration, op: F) -> RunResult
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let begin = Instant::now();
    let measure_from = begin + WARMUP;
    let end = measure_from + duration;
    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut n = 0u64;
            loop {
                let t = Instant::now();
                if t >= end {
                    break;
                }
                let result = op(w, n).await;
                n += 1;
                let done = Instant::now();
                if t < measure_from || done > end {
                    continue;
                }
                match result {
                    Ok(()) => latencies.push(done - t),
                    Err(e) => {
                        errors += 1;
                        if errors == 1 {
                            tracing::warn!(worker = w, error = %e, "benchmark request failed");
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        match t.await {
            Ok((l, e)) => {
                latencies.extend(l);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    summarize(name, duration.as_secs_f64(), latencies, errors)
}

/// A server of our own on loopback, over a fresh ledger, with a registered unit.
struct BenchServer {
    state: SharedState,
    base: String,
    token: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl BenchServer {
    async fn start(url: &str) -> Result<Self, BenchError> {
        let storage = Storage::connect(url).await?;
        storage.migrate().await?;
        let id = LedgerId::new("bench-http")?;
        let key = LedgerKey::generate();
        Ledger::initialise(&storage, &id, &key).await?;
        let ledger = Ledger::open(
            storage,
            id,
            LedgerKey::from_signing_key(key.signing_key().clone()),
        )
        .await?;
        let state = AppState::open(ledger, ServerConfig::default()).await?;
        let register = UnitCommand::Register(RegisterUnit {
            ori: Ori::parse(UNIT)?,
            name: "Hartford Police Department".into(),
            kind: UnitKind::MunicipalPolice,
            town: "Hartford".into(),
            recorded_at: Timestamp::now(),
        });
        state
            .commands
            .execute(
                &state.commands.units,
                UNIT,
                register,
                &Actor::system("bench:http", "bench-setup"),
            )
            .await?;
        let token = state
            .tokens
            .issue(Role::Investigator, None, "bench", "bench:http")
            .await?
            .token;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let task = tokio::spawn(async move {
            if let Err(e) = serve(listener, st, async {
                let _ = rx.await;
            })
            .await
            {
                tracing::error!(error = %e, "benchmark server failed");
            }
        });
        Ok(Self {
            state,
            base,
            token,
            stop,
            task,
        })
    }

    async fn shutdown(self) -> Result<u64, BenchError> {
        let _ = self.stop.send(());
        let _ = self.task.await;
        let events = self.state.ledger.head().await?.position;
        let ledger = self.state.ledger.clone();
        drop(self.state);
        ledger.shutdown().await;
        Ok(events)
    }
}

fn client(connections: usize) -> Result<reqwest::Client, BenchError> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(60))
        .build()?)
}

/// The three runs on one database.
async fn database_runs(
    label: &str,
    url: &str,
    args: &HttpBenchArgs,
    progress: &(dyn Fn(&RunResult) + Sync),
) -> Result<DatabaseRuns, BenchError> {
    let server = BenchServer::start(url).await?;
    let http = client(args.connections)?;

    let healthz = {
        let (http, url) = (http.clone(), format!("{}/healthz", server.base));
        drive_for(
            &format!("baseline: GET /healthz, same server and client, {label}"),
            args.connections,
            args.duration,
            move |_, _| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    let r = http.get(url).send().await.map_err(|e| e.to_string())?;
                    let status = r.status();
                    r.bytes().await.map_err(|e| e.to_string())?;
                    status
                        .is_success()
                        .then_some(())
                        .ok_or_else(|| format!("HTTP {status}"))
                }
            },
        )
        .await
    };
    progress(&healthz);

    let commands = {
        let state = server.state.clone();
        drive_for(
            &format!("baseline: same filings through Commands, no HTTP, {label}"),
            args.connections,
            args.duration,
            move |w, n| {
                let state = state.clone();
                async move {
                    let actor = Actor::system("bench:http", format!("c-{w}-{n}"));
                    let form = form_json(&format!("C-{w}-{n}"));
                    match file_notification(&state.commands, &form, &actor, Timestamp::now()).await
                    {
                        Ok(FilingReceipt::Filed { .. }) => Ok(()),
                        Err(e) => Err(e.to_string()),
                    }
                }
            },
        )
        .await
    };
    progress(&commands);

    let filings = {
        let (http, url, token) = (
            http.clone(),
            format!("{}/v1/notifications", server.base),
            server.token.clone(),
        );
        drive_for(
            &format!("icac-ledger: POST /v1/notifications over HTTP, {label}"),
            args.connections,
            args.duration,
            move |w, n| {
                let (http, url, token) = (http.clone(), url.clone(), token.clone());
                async move {
                    let r = http
                        .post(url)
                        .bearer_auth(token)
                        .json(&form_json(&format!("H-{w}-{n}")))
                        .send()
                        .await
                        .map_err(|e| e.to_string())?;
                    let status = r.status();
                    let body = r.bytes().await.map_err(|e| e.to_string())?;
                    if status.as_u16() == 201 {
                        Ok(())
                    } else {
                        Err(format!(
                            "HTTP {status}: {}",
                            String::from_utf8_lossy(&body[..body.len().min(200)])
                        ))
                    }
                }
            },
        )
        .await
    };
    progress(&filings);

    let events = server.shutdown().await?;
    let ratio = |a: &RunResult, b: &RunResult| {
        if b.requests_per_second > 0.0 {
            a.requests_per_second / b.requests_per_second
        } else {
            0.0
        }
    };
    Ok(DatabaseRuns {
        database: label.to_owned(),
        ratio_http_vs_commands: ratio(&filings, &commands),
        ratio_http_vs_healthz: ratio(&filings, &healthz),
        healthz,
        commands,
        http: filings,
        events,
    })
}

/// Runs the benchmark on each database asked for; temporary databases are removed.
pub async fn run(
    args: &HttpBenchArgs,
    progress: impl Fn(&RunResult) + Sync,
) -> Result<HttpReport, BenchError> {
    let mut databases = Vec::new();
    if args.sqlite {
        let dir = tempfile_dir()?;
        let url = format!("sqlite://{}", dir.join("bench-http.db").display());
        let result = database_runs("SQLite", &url, args, &progress).await;
        let _ = std::fs::remove_dir_all(&dir);
        databases.push(result?);
    }
    if args.postgres {
        let name = format!("icac_bench_http_{}", std::process::id());
        let mut admin = PgConnection::connect(&args.postgres_url).await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await?;
        let url = with_database(&args.postgres_url, &name);
        let result = database_runs("PostgreSQL", &url, args, &progress).await;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await?;
        databases.push(result?);
    }
    Ok(HttpReport {
        connections: args.connections,
        seconds: args.duration.as_secs_f64(),
        databases,
    })
}

/// A private directory for the SQLite benchmark file.
fn tempfile_dir() -> Result<std::path::PathBuf, BenchError> {
    let dir = std::env::temp_dir().join(format!("icac-bench-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

// ------------------------------------------------------------------ mixed load (soak)

#[derive(Debug, Clone)]
pub struct MixedLoadArgs {
    /// Base URL of a running server, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// An investigator token (files, shares, changes status, reads, takes intake).
    pub token: String,
    pub connections: usize,
    /// Requests per second across all connections.
    pub rate: f64,
    pub duration: Duration,
    /// A progress line every this often.
    pub report_every: Duration,
}

/// What one request of the mix does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    File,
    Share,
    Status,
    ReadCase,
    ListCases,
    History,
    Intake,
    PublicReport,
}

/// The mix, in twentieths: writes 45 %, reads 45 %, public reports 10 %.
const MIX: [Op; 20] = [
    Op::File,
    Op::ReadCase,
    Op::Share,
    Op::ListCases,
    Op::File,
    Op::Status,
    Op::ReadCase,
    Op::PublicReport,
    Op::Share,
    Op::History,
    Op::File,
    Op::ReadCase,
    Op::Share,
    Op::Intake,
    Op::Status,
    Op::ListCases,
    Op::File,
    Op::PublicReport,
    Op::Share,
    Op::ReadCase,
];

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug, Serialize)]
pub struct MixedLoadReport {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// One worker's cases: (case id, status changes made so far). Bounded; older cases
/// stay in the ledger but leave the worker's rotation.
struct Cases {
    list: std::collections::VecDeque<(String, u8)>,
}

const CASES_PER_WORKER: usize = 256;

impl Cases {
    fn pick(&self, n: u64) -> Option<&String> {
        if self.list.is_empty() {
            return None;
        }
        Some(&self.list[(n as usize) % self.list.len()].0)
    }
}

async fn one(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    worker: usize,
    n: u64,
    cases: &mut Cases,
) -> Result<(), String> {
    let op = MIX[(n as usize) % MIX.len()];
    let op = match (op, cases.list.is_empty()) {
        (Op::Share | Op::Status | Op::ReadCase | Op::History, true) => Op::File,
        (op, _) => op,
    };
    let check = |status: reqwest::StatusCode| {
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{op:?}: HTTP {status}"))
        }
    };
    let send = |rb: reqwest::RequestBuilder| async move {
        let r = rb.send().await.map_err(|e| format!("{op:?}: {e}"))?;
        let status = r.status();
        r.bytes().await.map_err(|e| format!("{op:?}: {e}"))?;
        Ok::<_, String>(status)
    };
    match op {
        Op::File => {
            let number = format!("S{worker}-{n}-{}", Timestamp::now().as_millisecond());
            let status = send(
                http.post(format!("{base}/v1/notifications"))
                    .bearer_auth(token)
                    .json(&form_json(&number)),
            )
            .await?;
            check(status)?;
            if cases.list.len() >= CASES_PER_WORKER {
                cases.list.pop_front();
            }
            cases.list.push_back((format!("{UNIT}:{number}"), 0));
            Ok(())
        }
        Op::Share => {
            let case = cases.pick(n).cloned().unwrap_or_default();
            let body = json!({
                "direction": { "direction": "task_force_to_units", "to_units": [UNIT] },
                "category": "case_update",
                "summary": format!("Soak update {n}: subscriber records returned."),
            });
            check(
                send(
                    http.post(format!("{base}/v1/cases/{case}/shares"))
                        .bearer_auth(token)
                        .json(&body),
                )
                .await?,
            )
        }
        Op::Status => {
            // Each case goes received -> triaged -> investigating, once.
            let Some(slot) = cases.list.iter_mut().find(|(_, s)| *s < 2) else {
                return check(
                    send(
                        http.get(format!("{base}/v1/cases?limit=20"))
                            .bearer_auth(token),
                    )
                    .await?,
                );
            };
            let to = if slot.1 == 0 {
                "triaged"
            } else {
                "investigating"
            };
            slot.1 += 1;
            let case = slot.0.clone();
            check(
                send(
                    http.post(format!("{base}/v1/cases/{case}/status"))
                        .bearer_auth(token)
                        .json(&json!({ "to": to })),
                )
                .await?,
            )
        }
        Op::ReadCase => {
            let case = cases.pick(n).cloned().unwrap_or_default();
            check(
                send(
                    http.get(format!("{base}/v1/cases/{case}"))
                        .bearer_auth(token),
                )
                .await?,
            )
        }
        Op::History => {
            let case = cases.pick(n).cloned().unwrap_or_default();
            check(
                send(
                    http.get(format!("{base}/v1/cases/{case}/history"))
                        .bearer_auth(token),
                )
                .await?,
            )
        }
        Op::ListCases => check(
            send(
                http.get(format!("{base}/v1/cases?limit=20"))
                    .bearer_auth(token),
            )
            .await?,
        ),
        Op::Intake => check(
            send(
                http.get(format!("{base}/v1/public-reports"))
                    .bearer_auth(token),
            )
            .await?,
        ),
        Op::PublicReport => check(
            send(
                http.post(format!("{base}/report"))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("category=online_enticement&good_faith=yes&description=Soak+test+report"),
            )
            .await?,
        ),
    }
}

/// Drives the mix at `rate` requests/s for `duration`, printing a line every
/// `report_every`; errors are counted, never fatal.
pub async fn mixed_load(
    args: &MixedLoadArgs,
    progress: impl Fn(&str),
) -> Result<MixedLoadReport, BenchError> {
    let connections = args.connections.max(1);
    let http = client(connections)?;
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let period = Duration::from_secs_f64(connections as f64 / args.rate.max(0.1));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for w in 0..connections {
        let (http, counters, stop, latencies) = (
            http.clone(),
            counters.clone(),
            stop.clone(),
            latencies.clone(),
        );
        let (base, token) = (
            args.url.trim_end_matches('/').to_owned(),
            args.token.clone(),
        );
        // Workers start spread over one period so the rate is even, not bursty.
        let offset = period.mul_f64(w as f64 / connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut cases = Cases {
                list: std::collections::VecDeque::new(),
            };
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut local = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                ticker.tick().await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let t = Instant::now();
                let result = one(&http, &base, &token, w, n, &mut cases).await;
                n += 1;
                counters.requests.fetch_add(1, Ordering::Relaxed);
                match result {
                    Ok(()) => local.push(t.elapsed()),
                    Err(e) => {
                        let errors = counters.errors.fetch_add(1, Ordering::Relaxed);
                        if errors < 10 {
                            tracing::warn!(worker = w, error = %e, "soak request failed");
                        }
                    }
                }
                if local.len() >= 1024 {
                    if let Ok(mut all) = latencies.lock() {
                        all.append(&mut local);
                    }
                }
            }
            if let Ok(mut all) = latencies.lock() {
                all.append(&mut local);
            }
        }));
    }
    let end = started + args.duration;
    let mut last = (Instant::now(), 0u64);
    while Instant::now() < end {
        let wait = args
            .report_every
            .min(end.saturating_duration_since(Instant::now()));
        tokio::time::sleep(wait).await;
        let requests = counters.requests.load(Ordering::Relaxed);
        let now = Instant::now();
        let rate = (requests - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-9);
        last = (now, requests);
        progress(&format!(
            "t={:.0}s requests={requests} errors={} rate={rate:.0}/s",
            started.elapsed().as_secs_f64(),
            counters.errors.load(Ordering::Relaxed),
        ));
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut all = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    all.sort_unstable();
    let requests = counters.requests.load(Ordering::Relaxed);
    Ok(MixedLoadReport {
        requests,
        errors: counters.errors.load(Ordering::Relaxed),
        seconds,
        requests_per_second: requests as f64 / seconds.max(1e-9),
        p50_ms: quantile(&all, 0.50),
        p99_ms: quantile(&all, 0.99),
    })
}
