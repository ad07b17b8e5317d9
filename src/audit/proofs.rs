//! Proof files: one event's inclusion, or one checkpoint's consistency with a later one,
//! checkable with nothing but the ledger's public key.
//!
//! Generating a proof reads every event hash of the tree once (32 bytes each kept in
//! memory: 32 MB per million events). That is simple and fast enough for a command an
//! auditor runs occasionally; stored tiles would make it O(log n) reads.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checkpointer::{self, TreeState};
use super::trust::check_entries;
use super::AuditError;
use crate::ledger::sealed_from_row;
use crate::storage::{Storage, StoredRow};
use icac_format::canonical::to_canonical_bytes;
use icac_format::chain::{event_hash, Hash32};
use icac_format::checkpoint::{self, Checkpoint, NoteVerifier};
use icac_format::keys::{parse_public_key, verify_signature, KeyId, KeyringEntry, LedgerKey};
use icac_format::merkle::{self, MAX_PROOF_LEN};
use icac_format::record::{EventRecord, LedgerId, MAX_EVENT_BYTES};

pub const INCLUSION_FORMAT: &str = "icac-ledger-inclusion-proof";
pub const CONSISTENCY_FORMAT: &str = "icac-ledger-consistency-proof";
pub const PROOF_VERSION: u64 = 1;
/// A proof file holds one event (≤ 64 KiB), ≤ 64 hashes and ≤ 2 notes.
pub const MAX_PROOF_FILE: usize = 256 * 1024;

/// "The event at `position` is leaf `position - 1` of the tree the checkpoint signs."
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    pub format: String,
    pub format_version: u64,
    pub ledger_id: LedgerId,
    pub position: u64,
    pub tree_size: u64,
    /// The event itself: record fields plus `hash` and `signature`.
    pub event: Value,
    /// RFC 9162 inclusion path, leaf sibling first.
    pub proof: Vec<Hash32>,
    /// Signed note of the checkpoint of size `tree_size`.
    pub checkpoint: String,
}

/// "The tree of `old_size` events with `old_root` is a prefix of the one signed in
/// `checkpoint`."
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    pub format: String,
    pub format_version: u64,
    pub ledger_id: LedgerId,
    pub old_size: u64,
    pub old_root: Hash32,
    pub new_size: u64,
    pub new_root: Hash32,
    /// RFC 9162 consistency proof.
    pub proof: Vec<Hash32>,
    /// Signed note of the checkpoint of size `old_size`.
    pub old_checkpoint: String,
    /// Signed note of the checkpoint of size `new_size`.
    pub new_checkpoint: String,
}

/// Reads event hashes `1..=size`, checking links, and keeps the row at `keep`.
async fn read_tree(
    storage: &Storage,
    ledger: &LedgerId,
    size: u64,
    keep: Option<u64>,
) -> Result<(Vec<Hash32>, TreeState, Option<StoredRow>), AuditError> {
    let mut hashes = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 24));
    let mut kept = None;
    let mut state = TreeState::new();
    state
        .catch_up(storage, ledger, Some(size), |row, hash| {
            hashes.push(*hash);
            if Some(row.position) == keep {
                kept = Some(row.clone());
            }
        })
        .await?;
    Ok((hashes, state, kept))
}

/// A signed note for the tree `state` has read: the stored checkpoint when the latest one
/// matches, otherwise signed now with `key` (which must be active for that tree) and
/// stored.
async fn note_for(
    storage: &Storage,
    ledger: &LedgerId,
    key: Option<&LedgerKey>,
    state: &TreeState,
) -> Result<String, AuditError> {
    let (size, root, head) = (state.size(), state.root(), state.head());
    if let Some(row) = storage.latest_checkpoint(ledger).await? {
        if row.size == size && row.root == root.0 && row.head == head.0 {
            return Ok(row.note);
        }
    }
    let key = key.ok_or_else(|| {
        AuditError::invalid(format!(
            "no stored checkpoint of size {size}; pass --checkpoint FILE or the signing key (--key)"
        ))
    })?;
    let signed = state.sign(ledger, key)?;
    checkpointer::store(storage, ledger, key, &signed).await?;
    Ok(signed.note)
}

/// Builds an inclusion proof for `position`, against `checkpoint_note` if given (its
/// size; the ledger must still match it) or against a checkpoint of the current head.
pub async fn prove_inclusion(
    storage: &Storage,
    ledger: &LedgerId,
    key: Option<&LedgerKey>,
    position: u64,
    checkpoint_note: Option<String>,
) -> Result<InclusionProof, AuditError> {
    storage.check_schema().await?;
    let given = match &checkpoint_note {
        Some(note) => Some(super::verify::CheckpointClaim::parse(note, "checkpoint")?.body),
        None => None,
    };
    let size = match &given {
        Some(cp) => cp.size,
        None => storage.head(ledger).await?.position,
    };
    if position == 0 || position > size {
        return Err(AuditError::invalid(format!(
            "position {position} is not within the tree of size {size}"
        )));
    }
    let (hashes, state, row) = read_tree(storage, ledger, size, Some(position)).await?;
    let note = match (checkpoint_note, given) {
        (Some(note), Some(cp)) => {
            if cp.root != state.root() || cp.head != state.head() {
                return Err(AuditError::invalid(
                    "the ledger no longer matches that checkpoint; run `icac-ledger verify --checkpoint`",
                ));
            }
            note
        }
        _ => note_for(storage, ledger, key, &state).await?,
    };
    let row = row.ok_or_else(|| AuditError::invalid(format!("position {position} not found")))?;
    let event = sealed_from_row(row)?.to_json();
    let proof = merkle::inclusion_proof(&hashes, position - 1, size)?;
    Ok(InclusionProof {
        format: INCLUSION_FORMAT.into(),
        format_version: PROOF_VERSION,
        ledger_id: ledger.clone(),
        position,
        tree_size: size,
        event,
        proof,
        checkpoint: note,
    })
}

/// Builds a consistency proof from `old_size` to `new_size` with signed notes for both.
pub async fn prove_consistency(
    storage: &Storage,
    ledger: &LedgerId,
    key: Option<&LedgerKey>,
    old_size: u64,
    new_size: u64,
) -> Result<ConsistencyProof, AuditError> {
    storage.check_schema().await?;
    if old_size == 0 || old_size > new_size {
        return Err(AuditError::invalid(format!(
            "need 1 <= --from <= --to (got {old_size} and {new_size})"
        )));
    }
    let mut hashes = Vec::new();
    let mut state = TreeState::new();
    state
        .catch_up(storage, ledger, Some(old_size), |_, h| hashes.push(*h))
        .await?;
    let old = state.clone();
    state
        .catch_up(storage, ledger, Some(new_size), |_, h| hashes.push(*h))
        .await?;
    let proof = merkle::consistency_proof(&hashes, old_size, new_size)?;
    let new_note = note_for(storage, ledger, key, &state).await?;
    let old_note = match key {
        // The key active at `new_size` may have been introduced after `old_size`; then
        // only a stored checkpoint of `old_size` can vouch for it.
        Some(k) => match old.sign(ledger, k) {
            Ok(signed) => signed.note,
            Err(_) => note_for(storage, ledger, None, &old).await?,
        },
        None => note_for(storage, ledger, None, &old).await?,
    };
    Ok(ConsistencyProof {
        format: CONSISTENCY_FORMAT.into(),
        format_version: PROOF_VERSION,
        ledger_id: ledger.clone(),
        old_size,
        old_root: old.root(),
        new_size,
        new_root: state.root(),
        proof,
        old_checkpoint: old_note,
        new_checkpoint: new_note,
    })
}

/// The keys a proof may be checked with: public keys (any position) or a keyring.
#[derive(Debug, Clone)]
pub enum ProofKeys {
    PublicKeys(Vec<ed25519_dalek::VerifyingKey>),
    Keyring(Vec<KeyringEntry>),
}

impl ProofKeys {
    pub fn from_hex(keys: &[String]) -> Result<Self, AuditError> {
        let keys = keys
            .iter()
            .map(|k| parse_public_key(k.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProofKeys::PublicKeys(keys))
    }

    pub fn from_keyring(entries: Vec<KeyringEntry>) -> Result<Self, AuditError> {
        check_entries(&entries)?;
        Ok(ProofKeys::Keyring(entries))
    }

    fn all(&self) -> Vec<ed25519_dalek::VerifyingKey> {
        match self {
            ProofKeys::PublicKeys(k) => k.clone(),
            ProofKeys::Keyring(e) => e
                .iter()
                .filter_map(|e| parse_public_key(&e.public_key).ok())
                .collect(),
        }
    }

    fn notes(&self, ledger: &LedgerId) -> checkpoint::NoteVerifiers {
        let mut kr = checkpoint::NoteVerifiers::new();
        for k in self.all() {
            if let Ok(v) = NoteVerifier::for_ledger(ledger.as_str(), k) {
                kr.add(v);
            }
        }
        kr
    }

    /// The key `key_id` may sign `position` with.
    fn key_for(&self, key_id: &KeyId, position: u64) -> Option<ed25519_dalek::VerifyingKey> {
        match self {
            ProofKeys::PublicKeys(keys) => keys.iter().find(|k| &KeyId::of(k) == key_id).copied(),
            ProofKeys::Keyring(entries) => entries
                .iter()
                .find(|e| {
                    &e.key_id == key_id
                        && position >= e.valid_from
                        && e.valid_to.is_none_or(|to| position <= to)
                })
                .and_then(|e| parse_public_key(&e.public_key).ok()),
        }
    }
}

/// What a valid proof established.
#[derive(Debug, Clone, Serialize)]
pub struct ProofOutcome {
    pub kind: &'static str,
    pub ledger_id: String,
    pub statement: String,
    pub checkpoint_size: u64,
    pub checkpoint_root: Hash32,
}

/// Why a proof was rejected.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProofRejected(pub String);

fn reject<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> ProofRejected + '_ {
    move |e| ProofRejected(format!("{what}: {e}"))
}

/// Opens a proof's checkpoint. With a keyring, the key must also be one that may sign a
/// tree of the checkpoint's size (`KeyringEntry::may_sign_tree`): a retired key cannot
/// vouch for a tree beyond its period, such as one larger than the real ledger.
fn verify_note(
    note: &str,
    ledger: &LedgerId,
    keys: &ProofKeys,
) -> Result<Checkpoint, ProofRejected> {
    let cp = checkpoint::parse_and_verify(note, &keys.notes(ledger))
        .map_err(reject("checkpoint is not signed by the given key"))?;
    if cp.ledger_id != ledger.as_str() {
        return Err(ProofRejected(format!(
            "checkpoint is for ledger {}",
            cp.ledger_id
        )));
    }
    if let ProofKeys::Keyring(entries) = keys {
        let signed_in_period = entries.iter().any(|e| {
            e.may_sign_tree(cp.size)
                && parse_public_key(&e.public_key)
                    .ok()
                    .and_then(|k| NoteVerifier::for_ledger(ledger.as_str(), k).ok())
                    .is_some_and(|v| checkpoint::parse_and_verify(note, &v.into()).is_ok())
        });
        if !signed_in_period {
            return Err(ProofRejected(format!(
                "the checkpoint of size {} is signed only by keys the keyring does not allow \
                 to sign a tree of that size (a key retired before it, or introduced after it)",
                cp.size
            )));
        }
    }
    Ok(cp)
}

/// Checks a proof file (either kind). `Err(ProofRejected)` for an invalid proof;
/// `AuditError` only when the file cannot be understood at all.
pub fn verify_proof(
    text: &str,
    keys: &ProofKeys,
) -> Result<Result<ProofOutcome, ProofRejected>, AuditError> {
    if text.len() > MAX_PROOF_FILE {
        return Err(AuditError::invalid(format!(
            "proof file is larger than {MAX_PROOF_FILE} bytes"
        )));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| AuditError::invalid(format!("proof file is not JSON: {e}")))?;
    let format = value.get("format").and_then(Value::as_str).unwrap_or("");
    match format {
        INCLUSION_FORMAT => {
            let p: InclusionProof = serde_json::from_value(value)
                .map_err(|e| AuditError::invalid(format!("inclusion proof: {e}")))?;
            Ok(check_inclusion(&p, keys))
        }
        CONSISTENCY_FORMAT => {
            let p: ConsistencyProof = serde_json::from_value(value)
                .map_err(|e| AuditError::invalid(format!("consistency proof: {e}")))?;
            Ok(check_consistency(&p, keys))
        }
        other => Err(AuditError::invalid(format!(
            "unknown proof format {other:?}"
        ))),
    }
}

pub fn check_inclusion(
    p: &InclusionProof,
    keys: &ProofKeys,
) -> Result<ProofOutcome, ProofRejected> {
    if p.format_version != PROOF_VERSION {
        return Err(ProofRejected(format!(
            "format_version {} is not supported",
            p.format_version
        )));
    }
    if p.proof.len() > MAX_PROOF_LEN {
        return Err(ProofRejected("proof is too long".into()));
    }
    let cp = verify_note(&p.checkpoint, &p.ledger_id, keys)?;
    if cp.size != p.tree_size {
        return Err(ProofRejected(format!(
            "checkpoint has size {}, the proof claims {}",
            cp.size, p.tree_size
        )));
    }
    let Value::Object(mut map) = p.event.clone() else {
        return Err(ProofRejected("event is not a JSON object".into()));
    };
    let field = |map: &mut serde_json::Map<String, Value>, name: &str| match map.remove(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(ProofRejected(format!("event has no {name:?}"))),
    };
    let hash = Hash32::from_hex(&field(&mut map, "hash")?).map_err(reject("event hash"))?;
    let sig_hex = field(&mut map, "signature")?;
    let mut signature = [0u8; 64];
    hex::decode_to_slice(&sig_hex, &mut signature).map_err(reject("event signature"))?;
    let rest = Value::Object(map);
    let canonical = to_canonical_bytes(&rest).map_err(reject("event"))?;
    if canonical.len() > MAX_EVENT_BYTES {
        return Err(ProofRejected("event is too large".into()));
    }
    let record: EventRecord = serde_json::from_value(rest).map_err(reject("event"))?;
    if record.ledger_id != p.ledger_id || record.position != p.position {
        return Err(ProofRejected(
            "the event is not the one the proof names".into(),
        ));
    }
    if event_hash(&record.prev_hash, &canonical) != hash {
        return Err(ProofRejected(
            "the event's content does not match its hash".into(),
        ));
    }
    let key = keys
        .key_for(&record.key_id, record.position)
        .ok_or_else(|| {
            ProofRejected(format!(
            "the event is signed by key {}, which the given keys do not include for position {}",
            record.key_id, record.position
        ))
        })?;
    if !verify_signature(&key, &hash, &signature) {
        return Err(ProofRejected(
            "the event's signature does not verify".into(),
        ));
    }
    merkle::verify_inclusion(&hash, p.position - 1, p.tree_size, &p.proof, &cp.root)
        .map_err(reject("inclusion proof"))?;
    Ok(ProofOutcome {
        kind: "inclusion",
        ledger_id: p.ledger_id.to_string(),
        statement: format!(
            "event {} ({} on stream {}/{}, sequence {}) is at position {} of ledger {} as signed at size {}",
            hash,
            record.event_type,
            record.aggregate_type,
            record.aggregate_id,
            record.sequence,
            p.position,
            p.ledger_id,
            cp.size
        ),
        checkpoint_size: cp.size,
        checkpoint_root: cp.root,
    })
}

pub fn check_consistency(
    p: &ConsistencyProof,
    keys: &ProofKeys,
) -> Result<ProofOutcome, ProofRejected> {
    if p.format_version != PROOF_VERSION {
        return Err(ProofRejected(format!(
            "format_version {} is not supported",
            p.format_version
        )));
    }
    let old = verify_note(&p.old_checkpoint, &p.ledger_id, keys)?;
    let new = verify_note(&p.new_checkpoint, &p.ledger_id, keys)?;
    if old.size != p.old_size
        || old.root != p.old_root
        || new.size != p.new_size
        || new.root != p.new_root
    {
        return Err(ProofRejected(
            "the checkpoints do not match the sizes and roots of the proof".into(),
        ));
    }
    merkle::verify_consistency(p.old_size, p.new_size, &p.old_root, &p.new_root, &p.proof)
        .map_err(reject("consistency proof"))?;
    Ok(ProofOutcome {
        kind: "consistency",
        ledger_id: p.ledger_id.to_string(),
        statement: format!(
            "ledger {} at size {} (root {}) extends its checkpoint at size {} (root {})",
            p.ledger_id, p.new_size, p.new_root, p.old_size, p.old_root
        ),
        checkpoint_size: p.new_size,
        checkpoint_root: p.new_root,
    })
}
