//! `verify`, `verify-proof` and `bench verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::progress::Progress;
use super::{CliError, EXIT_FAILED};
use crate::audit::bench;
use crate::audit::bundle::{claim_from_file, verify_bundle_file};
use crate::audit::proofs::{verify_proof, ProofKeys};
use crate::audit::sealed_check::{check_sealed, SealedReport};
use crate::audit::trust::{read_keyring_file, TrustRoot};
use crate::audit::verify::{verify_storage, verify_storage_with_progress, Report, VerifyOptions};
use crate::bench::ownership;
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use crate::ledger::Ledger;
use icac_format::checkpoint;
use icac_format::keys::LedgerKey;

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
        let size = value.get(size_field).and_then(|s| s.as_u64()).unwrap_or(0);
        let root = match root_field {
            Some(f) => value.get(f).and_then(|r| r.as_str()).map(str::to_owned),
            None => Some(outcome.checkpoint_root.to_hex()),
        };
        let ledger = outcome.ledger_id.clone();
        let mut ring = checkpoint::Keyring::new();
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
                )))
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

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Verify throughput on the configured database, next to raw batch verification
    Verify(BenchVerifyArgs),
    /// Append throughput through the full command path, next to postgres-es and a naive chain
    Append(super::bench::AppendArgs),
    /// Notifications filed over HTTP, next to GET /healthz and in-process filings
    Http(super::bench::HttpArgs),
    /// A mixed load at a fixed rate against a running server (scripts/soak.sh)
    Load(super::bench::LoadArgs),
    /// The staff pages under concurrent signed-in users, on the demo year
    Pages(super::bench::PagesArgs),
    /// Build a realistic domain ledger fast (the demo scenario, batched appends)
    Generate(super::bench::GenerateArgs),
    /// Rebuild all projections, next to a raw read of the same ledger
    Rebuild(super::bench::LedgerBenchArgs),
    /// Build the annual report in every format, next to a raw read of the same ledger
    Report(super::bench::ReportBenchArgs),
    /// Write the C2SP tiles, then inclusion proofs from tiles next to proofs from every hash
    Tiles(BenchTilesArgs),
    /// Publish two overlapping releases (joint suppression, audit, event, proof), next to a draft
    Release(super::bench::ReleaseBenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchTilesArgs {
    /// The tiles directory to write (must be new or of this ledger)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Inclusion proofs to build from the tiles
    #[arg(long, default_value_t = 200)]
    pub proofs: usize,
}

#[derive(Debug, Args)]
pub struct BenchVerifyArgs {
    /// Grow the ledger to at least this many events first (through Ledger::append)
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Concurrent appending tasks for the generator
    #[arg(long, default_value_t = 16)]
    pub tasks: usize,
    /// Events per append request
    #[arg(long, default_value_t = 64)]
    pub per_request: usize,
    /// Approximate payload size of generated events
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,
    /// Signatures for the raw verify_batch measurement
    #[arg(long, default_value_t = 200_000)]
    pub raw_signatures: usize,
    /// Also verify an export bundle of the ledger (written to FILE unless it exists):
    /// the same checks with no database competing for the CPU
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Print one JSON object
    #[arg(long)]
    pub json: bool,
}

pub async fn bench(args: &LedgerArgs, cmd: &BenchCommand) -> Result<ExitCode, CliError> {
    let b = match cmd {
        BenchCommand::Verify(b) => b,
        BenchCommand::Append(a) => return super::bench::append(a).await,
        BenchCommand::Http(a) => return super::bench::http(a).await,
        BenchCommand::Load(a) => return super::bench::load(a).await,
        BenchCommand::Pages(a) => return super::bench::pages(a).await,
        BenchCommand::Generate(g) => return super::bench::generate(args, g).await,
        BenchCommand::Rebuild(r) => return super::bench::rebuild(args, r).await,
        BenchCommand::Report(r) => return super::bench::report(args, r).await,
        BenchCommand::Tiles(t) => {
            let storage = args.storage().await?;
            let r =
                crate::bench::tiles::run(&storage, &args.ledger_id()?, &t.dir, t.proofs).await?;
            outln!("{}", serde_json::to_string_pretty(&r)?);
            storage.close().await;
            return Ok(ExitCode::SUCCESS);
        }
        BenchCommand::Release(r) => return super::bench::release(args, r).await,
    };
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    let size = ownership::size(&storage, &id).await?;
    let mut generated_rate = None;
    if size < b.events {
        // Growing the ledger writes synthetic events: only into a benchmark's own ledger.
        let key = ownership::writable(&storage, &id, &args.key).await?;
        let size = storage.head(&id).await?.position;
        let ledger = Ledger::open(storage.clone(), id.clone(), key).await?;
        let rate = bench::generate(
            &ledger,
            b.events - size,
            b.tasks,
            b.per_request,
            b.payload_bytes,
        )
        .await?;
        ledger.shutdown().await;
        generated_rate = Some(rate);
        eprintln!("generated {} events at {rate:.0} events/s", b.events - size);
    }
    let load_before = bench::load_average();
    let rss_before = bench::peak_rss_mib();
    let raw_batch = tokio::task::spawn_blocking({
        let n = b.raw_signatures;
        move || bench::raw_batch_throughput(n)
    })
    .await?;
    let raw = raw_batch.signatures_per_second;
    let cpu_1 = bench::process_cpu_seconds();
    // PostgreSQL's share of the CPU, when it runs on this machine.
    let database = (storage.dialect() == "postgres")
        .then(|| {
            args.db
                .split('?')
                .next()
                .unwrap_or("")
                .rsplit('/')
                .next()
                .map(str::to_owned)
        })
        .flatten();
    let backends = database.as_deref().map(bench::BackendCpu::start);
    let report = verify_storage(&storage, &id, VerifyOptions::default()).await?;
    let (server_cpu, sampler_cpu) = backends.map(bench::BackendCpu::finish).unwrap_or_default();
    let cpu_2 = bench::process_cpu_seconds();
    let peak = bench::peak_rss_mib();
    // CPU time per event does not depend on how busy the machine is: the load-free
    // comparison with raw verify_batch.
    let per = |cpu: Option<f64>, n: f64| cpu.map(|c| (c / n.max(1.0) * 1e7).round() / 10.0);
    let raw_us = per(raw_batch.cpu_seconds, b.raw_signatures as f64);
    let verify_us = per(
        cpu_2
            .zip(cpu_1)
            .map(|(b, a)| b - a - sampler_cpu.unwrap_or(0.0)),
        report.events_verified as f64,
    );
    let server_us = per(server_cpu, report.events_verified as f64);
    let load_after = bench::load_average();
    let bundle_report = match &b.bundle {
        Some(path) => {
            if !path.exists() {
                let key = LedgerKey::load(&args.key)?;
                crate::audit::bundle::export(&storage, &id, Some(&key), path, None, None).await?;
            }
            let path = path.clone();
            Some(
                tokio::task::spawn_blocking(move || {
                    verify_bundle_file(&path, VerifyOptions::default())
                })
                .await??,
            )
        }
        None => None,
    };
    let bundle_peak = bundle_report.as_ref().and_then(|_| bench::peak_rss_mib());
    let ratio = if raw > 0.0 {
        report.events_per_second / raw
    } else {
        0.0
    };
    let value = serde_json::json!({
        "database": storage.dialect(),
        "events": report.events_verified,
        "intact": report.intact,
        "verify_events_per_second": report.events_per_second.round(),
        "verify_seconds": report.elapsed_seconds,
        "raw_verify_batch_signatures_per_second": raw.round(),
        "ratio": (ratio * 1000.0).round() / 1000.0,
        "peak_rss_mib": peak.map(|p| p.round()),
        "peak_rss_mib_before_verify": rss_before.map(|p| p.round()),
        "generated_events_per_second": generated_rate.map(|r| r.round()),
        "threads": rayon::current_num_threads(),
        "raw_cpu_microseconds_per_signature": raw_us,
        "verify_cpu_microseconds_per_event": verify_us,
        "server_cpu_microseconds_per_event": server_us,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "bundle_events": bundle_report.as_ref().map(|r| r.events_verified),
        "bundle_intact": bundle_report.as_ref().map(|r| r.intact),
        "bundle_verify_events_per_second": bundle_report.as_ref().map(|r| r.events_per_second.round()),
        "bundle_ratio": bundle_report.as_ref().map(|r| if raw > 0.0 { (r.events_per_second / raw * 1000.0).round() / 1000.0 } else { 0.0 }),
        "peak_rss_mib_after_bundle": bundle_peak.map(|p| p.round()),
    });
    if b.json {
        outln!("{value}");
    } else {
        outln!(
            "verify benchmark ({}, {} threads)",
            storage.dialect(),
            rayon::current_num_threads()
        );
        outln!("  events                 {}", report.events_verified);
        outln!(
            "  verify                 {:.0} events/s ({:.2} s)",
            report.events_per_second,
            report.elapsed_seconds
        );
        outln!("  raw verify_batch       {raw:.0} signatures/s");
        outln!("  ratio                  {ratio:.3}");
        let us = |v: Option<f64>| {
            v.map(|v| format!("{v:.1} µs"))
                .unwrap_or_else(|| "-".into())
        };
        outln!(
            "  CPU per item           raw {} per signature; verify {} per event (this process) + {} (PostgreSQL backend)",
            us(raw_us),
            us(verify_us),
            us(server_us)
        );
        if let Some(p) = peak {
            outln!(
                "  peak RSS               {p:.0} MiB (before verify: {:.0} MiB)",
                rss_before.unwrap_or(0.0)
            );
        }
        outln!("  intact                 {}", report.intact);
        if let Some(r) = &bundle_report {
            outln!(
                "  bundle verify          {:.0} events/s ({:.2} s, ratio {:.3}, intact {})",
                r.events_per_second,
                r.elapsed_seconds,
                if raw > 0.0 {
                    r.events_per_second / raw
                } else {
                    0.0
                },
                r.intact
            );
        }
        outln!(
            "  load average           {} before, {} after",
            load_before.as_deref().unwrap_or("-"),
            load_after.as_deref().unwrap_or("-")
        );
    }
    storage.close().await;
    let bundle_ok = bundle_report.as_ref().is_none_or(|r| r.intact);
    Ok(if report.intact && bundle_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}
