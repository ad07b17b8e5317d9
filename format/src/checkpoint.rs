//! Signed ledger checkpoints: C2SP `tlog-checkpoint` bodies wrapped in C2SP
//! `signed-note` envelopes with Ed25519 signatures.
//!
//! Using the C2SP formats (rather than a bespoke JSON blob) means existing
//! transparency tooling (Go `golang.org/x/mod/sumdb/note`, witnesses,
//! monitors) can read and verify our checkpoints.
//!
//! Body (note text), every line ending in U+000A:
//!
//! ```text
//! icac-ledger/<ledger_id>        origin
//! <tree size, decimal>           number of events in the ledger
//! <base64 RFC 6962 root>         Merkle root over the event hashes
//! head <64 lowercase hex>        our extension: hash of the last event
//! time <RFC 3339 UTC>            our extension: when the checkpoint was cut
//! ```
//!
//! Verification follows the signed-note rules: the text is not looked at until
//! a signature from a trusted key has verified.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::{Hash32, EMPTY_ROOT, MAX_TREE_SIZE};

/// Largest note we will parse. A checkpoint with a handful of cosignatures is
/// well under 1 KiB; the cap bounds work done on hostile input.
pub const MAX_NOTE_SIZE: usize = 16 * 1024;

/// Most signature lines accepted in one note (the spec requires at least 16).
pub const MAX_SIGNATURES: usize = 16;

/// Longest ledger id, matching the ledger's own `LedgerId` rule.
pub const MAX_LEDGER_ID_LEN: usize = 64;

/// Longest key name accepted in a signature line or verifier key.
pub const MAX_KEY_NAME_LEN: usize = 256;

/// Origin and key-name prefix; the full name is `icac-ledger/<ledger_id>`.
pub const ORIGIN_PREFIX: &str = "icac-ledger/";

/// signed-note signature type for Ed25519.
pub const SIG_TYPE_ED25519: u8 = 0x01;

/// Length of `4-byte key id || 64-byte Ed25519 signature`.
const ED25519_SIG_BLOB_LEN: usize = 4 + 64;

const SIG_LINE_PREFIX: &str = "\u{2014} ";
const HEAD_PREFIX: &str = "head ";
const TIME_PREFIX: &str = "time ";

/// How much of an offending input value is echoed back in an error.
const ECHO_LIMIT: usize = 80;

fn echo(s: &str) -> String {
    s.chars().take(ECHO_LIMIT).collect()
}

/// Why a signed note, verifier key or checkpoint is refused (§7, "Checkpoint body" and
/// "Signed note"; "step" is a step of the note's verification there). The body errors
/// (lines 1–5) are looked for only once a trusted signature has verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The note is over [`MAX_NOTE_SIZE`] bytes (step 1), refused unread.
    #[error("note is {size} bytes; the limit is {MAX_NOTE_SIZE}")]
    NoteTooLarge {
        /// The note's length in bytes.
        size: usize,
    },
    /// The note or body does not end in `\n` (step 1).
    #[error("note does not end with a newline")]
    MissingTrailingNewline,
    /// A control character other than `\n` (step 1), which also refuses `\r\n` line ends.
    #[error("note contains control character {byte:#04x} at byte {offset}")]
    ControlCharacter {
        /// The byte, below 0x20.
        byte: u8,
        /// Its 0-based byte offset in the note.
        offset: usize,
    },
    /// No blank line separates text and signatures, or none follows it (step 2).
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// A signature line is not `— <name> <base64>` with a valid name and a decoded blob
    /// of at least 5 bytes (step 2).
    #[error("malformed signature line {line}: {reason}")]
    MalformedSignatureLine {
        /// The 1-based line number in the note.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// More than [`MAX_SIGNATURES`] signature lines (step 2).
    #[error("note has {count} signatures; the limit is {MAX_SIGNATURES}")]
    TooManySignatures {
        /// The number of signature lines.
        count: usize,
    },
    /// No signature line is by a trusted (name, key ID) pair (step 4).
    #[error("note has no signature from a trusted key")]
    UnknownKey,
    /// A trusted key's signature is not 64 bytes or fails `verify_strict` (step 3): the
    /// whole note is rejected, not just that line.
    #[error("signature by trusted key {key_name:?} does not verify")]
    BadSignature {
        /// The key name on the failing line.
        key_name: String,
    },
    /// A key name that is empty, over [`MAX_KEY_NAME_LEN`] bytes, or holds whitespace,
    /// `+` or a control character.
    #[error("invalid key name {0:?}: must be 1-{MAX_KEY_NAME_LEN} bytes with no spaces, '+' or control characters")]
    BadKeyName(String),
    /// Verifier key text that is not `<name>+<8 hex key ID>+<base64(0x01 || key)>`, or
    /// whose key ID is not the one its name and key give.
    #[error("invalid verifier key: {0}")]
    BadVerifierKey(&'static str),
    /// The body does not have exactly the five lines origin, size, root, `head`, `time`
    /// (no other extension line, none missing).
    #[error("malformed checkpoint line {line}: {reason}")]
    MalformedCheckpoint {
        /// The 1-based body line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The origin is not `icac-ledger/<ledger_id>`.
    #[error("bad origin {0:?}: expected \"icac-ledger/<ledger_id>\"")]
    BadOrigin(String),
    /// A ledger id outside 1–[`MAX_LEDGER_ID_LEN`] characters of `[a-z0-9-]`.
    #[error("bad ledger id {0:?}: must be 1-{MAX_LEDGER_ID_LEN} characters of [a-z0-9-]")]
    BadLedgerId(String),
    /// A tree size that is not plain decimal (no sign, no leading zero) or is above
    /// [`MAX_TREE_SIZE`].
    #[error("bad tree size {0:?}: must be decimal without leading zeros, at most 2^62")]
    BadSize(String),
    /// The root line is not 44 characters of standard base64 for 32 bytes.
    #[error("bad root hash encoding {0:?}: must be standard base64 of 32 bytes")]
    BadRootEncoding(String),
    /// The fourth line is not `head ` and 64 lowercase hex digits.
    #[error("bad head line {0:?}: expected \"head <64 lowercase hex>\"")]
    BadHead(String),
    /// The fifth line is not `time ` and a real UTC instant `YYYY-MM-DDTHH:MM:SS[.F]Z`,
    /// `F` 1–9 digits, seconds below 60.
    #[error("bad time line {0:?}: expected \"time YYYY-MM-DDTHH:MM:SS[.fraction]Z\"")]
    BadTime(String),
    /// Size 0 with a root other than [`EMPTY_ROOT`] or a head other than zeros.
    #[error("empty ledger checkpoint must have the empty root and an all-zero head")]
    InconsistentEmpty,
    /// The note verified, but not under the key named after its origin (step 4): a
    /// witness's signature alone does not vouch for a checkpoint.
    #[error("no verified signature is by the key named after origin {0:?}")]
    OriginNotSigned(String),
}

// ---------------------------------------------------------------------------
// Keys.
// ---------------------------------------------------------------------------

/// Key name (and checkpoint origin) for a ledger.
pub fn key_name(ledger_id: &str) -> Result<String, CheckpointError> {
    check_ledger_id(ledger_id)?;
    Ok(format!("{ORIGIN_PREFIX}{ledger_id}"))
}

fn check_ledger_id(id: &str) -> Result<(), CheckpointError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_LEDGER_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(CheckpointError::BadLedgerId(echo(id)))
    }
}

fn check_key_name(name: &str) -> Result<(), CheckpointError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_KEY_NAME_LEN
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(CheckpointError::BadKeyName(echo(name)))
    }
}

/// signed-note key ID: `SHA-256(name || 0x0A || 0x01 || public key)[:4]`.
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    typed_key_id(name, SIG_TYPE_ED25519, key)
}

/// A signed-note key ID for signature type `alg`: `SHA-256(name || 0x0A || alg || key)[:4]`.
pub(crate) fn typed_key_id(name: &str, alg: u8, key: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(key.as_bytes());
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// A verifier key's text: `<name>+<hex key ID>+<base64(alg || key)>`.
pub(crate) fn format_vkey(name: &str, id: [u8; 4], alg: u8, key: &VerifyingKey) -> String {
    let mut typed = Vec::with_capacity(33);
    typed.push(alg);
    typed.extend_from_slice(key.as_bytes());
    format!("{}+{}+{}", name, hex::encode(id), B64.encode(typed))
}

/// A trusted signer: key name, key ID and Ed25519 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_verifier_key())
    }
}

impl NoteVerifier {
    /// A verifier for `key` under `name`, its key ID derived as [`key_id`] does; refuses a
    /// name [`CheckpointError::BadKeyName`] describes.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, CheckpointError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            id: key_id(name, &key),
            key,
        })
    }

    /// The verifier for a ledger's checkpoints (`icac-ledger/<ledger_id>`).
    pub fn for_ledger(ledger_id: &str, key: VerifyingKey) -> Result<Self, CheckpointError> {
        Self::new(&key_name(ledger_id)?, key)
    }

    /// Parses Go `sumdb/note` verifier key text:
    /// `<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>`.
    pub fn from_verifier_key(vkey: &str) -> Result<Self, CheckpointError> {
        let (name, id, key) =
            parse_vkey(vkey, SIG_TYPE_ED25519).map_err(CheckpointError::BadVerifierKey)?;
        check_key_name(name)?;
        let v = Self::new(name, key)?;
        if v.id != id {
            return Err(CheckpointError::BadVerifierKey(
                "key hash does not match name and key",
            ));
        }
        Ok(v)
    }

    /// Go `sumdb/note` verifier key text, for export to other tooling.
    pub fn to_verifier_key(&self) -> String {
        format_vkey(&self.name, self.id, SIG_TYPE_ED25519, &self.key)
    }

    /// The key name signature lines must carry; for a ledger, its checkpoint origin.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 4-byte signed-note key ID, `SHA-256(name || 0x0A || 0x01 || key)[0..4]` (§7).
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    /// The Ed25519 public key, checked with `verify_strict` (§5).
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

/// Go `sumdb/note` verifier key text for a ledger's public key.
pub fn verifier_key_string(ledger_id: &str, key: &VerifyingKey) -> Result<String, CheckpointError> {
    Ok(NoteVerifier::for_ledger(ledger_id, *key)?.to_verifier_key())
}

/// The note verifier keys (C2SP signed-note) a reader trusts: by name and key ID,
/// with no positions. Not `keys::Keyring`, which binds ledger keys to position ranges.
#[derive(Clone, Debug, Default)]
pub struct NoteVerifiers {
    verifiers: Vec<NoteVerifier>,
}

impl NoteVerifiers {
    /// No trusted keys: every note is then refused as [`CheckpointError::UnknownKey`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `v` as well; adding the same verifier twice keeps one.
    pub fn add(&mut self, v: NoteVerifier) {
        if !self.verifiers.contains(&v) {
            self.verifiers.push(v);
        }
    }

    /// Signature lookup is by (name, key ID) together, as the spec requires:
    /// a match on only one of them is someone else's key.
    fn find(&self, name: &str, id: &[u8]) -> Option<&NoteVerifier> {
        self.verifiers.iter().find(|v| v.name == name && v.id == id)
    }
}

impl From<NoteVerifier> for NoteVerifiers {
    fn from(v: NoteVerifier) -> Self {
        Self { verifiers: vec![v] }
    }
}

// ---------------------------------------------------------------------------
// Signed notes (C2SP signed-note).
// ---------------------------------------------------------------------------

fn check_note_chars(s: &str) -> Result<(), CheckpointError> {
    match s.bytes().enumerate().find(|&(_, b)| b < 0x20 && b != b'\n') {
        Some((offset, byte)) => Err(CheckpointError::ControlCharacter { byte, offset }),
        None => Ok(()),
    }
}

/// Signs `text` (which must end in a newline) as a one-signature note.
pub fn sign_note(text: &str, name: &str, key: &SigningKey) -> Result<String, CheckpointError> {
    check_key_name(name)?;
    check_note_chars(text)?;
    if !text.ends_with('\n') {
        return Err(CheckpointError::MissingTrailingNewline);
    }
    let id = key_id(name, &key.verifying_key());
    let sig = key.sign(text.as_bytes());
    let mut blob = Vec::with_capacity(ED25519_SIG_BLOB_LEN);
    blob.extend_from_slice(&id);
    blob.extend_from_slice(&sig.to_bytes());
    let note = format!("{text}\n{SIG_LINE_PREFIX}{name} {}\n", B64.encode(blob));
    if note.len() > MAX_NOTE_SIZE {
        return Err(CheckpointError::NoteTooLarge { size: note.len() });
    }
    Ok(note)
}

/// A note whose text carries at least one verified trusted signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNote<'a> {
    /// Note text including its final newline.
    pub text: &'a str,
    /// Names of the trusted keys whose signatures verified.
    pub signers: Vec<String>,
}

/// Checks a signed note against `keys` and returns its text.
///
/// Signatures by unknown keys are ignored (they may be witnesses'
/// cosignatures); a signature by a trusted key that fails rejects the note.
pub fn open_note<'a>(
    note: &'a str,
    keys: &NoteVerifiers,
) -> Result<VerifiedNote<'a>, CheckpointError> {
    if note.len() > MAX_NOTE_SIZE {
        return Err(CheckpointError::NoteTooLarge { size: note.len() });
    }
    check_note_chars(note)?;
    if !note.ends_with('\n') {
        return Err(CheckpointError::MissingTrailingNewline);
    }
    // The text ends at the *last* blank line; it may contain blank lines itself.
    let split = note.rfind("\n\n").ok_or(CheckpointError::Malformed(
        "no blank line before signatures",
    ))?;
    let text = &note[..split + 1];
    let sig_block = &note[split + 2..];
    if sig_block.is_empty() {
        return Err(CheckpointError::Malformed("no signature lines"));
    }
    let text_lines = text.matches('\n').count() + 1;
    let sig_lines: Vec<&str> = sig_block
        .strip_suffix('\n')
        .unwrap_or(sig_block)
        .split('\n')
        .collect();
    if sig_lines.len() > MAX_SIGNATURES {
        return Err(CheckpointError::TooManySignatures {
            count: sig_lines.len(),
        });
    }

    let mut signers: Vec<String> = Vec::new();
    for (i, line) in sig_lines.iter().enumerate() {
        let line_no = text_lines + 1 + i;
        let bad = |reason| CheckpointError::MalformedSignatureLine {
            line: line_no,
            reason,
        };
        let rest = line
            .strip_prefix(SIG_LINE_PREFIX)
            .ok_or_else(|| bad("must start with an em dash and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("expected <key name> <base64>"))?;
        check_key_name(name).map_err(|_| bad("invalid key name"))?;
        let blob = B64
            .decode(b64)
            .map_err(|_| bad("signature is not standard base64"))?;
        if blob.len() < 5 {
            return Err(bad("signature shorter than key ID plus one byte"));
        }
        let (id, sig) = blob.split_at(4);
        let Some(v) = keys.find(name, id) else {
            continue;
        };
        let bad_sig = || CheckpointError::BadSignature {
            key_name: name.to_owned(),
        };
        let sig: [u8; 64] = sig.try_into().map_err(|_| bad_sig())?;
        // verify_strict also rejects small-order keys and non-canonical
        // encodings, so one key cannot produce two valid signature bytes.
        v.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(&sig))
            .map_err(|_| bad_sig())?;
        if !signers.iter().any(|s| s == name) {
            signers.push(name.to_owned());
        }
    }
    if signers.is_empty() {
        return Err(CheckpointError::UnknownKey);
    }
    Ok(VerifiedNote { text, signers })
}

// ---------------------------------------------------------------------------
// Checkpoints (C2SP tlog-checkpoint + our extension lines).
// ---------------------------------------------------------------------------

/// A ledger checkpoint: the signed statement "ledger `ledger_id` had `size`
/// events, with Merkle root `root` and chain head `head`, at `time`".
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// `icac-ledger/<ledger_id>`; also the signing key's name.
    pub origin: String,
    /// The ledger the checkpoint is for (§1 rule: 1–64 of `[a-z0-9-]`); the origin without
    /// its prefix.
    pub ledger_id: String,
    /// Number of events (= Merkle tree size = position of the last event).
    pub size: u64,
    /// RFC 6962 root over the event hashes at positions `1..=size`.
    pub root: Hash32,
    /// `hash` of the event at position `size`; all zero when `size == 0`.
    pub head: Hash32,
    /// RFC 3339 UTC timestamp, `Z` suffix.
    pub time: String,
}

impl Checkpoint {
    /// Builds a checkpoint and checks every field the body format constrains.
    pub fn new(
        ledger_id: &str,
        size: u64,
        root: Hash32,
        head: Hash32,
        time: &str,
    ) -> Result<Self, CheckpointError> {
        let cp = Self {
            origin: key_name(ledger_id)?,
            ledger_id: ledger_id.to_owned(),
            size,
            root,
            head,
            time: time.to_owned(),
        };
        cp.validate()?;
        Ok(cp)
    }

    fn validate(&self) -> Result<(), CheckpointError> {
        check_ledger_id(&self.ledger_id)?;
        if self.origin != format!("{ORIGIN_PREFIX}{}", self.ledger_id) {
            return Err(CheckpointError::BadOrigin(echo(&self.origin)));
        }
        if self.size > MAX_TREE_SIZE {
            return Err(CheckpointError::BadSize(self.size.to_string()));
        }
        if !is_rfc3339_utc(&self.time) {
            return Err(CheckpointError::BadTime(echo(&self.time)));
        }
        // The empty ledger has exactly one valid checkpoint body per time;
        // anything else claiming size 0 is a bug or a forgery.
        if self.size == 0 && (self.root != EMPTY_ROOT || self.head != Hash32::ZERO) {
            return Err(CheckpointError::InconsistentEmpty);
        }
        Ok(())
    }

    /// The note text (checkpoint body) that gets signed.
    pub fn body(&self) -> Result<String, CheckpointError> {
        self.validate()?;
        Ok(format!(
            "{}\n{}\n{}\n{HEAD_PREFIX}{}\n{TIME_PREFIX}{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0),
            self.head.to_hex(),
            self.time
        ))
    }

    /// Parses a checkpoint body. Only call this on verified note text.
    pub fn parse_body(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingTrailingNewline)?;
        let lines: Vec<&str> = body.split('\n').collect();
        let bad = |line, reason| CheckpointError::MalformedCheckpoint { line, reason };
        if lines.len() < 5 {
            return Err(bad(
                lines.len() + 1,
                "expected 5 lines: origin, size, root, head, time",
            ));
        }
        if lines.len() > 5 {
            return Err(bad(6, "unexpected extension line"));
        }
        let [origin, size, root, head, time] = [lines[0], lines[1], lines[2], lines[3], lines[4]];

        let ledger_id = origin
            .strip_prefix(ORIGIN_PREFIX)
            .ok_or_else(|| CheckpointError::BadOrigin(echo(origin)))?;
        check_ledger_id(ledger_id)?;

        let size = parse_size(size)?;

        // 32 bytes is always 44 base64 characters; checking first bounds the decode.
        let bad_root = || CheckpointError::BadRootEncoding(echo(root));
        if root.len() != 44 {
            return Err(bad_root());
        }
        let root_bytes = B64.decode(root).map_err(|_| bad_root())?;
        let root = Hash32::from_slice(&root_bytes).map_err(|_| bad_root())?;

        let head_hex = head
            .strip_prefix(HEAD_PREFIX)
            .ok_or_else(|| CheckpointError::BadHead(echo(head)))?;
        // Lowercase only, so each checkpoint has exactly one text form.
        if head_hex.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(CheckpointError::BadHead(echo(head)));
        }
        let head_hash =
            Hash32::from_hex(head_hex).map_err(|_| CheckpointError::BadHead(echo(head)))?;

        let time_val = time
            .strip_prefix(TIME_PREFIX)
            .ok_or_else(|| CheckpointError::BadTime(echo(time)))?;

        let cp = Self {
            origin: origin.to_owned(),
            ledger_id: ledger_id.to_owned(),
            size,
            root,
            head: head_hash,
            time: time_val.to_owned(),
        };
        cp.validate()?;
        Ok(cp)
    }
}

fn parse_size(s: &str) -> Result<u64, CheckpointError> {
    let bad = || CheckpointError::BadSize(echo(s));
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if !canonical {
        return Err(bad());
    }
    let n: u64 = s.parse().map_err(|_| bad())?;
    if n > MAX_TREE_SIZE {
        return Err(bad());
    }
    Ok(n)
}

/// Strict RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SS[.1-9 digits]Z`, uppercase `T`
/// and `Z`, real calendar dates, no leap second (the ledger's clock never
/// produces one and accepting `:60` would give two texts for one instant).
fn is_rfc3339_utc(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 30 || b[b.len() - 1] != b'Z' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if part.iter().all(u8::is_ascii_digit) {
            Some(
                part.iter()
                    .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')),
            )
        } else {
            None
        }
    };
    let seps = b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    let (Some(year), Some(month), Some(day), Some(hour), Some(min), Some(sec)) = (
        num(0..4),
        num(5..7),
        num(8..10),
        num(11..13),
        num(14..16),
        num(17..19),
    ) else {
        return false;
    };
    let frac_ok = match &b[19..b.len() - 1] {
        [] => true,
        [b'.', digits @ ..] => {
            (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    seps && frac_ok && (1..=days_in_month).contains(&day) && hour < 24 && min < 60 && sec < 60
}

/// Signs a checkpoint with the ledger key; the key name is the origin.
pub fn sign(cp: &Checkpoint, key: &SigningKey) -> Result<String, CheckpointError> {
    sign_note(&cp.body()?, &cp.origin, key)
}

/// Verifies a signed checkpoint note and parses it.
///
/// Succeeds only if a trusted key *named after the checkpoint's origin* signed
/// it; a valid signature by some other trusted key (e.g. a witness) alone is
/// not enough to accept another ledger's checkpoint.
pub fn parse_and_verify(note: &str, keys: &NoteVerifiers) -> Result<Checkpoint, CheckpointError> {
    let opened = open_note(note, keys)?;
    let cp = Checkpoint::parse_body(opened.text)?;
    if !opened.signers.contains(&cp.origin) {
        return Err(CheckpointError::OriginNotSigned(cp.origin));
    }
    Ok(cp)
}

/// Splits a signed-note verifier key `<name>+<8 hex key hash>+<base64(alg || 32-byte
/// Ed25519 key)>` for signature type `alg` (0x01 notes, 0x04 cosignatures): the name
/// (unchecked), the key hash as written, and the key. The caller checks the name and
/// that the hash matches its own derivation.
pub(crate) fn parse_vkey(
    vkey: &str,
    alg: u8,
) -> Result<(&str, [u8; 4], VerifyingKey), &'static str> {
    if vkey.len() > MAX_KEY_NAME_LEN + 64 {
        return Err("too long");
    }
    // The name cannot contain '+', but the base64 part can: split twice only.
    let mut parts = vkey.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected <name>+<hash>+<key>");
    };
    let mut id = [0u8; 4];
    if id_hex.len() != 8 || hex::decode_to_slice(id_hex, &mut id).is_err() {
        return Err("key hash must be 8 hex digits");
    }
    let raw = B64.decode(b64).map_err(|_| "key is not standard base64")?;
    let (found, key_bytes) = raw.split_first().ok_or("key is empty")?;
    if *found != alg {
        return Err(if alg == SIG_TYPE_ED25519 {
            "unsupported signature type (only Ed25519, 0x01)"
        } else {
            "a witness key must have signature type 0x04 (cosignature/v1)"
        });
    }
    let key_bytes: [u8; 32] = key_bytes
        .try_into()
        .map_err(|_| "Ed25519 public key must be 32 bytes")?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| "not a valid Ed25519 public key")?;
    Ok((name, id, key))
}

#[cfg(test)]
mod tests {
    use super::super::merkle;
    use super::*;

    fn kat_key() -> SigningKey {
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = i as u8;
        }
        SigningKey::from_bytes(&seed)
    }

    /// Event hashes of the pinned test vector: 32 bytes of 0x01, 0x02, 0x03.
    fn kat_events() -> Vec<Hash32> {
        (1u8..=3).map(|i| Hash32([i; 32])).collect()
    }

    fn kat_checkpoint() -> Checkpoint {
        let events = kat_events();
        Checkpoint::new(
            "ct-icac-test",
            3,
            merkle::root(&events),
            events[2],
            "2026-01-01T00:00:00Z",
        )
        .unwrap()
    }

    const KAT_PUBLIC_KEY_HEX: &str =
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
    const KAT_ROOT_HEX: &str = "df896896c799531f1fd1e556cea26a6989ab06853bcbfdd3e4f5097a611f658f";
    const KAT_VERIFIER_KEY: &str =
        "icac-ledger/ct-icac-test+3144c9be+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
    /// Cross-checked against an independent implementation (Python
    /// `hashlib` + `cryptography`/OpenSSL Ed25519), byte for byte.
    const KAT_NOTE: &str = "icac-ledger/ct-icac-test\n\
        3\n\
        34lolseZUx8f0eVWzqJqaYmrBoU7y/3T5PUJemEfZY8=\n\
        head 0303030303030303030303030303030303030303030303030303030303030303\n\
        time 2026-01-01T00:00:00Z\n\
        \n\
        \u{2014} icac-ledger/ct-icac-test MUTJvtd68ERmO3OUHG3EYhPwVKmTf5CuRw26XhrUtNGsyWc+XnnYrj29ADPTx/2BrJxOERaLhRtHY2sPsGue3LQx2wk=\n";

    fn keyring() -> NoteVerifiers {
        NoteVerifier::for_ledger("ct-icac-test", kat_key().verifying_key())
            .unwrap()
            .into()
    }

    #[test]
    fn known_answer_signed_checkpoint() {
        let key = kat_key();
        let cp = kat_checkpoint();
        let note = sign(&cp, &key).unwrap();
        println!(
            "public key: {}",
            hex::encode(key.verifying_key().as_bytes())
        );
        println!("root: {}", cp.root);
        println!(
            "verifier key: {}",
            verifier_key_string("ct-icac-test", &key.verifying_key()).unwrap()
        );
        println!("note:\n{note}");
        assert_eq!(
            hex::encode(key.verifying_key().as_bytes()),
            KAT_PUBLIC_KEY_HEX
        );
        let leaf_hashes: Vec<String> = kat_events()
            .iter()
            .map(|e| merkle::event_leaf_hash(e).to_hex())
            .collect();
        assert_eq!(
            leaf_hashes,
            [
                "dcffe786ded16d283c663846ad0c4ff26558fccde36ca9d30b2ea19eade9fc0e",
                "cba8c596120bdb69debbd923d92cba948bde7c7d06a465a1bb7d98d3116038fa",
                "acaa04663a8547a2f70c60cc18f9378796b13c4f9a08f70d6adae662365b30c6",
            ]
        );
        assert_eq!(cp.root.to_hex(), KAT_ROOT_HEX);
        assert_eq!(
            verifier_key_string("ct-icac-test", &key.verifying_key()).unwrap(),
            KAT_VERIFIER_KEY
        );
        assert_eq!(note, KAT_NOTE);
        assert_eq!(parse_and_verify(KAT_NOTE, &keyring()).unwrap(), cp);
    }

    #[test]
    fn round_trip() {
        let note = sign(&kat_checkpoint(), &kat_key()).unwrap();
        assert_eq!(
            parse_and_verify(&note, &keyring()).unwrap(),
            kat_checkpoint()
        );

        let empty = Checkpoint::new(
            "empty-ledger",
            0,
            EMPTY_ROOT,
            Hash32::ZERO,
            "2026-02-28T23:59:59.123456789Z",
        )
        .unwrap();
        let k = kat_key();
        let ring: NoteVerifiers = NoteVerifier::for_ledger("empty-ledger", k.verifying_key())
            .unwrap()
            .into();
        assert_eq!(
            parse_and_verify(&sign(&empty, &k).unwrap(), &ring).unwrap(),
            empty
        );
    }

    #[test]
    fn every_field_tampering_is_rejected() {
        let note = sign(&kat_checkpoint(), &kat_key()).unwrap();
        let cp = kat_checkpoint();
        let ring = keyring();
        let other_hash = Hash32([0xee; 32]);
        let edits: Vec<(&str, String, String)> = vec![
            ("size", "\n3\n".into(), "\n4\n".into()),
            ("root", B64.encode(cp.root.0), B64.encode(other_hash.0)),
            ("head", cp.head.to_hex(), other_hash.to_hex()),
            ("time", cp.time.clone(), "2026-01-01T00:00:01Z".into()),
            (
                "origin",
                "icac-ledger/ct-icac-test\n3".into(),
                "icac-ledger/ct-icac-tesu\n3".into(),
            ),
        ];
        for (what, from, to) in edits {
            assert!(note.contains(&from), "{what}");
            let tampered = note.replacen(&from, &to, 1);
            let err = parse_and_verify(&tampered, &ring).unwrap_err();
            assert_eq!(
                err,
                CheckpointError::BadSignature {
                    key_name: "icac-ledger/ct-icac-test".into()
                },
                "{what}"
            );
        }
    }

    #[test]
    fn every_signature_byte_flip_is_rejected() {
        let note = sign(&kat_checkpoint(), &kat_key()).unwrap();
        let (head, sig_line) = note.rsplit_once("\n\n").unwrap();
        let b64 = sig_line.trim_end().rsplit_once(' ').unwrap().1;
        let blob = B64.decode(b64).unwrap();
        for i in 0..blob.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = blob.clone();
                bad[i] ^= bit;
                let forged = format!(
                    "{head}\n\n\u{2014} icac-ledger/ct-icac-test {}\n",
                    B64.encode(&bad)
                );
                let err = parse_and_verify(&forged, &keyring()).unwrap_err();
                if i < 4 {
                    // A different key ID is someone else's key: ignored, so nothing trusted signed it.
                    assert_eq!(err, CheckpointError::UnknownKey, "byte {i}");
                } else {
                    assert!(
                        matches!(err, CheckpointError::BadSignature { .. }),
                        "byte {i}: {err}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrong_key_is_rejected() {
        let note = sign(&kat_checkpoint(), &kat_key()).unwrap();
        let other = SigningKey::from_bytes(&[7u8; 32]);
        // Same name, different key: key ID differs, so the signature is unknown.
        let ring: NoteVerifiers = NoteVerifier::for_ledger("ct-icac-test", other.verifying_key())
            .unwrap()
            .into();
        assert_eq!(
            parse_and_verify(&note, &ring).unwrap_err(),
            CheckpointError::UnknownKey
        );
        // Signed by another key under our name: also unknown to our keyring.
        let forged = sign(&kat_checkpoint(), &other).unwrap();
        assert_eq!(
            parse_and_verify(&forged, &keyring()).unwrap_err(),
            CheckpointError::UnknownKey
        );
        // A trusted key with a different name (say, a witness) does not make
        // the ledger's checkpoint acceptable.
        let mut ring = NoteVerifiers::new();
        ring.add(NoteVerifier::new("witness.example/w1", other.verifying_key()).unwrap());
        let body = kat_checkpoint().body().unwrap();
        let witness_signed = sign_note(&body, "witness.example/w1", &other).unwrap();
        assert_eq!(
            parse_and_verify(&witness_signed, &ring).unwrap_err(),
            CheckpointError::OriginNotSigned("icac-ledger/ct-icac-test".into())
        );
    }

    #[test]
    fn unknown_cosignatures_are_ignored() {
        let note = sign(&kat_checkpoint(), &kat_key()).unwrap();
        let witness = SigningKey::from_bytes(&[9u8; 32]);
        let body = kat_checkpoint().body().unwrap();
        let wsig = sign_note(&body, "witness.example/w1", &witness).unwrap();
        let wline = wsig.rsplit_once("\n\n").unwrap().1;
        let cosigned = format!("{note}{wline}");
        assert_eq!(
            parse_and_verify(&cosigned, &keyring()).unwrap(),
            kat_checkpoint()
        );
    }

    #[test]
    fn envelope_errors() {
        let note = sign(&kat_checkpoint(), &kat_key()).unwrap();
        let ring = keyring();
        assert_eq!(
            parse_and_verify(note.trim_end_matches('\n'), &ring).unwrap_err(),
            CheckpointError::MissingTrailingNewline
        );
        let big = format!("{}{note}", "x".repeat(MAX_NOTE_SIZE));
        assert!(matches!(
            parse_and_verify(&big, &ring),
            Err(CheckpointError::NoteTooLarge { .. })
        ));
        assert!(matches!(
            parse_and_verify(&note.replace('\n', "\r\n"), &ring),
            Err(CheckpointError::ControlCharacter { byte: 0x0d, .. })
        ));
        assert_eq!(
            parse_and_verify(&note.replacen("\n\n", "\n", 1), &ring).unwrap_err(),
            CheckpointError::Malformed("no blank line before signatures")
        );
        assert_eq!(
            parse_and_verify("a\n\n", &ring).unwrap_err(),
            CheckpointError::Malformed("no signature lines")
        );
        assert!(matches!(
            parse_and_verify(&note.replace('\u{2014}', "-"), &ring),
            Err(CheckpointError::MalformedSignatureLine { line: 7, .. })
        ));
        assert!(matches!(
            parse_and_verify(&note.replace("=\n", "\n"), &ring),
            Err(CheckpointError::MalformedSignatureLine { .. })
        ));
        let sig_line = note.rsplit_once("\n\n").unwrap().1;
        let many = format!("{note}{}", sig_line.repeat(MAX_SIGNATURES));
        assert!(matches!(
            parse_and_verify(&many, &ring),
            Err(CheckpointError::TooManySignatures { count: 17 })
        ));
        let short = note.replace(sig_line, "\u{2014} icac-ledger/ct-icac-test AAAA\n");
        assert!(matches!(
            parse_and_verify(&short, &ring),
            Err(CheckpointError::MalformedSignatureLine { .. })
        ));
    }

    /// Signs arbitrary body text with the ledger key, so body-parse errors can
    /// be reached past signature verification.
    fn signed(body: &str) -> Result<Checkpoint, CheckpointError> {
        let note = sign_note(body, "icac-ledger/ct-icac-test", &kat_key())?;
        parse_and_verify(&note, &keyring())
    }

    #[test]
    fn body_errors() {
        let good = kat_checkpoint().body().unwrap();
        assert!(signed(&good).is_ok());
        let root_b64 = B64.encode(kat_checkpoint().root.0);
        type Case = (String, fn(&CheckpointError) -> bool);
        let cases: Vec<Case> = vec![
            (good.replace("\n3\n", "\n03\n"), |e| {
                matches!(e, CheckpointError::BadSize(_))
            }),
            (good.replace("\n3\n", "\n+3\n"), |e| {
                matches!(e, CheckpointError::BadSize(_))
            }),
            (good.replace("\n3\n", "\n99999999999999999999\n"), |e| {
                matches!(e, CheckpointError::BadSize(_))
            }),
            (good.replace("\n3\n", "\n4611686018427387905\n"), |e| {
                matches!(e, CheckpointError::BadSize(_))
            }),
            (good.replace(&root_b64, &root_b64.replace('=', "")), |e| {
                matches!(e, CheckpointError::BadRootEncoding(_))
            }),
            (good.replace(&root_b64, &B64.encode([0u8; 31])), |e| {
                matches!(e, CheckpointError::BadRootEncoding(_))
            }),
            (
                good.replace(&root_b64, &format!("{}!=", &root_b64[..42])),
                |e| matches!(e, CheckpointError::BadRootEncoding(_)),
            ),
            (good.replace("head ", "head  "), |e| {
                matches!(e, CheckpointError::BadHead(_))
            }),
            (
                good.replace("head 0303", "head 0303".to_uppercase().as_str()),
                |e| matches!(e, CheckpointError::BadHead(_)),
            ),
            (good.replace("head ", "hash "), |e| {
                matches!(e, CheckpointError::BadHead(_))
            }),
            (good.replace("00:00:00Z", "00:00:00+00:00"), |e| {
                matches!(e, CheckpointError::BadTime(_))
            }),
            (good.replace("2026-01-01", "2026-02-29"), |e| {
                matches!(e, CheckpointError::BadTime(_))
            }),
            (good.replace("00:00:00Z", "00:00:60Z"), |e| {
                matches!(e, CheckpointError::BadTime(_))
            }),
            (good.replace("T00", "t00"), |e| {
                matches!(e, CheckpointError::BadTime(_))
            }),
            (
                good.replace("icac-ledger/ct-icac-test\n", "icac-ledger/CT\n"),
                |e| matches!(e, CheckpointError::BadLedgerId(_)),
            ),
            (
                good.replace("icac-ledger/ct-icac-test\n", "example.com/log\n"),
                |e| matches!(e, CheckpointError::BadOrigin(_)),
            ),
            (format!("{good}extra line\n"), |e| {
                matches!(e, CheckpointError::MalformedCheckpoint { line: 6, .. })
            }),
            (good.replace("time 2026-01-01T00:00:00Z\n", ""), |e| {
                matches!(e, CheckpointError::MalformedCheckpoint { line: 5, .. })
            }),
        ];
        for (body, want) in cases {
            let err = signed(&body).unwrap_err();
            assert!(want(&err), "body {body:?} gave {err:?}");
        }
        // Origin of another ledger, correctly signed by our key name: the
        // signer is not the origin's key.
        let other = good.replace("icac-ledger/ct-icac-test\n", "icac-ledger/other\n");
        assert_eq!(
            signed(&other).unwrap_err(),
            CheckpointError::OriginNotSigned("icac-ledger/other".into())
        );
    }

    #[test]
    fn constructor_rejects_bad_fields() {
        let r = Hash32([1; 32]);
        assert!(matches!(
            Checkpoint::new("Bad Id", 1, r, r, "2026-01-01T00:00:00Z"),
            Err(CheckpointError::BadLedgerId(_))
        ));
        assert!(matches!(
            Checkpoint::new("x", 1, r, r, "2026-13-01T00:00:00Z"),
            Err(CheckpointError::BadTime(_))
        ));
        assert!(matches!(
            Checkpoint::new("x", 1, r, r, "2026-01-01T00:00:00.Z"),
            Err(CheckpointError::BadTime(_))
        ));
        assert!(matches!(
            Checkpoint::new("x", 0, r, Hash32::ZERO, "2026-01-01T00:00:00Z"),
            Err(CheckpointError::InconsistentEmpty)
        ));
        assert!(matches!(
            Checkpoint::new("x", 1 + MAX_TREE_SIZE, r, r, "2026-01-01T00:00:00Z"),
            Err(CheckpointError::BadSize(_))
        ));
        let mut cp = kat_checkpoint();
        cp.origin = "icac-ledger/other".into();
        assert!(matches!(
            sign(&cp, &kat_key()),
            Err(CheckpointError::BadOrigin(_))
        ));
        assert!(sign_note("no newline", "n", &kat_key()).is_err());
        assert!(sign_note("x\n", "has space", &kat_key()).is_err());
        assert!(sign_note("x\n", "has+plus", &kat_key()).is_err());
        assert!(sign_note("tab\there\n", "n", &kat_key()).is_err());
        for ok in [
            "2024-02-29T12:34:56Z",
            "2000-02-29T23:59:59.5Z",
            "1999-12-31T00:00:00.000000001Z",
        ] {
            assert!(is_rfc3339_utc(ok), "{ok}");
        }
        for bad in [
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00.0000000001Z",
            "2026-01-01T00:00:00z",
        ] {
            assert!(!is_rfc3339_utc(bad), "{bad}");
        }
    }

    #[test]
    fn verifier_key_string_round_trip() {
        let vk = kat_key().verifying_key();
        let s = verifier_key_string("ct-icac-test", &vk).unwrap();
        let v = NoteVerifier::from_verifier_key(&s).unwrap();
        assert_eq!(v.name(), "icac-ledger/ct-icac-test");
        assert_eq!(v.verifying_key(), &vk);
        assert_eq!(v.to_verifier_key(), s);
        // Any single-character change breaks it (name, hash, key or type).
        for i in 0..s.len() {
            let mut bytes = s.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            if let Ok(m) = String::from_utf8(bytes) {
                if m != s {
                    assert!(NoteVerifier::from_verifier_key(&m).is_err(), "accepted {m}");
                }
            }
        }
    }

    // golang.org/x/mod/sumdb/note documentation example (package doc and
    // ExampleSign / ExampleOpen): an independent implementation's output.
    const GO_SIGNER_KEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VERIFIER_KEY: &str =
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
        then you don't know what your problem is.\n\
        \n\
        \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_sumdb_note_cross_check() {
        let v = NoteVerifier::from_verifier_key(GO_VERIFIER_KEY).unwrap();
        assert_eq!(v.to_verifier_key(), GO_VERIFIER_KEY);
        let ring: NoteVerifiers = v.into();
        let opened = open_note(GO_NOTE, &ring).unwrap();
        assert_eq!(opened.text, GO_TEXT);
        assert_eq!(opened.signers, vec!["PeterNeumann".to_string()]);
        assert!(matches!(
            open_note(&GO_NOTE.replace("cryptography", "cryptographY"), &ring),
            Err(CheckpointError::BadSignature { .. })
        ));

        // Signing with Go's private key reproduces Go's note byte for byte.
        let b64 = GO_SIGNER_KEY.splitn(5, '+').nth(4).unwrap();
        let raw = B64.decode(b64).unwrap();
        assert_eq!(raw[0], SIG_TYPE_ED25519);
        let sk = SigningKey::from_bytes(&raw[1..].try_into().unwrap());
        assert_eq!(sign_note(GO_TEXT, "PeterNeumann", &sk).unwrap(), GO_NOTE);
    }
}
