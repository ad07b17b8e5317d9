//! Publishing a release of the annual report: fold the ledger at the stated
//! position, suppress the victim figures jointly with every earlier release,
//! refuse when the disclosure audit fails, record the `ReleasePublished`
//! event through the release aggregate (which keeps released quarters
//! frozen), and embed that event's inclusion proof in the report.

use std::sync::Arc;

use crate::audit::proofs::{InclusionProof, INCLUSION_FORMAT, PROOF_VERSION};
use cqrs_es::{Aggregate, CqrsFramework};
use icac_aggregates::release::{
    Period, PublishRelease, PublishedVictims, QuarterFigures, Release, ReleaseCommand,
    ReleaseEvent, ReleaseRecord, Revision, TableDigest, STREAM,
};
use icac_format::canonical;
use icac_format::chain::Hash32;
use icac_format::checkpoint::{self, Checkpoint};
use icac_format::keys::LedgerKey;
use icac_format::merkle::{self, MerkleAccumulator};
use icac_format::record::{LedgerId, StreamId};
use icac_projections::report::linked::PublicTable;
use icac_projections::report::{
    self, figures, AnnualReport, Parameters, ReleaseStamp, VictimTable,
};
use sha2::{Digest, Sha256};

use super::{Actor, CommandError};
use crate::event_store::{LedgerEventStore, StaleLoads};
use crate::ledger::{sealed_from_row, Ledger};
use crate::read_side::annual::{self, AnnualError};
use crate::read_side::releases::{
    fold_with_truths, linked, public_tables, releases, truths_only, wanted, Wanted,
};
use crate::storage::Storage;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Period(#[from] icac_aggregates::release::PeriodError),
    #[error(transparent)]
    Annual(#[from] AnnualError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error("{quarter} changed since release {release} (position {position}): its counts differ at position {now}. A released quarter is frozen; publish at position {position}, or declare a revision")]
    QuarterChanged {
        quarter: icac_aggregates::release::Quarter,
        release: u32,
        position: u64,
        now: u64,
    },
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error("proof of the release event: {0}")]
    Proof(String),
    #[error("the release stream: {0}")]
    Stream(String),
}

impl ReleaseError {
    /// Whether the input (period, position, figures) was refused, as opposed
    /// to the ledger or the machine failing.
    pub fn is_refusal(&self) -> bool {
        use report::ReportError as R;
        match self {
            ReleaseError::Period(_) | ReleaseError::QuarterChanged { .. } => true,
            ReleaseError::Report(r) | ReleaseError::Annual(AnnualError::Report(r)) => {
                matches!(
                    r,
                    R::Suppression(_) | R::Period(_) | R::PeriodOrder { .. } | R::PeriodTooLong
                )
            }
            ReleaseError::Annual(AnnualError::BeyondHead { .. } | AnnualError::Empty) => true,
            ReleaseError::Command(CommandError::Rejected(_) | CommandError::Invalid(_)) => true,
            _ => false,
        }
    }
}

/// What the report author asks for.
pub struct ReleaseRequest {
    pub parameters: Parameters,
    /// Default: the ledger head.
    pub position: Option<u64>,
    pub recommendation: Option<String>,
    /// `Some(reason)`: a declared revision of released quarters.
    pub revision: Option<String>,
}

fn framework(ledger: &Ledger) -> CqrsFramework<Release, LedgerEventStore<Release>> {
    let store = super::store::<Release>(ledger, &Arc::new(StaleLoads::default()));
    CqrsFramework::new(store, vec![], ())
}

/// A quarter whose true counts moved since it was released, unless revised.
fn check_frozen(
    period: &Period,
    public: &[PublicTable],
    now: &[(icac_aggregates::release::Quarter, Vec<u64>)],
    earlier: &[ReleaseRecord],
    position: u64,
) -> Result<(), ReleaseError> {
    for (quarter, counts) in now {
        if !period.contains(*quarter) {
            continue;
        }
        // The latest release of the quarter is what is public for it now.
        let latest = public.iter().rev().find_map(|t| {
            t.truth
                .iter()
                .find(|(q, _)| q == quarter)
                .map(|(_, c)| (t.number, c))
        });
        if let Some((release, was)) = latest {
            if was != counts {
                let at = earlier
                    .iter()
                    .find(|r| r.number == release)
                    .map_or(0, |r| r.position);
                return Err(ReleaseError::QuarterChanged {
                    quarter: *quarter,
                    release,
                    position: at,
                    now: position,
                });
            }
        }
    }
    Ok(())
}

fn digest<T: serde::Serialize>(table: &str, value: &T) -> Result<TableDigest, ReleaseError> {
    let json = serde_json::to_value(value).map_err(|e| ReleaseError::Proof(e.to_string()))?;
    let bytes =
        canonical::to_canonical_bytes(&json).map_err(|e| ReleaseError::Proof(e.to_string()))?;
    Ok(TableDigest {
        table: table.to_owned(),
        sha256: hex::encode(Sha256::digest(&bytes)),
    })
}

/// The digest of each published table, in a fixed order.
pub fn table_digests(r: &AnnualReport) -> Result<Vec<TableDigest>, ReleaseError> {
    let f = &r.figures;
    Ok(vec![
        digest("notifications", &f.notifications)?,
        digest("timeliness", &f.timeliness)?,
        digest("investigations", &f.investigations)?,
        digest("operations", &f.operations)?,
        digest("arrests", &f.arrests)?,
        digest("referrals", &f.referrals)?,
        digest("outcomes_without_arrest", &f.outcomes_without_arrest)?,
        digest("information_shares", &f.information_shares)?,
        digest("victims_identified", &f.victims_identified)?,
        digest("public_reports", &f.public_reports)?,
        digest("units", &f.units)?,
    ])
}

/// The victim table and monthly notification counts as the release event holds them.
pub fn published_victims(r: &AnnualReport, period: &Period) -> PublishedVictims {
    let v: &VictimTable = &r.figures.victims_identified;
    let month_count = |m: &str| {
        r.figures
            .notifications
            .by_month
            .iter()
            .find(|row| row.key == m)
            .map_or(0, |row| row.count)
    };
    let shown = |c: &report::Cell| match c {
        report::Cell::Count(n) => Some(*n),
        report::Cell::Suppressed => None,
    };
    PublishedVictims {
        bands: v.rows.clone(),
        quarters: period
            .quarters()
            .iter()
            .enumerate()
            .map(|(qi, q)| QuarterFigures {
                quarter: *q,
                victims: v
                    .cells
                    .iter()
                    .map(|row| row.get(qi).and_then(shown))
                    .collect(),
                victims_total: v.column_totals.get(qi).and_then(shown),
                notifications_by_month: q.months().iter().map(|m| month_count(m)).collect(),
            })
            .collect(),
        band_totals: v.row_totals.iter().map(shown).collect(),
        total: shown(&v.total),
    }
}

/// Publishes a release; nothing is written unless every check passes.
pub async fn publish(
    ledger: &Ledger,
    key: &LedgerKey,
    request: ReleaseRequest,
    actor: &Actor,
    recorded_at: jiff::Timestamp,
) -> Result<AnnualReport, ReleaseError> {
    let p = &request.parameters;
    let period = Period::from_days(p.from, p.to)?;
    let storage = ledger.storage();
    let position = match request.position {
        Some(n) => n,
        None => {
            storage
                .head(ledger.id())
                .await
                .map_err(|e| AnnualError::Projection(e.into()))?
                .position
        }
    };
    let earlier: Vec<ReleaseRecord> = releases(storage, ledger.id())
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    let chosen = linked(&period, &earlier);
    let (at, truths) = fold_with_truths(storage, ledger.id(), position, wanted(&chosen, p)).await?;
    let public = public_tables(&chosen, truths)?;
    let now = figures::victim_truth(&at.models, p);
    if request.revision.is_none() {
        check_frozen(&period, &public, &now, &earlier, position)?;
    }
    let attestation = annual::attest(ledger.id(), key, position, &at)?;
    let mut report = report::build_linked(
        &at.models,
        p.clone(),
        attestation,
        request.recommendation,
        &public,
    )?;
    let command = PublishRelease {
        period,
        position,
        suppression_threshold: p.suppression_threshold,
        protection_width: p.protection_width,
        tables: table_digests(&report)?,
        victims: published_victims(&report, &period),
        revision: request.revision.map(|reason| Revision { reason }),
        recorded_at,
    };
    framework(ledger)
        .execute_with_metadata(STREAM, ReleaseCommand::Publish(command), actor.metadata())
        .await
        .map_err(CommandError::from)?;
    report.release = Some(stamp(ledger, key, &period, at.tree).await?);
    Ok(report)
}

/// The stamp of the release just recorded: its event's position and an
/// inclusion proof in the tree that ends with it. The event is the last leaf of
/// that tree, so its path is the frontier of the tree before it (smallest
/// subtree first): the fold's frontier at the report's position, grown by the
/// few events recorded since, with no second read of the ledger.
async fn stamp(
    ledger: &Ledger,
    key: &LedgerKey,
    period: &Period,
    mut tree: MerkleAccumulator,
) -> Result<ReleaseStamp, ReleaseError> {
    let proof_error = |e: &dyn std::fmt::Display| ReleaseError::Proof(e.to_string());
    let stream = StreamId::new(<Release as Aggregate>::TYPE, STREAM);
    let row = ledger
        .storage()
        .read_stream(ledger.id(), &stream)
        .await
        .map_err(|e| ReleaseError::Stream(e.to_string()))?
        .pop()
        .ok_or_else(|| ReleaseError::Proof("the release event is not in the ledger".into()))?;
    let event = sealed_from_row(row).map_err(|e| proof_error(&e))?;
    let position = event.record.position;
    // Events recorded between the report's position and the release event.
    while tree.size() + 1 < position {
        let from = tree.size() + 1;
        let limit = u32::try_from((position - from).min(10_000)).unwrap_or(10_000);
        let rows = ledger
            .storage()
            .read_page(ledger.id(), from, limit)
            .await
            .map_err(|e| ReleaseError::Stream(e.to_string()))?;
        if rows.is_empty() {
            return Err(ReleaseError::Proof(format!(
                "no events after position {}",
                tree.size()
            )));
        }
        for row in rows.into_iter().filter(|r| r.position < position) {
            if row.position != tree.size() + 1 {
                return Err(ReleaseError::Proof(format!(
                    "position {} out of order",
                    row.position
                )));
            }
            let sealed = sealed_from_row(row).map_err(|e| proof_error(&e))?;
            tree.push(&sealed.hash).map_err(|e| proof_error(&e))?;
        }
    }
    let path: Vec<Hash32> = tree.frontier().iter().rev().copied().collect();
    tree.push(&event.hash).map_err(|e| proof_error(&e))?;
    let root = tree.root();
    merkle::verify_inclusion(&event.hash, position - 1, position, &path, &root)
        .map_err(|e| proof_error(&e))?;
    let cp = Checkpoint::new(
        ledger.id().as_str(),
        position,
        root,
        event.hash,
        &event.record.metadata.recorded_at,
    )
    .map_err(|e| proof_error(&e))?;
    let note = checkpoint::sign(&cp, key.signing_key()).map_err(|e| proof_error(&e))?;
    let record: ReleaseEvent = serde_json::from_value(event.record.payload.clone())
        .map_err(|e| ReleaseError::Stream(format!("release event: {e}")))?;
    let ReleaseEvent::ReleasePublished {
        number, revises, ..
    } = record;
    let proof = InclusionProof {
        format: INCLUSION_FORMAT.into(),
        format_version: PROOF_VERSION,
        ledger_id: ledger.id().clone(),
        position,
        tree_size: position,
        event: event.to_json(),
        proof: path,
        checkpoint: note,
    };
    Ok(ReleaseStamp {
        number,
        period: period.to_string(),
        event_position: position,
        revises,
        inclusion_proof: serde_json::to_value(&proof).map_err(|e| proof_error(&e))?,
    })
}

/// What `report audit` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditReport {
    /// Hidden figures in the whole system (the release and those it was audited against).
    pub hidden: usize,
    pub findings: Vec<icac_projections::report::audit::Finding>,
}

/// Plays the attacker against `release` and the `against` releases: every
/// hidden figure of the linked system, under every reader model. The true
/// counts (for the reader who knows which figures are small) come from the
/// ledger at each report's position.
pub async fn audit(
    storage: &Storage,
    ledger_id: &LedgerId,
    release: &AnnualReport,
    against: &[AnnualReport],
) -> Result<AuditReport, ReleaseError> {
    use icac_projections::report::audit as attacker;
    use icac_projections::report::linked::{Origin, System, TableInput};
    let mut all: Vec<&AnnualReport> = against.iter().collect();
    all.sort_by_key(|r| r.release.as_ref().map_or(u32::MAX, |s| s.number));
    all.push(release);
    let bands = release.figures.victims_identified.rows.clone();
    let mut system = System::new(bands);
    // One pass to the latest report's position, stopping at each of the others.
    let wanted: Vec<Wanted> = all
        .iter()
        .enumerate()
        .map(|(i, r)| Wanted {
            key: u32::try_from(i).unwrap_or(u32::MAX),
            position: r.attestation.position,
            parameters: r.parameters.clone(),
        })
        .collect();
    let mut truths = truths_only(storage, ledger_id, wanted).await?;
    for (i, r) in all.iter().enumerate() {
        let p = &r.parameters;
        let period = Period::from_days(p.from, p.to)?;
        let key = u32::try_from(i).unwrap_or(u32::MAX);
        let truth = truths
            .remove(&key)
            .ok_or_else(|| ReleaseError::Stream("a report position was not folded".into()))?;
        let published = published_victims(r, &period);
        let number = r
            .release
            .as_ref()
            .map_or(u32::try_from(i).unwrap_or(0), |s| s.number);
        system
            .add_table(&TableInput {
                origin: Origin::Public(number),
                period_label: period.to_string(),
                truth: &truth,
                published: Some(&published),
            })
            .map_err(|e| {
                report::ReportError::from(
                    icac_projections::report::suppression::SuppressionError::from(e),
                )
            })?;
    }
    let p = &release.parameters;
    let protection = icac_projections::report::suppression::protection(
        p.suppression_threshold,
        p.protection_width,
    )
    .map_err(report::ReportError::from)?;
    let findings =
        attacker::audit(&system, &protection, attacker::every_item(&system)).map_err(|e| {
            report::ReportError::from(
                icac_projections::report::suppression::SuppressionError::from(e),
            )
        })?;
    Ok(AuditReport {
        hidden: system.items.iter().filter(|i| i.shown.is_none()).count(),
        findings,
    })
}
