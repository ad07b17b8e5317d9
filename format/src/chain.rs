//! The hash chain: how one event's hash commits to everything before it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Domain-separation prefix for event hashes, so an event hash can never be confused
/// with a Merkle leaf, a checkpoint, or any other SHA-256 this system computes.
pub const EVENT_HASH_PREFIX: &[u8] = b"icac-ledger:event:v1\x00";

/// A 32-byte SHA-256 value: an event hash, a Merkle leaf, node or root.
///
/// Written as 64 lowercase hex characters everywhere (JSON, exports, messages); parsing
/// refuses uppercase so that one hash has exactly one spelling inside canonical records.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

/// `prev_hash` of the event at position 1.
pub const GENESIS_PREV_HASH: Hash32 = Hash32::ZERO;

/// The value of each lowercase hex digit; 0xff for every other byte.
const LOWER_HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl Hash32 {
    /// All-zero hash: the chain head of an empty ledger.
    pub const ZERO: Hash32 = Hash32([0u8; 32]);

    /// The 32 bytes, as hashed and signed.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits, the one spelling the ledger writes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 lowercase hex digits.
    pub fn from_hex(s: &str) -> Result<Self, HashParseError> {
        if s.len() != 64 {
            return Err(HashParseError::Length(s.len()));
        }
        // Verification parses one of these per event: a table lookup per digit, and
        // the slow path only to word an error.
        let b = s.as_bytes();
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let (hi, lo) = (
                LOWER_HEX[usize::from(b[2 * i])],
                LOWER_HEX[usize::from(b[2 * i + 1])],
            );
            if hi | lo > 0x0f {
                return Err(Self::hex_error(s));
            }
            *byte = hi << 4 | lo;
        }
        Ok(Hash32(out))
    }

    fn hex_error(s: &str) -> HashParseError {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return HashParseError::Hex("uppercase hex digits".into());
        }
        let mut out = [0u8; 32];
        match hex::decode_to_slice(s, &mut out) {
            Err(e) => HashParseError::Hex(e.to_string()),
            Ok(()) => HashParseError::Hex("not lowercase hex".into()),
        }
    }

    /// Builds a hash from a byte slice that must be exactly 32 bytes long.
    pub fn from_slice(b: &[u8]) -> Result<Self, HashParseError> {
        <[u8; 32]>::try_from(b)
            .map(Hash32)
            .map_err(|_| HashParseError::Length(b.len()))
    }
}

impl From<[u8; 32]> for Hash32 {
    fn from(b: [u8; 32]) -> Self {
        Hash32(b)
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl FromStr for Hash32 {
    type Err = HashParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash32::from_hex(s)
    }
}

impl Serialize for Hash32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Hash32::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// Why a string or byte slice is not a `Hash32`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// Not 32 bytes: holds the length given (of the hex text, or of the slice, in bytes).
    #[error("hash must be 32 bytes (64 hex characters), got length {0}")]
    Length(usize),
    /// 64 bytes, but not all lowercase hex digits (uppercase is refused so that a hash
    /// has one spelling, §2); holds the reason.
    #[error("hash is not valid lowercase hex: {0}")]
    Hex(String),
}

/// `hash = SHA-256(EVENT_HASH_PREFIX || prev_hash || canonical_bytes)`.
///
/// `prev_hash` is also inside the canonical bytes; hashing it raw in front as well means
/// the link can be checked without parsing JSON, and costs 32 bytes of input.
pub fn event_hash(prev_hash: &Hash32, canonical: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update(EVENT_HASH_PREFIX);
    h.update(prev_hash.0);
    h.update(canonical);
    Hash32(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_rejects() {
        let h = event_hash(&GENESIS_PREV_HASH, b"{}");
        assert_eq!(Hash32::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash32::from_hex("00").is_err());
        assert!(Hash32::from_hex(&"A".repeat(64)).is_err());
        assert!(Hash32::from_hex(&"g".repeat(64)).is_err());
    }

    #[test]
    fn from_hex_agrees_with_the_hex_crate_on_every_digit_pair() {
        // Every byte value in every position of a pair: the table and the hex crate
        // (plus the lowercase rule) accept and refuse the same strings.
        let base = "ab".repeat(32);
        for b in 0..=255u8 {
            for at in [0usize, 1, 62, 63] {
                let mut bytes = base.clone().into_bytes();
                bytes[at] = b;
                let Ok(s) = String::from_utf8(bytes) else {
                    continue;
                };
                if s.len() != 64 {
                    continue;
                }
                let mut out = [0u8; 32];
                let reference = !s.bytes().any(|c| c.is_ascii_uppercase())
                    && hex::decode_to_slice(&s, &mut out).is_ok();
                assert_eq!(Hash32::from_hex(&s).is_ok(), reference, "{s:?}");
                if reference {
                    assert_eq!(Hash32::from_hex(&s).unwrap().0, out);
                }
            }
        }
    }

    #[test]
    fn hash_depends_on_prev_and_content() {
        let a = event_hash(&GENESIS_PREV_HASH, b"{\"a\":1}");
        let b = event_hash(&a, b"{\"a\":1}");
        let c = event_hash(&GENESIS_PREV_HASH, b"{\"a\":2}");
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
