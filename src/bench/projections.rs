//! Rebuild and annual-report benchmarks over a domain ledger built by
//! [`super::generate`], each next to its baseline measured in the same run: the raw
//! read of the whole ledger through the same storage read path, with no decoding or
//! folding (the ceiling a rebuild or report can reach).

use std::collections::BTreeSet;
use std::time::Instant;

use icac_aggregates::compliance::DeadlinePolicy;
use icac_projections::report::render::{self, Format};
use icac_projections::report::suppression::DEFAULT_THRESHOLD;
use icac_projections::report::Parameters;
use icac_projections::ViewKey;
use jiff::civil::Date;
use serde::Serialize;

use super::generate::{self, GenerateError, GenerateOptions, GenerateSummary};
use crate::ledger::{Ledger, LedgerError};
use crate::read_side::annual::{self, AnnualError};
use crate::read_side::rebuild::rebuild;
use crate::read_side::{store, ProjectionError};
use crate::storage::{scan, CanonicalRow, Storage};
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Generate(#[from] GenerateError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Annual(#[from] AnnualError),
    #[error("render: {0}")]
    Render(String),
    #[error("the ledger holds {have} events, fewer than the {want} asked for, and is not fresh: use a new database")]
    TooSmall { have: u64, want: u64 },
}

/// Grows a fresh ledger to `events` events with the generator (no-op when it is
/// already that big). Returns the generator's summary if it ran.
pub async fn ensure_ledger(
    storage: &Storage,
    id: &LedgerId,
    key: LedgerKey,
    events: u64,
    seed: u64,
    progress: impl FnMut(u64),
) -> Result<Option<GenerateSummary>, BenchError> {
    Ledger::initialise(storage, id, &key).await?;
    let head = storage.head(id).await.map_err(LedgerError::from)?.position;
    if head >= events {
        return Ok(None);
    }
    let ledger = Ledger::open(storage.clone(), id.clone(), key).await?;
    let result = generate::generate(
        &ledger,
        GenerateOptions::for_events(events - head, seed),
        progress,
    )
    .await;
    ledger.shutdown().await;
    match result {
        Ok(summary) => Ok(Some(summary)),
        Err(GenerateError::NotFresh(_)) => Err(BenchError::TooSmall {
            have: head,
            want: events,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Reading the whole ledger without decoding it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RawRead {
    pub events: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub cpu_seconds: Option<f64>,
    pub events_per_second: f64,
}

/// The baseline: every row through the same reader the replay uses (`storage::scan`),
/// with no decoding or folding.
pub async fn raw_read(storage: &Storage, id: &LedgerId) -> Result<RawRead, BenchError> {
    let started = Instant::now();
    let cpu = cpu_seconds();
    let (mut events, mut bytes) = (0u64, 0u64);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<CanonicalRow>>(2);
    let reader = {
        let storage = storage.clone();
        let id = id.clone();
        tokio::spawn(async move { scan::scan(&storage, &id, 1, None, 4096, tx).await })
    };
    while let Some(rows) = rx.recv().await {
        events += rows.len() as u64;
        bytes += rows.iter().map(|r| r.canonical.len() as u64).sum::<u64>();
    }
    reader
        .await
        .map_err(|e| ProjectionError::Worker(e.to_string()))?
        .map_err(ProjectionError::from)?;
    let seconds = started.elapsed().as_secs_f64();
    Ok(RawRead {
        events,
        bytes,
        seconds,
        cpu_seconds: cpu_since(cpu),
        events_per_second: events as f64 / seconds.max(1e-9),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct RebuildFigures {
    pub database: &'static str,
    pub events: u64,
    pub views: usize,
    pub replay_seconds: f64,
    pub write_seconds: f64,
    pub seconds: f64,
    pub cpu_seconds: Option<f64>,
    pub events_per_second: f64,
    pub raw: RawRead,
    /// Rebuild events/s over raw-read events/s.
    pub ratio: f64,
    pub peak_rss_mib: Option<f64>,
    /// What `store::persist` costs the live runner per committed batch.
    pub persist: Vec<PersistCost>,
}

/// `store::persist` timed for batches that changed `views` views.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PersistCost {
    pub views: usize,
    pub batches: usize,
    pub mean_ms: f64,
    pub max_ms: f64,
}

/// Batch sizes the live runner sees: one command, a busy group commit, a full page.
const PERSIST_BATCHES: [usize; 3] = [1, 64, 2_000];
const PERSIST_REPEATS: usize = 20;

/// Times `persist` as the runner calls it after a batch, over the models folded up
/// to `position`. Leaves the view tables at that position (a rebuild follows).
async fn persist_costs(
    storage: &Storage,
    id: &LedgerId,
    position: u64,
) -> Result<Vec<PersistCost>, BenchError> {
    let models = crate::read_side::models_at(storage, id, position).await?;
    let keys: Vec<ViewKey> = models.cases.keys().cloned().map(ViewKey::Case).collect();
    let mut out = Vec::new();
    for views in PERSIST_BATCHES {
        let mut times = Vec::with_capacity(PERSIST_REPEATS);
        for i in 0..PERSIST_REPEATS {
            let changed: BTreeSet<ViewKey> = keys
                .iter()
                .cycle()
                .skip(i * views % keys.len().max(1))
                .take(views.min(keys.len()))
                .cloned()
                .collect();
            let started = Instant::now();
            store::persist(storage, id, &models, &changed).await?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        out.push(PersistCost {
            views,
            batches: times.len(),
            mean_ms: times.iter().sum::<f64>() / times.len().max(1) as f64,
            max_ms: times.iter().copied().fold(0.0, f64::max),
        });
    }
    Ok(out)
}

/// Rebuilds every view (replay and write, as `projections rebuild` does), after the
/// raw read of the same ledger.
pub async fn rebuild_bench(storage: &Storage, id: &LedgerId) -> Result<RebuildFigures, BenchError> {
    let raw = raw_read(storage, id).await?;
    let persist = persist_costs(storage, id, raw.events.min(PERSIST_FOLD)).await?;
    reset_peak_rss();
    let started = Instant::now();
    let cpu = cpu_seconds();
    let summary = rebuild(storage, id, |_| {}).await?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu_since(cpu);
    let events_per_second = summary.position as f64 / seconds.max(1e-9);
    Ok(RebuildFigures {
        database: storage.dialect(),
        events: summary.position,
        views: summary.views,
        replay_seconds: summary.replay_micros as f64 / 1e6,
        write_seconds: summary.write_micros as f64 / 1e6,
        seconds,
        cpu_seconds,
        events_per_second,
        ratio: events_per_second / raw.events_per_second.max(1e-9),
        raw,
        peak_rss_mib: peak_rss_mib(),
        persist,
    })
}

/// Events folded for the persist measurement (enough for thousands of cases).
const PERSIST_FOLD: u64 = 100_000;

#[derive(Debug, Clone, Serialize)]
pub struct ReportRun {
    pub format: &'static str,
    pub seconds: f64,
    pub cpu_seconds: Option<f64>,
    pub bytes: usize,
    pub notifications: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportFigures {
    pub database: &'static str,
    pub events: u64,
    pub from: Date,
    pub to: Date,
    pub runs: Vec<ReportRun>,
    pub raw: RawRead,
    /// Slowest report over the raw read of the same ledger (seconds / seconds).
    pub ratio_to_raw: f64,
    pub peak_rss_mib: Option<f64>,
}

/// Builds and renders the annual report in each format, each from scratch as
/// `report annual` does, after the raw read of the same ledger.
pub async fn report_bench(
    storage: &Storage,
    id: &LedgerId,
    key: &LedgerKey,
    from: Date,
    to: Date,
) -> Result<ReportFigures, BenchError> {
    let raw = raw_read(storage, id).await?;
    reset_peak_rss();
    let mut runs = Vec::new();
    let formats = [
        (Format::Md, "md"),
        (Format::Html, "html"),
        (Format::Csv, "csv"),
        (Format::Json, "json"),
    ];
    for (format, name) in formats {
        let started = Instant::now();
        let cpu = cpu_seconds();
        let parameters = Parameters {
            from,
            to,
            suppression_threshold: DEFAULT_THRESHOLD,
            protection_width: DEFAULT_THRESHOLD,
            deadline_policy: DeadlinePolicy::default(),
        };
        let report = annual::build(storage, id, key, parameters, None, None).await?;
        let text =
            render::render(&report, format).map_err(|e| BenchError::Render(e.to_string()))?;
        runs.push(ReportRun {
            format: name,
            seconds: started.elapsed().as_secs_f64(),
            cpu_seconds: cpu_since(cpu),
            bytes: text.len(),
            notifications: report.figures.notifications.total,
        });
        // `annual::build` frees its models on the pool after it returns, as a `report
        // annual` process leaves them to its exit. Wait for that here, so the next run
        // starts on an idle pool and does not pay for this one's freeing.
        rayon::broadcast(|_| ());
    }
    let slowest = runs.iter().map(|r| r.seconds).fold(0.0, f64::max);
    Ok(ReportFigures {
        database: storage.dialect(),
        events: raw.events,
        from,
        to,
        ratio_to_raw: slowest / raw.seconds.max(1e-9),
        runs,
        raw,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// Peak resident memory of this process since the last reset (Linux `VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    crate::bench::measure::peak_rss_mib()
}

/// CPU time this process has used (user + system, all threads), in seconds. On a
/// shared machine the wall clock also counts time waiting for a core; this does not
/// (nor the database server's own time).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th
    // and 13th of them, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn cpu_since(start: Option<f64>) -> Option<f64> {
    Some(cpu_seconds()? - start?)
}

/// Restarts the peak-RSS count (Linux: writing 5 to `clear_refs`), so a phase's peak
/// is not the generator's.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
