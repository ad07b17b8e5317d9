//! `verify`, `verify-proof` and `bench verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::progress::Progress;
use super::{CliError, EXIT_FAILED};
use crate::audit::bundle::{claim_from_file, verify_bundle_file};
use crate::audit::proofs::{verify_proof, ProofKeys};
use crate::audit::sealed_check::{check_sealed, SealedReport};
use crate::audit::trust::{read_keyring_file, TrustRoot};
use crate::audit::verify::{verify_storage_with_progress, Report, VerifyOptions};
use crate::config::LedgerArgs;
use icac_format::checkpoint;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
    /// A checkpoint (signed note) this ledger must extend; may be repeated
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Vec<PathBuf>,
    /// Verify an export bundle instead of the database (no database or key needed)
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Pin the trust root: the genesis key (64-hex public key or 32-hex key id)
    #[arg(long, value_name = "HEX", conflicts_with = "keyring")]
    pub trusted_key: Option<String>,
    /// Pin the trust root: a keyring file as printed by `keys export`
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// A C2SP tlog-policy: every --checkpoint must carry its witness quorum (at least one
    /// --checkpoint is then required)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

impl VerifyArgs {
    fn options(&self) -> Result<VerifyOptions, CliError> {
        let trust = match (&self.trusted_key, &self.keyring) {
            (Some(k), _) => TrustRoot::from_key_hex(k)?,
            (None, Some(f)) => TrustRoot::from_keyring_file(f)?,
            (None, None) => TrustRoot::Unpinned,
        };
        let checkpoints = self
            .checkpoint
            .iter()
            .map(|p| claim_from_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VerifyOptions {
            trust,
            checkpoints,
            page_size: 0,
        })
    }
}

fn print_report(report: &Report, sealed: Option<&SealedReport>, json: bool) -> ExitCode {
    if json {
        let mut v = report.to_json();
        if let (Some(s), serde_json::Value::Object(map)) = (sealed, &mut v) {
            map.insert("sealed".into(), serde_json::to_value(s).unwrap_or_default());
        }
        outln!("{v}");
    } else {
        out!("{}", report.to_text());
        if let Some(s) = sealed {
            out!("{}", sealed_text(s));
        }
    }
    if report.intact && sealed.is_none_or(SealedReport::ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    }
}

/// The sealed store's findings, apart from the chain's verdict (LEDGER_FORMAT.md 12.4).
fn sealed_text(s: &SealedReport) -> String {
    let mut out = format!(
        "sealed values: {} commitment(s), {} opened, {} erased, {} finding(s)\n",
        s.commitments, s.opened, s.erased, s.findings
    );
    for f in &s.listed {
        out.push_str(&format!(
            "  {:?} at position {} {} ({}): the chain is intact, the value is not\n",
            f.kind, f.position, f.path, f.commitment
        ));
    }
    out
}

/// With `--policy`, the checkpoints given must each meet the policy's quorum; a
/// checkpoint that does not is a failed verification (exit 1), not a usage error.
fn policy_refuses(
    policy: Option<&std::path::Path>,
    checkpoints: &[PathBuf],
    json: bool,
) -> Result<bool, CliError> {
    let Some(path) = policy else { return Ok(false) };
    let policy = crate::tlog::read_policy(path)?;
    if checkpoints.is_empty() {
        return Err(
            "--policy needs the witnessed checkpoint to hold the ledger to: --checkpoint FILE \
                    (the published <tlog-dir>/checkpoint, or a witness's monitoring checkpoint)"
                .into(),
        );
    }
    for file in checkpoints {
        let note = crate::audit::bundle::read_note_file(file)?;
        if let Err(e) = crate::tlog::require_quorum(&policy, &note) {
            if json {
                outln!(
                    "{}",
                    serde_json::json!({"intact": false, "policy": {"checkpoint": file.display().to_string(), "error": e}})
                );
            } else {
                outln!("REFUSED by policy: checkpoint {}: {e}", file.display());
            }
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn verify(args: &LedgerArgs, v: &VerifyArgs) -> Result<ExitCode, CliError> {
    if policy_refuses(v.policy.as_deref(), &v.checkpoint, v.json)? {
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    let options = v.options()?;
    let (report, sealed) = match &v.bundle {
        Some(path) => {
            let path = path.clone();
            let report =
                tokio::task::spawn_blocking(move || verify_bundle_file(&path, options)).await??;
            (report, None)
        }
        None => {
            let id = args.ledger_id()?;
            let storage = args.storage().await?;
            let head = storage.head(&id).await?.position;
            let bar = Progress::new("verifying", head, "events");
            let report = verify_storage_with_progress(&storage, &id, options, bar.setter()).await?;
            bar.finish();
            let sealed = check_sealed(&storage, &id).await?;
            storage.close().await;
            (report, Some(sealed))
        }
    };
    Ok(print_report(&report, sealed.as_ref(), v.json))
}

#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// The proof file (from `prove inclusion` or `prove consistency`)
    pub file: PathBuf,
    /// The ledger's public key(s), 64 hex digits; may be repeated
    #[arg(long = "public-key", value_name = "HEX", conflicts_with = "keyring")]
    pub public_key: Vec<String>,
    /// A keyring file as printed by `keys export` (binds keys to positions)
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// A checkpoint you already hold: the proof's (old) checkpoint must match it
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// A C2SP tlog-policy: --checkpoint (then required) must carry its witness quorum
    #[arg(long, value_name = "FILE", requires = "checkpoint")]
    pub policy: Option<PathBuf>,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub async fn verify_proof_cmd(v: &VerifyProofArgs) -> Result<ExitCode, CliError> {
    let keys = match &v.keyring {
        Some(f) => ProofKeys::from_keyring(read_keyring_file(f)?)?,
        None if !v.public_key.is_empty() => ProofKeys::from_hex(&v.public_key)?,
        None => return Err("verify-proof needs --public-key HEX or --keyring FILE".into()),
    };
    let held: Vec<PathBuf> = v.checkpoint.iter().cloned().collect();
    if policy_refuses(v.policy.as_deref(), &held, v.json)? {
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    let text = read_bounded(&v.file, crate::audit::proofs::MAX_PROOF_FILE)?;
    let mut result = verify_proof(&text, &keys)?;
    if let (Ok(outcome), Some(path)) = (&result, &v.checkpoint) {
        let held = crate::audit::bundle::read_note_file(path)?;
        let value: serde_json::Value = serde_json::from_str(&text)?;
        let (size_field, root_field) = match outcome.kind {
            "inclusion" => ("tree_size", None),
            _ => ("old_size", Some("old_root")),
        };
        let size = value
            .get(size_field)
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        let root = match root_field {
            Some(f) => value.get(f).and_then(|r| r.as_str()).map(str::to_owned),
            None => Some(outcome.checkpoint_root.to_hex()),
        };
        let ledger = outcome.ledger_id.clone();
        let mut ring = checkpoint::NoteVerifiers::new();
        for k in keys_of(&keys) {
            if let Ok(nv) = checkpoint::NoteVerifier::for_ledger(&ledger, k) {
                ring.add(nv);
            }
        }
        match checkpoint::parse_and_verify(&held, &ring) {
            Ok(cp) if cp.size == size && Some(cp.root.to_hex()) == root => {}
            Ok(cp) => {
                result = Err(crate::audit::proofs::ProofRejected(format!(
                    "your checkpoint (size {}, root {}) is not the one the proof starts from",
                    cp.size, cp.root
                )));
            }
            Err(e) => return Err(format!("your checkpoint does not verify: {e}").into()),
        }
    }
    match result {
        Ok(outcome) => {
            if v.json {
                outln!("{}", serde_json::json!({"valid": true, "outcome": outcome}));
            } else {
                outln!("VALID {} proof: {}", outcome.kind, outcome.statement);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(rejected) => {
            if v.json {
                outln!(
                    "{}",
                    serde_json::json!({"valid": false, "reason": rejected.0})
                );
            } else {
                outln!("INVALID proof: {}", rejected.0);
            }
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

fn keys_of(keys: &ProofKeys) -> Vec<ed25519_dalek::VerifyingKey> {
    match keys {
        ProofKeys::PublicKeys(k) => k.clone(),
        ProofKeys::Keyring(e) => e
            .iter()
            .filter_map(|e| icac_format::keys::parse_public_key(&e.public_key).ok())
            .collect(),
    }
}

fn read_bounded(path: &std::path::Path, limit: usize) -> Result<String, CliError> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .take(limit as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text)
}
