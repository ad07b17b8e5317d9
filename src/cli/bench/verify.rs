//! `bench verify`: verification throughput on the configured database, next to raw
//! `verify_batch` on this machine, in one run.

use std::process::ExitCode;

use super::BenchVerifyArgs;
use crate::audit::bundle::verify_bundle_file;
use crate::audit::verify::{verify_storage, Report, VerifyOptions};
use crate::bench::measure::{self, BackendCpu};
use crate::bench::ownership;
use crate::cli::{CliError, EXIT_FAILED};
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use crate::ledger::Ledger;
use crate::storage::Storage;
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;

/// One run's figures: the ledger's verification and its raw baseline, side by side.
struct Figures {
    report: Report,
    raw_signatures_per_second: f64,
    raw_us: Option<f64>,
    verify_us: Option<f64>,
    server_us: Option<f64>,
    rss_before: Option<f64>,
    peak: Option<f64>,
    load_before: Option<String>,
    load_after: Option<String>,
    generated_rate: Option<f64>,
    bundle: Option<Report>,
    bundle_peak: Option<f64>,
}

pub async fn run(args: &LedgerArgs, b: &BenchVerifyArgs) -> Result<ExitCode, CliError> {
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    let generated_rate = grow(args, b, &storage, &id).await?;
    let mut figures = measure_verify(args, b, &storage, &id).await?;
    figures.generated_rate = generated_rate;
    if let Some(path) = &b.bundle {
        if !path.exists() {
            let key = LedgerKey::load(&args.key)?;
            crate::audit::bundle::export(&storage, &id, Some(&key), path, None, None).await?;
        }
        let path = path.clone();
        let report = tokio::task::spawn_blocking(move || {
            verify_bundle_file(&path, VerifyOptions::default())
        })
        .await??;
        figures.bundle = Some(report);
        figures.bundle_peak = measure::peak_rss_mib();
    }
    if b.json {
        outln!("{}", json(&figures, &storage));
    } else {
        print_text(&figures, &storage);
    }
    storage.close().await;
    let bundle_ok = figures.bundle.as_ref().is_none_or(|r| r.intact);
    Ok(if figures.report.intact && bundle_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

/// Grows the ledger to `b.events` with synthetic events, only if it is a benchmark's
/// own ledger; the generator's rate, if it ran.
async fn grow(
    args: &LedgerArgs,
    b: &BenchVerifyArgs,
    storage: &Storage,
    id: &LedgerId,
) -> Result<Option<f64>, CliError> {
    let size = ownership::size(storage, id).await?;
    if size >= b.events {
        return Ok(None);
    }
    let key = ownership::writable(storage, id, &args.key).await?;
    let size = storage.head(id).await?.position;
    let ledger = Ledger::open(storage.clone(), id.clone(), key).await?;
    let rate = measure::generate(
        &ledger,
        b.events - size,
        b.tasks,
        b.per_request,
        b.payload_bytes,
    )
    .await?;
    ledger.shutdown().await;
    eprintln!("generated {} events at {rate:.0} events/s", b.events - size);
    Ok(Some(rate))
}

/// Raw `verify_batch` first, then the ledger's verification, with the CPU each took.
async fn measure_verify(
    args: &LedgerArgs,
    b: &BenchVerifyArgs,
    storage: &Storage,
    id: &LedgerId,
) -> Result<Figures, CliError> {
    let load_before = measure::load_average();
    let rss_before = measure::peak_rss_mib();
    let n = b.raw_signatures;
    let raw_batch = tokio::task::spawn_blocking(move || measure::raw_batch_throughput(n)).await?;
    let cpu_1 = measure::process_cpu_seconds();
    // PostgreSQL's share of the CPU, when it runs on this machine.
    let database = (storage.dialect() == "postgres")
        .then(|| {
            let path = args.db.split('?').next().unwrap_or("");
            path.rsplit('/').next().map(str::to_owned)
        })
        .flatten();
    let backends = database.as_deref().map(BackendCpu::start);
    let report = verify_storage(storage, id, VerifyOptions::default()).await?;
    let (server_cpu, sampler_cpu) = backends.map(BackendCpu::finish).unwrap_or_default();
    let cpu_2 = measure::process_cpu_seconds();
    // CPU time per event does not depend on how busy the machine is: the load-free
    // comparison with raw verify_batch.
    let per = |cpu: Option<f64>, n: f64| cpu.map(|c| (c / n.max(1.0) * 1e7).round() / 10.0);
    let events = report.events_verified as f64;
    let own_cpu = cpu_2
        .zip(cpu_1)
        .map(|(b, a)| b - a - sampler_cpu.unwrap_or(0.0));
    Ok(Figures {
        raw_signatures_per_second: raw_batch.signatures_per_second,
        raw_us: per(raw_batch.cpu_seconds, b.raw_signatures as f64),
        verify_us: per(own_cpu, events),
        server_us: per(server_cpu, events),
        peak: measure::peak_rss_mib(),
        rss_before,
        load_before,
        load_after: measure::load_average(),
        report,
        generated_rate: None,
        bundle: None,
        bundle_peak: None,
    })
}

fn ratio(events_per_second: f64, raw: f64) -> f64 {
    if raw > 0.0 {
        events_per_second / raw
    } else {
        0.0
    }
}

fn json(f: &Figures, storage: &Storage) -> serde_json::Value {
    let raw = f.raw_signatures_per_second;
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    serde_json::json!({
        "database": storage.dialect(),
        "events": f.report.events_verified,
        "intact": f.report.intact,
        "verify_events_per_second": f.report.events_per_second.round(),
        "verify_seconds": f.report.elapsed_seconds,
        "raw_verify_batch_signatures_per_second": raw.round(),
        "ratio": round3(ratio(f.report.events_per_second, raw)),
        "peak_rss_mib": f.peak.map(f64::round),
        "peak_rss_mib_before_verify": f.rss_before.map(f64::round),
        "generated_events_per_second": f.generated_rate.map(f64::round),
        "threads": rayon::current_num_threads(),
        "raw_cpu_microseconds_per_signature": f.raw_us,
        "verify_cpu_microseconds_per_event": f.verify_us,
        "server_cpu_microseconds_per_event": f.server_us,
        "load_average_before": f.load_before,
        "load_average_after": f.load_after,
        "bundle_events": f.bundle.as_ref().map(|r| r.events_verified),
        "bundle_intact": f.bundle.as_ref().map(|r| r.intact),
        "bundle_verify_events_per_second": f.bundle.as_ref().map(|r| r.events_per_second.round()),
        "bundle_ratio": f.bundle.as_ref().map(|r| round3(ratio(r.events_per_second, raw))),
        "peak_rss_mib_after_bundle": f.bundle_peak.map(f64::round),
    })
}

fn print_text(f: &Figures, storage: &Storage) {
    let raw = f.raw_signatures_per_second;
    let threads = rayon::current_num_threads();
    outln!(
        "verify benchmark ({}, {threads} threads)",
        storage.dialect()
    );
    outln!("  events                 {}", f.report.events_verified);
    outln!(
        "  verify                 {:.0} events/s ({:.2} s)",
        f.report.events_per_second,
        f.report.elapsed_seconds
    );
    outln!("  raw verify_batch       {raw:.0} signatures/s");
    outln!(
        "  ratio                  {:.3}",
        ratio(f.report.events_per_second, raw)
    );
    let us = |v: Option<f64>| v.map_or_else(|| "-".into(), |v| format!("{v:.1} µs"));
    outln!(
        "  CPU per item           raw {} per signature; verify {} per event (this process) + {} (PostgreSQL backend)",
        us(f.raw_us),
        us(f.verify_us),
        us(f.server_us)
    );
    if let Some(p) = f.peak {
        outln!(
            "  peak RSS               {p:.0} MiB (before verify: {:.0} MiB)",
            f.rss_before.unwrap_or(0.0)
        );
    }
    outln!("  intact                 {}", f.report.intact);
    if let Some(r) = &f.bundle {
        outln!(
            "  bundle verify          {:.0} events/s ({:.2} s, ratio {:.3}, intact {})",
            r.events_per_second,
            r.elapsed_seconds,
            ratio(r.events_per_second, raw),
            r.intact
        );
    }
    outln!(
        "  load average           {} before, {} after",
        f.load_before.as_deref().unwrap_or("-"),
        f.load_after.as_deref().unwrap_or("-")
    );
}
