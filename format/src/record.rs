//! The event record: the fields that are hashed, and the sealed form that is stored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::canonical::{self, CanonicalError, NotCanonical};
use super::chain::{event_hash, Hash32};
use super::keys::{KeyId, LedgerKey};

/// Canonical bytes of one event may not exceed this; bounds memory per event everywhere.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
const MAX_NAME_LEN: usize = 128;

/// Identifies one deployment's ledger; the partition key for running many ledgers on one
/// database. Lowercase ASCII letters, digits and '-', 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LedgerId(String);

impl LedgerId {
    /// Checks the §1 rule (1–64 characters of `[a-z0-9-]`); the error quotes at most 80
    /// characters of `s`.
    pub fn new(s: &str) -> Result<Self, RecordError> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(RecordError::BadLedgerId(s.chars().take(80).collect()))
        }
    }
    /// The id as written in records (`ledger_id`, §2) and in the checkpoint origin
    /// `icac-ledger/<ledger_id>` (§7).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LedgerId {
    type Error = RecordError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        LedgerId::new(&s)
    }
}

impl From<LedgerId> for String {
    fn from(id: LedgerId) -> String {
        id.0
    }
}

impl std::fmt::Display for LedgerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stream: all events of one aggregate instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    /// Stream type, e.g. `case` or `ledger` (§1); `ledger` holds key events only (§5).
    pub aggregate_type: String,
    /// Stream id within its type, e.g. a case id or, for the `ledger` stream, the ledger id
    /// (§5).
    pub aggregate_id: String,
}

impl StreamId {
    /// Builds a stream id without checking the names; [`check_name`] does that before an
    /// append.
    pub fn new(aggregate_type: &str, aggregate_id: &str) -> Self {
        Self {
            aggregate_type: aggregate_type.to_owned(),
            aggregate_id: aggregate_id.to_owned(),
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.aggregate_type, self.aggregate_id)
    }
}

/// Who did it, when the ledger recorded it, and which request carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMetadata {
    /// Who acted: the principal's id, e.g. `unit-reporter:new-haven-1` or `system:init` (as
    /// in the §8 vectors).
    pub principal: String,
    /// The law enforcement unit (ORI, e.g. `CT0006400`) the principal acts for; `None` when
    /// it is bound to no unit.
    pub unit: Option<String>,
    /// RFC 3339 UTC with exactly six fractional digits, e.g. `2026-11-28T22:33:57.123456Z`.
    pub recorded_at: String,
    /// The request that carried the event; every event appended for one request shares it.
    pub request_id: String,
    /// An optional id tying this request to related ones; the format gives it no meaning.
    pub correlation_id: Option<String>,
}

/// Every hashed field of an event: the record minus `hash` and `signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    /// The ledger this event belongs to (§1).
    pub ledger_id: LedgerId,
    /// Global position: 1, 2, 3, … in commit order with no gaps (§1, §6 step 2); Merkle
    /// leaf `position − 1` (§7).
    pub position: u64,
    /// Stream type (§2): 1–128 characters of `[A-Za-z0-9_.:-]`; `ledger` is reserved for
    /// key events (§5).
    pub aggregate_type: String,
    /// Stream id within `aggregate_type`, same alphabet and length (§2).
    pub aggregate_id: String,
    /// Position within the stream: 1 for its first event, then one more each time (§1, §6
    /// step 6).
    pub sequence: u64,
    /// What happened, e.g. `NotificationFiled`; same alphabet and length as the stream
    /// names (§2).
    pub event_type: String,
    /// Version of the payload's shape for this `event_type`, e.g. `"1"` (§2); the writer
    /// holds it to the stream names' alphabet and length ([`check_name`]).
    pub event_version: String,
    /// The event's content, domain-defined: integers only within ±(2^53−1) (§2), and in a
    /// version 2 record personal values only as `{"sealed": …}` commitments (§12.3).
    pub payload: Value,
    /// Who, when and for which request (§2); `recorded_at` never decreases along the chain
    /// (§6 step 7).
    pub metadata: EventMetadata,
    /// The previous event's `hash`, or
    /// [`GENESIS_PREV_HASH`](crate::chain::GENESIS_PREV_HASH) at position 1: the chain link
    /// (§4).
    pub prev_hash: Hash32,
    /// The key that signs this event; it must be valid for `position` in the keyring (§5,
    /// §6 step 5).
    pub key_id: KeyId,
    /// The record format: absent in version 1 records, `2` in records whose personal
    /// values are sealed out of the chain (docs/LEDGER_FORMAT.md, section 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u64>,
}

/// The record format this release writes.
pub const CURRENT_FORMAT_VERSION: u64 = super::sealed::FORMAT_VERSION_SEALED;

/// Why a record cannot be built, read or sealed: a rule of §2, §3 or §12 fails.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// A ledger id outside 1–64 characters of `[a-z0-9-]` (§1); holds at most 80 characters
    /// of it.
    #[error("ledger id must be 1-64 of [a-z0-9-]: {0:?}")]
    BadLedgerId(String),
    /// A stream type or id, event type or event version outside 1–128 characters of
    /// `[A-Za-z0-9_.:-]` (§2); raised by [`check_name`].
    #[error("{field} must be 1-{MAX_NAME_LEN} characters of [A-Za-z0-9_.:-]: {value:?}")]
    BadName {
        /// Which member: `aggregate_type`, `aggregate_id`, `event_type` or `event_version`.
        field: &'static str,
        /// The refused value, cut to 136 characters.
        value: String,
    },
    /// The canonical bytes are longer than [`MAX_EVENT_BYTES`]; holds their length.
    #[error("event is {0} bytes in canonical form; the limit is {MAX_EVENT_BYTES}")]
    TooLarge(usize),
    /// The record holds JSON outside the canonical subset (a number rule of §2, or
    /// nesting), found while serializing it.
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    /// Stored bytes are not JSON or not in canonical form (§3); raised by
    /// [`EventRecord::from_canonical`].
    #[error("stored event is not canonical JSON: {0}")]
    NotCanonical(#[from] NotCanonical),
    /// The JSON is not a §2 record (a missing, extra or mistyped member; serde's message).
    /// The application also raises it for a stored hash or signature column of the wrong
    /// length.
    #[error("stored event does not have the record fields: {0}")]
    Shape(String),
    /// `format_version` is present but not 2 (§12.2: a version 1 record omits it).
    #[error("format_version {0} is not a version this ledger writes (absent for version 1, or 2)")]
    FormatVersion(u64),
    /// A version 2 payload breaks the sealed-value rules of §12.3.
    #[error("version 2 payload: {0}")]
    Sealed(#[from] super::sealed::SealError),
}

/// Checks a stream type or id, event type or event version (§2): 1–128 characters of
/// `[A-Za-z0-9_.:-]`. `field` names the member in the error; the sequencer calls it before
/// every append.
pub fn check_name(field: &'static str, value: &str) -> Result<(), RecordError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_NAME_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(RecordError::BadName {
            field,
            value: value.chars().take(MAX_NAME_LEN + 8).collect(),
        })
    }
}

impl EventRecord {
    /// RFC 8785 bytes of this record; what `hash` is computed over.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, RecordError> {
        let value = serde_json::to_value(self).map_err(|e| RecordError::Shape(e.to_string()))?;
        let bytes = canonical::to_canonical_bytes(&value)?;
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(RecordError::TooLarge(bytes.len()));
        }
        Ok(bytes)
    }

    /// Parses stored canonical bytes, insisting they are canonical.
    pub fn from_canonical(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(RecordError::TooLarge(bytes.len()));
        }
        let value = canonical::parse_canonical(bytes)?;
        let record: Self =
            serde_json::from_value(value).map_err(|e| RecordError::Shape(e.to_string()))?;
        record.check_format()?;
        Ok(record)
    }

    /// The record's format version: 1 when the member is absent.
    pub fn format(&self) -> u64 {
        self.format_version.unwrap_or(1)
    }

    /// The rules of the record's format version beyond its shape (LEDGER_FORMAT.md
    /// section 12): version 1 never spells its version; a version 2 payload holds
    /// sealed values only in their one shape and no unsealed value.
    pub fn check_format(&self) -> Result<(), RecordError> {
        match self.format_version {
            None => Ok(()),
            Some(super::sealed::FORMAT_VERSION_SEALED) => {
                Ok(super::sealed::check_payload(&self.payload)?)
            }
            Some(other) => Err(RecordError::FormatVersion(other)),
        }
    }

    /// Parses stored bytes without re-checking that they are canonical: for the
    /// application's own reads, which trust the database. Verification uses
    /// `from_canonical`.
    pub fn from_stored(bytes: &[u8]) -> Result<Self, RecordError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(RecordError::TooLarge(bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| RecordError::Shape(e.to_string()))
    }

    /// The stream this event belongs to (§1).
    pub fn stream(&self) -> StreamId {
        StreamId::new(&self.aggregate_type, &self.aggregate_id)
    }

    /// Hashes and signs the record.
    pub fn seal(self, key: &LedgerKey) -> Result<SealedEvent, RecordError> {
        let mut sealed = self.hash_unsigned()?;
        sealed.signature = key.sign(&sealed.hash);
        Ok(sealed)
    }

    /// Hashes the record, leaving the signature zeroed for the caller to fill in (the
    /// sequencer signs a whole batch at once, in parallel).
    pub fn hash_unsigned(self) -> Result<SealedEvent, RecordError> {
        // A personal value that escaped sealing must never be hashed into the chain.
        self.check_format()?;
        let canonical = self.canonical_bytes()?;
        let hash = event_hash(&self.prev_hash, &canonical);
        Ok(SealedEvent {
            record: self,
            canonical,
            hash,
            signature: [0u8; 64],
        })
    }
}

/// A record with its hash and signature, and the exact bytes that were hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEvent {
    /// The hashed fields.
    pub record: EventRecord,
    /// The record's canonical bytes (§3), exactly what `hash` covers and what column
    /// `canonical` stores; at most [`MAX_EVENT_BYTES`].
    pub canonical: Vec<u8>,
    /// `SHA-256(prefix || prev_hash || canonical)` (§4); also the Merkle leaf input (§7)
    /// and the C2SP entry (§13.1).
    pub hash: Hash32,
    /// Ed25519 by `record.key_id` over the 32 raw bytes of `hash` (§5); zeros until signed
    /// (see [`EventRecord::hash_unsigned`]).
    pub signature: [u8; 64],
}

impl SealedEvent {
    /// The event as one JSON object (record fields plus `hash` and `signature`), the form
    /// used in export bundles and API responses.
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::to_value(&self.record).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.insert("hash".into(), Value::String(self.hash.to_hex()));
            map.insert(
                "signature".into(),
                Value::String(hex::encode(self.signature)),
            );
        }
        value
    }
}

/// Formats a timestamp the one way the ledger writes `recorded_at`.
pub fn format_recorded_at(ts: jiff::Timestamp) -> String {
    let micros = ts.as_microsecond();
    let secs = micros.div_euclid(1_000_000);
    let frac = micros.rem_euclid(1_000_000);
    let whole = jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let dt = whole.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        frac
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_at_format_is_fixed_width() {
        let ts: jiff::Timestamp = "2024-02-29T04:05:06.7Z".parse().unwrap();
        assert_eq!(format_recorded_at(ts), "2024-02-29T04:05:06.700000Z");
        assert_eq!(
            format_recorded_at(jiff::Timestamp::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn names_and_ledger_ids_are_checked() {
        assert!(LedgerId::new("ct-icac").is_ok());
        assert!(LedgerId::new("CT").is_err());
        assert!(LedgerId::new("").is_err());
        assert!(check_name("event_type", "NotificationFiled").is_ok());
        assert!(check_name("aggregate_id", "a b").is_err());
        assert!(check_name("aggregate_id", &"x".repeat(129)).is_err());
    }
}
