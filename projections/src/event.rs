//! Ledger rows as the read models see them: position, hash, who and when, and
//! the typed domain event after upcasting.

use cqrs_es::DomainEvent as _;
use icac_aggregates::case::CaseEvent;
use icac_aggregates::cybertip::CyberTipEvent;
use icac_aggregates::operation::OperationEvent;
use icac_aggregates::public_report::PublicReportEvent;
use icac_aggregates::units::UnitEvent;
use icac_aggregates::upcast::{upcast, UpcastError, Upcaster};
use icac_format::chain::Hash32;
use jiff::Timestamp;
use serde::de::DeserializeSeed;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The ledger's own stream type (key events); projections skip it.
pub const LEDGER_AGGREGATE_TYPE: &str = "ledger";
/// Releases of the annual report (`icac_aggregates::release`): no read model
/// folds them; the report reads their stream itself.
pub const RELEASE_AGGREGATE_TYPE: &str = "release";

/// Deconfliction's registrations and matches: the command side's match index reads
/// them (`commands::deconfliction`); no published view or figure does.
pub const DECONFLICTION_AGGREGATE_TYPE: &str = "deconfliction";

/// Events that carry nothing the read models fold: the ledger's key events, report
/// releases and deconfliction.
fn not_folded(aggregate_type: &str) -> bool {
    aggregate_type == LEDGER_AGGREGATE_TYPE
        || aggregate_type == RELEASE_AGGREGATE_TYPE
        || aggregate_type == DECONFLICTION_AGGREGATE_TYPE
}

/// The aggregate types whose events the read models fold ([`PayloadSeed`] decodes each).
const DOMAIN_AGGREGATE_TYPES: [&str; 6] = [
    "unit",
    "case",
    "cybertip",
    "operation",
    "public_report",
    "ncmec_tip",
];

/// The only event version this build reads after upcasting.
const SUPPORTED_VERSION: &str = icac_aggregates::EVENT_VERSION_1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainEvent {
    Unit(UnitEvent),
    Case(CaseEvent),
    Cybertip(CyberTipEvent),
    Operation(OperationEvent),
    PublicReport(PublicReportEvent),
    NcmecTip(icac_aggregates::tip_intake::TipEvent),
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown aggregate type {0:?}")]
    UnknownAggregateType(String),
    #[error(transparent)]
    Upcast(#[from] UpcastError),
    #[error("{event_type} is at version {version}, which this build cannot read")]
    UnsupportedVersion { event_type: String, version: String },
    #[error("{event_type} payload is tagged {tag:?}, not with its own type")]
    TagMismatch { event_type: String, tag: String },
    #[error("{aggregate_type}/{event_type} payload does not match the domain type: {source}")]
    Payload {
        aggregate_type: String,
        event_type: String,
        source: serde_json::Error,
    },
}

/// Turns a stored payload into a domain event. `Ok(None)` for the ledger's
/// own key events, which carry no case information.
pub fn decode(
    aggregate_type: &str,
    event_type: &str,
    event_version: &str,
    payload: Value,
) -> Result<Option<DomainEvent>, DecodeError> {
    if not_folded(aggregate_type) {
        return Ok(None);
    }
    let (version, payload) = upcast(aggregate_type, event_type, event_version, payload)?;
    if version != SUPPORTED_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            event_type: event_type.to_owned(),
            version,
        });
    }
    // The tag is hashed into the ledger alongside `event_type`; a mismatch
    // means the row was written by something other than this application.
    if let Some(tag) = payload.as_object().and_then(|o| o.keys().next()) {
        if tag != event_type {
            return Err(DecodeError::TagMismatch {
                event_type: event_type.to_owned(),
                tag: tag.clone(),
            });
        }
    }
    let bad = |source| DecodeError::Payload {
        aggregate_type: aggregate_type.to_owned(),
        event_type: event_type.to_owned(),
        source,
    };
    if !DOMAIN_AGGREGATE_TYPES.contains(&aggregate_type) {
        return Err(DecodeError::UnknownAggregateType(aggregate_type.to_owned()));
    }
    let seed = PayloadSeed {
        aggregate_type,
        event_type,
    };
    Ok(Some(seed.deserialize(payload).map_err(bad)?))
}

/// [`decode`] from the payload's JSON text. Payloads at the current version with no
/// upcast step (all of them today) go straight into the typed event, without the
/// intermediate `serde_json::Value` tree: the projections' hot path.
pub fn decode_str(
    aggregate_type: &str,
    event_type: &str,
    event_version: &str,
    payload: &str,
) -> Result<Option<DomainEvent>, DecodeError> {
    if not_folded(aggregate_type) {
        return Ok(None);
    }
    let bad = |source| DecodeError::Payload {
        aggregate_type: aggregate_type.to_owned(),
        event_type: event_type.to_owned(),
        source,
    };
    let Some(seed) = PayloadSeed::new(aggregate_type, event_type, event_version)? else {
        let value: Value = serde_json::from_str(payload).map_err(bad)?;
        return decode(aggregate_type, event_type, event_version, value);
    };
    let mut de = serde_json::Deserializer::from_str(payload);
    let event = seed.deserialize(&mut de).map_err(bad)?;
    de.end().map_err(bad)?;
    seed.check(&event)?;
    Ok(Some(event))
}

/// Decodes a payload into its typed event while its JSON is being read, so a caller
/// parsing a whole record reads the payload once. Only for payloads that need no
/// upcast: those are decoded through [`decode`].
#[derive(Debug, Clone, Copy)]
pub struct PayloadSeed<'a> {
    aggregate_type: &'a str,
    event_type: &'a str,
}

impl<'a> PayloadSeed<'a> {
    /// `Ok(None)` when the payload must go through [`decode`] instead (an upcast
    /// applies) or carries no domain event (the ledger's own key events).
    pub fn new(
        aggregate_type: &'a str,
        event_type: &'a str,
        event_version: &str,
    ) -> Result<Option<Self>, DecodeError> {
        if not_folded(aggregate_type) {
            return Ok(None);
        }
        if !DOMAIN_AGGREGATE_TYPES.contains(&aggregate_type) {
            return Err(DecodeError::UnknownAggregateType(aggregate_type.to_owned()));
        }
        let needs_upcast = event_version != SUPPORTED_VERSION
            || Upcaster::current().steps().iter().any(|s| {
                s.aggregate_type == aggregate_type
                    && s.event_type == event_type
                    && s.from_version == event_version
            });
        Ok((!needs_upcast).then_some(Self {
            aggregate_type,
            event_type,
        }))
    }

    /// The payload's variant is its only key, so this is [`decode`]'s tag check.
    pub fn check(&self, event: &DomainEvent) -> Result<(), DecodeError> {
        let tag = event.event_type();
        if tag != self.event_type {
            return Err(DecodeError::TagMismatch {
                event_type: self.event_type.to_owned(),
                tag,
            });
        }
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = DomainEvent;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<DomainEvent, D::Error> {
        match self.aggregate_type {
            "unit" => UnitEvent::deserialize(d).map(DomainEvent::Unit),
            "case" => CaseEvent::deserialize(d).map(DomainEvent::Case),
            "cybertip" => CyberTipEvent::deserialize(d).map(DomainEvent::Cybertip),
            "operation" => OperationEvent::deserialize(d).map(DomainEvent::Operation),
            "public_report" => PublicReportEvent::deserialize(d).map(DomainEvent::PublicReport),
            "ncmec_tip" => {
                icac_aggregates::tip_intake::TipEvent::deserialize(d).map(DomainEvent::NcmecTip)
            }
            // Constructed only for `DOMAIN_AGGREGATE_TYPES`.
            other => Err(serde::de::Error::custom(format!(
                "unknown aggregate type {other:?}"
            ))),
        }
    }
}

impl DomainEvent {
    /// The event's type name, as the ledger row's `event_type` states it.
    pub fn event_type(&self) -> String {
        match self {
            DomainEvent::Unit(e) => e.event_type(),
            DomainEvent::Case(e) => e.event_type(),
            DomainEvent::Cybertip(e) => e.event_type(),
            DomainEvent::Operation(e) => e.event_type(),
            DomainEvent::PublicReport(e) => e.event_type(),
            DomainEvent::NcmecTip(e) => e.event_type(),
        }
    }
}

/// One decoded ledger event with its place in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEvent {
    pub position: u64,
    pub hash: Hash32,
    /// When the ledger recorded it (metadata, not the command's own time).
    pub recorded_at: Timestamp,
    pub principal: String,
    pub unit: Option<String>,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event: DomainEvent,
}

impl LedgerEvent {
    pub fn aggregate_type(&self) -> &'static str {
        match self.event {
            DomainEvent::Unit(_) => "unit",
            DomainEvent::Case(_) => "case",
            DomainEvent::Cybertip(_) => "cybertip",
            DomainEvent::Operation(_) => "operation",
            DomainEvent::PublicReport(_) => "public_report",
            DomainEvent::NcmecTip(_) => "ncmec_tip",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ledger_key_events_are_skipped() {
        let got = decode("ledger", "LedgerInitialized", "1", json!({"x": 1})).unwrap();
        assert!(got.is_none());
    }

    #[test]
    fn unit_event_decodes() {
        let payload =
            json!({"UnitDeactivated": {"reason": "merged", "recorded_at": "2024-07-01T12:00:00Z"}});
        let got = decode("unit", "UnitDeactivated", "1", payload).unwrap();
        assert!(matches!(
            got,
            Some(DomainEvent::Unit(UnitEvent::UnitDeactivated { .. }))
        ));
    }

    #[test]
    fn decode_str_matches_decode() {
        let payload =
            json!({"UnitDeactivated": {"reason": "merged", "recorded_at": "2024-07-01T12:00:00Z"}});
        let text = payload.to_string();
        assert_eq!(
            decode_str("unit", "UnitDeactivated", "1", &text).unwrap(),
            decode("unit", "UnitDeactivated", "1", payload).unwrap()
        );
        assert!(decode_str("ledger", "LedgerInitialized", "1", "{}")
            .unwrap()
            .is_none());
        assert!(matches!(
            decode_str("unit", "UnitRenamed", "1", &text),
            Err(DecodeError::TagMismatch { .. })
        ));
        assert!(matches!(
            decode_str("unit", "UnitDeactivated", "9", &text),
            Err(DecodeError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            decode_str("widget", "UnitDeactivated", "1", &text),
            Err(DecodeError::UnknownAggregateType(_))
        ));
        assert!(matches!(
            decode_str("unit", "UnitDeactivated", "1", "{\"UnitDeactivated\": 3}"),
            Err(DecodeError::Payload { .. })
        ));
    }

    #[test]
    fn mismatched_tag_and_unknown_version_are_errors() {
        let payload =
            json!({"UnitDeactivated": {"reason": "merged", "recorded_at": "2024-07-01T12:00:00Z"}});
        assert!(matches!(
            decode("unit", "UnitRenamed", "1", payload.clone()),
            Err(DecodeError::TagMismatch { .. })
        ));
        assert!(matches!(
            decode("unit", "UnitDeactivated", "9", payload.clone()),
            Err(DecodeError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            decode("widget", "UnitDeactivated", "1", payload),
            Err(DecodeError::UnknownAggregateType(_))
        ));
    }
}

/// Whether this build knows `event_type` for `aggregate_type`: a variant of the
/// aggregate's event enum, or a type an upcast step reads. An event this build does
/// not know is not a broken one: another version of the software (or a benchmark)
/// wrote it, and a read model can skip it; a known event whose payload does not
/// decode is damage.
pub fn is_known_event(aggregate_type: &str, event_type: &str) -> bool {
    if not_folded(aggregate_type) {
        return true;
    }
    let variants = match aggregate_type {
        "unit" => variants::<UnitEvent>(),
        "case" => variants::<CaseEvent>(),
        "cybertip" => variants::<CyberTipEvent>(),
        "operation" => variants::<OperationEvent>(),
        "public_report" => variants::<PublicReportEvent>(),
        _ => return false,
    };
    variants.contains(&event_type)
        || Upcaster::current()
            .steps()
            .iter()
            .any(|s| s.aggregate_type == aggregate_type && s.event_type == event_type)
}

/// The variant names serde's derived `Deserialize` of an enum knows, asked of the type
/// itself so the list can never drift from it.
fn variants<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor};
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("not an enum"))
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = variants;
            Err(Self::Error::custom("variants read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            struct identifier ignored_any
        }
    }
    let mut found: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut found));
    found
}

#[cfg(test)]
mod known_events {
    use super::is_known_event;

    #[test]
    fn knows_the_domain_event_types_and_nothing_else() {
        assert!(is_known_event("case", "NotificationFiled"));
        assert!(is_known_event("case", "StatusChanged"));
        assert!(is_known_event("unit", "UnitRegistered"));
        assert!(is_known_event("ledger", "LedgerInitialized"));
        assert!(!is_known_event("case", "BenchEventRecorded"));
        assert!(!is_known_event("case", ""));
        assert!(!is_known_event("bench", "NotificationFiled"));
    }
}
