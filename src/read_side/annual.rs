//! The annual report at an attested ledger position: one pass over the
//! ledger folds the read models and the Merkle tree up to that position, the
//! ledger key signs a checkpoint for exactly that size, and `verify`
//! recomputes everything a report states.

use icac_projections::report::{self, figures, AnnualReport, Attestation, Parameters};
use icac_projections::ReadModels;

use super::replay::{replay_with_stops, Snapshot};
use super::ProjectionError;
use crate::storage::Storage;
use icac_format::chain::Hash32;
use icac_format::checkpoint::{self, Checkpoint, NoteVerifier};
use icac_format::keys::{parse_public_key, LedgerKey};
use icac_format::record::LedgerId;

#[derive(Debug, thiserror::Error)]
pub enum AnnualError {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error("position {asked} is beyond the ledger head {head}")]
    BeyondHead { asked: u64, head: u64 },
    #[error("position must be at least 1")]
    Empty,
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("ledger keyring: {0}")]
    Keyring(String),
    #[error("earlier releases: {0}")]
    Release(String),
    #[error("the report's ledger id {stated} is not {actual}")]
    OtherLedger { stated: String, actual: String },
}

/// The ledger as it stood at one position.
pub struct LedgerAt {
    pub models: ReadModels,
    pub root: Hash32,
    /// The Merkle frontier at the position.
    pub tree: icac_format::merkle::MerkleAccumulator,
    pub head: Hash32,
    pub recorded_at: String,
}

/// Folds models and the Merkle tree over positions `1..=position`.
pub async fn ledger_at(
    storage: &Storage,
    ledger_id: &LedgerId,
    position: u64,
) -> Result<LedgerAt, AnnualError> {
    let (at, _) = ledger_at_watched::<()>(storage, ledger_id, position, None, |_| {}).await?;
    Ok(at)
}

/// [`ledger_at`], in the same one pass also handing the fold to `snapshot` as
/// it stands at each of the earlier `stops` (for the true counts of releases
/// cut at other positions); what it saw comes back by position.
pub async fn ledger_at_with_stops<T: Send + 'static>(
    storage: &Storage,
    ledger_id: &LedgerId,
    position: u64,
    stops: Option<(Vec<u64>, Snapshot<T>)>,
) -> Result<(LedgerAt, Vec<(u64, T)>), AnnualError> {
    ledger_at_watched(storage, ledger_id, position, stops, |_| {}).await
}

/// [`ledger_at_with_stops`], telling `progress` each position folded (it only watches).
async fn ledger_at_watched<T: Send + 'static>(
    storage: &Storage,
    ledger_id: &LedgerId,
    position: u64,
    stops: Option<(Vec<u64>, Snapshot<T>)>,
    progress: impl FnMut(u64),
) -> Result<(LedgerAt, Vec<(u64, T)>), AnnualError> {
    if position == 0 {
        return Err(AnnualError::Empty);
    }
    let head = storage
        .head(ledger_id)
        .await
        .map_err(ProjectionError::from)?;
    if position > head.position {
        return Err(AnnualError::BeyondHead {
            asked: position,
            head: head.position,
        });
    }
    let (replayed, taken) =
        replay_with_stops(storage, ledger_id, Some(position), true, stops, progress).await?;
    let at = LedgerAt {
        models: replayed.models,
        root: replayed
            .root
            .ok_or_else(|| ProjectionError::Worker("the replay folded no Merkle tree".into()))?,
        tree: replayed
            .tree
            .ok_or_else(|| ProjectionError::Worker("the replay folded no Merkle tree".into()))?,
        head: replayed.head,
        recorded_at: replayed.recorded_at,
    };
    Ok((at, taken))
}

/// Builds the report at `position` (the head when `None`), signed by `key`.
/// The checkpoint's time is the recorded time of the event at `position`, so
/// the same ledger and arguments always give the same bytes.
pub async fn build(
    storage: &Storage,
    ledger_id: &LedgerId,
    key: &LedgerKey,
    parameters: Parameters,
    position: Option<u64>,
    recommendation: Option<String>,
) -> Result<AnnualReport, AnnualError> {
    build_with_progress(
        storage,
        ledger_id,
        key,
        parameters,
        position,
        recommendation,
        |_| {},
    )
    .await
}

/// [`build`], telling `progress` each position folded (it only watches: the report is
/// the same without it).
pub async fn build_with_progress(
    storage: &Storage,
    ledger_id: &LedgerId,
    key: &LedgerKey,
    parameters: Parameters,
    position: Option<u64>,
    recommendation: Option<String>,
    progress: impl FnMut(u64),
) -> Result<AnnualReport, AnnualError> {
    let position = match position {
        Some(p) => p,
        None => {
            storage
                .head(ledger_id)
                .await
                .map_err(ProjectionError::from)?
                .position
        }
    };
    let (at, _) = ledger_at_watched::<()>(storage, ledger_id, position, None, progress).await?;
    let attestation = attest(ledger_id, key, position, &at)?;
    let report = report::build(&at.models, parameters, attestation, recommendation);
    drop_behind(at);
    Ok(report?)
}

/// The attestation of the ledger at `position`: a checkpoint for exactly that
/// size, signed by `key`, timed by the event at `position`.
pub fn attest(
    ledger_id: &LedgerId,
    key: &LedgerKey,
    position: u64,
    at: &LedgerAt,
) -> Result<Attestation, AnnualError> {
    let cp = Checkpoint::new(
        ledger_id.as_str(),
        position,
        at.root,
        at.head,
        &at.recorded_at,
    )
    .map_err(|e| AnnualError::Checkpoint(e.to_string()))?;
    let note = checkpoint::sign(&cp, key.signing_key())
        .map_err(|e| AnnualError::Checkpoint(e.to_string()))?;
    Ok(Attestation {
        ledger_id: ledger_id.as_str().to_owned(),
        position,
        head_hash: at.head.to_hex(),
        merkle_root: at.root.to_hex(),
        checkpoint: note,
    })
}

/// Frees the models on the thread pool: about 160k views at 1M events take a fifth of
/// a second to free on one core, and nobody waits for it.
fn drop_behind(at: LedgerAt) {
    rayon::spawn(move || drop(at));
}

/// Every way a report failed its check (empty = it matches the ledger).
pub async fn verify(
    storage: &Storage,
    ledger_id: &LedgerId,
    stated: &AnnualReport,
) -> Result<Vec<String>, AnnualError> {
    verify_with_progress(storage, ledger_id, stated, |_| {}).await
}

/// [`verify`], telling `progress` each position folded (it only watches).
pub async fn verify_with_progress(
    storage: &Storage,
    ledger_id: &LedgerId,
    stated: &AnnualReport,
    progress: impl FnMut(u64),
) -> Result<Vec<String>, AnnualError> {
    let a = &stated.attestation;
    if a.ledger_id != ledger_id.as_str() {
        return Err(AnnualError::OtherLedger {
            stated: a.ledger_id.clone(),
            actual: ledger_id.as_str().to_owned(),
        });
    }
    let (at, _) = ledger_at_watched::<()>(storage, ledger_id, a.position, None, progress).await?;
    let mut problems = Vec::new();
    if a.head_hash != at.head.to_hex() {
        problems.push(format!(
            "attestation.head_hash: stated {}, ledger {}",
            a.head_hash,
            at.head.to_hex()
        ));
    }
    if a.merkle_root != at.root.to_hex() {
        problems.push(format!(
            "attestation.merkle_root: stated {}, ledger {}",
            a.merkle_root,
            at.root.to_hex()
        ));
    }
    // The checkpoint must be signed by a key of this ledger and state the
    // same size, root and head.
    let ring = crate::ledger::keyring(storage, ledger_id)
        .await
        .map_err(|e| AnnualError::Keyring(e.to_string()))?;
    let mut trusted = checkpoint::NoteVerifiers::new();
    for entry in ring.entries() {
        let key =
            parse_public_key(&entry.public_key).map_err(|e| AnnualError::Keyring(e.to_string()))?;
        let verifier = NoteVerifier::for_ledger(ledger_id.as_str(), key)
            .map_err(|e| AnnualError::Keyring(e.to_string()))?;
        trusted.add(verifier);
    }
    match checkpoint::parse_and_verify(&a.checkpoint, &trusted) {
        Ok(cp) => {
            if cp.size != a.position || cp.root != at.root || cp.head != at.head {
                problems.push(
                    "attestation.checkpoint: does not describe the ledger at the stated position"
                        .to_owned(),
                );
            }
        }
        Err(e) => problems.push(format!("attestation.checkpoint: {e}")),
    }
    let catalog = icac_aggregates::catalog::Catalog::builtin()
        .map_err(|e| report::ReportError::Catalog(e.to_string()))?;
    // A release was suppressed jointly with the releases before it.
    let earlier = match &stated.release {
        Some(r) => {
            let period = icac_aggregates::release::Period::from_days(
                stated.parameters.from,
                stated.parameters.to,
            )
            .map_err(report::ReportError::from)?;
            super::releases::public_before(
                storage,
                ledger_id,
                r.number,
                &period,
                &stated.parameters,
                (a.position, &at.models),
            )
            .await?
        }
        None => Vec::new(),
    };
    let recomputed = figures::compute_linked(&at.models, &stated.parameters, catalog, &earlier);
    drop_behind(at);
    problems.extend(report::differences(&stated.figures, &recomputed?));
    Ok(problems)
}
