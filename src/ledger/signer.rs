//! The signing key a running process holds, and how it follows a rotation made by
//! another process (`keys rotate` while `serve` runs).
//!
//! The writer checks, inside the transaction that locks the chain head, that the key
//! stream has not moved since it last read the key history (`sequencer`). When it has,
//! it reads the history again and asks here for the key now active: the key it holds if
//! that is still the one, otherwise whatever the key file now holds. If that is not the
//! active key either, nothing is signed: every write fails with [`SignerError`] until
//! the operator puts the active key's file at the path this process was started with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use icac_format::keys::{KeyId, LedgerKey};

use super::key_file::KeyFile;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignerError {
    #[error(
        "the signing key {held} was retired by a rotation; the ledger's active key is \
         {active}. Nothing was written: put the key file the rotation wrote at {path} \
         (this process re-reads it before its next write){reason}"
    )]
    Retired {
        held: KeyId,
        active: KeyId,
        path: String,
        /// Why the file at `path` did not help, with a leading separator; empty if it
        /// holds the retired key.
        reason: String,
    },
}

/// The key this process signs with, shared by the writer and the checkpointer.
pub struct Signer {
    /// Where the key was loaded from; `None` for a key given in memory (tests, `init`).
    path: Option<PathBuf>,
    current: Mutex<Arc<LedgerKey>>,
}

impl Signer {
    pub fn new(key: LedgerKey, path: Option<&Path>) -> Self {
        Self {
            path: path.map(Path::to_path_buf),
            current: Mutex::new(Arc::new(key)),
        }
    }

    /// The key file this process was started with, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The key held now.
    pub fn current(&self) -> Arc<LedgerKey> {
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Holds `key` from now on (this process rotated to it).
    pub fn install(&self, key: Arc<LedgerKey>) {
        *self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = key;
    }

    /// The key to sign with while `active` is the ledger's active key: the one held, or
    /// the key file read again. Never a key other than `active`.
    pub fn for_active(&self, active: &KeyId) -> Result<Arc<LedgerKey>, SignerError> {
        let held = self.current();
        if held.id() == active {
            return Ok(held);
        }
        let retired = |path: String, reason: String| SignerError::Retired {
            held: held.id().clone(),
            active: active.clone(),
            path,
            reason,
        };
        let Some(path) = &self.path else {
            return Err(retired("the key path".into(), String::new()));
        };
        let shown = path.display().to_string();
        match LedgerKey::load(path) {
            Ok(key) if key.id() == active => {
                let key = Arc::new(key);
                self.install(key.clone());
                tracing::info!(key = %active, "signing with the key rotated in");
                Ok(key)
            }
            Ok(key) if key.id() == held.id() => Err(retired(shown, String::new())),
            Ok(key) => Err(retired(
                shown,
                format!(
                    "; it now holds key {}, which is not the active key",
                    key.id()
                ),
            )),
            Err(e) => Err(retired(shown, format!("; {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_key_file_to_the_active_key_and_never_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        let old = LedgerKey::generate();
        let old_id = old.id().clone();
        let signer = Signer::new(old, Some(&path));
        assert_eq!(signer.for_active(&old_id).unwrap().id(), &old_id);

        let next = LedgerKey::generate();
        let next_id = next.id().clone();
        // No file at the path: refused, with the path named.
        let err = signer.for_active(&next_id).err().unwrap().to_string();
        assert!(
            err.contains(&next_id.to_string()) && err.contains("k.pem"),
            "{err}"
        );
        // Another key in the file: still refused.
        LedgerKey::generate().save_new(&path).unwrap();
        assert!(signer.for_active(&next_id).is_err());
        assert_eq!(signer.current().id(), &old_id);
        // The active key's file: taken up.
        std::fs::remove_file(&path).unwrap();
        next.save_new(&path).unwrap();
        assert_eq!(signer.for_active(&next_id).unwrap().id(), &next_id);
        assert_eq!(signer.current().id(), &next_id);
        // And the retired key is never handed out again.
        assert!(signer.for_active(&old_id).is_err());
    }
}
