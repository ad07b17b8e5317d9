//! `report annual ...` and `report verify FILE.json`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use icac_projections::report::render::{self, Format};
use icac_projections::report::suppression::DEFAULT_THRESHOLD;
use icac_projections::report::{Parameters, MAX_RECOMMENDATION};
use jiff::civil::Date;

use super::deadline_policy::DeadlinePolicyArgs;
use super::progress::Progress;
use super::{CliError, EXIT_FAILED};
use crate::commands::{release, Actor};
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use crate::read_side::annual;
use icac_format::keys::LedgerKey;

/// Largest report file `verify` reads.
const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
    Csv,
    Json,
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Format {
        match f {
            ReportFormat::Md => Format::Md,
            ReportFormat::Html => Format::Html,
            ReportFormat::Csv => Format::Csv,
            ReportFormat::Json => Format::Json,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// The annual report to the General Assembly (C.G.S. 29-7e(d))
    Annual(AnnualArgs),
    /// Recompute every figure of a JSON report from the ledger; exit 1 on any mismatch
    Verify(VerifyArgs),
    /// Play the attacker against a release (and earlier releases): exit 1 if any hidden
    /// victim figure can be derived or narrowed below the protection width
    Audit(AuditArgs),
    /// Render another edition (md, html, csv) of a JSON report or release
    Render(RenderArgs),
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// A release (or draft) written with --format json
    pub file: PathBuf,
    /// A directory of earlier releases (*.json) already public
    #[arg(long)]
    pub against: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A report written with --format json
    pub file: PathBuf,
    #[arg(long, value_enum)]
    pub format: ReportFormat,
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct AnnualArgs {
    /// First day of the period (Connecticut date)
    #[arg(long)]
    pub from: Date,
    /// Last day of the period, inclusive
    #[arg(long)]
    pub to: Date,
    /// Compute at this ledger position (default: the head)
    #[arg(long)]
    pub at_position: Option<u64>,
    /// Text of the recommendation on extending the investigative unit
    #[arg(long, conflicts_with = "without_recommendation")]
    pub recommendation: Option<PathBuf>,
    /// Publish without a recommendation on extending the investigative unit (29-7e(d)
    /// asks for one; leaving it out must be a choice, and the report says it was)
    #[arg(long)]
    pub without_recommendation: bool,
    #[arg(long, value_enum)]
    pub format: ReportFormat,
    #[arg(long)]
    pub out: PathBuf,
    /// Victim-related counts from 1 to this value are suppressed
    #[arg(long, default_value_t = DEFAULT_THRESHOLD)]
    pub suppression_threshold: u64,
    #[command(flatten)]
    pub policy: DeadlinePolicyArgs,
    /// Values every hidden victim figure must be able to take (default: the threshold)
    #[arg(long)]
    pub protection_width: Option<u64>,
    /// Publish a release: whole quarters, recorded in the ledger, audited, frozen.
    /// Without it the report is a watermarked draft.
    #[arg(long)]
    pub release: bool,
    /// With --release: a declared revision of released quarters, and why
    #[arg(long, requires = "release")]
    pub revision: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A report written with --format json
    pub file: PathBuf,
}

pub async fn run(args: &LedgerArgs, cmd: &ReportCommand) -> Result<ExitCode, CliError> {
    match cmd {
        ReportCommand::Annual(a) => annual_cmd(args, a).await,
        ReportCommand::Verify(v) => verify_cmd(args, v).await,
        ReportCommand::Audit(a) => audit_cmd(args, a).await,
        ReportCommand::Render(r) => render_cmd(r),
    }
}

async fn annual_cmd(args: &LedgerArgs, a: &AnnualArgs) -> Result<ExitCode, CliError> {
    if a.recommendation.is_none() && !a.without_recommendation {
        return Err(
            "29-7e(d) asks for a recommendation on extending the investigative unit: \
                    give --recommendation FILE, or --without-recommendation to publish without one"
                .into(),
        );
    }
    let recommendation = match &a.recommendation {
        Some(path) => {
            let len = std::fs::metadata(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?
                .len();
            if len > MAX_RECOMMENDATION as u64 {
                return Err(format!(
                    "{} is larger than {MAX_RECOMMENDATION} bytes",
                    path.display()
                )
                .into());
            }
            Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let parameters = Parameters {
        from: a.from,
        to: a.to,
        suppression_threshold: a.suppression_threshold,
        protection_width: a.protection_width.unwrap_or(a.suppression_threshold),
        deadline_policy: a.policy.policy().map_err(|e| e.to_string())?,
    };
    let report = if a.release {
        let ledger = args.open().await?;
        let request = release::ReleaseRequest {
            parameters,
            position: a.at_position,
            recommendation,
            revision: a.revision.clone(),
        };
        let actor = Actor::system("cli:report", format!("release-{}", jiff::Timestamp::now()));
        let key = ledger.signing_key();
        let outcome =
            release::publish(&ledger, &key, request, &actor, jiff::Timestamp::now()).await;
        ledger.shutdown().await;
        match outcome {
            Ok(r) => r,
            Err(e) if e.is_refusal() => {
                eprintln!("error: not released, nothing recorded: {e}");
                return Ok(ExitCode::from(EXIT_FAILED));
            }
            Err(e) => return Err(e.to_string().into()),
        }
    } else {
        let key = LedgerKey::load(&args.key)?;
        let storage = args.storage().await?;
        storage.check_schema().await?;
        let id = args.ledger_id()?;
        let upto = match a.at_position {
            Some(p) => p,
            None => storage.head(&id).await?.position,
        };
        let bar = Progress::new("reading the ledger", upto, "events");
        let report = annual::build_with_progress(
            &storage,
            &id,
            &key,
            parameters,
            a.at_position,
            recommendation,
            |position| bar.set(position),
        )
        .await?;
        bar.finish();
        report
    };
    let text = render::render(&report, a.format.into())?;
    std::fs::write(&a.out, text).map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    if a.release && !matches!(a.format, ReportFormat::Json) {
        // The JSON edition is what verify, audit and render read: never lose it.
        let json = a.out.with_extension("json");
        std::fs::write(&json, render::render(&report, Format::Json)?)
            .map_err(|e| format!("cannot write {}: {e}", json.display()))?;
        outln!("wrote {} (the attested edition)", json.display());
    }
    if let Some(r) = &report.release {
        outln!(
            "release {} of {} recorded at ledger position {}",
            r.number,
            r.period,
            r.event_position
        );
    }
    outln!(
        "wrote {} (ledger position {}, {} notifications)",
        a.out.display(),
        report.attestation.position,
        report.figures.notifications.total
    );
    Ok(ExitCode::SUCCESS)
}

fn read_report(path: &std::path::Path) -> Result<icac_projections::report::AnnualReport, CliError> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    if len > MAX_REPORT_BYTES {
        return Err(format!("{} is larger than {MAX_REPORT_BYTES} bytes", path.display()).into());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    render::json::parse(&text).map_err(|e| format!("{}: {e}", path.display()).into())
}

/// Most earlier releases `report audit --against` reads.
const MAX_AGAINST: usize = 200;

async fn audit_cmd(args: &LedgerArgs, a: &AuditArgs) -> Result<ExitCode, CliError> {
    let subject = read_report(&a.file)?;
    let mut against = Vec::new();
    if let Some(dir) = &a.against {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        if paths.len() > MAX_AGAINST {
            return Err(format!("{} holds more than {MAX_AGAINST} reports", dir.display()).into());
        }
        for path in paths {
            let r = read_report(&path)?;
            let same = r.release.as_ref().map(|s| s.number)
                == subject.release.as_ref().map(|s| s.number)
                && r.attestation == subject.attestation
                && r.parameters == subject.parameters;
            if !same {
                against.push(r);
            }
        }
    }
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let outcome = release::audit(&storage, &args.ledger_id()?, &subject, &against).await;
    let audit = match outcome {
        Ok(a) => a,
        Err(e) if e.is_refusal() => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
        Err(e) => return Err(e.to_string().into()),
    };
    for f in &audit.findings {
        outln!("DISCLOSED {f}");
    }
    if audit.findings.is_empty() {
        outln!(
            "audit passed: {} hidden figure(s) across {} release(s); each keeps at least {} possible values for a reader who knows hidden figures are at least 1, and at least {} for the readers told which are small",
            audit.hidden,
            against.len() + 1,
            subject.parameters.protection_width.max(2),
            subject.parameters.protection_width.div_ceil(2).max(2)
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "error: {} hidden figure(s) can be derived or narrowed",
            audit.findings.len()
        );
        Ok(ExitCode::from(EXIT_FAILED))
    }
}

fn render_cmd(r: &RenderArgs) -> Result<ExitCode, CliError> {
    let report = read_report(&r.file)?;
    let text = render::render(&report, r.format.into())?;
    std::fs::write(&r.out, text).map_err(|e| format!("cannot write {}: {e}", r.out.display()))?;
    outln!("wrote {}", r.out.display());
    Ok(ExitCode::SUCCESS)
}

async fn verify_cmd(args: &LedgerArgs, v: &VerifyArgs) -> Result<ExitCode, CliError> {
    let len = std::fs::metadata(&v.file)
        .map_err(|e| format!("cannot read {}: {e}", v.file.display()))?
        .len();
    if len > MAX_REPORT_BYTES {
        return Err(format!(
            "{} is larger than {MAX_REPORT_BYTES} bytes",
            v.file.display()
        )
        .into());
    }
    let text = std::fs::read_to_string(&v.file)
        .map_err(|e| format!("cannot read {}: {e}", v.file.display()))?;
    let stated = render::json::parse(&text)?;
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let bar = Progress::new(
        "recomputing the report",
        stated.attestation.position,
        "events",
    );
    let problems =
        annual::verify_with_progress(&storage, &args.ledger_id()?, &stated, |p| bar.set(p)).await?;
    bar.finish();
    if problems.is_empty() {
        outln!(
            "report matches the ledger at position {} (checkpoint signature valid)",
            stated.attestation.position
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            outln!("MISMATCH {p}");
        }
        eprintln!(
            "error: {} figure(s) or attestation field(s) do not match the ledger",
            problems.len()
        );
        Ok(ExitCode::from(EXIT_FAILED))
    }
}
