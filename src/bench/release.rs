//! `bench release`: publishing releases of the annual report (the fold, the
//! linked suppression, the disclosure audit, the release event and its
//! inclusion proof) next to a draft of the same period in the same run, whose
//! fold is the one the report has always used.

use std::time::Instant;

use icac_aggregates::compliance::DeadlinePolicy;
use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;
use icac_projections::report::{AnnualReport, Parameters};
use jiff::civil::Date;
use serde::Serialize;

use super::projections::BenchError;
use crate::commands::release::{self, ReleaseRequest};
use crate::commands::Actor;
use crate::ledger::Ledger;
use crate::read_side::annual;
use crate::storage::Storage;

#[derive(Debug, Serialize)]
pub struct ReleaseRun {
    pub what: String,
    pub seconds: f64,
    /// CPU time of the whole process (every thread) during the run: the machine
    /// is shared, so wall time alone says little.
    pub cpu_seconds: f64,
    pub hidden: usize,
}

/// CPU seconds this process has used so far, user and system, all threads:
/// fields 14 and 15 of /proc/self/stat, in USER_HZ ticks (100 a second on
/// Linux whatever the kernel's own tick). 0 where /proc is missing.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces: count from after its ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after.split_whitespace().skip(11);
    let tick = |f: Option<&str>| f.and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
    let (user, system) = (tick(fields.next()), tick(fields.next()));
    (user + system) as f64 / 100.0
}

#[derive(Debug, Serialize)]
pub struct ReleaseFigures {
    pub database: &'static str,
    pub events: u64,
    /// The draft of the first period: the baseline.
    pub draft_seconds: f64,
    pub draft_cpu_seconds: f64,
    pub runs: Vec<ReleaseRun>,
    /// The slowest release over the draft.
    pub ratio_to_draft: f64,
}

fn parameters(from: Date, to: Date, threshold: u64) -> Parameters {
    Parameters {
        from,
        to,
        suppression_threshold: threshold,
        protection_width: threshold,
        deadline_policy: DeadlinePolicy::default(),
    }
}

fn hidden(r: &AnnualReport) -> usize {
    serde_json::to_string(&r.figures.victims_identified).map_or(0, |t| {
        t.matches(icac_projections::report::SUPPRESSED_MARK).count()
    })
}

/// Publishes `first`, then `second` (overlapping it, so its suppression is
/// joint with `first`), then audits `second` against `first`.
pub async fn release_bench(
    storage: &Storage,
    id: &LedgerId,
    key: LedgerKey,
    first: (Date, Date),
    second: (Date, Date),
    threshold: u64,
) -> Result<ReleaseFigures, BenchError> {
    let started = Instant::now();
    let cpu = cpu_seconds();
    let draft = annual::build(
        storage,
        id,
        &key,
        parameters(first.0, first.1, threshold),
        None,
        None,
    )
    .await?;
    let draft_seconds = started.elapsed().as_secs_f64();
    let draft_cpu_seconds = cpu_seconds() - cpu;
    rayon::broadcast(|_| ());
    let events = draft.attestation.position;
    let signing = LedgerKey::from_signing_key(key.signing_key().clone());
    let ledger = Ledger::open(storage.clone(), id.clone(), key).await?;
    let mut runs = Vec::new();
    let mut published = Vec::new();
    for (name, (from, to)) in [("release", first), ("overlapping release", second)] {
        let started = Instant::now();
        let cpu = cpu_seconds();
        let request = ReleaseRequest {
            parameters: parameters(from, to, threshold),
            position: Some(events),
            recommendation: None,
            revision: None,
        };
        let actor = Actor::system("bench:release", format!("bench-release-{name}"));
        let outcome =
            release::publish(&ledger, &signing, request, &actor, jiff::Timestamp::now()).await;
        let report = match outcome {
            Ok(r) => r,
            Err(e) => {
                ledger.shutdown().await;
                return Err(BenchError::Render(e.to_string()));
            }
        };
        runs.push(ReleaseRun {
            what: format!("{name} {from} to {to}"),
            seconds: started.elapsed().as_secs_f64(),
            cpu_seconds: cpu_seconds() - cpu,
            hidden: hidden(&report),
        });
        published.push(report);
        rayon::broadcast(|_| ());
    }
    ledger.shutdown().await;
    let started = Instant::now();
    let cpu = cpu_seconds();
    let audit = release::audit(storage, id, &published[1], &published[..1])
        .await
        .map_err(|e| BenchError::Render(e.to_string()))?;
    runs.push(ReleaseRun {
        what: format!(
            "report audit (second against first): {} finding(s)",
            audit.findings.len()
        ),
        seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: cpu_seconds() - cpu,
        hidden: audit.hidden,
    });
    let slowest = runs.iter().map(|r| r.seconds).fold(0.0, f64::max);
    Ok(ReleaseFigures {
        database: storage.dialect(),
        events,
        draft_seconds,
        draft_cpu_seconds,
        ratio_to_draft: slowest / draft_seconds.max(1e-9),
        runs,
    })
}
