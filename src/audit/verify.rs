//! Full verification of a ledger, from the database or from an export bundle.
//!
//! Events arrive in batches, in position order, and go through a two-stage pipeline:
//!
//! 1. In parallel (rayon, [`CHUNK`]s of a batch): check the canonical bytes and read the
//!    record's fields from them (one pass, `record_view`; the general parser only for
//!    unusual records and to word errors), recompute the hash, cross-check the indexed
//!    columns, and verify signatures with the keys known when the batch started, under
//!    the strict rule (`signature_batch`: a batch check that gives each signature its
//!    single-check verdict, single checks when it fails; keys parsed and refused if weak
//!    once per key).
//! 2. In order, on one thread, while stage 1 works on the next batch: everything that
//!    depends on the previous event: position gaps, `prev_hash` links, key periods and
//!    rotations, stream sequences, time order, the Merkle accumulator and checkpoint
//!    comparisons.
//!
//! The reader streams the next batches meanwhile, so memory is a few batches plus one
//! `u64` (and a 16-byte stream digest) per stream for the sequence check: the only
//! state that grows with the ledger, about 50 bytes per stream.
//!
//! The result names the *first* position that cannot be verified and why; nothing after
//! a break is trusted, so verification stops there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::record_view::{view_line, view_record, RecordView};
use super::signature_batch::{self, Signed};
use super::trust::TrustRoot;
use super::AuditError;
use crate::storage::{scan, Storage, StoredRow};
use icac_format::canonical::{parse_canonical, to_canonical_bytes};
use icac_format::chain::{event_hash, Hash32, EVENT_HASH_PREFIX, GENESIS_PREV_HASH};
use icac_format::checkpoint::{self, Checkpoint, NoteVerifier};
use icac_format::key_events::{
    self, CommitClock, SigningKeyRotated, LEDGER_AGGREGATE_TYPE, LEDGER_INITIALIZED,
    SIGNING_KEY_ROTATED,
};
use icac_format::keys::{
    parse_public_key, verify_signature, KeyId, Keyring, KeyringEntry, KeyringError,
};
use icac_format::merkle::MerkleAccumulator;
use icac_format::record::{EventRecord, LedgerId, MAX_EVENT_BYTES};

/// Events per parallel work unit of parsing: small enough that a [`BATCH`] splits
/// across cores. Signatures are checked per batch (`signature_batch` splits it again).
pub const CHUNK: usize = 1024;

/// Rows per batch handed from the reader to the verifier.
pub const BATCH: usize = 4096;

/// Batches read ahead of the verifier; with the one in stage 1 and the one in stage 2,
/// memory holds about (2 + this) batches of rows.
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
// Batches are of one kind (all rows or all lines), so the size difference costs no
// more than boxing every row would.
#[allow(clippy::large_enum_variant)]
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
    /// What the genesis declares the commit times follow: `system` on every real
    /// ledger; `demo` on a demonstration ledger, whose commit times follow its
    /// synthetic story and are evidence of nothing (docs/LEDGER_FORMAT.md). `None`
    /// when the genesis was not among the events verified (a partial bundle).
    pub commit_clock: Option<CommitClock>,
    /// Keys a partial bundle's header supplies for positions before its first event,
    /// which neither the bundle's events nor the pinned trust root vouch for. Events
    /// they sign verify only as far as the header is trusted; `--keyring` pins them.
    pub unverified_header_keys: Vec<KeyId>,
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
        if self.commit_clock == Some(CommitClock::Demo) {
            out.push_str(
                "  note        a DEMO ledger: its genesis declares the demo clock, so its commit times follow a synthetic story, not when events were written\n",
            );
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
        if !self.unverified_header_keys.is_empty() {
            let keys: Vec<&str> = self
                .unverified_header_keys
                .iter()
                .map(|k| k.0.as_str())
                .collect();
            out.push_str(&format!(
                "  note        key(s) {} come from the bundle header, not from key events in it                  (the bundle starts at position {}) nor from a pinned key: pass --keyring to pin them\n",
                keys.join(", "),
                self.from
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
/// strings compares times, and name a real instant: a month 01-12, a day that month
/// has (leap years included), hours below 24, minutes and seconds below 60 (the
/// ledger's clock never writes a leap second).
fn is_recorded_at(s: &str) -> bool {
    let b = s.as_bytes();
    let shaped = b.len() == 27
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            26 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shaped {
        return false;
    }
    let num = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (num(0, 4), num(5, 7), num(8, 10));
    let (hour, minute, second) = (num(11, 13), num(14, 16), num(17, 19));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
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

/// The record fields the in-order checks read.
struct Fields {
    aggregate_type: String,
    aggregate_id: String,
    sequence: u64,
    event_type: String,
    recorded_at: String,
    prev_hash: Hash32,
    key_id: KeyId,
    format_version: u64,
    /// The whole record, parsed only where its payload matters: the ledger's own key
    /// events and position 1 (the genesis).
    full: Option<Box<EventRecord>>,
}

impl Fields {
    fn new(v: &RecordView<'_>, full: Option<Box<EventRecord>>) -> Self {
        Fields {
            aggregate_type: v.aggregate_type.to_owned(),
            aggregate_id: v.aggregate_id.to_owned(),
            sequence: v.sequence,
            event_type: v.event_type.to_owned(),
            recorded_at: v.recorded_at.to_owned(),
            prev_hash: v.prev_hash,
            key_id: KeyId(v.key_id.to_owned()),
            format_version: v.format_version,
            full,
        }
    }
}

/// The fields of a record parsed by the slow path, as a view.
fn view_of(r: &EventRecord) -> RecordView<'_> {
    RecordView {
        ledger_id: r.ledger_id.as_str(),
        position: r.position,
        aggregate_type: &r.aggregate_type,
        aggregate_id: &r.aggregate_id,
        sequence: r.sequence,
        event_type: &r.event_type,
        event_version: &r.event_version,
        recorded_at: &r.metadata.recorded_at,
        prev_hash: r.prev_hash,
        key_id: &r.key_id.0,
        format_version: r.format(),
    }
}

/// Whether the in-order checks need the whole record (payload included).
fn needs_full(v: &RecordView<'_>) -> bool {
    v.position == 1 || v.aggregate_type == LEDGER_AGGREGATE_TYPE
}

struct Checked {
    f: Fields,
    stored_hash: Hash32,
    computed_hash: Hash32,
    signature: [u8; 64],
    stream: [u8; 16],
    column_issue: Option<Issue>,
    sig: SigStatus,
}

/// The position an event claims is the one it occupies.
fn check_claimed_position(claimed: Option<u64>, e: u64) -> Result<(), Issue> {
    match claimed {
        Some(claimed) if claimed > e => Err((
            BreakKind::MissingPosition,
            format!("position {e} is missing; the next event is at position {claimed}"),
        )),
        Some(claimed) if claimed < e => Err((
            BreakKind::InsertedOrReordered,
            format!("an event for position {claimed} appears where position {e} belongs"),
        )),
        _ => Ok(()),
    }
}

/// The keyring the genesis record (position 1) sets up.
fn genesis_ring(r: &Fields) -> Result<Keyring, Issue> {
    match r.full.as_deref() {
        Some(full) => key_events::keyring_from(std::iter::once(full))
            .map_err(|err| (BreakKind::BadKeyEvent, err.to_string())),
        // Stage 1 parses position 1 whole; this cannot happen.
        None => Err((
            BreakKind::BadKeyEvent,
            "genesis record was not parsed".to_string(),
        )),
    }
}

/// Whether the stored hash carries a valid signature: stage 1's verdict, or checked
/// here with the resolved key.
fn signature_ok(c: &Checked, resolved: Option<&Result<VerifyingKey, KeyringError>>) -> bool {
    match (c.sig, resolved) {
        (SigStatus::Valid, _) => true,
        (SigStatus::Invalid, _) => false,
        (SigStatus::Unchecked, Some(Ok(key))) => {
            verify_signature(key, &c.stored_hash, &c.signature)
        }
        (SigStatus::Unchecked, _) => false,
    }
}

/// The bytes hash to the stored hash; if not, a signed hash means the content was
/// altered, an unsigned one that the hash was.
fn check_hash(c: &Checked, sig_ok: bool) -> Result<(), Issue> {
    if c.computed_hash == c.stored_hash {
        return Ok(());
    }
    Err(if sig_ok {
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
    })
}

/// The event's key was found, valid at its position.
fn check_resolved(resolved: Option<Result<VerifyingKey, KeyringError>>) -> Result<(), Issue> {
    match resolved {
        Some(Ok(_)) => Ok(()),
        Some(Err(err)) => {
            let detail = match err {
                KeyringError::Unknown(k) => format!("key {k} is not in the ledger's keyring"),
                other => other.to_string(),
            };
            Err((BreakKind::UnknownOrOutOfPeriodKey, detail))
        }
        None => Err((
            BreakKind::BadKeyEvent,
            "no keyring: the ledger has no valid genesis".to_string(),
        )),
    }
}

fn altered(detail: String) -> Issue {
    (BreakKind::ContentAltered, detail)
}

fn not_a_record(e: impl std::fmt::Display) -> Issue {
    altered(format!(
        "stored bytes are not a canonical event record: {e}"
    ))
}

/// `event_hash` over canonical bytes given in pieces (a bundle line minus two members).
fn event_hash_parts(prev_hash: &Hash32, parts: &[&[u8]]) -> Hash32 {
    let mut h = Sha256::new();
    h.update(EVENT_HASH_PREFIX);
    h.update(prev_hash.0);
    for p in parts {
        h.update(p);
    }
    Hash32(h.finalize().into())
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
        // The fast view when it applies; otherwise the slow path decides (and words
        // the error). See `record_view` for why both give the same answers.
        let slow;
        let view = match view_record(&row.canonical) {
            Some(v) => v,
            None => {
                slow = EventRecord::from_canonical(&row.canonical).map_err(not_a_record)?;
                view_of(&slow)
            }
        };
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
        let computed_hash = event_hash(&view.prev_hash, &row.canonical);
        let column_issue = row_column_issue(row, &view, ledger);
        let full = if needs_full(&view) {
            Some(Box::new(
                EventRecord::from_canonical(&row.canonical).map_err(not_a_record)?,
            ))
        } else {
            None
        };
        Ok(Checked {
            stream: stream_key(view.aggregate_type, view.aggregate_id),
            f: Fields::new(&view, full),
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
fn row_column_issue(row: &StoredRow, r: &RecordView<'_>, ledger: &LedgerId) -> Option<Issue> {
    if r.position != row.position {
        return Some((
            BreakKind::InsertedOrReordered,
            format!(
                "the row at position {} holds the event signed for position {}",
                row.position, r.position
            ),
        ));
    }
    if r.ledger_id != ledger.as_str() {
        return Some(altered(format!("event belongs to ledger {}", r.ledger_id)));
    }
    let mismatched = [
        ("aggregate_type", r.aggregate_type == row.aggregate_type),
        ("aggregate_id", r.aggregate_id == row.aggregate_id),
        ("sequence", r.sequence == row.sequence),
        ("event_type", r.event_type == row.event_type),
        ("event_version", r.event_version == row.event_version),
        ("recorded_at", r.recorded_at == row.recorded_at),
        (
            "prev_hash",
            r.prev_hash.0.as_slice() == row.prev_hash.as_slice(),
        ),
        ("key_id", r.key_id == row.key_id),
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
    if line.len() > super::bundle::MAX_LINE_BYTES {
        return Prepared {
            claimed: None,
            checked: Err(altered(format!("line is {} bytes", line.len()))),
        };
    }
    let Some(v) = view_line(line) else {
        return prepare_line_slowly(line, ledger);
    };
    let [(a, b), (c, d)] = v.cut;
    let parts: [&[u8]; 3] = [&line[..a], &line[b..c], &line[d..]];
    let canonical_len: usize = parts.iter().map(|p| p.len()).sum();
    let checked = (|| {
        if canonical_len > MAX_EVENT_BYTES {
            return Err(altered(format!("event is {canonical_len} bytes")));
        }
        let full = if needs_full(&v.record) {
            let bytes = parts.concat();
            Some(Box::new(
                EventRecord::from_canonical(&bytes).map_err(not_a_record)?,
            ))
        } else {
            None
        };
        let column_issue = (v.record.ledger_id != ledger.as_str())
            .then(|| altered(format!("event belongs to ledger {}", v.record.ledger_id)));
        Ok(Checked {
            stream: stream_key(v.record.aggregate_type, v.record.aggregate_id),
            computed_hash: event_hash_parts(&v.record.prev_hash, &parts),
            f: Fields::new(&v.record, full),
            stored_hash: v.hash,
            signature: v.signature,
            column_issue,
            sig: SigStatus::Unchecked,
        })
    })();
    Prepared {
        claimed: Some(v.record.position),
        checked,
    }
}

/// The general path for a bundle line, and the one that words every error.
fn prepare_line_slowly(line: &[u8], ledger: &LedgerId) -> Prepared {
    let mut claimed = None;
    let checked = (|| {
        let value = parse_canonical(line)
            .map_err(|e| altered(format!("line is not canonical JSON: {e}")))?;
        let Value::Object(mut map) = value else {
            return Err(altered("line is not a JSON object".into()));
        };
        let Some(Value::String(hash_hex)) = map.remove("hash") else {
            return Err(altered("event has no \"hash\" string".into()));
        };
        let Some(Value::String(sig_hex)) = map.remove("signature") else {
            return Err(altered("event has no \"signature\" string".into()));
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
        let view = view_of(&record);
        let f = Fields::new(&view, None);
        let stream = stream_key(view.aggregate_type, view.aggregate_id);
        Ok(Checked {
            f: Fields {
                full: Some(Box::new(record)),
                ..f
            },
            stream,
            stored_hash,
            computed_hash,
            signature,
            column_issue,
            sig: SigStatus::Unchecked,
        })
    })();
    Prepared { claimed, checked }
}

/// Public keys usable for batch checks in stage 1, each already parsed and checked
/// against weak keys once (when its key event was applied), looked up by id.
type KeyCache = Vec<(String, VerifyingKey)>;

/// Verifies every unchecked signature whose key is known.
fn check_signatures(items: &mut [Prepared], keys: &KeyCache) {
    let vks: Vec<VerifyingKey> = keys.iter().map(|(_, k)| *k).collect();
    let mut idx = Vec::with_capacity(items.len());
    let mut batch = Vec::with_capacity(items.len());
    for (i, p) in items.iter().enumerate() {
        if let Ok(c) = &p.checked {
            if c.sig != SigStatus::Unchecked {
                continue;
            }
            if let Some(key) = keys.iter().position(|(id, _)| *id == c.f.key_id.0) {
                idx.push(i);
                batch.push(Signed {
                    key,
                    message: &c.stored_hash.0,
                    signature: &c.signature,
                });
            }
        }
    }
    if idx.is_empty() {
        return;
    }
    let verdicts = signature_batch::verify_each(&vks, &batch);
    for (i, ok) in idx.into_iter().zip(verdicts) {
        if let Ok(c) = &mut items[i].checked {
            c.sig = if ok {
                SigStatus::Valid
            } else {
                SigStatus::Invalid
            };
        }
    }
}

/// Stage 1 for a batch, on all rayon threads: parse everything, then check the
/// signatures as one set (the batch check's fixed cost is paid once per batch).
fn prepare_batch(batch: &[RawEvent], ledger: &LedgerId, keys: &KeyCache) -> Vec<Prepared> {
    let mut out: Vec<Prepared> = batch
        .par_iter()
        .with_min_len(CHUNK)
        .map(|raw| match raw {
            RawEvent::Row(row) => prepare_row(row, ledger),
            RawEvent::Line(line) => prepare_line(line, ledger),
        })
        .collect();
    check_signatures(&mut out, keys);
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
    /// The format version of the last event: versions never go down (section 12.2).
    prev_format: u64,
    streams: HashMap<[u8; 16], u64>,
    /// Partial bundles start mid-stream: the first sequence seen per stream is a baseline.
    lenient_streams: bool,
    ring: Option<Keyring>,
    /// Shared with stage 1, which may run a batch ahead on another thread.
    keys: Arc<Mutex<Arc<KeyCache>>>,
    /// Counts keyring changes.
    ring_version: u64,
    acc: MerkleAccumulator,
    claims: Vec<CheckpointClaim>,
    outcomes: Vec<CheckpointOutcome>,
    candidates: Vec<Break>,
    broken: Option<Break>,
    genesis_key: Option<KeyId>,
    commit_clock: Option<CommitClock>,
    unverified_header_keys: Vec<KeyId>,
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
            prev_format: 1,
            streams: HashMap::new(),
            lenient_streams: false,
            ring: None,
            keys: Arc::new(Mutex::new(Arc::new(Vec::new()))),
            ring_version: 0,
            acc: MerkleAccumulator::new(),
            claims: Vec::new(),
            outcomes: Vec::new(),
            candidates: Vec::new(),
            broken: None,
            genesis_key: None,
            commit_clock: None,
            unverified_header_keys: Vec::new(),
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
        if let Some(issue) = v.genesis_key.as_ref().map_or_else(
            || {
                v.trust.is_pinned().then(|| {
                    (
                        BreakKind::UntrustedKey,
                        "header keyring has no genesis key".into(),
                    )
                })
            },
            |k| v.trust.check_genesis(k),
        ) {
            return Err(issue);
        }
        v.unverified_header_keys = ring
            .entries()
            .filter(|e| !v.trust.vouches_for(e))
            .map(|e| e.key_id.clone())
            .collect();
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
        // `parse_public_key` refuses weak keys: once per key, not per event.
        let keys: KeyCache = ring
            .entries()
            .filter_map(|e| {
                parse_public_key(&e.public_key)
                    .ok()
                    .map(|k| (e.key_id.0.clone(), k))
            })
            .collect();
        *self
            .keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        self.ring_version += 1;
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

    fn key_snapshot(&self) -> Arc<KeyCache> {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Verifies one page. Returns false once a break was found (stop reading).
    pub fn process_page(&mut self, page: &[RawEvent]) -> bool {
        if self.broken.is_some() {
            return false;
        }
        let prepared = prepare_batch(page, &self.ledger, &self.key_snapshot());
        self.check_prepared(prepared)
    }

    /// Stage 2 for a batch prepared by stage 1. Returns false once a break was found.
    fn check_prepared(&mut self, mut prepared: Vec<Prepared>) -> bool {
        if self.broken.is_some() {
            return false;
        }
        for i in 0..prepared.len() {
            let position = self.next;
            let p = std::mem::replace(
                &mut prepared[i],
                Prepared {
                    claimed: None,
                    checked: Err((BreakKind::ContentAltered, String::new())),
                },
            );
            let ring_before = self.ring_version;
            if let Err((kind, detail)) = self.check_one(p) {
                self.broken = Some(Break {
                    position,
                    kind,
                    detail,
                });
                return false;
            }
            if self.ring_version != ring_before {
                // A genesis or rotation made keys known that stage 1 did not have: check
                // the rest of this batch in bulk rather than one by one.
                let keys = self.key_snapshot();
                check_signatures(&mut prepared[i + 1..], &keys);
            }
        }
        true
    }

    /// Verifies batches as they come, stage 1 of one batch (on the rayon threads)
    /// overlapping stage 2 of the one before (on this thread). Stops reading at the
    /// first break. Returns the source, for whatever it may still hold (a bundle's
    /// trailer).
    pub fn run<I>(&mut self, batches: I) -> I
    where
        I: Iterator<Item = Vec<RawEvent>> + Send,
    {
        let keys = Arc::clone(&self.keys);
        let ledger = self.ledger.clone();
        std::thread::scope(|s| {
            // One prepared batch in flight besides the one being checked: bounded memory.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(1);
            let stage1 = s.spawn(move || {
                let mut batches = batches;
                for batch in batches.by_ref() {
                    let snapshot = keys
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone();
                    let prepared = prepare_batch(&batch, &ledger, &snapshot);
                    drop(batch);
                    if tx.send(prepared).is_err() {
                        break;
                    }
                }
                batches
            });
            for prepared in &rx {
                if !self.check_prepared(prepared) {
                    break;
                }
            }
            // Stage 1 sees the closed channel at its next send and stops.
            drop(rx);
            match stage1.join() {
                Ok(batches) => batches,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    fn check_one(&mut self, p: Prepared) -> Result<(), Issue> {
        let e = self.next;
        check_claimed_position(p.claimed, e)?;
        let c = p.checked?;
        if let Some(issue) = c.column_issue {
            return Err(issue);
        }
        let r = &c.f;
        let is_key_event = r.aggregate_type == LEDGER_AGGREGATE_TYPE;
        // Checks run in the order of docs/LEDGER_FORMAT.md section 6, so that two
        // verifiers name the same kind for the same break.
        self.check_link(r, e)?;
        let genesis_ring = (e == 1).then(|| genesis_ring(r));
        // The key is resolved before the hash comparison (quietly) because whether the
        // stored hash carries a valid signature tells "content altered" (the bytes
        // changed under a genuine hash) from "hash mismatch" (the hash itself changed).
        let resolved = self.resolve_key(genesis_ring.as_ref(), r, e);
        let sig_ok = signature_ok(&c, resolved.as_ref());
        check_hash(&c, sig_ok)?;
        match genesis_ring {
            Some(ring) => self.adopt_genesis(ring?, r)?,
            None if is_key_event && r.event_type == LEDGER_INITIALIZED => {
                return Err((
                    BreakKind::BadKeyEvent,
                    "a second LedgerInitialized event".into(),
                ));
            }
            None => {}
        }
        check_resolved(resolved)?;
        if let Some(issue) = self.trust.check_event(&r.key_id, e) {
            return Err(issue);
        }
        if !sig_ok {
            return Err((
                BreakKind::BadSignature,
                format!("signature does not verify with key {}", r.key_id),
            ));
        }
        self.check_stream(r, &c.stream)?;
        self.check_time_and_format(r)?;
        if is_key_event && r.event_type == SIGNING_KEY_ROTATED {
            let full = r.full.as_deref().ok_or_else(|| {
                (
                    BreakKind::BadKeyEvent,
                    "rotation record was not parsed".to_string(),
                )
            })?;
            self.apply_rotation(full)?;
        }
        self.advance(&c, e)
    }

    /// The record's `prev_hash` links to the hash of the position before it.
    fn check_link(&self, r: &Fields, e: u64) -> Result<(), Issue> {
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
        Ok(())
    }

    /// The key of `r` at position `e`, from the genesis' own keyring at position 1,
    /// else the ledger's; `None`: no keyring to ask.
    fn resolve_key(
        &self,
        genesis_ring: Option<&Result<Keyring, Issue>>,
        r: &Fields,
        e: u64,
    ) -> Option<Result<VerifyingKey, KeyringError>> {
        let ring = match genesis_ring {
            Some(Ok(ring)) => Some(ring),
            Some(Err(_)) => None,
            None => self.ring.as_ref(),
        };
        ring.map(|ring| ring.key_for(&r.key_id, e).copied())
    }

    /// Position 1 passed its checks so far: its key must be the trusted genesis key,
    /// and its keyring and commit clock become the ledger's.
    fn adopt_genesis(&mut self, ring: Keyring, r: &Fields) -> Result<(), Issue> {
        if let Some(issue) = self.trust.check_genesis(&r.key_id) {
            return Err(issue);
        }
        self.genesis_key = Some(r.key_id.clone());
        if let Some(full) = r.full.as_deref() {
            self.commit_clock = Some(CommitClock::of_genesis(&full.payload));
        }
        self.set_ring(ring);
        Ok(())
    }

    /// The stream rules of the ledger's own events, and the stream's next sequence.
    fn check_stream(&self, r: &Fields, stream: &[u8; 16]) -> Result<(), Issue> {
        if let Some(reason) = key_events::stream_rule_broken(
            &self.ledger,
            &r.aggregate_type,
            &r.aggregate_id,
            &r.event_type,
        ) {
            return Err((BreakKind::BadKeyEvent, reason));
        }
        let last = self.streams.get(stream).copied();
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
        Ok(())
    }

    /// `recorded_at` is a real instant no earlier than the last, and the format
    /// version never goes down (which it then records).
    fn check_time_and_format(&mut self, r: &Fields) -> Result<(), Issue> {
        let time = &r.recorded_at;
        if !is_recorded_at(time) {
            return Err(altered(format!(
                "recorded_at {time:?} is not a real instant in the ledger's format"
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
        if r.format_version < self.prev_format {
            return Err(altered(format!(
                "a version {} record follows a version {} record",
                r.format_version, self.prev_format
            )));
        }
        self.prev_format = r.format_version;
        Ok(())
    }

    /// Position `e` verified: the chain moves past it.
    fn advance(&mut self, c: &Checked, e: u64) -> Result<(), Issue> {
        let r = &c.f;
        self.streams.insert(c.stream, r.sequence);
        match &mut self.prev_time {
            // Reuses the buffer: no allocation per event.
            Some(prev) => {
                prev.clear();
                prev.push_str(&r.recorded_at);
            }
            None => self.prev_time = Some(r.recorded_at.clone()),
        }
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

    /// Opens a checkpoint note of this ledger, which must carry a signature by a key that
    /// may sign a tree of the size it states (`KeyringEntry::may_sign_tree`): a key of
    /// the chain's key history with the period the chain gives it, or a pinned key with
    /// its pinned period. A key retired before that size, or introduced after it, does
    /// not count, however valid its signature.
    pub fn open_checkpoint(&self, note: &str) -> Result<Checkpoint, String> {
        let mut candidates: Vec<KeyringEntry> = self
            .ring
            .as_ref()
            .map(|r| r.entries().cloned().collect())
            .unwrap_or_default();
        if let TrustRoot::Keyring(pinned) = &self.trust {
            for e in pinned {
                if !candidates.iter().any(|c| c.key_id == e.key_id) {
                    candidates.push(e.clone());
                }
            }
        }
        let mut refused = Vec::new();
        for entry in &candidates {
            let Ok(key) = parse_public_key(&entry.public_key) else {
                continue;
            };
            let Ok(verifier) = NoteVerifier::for_ledger(self.ledger.as_str(), key) else {
                continue;
            };
            let Ok(cp) = checkpoint::parse_and_verify(note, &verifier.into()) else {
                continue;
            };
            if entry.may_sign_tree(cp.size) {
                return Ok(cp);
            }
            refused.push(format!(
                "it is signed by key {}, which may sign only trees of size {}, not {}",
                entry.key_id,
                entry.tree_period(),
                cp.size
            ));
        }
        Err(if refused.is_empty() {
            "it is not signed by any key in this ledger's key history".into()
        } else {
            refused.join("; ")
        })
    }

    /// Ends the run: checks each claimed checkpoint's signature and reach, and builds
    /// the report. `source` names where the events came from.
    pub fn finish(mut self, source: &str) -> Report {
        let (head_position, head_hash) = self.head();
        if self.broken.is_none() {
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
                if let Err(e) = self.open_checkpoint(&claim.note) {
                    self.candidates.push(Break {
                        position: 1,
                        kind: BreakKind::RewrittenSinceCheckpoint,
                        detail: format!(
                            "{} is not a checkpoint of this ledger's key history ({e}): \
                             the history was re-signed from genesis, the checkpoint is not from \
                             this ledger, or a key signed it outside its period",
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
            commit_clock: self.commit_clock,
            unverified_header_keys: self.unverified_header_keys,
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
    /// Rows per batch; `BATCH` when zero (tests use tiny batches to cross boundaries).
    pub page_size: u32,
}

/// Verifies the ledger in `storage`: a reader task streams batches of rows (one scan,
/// see `storage::scan`) while stage 1 prepares the next batch and stage 2 checks the
/// previous one.
pub async fn verify_storage(
    storage: &Storage,
    ledger: &LedgerId,
    options: VerifyOptions,
) -> Result<Report, AuditError> {
    verify_storage_with_progress(storage, ledger, options, |_| {}).await
}

/// [`verify_storage`], telling `progress` how many events have been read after each
/// batch (it only watches; the verdict is the same without it).
pub async fn verify_storage_with_progress(
    storage: &Storage,
    ledger: &LedgerId,
    options: VerifyOptions,
    mut progress: impl FnMut(u64) + Send + 'static,
) -> Result<Report, AuditError> {
    storage.check_schema().await?;
    let batch = if options.page_size == 0 {
        BATCH
    } else {
        options.page_size as usize
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<StoredRow>>(READ_AHEAD);
    let reader_storage = storage.clone();
    let reader_ledger = ledger.clone();
    let reader = tokio::spawn(async move {
        scan::scan(&reader_storage, &reader_ledger, 1, None, batch, tx).await
    });
    let mut verifier = ChainVerifier::new(ledger.clone(), options.trust);
    for claim in options.checkpoints {
        verifier.expect_checkpoint(claim)?;
    }
    let source = storage.dialect().to_owned();
    let worker = tokio::task::spawn_blocking(move || {
        let mut read = 0u64;
        let batches = std::iter::from_fn(|| rx.blocking_recv()).map(|rows| {
            read += rows.len() as u64;
            progress(read);
            rows.into_iter().map(RawEvent::Row).collect::<Vec<_>>()
        });
        // Dropping the rest of the source closes the channel: the reader stops.
        drop(verifier.run(batches));
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
