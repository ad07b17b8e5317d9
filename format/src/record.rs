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
    pub aggregate_type: String,
    pub aggregate_id: String,
}

impl StreamId {
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
    pub principal: String,
    pub unit: Option<String>,
    /// RFC 3339 UTC with exactly six fractional digits, e.g. `2026-11-28T22:33:57.123456Z`.
    pub recorded_at: String,
    pub request_id: String,
    pub correlation_id: Option<String>,
}

/// Every hashed field of an event: the record minus `hash` and `signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRecord {
    pub ledger_id: LedgerId,
    pub position: u64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: EventMetadata,
    pub prev_hash: Hash32,
    pub key_id: KeyId,
    /// The record format: absent in version 1 records, `2` in records whose personal
    /// values are sealed out of the chain (docs/LEDGER_FORMAT.md, section 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_version: Option<u64>,
}

/// The record format this release writes.
pub const CURRENT_FORMAT_VERSION: u64 = super::sealed::FORMAT_VERSION_SEALED;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    #[error("ledger id must be 1-64 of [a-z0-9-]: {0:?}")]
    BadLedgerId(String),
    #[error("{field} must be 1-{MAX_NAME_LEN} characters of [A-Za-z0-9_.:-]: {value:?}")]
    BadName { field: &'static str, value: String },
    #[error("event is {0} bytes in canonical form; the limit is {MAX_EVENT_BYTES}")]
    TooLarge(usize),
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
    #[error("stored event is not canonical JSON: {0}")]
    NotCanonical(#[from] NotCanonical),
    #[error("stored event does not have the record fields: {0}")]
    Shape(String),
    #[error("format_version {0} is not a version this ledger writes (absent for version 1, or 2)")]
    FormatVersion(u64),
    #[error("version 2 payload: {0}")]
    Sealed(#[from] super::sealed::SealError),
}

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
    pub record: EventRecord,
    pub canonical: Vec<u8>,
    pub hash: Hash32,
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
