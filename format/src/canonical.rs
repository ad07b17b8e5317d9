//! RFC 8785 (JSON Canonicalization Scheme) for the subset of JSON the ledger accepts.
//!
//! The ledger hashes canonical bytes, so two implementations must agree on every byte.
//! We deliberately accept only integers in the IEEE-754 "safe" range for numbers: JCS
//! serializes numbers the way ECMAScript does, which silently rounds integers above 2^53
//! and renders fractions in ways few libraries reproduce exactly. Refusing them keeps
//! independent verifiers trivial and makes "keep identifiers and large numbers as
//! strings" a rule the code enforces rather than a convention.

use serde_json::Value;
use std::cmp::Ordering;

/// Largest integer exactly representable in an IEEE-754 double (2^53 - 1).
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// How deep objects and arrays may nest; bounds recursion on untrusted input.
pub const MAX_DEPTH: usize = 64;

/// Why a JSON value has no canonical form in the ledger's subset.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CanonicalError {
    /// A number that is not an integer in ±(2^53−1) (§2, "Numbers"): its text, then the
    /// JSON Pointer (RFC 6901) to it.
    #[error("number {0} at {1} is not an integer in ±(2^53-1); store it as a string")]
    UnsafeNumber(String, String),
    /// Objects and arrays nest deeper than [`MAX_DEPTH`]; holds the JSON Pointer where the
    /// limit was passed.
    #[error("JSON nests deeper than {MAX_DEPTH} levels at {0}")]
    TooDeep(String),
}

/// Serializes `value` as RFC 8785 canonical JSON.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &mut out, &mut String::new(), 0)?;
    Ok(out)
}

fn write_value(
    value: &Value,
    out: &mut Vec<u8>,
    pointer: &mut String,
    depth: usize,
) -> Result<(), CanonicalError> {
    if depth > MAX_DEPTH {
        return Err(CanonicalError::TooDeep(pointer.clone()));
    }
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let safe = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i),
                (None, Some(_)) => false,
                _ => false,
            };
            if !safe {
                return Err(CanonicalError::UnsafeNumber(n.to_string(), pointer.clone()));
            }
            // Safe integers print identically in ECMAScript and Rust: no exponent, no ".0".
            let i = n.as_i64().unwrap_or_default();
            out.extend_from_slice(i.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                write_value(item, out, pointer, depth + 1)?;
                pointer.truncate(len);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| utf16_cmp(a.0, b.0));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                write_value(item, out, pointer, depth + 1)?;
                pointer.truncate(len);
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// RFC 8785 §3.2.3: object members are sorted by their names as arrays of UTF-16 code units.
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// RFC 8785 §3.2.2.2: ECMAScript JSON.stringify string escaping.
fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    // Unescaped runs are copied in bulk; only ASCII bytes ever need escaping, and
    // bytes of multi-byte UTF-8 sequences are all >= 0x80, so run boundaries always
    // fall on character boundaries.
    let bytes = s.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            c if c < 0x20 => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

/// Parses `bytes` as JSON and confirms they are already in canonical form.
///
/// Verifiers call this on stored bytes: accepting non-canonical bytes would let two
/// different byte strings stand for one event.
pub fn parse_canonical(bytes: &[u8]) -> Result<Value, NotCanonical> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| NotCanonical::Json(e.to_string()))?;
    let again = to_canonical_bytes(&value).map_err(NotCanonical::Canonical)?;
    if again != bytes {
        return Err(NotCanonical::Differs);
    }
    Ok(value)
}

/// Why stored bytes are not the canonical form of the JSON they hold.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum NotCanonical {
    /// The bytes do not parse as JSON; holds serde_json's message.
    #[error("not JSON: {0}")]
    Json(String),
    /// The JSON holds a value outside the canonical subset (see [`CanonicalError`]).
    #[error(transparent)]
    Canonical(CanonicalError),
    /// The bytes are JSON but re-serializing them gives other bytes (§3: one event, one
    /// byte string).
    #[error("bytes are JSON but not in RFC 8785 canonical form")]
    Differs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn canon(v: Value) -> String {
        String::from_utf8(to_canonical_bytes(&v).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_by_utf16_code_units() {
        // RFC 8785 §3.2.3 example: sorting differs from UTF-8 byte order for astral chars.
        let v = json!({"\u{20ac}": 1, "\r": 2, "\u{fb33}": 3, "1": 4, "\u{1f600}": 5, "\u{80}": 6, "\u{f6}": 7});
        assert_eq!(
            canon(v),
            "{\"\\r\":2,\"1\":4,\"\u{80}\":6,\"\u{f6}\":7,\"\u{20ac}\":1,\"\u{1f600}\":5,\"\u{fb33}\":3}"
        );
    }

    #[test]
    fn escapes_like_ecmascript() {
        let v = json!({"s": "a\"b\\c\u{1}\u{1f}\n\t\u{7f}é/"});
        assert_eq!(
            canon(v),
            "{\"s\":\"a\\\"b\\\\c\\u0001\\u001f\\n\\t\u{7f}é/\"}"
        );
    }

    #[test]
    fn nested_and_literals() {
        let v = json!({"b": [true, false, null, -5, 0], "a": {"z": 1, "y": "x"}});
        assert_eq!(
            canon(v),
            "{\"a\":{\"y\":\"x\",\"z\":1},\"b\":[true,false,null,-5,0]}"
        );
    }

    #[test]
    fn rejects_unsafe_numbers_with_pointer() {
        let err = to_canonical_bytes(&json!({"a": [1, 9007199254740992u64]})).unwrap_err();
        assert_eq!(
            err,
            CanonicalError::UnsafeNumber("9007199254740992".into(), "/a/1".into())
        );
        assert!(to_canonical_bytes(&json!({"f": 1.5})).is_err());
        assert!(to_canonical_bytes(&json!(MAX_SAFE_INTEGER)).is_ok());
        assert!(to_canonical_bytes(&json!(-MAX_SAFE_INTEGER)).is_ok());
    }

    #[test]
    fn rejects_deep_nesting() {
        let mut v = json!(1);
        for _ in 0..=MAX_DEPTH {
            v = json!([v]);
        }
        assert!(matches!(
            to_canonical_bytes(&v),
            Err(CanonicalError::TooDeep(_))
        ));
    }

    #[test]
    fn parse_canonical_rejects_other_spellings() {
        assert!(parse_canonical(b"{\"a\":1,\"b\":2}").is_ok());
        assert_eq!(
            parse_canonical(b"{\"b\":2,\"a\":1}"),
            Err(NotCanonical::Differs)
        );
        assert_eq!(parse_canonical(b"{\"a\": 1}"), Err(NotCanonical::Differs));
        assert_eq!(
            parse_canonical(b"{\"a\":\"\\u0041\"}"),
            Err(NotCanonical::Differs)
        );
        assert!(matches!(
            parse_canonical(b"{\"a\":"),
            Err(NotCanonical::Json(_))
        ));
    }

    proptest::proptest! {
        #[test]
        fn canonical_is_a_fixed_point(s in "\\PC{0,40}", k in "\\PC{0,10}", i in -MAX_SAFE_INTEGER..MAX_SAFE_INTEGER) {
            let v = json!({k.clone(): s, "n": i, "arr": [k]});
            let bytes = to_canonical_bytes(&v).unwrap();
            proptest::prop_assert_eq!(parse_canonical(&bytes).unwrap(), v);
        }
    }
}
