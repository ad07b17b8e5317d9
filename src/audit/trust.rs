//! The trust root an auditor pins out of band.
//!
//! A chain re-signed from genesis with a rogue key is internally perfect: every hash,
//! link and signature checks out against the keyring its own (forged) key events define.
//! The only way to refuse it is to know, independently, which key the real ledger
//! started with (or its whole keyring), or to hold an earlier checkpoint.

use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use super::verify::{BreakKind, Issue};
use super::AuditError;
use icac_format::keys::{parse_public_key, KeyId, Keyring, KeyringEntry};

/// Largest keyring file accepted; a real one is a few hundred bytes per key.
const MAX_KEYRING_FILE: u64 = 1024 * 1024;
/// Most keys accepted in a pinned keyring or a bundle header.
pub const MAX_KEYS: usize = 4096;

#[derive(Debug, Clone, Default)]
pub enum TrustRoot {
    /// Nothing pinned: the chain is checked against its own key history only.
    #[default]
    Unpinned,
    /// The key that must have signed the genesis event.
    GenesisKey(KeyId),
    /// A whole keyring (as printed by `keys export`): every key and its period.
    Keyring(Vec<KeyringEntry>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum KeyringFile {
    Export { keys: Vec<KeyringEntry> },
    List(Vec<KeyringEntry>),
}

impl TrustRoot {
    /// Accepts a 64-hex-digit Ed25519 public key or a 32-hex-digit key id.
    pub fn from_key_hex(s: &str) -> Result<Self, AuditError> {
        let s = s.trim();
        match s.len() {
            64 => {
                let key = parse_public_key(s)?;
                Ok(TrustRoot::GenesisKey(KeyId::of(&key)))
            }
            32 if s
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
            {
                Ok(TrustRoot::GenesisKey(KeyId(s.to_owned())))
            }
            _ => Err(AuditError::invalid(
                "--trusted-key must be a 64-hex-digit public key or a 32-hex-digit key id",
            )),
        }
    }

    /// Reads a keyring file: the JSON printed by `icac-ledger keys export`, or a bare list.
    pub fn from_keyring_file(path: &Path) -> Result<Self, AuditError> {
        Ok(TrustRoot::Keyring(read_keyring_file(path)?))
    }

    pub fn is_pinned(&self) -> bool {
        !matches!(self, TrustRoot::Unpinned)
    }

    pub fn label(&self) -> String {
        match self {
            TrustRoot::Unpinned => "unpinned".into(),
            TrustRoot::GenesisKey(k) => format!("pinned genesis key {k}"),
            TrustRoot::Keyring(e) => format!("pinned keyring of {} keys", e.len()),
        }
    }

    /// Public keys the auditor vouches for directly (used to accept checkpoint notes).
    pub fn pinned_keys(&self) -> Vec<VerifyingKey> {
        match self {
            TrustRoot::Keyring(entries) => entries
                .iter()
                .filter_map(|e| parse_public_key(&e.public_key).ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the pin itself vouches for this keyring entry: the pinned genesis key
    /// for position 1, or the same key with the same start in a pinned keyring.
    pub fn vouches_for(&self, entry: &KeyringEntry) -> bool {
        match self {
            TrustRoot::Unpinned => false,
            TrustRoot::GenesisKey(k) => entry.valid_from == 1 && &entry.key_id == k,
            TrustRoot::Keyring(entries) => entries.iter().any(|p| {
                p.key_id == entry.key_id
                    && p.public_key == entry.public_key
                    && p.valid_from == entry.valid_from
            }),
        }
    }

    /// Checks the key that introduced the ledger (signed position 1).
    pub fn check_genesis(&self, key_id: &KeyId) -> Option<Issue> {
        let expected = match self {
            TrustRoot::Unpinned => return None,
            TrustRoot::GenesisKey(k) => k,
            TrustRoot::Keyring(entries) => match entries.iter().find(|e| e.valid_from == 1) {
                Some(e) => &e.key_id,
                None => {
                    return Some((
                        BreakKind::UntrustedKey,
                        "the pinned keyring has no key valid from position 1".into(),
                    ))
                }
            },
        };
        (expected != key_id).then(|| {
            (
                BreakKind::UntrustedKey,
                format!(
                    "the ledger starts with key {key_id}, not the pinned trust root {expected}: \
                     the chain was re-signed or is another ledger"
                ),
            )
        })
    }

    /// Checks one event's key against a pinned keyring. Positions after the pinned
    /// keyring's last closed period are trusted through the chain's own rotation events.
    pub fn check_event(&self, key_id: &KeyId, position: u64) -> Option<Issue> {
        let TrustRoot::Keyring(entries) = self else {
            return None;
        };
        if let Some(e) = entries.iter().find(|e| &e.key_id == key_id) {
            let within = position >= e.valid_from && e.valid_to.is_none_or(|to| position <= to);
            return (!within).then(|| {
                (
                    BreakKind::UnknownOrOutOfPeriodKey,
                    format!(
                        "key {key_id} signs position {position}, outside its pinned period {}..{}",
                        e.valid_from,
                        e.valid_to.map_or_else(|| "now".into(), |t| t.to_string())
                    ),
                )
            });
        }
        let covered = entries
            .iter()
            .map(|e| e.valid_to.unwrap_or(u64::MAX))
            .max()
            .unwrap_or(0);
        (position <= covered).then(|| {
            (
                BreakKind::UntrustedKey,
                format!("key {key_id} at position {position} is not in the pinned keyring"),
            )
        })
    }
}

/// Reads and checks a keyring JSON file (ids must match keys, no weak keys).
pub fn read_keyring_file(path: &Path) -> Result<Vec<KeyringEntry>, AuditError> {
    let read_err = |source| AuditError::Read {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if meta.len() > MAX_KEYRING_FILE {
        return Err(AuditError::invalid(format!(
            "keyring file {} is larger than {MAX_KEYRING_FILE} bytes",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    let parsed: KeyringFile = serde_json::from_str(&text).map_err(|e| {
        AuditError::invalid(format!(
            "keyring file {} is not a keyring: {e}",
            path.display()
        ))
    })?;
    let entries = match parsed {
        KeyringFile::Export { keys } => keys,
        KeyringFile::List(keys) => keys,
    };
    check_entries(&entries)?;
    Ok(entries)
}

/// Every entry must name its key correctly and not be a weak key.
pub fn check_entries(entries: &[KeyringEntry]) -> Result<Keyring, AuditError> {
    if entries.is_empty() || entries.len() > MAX_KEYS {
        return Err(AuditError::invalid(format!(
            "a keyring must have 1 to {MAX_KEYS} keys"
        )));
    }
    let mut ring = Keyring::default();
    for e in entries {
        ring.add(e.clone())?;
    }
    Ok(ring)
}
