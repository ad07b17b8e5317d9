//! Personal data kept out of the chain.
//!
//! A field whose type is [`Sealed<T>`] is personal: a suspect's identifier, an
//! officer's name or phone, a victim's town, free text that may name anyone.
//! The ledger never hashes such a value. When an event is committed, the
//! ledger replaces each sealed value by a commitment (SHA-256 over a fresh
//! random salt and the value's canonical bytes; docs/LEDGER_FORMAT.md,
//! "Format version 2") and keeps the value and salt in an erasable store
//! beside the chain. What a field is, sealed or not, is decided here, by type:
//! nothing in the application keeps a list of personal field names.
//!
//! In JSON a sealed field takes one of three shapes:
//!
//! * the plain value, e.g. `"alice99"`: a form or command as a filer sends
//!   it, and what version 1 records hold (they predate sealing);
//! * `{"unsealed": value}`: a value on its way to the ledger. Serializing an
//!   [`Sealed::Open`] value gives this marker, so the ledger's sealing pass
//!   finds every personal value by its shape and can never miss one;
//! * `{"sealed": "<64 hex>"}`: the commitment, which is all a version 2 record
//!   holds.
//!
//! This crate is pure, so it never makes a commitment itself (that needs
//! random salt); it only carries them.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, DeserializeOwned};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// JSON member naming a commitment: `{"sealed": "<hex>"}`.
pub const SEALED_MEMBER: &str = "sealed";
/// JSON member marking a value the ledger must seal: `{"unsealed": value}`.
pub const UNSEALED_MEMBER: &str = "unsealed";

/// The 32-byte commitment to a sealed value, as it appears in the chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Commitment(pub [u8; 32]);

impl Commitment {
    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        s
    }

    /// Parses exactly 64 lowercase hex digits (the one spelling the chain allows).
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Self(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

impl fmt::Debug for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Commitment({})", self.to_hex())
    }
}

impl Serialize for Commitment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Commitment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::from_hex(&s)
            .ok_or_else(|| de::Error::custom("a commitment is 64 lowercase hex digits"))
    }
}

impl JsonSchema for Commitment {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Commitment".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[0-9a-f]{64}$" })
    }
}

impl fmt::Display for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A personal value: either the value itself (on the command side, before the
/// ledger seals it, or read from a version 1 record), or only its commitment.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Sealed<T> {
    Open(T),
    Committed(Commitment),
}

impl<T> Sealed<T> {
    /// The value, when this side holds it.
    pub fn value(&self) -> Option<&T> {
        match self {
            Self::Open(v) => Some(v),
            Self::Committed(_) => None,
        }
    }

    /// The commitment, once the ledger has sealed the value.
    pub fn commitment(&self) -> Option<Commitment> {
        match self {
            Self::Open(_) => None,
            Self::Committed(c) => Some(*c),
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open(_))
    }
}

impl<T> From<T> for Sealed<T> {
    fn from(value: T) -> Self {
        Self::Open(value)
    }
}

impl From<&str> for Sealed<String> {
    fn from(value: &str) -> Self {
        Self::Open(value.to_owned())
    }
}

/// Never prints a value: `Debug` output ends up in logs and panics.
impl<T> fmt::Debug for Sealed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(_) => f.write_str("Sealed(<open>)"),
            Self::Committed(c) => write!(f, "Sealed({c})"),
        }
    }
}

impl<T: Serialize> Serialize for Sealed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Self::Open(v) => map.serialize_entry(UNSEALED_MEMBER, v)?,
            Self::Committed(c) => map.serialize_entry(SEALED_MEMBER, &c.to_hex())?,
        }
        map.end()
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Sealed<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        match classify(value) {
            Shape::Commitment(c) => Ok(Self::Committed(c)),
            Shape::Value(v) => T::deserialize(v).map(Self::Open).map_err(de::Error::custom),
            Shape::BadCommitment => Err(de::Error::custom(
                "a sealed value's commitment must be 64 lowercase hex digits",
            )),
        }
    }
}

enum Shape {
    Commitment(Commitment),
    Value(Value),
    BadCommitment,
}

/// Which of the three JSON shapes `value` has.
fn classify(value: Value) -> Shape {
    let Value::Object(map) = value else {
        return Shape::Value(value);
    };
    if map.len() != 1 {
        return Shape::Value(Value::Object(map));
    }
    let Some((key, inner)) = map.into_iter().next() else {
        return Shape::Value(Value::Object(Map::new()));
    };
    match (key.as_str(), inner) {
        (SEALED_MEMBER, Value::String(hex)) => {
            Commitment::from_hex(&hex).map_or(Shape::BadCommitment, Shape::Commitment)
        }
        (SEALED_MEMBER, _) => Shape::BadCommitment,
        (UNSEALED_MEMBER, inner) => Shape::Value(inner),
        (_, inner) => {
            let mut map = Map::new();
            map.insert(key, inner);
            Shape::Value(Value::Object(map))
        }
    }
}

/// What committing an event does to the sealed store beyond keeping its openings:
/// the domain says which events destroy values, so the ledger never guesses from an
/// event's name.
pub trait SealedEffects {
    /// The values this event erases (in the same transaction), each by the position of
    /// the event that sealed it and its commitment: the store finds an opening by its
    /// position, never by scanning.
    fn erases(&self) -> Vec<(crate::ids::LedgerPosition, Commitment)> {
        Vec::new()
    }
}

/// Rewrites every `{"unsealed": v}` marker in `value` to the plain `v`: the shape
/// a filer sends, so a typed form can be checked by the same rules as raw input.
pub fn unmark(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.len() == 1 {
                if let Some(inner) = map.remove(UNSEALED_MEMBER) {
                    *value = inner;
                    return unmark(value);
                }
            }
            map.values_mut().for_each(unmark);
        }
        Value::Array(items) => items.iter_mut().for_each(unmark),
        _ => {}
    }
}

/// A form's schema shows what a filer sends: the plain value.
impl<T: JsonSchema> JsonSchema for Sealed<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }

    fn inline_schema() -> bool {
        T::inline_schema()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_shapes_round_trip() {
        let open: Sealed<String> = serde_json::from_str(r#""alice99""#).unwrap();
        assert_eq!(open, Sealed::Open("alice99".to_owned()));
        assert_eq!(
            serde_json::to_string(&open).unwrap(),
            r#"{"unsealed":"alice99"}"#
        );
        let marked: Sealed<String> = serde_json::from_str(r#"{"unsealed":"alice99"}"#).unwrap();
        assert_eq!(marked, open);
        let hex = "ab".repeat(32);
        let committed: Sealed<String> =
            serde_json::from_str(&format!(r#"{{"sealed":"{hex}"}}"#)).unwrap();
        assert_eq!(
            committed.commitment().map(|c| c.to_hex()),
            Some(hex.clone())
        );
        assert_eq!(
            serde_json::to_string(&committed).unwrap(),
            format!(r#"{{"sealed":"{hex}"}}"#)
        );
    }

    #[test]
    fn a_malformed_commitment_is_refused() {
        for bad in [
            r#"{"sealed":"AB"}"#,
            &format!(r#"{{"sealed":"{}"}}"#, "AB".repeat(32)),
            r#"{"sealed":7}"#,
        ] {
            assert!(
                serde_json::from_str::<Sealed<String>>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_value() {
        let open = Sealed::Open("555-0100".to_owned());
        assert!(!format!("{open:?}").contains("555"));
    }
}
