//! C2SP tlog-policy: which logs and witnesses are trusted, and the quorum of witness
//! cosignatures a checkpoint needs before a verifier accepts it.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```

use std::collections::BTreeSet;

use super::checkpoint::{self, Checkpoint, NoteVerifier, NoteVerifiers};
use super::cosignature::{self, Cosigned, CosignerKey};

/// Largest policy file accepted.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// At least the 32 of each the spec recommends supporting.
pub const MAX_LOGS: usize = 32;
/// Most `witness` lines one policy may have (§13.5).
pub const MAX_WITNESSES: usize = 64;
/// Most `group` lines one policy may have (§13.5).
pub const MAX_GROUPS: usize = 64;

/// Why a policy file is refused, or a checkpoint is not accepted under it (§13.5).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A line the grammar refuses: an unknown or incomplete line, a bad vkey, a duplicate
    /// key or name, a name not defined on an earlier line, the reserved name `none`, a
    /// threshold outside `1..=n`, too many logs, witnesses or groups, an extra field, a
    /// control character other than tab, or a second `quorum` line.
    #[error("policy line {line}: {reason}")]
    Syntax {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// The file is over [`MAX_POLICY_BYTES`]; holds its length.
    #[error("policy is {0} bytes; the limit is {MAX_POLICY_BYTES}")]
    TooLarge(usize),
    /// The file has no `quorum` line; a policy has exactly one.
    #[error("policy has no quorum line")]
    NoQuorum,
    /// The note is not a checkpoint signed, under the name of its origin, by a `log` key
    /// of the policy (see [`CheckpointError`](checkpoint::CheckpointError)).
    #[error("checkpoint is not signed by a log the policy trusts: {0}")]
    Log(#[from] checkpoint::CheckpointError),
    /// A line by a policy witness's key fails to verify, or a signature line is malformed.
    #[error("witness cosignature rejected: {0}")]
    Cosignature(#[from] cosignature::CosignatureError),
    /// The witnesses whose cosignatures verified do not meet the quorum.
    #[error("quorum {quorum:?} not met: cosigned by {cosigned:?}")]
    QuorumNotMet {
        /// The quorum line's witness or group name.
        quorum: String,
        /// Policy names of the witnesses whose cosignatures verified.
        cosigned: Vec<String>,
    },
}

/// A log the policy trusts.
#[derive(Debug, Clone)]
pub struct PolicyLog {
    /// The log's signed-note key from `log <vkey>`; a checkpoint counts only if signed
    /// under the name of its origin, `icac-ledger/<ledger_id>` for ours (§7).
    pub verifier: NoteVerifier,
    /// Where the log is served, if the line gives it; verification does not use it.
    pub url: Option<String>,
}

/// A witness the policy names.
#[derive(Debug, Clone)]
pub struct PolicyWitness {
    /// The policy's own name for the witness, which `group` and `quorum` lines use; not
    /// its key name (that is in [`key`](Self::key)).
    pub name: String,
    /// Its tlog-cosignature v1 key, from the vkey (§13.3).
    pub key: CosignerKey,
    /// Its `add-checkpoint` prefix, if given: only witnesses with a URL can be asked to
    /// cosign, so only they count towards a publisher's quorum (§13.5).
    pub url: Option<String>,
}

#[derive(Debug, Clone)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Member>,
}

#[derive(Debug, Clone)]
enum Quorum {
    None,
    Witness(usize),
    Group(usize),
}

/// A parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The `log` lines in file order, at most [`MAX_LOGS`].
    pub logs: Vec<PolicyLog>,
    /// The `witness` lines in file order, at most [`MAX_WITNESSES`].
    pub witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: Quorum,
}

/// A checkpoint the policy accepts, and the witnesses (policy names) that cosigned it.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The checkpoint body, parsed after the log's signature verified.
    pub checkpoint: Checkpoint,
    /// Policy names of the witnesses whose cosignatures verified, in file order.
    pub witnesses: Vec<String>,
    /// The cosignatures that verified, by key name, with their timestamps.
    pub cosignatures: Vec<Cosigned>,
}

impl Policy {
    /// Parses policy text. Names may only refer to earlier lines, so no cycle can form.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge(text.len()));
        }
        let mut p = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: Quorum::None,
        };
        let mut have_quorum = false;
        for (i, raw) in text.split('\n').enumerate() {
            let line = i + 1;
            let err = |reason: &str| PolicyError::Syntax {
                line,
                reason: reason.to_owned(),
            };
            if raw.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(err("control character (only tab and newline are allowed)"));
            }
            let words: Vec<&str> = raw.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            match words.as_slice() {
                [] => {}
                [w, ..] if w.starts_with('#') => {}
                ["log", vkey, rest @ ..] => p.add_log(vkey, rest).map_err(|r| err(&r))?,
                ["witness", name, vkey, rest @ ..] => {
                    p.add_witness(name, vkey, rest).map_err(|r| err(&r))?;
                }
                ["group", name, threshold, members @ ..] => {
                    p.add_group(name, threshold, members).map_err(|r| err(&r))?;
                }
                ["quorum", name] => {
                    if have_quorum {
                        return Err(err("a policy has exactly one quorum line"));
                    }
                    p.quorum = p.quorum_for(name).map_err(|r| err(&r))?;
                    have_quorum = true;
                }
                [word, ..] => {
                    return Err(err(&format!(
                        "unknown or incomplete line {:?}",
                        word.chars().take(40).collect::<String>()
                    )))
                }
            }
        }
        if !have_quorum {
            return Err(PolicyError::NoQuorum);
        }
        Ok(p)
    }

    fn add_log(&mut self, vkey: &str, rest: &[&str]) -> Result<(), String> {
        let verifier = NoteVerifier::from_verifier_key(vkey).map_err(|e| e.to_string())?;
        if self
            .logs
            .iter()
            .any(|l| l.verifier.verifying_key() == verifier.verifying_key())
        {
            return Err("duplicate log key".into());
        }
        if self.logs.len() == MAX_LOGS {
            return Err(format!("more than {MAX_LOGS} logs"));
        }
        let url = optional_url(rest)?;
        self.logs.push(PolicyLog { verifier, url });
        Ok(())
    }

    fn add_witness(&mut self, name: &str, vkey: &str, rest: &[&str]) -> Result<(), String> {
        self.check_new_name(name)?;
        let key = CosignerKey::from_vkey(vkey).map_err(|e| e.to_string())?;
        if self
            .witnesses
            .iter()
            .any(|w| w.key.verifying_key() == key.verifying_key())
        {
            return Err("duplicate witness key".into());
        }
        // Signature lines carry only the name and the key ID, so two keys sharing both
        // could not be told apart by a line.
        if self
            .witnesses
            .iter()
            .any(|w| w.key.name() == key.name() && w.key.key_id() == key.key_id())
        {
            return Err("two witness keys share a name and key ID".into());
        }
        if self.witnesses.len() == MAX_WITNESSES {
            return Err(format!("more than {MAX_WITNESSES} witnesses"));
        }
        let url = optional_url(rest)?;
        self.witnesses.push(PolicyWitness {
            name: name.to_owned(),
            key,
            url,
        });
        Ok(())
    }

    fn add_group(&mut self, name: &str, threshold: &str, members: &[&str]) -> Result<(), String> {
        self.check_new_name(name)?;
        if members.is_empty() {
            return Err("a group needs at least one member".into());
        }
        if self.groups.len() == MAX_GROUPS {
            return Err(format!("more than {MAX_GROUPS} groups"));
        }
        let mut resolved = Vec::with_capacity(members.len());
        let mut seen = BTreeSet::new();
        for m in members {
            if !seen.insert(*m) {
                return Err(format!("{m:?} is listed twice in the group"));
            }
            resolved.push(self.member(m)?);
        }
        let n = resolved.len();
        let threshold = match threshold {
            "all" => n,
            "any" => 1,
            k => {
                let k: usize = k
                    .parse()
                    .ok()
                    .filter(|_| !k.starts_with('0') && k.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| format!("threshold {k:?} is not all, any or a number"))?;
                if !(1..=n).contains(&k) {
                    return Err(format!(
                        "threshold {k} of {n} members can never be met (need 1 <= k <= n)"
                    ));
                }
                k
            }
        };
        self.groups.push(Group {
            name: name.to_owned(),
            threshold,
            members: resolved,
        });
        Ok(())
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("the name none is reserved".into());
        }
        if self.witnesses.iter().any(|w| w.name == name)
            || self.groups.iter().any(|g| g.name == name)
        {
            return Err(format!("name {name:?} is already defined"));
        }
        Ok(())
    }

    fn member(&self, name: &str) -> Result<Member, String> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Ok(Member::Witness(i));
        }
        if let Some(i) = self.groups.iter().position(|g| g.name == name) {
            return Ok(Member::Group(i));
        }
        Err(format!("{name:?} is not defined on an earlier line"))
    }

    fn quorum_for(&self, name: &str) -> Result<Quorum, String> {
        if name == "none" {
            return Ok(Quorum::None);
        }
        Ok(match self.member(name)? {
            Member::Witness(i) => Quorum::Witness(i),
            Member::Group(i) => Quorum::Group(i),
        })
    }

    /// True when the quorum needs at least one cosignature; false for `quorum none`.
    pub fn needs_witnesses(&self) -> bool {
        !matches!(self.quorum, Quorum::None)
    }

    /// The quorum line's target, a witness or group name or `none`, for messages.
    pub fn quorum_name(&self) -> String {
        match self.quorum {
            Quorum::None => "none".into(),
            Quorum::Witness(i) => self.witnesses[i].name.clone(),
            Quorum::Group(i) => self.groups[i].name.clone(),
        }
    }

    /// Whether the witnesses with these policy names together meet the quorum.
    pub fn quorum_met<S: AsRef<str>>(&self, cosigned: &[S]) -> bool {
        let has = |i: usize| {
            cosigned
                .iter()
                .any(|c| c.as_ref() == self.witnesses[i].name)
        };
        let mut group_met: Vec<bool> = Vec::with_capacity(self.groups.len());
        // Groups refer only to earlier groups, so one pass in order decides them all.
        for g in &self.groups {
            let count = g
                .members
                .iter()
                .filter(|m| match m {
                    Member::Witness(i) => has(*i),
                    Member::Group(i) => group_met[*i],
                })
                .count();
            group_met.push(count >= g.threshold);
        }
        match self.quorum {
            Quorum::None => true,
            Quorum::Witness(i) => has(i),
            Quorum::Group(i) => group_met[i],
        }
    }

    /// Whether the quorum can be met by the witnesses that have a URL (the only ones a
    /// log can ask): a publisher refuses a policy for which this is false.
    pub fn meetable_by_reachable(&self) -> bool {
        let reachable: Vec<&str> = self
            .witnesses
            .iter()
            .filter(|w| w.url.is_some())
            .map(|w| w.name.as_str())
            .collect();
        self.quorum_met(&reachable)
    }

    /// The ledger keyring of the logs the policy names.
    pub fn log_keyring(&self) -> NoteVerifiers {
        let mut ring = NoteVerifiers::new();
        for l in &self.logs {
            ring.add(l.verifier.clone());
        }
        ring
    }

    /// The cosigning keys of every policy witness, in file order.
    pub fn witness_keys(&self) -> Vec<CosignerKey> {
        self.witnesses.iter().map(|w| w.key.clone()).collect()
    }

    /// Verifies a cosigned checkpoint: signed by a policy log, cosignatures by the
    /// policy's witnesses verify, and their witnesses meet the quorum.
    pub fn accept(&self, note: &str) -> Result<Accepted, PolicyError> {
        let checkpoint = checkpoint::parse_and_verify(note, &self.log_keyring())?;
        let cosignatures = cosignature::verify_cosignatures(note, &self.witness_keys())?;
        let witnesses: Vec<String> = self
            .witnesses
            .iter()
            .filter(|w| {
                cosignatures
                    .iter()
                    .any(|c| c.name == w.key.name() && c.key_id == w.key.key_id())
            })
            .map(|w| w.name.clone())
            .collect();
        if !self.quorum_met(&witnesses) {
            return Err(PolicyError::QuorumNotMet {
                quorum: self.quorum_name(),
                cosigned: witnesses,
            });
        }
        Ok(Accepted {
            checkpoint,
            witnesses,
            cosignatures,
        })
    }
}

fn optional_url(rest: &[&str]) -> Result<Option<String>, String> {
    match rest {
        [] => Ok(None),
        [url] => Ok(Some((*url).to_owned())),
        _ => Err("too many fields".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::Hash32;
    use ed25519_dalek::SigningKey;

    fn wkey(n: u8, name: &str) -> String {
        CosignerKey::new(name, SigningKey::from_bytes(&[n; 32]).verifying_key())
            .unwrap()
            .to_vkey()
    }

    fn policy_text() -> String {
        let log = NoteVerifier::for_ledger("ct", SigningKey::from_bytes(&[1; 32]).verifying_key())
            .unwrap()
            .to_verifier_key();
        format!(
            "# example\nlog {log}\n\nwitness X1 {} http://127.0.0.1:1\nwitness X2 {}\n\twitness X3 {}\n\
             group X 2 X1 X2 X3\nwitness Y1 {}\ngroup Y any Y1\ngroup XY all X Y\nquorum XY\n",
            wkey(11, "x1"),
            wkey(12, "x2"),
            wkey(13, "x3"),
            wkey(21, "y1")
        )
    }

    #[test]
    fn nested_groups_evaluate_like_the_spec_example() {
        let p = Policy::parse(&policy_text()).unwrap();
        assert!(p.needs_witnesses());
        assert!(p.quorum_met(&["X1", "X3", "Y1"]));
        assert!(!p.quorum_met(&["X1", "Y1"]));
        assert!(!p.quorum_met(&["X1", "X2", "X3"]));
        assert!(!p.quorum_met::<&str>(&[]));
        // Only X1 has a URL: the publisher could never meet this quorum.
        assert!(!p.meetable_by_reachable());
        assert!(Policy::parse("quorum none\n")
            .unwrap()
            .quorum_met::<&str>(&[]));
    }

    /// Two keys under one witness name (a rotated key listed beside its successor) are
    /// two witnesses: a line by one key never counts for the other.
    #[test]
    fn a_line_counts_only_for_the_key_that_signed_it() {
        let log_key = SigningKey::from_bytes(&[1; 32]);
        let log = NoteVerifier::for_ledger("ct", log_key.verifying_key()).unwrap();
        let (old, new) = (
            SigningKey::from_bytes(&[31; 32]),
            SigningKey::from_bytes(&[32; 32]),
        );
        let vkey = |k: &SigningKey| CosignerKey::new("w", k.verifying_key()).unwrap().to_vkey();
        let text = format!(
            "log {}\nwitness A {}\nwitness B {}\ngroup G all A B\nquorum G\n",
            log.to_verifier_key(),
            vkey(&old),
            vkey(&new)
        );
        let policy = Policy::parse(&text).unwrap();
        let cp = Checkpoint::new(
            "ct",
            1,
            Hash32([7; 32]),
            Hash32([8; 32]),
            "2026-12-04T00:00:00Z",
        )
        .unwrap();
        let note = checkpoint::sign(&cp, &log_key).unwrap();
        let body = cp.body().unwrap();
        let by_old = cosignature::cosign(&body, "w", &old, 1_700_000_000).unwrap();
        let by_new = cosignature::cosign(&body, "w", &new, 1_700_000_000).unwrap();

        let one = format!("{note}{by_old}");
        assert!(matches!(
            policy.accept(&one),
            Err(PolicyError::QuorumNotMet { cosigned, .. }) if cosigned == ["A"]
        ));
        let both = format!("{note}{by_old}{by_new}");
        assert_eq!(policy.accept(&both).unwrap().witnesses, ["A", "B"]);
        // A key listed twice under one name is refused; so is its key ID under that name.
        let twice = format!(
            "witness A {}\nwitness B {}\nquorum A\n",
            vkey(&old),
            vkey(&old)
        );
        assert!(Policy::parse(&twice).is_err());
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let w = wkey(11, "x1");
        let cases = [
            (format!("witness A {w}\ngroup G 2 A\nquorum G\n"), 2),
            (format!("witness A {w}\ngroup G 0 A\nquorum G\n"), 2),
            (format!("witness A {w}\ngroup G any B\nquorum G\n"), 2),
            (format!("witness A {w}\ngroup G any A A\nquorum G\n"), 2),
            (format!("witness A {w}\nwitness B {w}\nquorum A\n"), 2),
            (format!("witness none {w}\nquorum none\n"), 1),
            (format!("witness A {w}\nquorum A\nquorum A\n"), 3),
            (format!("witness A {w}\nquorum B\n"), 2),
            ("frobnicate\nquorum none\n".to_string(), 1),
            ("quorum none\r\n".to_string(), 1),
            (format!("witness A {w} url extra\nquorum A\n"), 1),
        ];
        for (text, line) in cases {
            match Policy::parse(&text) {
                Err(PolicyError::Syntax { line: l, .. }) => assert_eq!(l, line, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert_eq!(Policy::parse("").unwrap_err(), PolicyError::NoQuorum);
    }
}
