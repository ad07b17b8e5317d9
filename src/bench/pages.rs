//! `bench pages`: the staff pages under load. A fresh SQLite ledger gets the demo year
//! (`--cases`, default 2,000) through the real command path; the server runs in this
//! process on loopback; `--users` signed-in supervisors (one session and connection
//! each) open the dashboard, the case list, a case page and the intake queue in turn,
//! back to back, for a fixed time. The answer is each page's p50 and p99 latency.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::access::auth::Role;
use crate::commands::demo;
use crate::http::{serve, AppState, ServerConfig};
use crate::ledger::key_file::KeyFile;
use crate::ledger::Ledger;
use crate::storage::Storage;
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;

type BenchError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
pub struct PagesBenchArgs {
    pub users: usize,
    pub duration: Duration,
    pub cases: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageResult {
    pub page: String,
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: usize,
}

#[derive(Debug, Serialize)]
pub struct PagesReport {
    pub users: usize,
    pub cases: usize,
    pub seconds: f64,
    pub events: u64,
    pub pages: Vec<PageResult>,
    pub all: PageResult,
}

const PAGES: [&str; 4] = ["dashboard", "case list", "case page", "intake"];

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => {
            let i = ((n as f64 - 1.0) * q).round() as usize;
            sorted[i.min(n - 1)].as_secs_f64() * 1000.0
        }
    }
}

fn result(page: &str, mut latencies: Vec<Duration>, errors: usize) -> PageResult {
    latencies.sort_unstable();
    PageResult {
        page: page.to_owned(),
        requests: latencies.len(),
        p50_ms: quantile(&latencies, 0.5),
        p99_ms: quantile(&latencies, 0.99),
        errors,
    }
}

/// One user's loop: every page in turn until `stop`; latencies per page, errors.
async fn user(
    client: reqwest::Client,
    base: String,
    cookie: String,
    cases: Arc<Vec<String>>,
    offset: usize,
    stop: Arc<AtomicBool>,
) -> (Vec<Vec<Duration>>, Vec<usize>) {
    let mut latencies = vec![Vec::new(); PAGES.len()];
    let mut errors = vec![0; PAGES.len()];
    let mut i = offset;
    while !stop.load(Ordering::Relaxed) {
        let case = &cases[i % cases.len().max(1)];
        let paths = [
            "/staff".to_owned(),
            format!("/staff/cases?offset={}", (i * 100) % 1000),
            format!("/staff/cases/{case}"),
            "/staff/intake".to_owned(),
        ];
        for (n, path) in paths.iter().enumerate() {
            let started = Instant::now();
            let ok = match client
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
            {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            };
            if ok {
                latencies[n].push(started.elapsed());
            } else {
                errors[n] += 1;
            }
        }
        i += 1;
    }
    (latencies, errors)
}

pub async fn run(
    args: &PagesBenchArgs,
    progress: impl Fn(&str),
) -> Result<PagesReport, BenchError> {
    let dir = std::env::temp_dir().join(format!("icac-bench-pages-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let outcome = run_in(&dir, args, progress).await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

async fn run_in(
    dir: &std::path::Path,
    args: &PagesBenchArgs,
    progress: impl Fn(&str),
) -> Result<PagesReport, BenchError> {
    let storage = Storage::connect(&format!(
        "sqlite://{}",
        dir.join("bench-pages.db").display()
    ))
    .await?;
    storage.migrate().await?;
    let id = LedgerId::new("bench-pages")?;
    let key = LedgerKey::generate();
    Ledger::initialise(&storage, &id, &key).await?;
    let ledger = Ledger::open(
        storage,
        id,
        LedgerKey::from_signing_key(key.signing_key().clone()),
    )
    .await?;
    let state = AppState::open(ledger, ServerConfig::default()).await?;
    progress(&format!("loading the demo year ({} cases)", args.cases));
    demo::run(&state.commands, args.cases, args.seed, |_, _| {}).await?;
    state.projections.catch_up().await?;
    let mut principals = Vec::with_capacity(args.users);
    for n in 0..args.users.max(1) {
        let issued = state
            .tokens
            .issue(
                Role::Supervisor,
                None,
                &format!("bench user {n}"),
                "bench:pages",
            )
            .await?;
        let principal = state
            .tokens
            .principal_for_id(&issued.info.token_id)
            .await?
            .ok_or("a token just issued was not found")?;
        principals.push(principal);
    }
    let (_, page) = crate::http::routes::queries::case_summaries(
        &state,
        &principals[0],
        None,
        None,
        crate::http::routes::queries::today(),
        0,
        500,
    )
    .await
    .map_err(|p| p.detail)?;
    let cases: Arc<Vec<String>> = Arc::new(page.into_iter().map(|c| c.case_id).collect());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop_server, rx) = tokio::sync::oneshot::channel::<()>();
    let st = state.clone();
    let server = tokio::spawn(async move {
        let _ = serve(listener, st, async {
            let _ = rx.await;
        })
        .await;
    });
    let mut cookies = Vec::with_capacity(principals.len());
    for principal in &principals {
        let session = state.sessions.start(principal).await?;
        cookies.push(format!("icac_session={}", session.as_cookie()));
    }
    progress(&format!(
        "{} users for {} s",
        args.users,
        args.duration.as_secs()
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (n, cookie) in cookies.into_iter().enumerate() {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(60))
            .build()?;
        tasks.push(tokio::spawn(user(
            client,
            base.clone(),
            cookie,
            cases.clone(),
            n * 7,
            stop.clone(),
        )));
    }
    tokio::time::sleep(args.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut per_page = vec![Vec::new(); PAGES.len()];
    let mut errors = vec![0; PAGES.len()];
    for t in tasks {
        let (l, e) = t.await?;
        for n in 0..PAGES.len() {
            per_page[n].extend_from_slice(&l[n]);
            errors[n] += e[n];
        }
    }
    let all = result("all pages", per_page.concat(), errors.iter().sum());
    let pages = PAGES
        .iter()
        .zip(per_page.into_iter().zip(errors))
        .map(|(name, (l, e))| result(name, l, e))
        .collect();
    let _ = stop_server.send(());
    let _ = server.await;
    let events = state.ledger.head().await?.position;
    let ledger = state.ledger.clone();
    drop(state);
    ledger.shutdown().await;
    Ok(PagesReport {
        users: args.users,
        cases: args.cases,
        seconds: args.duration.as_secs_f64(),
        events,
        pages,
        all,
    })
}
