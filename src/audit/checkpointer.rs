//! Cutting signed checkpoints, once or periodically.
//!
//! A checkpoint commits to the Merkle root over every event hash. The checkpointer keeps
//! the RFC 6962 frontier in memory (O(log n) hashes) and reads only the events added
//! since its last cut. Before signing it re-checks that each new event's stored hash is
//! the hash of its bytes linked to its predecessor, so it never signs over a row altered
//! in the database; signatures are left to `verify` (they were made by this process).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{now_rfc3339, AuditError};
use crate::ledger::signer::Signer;
use crate::ledger::Ledger;
use crate::storage::{CheckpointRow, Storage, READ_PAGE};
use icac_format::chain::{event_hash, Hash32, GENESIS_PREV_HASH};
use icac_format::checkpoint::{self, Checkpoint};
use icac_format::key_events::{SigningKeyRotated, LEDGER_AGGREGATE_TYPE, SIGNING_KEY_ROTATED};
use icac_format::keys::{KeyId, LedgerKey};
use icac_format::merkle::MerkleAccumulator;
use icac_format::record::EventRecord;
use icac_format::record::LedgerId;

/// A checkpoint and its signed note.
#[derive(Debug, Clone)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub note: String,
}

/// Signs a checkpoint for `size` events with the given root and head, dated now.
pub fn sign_checkpoint(
    ledger: &LedgerId,
    key: &LedgerKey,
    size: u64,
    root: Hash32,
    head: Hash32,
) -> Result<SignedCheckpoint, AuditError> {
    let cp = Checkpoint::new(ledger.as_str(), size, root, head, &now_rfc3339())?;
    let note = checkpoint::sign(&cp, key.signing_key())?;
    Ok(SignedCheckpoint {
        checkpoint: cp,
        note,
    })
}

/// Stores a checkpoint in the append-only table. A checkpoint already stored for the
/// same size (same ledger state) is kept, not an error.
pub async fn store(
    storage: &Storage,
    ledger: &LedgerId,
    key: &LedgerKey,
    signed: &SignedCheckpoint,
) -> Result<(), AuditError> {
    let cp = &signed.checkpoint;
    let row = CheckpointRow {
        size: cp.size,
        root: cp.root.0.to_vec(),
        head: cp.head.0.to_vec(),
        created_at: cp.time.clone(),
        key_id: key.id().to_string(),
        note: signed.note.clone(),
    };
    match storage.insert_checkpoint(ledger, &row).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_chain_conflict() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The Merkle frontier and chain head of the ledger prefix read so far, and the keys
/// that may sign a checkpoint of it.
#[derive(Debug, Clone, Default)]
pub struct TreeState {
    acc: MerkleAccumulator,
    head: Hash32,
    /// The key that signed the last event read.
    last_signer: Option<KeyId>,
    /// The key active after it: the one a rotation as the last event introduced, or
    /// else the last signer.
    active: Option<KeyId>,
}

impl TreeState {
    pub fn new() -> Self {
        Self {
            acc: MerkleAccumulator::new(),
            head: GENESIS_PREV_HASH,
            last_signer: None,
            active: None,
        }
    }

    /// The key active for the tree read so far (`None` before the genesis).
    pub fn active_key(&self) -> Option<&KeyId> {
        self.active.as_ref()
    }

    /// Follows the key events among the rows read, trusting the stored bytes as far as
    /// their hash (signatures are `verify`'s business).
    fn follow_keys(&mut self, row: &crate::storage::StoredRow) -> Result<(), AuditError> {
        let signer = KeyId(row.key_id.clone());
        self.active = Some(
            if row.aggregate_type == LEDGER_AGGREGATE_TYPE && row.event_type == SIGNING_KEY_ROTATED
            {
                let record = EventRecord::from_stored(&row.canonical)
                    .map_err(|e| AuditError::invalid(format!("position {}: {e}", row.position)))?;
                let rotated: SigningKeyRotated = serde_json::from_value(record.payload)
                    .map_err(|e| AuditError::invalid(format!("position {}: {e}", row.position)))?;
                rotated.key_id
            } else {
                signer.clone()
            },
        );
        self.last_signer = Some(signer);
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.acc.size()
    }

    pub fn root(&self) -> Hash32 {
        self.acc.root()
    }

    pub fn head(&self) -> Hash32 {
        self.head
    }

    /// Reads events after `size()` up to `upto` (or the current head), checking links.
    /// `visit` sees each row's position and hash (proof generation keeps them).
    pub async fn catch_up(
        &mut self,
        storage: &Storage,
        ledger: &LedgerId,
        upto: Option<u64>,
        mut visit: impl FnMut(&crate::storage::StoredRow, &Hash32),
    ) -> Result<(), AuditError> {
        let upto = match upto {
            Some(u) => u,
            None => storage.head(ledger).await?.position,
        };
        while self.acc.size() < upto {
            let from = self.acc.size() + 1;
            let rows = storage.read_page(ledger, from, READ_PAGE).await?;
            if rows.is_empty() {
                return Err(AuditError::invalid(format!(
                    "the ledger ends at position {} before {upto}",
                    from - 1
                )));
            }
            for row in rows {
                let expected = self.acc.size() + 1;
                if expected > upto {
                    break;
                }
                let refuse = |why: &str| {
                    AuditError::invalid(format!(
                        "refusing to sign over position {expected}: {why}; run `icac-ledger verify`"
                    ))
                };
                if row.position != expected {
                    return Err(refuse("position is missing"));
                }
                let hash = event_hash(&self.head, &row.canonical);
                if hash.0.as_slice() != row.hash.as_slice() {
                    return Err(refuse(
                        "its stored hash is not the hash of its bytes and predecessor",
                    ));
                }
                self.follow_keys(&row)?;
                visit(&row, &hash);
                self.acc.push(&hash)?;
                self.head = hash;
            }
        }
        Ok(())
    }

    /// Signs a checkpoint of the tree read so far. `key` must be the key active for it (or
    /// the one that signed its last event, when that was the rotation away from it): a
    /// checkpoint by any other key is refused by every verifier (LEDGER_FORMAT.md section 7).
    pub fn sign(&self, ledger: &LedgerId, key: &LedgerKey) -> Result<SignedCheckpoint, AuditError> {
        let allowed = [&self.active, &self.last_signer]
            .into_iter()
            .any(|k| k.as_ref() == Some(key.id()));
        if self.size() > 0 && !allowed {
            return Err(AuditError::invalid(format!(
                "key {} may not sign a checkpoint of size {}: the key active for it is {}; \
                 use the key file the last `keys rotate` wrote",
                key.id(),
                self.size(),
                self.active
                    .as_ref()
                    .map_or_else(|| "unknown".into(), std::string::ToString::to_string)
            )));
        }
        sign_checkpoint(ledger, key, self.size(), self.root(), self.head)
    }
}

/// Cuts, signs and stores a checkpoint of the whole ledger as it is now.
pub async fn cut(
    storage: &Storage,
    ledger: &LedgerId,
    key: &LedgerKey,
) -> Result<SignedCheckpoint, AuditError> {
    storage.check_schema().await?;
    let mut state = TreeState::new();
    state.catch_up(storage, ledger, None, |_, _| {}).await?;
    let signed = state.sign(ledger, key)?;
    store(storage, ledger, key, &signed).await?;
    Ok(signed)
}

/// When the periodic checkpointer cuts: after `every_events` new events, or after
/// `every` has passed with at least one new event, whichever comes first.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub every_events: u64,
    pub every: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            every_events: 10_000,
            every: Duration::from_secs(60),
        }
    }
}

/// Writes checkpoints for as long as the ledger commits events; returns the number
/// written when the ledger shuts down (its committed-position channel closes). A cut
/// that fails is retried, so a database outage does not end the checkpoints.
///
/// The server spawns this next to the ledger; it follows `committed` so it never
/// polls the database while nothing happens.
///
/// It signs with the key `signer` holds for the tree it cuts (re-reading the key file
/// after a rotation by another process); a cut no key may sign is logged and retried.
pub async fn run_periodic(
    storage: Storage,
    ledger: LedgerId,
    committed: watch::Receiver<u64>,
    signer: Arc<Signer>,
    schedule: Schedule,
) -> Result<u64, AuditError> {
    run_periodic_to(storage, ledger, committed, signer, schedule, None).await
}

/// [`run_periodic`], handing each checkpoint it writes to `cuts` (the publisher, which
/// sends it to the witnesses): only the newest counts, so a slow witness never makes
/// checkpoints queue up.
pub async fn run_periodic_to(
    storage: Storage,
    ledger: LedgerId,
    mut committed: watch::Receiver<u64>,
    signer: Arc<Signer>,
    schedule: Schedule,
    cuts: Option<watch::Sender<Option<SignedCheckpoint>>>,
) -> Result<u64, AuditError> {
    let mut state = TreeState::new();
    let mut written = 0u64;
    let mut last_cut = 0u64;
    let mut timer = tokio::time::interval(schedule.every.max(Duration::from_millis(10)));
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer.tick().await;
    loop {
        let due = tokio::select! {
            changed = committed.changed() => {
                if changed.is_err() {
                    return Ok(written);
                }
                *committed.borrow() >= last_cut.saturating_add(schedule.every_events.max(1))
            }
            _ = timer.tick() => *committed.borrow() > last_cut,
        };
        if !due {
            continue;
        }
        let upto = *committed.borrow();
        // A failure (the database restarting, say) is logged and retried at the next
        // tick or commit; `state` keeps every row it already checked.
        match cut_to(&storage, &ledger, &signer, &mut state, upto).await {
            Ok(signed) => {
                last_cut = upto;
                written += 1;
                tracing::info!(size = upto, root = %signed.checkpoint.root, "checkpoint written");
                if let Some(cuts) = &cuts {
                    cuts.send_replace(Some(signed));
                }
            }
            Err(e) => tracing::error!(error = %e, size = upto, "checkpoint failed; will retry"),
        }
    }
}

async fn cut_to(
    storage: &Storage,
    ledger: &LedgerId,
    signer: &Signer,
    state: &mut TreeState,
    upto: u64,
) -> Result<SignedCheckpoint, AuditError> {
    state
        .catch_up(storage, ledger, Some(upto), |_, _| {})
        .await?;
    let key = match state.active_key() {
        Some(active) => signer
            .for_active(active)
            .map_err(|e| AuditError::invalid(e.to_string()))?,
        None => signer.current(),
    };
    let signed = state.sign(ledger, &key)?;
    store(storage, ledger, &key, &signed).await?;
    Ok(signed)
}

/// Spawns [`run_periodic`] for an open ledger, signing with the ledger's own key.
pub fn spawn_for(
    ledger: &Ledger,
    schedule: Schedule,
) -> tokio::task::JoinHandle<Result<u64, AuditError>> {
    spawn_publishing(ledger, schedule, None)
}

/// [`spawn_for`], handing each checkpoint to `cuts` (see [`run_periodic_to`]).
pub fn spawn_publishing(
    ledger: &Ledger,
    schedule: Schedule,
    cuts: Option<watch::Sender<Option<SignedCheckpoint>>>,
) -> tokio::task::JoinHandle<Result<u64, AuditError>> {
    tokio::spawn(run_periodic_to(
        ledger.storage().clone(),
        ledger.id().clone(),
        ledger.committed(),
        ledger.signer().clone(),
        schedule,
        cuts,
    ))
}
