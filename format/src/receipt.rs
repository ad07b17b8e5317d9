//! Filing receipts in C2SP tlog-proof format.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the receipt record>
//! index <leaf index = position - 1>
//! <inclusion proof, one base64 hash a line>
//!
//! <cosigned checkpoint>
//! ```
//!
//! The receipt record (the `extra`) is `icac-ledger-receipt/v1\n`, `prev <64 hex>\n`,
//! then the event's canonical bytes. It is not trusted as such: the verifier hashes it
//! into the event hash (`SHA-256(prefix || prev || canonical)`), whose leaf must be
//! included at `index` under a checkpoint the policy accepts. So `recorded_at` and the
//! record hash are proven, not claimed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::chain::{event_hash, Hash32};
use super::merkle::{verify_inclusion, MAX_PROOF_LEN};
use super::policy::{Policy, PolicyError};
use super::record::{EventRecord, MAX_EVENT_BYTES};

/// First line of every receipt: the C2SP tlog-proof format and version (§13.6).
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";
const RECORD_HEADER: &str = "icac-ledger-receipt/v1\n";
/// Largest receipt file accepted.
pub const MAX_RECEIPT_BYTES: usize = 2 * MAX_EVENT_BYTES + 32 * 1024;

/// Why a receipt cannot be read or does not prove its record (§13.6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// The file is over [`MAX_RECEIPT_BYTES`]; holds its length.
    #[error("receipt is {0} bytes; the limit is {MAX_RECEIPT_BYTES}")]
    TooLarge(usize),
    /// The text breaks the receipt grammar: header, `extra`, `index` (canonical decimal),
    /// proof lines (at most [`MAX_PROOF_LEN`] base64 hashes), the blank line, or the
    /// `icac-ledger-receipt/v1` and `prev` lines inside `extra`.
    #[error("malformed receipt: {0}")]
    Malformed(&'static str),
    /// The record is not a canonical §2 record, or its `prev_hash` is not `prev`, or its
    /// `position` is not `index + 1`.
    #[error("the receipt record does not match: {0}")]
    Record(String),
    /// The checkpoint is not accepted under the policy (§13.5): log signature or quorum.
    #[error("checkpoint refused: {0}")]
    Checkpoint(#[from] PolicyError),
    /// The record's `ledger_id` is not the checkpoint's.
    #[error("the checkpoint is of ledger {checkpoint:?}, the record of {record:?}")]
    OtherLedger {
        /// The ledger id in the checkpoint's origin.
        checkpoint: String,
        /// The ledger id in the record.
        record: String,
    },
    /// The event hash's leaf is not included at `index` under the checkpoint's root.
    #[error("inclusion proof does not verify: {0}")]
    Inclusion(String),
}

/// A receipt as parsed (nothing verified yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The leaf index, the record's position − 1 (`index` line).
    pub index: u64,
    /// RFC 9162 inclusion path for `index`, the leaf's sibling first (§7).
    pub proof: Vec<Hash32>,
    /// The `prev` line of `extra`: the previous event's hash, hashed raw in front of the
    /// record (§4) and required to equal the record's own `prev_hash`.
    pub prev_hash: Hash32,
    /// The record's canonical bytes (§3), the rest of `extra`; the ledger issues receipts
    /// for format 2 records, which hold commitments only.
    pub canonical: Vec<u8>,
    /// The published checkpoint, cosigned by the policy's witnesses.
    pub checkpoint_note: String,
}

/// What a verified receipt proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptFacts {
    /// The record's ledger position (`index + 1`).
    pub position: u64,
    /// The event hash recomputed from `prev` and the record (§4); its leaf is the one proven.
    pub event_hash: Hash32,
    /// The record's `metadata.recorded_at`: when the ledger committed the filing, proven
    /// rather than claimed.
    pub recorded_at: String,
    /// The ledger, the same in the record and the checkpoint.
    pub ledger_id: String,
    /// The record's stream type.
    pub aggregate_type: String,
    /// The record's stream id, e.g. the case.
    pub aggregate_id: String,
    /// The record's event type, e.g. `NotificationFiled`.
    pub event_type: String,
    /// Size of the checkpoint the proof is against.
    pub checkpoint_size: u64,
    /// The checkpoint's `time` line: when it was cut.
    pub checkpoint_time: String,
    /// Policy names of the witnesses whose cosignatures verified.
    pub witnesses: Vec<String>,
}

impl Receipt {
    /// The receipt file's text, in the layout of §13.6; [`Receipt::parse`] reads it back.
    pub fn encode(&self) -> String {
        let mut extra = Vec::with_capacity(self.canonical.len() + 96);
        extra.extend_from_slice(RECORD_HEADER.as_bytes());
        extra.extend_from_slice(format!("prev {}\n", self.prev_hash.to_hex()).as_bytes());
        extra.extend_from_slice(&self.canonical);
        let mut s = format!(
            "{HEADER}\nextra {}\nindex {}\n",
            B64.encode(extra),
            self.index
        );
        for h in &self.proof {
            s.push_str(&B64.encode(h.0));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint_note);
        s
    }

    /// Reads a receipt file, checking its grammar only; [`Receipt::verify`] checks what it
    /// claims.
    pub fn parse(text: &str) -> Result<Self, ReceiptError> {
        if text.len() > MAX_RECEIPT_BYTES {
            return Err(ReceiptError::TooLarge(text.len()));
        }
        let m = ReceiptError::Malformed;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(m("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(m("first line must be c2sp.org/tlog-proof@v1"));
        }
        let extra = lines
            .next()
            .and_then(|l| l.strip_prefix("extra "))
            .ok_or(m("an icac-ledger receipt has an extra line"))?;
        let extra = B64.decode(extra).map_err(|_| m("extra is not base64"))?;
        let index = lines
            .next()
            .and_then(|l| l.strip_prefix("index "))
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 19
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (*s == "0" || !s.starts_with('0'))
            })
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(m("third line must be index <decimal>"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LEN {
                return Err(m("inclusion proof too long"));
            }
            let raw = B64
                .decode(line)
                .map_err(|_| m("proof line is not base64"))?;
            proof
                .push(Hash32::from_slice(&raw).map_err(|_| m("proof line is not a 32-byte hash"))?);
        }
        let rest = extra
            .strip_prefix(RECORD_HEADER.as_bytes())
            .ok_or(m("extra does not start with icac-ledger-receipt/v1"))?;
        let (prev_line, canonical) = rest
            .split_at_checked(5 + 64 + 1)
            .ok_or(m("extra has no prev line"))?;
        let prev_hex = std::str::from_utf8(prev_line)
            .ok()
            .and_then(|l| l.strip_prefix("prev "))
            .and_then(|l| l.strip_suffix('\n'))
            .filter(|h| !h.bytes().any(|b| b.is_ascii_uppercase()))
            .ok_or(m("extra's second line must be prev <64 lowercase hex>"))?;
        let prev_hash = Hash32::from_hex(prev_hex).map_err(|_| m("prev is not a hash"))?;
        Ok(Self {
            index,
            proof,
            prev_hash,
            canonical: canonical.to_vec(),
            checkpoint_note: note.to_owned(),
        })
    }

    /// Verifies the receipt with public keys only: checkpoint under the policy, record
    /// hashed into the leaf, leaf included at `index`.
    pub fn verify(&self, policy: &Policy) -> Result<ReceiptFacts, ReceiptError> {
        let accepted = policy.accept(&self.checkpoint_note)?;
        let cp = accepted.checkpoint;
        let record = EventRecord::from_canonical(&self.canonical)
            .map_err(|e| ReceiptError::Record(e.to_string()))?;
        if record.prev_hash != self.prev_hash {
            return Err(ReceiptError::Record(
                "prev differs from the record's prev_hash".into(),
            ));
        }
        if Some(record.position) != self.index.checked_add(1) {
            return Err(ReceiptError::Record(format!(
                "index {} is not the record's position {} - 1",
                self.index, record.position
            )));
        }
        if record.ledger_id.as_str() != cp.ledger_id {
            return Err(ReceiptError::OtherLedger {
                checkpoint: cp.ledger_id,
                record: record.ledger_id.as_str().to_owned(),
            });
        }
        let hash = event_hash(&self.prev_hash, &self.canonical);
        verify_inclusion(&hash, self.index, cp.size, &self.proof, &cp.root)
            .map_err(|e| ReceiptError::Inclusion(e.to_string()))?;
        Ok(ReceiptFacts {
            position: record.position,
            event_hash: hash,
            recorded_at: record.metadata.recorded_at,
            ledger_id: cp.ledger_id,
            aggregate_type: record.aggregate_type,
            aggregate_id: record.aggregate_id,
            event_type: record.event_type,
            checkpoint_size: cp.size,
            checkpoint_time: cp.time,
            witnesses: accepted.witnesses,
        })
    }
}
