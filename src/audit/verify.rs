//! Full verification of a ledger, from the database or from an export bundle.
//!
//! Events arrive in pages, in position order. Each page goes through two stages:
//!
//! 1. In parallel (rayon, chunks of [`CHUNK`]): parse the canonical bytes, recompute
//!    the hash, cross-check the indexed columns, and batch-verify signatures with the
//!    keys known at the start of the page (ed25519-dalek `verify_batch`; on failure each
//!    signature of that chunk is checked alone, so the first bad one is found).
//! 2. In order, on one thread: everything that depends on the previous event: position
//!    gaps, `prev_hash` links, key periods and rotations, stream sequences, time order,
//!    the Merkle accumulator and checkpoint comparisons.
//!
//! The reader fetches the next page while a page is verified, so memory is a few pages
//! plus one `u64` (and a 16-byte stream digest) per stream for the sequence check: the
//! only state that grows with the ledger, about 50 bytes per stream.
//!
//! The result names the *first* position that cannot be verified and why; nothing after
//! a break is trusted, so verification stops there.

use std::collections::HashMap;
use std::sync::Arc;

use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::trust::TrustRoot;
use super::AuditError;
use crate::ledger::canonical::{parse_canonical, to_canonical_bytes};
use crate::ledger::chain::{event_hash, Hash32, GENESIS_PREV_HASH};
use crate::ledger::checkpoint::{self, Checkpoint, NoteVerifier};
use crate::ledger::key_events::{
    self, SigningKeyRotated, LEDGER_AGGREGATE_TYPE, LEDGER_INITIALIZED, SIGNING_KEY_ROTATED,
};
use crate::ledger::keys::{
    parse_public_key, verify_signature, KeyId, Keyring, KeyringEntry, KeyringError,
};
use crate::ledger::merkle::MerkleAccumulator;
use crate::ledger::record::{EventRecord, LedgerId, MAX_EVENT_BYTES};
use crate::storage::{Storage, StoredRow, READ_PAGE};

/// Events per parallel work unit and per `verify_batch` call: large enough for batch
/// verification to pay off, small enough that a page splits across cores.
pub const CHUNK: usize = 256;

/// Pages read ahead of the verifier; bounds memory at about (1 + this) pages.
const READ_AHEAD: usize = 2;

/// What kind of break verification found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// The event's bytes changed after it was signed: not canonical, not a record, a
    /// column disagreeing with the bytes, or bytes that no longer match the signed hash.
    ContentAltered,
    /// The stored hash is neither the hash of the bytes nor what the key signed.
    HashMismatch,
    /// The signature does not verify with the key the event names.
    BadSignature,
    /// The event names a key that is not in the keyring, or not for this position.
    UnknownOrOutOfPeriodKey,
    /// The ledger's key history does not start from (or contradicts) the pinned keys.
    UntrustedKey,
    /// A key event (genesis, rotation) is malformed or not signed by the active key.
    BadKeyEvent,
    /// A position is missing: the next event has a later position.
    MissingPosition,
    /// An event is at a position it was not signed for, or does not link to its
    /// predecessor.
    InsertedOrReordered,
    /// A stream's sequence numbers skip or repeat.
    StreamSequenceGap,
    /// `recorded_at` goes backwards.
    TimeWentBackwards,
    /// The ledger is shorter than a checkpoint it once published.
    TruncatedSinceCheckpoint,
    /// The history up to a checkpoint is not the one the checkpoint signed.
    RewrittenSinceCheckpoint,
    /// The bundle ends before its trailer (or mid-line).
    BundleTruncated,
    /// The bundle's header or trailer is malformed or disagrees with its events.
    BundleMalformed,
}

impl BreakKind {
    pub fn describe(self) -> &'static str {
        match self {
            BreakKind::ContentAltered => "content altered",
            BreakKind::HashMismatch => "hash mismatch",
            BreakKind::BadSignature => "bad signature",
            BreakKind::UnknownOrOutOfPeriodKey => "unknown or out-of-period key",
            BreakKind::UntrustedKey => "key not trusted (does not match the pinned trust root)",
            BreakKind::BadKeyEvent => "invalid key event",
            BreakKind::MissingPosition => "missing position",
            BreakKind::InsertedOrReordered => "inserted or reordered event",
            BreakKind::StreamSequenceGap => "stream sequence gap",
            BreakKind::TimeWentBackwards => "recorded_at went backwards",
            BreakKind::TruncatedSinceCheckpoint => "truncated since checkpoint",
            BreakKind::RewrittenSinceCheckpoint => "history rewritten since checkpoint",
            BreakKind::BundleTruncated => "bundle truncated",
            BreakKind::BundleMalformed => "bundle header or trailer altered",
        }
    }
}

impl std::fmt::Display for BreakKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// A break found at one position, with a one-line explanation.
pub type Issue = (BreakKind, String);

/// The first position that could not be verified. Position 0 means a bundle's header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub position: u64,
    pub kind: BreakKind,
    pub detail: String,
}

/// One event as read, before any checking.
pub enum RawEvent {
    /// A database row with its indexed columns.
    Row(StoredRow),
    /// One bundle line (without its newline): the event JSON with `hash` and `signature`.
    Line(Vec<u8>),
}

/// Which checkpoint to hold the ledger to, and where it came from.
#[derive(Debug, Clone)]
pub struct CheckpointClaim {
    /// The signed note, as published.
    pub note: String,
    /// Its body parsed *before* the signature is checked (only to know the size to stop
    /// at); nothing is concluded from it until `finish` verifies the signature.
    pub body: Checkpoint,
    pub label: String,
}

impl CheckpointClaim {
    pub fn parse(note: &str, label: &str) -> Result<Self, AuditError> {
        if note.len() > checkpoint::MAX_NOTE_SIZE {
            return Err(AuditError::invalid(format!(
                "{label} is larger than {} bytes",
                checkpoint::MAX_NOTE_SIZE
            )));
        }
        let text_end = note
            .rfind("\n\n")
            .ok_or_else(|| AuditError::invalid(format!("{label} is not a signed note")))?;
        let body = Checkpoint::parse_body(&note[..text_end + 1])?;
        Ok(Self {
            note: note.to_owned(),
            body,
            label: label.to_owned(),
        })
    }
}

/// The outcome of one checkpoint comparison.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointOutcome {
    pub source: String,
    pub size: u64,
    pub consistent: bool,
}

/// The result of a verification run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ledger_id: String,
    pub source: String,
    pub intact: bool,
    /// First position covered (1 unless verifying a partial bundle).
    pub from: u64,
    /// Events verified before the first break (or all of them).
    pub events_verified: u64,
    /// Last verified position and its hash.
    pub head_position: u64,
    pub head_hash: Hash32,
    /// RFC 6962 root over positions 1..=head_position.
    pub merkle_root: Hash32,
    pub genesis_key_id: Option<KeyId>,
    pub trust: String,
    pub checkpoints: Vec<CheckpointOutcome>,
    pub first_break: Option<Break>,
    pub elapsed_seconds: f64,
    pub events_per_second: f64,
}

impl Report {
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.insert(
                "status".into(),
                Value::String(if self.intact { "intact" } else { "broken" }.into()),
            );
        }
        v
    }

    /// The human-readable form printed by `verify`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        match &self.first_break {
            None => out.push_str(&format!(
                "ledger {}: INTACT ({})\n",
                self.ledger_id, self.source
            )),
            Some(b) => out.push_str(&format!(
                "ledger {}: BROKEN at position {}: {} ({})\n  detail      {}\n",
                self.ledger_id, b.position, b.kind, self.source, b.detail
            )),
        }
        let verified = if self.intact { "events" } else { "verified" };
        out.push_str(&format!(
            "  {verified:<11} {} (positions {}..={})\n",
            self.events_verified, self.from, self.head_position
        ));
        out.push_str(&format!("  head        {}\n", self.head_hash));
        out.push_str(&format!("  root        {}\n", self.merkle_root));
        match &self.genesis_key_id {
            Some(k) => out.push_str(&format!("  genesis key {k} ({})\n", self.trust)),
            None => out.push_str(&format!("  genesis key - ({})\n", self.trust)),
        }
        for c in &self.checkpoints {
            out.push_str(&format!(
                "  checkpoint  size {} from {}: {}\n",
                c.size,
                c.source,
                if c.consistent {
                    "extended by this ledger"
                } else {
                    "NOT consistent"
                }
            ));
        }
        if self.trust == "unpinned" {
            out.push_str(
                "  note        trust root not pinned: pass --trusted-key or --keyring to refuse a chain re-signed with another key\n",
            );
        }
        out.push_str(&format!(
            "  throughput  {:.0} events/s ({:.2} s)\n",
            self.events_per_second, self.elapsed_seconds
        ));
        out
    }
}

/// The stream a sequence belongs to, as a digest so the map's memory does not depend on
/// name lengths. 128 bits of SHA-256 makes a crafted collision (to hide a gap) infeasible.
fn stream_key(aggregate_type: &str, aggregate_id: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(aggregate_type.as_bytes());
    h.update([0u8]);
    h.update(aggregate_id.as_bytes());
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// `recorded_at` must have the fixed-width form the ledger writes, so that comparing
/// strings compares times.
fn is_recorded_at(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 27
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigStatus {
    Valid,
    Invalid,
    Unchecked,
}

/// Stage-1 result for one event.
struct Prepared {
    /// The position the event occupies (column or, in a bundle, its own field).
    claimed: Option<u64>,
    checked: Result<Checked, Issue>,
}

struct Checked {
    record: EventRecord,
    stored_hash: Hash32,
    computed_hash: Hash32,
    signature: [u8; 64],
    stream: [u8; 16],
    column_issue: Option<Issue>,
    sig: SigStatus,
}

fn altered(detail: String) -> Issue {
    (BreakKind::ContentAltered, detail)
}

/// Parses a row and cross-checks its indexed columns against the signed bytes.
fn prepare_row(row: &StoredRow, ledger: &LedgerId) -> Prepared {
    let claimed = Some(row.position);
    let checked = (|| {
        if row.canonical.len() > MAX_EVENT_BYTES {
            return Err(altered(format!(
                "stored event is {} bytes",
                row.canonical.len()
            )));
        }
        let record = EventRecord::from_canonical(&row.canonical).map_err(|e| {
            altered(format!(
                "stored bytes are not a canonical event record: {e}"
            ))
        })?;
        let stored_hash = Hash32::from_slice(&row.hash).map_err(|_| {
            (
                BreakKind::HashMismatch,
                "stored hash is not 32 bytes".to_string(),
            )
        })?;
        let signature: [u8; 64] = row.signature.as_slice().try_into().map_err(|_| {
            (
                BreakKind::BadSignature,
                "stored signature is not 64 bytes".to_string(),
            )
        })?;
        let computed_hash = event_hash(&record.prev_hash, &row.canonical);
        let column_issue = row_column_issue(row, &record, ledger);
        Ok(Checked {
            stream: stream_key(&record.aggregate_type, &record.aggregate_id),
            record,
            stored_hash,
            computed_hash,
            signature,
            column_issue,
            sig: SigStatus::Unchecked,
        })
    })();
    Prepared { claimed, checked }
}

/// The indexed columns are copies of fields inside the signed bytes; queries use them,
/// so a column that disagrees is an alteration even if the bytes are intact.
fn row_column_issue(row: &StoredRow, r: &EventRecord, ledger: &LedgerId) -> Option<Issue> {
    if r.position != row.position {
        return Some((
            BreakKind::InsertedOrReordered,
            format!(
                "the row at position {} holds the event signed for position {}",
                row.position, r.position
            ),
        ));
    }
    if &r.ledger_id != ledger {
        return Some(altered(format!("event belongs to ledger {}", r.ledger_id)));
    }
    let mismatched = [
        ("aggregate_type", r.aggregate_type == row.aggregate_type),
        ("aggregate_id", r.aggregate_id == row.aggregate_id),
        ("sequence", r.sequence == row.sequence),
        ("event_type", r.event_type == row.event_type),
        ("event_version", r.event_version == row.event_version),
        ("recorded_at", r.metadata.recorded_at == row.recorded_at),
        (
            "prev_hash",
            r.prev_hash.0.as_slice() == row.prev_hash.as_slice(),
        ),
        ("key_id", r.key_id.0 == row.key_id),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(name, _)| name)
    .collect::<Vec<_>>();
    (!mismatched.is_empty()).then(|| {
        altered(format!(
            "column(s) {} disagree with the signed event bytes",
            mismatched.join(", ")
        ))
    })
}

/// Parses a bundle line: the canonical JSON of the event with `hash` and `signature`.
fn prepare_line(line: &[u8], ledger: &LedgerId) -> Prepared {
    let mut claimed = None;
    let checked = (|| {
        if line.len() > super::bundle::MAX_LINE_BYTES {
            return Err(altered(format!("line is {} bytes", line.len())));
        }
        let value = parse_canonical(line)
            .map_err(|e| altered(format!("line is not canonical JSON: {e}")))?;
        let Value::Object(mut map) = value else {
            return Err(altered("line is not a JSON object".into()));
        };
        let hash_hex = match map.remove("hash") {
            Some(Value::String(s)) => s,
            _ => return Err(altered("event has no \"hash\" string".into())),
        };
        let sig_hex = match map.remove("signature") {
            Some(Value::String(s)) => s,
            _ => return Err(altered("event has no \"signature\" string".into())),
        };
        if let Some(p) = map.get("position").and_then(Value::as_u64) {
            claimed = Some(p);
        }
        let rest = Value::Object(map);
        let canonical = to_canonical_bytes(&rest)
            .map_err(|e| altered(format!("event is not canonical: {e}")))?;
        if canonical.len() > MAX_EVENT_BYTES {
            return Err(altered(format!("event is {} bytes", canonical.len())));
        }
        let record: EventRecord = serde_json::from_value(rest)
            .map_err(|e| altered(format!("event does not have the record fields: {e}")))?;
        let stored_hash = Hash32::from_hex(&hash_hex).map_err(|e| {
            (
                BreakKind::HashMismatch,
                format!("\"hash\" is not a hash: {e}"),
            )
        })?;
        let mut signature = [0u8; 64];
        hex::decode_to_slice(&sig_hex, &mut signature).map_err(|_| {
            (
                BreakKind::BadSignature,
                "\"signature\" is not 64 bytes of hex".to_string(),
            )
        })?;
        if sig_hex.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(altered("\"signature\" has uppercase hex".into()));
        }
        let computed_hash = event_hash(&record.prev_hash, &canonical);
        let column_issue = (&record.ledger_id != ledger)
            .then(|| altered(format!("event belongs to ledger {}", record.ledger_id)));
        Ok(Checked {
            stream: stream_key(&record.aggregate_type, &record.aggregate_id),
            record,
            stored_hash,
            computed_hash,
            signature,
            column_issue,
            sig: SigStatus::Unchecked,
        })
    })();
    Prepared { claimed, checked }
}

/// Stage 1 for one chunk: parse everything, then one batch verification for every
/// signature whose key is already known.
fn prepare_chunk(
    chunk: &[RawEvent],
    ledger: &LedgerId,
    keys: &HashMap<KeyId, VerifyingKey>,
) -> Vec<Prepared> {
    let mut out: Vec<Prepared> = chunk
        .iter()
        .map(|raw| match raw {
            RawEvent::Row(row) => prepare_row(row, ledger),
            RawEvent::Line(line) => prepare_line(line, ledger),
        })
        .collect();
    let mut idx = Vec::with_capacity(out.len());
    let mut msgs: Vec<[u8; 32]> = Vec::with_capacity(out.len());
    let mut sigs = Vec::with_capacity(out.len());
    let mut vks = Vec::with_capacity(out.len());
    for (i, p) in out.iter().enumerate() {
        if let Ok(c) = &p.checked {
            if let Some(k) = keys.get(&c.record.key_id) {
                idx.push(i);
                msgs.push(c.stored_hash.0);
                sigs.push(Signature::from_bytes(&c.signature));
                vks.push(*k);
            }
        }
    }
    if idx.is_empty() {
        return out;
    }
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    let all_ok = ed25519_dalek::verify_batch(&refs, &sigs, &vks).is_ok();
    for (j, &i) in idx.iter().enumerate() {
        if let Ok(c) = &mut out[i].checked {
            // A failed batch says only that some signature is bad; single checks say which.
            let ok = all_ok || verify_signature(&vks[j], &c.stored_hash, &c.signature);
            c.sig = if ok {
                SigStatus::Valid
            } else {
                SigStatus::Invalid
            };
        }
    }
    out
}

/// The in-order state of a verification run.
pub struct ChainVerifier {
    ledger: LedgerId,
    trust: TrustRoot,
    from: u64,
    next: u64,
    prev_hash: Hash32,
    prev_time: Option<String>,
    streams: HashMap<[u8; 16], u64>,
    /// Partial bundles start mid-stream: the first sequence seen per stream is a baseline.
    lenient_streams: bool,
    ring: Option<Keyring>,
    keys: Arc<HashMap<KeyId, VerifyingKey>>,
    acc: MerkleAccumulator,
    claims: Vec<CheckpointClaim>,
    outcomes: Vec<CheckpointOutcome>,
    candidates: Vec<Break>,
    broken: Option<Break>,
    genesis_key: Option<KeyId>,
    started: std::time::Instant,
}

impl ChainVerifier {
    /// Verifies a ledger from position 1.
    pub fn new(ledger: LedgerId, trust: TrustRoot) -> Self {
        Self {
            ledger,
            trust,
            from: 1,
            next: 1,
            prev_hash: GENESIS_PREV_HASH,
            prev_time: None,
            streams: HashMap::new(),
            lenient_streams: false,
            ring: None,
            keys: Arc::new(HashMap::new()),
            acc: MerkleAccumulator::new(),
            claims: Vec::new(),
            outcomes: Vec::new(),
            candidates: Vec::new(),
            broken: None,
            genesis_key: None,
            started: std::time::Instant::now(),
        }
    }

    /// Verifies from `from > 1`, trusting the given chain head, Merkle frontier and
    /// keyring for everything before it (a partial bundle).
    pub fn resume(
        ledger: LedgerId,
        trust: TrustRoot,
        from: u64,
        prev_hash: Hash32,
        acc: MerkleAccumulator,
        entries: &[KeyringEntry],
    ) -> Result<Self, Issue> {
        let mut v = Self::new(ledger, trust);
        v.from = from;
        v.next = from;
        v.prev_hash = prev_hash;
        v.acc = acc;
        v.lenient_streams = true;
        let mut ring = Keyring::default();
        // The key covering `from` is the active one; later rotations in the bundle close it.
        for e in entries.iter().filter(|e| e.valid_from <= from) {
            let mut e = e.clone();
            if e.valid_to.is_none_or(|to| to >= from) {
                e.valid_to = None;
            }
            ring.add(e)
                .map_err(|err| (BreakKind::BundleMalformed, format!("header keyring: {err}")))?;
        }
        if ring.active().is_none() {
            return Err((
                BreakKind::BundleMalformed,
                format!("header keyring has no key valid at position {from}"),
            ));
        }
        v.genesis_key = entries
            .iter()
            .find(|e| e.valid_from == 1)
            .map(|e| e.key_id.clone());
        if let Some(issue) = v
            .genesis_key
            .as_ref()
            .map(|k| v.trust.check_genesis(k))
            .unwrap_or_else(|| {
                v.trust.is_pinned().then(|| {
                    (
                        BreakKind::UntrustedKey,
                        "header keyring has no genesis key".into(),
                    )
                })
            })
        {
            return Err(issue);
        }
        v.set_ring(ring);
        Ok(v)
    }

    /// Also holds the ledger to `claim`: at its size the root and head must match, the
    /// ledger must reach that size, and a key of the ledger must have signed it.
    pub fn expect_checkpoint(&mut self, claim: CheckpointClaim) -> Result<(), AuditError> {
        if claim.body.ledger_id != self.ledger.as_str() {
            return Err(AuditError::invalid(format!(
                "{} is for ledger {}, not {}",
                claim.label, claim.body.ledger_id, self.ledger
            )));
        }
        let before = self.next - 1;
        if claim.body.size < before {
            return Err(AuditError::invalid(format!(
                "{} (size {}) ends before position {}, where these events start; \
                 check it against a full export or with a consistency proof",
                claim.label, claim.body.size, self.next
            )));
        }
        let size = claim.body.size;
        self.claims.push(claim);
        if size == before {
            let head = self.prev_hash;
            self.compare_claims_at(size, head);
        }
        Ok(())
    }

    fn set_ring(&mut self, ring: Keyring) {
        let mut keys = HashMap::new();
        for e in ring.entries() {
            if let Ok(k) = parse_public_key(&e.public_key) {
                keys.insert(e.key_id.clone(), k);
            }
        }
        self.keys = Arc::new(keys);
        self.ring = Some(ring);
    }

    pub fn keyring(&self) -> Option<&Keyring> {
        self.ring.as_ref()
    }

    /// The next position expected.
    pub fn next_position(&self) -> u64 {
        self.next
    }

    pub fn head(&self) -> (u64, Hash32) {
        (self.next - 1, self.prev_hash)
    }

    pub fn root(&self) -> Hash32 {
        self.acc.root()
    }

    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Records a break not tied to an event's content (a bundle's header or trailer).
    pub fn fail(&mut self, position: u64, kind: BreakKind, detail: String) {
        if self.broken.is_none() {
            self.broken = Some(Break {
                position,
                kind,
                detail,
            });
        }
    }

    /// Verifies one page. Returns false once a break was found (stop reading).
    pub fn process_page(&mut self, page: &[RawEvent]) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let keys = self.keys.clone();
        let ledger = self.ledger.clone();
        let prepared: Vec<Prepared> = page
            .par_chunks(CHUNK)
            .flat_map_iter(|chunk| prepare_chunk(chunk, &ledger, &keys))
            .collect();
        for p in prepared {
            let position = self.next;
            if let Err((kind, detail)) = self.check_one(p) {
                self.broken = Some(Break {
                    position,
                    kind,
                    detail,
                });
                return false;
            }
        }
        true
    }

    fn check_one(&mut self, p: Prepared) -> Result<(), Issue> {
        let e = self.next;
        if let Some(claimed) = p.claimed {
            if claimed > e {
                return Err((
                    BreakKind::MissingPosition,
                    format!("position {e} is missing; the next event is at position {claimed}"),
                ));
            }
            if claimed < e {
                return Err((
                    BreakKind::InsertedOrReordered,
                    format!("an event for position {claimed} appears where position {e} belongs"),
                ));
            }
        }
        let c = p.checked?;
        if let Some(issue) = c.column_issue {
            return Err(issue);
        }
        let r = &c.record;
        let is_key_event = r.aggregate_type == LEDGER_AGGREGATE_TYPE;
        // Checks run in the order of docs/LEDGER_FORMAT.md section 6, so that two
        // verifiers name the same kind for the same break.
        if r.prev_hash != self.prev_hash {
            return Err((
                BreakKind::InsertedOrReordered,
                format!(
                    "prev_hash {} does not link to the hash of position {} ({})",
                    r.prev_hash,
                    e - 1,
                    self.prev_hash
                ),
            ));
        }
        let genesis_ring = if e == 1 {
            Some(
                key_events::keyring_from(std::iter::once(r))
                    .map_err(|err| (BreakKind::BadKeyEvent, err.to_string())),
            )
        } else {
            None
        };
        // The key is resolved before the hash comparison (quietly) because whether the
        // stored hash carries a valid signature tells "content altered" (the bytes
        // changed under a genuine hash) from "hash mismatch" (the hash itself changed).
        let resolved = {
            let ring = match &genesis_ring {
                Some(Ok(ring)) => Some(ring),
                Some(Err(_)) => None,
                None => self.ring.as_ref(),
            };
            ring.map(|ring| ring.key_for(&r.key_id, e).copied())
        };
        let sig_ok = match (c.sig, &resolved) {
            (SigStatus::Valid, _) => true,
            (SigStatus::Invalid, _) => false,
            (SigStatus::Unchecked, Some(Ok(key))) => {
                verify_signature(key, &c.stored_hash, &c.signature)
            }
            (SigStatus::Unchecked, _) => false,
        };
        if c.computed_hash != c.stored_hash {
            return Err(if sig_ok {
                altered(format!(
                    "the bytes hash to {}, not to the signed hash {}",
                    c.computed_hash, c.stored_hash
                ))
            } else {
                (
                    BreakKind::HashMismatch,
                    format!(
                        "stored hash {} is neither the hash of the bytes ({}) nor signed",
                        c.stored_hash, c.computed_hash
                    ),
                )
            });
        }
        if let Some(ring) = genesis_ring {
            let ring = ring?;
            if let Some(issue) = self.trust.check_genesis(&r.key_id) {
                return Err(issue);
            }
            self.genesis_key = Some(r.key_id.clone());
            self.set_ring(ring);
        } else if is_key_event && r.event_type == LEDGER_INITIALIZED {
            return Err((
                BreakKind::BadKeyEvent,
                "a second LedgerInitialized event".into(),
            ));
        }
        match resolved {
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                let detail = match err {
                    KeyringError::Unknown(k) => format!("key {k} is not in the ledger's keyring"),
                    other => other.to_string(),
                };
                return Err((BreakKind::UnknownOrOutOfPeriodKey, detail));
            }
            None => {
                return Err((
                    BreakKind::BadKeyEvent,
                    "no keyring: the ledger has no valid genesis".to_string(),
                ))
            }
        }
        if let Some(issue) = self.trust.check_event(&r.key_id, e) {
            return Err(issue);
        }
        if !sig_ok {
            return Err((
                BreakKind::BadSignature,
                format!("signature does not verify with key {}", r.key_id),
            ));
        }
        let last = self.streams.get(&c.stream).copied();
        let expected_seq = match last {
            Some(s) => s + 1,
            None if self.lenient_streams => r.sequence,
            None => 1,
        };
        if r.sequence != expected_seq {
            return Err((
                BreakKind::StreamSequenceGap,
                format!(
                    "stream {}/{} has sequence {} where {} was expected",
                    r.aggregate_type, r.aggregate_id, r.sequence, expected_seq
                ),
            ));
        }
        let time = &r.metadata.recorded_at;
        if !is_recorded_at(time) {
            return Err(altered(format!(
                "recorded_at {time:?} is not in the ledger's format"
            )));
        }
        if let Some(prev) = &self.prev_time {
            if time < prev {
                return Err((
                    BreakKind::TimeWentBackwards,
                    format!("recorded_at {time} is before {prev}"),
                ));
            }
        }
        if is_key_event && r.event_type == SIGNING_KEY_ROTATED {
            self.apply_rotation(r)?;
        }
        self.streams.insert(c.stream, r.sequence);
        self.prev_time = Some(time.clone());
        self.prev_hash = c.stored_hash;
        self.acc
            .push(&c.stored_hash)
            .map_err(|err| (BreakKind::ContentAltered, err.to_string()))?;
        self.next += 1;
        self.compare_claims_at(e, c.stored_hash);
        Ok(())
    }

    fn apply_rotation(&mut self, r: &EventRecord) -> Result<(), Issue> {
        let bad = |reason: String| (BreakKind::BadKeyEvent, reason);
        let rotated: SigningKeyRotated = serde_json::from_value(r.payload.clone())
            .map_err(|e| bad(format!("malformed rotation: {e}")))?;
        let mut ring = self
            .ring
            .clone()
            .ok_or_else(|| bad("rotation before genesis".into()))?;
        let active = ring
            .active()
            .map(|a| a.key_id.clone())
            .ok_or_else(|| bad("no active key".into()))?;
        if r.key_id != active || rotated.previous_key_id != active {
            return Err(bad(format!(
                "rotation is signed by {}, not the active key {active}",
                r.key_id
            )));
        }
        ring.rotate(
            r.position,
            KeyringEntry {
                key_id: rotated.key_id,
                public_key: rotated.public_key,
                valid_from: r.position + 1,
                valid_to: None,
            },
        )
        .map_err(|e| bad(e.to_string()))?;
        self.set_ring(ring);
        Ok(())
    }

    fn compare_claims_at(&mut self, size: u64, head: Hash32) {
        for claim in self.claims.iter().filter(|c| c.body.size == size) {
            let root = self.acc.root();
            let consistent = claim.body.root == root && claim.body.head == head;
            self.outcomes.push(CheckpointOutcome {
                source: claim.label.clone(),
                size,
                consistent,
            });
            if !consistent {
                self.candidates.push(Break {
                    position: size,
                    kind: BreakKind::RewrittenSinceCheckpoint,
                    detail: format!(
                        "{}: at size {size} it has root {} and head {}, the ledger has root {root} and head {head}",
                        claim.label, claim.body.root, claim.body.head
                    ),
                });
            }
        }
    }

    /// Public keys a checkpoint of this ledger may be signed with.
    pub fn note_verifiers(&self) -> checkpoint::Keyring {
        let mut kr = checkpoint::Keyring::new();
        let mut add = |k: VerifyingKey| {
            if let Ok(v) = NoteVerifier::for_ledger(self.ledger.as_str(), k) {
                kr.add(v);
            }
        };
        // The chain's keys are anchored on the pin (if any) by the genesis check.
        for k in self.keys.values() {
            add(*k);
        }
        for k in self.trust.pinned_keys() {
            add(k);
        }
        kr
    }

    /// Ends the run: checks each claimed checkpoint's signature and reach, and builds
    /// the report. `source` names where the events came from.
    pub fn finish(mut self, source: &str) -> Report {
        let (head_position, head_hash) = self.head();
        if self.broken.is_none() {
            let verifiers = self.note_verifiers();
            for claim in std::mem::take(&mut self.claims) {
                if claim.body.size > head_position {
                    self.outcomes.push(CheckpointOutcome {
                        source: claim.label.clone(),
                        size: claim.body.size,
                        consistent: false,
                    });
                    self.candidates.push(Break {
                        position: head_position + 1,
                        kind: BreakKind::TruncatedSinceCheckpoint,
                        detail: format!(
                            "{} has {} events; the ledger now ends at position {head_position}",
                            claim.label, claim.body.size
                        ),
                    });
                }
                if let Err(e) = checkpoint::parse_and_verify(&claim.note, &verifiers) {
                    self.candidates.push(Break {
                        position: 1,
                        kind: BreakKind::RewrittenSinceCheckpoint,
                        detail: format!(
                            "{} is not signed by any key in this ledger's key history ({e}): \
                             the history was re-signed from genesis, or the checkpoint is not from this ledger",
                            claim.label
                        ),
                    });
                }
            }
        }
        let mut first = self.broken.clone();
        for c in &self.candidates {
            if first.as_ref().is_none_or(|b| c.position < b.position) {
                first = Some(c.clone());
            }
        }
        let elapsed = self.started.elapsed().as_secs_f64();
        let verified = head_position + 1 - self.from;
        Report {
            ledger_id: self.ledger.to_string(),
            source: source.to_owned(),
            intact: first.is_none(),
            from: self.from,
            events_verified: verified,
            head_position,
            head_hash,
            merkle_root: self.acc.root(),
            genesis_key_id: self.genesis_key.clone(),
            trust: self.trust.label(),
            checkpoints: self.outcomes,
            first_break: first,
            elapsed_seconds: elapsed,
            events_per_second: if elapsed > 0.0 {
                verified as f64 / elapsed
            } else {
                0.0
            },
        }
    }
}

/// Options for a verification run.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    pub trust: TrustRoot,
    pub checkpoints: Vec<CheckpointClaim>,
    /// Rows per database page; `READ_PAGE` when zero.
    pub page_size: u32,
}

/// Verifies the ledger in `storage`, streaming pages while the previous one is verified.
pub async fn verify_storage(
    storage: &Storage,
    ledger: &LedgerId,
    options: VerifyOptions,
) -> Result<Report, AuditError> {
    storage.check_schema().await?;
    let page_size = if options.page_size == 0 {
        READ_PAGE
    } else {
        options.page_size
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<RawEvent>>(READ_AHEAD);
    let reader_storage = storage.clone();
    let reader_ledger = ledger.clone();
    let reader = tokio::spawn(async move {
        let mut from = 1u64;
        loop {
            let rows = reader_storage
                .read_page(&reader_ledger, from, page_size)
                .await?;
            let Some(last) = rows.last() else {
                return Ok::<(), AuditError>(());
            };
            from = last.position.saturating_add(1);
            let page: Vec<RawEvent> = rows.into_iter().map(RawEvent::Row).collect();
            if tx.send(page).await.is_err() {
                // The verifier stopped at a break.
                return Ok(());
            }
        }
    });
    let mut verifier = ChainVerifier::new(ledger.clone(), options.trust);
    for claim in options.checkpoints {
        verifier.expect_checkpoint(claim)?;
    }
    let source = storage.dialect().to_owned();
    let worker = tokio::task::spawn_blocking(move || {
        while let Some(page) = rx.blocking_recv() {
            if !verifier.process_page(&page) {
                break;
            }
        }
        drop(rx);
        verifier
    });
    let verifier = worker
        .await
        .map_err(|e| AuditError::Worker(e.to_string()))?;
    let read = reader
        .await
        .map_err(|e| AuditError::Worker(e.to_string()))?;
    // A read error after a break does not matter; before one, the run is incomplete.
    if !verifier.is_broken() {
        read?;
    }
    Ok(verifier.finish(&source))
}
