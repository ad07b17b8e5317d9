//! RFC 8785 canonicalization (`icac_format::canonical`) on arbitrary JSON.

use serde_json::Value;

use super::{ensure, Violation};
use icac_format::canonical::{
    parse_canonical, to_canonical_bytes, CanonicalError, MAX_DEPTH, MAX_SAFE_INTEGER,
};

/// For bytes that parse as JSON: the canonicalizer either refuses for a reason that is
/// true of the value (an unsafe number where it points, nesting deeper than allowed), or
/// yields bytes that an independent serializer agrees with, that parse back to the same
/// value and re-canonicalize to themselves. `parse_canonical` accepts exactly those bytes.
pub fn canonical(data: &[u8]) -> Result<(), Violation> {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return ensure(parse_canonical(data).is_err(), || {
            "parse_canonical accepted bytes that are not JSON".into()
        });
    };
    match to_canonical_bytes(&value) {
        Err(CanonicalError::UnsafeNumber(shown, pointer)) => {
            let found = value.pointer(&pointer);
            ensure(
                matches!(found, Some(Value::Number(n)) if !is_safe(n) && n.to_string() == shown),
                || format!("refused number {shown} at {pointer:?}, which points at {found:?}"),
            )?;
            ensure(parse_canonical(data).is_err(), || {
                "parse_canonical accepted a value to_canonical_bytes refuses".into()
            })
        }
        Err(CanonicalError::TooDeep(pointer)) => {
            let depth = pointer.matches('/').count();
            ensure(
                value.pointer(&pointer).is_some() && depth == MAX_DEPTH + 1,
                || format!("refused as too deep at {pointer:?} (depth {depth})"),
            )?;
            ensure(parse_canonical(data).is_err(), || {
                "parse_canonical accepted a value to_canonical_bytes refuses".into()
            })
        }
        Ok(bytes) => {
            ensure(depth(&value) <= MAX_DEPTH, || {
                format!("accepted nesting of depth {}", depth(&value))
            })?;
            ensure(all_safe(&value), || "accepted an unsafe number".into())?;
            let expected = independent(&value)?;
            ensure(bytes == expected, || {
                format!(
                    "canonical form {:?} differs from the independent serialization {:?}",
                    String::from_utf8_lossy(&bytes),
                    String::from_utf8_lossy(&expected)
                )
            })?;
            let back: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Violation(format!("canonical bytes do not parse: {e}")))?;
            ensure(back == value, || {
                "canonical bytes parse to another value".into()
            })?;
            let again = to_canonical_bytes(&back).map_err(|e| {
                Violation(format!(
                    "canonical bytes refused on re-canonicalization: {e}"
                ))
            })?;
            ensure(again == bytes, || {
                "canonicalization is not idempotent".into()
            })?;
            ensure(parse_canonical(&bytes).as_ref() == Ok(&value), || {
                "parse_canonical refuses canonical bytes".into()
            })?;
            ensure(
                parse_canonical(data).is_ok() == (data == bytes.as_slice()),
                || "parse_canonical disagrees with byte equality to the canonical form".into(),
            )
        }
    }
}

fn is_safe(n: &serde_json::Number) -> bool {
    n.as_i64()
        .is_some_and(|i| (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i))
}

fn all_safe(v: &Value) -> bool {
    match v {
        Value::Number(n) => is_safe(n),
        Value::Array(items) => items.iter().all(all_safe),
        Value::Object(map) => map.values().all(all_safe),
        _ => true,
    }
}

/// Containers above the deepest value (a scalar or an empty container at the top has
/// depth 0), as the canonicalizer counts them.
fn depth(v: &Value) -> usize {
    let children: Box<dyn Iterator<Item = &Value>> = match v {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(map) => Box::new(map.values()),
        _ => return 0,
    };
    children.map(|c| 1 + depth(c)).max().unwrap_or(0)
}

/// RFC 8785 by another route: serde_json's own string escaping (the same rules as
/// ECMAScript's JSON.stringify for strings without lone surrogates) and keys sorted by
/// collected UTF-16 code units.
fn independent(v: &Value) -> Result<Vec<u8>, Violation> {
    let mut out = String::new();
    write_independent(v, &mut out)?;
    Ok(out.into_bytes())
}

fn write_independent(v: &Value, out: &mut String) -> Result<(), Violation> {
    let json = |s: &str| {
        serde_json::to_string(s).map_err(|e| Violation(format!("serde_json failed: {e}")))
    };
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => out.push_str(&v.to_string()),
        Value::String(s) => out.push_str(&json(s)?),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_independent(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<(Vec<u16>, &String, &Value)> = map
                .iter()
                .map(|(k, v)| (k.encode_utf16().collect(), k, v))
                .collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (_, k, item)) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&json(k)?);
                out.push(':');
                write_independent(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}
