//! Stored rows into the typed events the read models fold. Trusts the database, like
//! `sealed_from_row` (verification trusts nothing), and reads only what the folds use.
//!
//! A canonical record's keys are sorted, so `aggregate_type`, `event_type` and
//! `event_version` come before `payload`, and the payload is decoded into its typed
//! event while the record is read ([`PayloadSeed`]): one pass over the bytes. Reading
//! the payload as raw JSON first and parsing it again cost a third of a replay's
//! decoding. A payload that needs an upcast, or that comes before its type (no
//! canonical record does), is kept raw and decoded afterwards.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use icac_projections::event::{decode_str, is_known_event, PayloadSeed};
use icac_projections::{DecodeError, DomainEvent, LedgerEvent};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{skipped, ProjectionError};
use crate::ledger::LedgerError;
use crate::storage::{CanonicalRow, StorageError, StoredRow};
use icac_format::chain::Hash32;
use icac_format::record::{RecordError, SealedEvent, MAX_EVENT_BYTES};

/// Parses and decodes one stored row; `Ok(None)` for the ledger's own key events and
/// for events of a type this build does not know (`read_side::skipped`).
pub fn to_ledger_event(row: StoredRow) -> Result<Option<LedgerEvent>, ProjectionError> {
    decode_event(row.position, &row.hash, &row.canonical)
}

/// Decodes one sealed event this process committed, from the canonical bytes it
/// carries; `Ok(None)` for the ledger's own key events.
pub fn from_sealed(sealed: &SealedEvent) -> Result<Option<LedgerEvent>, ProjectionError> {
    decode_event(sealed.record.position, &sealed.hash.0, &sealed.canonical)
}

/// One row read for the projections, decoded.
#[derive(Default)]
pub struct DecodedRow {
    pub position: u64,
    pub hash: Hash32,
    /// As stored (checkpoints state the time exactly as written).
    pub recorded_at: String,
    /// `None` for the ledger's own key events.
    pub event: Option<LedgerEvent>,
}

/// Decodes a page on all cores into `out`, in position order. `out` keeps its
/// allocation from page to page: a decoded event is about 600 bytes, and a fresh
/// multi-megabyte vector per page cost more in page faults (zeroing new pages) than
/// a fifth of the decoding itself.
pub fn decode_page(
    rows: &mut [CanonicalRow],
    out: &mut Vec<DecodedRow>,
) -> Result<(), ProjectionError> {
    use rayon::prelude::*;
    out.truncate(rows.len());
    out.resize_with(rows.len(), DecodedRow::default);
    out.par_iter_mut()
        .zip(rows.par_iter_mut())
        .try_for_each(|(slot, row)| {
            let event = decode_event(row.position, &row.hash, &row.canonical)?;
            let hash = stored_hash(row)?;
            *slot = DecodedRow {
                position: row.position,
                hash,
                recorded_at: std::mem::take(&mut row.recorded_at),
                event,
            };
            Ok(())
        })
}

/// The row's hash as stored, checked to be 32 bytes.
pub fn stored_hash(row: &CanonicalRow) -> Result<Hash32, ProjectionError> {
    Hash32::from_slice(&row.hash).map_err(|e| {
        ProjectionError::Storage(StorageError::Malformed {
            position: row.position,
            reason: e.to_string(),
        })
    })
}

fn decode_event(
    position: u64,
    hash: &[u8],
    canonical: &[u8],
) -> Result<Option<LedgerEvent>, ProjectionError> {
    let bad_row = |reason: String| {
        ProjectionError::Ledger(LedgerError::BadRow {
            position,
            source: RecordError::Shape(reason),
        })
    };
    if canonical.len() > MAX_EVENT_BYTES {
        return Err(bad_row(format!(
            "event is {} bytes; the limit is {MAX_EVENT_BYTES}",
            canonical.len()
        )));
    }
    // Validated once here, so no string inside is validated again.
    let text = std::str::from_utf8(canonical).map_err(|e| bad_row(e.to_string()))?;
    let payload_failure = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = RecordSeed {
        payload_failure: &payload_failure,
    }
    .deserialize(&mut de)
    .and_then(|r| de.end().map(|()| r));
    let r = match parsed {
        Ok(r) => r,
        Err(source) => {
            return Err(match payload_failure.into_inner() {
                Some((aggregate_type, event_type))
                    if !is_known_event(&aggregate_type, &event_type) =>
                {
                    skipped::record(position, &aggregate_type, &event_type);
                    return Ok(None);
                }
                Some((aggregate_type, event_type)) => ProjectionError::Decode {
                    position,
                    source: DecodeError::Payload {
                        aggregate_type,
                        event_type,
                        source,
                    },
                },
                None => bad_row(source.to_string()),
            })
        }
    };
    let position = r.position;
    let decode_error = |source| ProjectionError::Decode { position, source };
    let event = match r.payload {
        Payload::Decoded(event) => {
            let tag = event.event_type();
            if tag != r.event_type {
                return Err(decode_error(DecodeError::TagMismatch {
                    event_type: r.event_type.into_owned(),
                    tag,
                }));
            }
            event
        }
        Payload::Raw(raw) => {
            match decode_str(
                &r.aggregate_type,
                &r.event_type,
                &r.event_version,
                raw.get(),
            ) {
                Ok(Some(event)) => event,
                Ok(None) => return Ok(None),
                Err(_) if !is_known_event(&r.aggregate_type, &r.event_type) => {
                    skipped::record(position, &r.aggregate_type, &r.event_type);
                    return Ok(None);
                }
                Err(e) => return Err(decode_error(e)),
            }
        }
    };
    let recorded_at = r
        .metadata
        .recorded_at
        .parse()
        .map_err(|_| ProjectionError::Time {
            position,
            value: r.metadata.recorded_at.clone().into_owned(),
        })?;
    let hash = Hash32::from_slice(hash).map_err(|e| bad_row(e.to_string()))?;
    Ok(Some(LedgerEvent {
        position,
        hash,
        recorded_at,
        principal: r.metadata.principal,
        unit: r.metadata.unit,
        aggregate_id: r.aggregate_id,
        sequence: r.sequence,
        event,
    }))
}

/// The fields of a stored record the read models use, borrowed from its canonical
/// text where possible.
struct RecordFields<'a> {
    position: u64,
    aggregate_type: Cow<'a, str>,
    aggregate_id: String,
    sequence: u64,
    event_type: Cow<'a, str>,
    event_version: Cow<'a, str>,
    payload: Payload<'a>,
    metadata: MetadataFields<'a>,
}

// Short-lived, moved once: boxing the event would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
enum Payload<'a> {
    Decoded(DomainEvent),
    /// Key events, payloads that need an upcast, or one read before its type.
    Raw(&'a RawValue),
}

#[derive(serde::Deserialize)]
struct MetadataFields<'a> {
    principal: String,
    unit: Option<String>,
    #[serde(borrow)]
    recorded_at: Cow<'a, str>,
}

/// Reads a record. When the payload's typed decoding fails, the record's aggregate
/// and event types are left in `payload_failure`, so the error says which payload
/// failed rather than only where in the record.
struct RecordSeed<'s> {
    payload_failure: &'s RefCell<Option<(String, String)>>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = RecordFields<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = RecordFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a canonical ledger record")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut position = None;
        let mut aggregate_type: Option<Cow<'de, str>> = None;
        let mut aggregate_id = None;
        let mut sequence = None;
        let mut event_type: Option<Cow<'de, str>> = None;
        let mut event_version: Option<Cow<'de, str>> = None;
        let mut payload = None;
        let mut metadata = None;
        fn once<T, E: Error>(slot: &mut Option<T>, v: T, name: &'static str) -> Result<(), E> {
            if slot.replace(v).is_some() {
                return Err(E::duplicate_field(name));
            }
            Ok(())
        }
        while let Some(key) = map.next_key::<CowStr<'de>>()? {
            match key.0.as_ref() {
                "position" => once(&mut position, map.next_value::<u64>()?, "position")?,
                "aggregate_type" => once(
                    &mut aggregate_type,
                    map.next_value::<CowStr<'de>>()?.0,
                    "aggregate_type",
                )?,
                "aggregate_id" => once(
                    &mut aggregate_id,
                    map.next_value::<String>()?,
                    "aggregate_id",
                )?,
                "sequence" => once(&mut sequence, map.next_value::<u64>()?, "sequence")?,
                "event_type" => once(
                    &mut event_type,
                    map.next_value::<CowStr<'de>>()?.0,
                    "event_type",
                )?,
                "event_version" => once(
                    &mut event_version,
                    map.next_value::<CowStr<'de>>()?.0,
                    "event_version",
                )?,
                "metadata" => once(
                    &mut metadata,
                    map.next_value::<MetadataFields<'de>>()?,
                    "metadata",
                )?,
                "payload" => {
                    let seed = match (&aggregate_type, &event_type, &event_version) {
                        (Some(a), Some(e), Some(v)) => PayloadSeed::new(a, e, v).ok().flatten(),
                        _ => None,
                    };
                    let value = match seed {
                        Some(seed) => match map.next_value_seed(seed) {
                            Ok(event) => Payload::Decoded(event),
                            Err(e) => {
                                *self.payload_failure.borrow_mut() = Some((
                                    aggregate_type.as_deref().unwrap_or_default().to_owned(),
                                    event_type.as_deref().unwrap_or_default().to_owned(),
                                ));
                                return Err(e);
                            }
                        },
                        None => Payload::Raw(map.next_value::<&'de RawValue>()?),
                    };
                    once(&mut payload, value, "payload")?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(RecordFields {
            position: position.ok_or_else(|| A::Error::missing_field("position"))?,
            aggregate_type: aggregate_type
                .ok_or_else(|| A::Error::missing_field("aggregate_type"))?,
            aggregate_id: aggregate_id.ok_or_else(|| A::Error::missing_field("aggregate_id"))?,
            sequence: sequence.ok_or_else(|| A::Error::missing_field("sequence"))?,
            event_type: event_type.ok_or_else(|| A::Error::missing_field("event_type"))?,
            event_version: event_version.ok_or_else(|| A::Error::missing_field("event_version"))?,
            payload: payload.ok_or_else(|| A::Error::missing_field("payload"))?,
            metadata: metadata.ok_or_else(|| A::Error::missing_field("metadata"))?,
        })
    }
}

/// A string borrowed from the record when it has no escapes, owned otherwise (serde's
/// own `Cow<str>` always copies).
struct CowStr<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CowStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &str, event_type: &str) -> String {
        format!(
            r#"{{"aggregate_id":"CT0000100:24-00445","aggregate_type":"case","event_type":"{event_type}","event_version":"1","key_id":"k","ledger_id":"ct-icac","metadata":{{"correlation_id":null,"principal":"demo:generator","recorded_at":"2026-11-29T08:00:23.764357Z","request_id":"r","unit":null}},"payload":{payload},"position":5003,"prev_hash":"00","sequence":5}}"#
        )
    }

    const STATUS: &str = r#"{"StatusChanged":{"from":"triaged","recorded_at":"2024-08-03T16:07:00Z","to":"investigating"}}"#;

    #[test]
    fn one_pass_decoding_equals_decoding_the_raw_payload() {
        let text = record(STATUS, "StatusChanged");
        let got = decode_event(5003, &[7u8; 32], text.as_bytes())
            .unwrap()
            .unwrap();
        let raw = decode_str("case", "StatusChanged", "1", STATUS)
            .unwrap()
            .unwrap();
        assert_eq!(got.event, raw);
        assert_eq!(got.position, 5003);
        assert_eq!(got.sequence, 5);
        assert_eq!(got.aggregate_id, "CT0000100:24-00445");
        assert_eq!(got.principal, "demo:generator");
    }

    #[test]
    fn a_payload_before_its_type_is_still_decoded() {
        let text = format!(
            r#"{{"payload":{STATUS},"aggregate_id":"a","aggregate_type":"case","event_type":"StatusChanged","event_version":"1","metadata":{{"principal":"p","recorded_at":"2026-11-29T08:00:23Z","unit":null}},"position":9,"sequence":2}}"#
        );
        let got = decode_event(9, &[7u8; 32], text.as_bytes())
            .unwrap()
            .unwrap();
        assert!(matches!(got.event, DomainEvent::Case(_)));
    }

    #[test]
    fn events_of_unknown_types_are_skipped_not_fatal() {
        let bench = record(r#"{"i":0,"note":"x","task":1}"#, "BenchEventRecorded");
        assert!(decode_event(1, &[7u8; 32], bench.as_bytes())
            .unwrap()
            .is_none());
        let other_type = bench.replace(r#""aggregate_type":"case""#, r#""aggregate_type":"bench""#);
        assert!(decode_event(2, &[7u8; 32], other_type.as_bytes())
            .unwrap()
            .is_none());
        let newer = record(r#"{"Future":{}}"#, "Future");
        let newer = newer.replace(r#""event_version":"1""#, r#""event_version":"9""#);
        assert!(decode_event(3, &[7u8; 32], newer.as_bytes())
            .unwrap()
            .is_none());
        assert!(super::skipped::note().is_some_and(|n| n.contains("case/BenchEventRecorded")));
    }

    #[test]
    fn errors_name_what_failed() {
        let wrong_tag = record(STATUS, "ArrestRecorded");
        assert!(matches!(
            decode_event(1, &[7u8; 32], wrong_tag.as_bytes()),
            Err(ProjectionError::Decode {
                source: DecodeError::TagMismatch { .. },
                ..
            })
        ));
        let bad_payload = record(r#"{"StatusChanged":{"from":7}}"#, "StatusChanged");
        match decode_event(1, &[7u8; 32], bad_payload.as_bytes()) {
            Err(ProjectionError::Decode {
                source:
                    DecodeError::Payload {
                        aggregate_type,
                        event_type,
                        ..
                    },
                ..
            }) => assert_eq!(
                (aggregate_type.as_str(), event_type.as_str()),
                ("case", "StatusChanged")
            ),
            other => panic!("{other:?}"),
        }
        for broken in [
            &record(STATUS, "StatusChanged")[..100],
            r#"{"position":1,"position":2}"#,
            "not json",
            r#"{"position":1}"#,
        ] {
            assert!(
                matches!(
                    decode_event(1, &[7u8; 32], broken.as_bytes()),
                    Err(ProjectionError::Ledger(LedgerError::BadRow { .. }))
                ),
                "{broken}"
            );
        }
        assert!(decode_event(1, &[7u8; 32], b"\xff\xfe").is_err());
    }
}
