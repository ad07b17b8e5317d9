//! Ed25519 signing keys: key ids, signing with a key held in memory, and the keyring of
//! public keys with the ledger positions each key was valid for. Key files and key
//! generation (file system, OS randomness) live in the application's `ledger::key_file`.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chain::Hash32;

/// Identifies a public key: the first 16 bytes of SHA-256(public key), lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl KeyId {
    /// The id of `key` (§5): hex of the first 16 bytes of SHA-256 of its 32-byte RFC 8032
    /// encoding.
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        KeyId(hex::encode(&digest[..16]))
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a public key cannot enter the keyring (§5, "Key events and the keyring").
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key is not the canonical encoding (`y < p`) of a point, or the point has small
    /// order: rule 1 of §5's strict signature rule.
    #[error("public key is not a valid Ed25519 point or is a weak (small-order) key")]
    WeakPublicKey,
    /// The text is not 64 hex digits (holds at most 80 characters of it), or a keyring
    /// entry's `key_id` is not the id of its `public_key`.
    #[error("public key must be 32 bytes of hex: {0}")]
    BadPublicKey(String),
    /// A rotation names a key the keyring already holds, active or retired (§5): no key
    /// could then sign the next position.
    #[error("key {0} is already in the key history; a rotation must introduce a new key")]
    ReusedKey(KeyId),
}

/// The key this process signs with.
pub struct LedgerKey {
    signing: SigningKey,
    id: KeyId,
}

impl LedgerKey {
    /// Wraps a signing key; its id is computed from the public half ([`KeyId::of`]).
    pub fn from_signing_key(signing: SigningKey) -> Self {
        let id = KeyId::of(&signing.verifying_key());
        Self { signing, id }
    }

    /// The id events signed with this key carry in `key_id` (§2, §5).
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The public half, as published in the genesis or rotation event that introduces it.
    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// Signs an event hash: Ed25519 over its 32 raw bytes (§5), deterministic.
    pub fn sign(&self, hash: &Hash32) -> [u8; 64] {
        self.signing.sign(hash.as_bytes()).to_bytes()
    }

    /// The underlying key, for signing messages other than event hashes (checkpoint notes,
    /// §7).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }
}

/// Parses a hex public key under the ledger's signature rule (docs/LEDGER_FORMAT.md
/// section 5): the point must be canonically encoded (`y < p`, so no two encodings of one
/// key hash differently) and not of small order.
pub fn parse_public_key(hex_str: &str) -> Result<VerifyingKey, KeyError> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_str, &mut bytes)
        .map_err(|_| KeyError::BadPublicKey(hex_str.chars().take(80).collect()))?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::WeakPublicKey)?;
    if key.to_edwards().compress().to_bytes() != bytes || key.is_weak() {
        return Err(KeyError::WeakPublicKey);
    }
    Ok(key)
}

/// One public key and the ledger positions it may sign: `valid_from..=valid_to`.
/// Unknown fields are refused: a mangled `valid_to` must not read as "still active".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyringEntry {
    /// Must equal [`KeyId::of`] the public key; [`Keyring::add`] checks it.
    pub key_id: KeyId,
    /// The 32-byte RFC 8032 public key as 64 hex digits.
    pub public_key: String,
    /// First position the key may sign: 1 for the genesis key, the position after its
    /// rotation event otherwise.
    pub valid_from: u64,
    /// `None` while the key is the active signing key.
    pub valid_to: Option<u64>,
}

impl KeyringEntry {
    /// Whether this key may sign a checkpoint (or a proof's or bundle's tree) of `size`
    /// events: a tree whose last event it signed, or the tree it took over (the one
    /// ending with the rotation that introduced it). A retired key cannot vouch for
    /// anything after its period, and a new key for nothing before its introduction.
    pub fn may_sign_tree(&self, size: u64) -> bool {
        self.valid_from.saturating_sub(1) <= size && self.valid_to.is_none_or(|to| size <= to)
    }

    /// The tree sizes this key may sign, for messages.
    pub fn tree_period(&self) -> String {
        let to = self
            .valid_to
            .map_or_else(|| "now".into(), |t| t.to_string());
        format!("{}..={to}", self.valid_from.saturating_sub(1))
    }
}

/// Public keys known to a verifier, each bound to a range of positions.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    entries: Vec<(KeyringEntry, VerifyingKey)>,
}

/// Why an event's `key_id` cannot sign its position: *unknown or out-of-period key* (§6
/// step 5).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    /// No key of the keyring has this id.
    #[error("key {0} is not in the keyring")]
    Unknown(KeyId),
    /// The key exists but `position` is outside `valid_from..=valid_to`.
    #[error("key {key} signs position {position}, outside its period {from}..{to}")]
    OutOfPeriod {
        /// The key the event names.
        key: KeyId,
        /// The position it signed.
        position: u64,
        /// The key's `valid_from`.
        from: u64,
        /// The key's `valid_to`, or `now` for the active key.
        to: String,
    },
}

impl Keyring {
    /// Every key, in the order added (genesis key first when folded from key events).
    pub fn entries(&self) -> impl Iterator<Item = &KeyringEntry> {
        self.entries.iter().map(|(e, _)| e)
    }

    /// Adds a key with its period, refusing a public key that fails §5's rule 1 or whose id
    /// is not `key_id`; nothing a refused key signed can verify.
    pub fn add(&mut self, entry: KeyringEntry) -> Result<(), KeyError> {
        let key = parse_public_key(&entry.public_key)?;
        if KeyId::of(&key) != entry.key_id {
            return Err(KeyError::BadPublicKey(format!(
                "key id {} does not match public key {}",
                entry.key_id, entry.public_key
            )));
        }
        self.entries.push((entry, key));
        Ok(())
    }

    /// Closes the period of the active key at `last_position` and opens `next` after it.
    /// `next` must be a key the ring has never held: rotating back to the active or a
    /// retired key would leave no key able to sign the following position.
    pub fn rotate(&mut self, last_position: u64, next: KeyringEntry) -> Result<(), KeyError> {
        if self.contains(&next.key_id) {
            return Err(KeyError::ReusedKey(next.key_id));
        }
        if let Some((entry, _)) = self.entries.iter_mut().find(|(e, _)| e.valid_to.is_none()) {
            entry.valid_to = Some(last_position);
        }
        self.add(next)
    }

    /// Whether the keyring holds `key_id`, active or retired.
    pub fn contains(&self, key_id: &KeyId) -> bool {
        self.entries.iter().any(|(e, _)| &e.key_id == key_id)
    }

    /// The active key: the entry whose period is still open (`valid_to` is `None`).
    pub fn active(&self) -> Option<&KeyringEntry> {
        self.entries
            .iter()
            .map(|(e, _)| e)
            .find(|e| e.valid_to.is_none())
    }

    /// The key allowed to sign `position`, if `key_id` names it.
    pub fn key_for(&self, key_id: &KeyId, position: u64) -> Result<&VerifyingKey, KeyringError> {
        let (entry, key) = self
            .entries
            .iter()
            .find(|(e, _)| &e.key_id == key_id)
            .ok_or_else(|| KeyringError::Unknown(key_id.clone()))?;
        let within = position >= entry.valid_from && entry.valid_to.is_none_or(|to| position <= to);
        if !within {
            return Err(KeyringError::OutOfPeriod {
                key: key_id.clone(),
                position,
                from: entry.valid_from,
                to: entry
                    .valid_to
                    .map_or_else(|| "now".into(), |t| t.to_string()),
            });
        }
        Ok(key)
    }
}

/// Verifies one signature over an event hash.
/// This is the ledger's one signature rule (docs/LEDGER_FORMAT.md section 5, "strict"):
/// `s < l`; `R` canonically encoded and not of small order; `A` not of small order; and
/// the cofactorless equation `[s]B = R + [k]A`, checked as `encode([s]B - [k]A) == R`.
/// Every verifier (events, checkpoints, proofs, bundles) uses it, so a signature that
/// only satisfies the cofactored equation (`R = rB + T`, `T` a torsion point) is
/// refused everywhere.
pub fn verify_signature(key: &VerifyingKey, hash: &Hash32, signature: &[u8; 64]) -> bool {
    key.verify_strict(hash.as_bytes(), &Signature::from_bytes(signature))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyring_enforces_periods() {
        let a = LedgerKey::from_signing_key(SigningKey::from_bytes(&[1; 32]));
        let b = LedgerKey::from_signing_key(SigningKey::from_bytes(&[2; 32]));
        let mut ring = Keyring::default();
        ring.add(KeyringEntry {
            key_id: a.id().clone(),
            public_key: hex::encode(a.public().as_bytes()),
            valid_from: 1,
            valid_to: None,
        })
        .unwrap();
        ring.rotate(
            10,
            KeyringEntry {
                key_id: b.id().clone(),
                public_key: hex::encode(b.public().as_bytes()),
                valid_from: 11,
                valid_to: None,
            },
        )
        .unwrap();
        assert!(ring.key_for(a.id(), 10).is_ok());
        assert!(matches!(
            ring.key_for(a.id(), 11),
            Err(KeyringError::OutOfPeriod { .. })
        ));
        assert!(matches!(
            ring.key_for(b.id(), 10),
            Err(KeyringError::OutOfPeriod { .. })
        ));
        assert!(ring.key_for(b.id(), 1_000_000).is_ok());
        assert_eq!(ring.active().unwrap().key_id, *b.id());
    }

    #[test]
    fn rejects_weak_public_key() {
        // The identity point is small-order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            parse_public_key(&hex::encode(identity)),
            Err(KeyError::WeakPublicKey)
        ));
    }
}
