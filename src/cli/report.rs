//! `report annual ...` and `report verify FILE.json`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use icac_projections::report::render::{self, Format};
use icac_projections::report::suppression::DEFAULT_THRESHOLD;
use icac_projections::report::{Parameters, MAX_RECOMMENDATION};
use jiff::civil::Date;

use super::deadline_policy::DeadlinePolicyArgs;
use super::{CliError, EXIT_FAILED};
use crate::config::LedgerArgs;
use crate::ledger::key_file::KeyFile;
use crate::projection::annual;
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
    let key = LedgerKey::load(&args.key)?;
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let parameters = Parameters {
        from: a.from,
        to: a.to,
        suppression_threshold: a.suppression_threshold,
        deadline_policy: a.policy.policy().map_err(|e| e.to_string())?,
    };
    let report = annual::build(
        &storage,
        &args.ledger_id()?,
        &key,
        parameters,
        a.at_position,
        recommendation,
    )
    .await?;
    let text = render::render(&report, a.format.into())?;
    std::fs::write(&a.out, text).map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    outln!(
        "wrote {} (ledger position {}, {} notifications)",
        a.out.display(),
        report.attestation.position,
        report.figures.notifications.total
    );
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
    let problems = annual::verify(&storage, &args.ledger_id()?, &stated).await?;
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
