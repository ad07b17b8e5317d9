//! Ed25519 signing keys: files on disk, key ids, and the keyring of public keys with the
//! ledger positions each key was valid for.

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use super::chain::Hash32;

/// Identifies a public key: the first 16 bytes of SHA-256(public key), lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub String);

impl KeyId {
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

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing key {path} is not an Ed25519 PKCS#8 PEM private key: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("cannot write signing key {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing key {path} is readable by group or others (mode {mode:o}); run chmod 600")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("public key is not a valid Ed25519 point or is a weak (small-order) key")]
    WeakPublicKey,
    #[error("public key must be 32 bytes of hex: {0}")]
    BadPublicKey(String),
    #[error("key {0} is already in the key history; a rotation must introduce a new key")]
    ReusedKey(KeyId),
}

/// The key this process signs with.
pub struct LedgerKey {
    signing: SigningKey,
    id: KeyId,
}

impl LedgerKey {
    pub fn from_signing_key(signing: SigningKey) -> Self {
        let id = KeyId::of(&signing.verifying_key());
        Self { signing, id }
    }

    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut rand_core::OsRng))
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub fn sign(&self, hash: &Hash32) -> [u8; 64] {
        self.signing.sign(hash.as_bytes()).to_bytes()
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// Reads a PKCS#8 PEM key, refusing one that others can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_owned(),
            source,
        })?;
        check_private_mode(path)?;
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyError::Parse {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self::from_signing_key(signing))
    }

    /// Writes the key as PKCS#8 v1 PEM (RFC 5208: the private key alone, no public key)
    /// with mode 0600, never overwriting an existing file. v1 because OpenSSL 3.0 and
    /// Python's `cryptography` refuse the v2 (RFC 5958) form with the public key that
    /// ed25519-dalek writes by default; `load` still reads both.
    pub fn save_new(&self, path: &Path) -> Result<(), KeyError> {
        let v1 = KeypairBytes {
            secret_key: self.signing.to_bytes(),
            public_key: None,
        };
        let pem = v1
            .to_pkcs8_pem(Default::default())
            .map_err(|e| KeyError::Parse {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        write_private_file(path, pem.as_bytes()).map_err(|source| KeyError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

/// Destroys a retired private key file: overwrites its bytes with zeros, syncs, and
/// unlinks it. Best effort against recovery: a journaling or copy-on-write file system,
/// a snapshot or a backup may still hold the old bytes (docs/OPERATIONS.md, "Rotating
/// the signing key").
pub fn destroy_key_file(path: &Path) -> Result<(), KeyError> {
    use std::io::Write;
    let write_err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    let len = std::fs::symlink_metadata(path).map_err(write_err)?.len();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(write_err)?;
    // A key file is a few hundred bytes; a larger one is not ours to overwrite.
    if len <= 64 * 1024 {
        file.write_all(&vec![0u8; len as usize])
            .map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
    }
    drop(file);
    std::fs::remove_file(path).map_err(write_err)
}

#[cfg(unix)]
fn check_private_mode(path: &Path) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_path: &Path) -> Result<(), KeyError> {
    Ok(())
}

fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyringEntry {
    pub key_id: KeyId,
    pub public_key: String,
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
            .map(|t| t.to_string())
            .unwrap_or_else(|| "now".into());
        format!("{}..={to}", self.valid_from.saturating_sub(1))
    }
}

/// Public keys known to a verifier, each bound to a range of positions.
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    entries: Vec<(KeyringEntry, VerifyingKey)>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyringError {
    #[error("key {0} is not in the keyring")]
    Unknown(KeyId),
    #[error("key {key} signs position {position}, outside its period {from}..{to}")]
    OutOfPeriod {
        key: KeyId,
        position: u64,
        from: u64,
        to: String,
    },
}

impl Keyring {
    pub fn entries(&self) -> impl Iterator<Item = &KeyringEntry> {
        self.entries.iter().map(|(e, _)| e)
    }

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

    pub fn contains(&self, key_id: &KeyId) -> bool {
        self.entries.iter().any(|(e, _)| &e.key_id == key_id)
    }

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
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "now".into()),
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
    fn save_and_load_round_trip_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let key = LedgerKey::generate();
        key.save_new(&path).unwrap();
        let loaded = LedgerKey::load(&path).unwrap();
        assert_eq!(loaded.id(), key.id());
        // Refuses to overwrite.
        assert!(key.save_new(&path).is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                LedgerKey::load(&path),
                Err(KeyError::Permissions { .. })
            ));
        }
    }

    fn pem_body(pem: &str) -> Vec<u8> {
        use base64::Engine as _;
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    /// The file is PKCS#8 v1 (RFC 5208) and the real `openssl` binary reads the same key.
    #[test]
    fn key_file_is_pkcs8_v1_readable_by_openssl() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let key = LedgerKey::generate();
        key.save_new(&path).unwrap();
        let pem = std::fs::read_to_string(&path).unwrap();
        let der = pem_body(&pem);
        // SEQUENCE { INTEGER 0 (v1), AlgorithmIdentifier { id-Ed25519 }, OCTET STRING }
        // with nothing after the private key: 48 bytes.
        assert_eq!(der.len(), 48, "{pem}");
        assert_eq!(&der[2..5], &[0x02, 0x01, 0x00]);
        let out = std::process::Command::new("openssl")
            .args(["pkey", "-in"])
            .arg(&path)
            .args(["-pubout", "-outform", "DER"])
            .output()
            .expect("the openssl binary must be installed");
        assert!(
            out.status.success(),
            "openssl pkey refused the key file: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // SubjectPublicKeyInfo DER: a 12-byte prefix, then the 32-byte public key.
        assert_eq!(out.stdout.len(), 44);
        assert_eq!(&out.stdout[12..], key.public().as_bytes());
    }

    /// Files written by earlier versions (PKCS#8 v2 with the public key) still load.
    #[test]
    fn pkcs8_v2_key_files_still_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.pem");
        let key = LedgerKey::generate();
        let v2 = key.signing_key().to_pkcs8_pem(Default::default()).unwrap();
        assert_eq!(pem_body(&v2)[4], 0x01, "the old form is version 2 (v2 = 1)");
        write_private_file(&path, v2.as_bytes()).unwrap();
        assert_eq!(LedgerKey::load(&path).unwrap().id(), key.id());
    }

    #[test]
    fn garbage_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_private_file(&path, b"not a key").unwrap();
        let err = LedgerKey::load(&path).err().unwrap().to_string();
        assert!(err.contains("not an Ed25519 PKCS#8 PEM"), "{err}");
    }

    #[test]
    fn keyring_enforces_periods() {
        let a = LedgerKey::generate();
        let b = LedgerKey::generate();
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
