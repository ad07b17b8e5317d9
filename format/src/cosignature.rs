//! C2SP tlog-cosignature v1 (Ed25519): a witness's timestamped statement that a
//! checkpoint is the largest consistent tree it has seen for the log.
//!
//! Key ID: `SHA-256(name || 0x0A || 0x04 || public key)[:4]`. Signature line blob:
//! `key ID || u64 big-endian timestamp || Ed25519 signature` over
//! `"cosignature/v1\ntime <timestamp>\n" || checkpoint body`.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use super::checkpoint::{CheckpointError, MAX_KEY_NAME_LEN, MAX_NOTE_SIZE, MAX_SIGNATURES};

/// signed-note signature type of an Ed25519 cosignature/v1.
pub const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;
/// Largest timestamp a cosignature may carry (2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;
const SIG_LINE_PREFIX: &str = "\u{2014} ";
const BLOB_LEN: usize = 4 + 8 + 64;

/// Why a witness key, cosignature or cosigned note is refused (§13.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    /// Vkey text that is not `<name>+<8 hex key ID>+<base64(0x04 || 32-byte key)>` (another
    /// signature type included), or whose key ID is not the one its name and key give.
    #[error("invalid cosigner key: {0}")]
    BadKey(&'static str),
    /// A witness name that is empty, over [`MAX_KEY_NAME_LEN`] bytes, or holds whitespace,
    /// `+` or a control character; holds at most 80 characters of it.
    #[error("invalid cosigner name {0:?}")]
    BadName(String),
    /// A line by a known (name, key ID) whose blob is not 76 bytes or fails
    /// `verify_strict`: the whole note is rejected (§13.3).
    #[error("cosignature by {0:?} does not verify")]
    BadSignature(String),
    /// A timestamp above [`MAX_TIMESTAMP`], to sign or read from a line; holds the witness
    /// name and the timestamp.
    #[error("cosignature by {0:?} has timestamp {1}, above 2^63-1")]
    BadTimestamp(String, u64),
    /// A signature line that is not `— <name> <base64>` with a blob of at least 5 bytes.
    #[error("malformed signature line: {0}")]
    MalformedLine(&'static str),
    /// The note breaks a signed-note rule: size, blank-line separator, final newline or
    /// number of lines (§7).
    #[error(transparent)]
    Note(#[from] CheckpointError),
}

/// A witness public key as a verifier knows it.
#[derive(Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl fmt::Debug for CosignerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_vkey())
    }
}

fn check_name(name: &str) -> Result<(), CosignatureError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_KEY_NAME_LEN
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(CosignatureError::BadName(name.chars().take(80).collect()))
    }
}

/// `SHA-256(name || "\n" || 0x04 || key)[:4]`.
pub fn cosigner_key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    super::checkpoint::typed_key_id(name, SIG_TYPE_COSIGNATURE_V1, key)
}

impl CosignerKey {
    /// A witness key under `name` (a schema-less URL such as `witness.example/w1`), its key
    /// ID derived as [`cosigner_key_id`] does.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, CosignatureError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            id: cosigner_key_id(name, &key),
            key,
        })
    }

    /// Parses a vkey `<name>+<8 hex id>+<base64(0x04 || 32-byte key)>`.
    pub fn from_vkey(vkey: &str) -> Result<Self, CosignatureError> {
        let (name, id, key) = super::checkpoint::parse_vkey(vkey, SIG_TYPE_COSIGNATURE_V1)
            .map_err(CosignatureError::BadKey)?;
        let k = Self::new(name, key)?;
        if k.id != id {
            return Err(CosignatureError::BadKey(
                "key hash does not match name and key",
            ));
        }
        Ok(k)
    }

    /// The vkey text, `<name>+<8 hex key ID>+<base64(0x04 || key)>` (§13.3), as a policy's
    /// `witness` line names it.
    pub fn to_vkey(&self) -> String {
        super::checkpoint::format_vkey(&self.name, self.id, SIG_TYPE_COSIGNATURE_V1, &self.key)
    }

    /// The name the witness's signature lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte key ID, `SHA-256(name || 0x0A || 0x04 || key)[0..4]` (§13.3).
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    /// The Ed25519 public key, checked with `verify_strict` (§5).
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// The message a v1 cosignature signs.
pub fn signed_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// Cosigns a checkpoint body; returns the signature line, newline included.
pub fn cosign(
    body: &str,
    name: &str,
    key: &SigningKey,
    timestamp: u64,
) -> Result<String, CosignatureError> {
    check_name(name)?;
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::BadTimestamp(name.to_owned(), timestamp));
    }
    let id = cosigner_key_id(name, &key.verifying_key());
    let sig = key.sign(signed_message(body, timestamp).as_bytes());
    let mut blob = Vec::with_capacity(BLOB_LEN);
    blob.extend_from_slice(&id);
    blob.extend_from_slice(&timestamp.to_be_bytes());
    blob.extend_from_slice(&sig.to_bytes());
    Ok(format!("{SIG_LINE_PREFIX}{name} {}\n", B64.encode(blob)))
}

/// A cosignature that verified: who, and when they said they saw the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    /// The witness's key name.
    pub name: String,
    /// The key ID of the key that verified the line (§13.3). With the name it tells apart
    /// two keys of one witness name, as a policy listing a rotated key beside its
    /// successor has: a line by one must never count for the other.
    pub key_id: [u8; 4],
    /// The time in the signed message, POSIX seconds (at most [`MAX_TIMESTAMP`]): when the
    /// witness says it cosigned.
    pub timestamp: u64,
}

/// Splits a note into its text (with final newline) and its signature lines.
pub fn split_note(note: &str) -> Result<(&str, Vec<&str>), CosignatureError> {
    if note.len() > MAX_NOTE_SIZE {
        return Err(CheckpointError::NoteTooLarge { size: note.len() }.into());
    }
    let split = note.rfind("\n\n").ok_or(CheckpointError::Malformed(
        "no blank line before signatures",
    ))?;
    let lines: Vec<&str> = note[split + 2..]
        .strip_suffix('\n')
        .ok_or(CheckpointError::MissingTrailingNewline)?
        .split('\n')
        .collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(CheckpointError::TooManySignatures { count: lines.len() }.into());
    }
    Ok((&note[..split + 1], lines))
}

/// Verifies every cosignature in `note` by a key in `keys`. Lines by unknown keys are
/// ignored (the log's own signature among them); a known key's line that fails is an
/// error, as signed-note requires.
pub fn verify_cosignatures(
    note: &str,
    keys: &[CosignerKey],
) -> Result<Vec<Cosigned>, CosignatureError> {
    let (body, lines) = split_note(note)?;
    let mut out: Vec<Cosigned> = Vec::new();
    for line in lines {
        let rest = line
            .strip_prefix(SIG_LINE_PREFIX)
            .ok_or(CosignatureError::MalformedLine(
                "must start with an em dash",
            ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(CosignatureError::MalformedLine("expected <name> <base64>"))?;
        let blob = B64
            .decode(b64)
            .map_err(|_| CosignatureError::MalformedLine("signature is not base64"))?;
        if blob.len() < 5 {
            return Err(CosignatureError::MalformedLine("signature too short"));
        }
        let Some(k) = keys.iter().find(|k| k.name == name && k.id == blob[..4]) else {
            continue;
        };
        let bad = || CosignatureError::BadSignature(name.to_owned());
        if blob.len() != BLOB_LEN {
            return Err(bad());
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&blob[4..12]);
        let timestamp = u64::from_be_bytes(ts);
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::BadTimestamp(name.to_owned(), timestamp));
        }
        let mut sig = [0u8; 64];
        sig.copy_from_slice(&blob[12..]);
        k.key
            .verify_strict(
                signed_message(body, timestamp).as_bytes(),
                &Signature::from_bytes(&sig),
            )
            .map_err(|_| bad())?;
        if !out.iter().any(|c| c.name == name && c.key_id == k.id) {
            out.push(Cosigned {
                name: name.to_owned(),
                key_id: k.id,
                timestamp,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;

    const BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[4u8; 32])
    }

    #[test]
    fn message_matches_the_spec_example() {
        assert_eq!(
            signed_message(BODY, 1_679_315_147),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn cosign_and_verify_round_trip() {
        let k = CosignerKey::new("witness.example/w1", key().verifying_key()).unwrap();
        assert_eq!(CosignerKey::from_vkey(&k.to_vkey()).unwrap(), k);
        let line = cosign(BODY, "witness.example/w1", &key(), 1_679_315_147).unwrap();
        let note = format!("{BODY}\n\u{2014} example.com/behind-the-sofa AAAAAAAA\n{line}");
        let got = verify_cosignatures(&note, std::slice::from_ref(&k)).unwrap();
        assert_eq!(
            got,
            vec![Cosigned {
                name: "witness.example/w1".into(),
                key_id: k.key_id(),
                timestamp: 1_679_315_147
            }]
        );
        // Any edited body byte, or a timestamp changed, fails.
        let edited = note.replacen("20852163", "20852164", 1);
        assert!(matches!(
            verify_cosignatures(&edited, std::slice::from_ref(&k)),
            Err(CosignatureError::BadSignature(_))
        ));
        // A key of type 0x01 (a log key) is not a witness key.
        let log_vkey = crate::checkpoint::NoteVerifier::new("w", key().verifying_key())
            .unwrap()
            .to_verifier_key();
        assert!(CosignerKey::from_vkey(&log_vkey).is_err());
        // An unknown witness's line is ignored.
        let other = CosignerKey::new("witness.example/w2", key().verifying_key()).unwrap();
        assert!(verify_cosignatures(&note, &[other]).unwrap().is_empty());
    }

    #[test]
    fn key_id_uses_type_4() {
        let vk = key().verifying_key();
        let mut h = sha2::Sha256::new();
        h.update(b"w\n\x04");
        h.update(vk.as_bytes());
        assert_eq!(cosigner_key_id("w", &vk), h.finalize()[..4]);
        assert_ne!(
            cosigner_key_id("w", &vk),
            crate::checkpoint::key_id("w", &vk)
        );
    }
}

#[cfg(test)]
mod vectors {
    //! The vectors of docs/LEDGER_FORMAT.md section 13.3; Go's check of the same
    //! message format is tests/go_tlog/main.go.
    use super::*;

    const BODY: &str =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const VKEY: &str = "witness.example/w1+141f260a+BMqTrBcFGHBx1nuDx/8O/oEI6OxFMFdddyaHkzPb2r58";
    const LINE: &str = "\u{2014} witness.example/w1 FB8mCgAAAABkGFDL82BuVAliPYXLWoJdqTHPN+gVatFS5l4TLdVUdui5SWFBYaPFa5qCTXt9oXy6f2KKtotpN9mICDJhWyA+srs/Ag==\n";

    #[test]
    fn documented_cosignature_vector() {
        let k = SigningKey::from_bytes(&[4u8; 32]);
        let ck = CosignerKey::new("witness.example/w1", k.verifying_key()).unwrap();
        assert_eq!(ck.to_vkey(), VKEY);
        assert_eq!(
            cosign(BODY, "witness.example/w1", &k, 1_679_315_147).unwrap(),
            LINE
        );
        let note = format!("{BODY}\n{LINE}");
        let got = verify_cosignatures(&note, &[CosignerKey::from_vkey(VKEY).unwrap()]).unwrap();
        assert_eq!(got[0].timestamp, 1_679_315_147);
        assert_eq!(
            crate::merkle::leaf_hash(&[1u8; 32]).to_hex(),
            "dcffe786ded16d283c663846ad0c4ff26558fccde36ca9d30b2ea19eade9fc0e"
        );
    }
}
