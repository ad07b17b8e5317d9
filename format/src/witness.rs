//! C2SP tlog-witness `add-checkpoint`: the request body and the witness's decision,
//! each refusal with the status code the spec gives it. Storage and HTTP are the
//! application's (`src/witness/`); what is decided here depends only on the bytes.
//!
//! Body: `old <size>\n`, up to 63 base64 consistency-proof lines, an empty line, then
//! the signed checkpoint.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use super::checkpoint::{self, CheckpointError, NoteVerifier, NoteVerifiers, MAX_NOTE_SIZE};
use super::merkle::{verify_consistency, Hash32, EMPTY_ROOT, MAX_TREE_SIZE};

/// Largest add-checkpoint body: 63 proof lines and a note.
pub const MAX_BODY_BYTES: usize = MAX_NOTE_SIZE + 64 * 46;
/// Most consistency proof lines a client may send.
pub const MAX_PROOF_LINES: usize = 63;

/// The first three lines of any tlog-checkpoint: all a witness needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointHead {
    /// Line 1: the log's origin, which names the log key a witness follows (`--log`).
    pub origin: String,
    /// Line 2: the tree size, canonical decimal, at most [`MAX_TREE_SIZE`].
    pub size: u64,
    /// Line 3: the Merkle root, 44 characters of base64.
    pub root: Hash32,
}

/// A parsed add-checkpoint request.
#[derive(Debug, Clone)]
pub struct AddCheckpoint {
    /// The size the client believes the witness last cosigned for this origin (`old`
    /// line); 0 for none. A mismatch is a 409 naming the witness's size.
    pub old_size: u64,
    /// Consistency proof from `old_size` to the checkpoint's size (RFC 9162 §2.1.4), at
    /// most [`MAX_PROOF_LINES`] hashes; empty from size 0 or for the same size.
    pub proof: Vec<Hash32>,
    /// The checkpoint note as sent (text and signatures).
    pub note: String,
}

/// Why a witness will not cosign, with the spec's status code for each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the body breaks the grammar (too large, not UTF-8, no `old` line, a
    /// non-canonical size, a bad proof line, more than 63 of them, no checkpoint) or the
    /// note is malformed; holds the reason.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// 404: the checkpoint's origin is no log the witness follows; holds at most 80
    /// characters of it.
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// 403: no valid signature by a key trusted for the origin, or a trusted key's line
    /// fails; holds the note error.
    #[error("checkpoint is not signed by a trusted key for its origin: {0}")]
    NotSigned(String),
    /// 400: the `old` size is above the checkpoint's size.
    #[error("old size {old} is above the checkpoint size {size}")]
    OldAboveNew {
        /// The request's `old` size.
        old: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// 409: the `old` size is not the size the witness last cosigned for the origin; the
    /// answer's body is that size, so the client can retry with the right proof.
    #[error("old size {old} does not match the latest cosigned size {latest}")]
    Conflict {
        /// The request's `old` size.
        old: u64,
        /// The size the witness last cosigned (0 if never).
        latest: u64,
    },
    /// 422: a checkpoint of size 0 whose root is not [`EMPTY_ROOT`].
    #[error("a checkpoint of size 0 must have the empty tree's root")]
    EmptyRoot,
    /// 422: a non-empty proof from size 0 (the witness has cosigned nothing, or only size
    /// 0, for the origin).
    #[error("a consistency proof from size 0 must be empty")]
    ProofFromZero,
    /// 422, evidence: the size the witness last cosigned with another root; holds the size.
    #[error("same size {0} as the latest cosigned checkpoint but a different root")]
    SameSizeOtherRoot(u64),
    /// 422, evidence: the consistency proof from the last cosigned checkpoint does not
    /// verify (or is not empty for the same size and root).
    #[error("consistency proof from {old} to {size} does not verify: {reason}")]
    Inconsistent {
        /// The size the witness last cosigned.
        old: u64,
        /// The checkpoint's size.
        size: u64,
        /// Why the proof fails.
        reason: String,
    },
}

impl Refusal {
    /// HTTP status per tlog-witness.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Malformed(_) | Refusal::OldAboveNew { .. } => 400,
            Refusal::NotSigned(_) => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::EmptyRoot
            | Refusal::ProofFromZero
            | Refusal::SameSizeOtherRoot(_)
            | Refusal::Inconsistent { .. } => 422,
        }
    }

    /// A refusal that may show log misbehaviour (a signed checkpoint that is not
    /// consistent with what the witness holds): the witness keeps it as evidence.
    pub fn is_evidence(&self) -> bool {
        matches!(
            self,
            Refusal::SameSizeOtherRoot(_) | Refusal::Inconsistent { .. }
        )
    }
}

fn malformed(s: &str) -> Refusal {
    Refusal::Malformed(s.to_owned())
}

fn parse_size(s: &str) -> Option<u64> {
    let ok = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    s.parse().ok().filter(|n| ok && *n <= MAX_TREE_SIZE)
}

fn parse_hash(s: &str) -> Option<Hash32> {
    if s.len() != 44 {
        return None;
    }
    let raw = B64.decode(s).ok()?;
    Hash32::from_slice(&raw).ok()
}

impl AddCheckpoint {
    /// Parses a request body. Any deviation from the grammar is a 400.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        if body.len() > MAX_BODY_BYTES {
            return Err(malformed("body too large"));
        }
        let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
        let (head, note) = text
            .split_once("\n\n")
            .ok_or_else(|| malformed("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|l| l.strip_prefix("old "))
            .ok_or_else(|| malformed("first line must be \"old <size>\""))?;
        let old_size =
            parse_size(old).ok_or_else(|| malformed("old size is not a canonical decimal"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(malformed("more than 63 consistency proof lines"));
            }
            proof.push(
                parse_hash(line).ok_or_else(|| malformed("proof line is not a base64 hash"))?,
            );
        }
        if note.is_empty() {
            return Err(malformed("no checkpoint"));
        }
        Ok(Self {
            old_size,
            proof,
            note: note.to_owned(),
        })
    }

    /// Encodes a request (the log side).
    pub fn encode(old_size: u64, proof: &[Hash32], note: &str) -> String {
        let mut s = format!("old {old_size}\n");
        for h in proof {
            s.push_str(&B64.encode(h.0));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(note);
        s
    }
}

/// Parses the first three lines of a checkpoint body (extension lines are opaque).
pub fn parse_head(text: &str) -> Result<CheckpointHead, Refusal> {
    let mut lines = text.split('\n');
    let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
        return Err(malformed("checkpoint needs origin, size and root lines"));
    };
    if origin.is_empty() {
        return Err(malformed("empty origin"));
    }
    Ok(CheckpointHead {
        origin: origin.to_owned(),
        size: parse_size(size)
            .ok_or_else(|| malformed("checkpoint size is not a canonical decimal"))?,
        root: parse_hash(root).ok_or_else(|| malformed("checkpoint root is not a base64 hash"))?,
    })
}

/// Checks the log's signature: 404 for an origin the witness does not know, 403 when no
/// trusted key for it signed (or one of its signatures fails).
pub fn verify_log_signature(
    note: &str,
    logs: &[NoteVerifier],
) -> Result<(CheckpointHead, String), Refusal> {
    let (text, _) =
        super::cosignature::split_note(note).map_err(|e| Refusal::Malformed(e.to_string()))?;
    let head = parse_head(text)?;
    let trusted: Vec<&NoteVerifier> = logs.iter().filter(|v| v.name() == head.origin).collect();
    if trusted.is_empty() {
        return Err(Refusal::UnknownOrigin(
            head.origin.chars().take(80).collect(),
        ));
    }
    let mut ring = NoteVerifiers::new();
    for v in trusted {
        ring.add(v.clone());
    }
    match checkpoint::open_note(note, &ring) {
        Ok(opened) => Ok((head, opened.text.to_owned())),
        Err(e @ (CheckpointError::UnknownKey | CheckpointError::BadSignature { .. })) => {
            Err(Refusal::NotSigned(e.to_string()))
        }
        Err(e) => Err(Refusal::Malformed(e.to_string())),
    }
}

/// The witness's consistency rules, given the latest checkpoint it cosigned for the
/// origin (`None`: never). Pass means "cosign and store `head` as the latest".
pub fn check_consistency(
    req: &AddCheckpoint,
    head: &CheckpointHead,
    latest: Option<(u64, Hash32)>,
) -> Result<(), Refusal> {
    if req.old_size > head.size {
        return Err(Refusal::OldAboveNew {
            old: req.old_size,
            size: head.size,
        });
    }
    let latest_size = latest.map_or(0, |(s, _)| s);
    if req.old_size != latest_size {
        return Err(Refusal::Conflict {
            old: req.old_size,
            latest: latest_size,
        });
    }
    if head.size == 0 && head.root != EMPTY_ROOT {
        return Err(Refusal::EmptyRoot);
    }
    let Some((old, old_root)) = latest.filter(|(s, _)| *s > 0) else {
        return if req.proof.is_empty() {
            Ok(())
        } else {
            Err(Refusal::ProofFromZero)
        };
    };
    if old == head.size {
        return if old_root == head.root && req.proof.is_empty() {
            Ok(())
        } else if old_root != head.root {
            Err(Refusal::SameSizeOtherRoot(old))
        } else {
            Err(Refusal::Inconsistent {
                old,
                size: head.size,
                reason: "proof must be empty for equal sizes".into(),
            })
        };
    }
    verify_consistency(old, head.size, &old_root, &head.root, &req.proof).map_err(|e| {
        Refusal::Inconsistent {
            old,
            size: head.size,
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{sign_note, NoteVerifier};
    use crate::merkle::{consistency_proof, root};
    use ed25519_dalek::SigningKey;

    fn log_key() -> SigningKey {
        SigningKey::from_bytes(&[5; 32])
    }

    fn note(size: u64, r: Hash32) -> String {
        let body = format!("example.com/log\n{size}\n{}\n", B64.encode(r.0));
        sign_note(&body, "example.com/log", &log_key()).unwrap()
    }

    fn logs() -> Vec<NoteVerifier> {
        vec![NoteVerifier::new("example.com/log", log_key().verifying_key()).unwrap()]
    }

    #[test]
    fn request_round_trips_and_malformed_is_400() {
        let n = note(3, Hash32([1; 32]));
        let body = AddCheckpoint::encode(2, &[Hash32([2; 32])], &n);
        let req = AddCheckpoint::parse(body.as_bytes()).unwrap();
        assert_eq!(
            (req.old_size, req.proof.len(), req.note.as_str()),
            (2, 1, n.as_str())
        );
        for bad in [
            "".to_string(),
            format!("old 02\n\n{n}"),
            format!("new 2\n\n{n}"),
            format!("old 2\nnot-base64\n\n{n}"),
            format!("old 2\n{n}"),
            "old 2\n\n".to_string(),
            format!(
                "old 2\n{}\n{n}",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64)
            ),
        ] {
            let e = AddCheckpoint::parse(bad.as_bytes()).unwrap_err();
            assert_eq!(e.status(), 400, "{bad:?}: {e}");
        }
        assert_eq!(
            AddCheckpoint::parse(&[0xff, b'\n', b'\n'])
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn signatures_give_404_and_403() {
        let n = note(3, Hash32([1; 32]));
        assert!(verify_log_signature(&n, &logs()).is_ok());
        let other =
            vec![NoteVerifier::new("example.com/other", log_key().verifying_key()).unwrap()];
        assert_eq!(verify_log_signature(&n, &other).unwrap_err().status(), 404);
        let stranger = vec![NoteVerifier::new(
            "example.com/log",
            SigningKey::from_bytes(&[6; 32]).verifying_key(),
        )
        .unwrap()];
        assert_eq!(
            verify_log_signature(&n, &stranger).unwrap_err().status(),
            403
        );
        let forged = n.replacen("\n3\n", "\n4\n", 1);
        assert_eq!(
            verify_log_signature(&forged, &logs()).unwrap_err().status(),
            403
        );
    }

    #[test]
    fn consistency_rules_and_codes() {
        let leaves: Vec<Hash32> = (0..7u8).map(|i| Hash32([i; 32])).collect();
        let r3 = root(&leaves[..3]);
        let r7 = root(&leaves);
        let head = |size, root| CheckpointHead {
            origin: "example.com/log".into(),
            size,
            root,
        };
        let req = |old, proof: Vec<Hash32>| AddCheckpoint {
            old_size: old,
            proof,
            note: String::new(),
        };
        let proof = consistency_proof(&leaves, 3, 7).unwrap();
        assert!(check_consistency(&req(0, vec![]), &head(3, r3), None).is_ok());
        assert!(check_consistency(&req(3, proof.clone()), &head(7, r7), Some((3, r3))).is_ok());
        let code = |r: Result<(), Refusal>| r.unwrap_err().status();
        assert_eq!(
            code(check_consistency(
                &req(8, vec![]),
                &head(7, r7),
                Some((3, r3))
            )),
            400
        );
        let conflict = check_consistency(&req(0, vec![]), &head(7, r7), Some((3, r3)));
        assert_eq!(conflict, Err(Refusal::Conflict { old: 0, latest: 3 }));
        assert_eq!(
            code(check_consistency(&req(0, vec![]), &head(0, r3), None)),
            422
        );
        assert_eq!(
            code(check_consistency(
                &req(0, proof.clone()),
                &head(7, r7),
                None
            )),
            422
        );
        // A fork: a tree of 7 whose first 3 leaves differ.
        let mut forked = leaves.clone();
        forked[1] = Hash32([9; 32]);
        let fork_proof = consistency_proof(&forked, 3, 7).unwrap();
        let e = check_consistency(&req(3, fork_proof), &head(7, root(&forked)), Some((3, r3)))
            .unwrap_err();
        assert_eq!(e.status(), 422);
        assert!(e.is_evidence());
        let same = check_consistency(&req(3, vec![]), &head(3, root(&forked[..3])), Some((3, r3)));
        assert_eq!(same, Err(Refusal::SameSizeOtherRoot(3)));
        assert!(check_consistency(&req(3, vec![]), &head(3, r3), Some((3, r3))).is_ok());
    }
}
