//! The `icac-ledger` command line. Each subcommand lives in its own module and returns an
//! exit code; errors print one line to stderr.

/// `print!` that survives a closed stdout (`cli::output`).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!($($arg)*))
    };
}

/// `println!` that survives a closed stdout (`cli::output`).
macro_rules! outln {
    () => {
        $crate::cli::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

mod access_entry;
mod accounts;
mod audit_log;
#[cfg(feature = "bench")]
mod bench;
mod checkpoint;
mod compliance;
mod deadline_policy;
mod demo;
mod erase;
mod export;
mod export_openings;
mod history;
mod import;
mod init;
mod keys;
mod output;
mod progress;
mod projections;
mod prove;
mod receipt;
mod report;
mod serve;
mod tokens;
mod verify;
mod witness;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::LedgerArgs;

/// Exit code when a command could not run at all (bad arguments, I/O, configuration).
pub const EXIT_COULD_NOT_RUN: u8 = 2;
/// Exit code when a command ran and found a problem (a broken chain, rejected input).
pub const EXIT_FAILED: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "icac-ledger",
    version,
    about = "Tamper-evident case ledger for Connecticut's ICAC Task Force (C.G.S. 29-7e)"
)]
pub struct Cli {
    #[command(flatten)]
    pub ledger: LedgerArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service: API, public reporting page, staff pages (--demo: with demo data)
    Serve(serve::ServeArgs),
    /// Create, change, disable, re-enable and release staff accounts
    #[command(subcommand)]
    Accounts(accounts::AccountsCommand),
    /// Issue, revoke or list API and staff-page tokens
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Create the schema, a signing key if missing, and the ledger's genesis event
    Init,
    /// Apply pending schema migrations only (as the owner role, before `serve`)
    Migrate,
    /// Show the ledger's size, head and signing key
    Status(init::StatusArgs),
    /// Export the public keyring or rotate the signing key
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Verify every hash, link, signature and sequence (database or --bundle)
    Verify(verify::VerifyArgs),
    /// Cut, sign and store a checkpoint (C2SP signed note)
    Checkpoint(checkpoint::CheckpointArgs),
    /// Emit an inclusion or consistency proof file
    #[command(subcommand)]
    Prove(prove::ProveCommand),
    /// Check a proof file with only the public key
    VerifyProof(verify::VerifyProofArgs),
    /// Export a range of the ledger as a verifiable JSON Lines bundle
    Export(export::ExportArgs),
    /// Benchmarks (not part of the test suite)
    #[command(subcommand)]
    #[cfg(feature = "bench")]
    Bench(bench::BenchCommand),
    /// Fill the ledger with a deterministic synthetic year of activity
    Demo(demo::DemoArgs),
    /// Erase personal values under a legal reason (C.G.S. 54-142a); the chain keeps verifying
    Erase(erase::EraseArgs),
    /// Export one case's sealed personal values (privileged, access-logged)
    ExportOpenings(export_openings::ExportOpeningsArgs),
    /// Bulk-file notifications (JSON Lines) or register units (CSV)
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Every event of a case, optionally replayed as of a moment or position
    History(history::HistoryArgs),
    /// 14-day notification compliance per notification and unit
    Compliance(compliance::ComplianceArgs),
    /// The annual report to the General Assembly, and its verification
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Maintain the read-model views
    #[command(subcommand)]
    Projections(projections::ProjectionsCommand),
    /// Run a C2SP tlog-witness (a separate server, run by a third party)
    #[command(subcommand)]
    Witness(witness::WitnessCommand),
    /// The access log's weekly review and its retention purge (CJIS AU-6, AU-11)
    #[command(subcommand)]
    Audit(audit_log::AuditCommand),
    /// Verify a filing receipt (C2SP tlog-proof) offline against a tlog-policy
    #[command(subcommand)]
    Receipt(receipt::ReceiptCommand),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    if let Some((action, target)) = access_entry::read_by(&cli.command) {
        if let Err(e) = access_entry::record(&cli.ledger, action, &target).await {
            eprintln!("error: the access log cannot record this read, so it does not run: {e}");
            return ExitCode::from(EXIT_COULD_NOT_RUN);
        }
    }
    let result = match cli.command {
        Command::Init => init::init(&cli.ledger).await,
        Command::Migrate => init::migrate(&cli.ledger).await,
        Command::Serve(args) => serve::run(&cli.ledger, &args).await,
        Command::Tokens(cmd) => tokens::run(&cli.ledger, cmd).await,
        Command::Accounts(cmd) => accounts::run(&cli.ledger, cmd).await,
        Command::Status(args) => init::status(&cli.ledger, &args).await,
        Command::Keys(cmd) => keys::run(&cli.ledger, cmd).await,
        Command::Verify(args) => verify::verify(&cli.ledger, &args).await,
        Command::Checkpoint(args) => checkpoint::run(&cli.ledger, &args).await,
        Command::Prove(cmd) => prove::run(&cli.ledger, &cmd).await,
        Command::VerifyProof(args) => verify::verify_proof_cmd(&args).await,
        Command::Export(args) => export::run(&cli.ledger, &args).await,
        #[cfg(feature = "bench")]
        Command::Bench(cmd) => bench::run(&cli.ledger, &cmd).await,
        Command::Demo(args) => demo::run(&cli.ledger, &args).await,
        Command::Erase(args) => erase::run(&cli.ledger, &args).await,
        Command::ExportOpenings(args) => export_openings::run(&cli.ledger, &args).await,
        Command::Import(cmd) => import::run(&cli.ledger, cmd).await,
        Command::History(args) => history::run(&cli.ledger, &args).await,
        Command::Compliance(args) => compliance::run(&cli.ledger, &args).await,
        Command::Report(cmd) => report::run(&cli.ledger, &cmd).await,
        Command::Projections(cmd) => projections::run(&cli.ledger, &cmd).await,
        Command::Witness(cmd) => witness::run(&cli.ledger, cmd).await,
        Command::Receipt(cmd) => receipt::run(cmd).await,
        Command::Audit(cmd) => audit_log::run(&cli.ledger, &cmd).await,
    };
    if let Some(note) = crate::read_side::skipped::note() {
        eprintln!("note: {note}");
    }
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_COULD_NOT_RUN)
        }
    }
}

const NO_URL_PARAMETER_LOGS: &str = "sqlx_postgres::options=off";

fn init_tracing() {
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("ICAC_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // sqlx warns about a URL parameter it does not know with the parameter's value,
    // which may be a password (`?PASSWORD=...`): off, whatever ICAC_LOG asks for.
    if let Ok(directive) = NO_URL_PARAMETER_LOGS.parse() {
        filter = filter.add_directive(directive);
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Any error a command reports; displayed as one line.
pub type CliError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(test)]
mod tests {
    #[test]
    fn the_url_parameter_log_directive_parses() {
        assert!(super::NO_URL_PARAMETER_LOGS
            .parse::<tracing_subscriber::filter::Directive>()
            .is_ok());
    }
}
