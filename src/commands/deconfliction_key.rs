//! The server-held deconfliction key: 32 random bytes (64 hex digits in a file of mode
//! 0600 next to the signing key, `<signing key file name>.deconfliction-key`). Subject
//! identifiers and CyberTip numbers are compared as HMAC-SHA-256 under it, so the
//! fingerprints the ledger keeps reveal nothing to anyone without this file. It is never
//! written to the chain, never logged (its `Debug` prints nothing), and never rotated:
//! a new key would make every earlier fingerprint unmatchable (docs/OPERATIONS.md).

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use icac_aggregates::deconfliction::{Fingerprint, MatchBasis};
use icac_aggregates::ids::Ori;
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

use crate::ledger::key_file::{
    check_private_mode, read_key_file, write_private_file, KeyFileError,
};

/// `Clone`: a second `Commands` over the same ledger (a test of two writers) compares
/// under the same key.
#[derive(Clone)]
pub struct DeconflictionKey([u8; 32]);

impl std::fmt::Debug for DeconflictionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeconflictionKey(..)")
    }
}

/// Where the key lives for a signing key at `signing_key`.
pub fn path_for(signing_key: &Path) -> PathBuf {
    let mut name = signing_key
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(".deconfliction-key");
    signing_key.with_file_name(name)
}

impl DeconflictionKey {
    /// A key held in memory only, for a ledger opened without a key file (tests,
    /// benchmarks): fingerprints then match within this process only.
    pub fn ephemeral() -> Self {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        DeconflictionKey(bytes)
    }

    /// The key of `ledger`'s deployment: the file next to its signing key (created on
    /// first use); a ledger opened without a key file gets a key for this process only.
    pub fn for_ledger(ledger: &crate::ledger::Ledger) -> Result<Self, KeyFileError> {
        match ledger.signer().path() {
            Some(signing) => Self::load_or_create(&path_for(signing)),
            None => Ok(Self::ephemeral()),
        }
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        DeconflictionKey(bytes)
    }

    /// Reads the key at `path`, or creates it there (mode 0600) on first use.
    pub fn load_or_create(path: &Path) -> Result<Self, KeyFileError> {
        match read_key_file(path) {
            Ok(text) => {
                check_private_mode(path)?;
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| KeyFileError::Parse {
                        path: path.to_owned(),
                        reason: "a deconfliction key is 64 hex digits".into(),
                    })?;
                Ok(DeconflictionKey(bytes))
            }
            Err(KeyFileError::Missing { .. }) => {
                let key = Self::ephemeral();
                let text = format!("{}\n", hex::encode(key.0));
                write_private_file(path, text.as_bytes()).map_err(|source| {
                    KeyFileError::Write {
                        path: path.to_owned(),
                        source,
                    }
                })?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// HMAC-SHA-256 over `label 0x00 normalised`: the label keeps kinds apart.
    pub fn fingerprint(&self, basis: MatchBasis, normalised: &str) -> Fingerprint {
        self.keyed(basis.label(), normalised)
    }

    /// The stream id of a case's deconfliction record: its registered values, its
    /// not-checked flag and follow-up (keyed, so the stream id does not name the case).
    pub fn case_stream(&self, case_id: &str) -> Fingerprint {
        self.keyed("case_deconfliction", case_id)
    }

    /// The stream id of the match on `fingerprint` between two units, whichever order
    /// they are given in: the one stream both units' filings race for.
    pub fn pair_stream(&self, fingerprint: &Fingerprint, a: &Ori, b: &Ori) -> Fingerprint {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let input = format!("{}\0{}\0{}", fingerprint.as_str(), lo.as_str(), hi.as_str());
        self.keyed("value_unit_pair", &input)
    }

    fn keyed(&self, label: &str, normalised: &str) -> Fingerprint {
        // A key shorter than SHA-256's 64-byte block is zero-padded by HMAC itself
        // (RFC 2104), so padding it here is the same MAC without a fallible call.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.0);
        let mut mac = <Hmac<Sha256> as hmac::digest::KeyInit>::new(
            hmac::digest::generic_array::GenericArray::from_slice(&block),
        );
        mac.update(label.as_bytes());
        mac.update(&[0]);
        mac.update(normalised.as_bytes());
        Fingerprint::from_bytes(mac.finalize().into_bytes().into())
    }
}
