//! Format version 2's sealed values (docs/LEDGER_FORMAT.md, section 12): the
//! commitment that stands in a record for a personal value, the opening that
//! proves it, and the walks over a payload that find them.
//!
//! Pure: the salt comes from the caller, so the ledger can draw it from the OS
//! and a test vector can fix it.

use std::collections::HashSet;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::canonical::{self, CanonicalError};
use crate::chain::Hash32;

/// Domain-separation prefix of a commitment.
pub const SEALED_PREFIX: &[u8] = b"icac-ledger:sealed:v2\x00";
/// The member naming a commitment in a version 2 payload: `{"sealed": "<hex>"}`.
pub const SEALED_MEMBER: &str = "sealed";
/// The member marking a value still to be sealed: `{"unsealed": value}`.
pub const UNSEALED_MEMBER: &str = "unsealed";
/// The record format that seals personal values.
pub const FORMAT_VERSION_SEALED: u64 = 2;
/// Most sealed values one event may hold (bounds the openings one commit writes).
pub const MAX_SEALED_PER_EVENT: usize = 1_024;

/// `SHA-256(SEALED_PREFIX || salt || value_bytes)`, `value_bytes` canonical JSON.
pub fn commitment(salt: &[u8; 32], value_bytes: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update(SEALED_PREFIX);
    h.update(salt);
    h.update(value_bytes);
    Hash32(h.finalize().into())
}

/// A sealed value with what proves it: kept in the sealed store, never in the chain.
#[derive(Clone, PartialEq, Eq)]
pub struct Opening {
    /// `SHA-256(SEALED_PREFIX || salt || value)` (§12.1): what the payload's `{"sealed":
    /// "<hex>"}` object holds.
    pub commitment: Hash32,
    /// JSON Pointer of the sealed object within its event's payload.
    pub path: String,
    /// 32 random bytes, fresh for every value (§12.1), so equal values get unrelated
    /// commitments; with the salt destroyed (§12.5) the value cannot be recovered.
    pub salt: [u8; 32],
    /// The value's canonical JSON bytes.
    pub value: Vec<u8>,
}

impl Opening {
    /// Whether salt and value give the commitment.
    pub fn is_valid(&self) -> bool {
        commitment(&self.salt, &self.value) == self.commitment
    }
}

/// Never prints the value or the salt.
impl std::fmt::Debug for Opening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Opening({} at {})", self.commitment, self.path)
    }
}

/// Why a payload cannot be sealed, or breaks the version 2 rules of §12.3.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// A value to seal has no canonical form (§2, "Numbers"; nesting); holds its JSON
    /// Pointer and the reason.
    #[error("a sealed value at {0} is not canonical JSON: {1}")]
    Value(String, CanonicalError),
    /// Sealing would put more than [`MAX_SEALED_PER_EVENT`] values in one event.
    #[error("an event may hold at most {MAX_SEALED_PER_EVENT} sealed values")]
    TooMany,
    /// An object with a `sealed` member that has another member or is not 64 lowercase hex
    /// digits (§12.3: *content altered*); holds its JSON Pointer.
    #[error("{0}: a \"sealed\" member must stand alone, as 64 lowercase hex digits")]
    BadCommitment(String),
    /// An object with an `unsealed` member in a record, that is, a value that escaped
    /// sealing (§12.3); holds its JSON Pointer.
    #[error("{0}: an \"unsealed\" value in a record escaped sealing")]
    Unsealed(String),
}

/// Replaces every `{"unsealed": v}` object in `payload` by `{"sealed": commitment}`,
/// drawing one salt per value, and returns the openings in document order.
pub fn seal_payload(
    payload: &mut Value,
    salt: &mut dyn FnMut() -> [u8; 32],
) -> Result<Vec<Opening>, SealError> {
    let mut openings = Vec::new();
    seal_walk(payload, &mut String::new(), salt, &mut openings)?;
    Ok(openings)
}

fn seal_walk(
    value: &mut Value,
    path: &mut String,
    salt: &mut dyn FnMut() -> [u8; 32],
    out: &mut Vec<Opening>,
) -> Result<(), SealError> {
    match value {
        Value::Object(map) => {
            if let Some(inner) = unsealed_inner(map) {
                let bytes = canonical::to_canonical_bytes(inner)
                    .map_err(|e| SealError::Value(path.clone(), e))?;
                if out.len() >= MAX_SEALED_PER_EVENT {
                    return Err(SealError::TooMany);
                }
                let s = salt();
                let c = commitment(&s, &bytes);
                out.push(Opening {
                    commitment: c,
                    path: path.clone(),
                    salt: s,
                    value: bytes,
                });
                *value = sealed_object(&c);
                return Ok(());
            }
            for (key, child) in map.iter_mut() {
                let len = path.len();
                push_token(path, key);
                seal_walk(child, path, salt, out)?;
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                seal_walk(child, path, salt, out)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn unsealed_inner(map: &Map<String, Value>) -> Option<&Value> {
    if map.len() == 1 {
        map.get(UNSEALED_MEMBER)
    } else {
        None
    }
}

/// `{"sealed": "<hex>"}`.
pub fn sealed_object(c: &Hash32) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert(SEALED_MEMBER.to_owned(), Value::String(c.to_hex()));
    Value::Object(m)
}

/// Appends one RFC 6901 reference token (`~` as `~0`, `/` as `~1`).
fn push_token(path: &mut String, key: &str) {
    path.push('/');
    for ch in key.chars() {
        match ch {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// Whether a version 2 payload follows section 12.3, without collecting anything: the
/// check every appended event pays. On a failure, [`commitments`] words the error with
/// its JSON Pointer.
pub fn check_payload(payload: &Value) -> Result<(), SealError> {
    if shapes_ok(payload) {
        Ok(())
    } else {
        commitments(payload).map(|_| ())
    }
}

fn shapes_ok(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            if map.contains_key(UNSEALED_MEMBER) {
                return false;
            }
            match map.get(SEALED_MEMBER) {
                Some(Value::String(hex)) => map.len() == 1 && Hash32::from_hex(hex).is_ok(),
                Some(_) => false,
                None => map.values().all(shapes_ok),
            }
        }
        Value::Array(items) => items.iter().all(shapes_ok),
        _ => true,
    }
}

/// The commitments in a version 2 payload, with their JSON Pointers, in document
/// order; refuses a malformed `sealed` object and any `unsealed` one (section 12.3).
pub fn commitments(payload: &Value) -> Result<Vec<(String, Hash32)>, SealError> {
    let mut out = Vec::new();
    find_walk(payload, &mut String::new(), &mut out)?;
    Ok(out)
}

fn find_walk(
    value: &Value,
    path: &mut String,
    out: &mut Vec<(String, Hash32)>,
) -> Result<(), SealError> {
    match value {
        Value::Object(map) => {
            if map.contains_key(UNSEALED_MEMBER) {
                return Err(SealError::Unsealed(path.clone()));
            }
            if let Some(member) = map.get(SEALED_MEMBER) {
                let c = match (map.len(), member) {
                    (1, Value::String(hex)) => Hash32::from_hex(hex).ok(),
                    _ => None,
                };
                let c = c.ok_or_else(|| SealError::BadCommitment(path.clone()))?;
                out.push((path.clone(), c));
                return Ok(());
            }
            for (key, child) in map {
                let len = path.len();
                push_token(path, key);
                find_walk(child, path, out)?;
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                find_walk(child, path, out)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Names one sealed value without its content: the position of the event whose payload
/// holds its commitment, and the commitment (§12.5 names erased values this way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SealedRef {
    /// The ledger position of the event that sealed the value.
    pub position: u64,
    /// The value's commitment in that event's payload.
    pub commitment: Hash32,
}

/// The values named by the `PersonalDataErased` payloads (§12.5) anywhere in `doc`: one
/// payload, a list of them, or a case's whole history. Entries that do not parse name
/// nothing, so a verifier that finds an opening missing reports it as unavailable, the
/// weaker claim, rather than as erased.
pub fn erased_in(doc: &Value) -> HashSet<SealedRef> {
    let mut out = HashSet::new();
    collect_erased(doc, &mut out);
    out
}

fn collect_erased(doc: &Value, out: &mut HashSet<SealedRef>) {
    match doc {
        Value::Object(map) => {
            if let Some(list) = map
                .get("PersonalDataErased")
                .and_then(|e| e.get("erased"))
                .and_then(Value::as_array)
            {
                out.extend(list.iter().filter_map(|v| {
                    Some(SealedRef {
                        position: v.get("position")?.as_str()?.parse().ok()?,
                        commitment: Hash32::from_hex(v.get("commitment")?.as_str()?).ok()?,
                    })
                }));
            }
            map.values().for_each(|v| collect_erased(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_erased(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn counter() -> impl FnMut() -> [u8; 32] {
        let mut n = 0u8;
        move || {
            n += 1;
            [n; 32]
        }
    }

    #[test]
    fn sealing_replaces_every_marked_value_and_records_where_it_was() {
        let mut payload = json!({
            "form": {"officer": {"name": {"unsealed": "Det. Ruiz"}, "phone": {"unsealed": "203-555-0100"}},
                     "subjects": [{"kind": "screen_name", "value": {"unsealed": "alice99"}}],
                     "a/b~c": {"unsealed": 7}},
            "urgent": true
        });
        let openings = seal_payload(&mut payload, &mut counter()).unwrap();
        let paths: Vec<&str> = openings.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/form/a~1b~0c",
                "/form/officer/name",
                "/form/officer/phone",
                "/form/subjects/0/value"
            ]
        );
        assert!(openings.iter().all(Opening::is_valid));
        let text = payload.to_string();
        for secret in ["Ruiz", "555", "alice99", "unsealed"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        let found = commitments(&payload).unwrap();
        assert_eq!(found.len(), 4);
        for ((path, c), o) in found.iter().zip(&openings) {
            assert_eq!((path, c), (&o.path, &o.commitment));
        }
    }

    #[test]
    fn the_commitment_binds_salt_and_value() {
        let c = commitment(&[1; 32], br#""alice99""#);
        assert_ne!(c, commitment(&[2; 32], br#""alice99""#));
        assert_ne!(c, commitment(&[1; 32], br#""alice98""#));
    }

    #[test]
    fn malformed_sealed_objects_and_leftover_markers_are_refused() {
        let hex = "ab".repeat(32);
        for bad in [
            json!({"x": {"sealed": hex, "y": 1}}),
            json!({"x": {"sealed": "AB"}}),
            json!({"x": [{"sealed": 5}]}),
            json!({"x": {"unsealed": "v"}}),
        ] {
            assert!(commitments(&bad).is_err(), "{bad}");
            assert_eq!(check_payload(&bad), commitments(&bad).map(|_| ()), "{bad}");
        }
        let good = json!({"x": [{"sealed": hex}], "y": {"z": 1}});
        assert_eq!(check_payload(&good), Ok(()));
    }
}
