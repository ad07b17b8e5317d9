//! Where this process's signing key comes from: a fresh one from the OS random number
//! generator, or a PKCS#8 PEM file that only its owner may read. The key itself and
//! everything it signs is `icac_format::keys`, which does no I/O and draws no randomness.

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::SigningKey;
use icac_format::keys::LedgerKey;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read signing key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing key {path} is not an Ed25519 PKCS#8 PEM private key: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("signing key {path} is not a regular file (a FIFO, device or directory); give the path of the key file itself")]
    NotAFile { path: PathBuf },
    #[error("signing key {path} is larger than {limit} bytes; it is not a key file")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("signing key {path} does not exist; `icac-ledger init` creates the first key, `keys rotate` the next")]
    Missing { path: PathBuf },
    #[error("cannot write signing key {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("signing key {path} is readable by group or others (mode {mode:o}); run chmod 600")]
    Permissions { path: PathBuf, mode: u32 },
}

/// Creating, reading and writing the key this process signs with. A trait only because
/// `LedgerKey` lives in icac-format; call it as `LedgerKey::load(path)`.
pub trait KeyFile: Sized {
    /// A new key from the OS random number generator.
    fn generate() -> Self;
    /// Reads a PKCS#8 PEM key, refusing one that others can read.
    fn load(path: &Path) -> Result<Self, KeyFileError>;
    /// Writes the key as PKCS#8 PEM with mode 0600, never overwriting an existing file.
    fn save_new(&self, path: &Path) -> Result<(), KeyFileError>;
}

impl KeyFile for LedgerKey {
    fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut rand_core::OsRng))
    }

    fn load(path: &Path) -> Result<Self, KeyFileError> {
        let pem = read_key_file(path)?;
        check_private_mode(path)?;
        let signing = SigningKey::from_pkcs8_pem(&pem).map_err(|e| KeyFileError::Parse {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self::from_signing_key(signing))
    }

    /// PKCS#8 v1 (RFC 5208: the private key alone, no public key), because OpenSSL 3.0
    /// and Python's `cryptography` refuse the v2 (RFC 5958) form that ed25519-dalek
    /// writes by default; `load` still reads both.
    fn save_new(&self, path: &Path) -> Result<(), KeyFileError> {
        let v1 = KeypairBytes {
            secret_key: self.signing_key().to_bytes(),
            public_key: None,
        };
        let pem = v1
            .to_pkcs8_pem(Default::default())
            .map_err(|e| KeyFileError::Parse {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        write_private_file(path, pem.as_bytes()).map_err(|source| KeyFileError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

/// Destroys a retired private key file: overwrites its bytes with zeros, syncs, and
/// unlinks it. Best effort against recovery: a journaling or copy-on-write file system,
/// a snapshot or a backup may still hold the old bytes (docs/OPERATIONS.md, "Rotating
/// the signing key").
pub fn destroy_key_file(path: &Path) -> Result<(), KeyFileError> {
    use std::io::Write;
    let write_err = |source| KeyFileError::Write {
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

/// Largest key file read: a PEM private key is a few hundred bytes.
pub const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// Reads a key file as text, refusing anything but a regular file of at most
/// [`MAX_KEY_FILE_BYTES`]: a FIFO would block the reader forever, and a link to a
/// device such as `/dev/zero` would be read without end.
pub(crate) fn read_key_file(path: &Path) -> Result<String, KeyFileError> {
    use std::io::Read;
    let read_err = |source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    };
    // Checked before opening (opening a FIFO for reading blocks until a writer comes)...
    let kind = match std::fs::metadata(path) {
        Ok(meta) => meta.file_type(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KeyFileError::Missing {
                path: path.to_owned(),
            })
        }
        Err(e) => return Err(read_err(e)),
    };
    if !kind.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // ...and again on what was opened, in case the path changed in between; non-blocking,
    // so even a FIFO swapped in at that moment cannot hold the open.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    if !meta.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mut text = String::new();
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
            limit: MAX_KEY_FILE_BYTES,
        });
    }
    Ok(text)
}

#[cfg(unix)]
pub(crate) fn check_private_mode(path: &Path) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|source| KeyFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_private_mode(_path: &Path) -> Result<(), KeyFileError> {
    Ok(())
}

pub(crate) fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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
                Err(KeyFileError::Permissions { .. })
            ));
        }
    }

    #[test]
    fn garbage_key_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_private_file(&path, b"not a key").unwrap();
        let err = LedgerKey::load(&path).err().unwrap().to_string();
        assert!(err.contains("not an Ed25519 PKCS#8 PEM"), "{err}");
    }
}
