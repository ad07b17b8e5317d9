//! Offline bundle verification (`audit::bundle`) on arbitrary bytes, against a genuine
//! bundle as ground truth.

use std::io::Cursor;

use ed25519_dalek::VerifyingKey;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ensure, Violation};
use crate::audit::bundle::{verify_bundle, Header, Trailer};
use crate::audit::verify::{Report, VerifyOptions};
use icac_format::canonical::to_canonical_bytes;
use icac_format::chain::{Hash32, GENESIS_PREV_HASH};
use icac_format::checkpoint::{self, Checkpoint, NoteVerifier};
use icac_format::keys::{parse_public_key, KeyringEntry};
use icac_format::merkle::MerkleAccumulator;
use icac_format::record::LedgerId;

/// One genuine event of the reference ledger.
pub(super) struct RefEvent {
    /// The bundle line: canonical JSON of the record plus `hash` and `signature`.
    pub line: Vec<u8>,
    /// Canonical JSON of the record alone (what was hashed).
    pub record: Vec<u8>,
    pub hash: Hash32,
    pub signature: Vec<u8>,
}

/// A genuine ledger, read from an export bundle of all of it (which must verify
/// intact): everything a fuzzed bundle, checkpoint or proof is compared with.
pub struct Reference {
    pub(super) ledger_id: LedgerId,
    pub(super) header: Header,
    /// Index `p - 1` holds position `p`.
    pub(super) events: Vec<RefEvent>,
    /// `roots[n]` / `frontiers[n]`: the Merkle root and compact range of the first `n`.
    pub(super) roots: Vec<Hash32>,
    pub(super) frontiers: Vec<Vec<Hash32>>,
    pub(super) keys: Vec<VerifyingKey>,
}

fn bad(msg: impl Into<String>) -> Violation {
    Violation(format!("reference bundle: {}", msg.into()))
}

/// Parses a one-member object line `{"<key>": {...}}` into `T`.
fn tagged<T: DeserializeOwned>(line: &[u8], key: &str) -> Option<T> {
    let value: Value = serde_json::from_slice(line).ok()?;
    let mut map = match value {
        Value::Object(map) if map.len() == 1 => map,
        _ => return None,
    };
    serde_json::from_value(map.remove(key)?).ok()
}

/// Lines without their newlines; `None` unless every line (the last too) ends in one.
fn lines(data: &[u8]) -> Option<Vec<&[u8]>> {
    let body = data.strip_suffix(b"\n")?;
    Some(body.split(|&b| b == b'\n').collect())
}

impl Reference {
    /// Reads a genuine bundle from position 1; refuses one that does not verify.
    pub fn from_bundle(data: &[u8]) -> Result<Self, Violation> {
        let report = run(data)?;
        if !report.intact || report.from != 1 {
            return Err(bad(format!(
                "does not verify intact from position 1: {:?}",
                report.first_break
            )));
        }
        let lines = lines(data).ok_or_else(|| bad("does not end in a newline"))?;
        let (header_line, rest) = lines.split_first().ok_or_else(|| bad("empty"))?;
        let (_, event_lines) = rest.split_last().ok_or_else(|| bad("no trailer"))?;
        let header: Header =
            tagged(header_line, "icac_ledger_bundle").ok_or_else(|| bad("header"))?;
        let mut events = Vec::new();
        for line in event_lines {
            let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(line) else {
                return Err(bad("an event line is not an object"));
            };
            let text = |v: Option<Value>| match v {
                Some(Value::String(s)) => Ok(s),
                _ => Err(bad("an event line lacks hash or signature")),
            };
            let hash = Hash32::from_hex(&text(map.remove("hash"))?)
                .map_err(|e| bad(format!("event hash: {e}")))?;
            let signature = hex::decode(text(map.remove("signature"))?)
                .map_err(|e| bad(format!("event signature: {e}")))?;
            let record = to_canonical_bytes(&Value::Object(map))
                .map_err(|e| bad(format!("event record: {e}")))?;
            events.push(RefEvent {
                line: line.to_vec(),
                record,
                hash,
                signature,
            });
        }
        let mut acc = MerkleAccumulator::new();
        let mut roots = vec![acc.root()];
        let mut frontiers = vec![acc.frontier().to_vec()];
        for e in &events {
            acc.push(&e.hash).map_err(|e| bad(e.to_string()))?;
            roots.push(acc.root());
            frontiers.push(acc.frontier().to_vec());
        }
        let keys = header
            .keyring
            .iter()
            .map(|e| parse_public_key(&e.public_key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("keyring: {e}")))?;
        Ok(Self {
            ledger_id: header.ledger_id.clone(),
            header,
            events,
            roots,
            frontiers,
            keys,
        })
    }

    pub(super) fn size(&self) -> u64 {
        self.events.len() as u64
    }

    /// The event hash at `position` (the zero hash before position 1).
    pub(super) fn hash_at(&self, position: u64) -> Option<Hash32> {
        match position {
            0 => Some(GENESIS_PREV_HASH),
            p => self
                .events
                .get(usize::try_from(p - 1).ok()?)
                .map(|e| e.hash),
        }
    }

    pub(super) fn root_at(&self, size: u64) -> Option<Hash32> {
        self.roots.get(usize::try_from(size).ok()?).copied()
    }

    /// The keyring the reference ledger published.
    pub fn keyring(&self) -> &[KeyringEntry] {
        &self.header.keyring
    }

    pub(super) fn note_keys(&self) -> checkpoint::NoteVerifiers {
        let mut ring = checkpoint::NoteVerifiers::new();
        for k in &self.keys {
            if let Ok(v) = NoteVerifier::for_ledger(self.ledger_id.as_str(), *k) {
                ring.add(v);
            }
        }
        ring
    }

    /// A checkpoint is true of the reference ledger: same ledger, a size it reached, and
    /// the root and head it had at that size.
    pub(super) fn is_true(&self, cp: &Checkpoint) -> bool {
        cp.ledger_id == self.ledger_id.as_str()
            && cp.size <= self.size()
            && self.root_at(cp.size) == Some(cp.root)
            && self.hash_at(cp.size) == Some(cp.head)
    }
}

fn run(data: &[u8]) -> Result<Report, Violation> {
    verify_bundle(
        Box::new(Cursor::new(data.to_vec())),
        "fuzz input",
        VerifyOptions::default(),
    )
    .map_err(|e| {
        Violation(format!(
            "verification could not run on in-memory bytes: {e}"
        ))
    })
}

/// Verification never fails to run on bytes in memory, its report is consistent, every
/// event it counts as verified is the genuine one, and it says "intact" only for a
/// bundle that states what the genuine ledger states: the same events, header facts and
/// a trailer with a genuine checkpoint of the same size.
pub fn bundle(data: &[u8], reference: &Reference) -> Result<(), Violation> {
    let r = run(data)?;
    ensure(r.intact == r.first_break.is_none(), || {
        format!(
            "intact is {} with first_break {:?}",
            r.intact, r.first_break
        )
    })?;
    ensure(r.from >= 1 && r.head_position + 1 >= r.from, || {
        format!("report covers from {} to {}", r.from, r.head_position)
    })?;
    ensure(r.events_verified == r.head_position + 1 - r.from, || {
        format!(
            "{} events verified between {} and {}",
            r.events_verified, r.from, r.head_position
        )
    })?;
    if let Some(b) = &r.first_break {
        ensure(
            // A header break is at 0; a bundle whose header could not even start a
            // verifier reports from 1 with nothing verified and its own start.
            b.position == 0
                || (b.position >= r.from && b.position <= r.head_position + 1)
                || r.events_verified == 0,
            || {
                format!(
                    "break at {} outside the verified range {}..={}",
                    b.position, r.from, r.head_position
                )
            },
        )?;
    }
    if r.head_position >= r.from {
        ensure(
            reference.hash_at(r.head_position) == Some(r.head_hash),
            || {
                format!(
                    "verified up to position {} with head {}, which is not the genuine event there",
                    r.head_position, r.head_hash
                )
            },
        )?;
    }
    if r.intact {
        intact_states_the_truth(data, &r, reference)?;
    }
    Ok(())
}

/// What a bundle's events can vouch for in its header's keyring: the keys valid within
/// `..=to` and periods that end inside it. Later rotations are the header's unverifiable
/// news (docs/LEDGER_FORMAT.md), so a period ending at or after `to` counts as open.
fn verifiable_keys(keyring: &[KeyringEntry], to: u64) -> Vec<(String, String, u64, Option<u64>)> {
    keyring
        .iter()
        .filter(|e| e.valid_from <= to)
        .map(|e| {
            (
                e.key_id.to_string(),
                e.public_key.clone(),
                e.valid_from,
                e.valid_to.filter(|&end| end < to),
            )
        })
        .collect()
}

fn intact_states_the_truth(
    data: &[u8],
    r: &Report,
    reference: &Reference,
) -> Result<(), Violation> {
    let lie = |what: &str| Violation(format!("reported intact, but {what}"));
    let lines = lines(data).ok_or_else(|| lie("the bundle does not end in a newline"))?;
    let (header_line, rest) = lines.split_first().ok_or_else(|| lie("it is empty"))?;
    let (trailer_line, event_lines) = rest.split_last().ok_or_else(|| lie("no trailer"))?;
    let h: Header = tagged(header_line, "icac_ledger_bundle")
        .ok_or_else(|| lie("the header does not parse"))?;
    let t: Trailer =
        tagged(trailer_line, "trailer").ok_or_else(|| lie("the trailer does not parse"))?;

    ensure(h.ledger_id == reference.ledger_id, || {
        format!("reported intact for ledger {}", h.ledger_id)
    })?;
    ensure(
        h.to <= reference.size() && r.head_position == h.to && r.from == h.from,
        || {
            format!(
                "reported intact for {}..={} (header {}..={}) of a {}-event ledger",
                r.from,
                r.head_position,
                h.from,
                h.to,
                reference.size()
            )
        },
    )?;
    let genuine = usize::try_from(h.from - 1)
        .ok()
        .and_then(|a| Some(a..usize::try_from(h.to).ok()?))
        .and_then(|range| reference.events.get(range))
        .ok_or_else(|| lie("its range is outside the reference"))?;
    ensure(
        event_lines.len() == genuine.len()
            && event_lines
                .iter()
                .zip(genuine)
                .all(|(l, e)| *l == e.line.as_slice()),
        || lie("its event lines differ from the genuine ones").0,
    )?;
    ensure(
        Some(r.merkle_root) == reference.root_at(h.to)
            && Some(r.head_hash) == reference.hash_at(h.to),
        || lie("its root or head is not the genuine one").0,
    )?;
    let frontier = usize::try_from(h.from - 1)
        .ok()
        .and_then(|n| reference.frontiers.get(n));
    ensure(
        Some(h.prev_hash) == reference.hash_at(h.from - 1)
            && Some(&h.prefix_frontier) == frontier
            && h.genesis_key_id == reference.header.genesis_key_id
            && verifiable_keys(&h.keyring, h.to)
                == verifiable_keys(&reference.header.keyring, h.to),
        || {
            format!(
                "reported intact with a header that differs from the genuine one: {:?}",
                String::from_utf8_lossy(header_line)
            )
        },
    )?;
    ensure(
        t.count == h.to - h.from + 1
            && Some(t.head) == reference.hash_at(h.to)
            && Some(t.root) == reference.root_at(h.to),
        || lie("its trailer's count, head or root is not the genuine one").0,
    )?;
    let cp = checkpoint::parse_and_verify(&t.checkpoint, &reference.note_keys())
        .map_err(|e| lie(&format!("its trailer's checkpoint is not genuine: {e}")))?;
    ensure(cp.size == h.to && reference.is_true(&cp), || {
        lie("its trailer's checkpoint is not the genuine one at its size").0
    })
}
