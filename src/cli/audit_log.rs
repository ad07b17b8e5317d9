//! `audit review --week YYYY-Www` and `audit purge --retention-days N --reason TEXT`:
//! the weekly review of the access log (CJIS AU-6) and its retention purge (AU-11).
//! Supervisors acknowledge a review over the API (`POST /v1/audit/reviews/{week}/
//! acknowledgement`), where they are signed in; the review printed here carries the
//! digest they acknowledge.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{CliError, EXIT_FAILED};
use crate::access::access_log::{AccessLog, MIN_RETENTION_DAYS};
use crate::config::LedgerArgs;
use crate::http::access_review::{self, IsoWeek, WeeklyReview};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The weekly review of the access log: failed logons, lockouts, privileged actions,
    /// exports, reveals, erasures, refused requests
    Review(ReviewArgs),
    /// Remove access-log entries older than the retention period (at least 365 days);
    /// the purge is logged and the retained log keeps verifying
    Purge(PurgeArgs),
}

#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// The ISO week, e.g. 2026-W49 (Monday to Monday, UTC); default: last week
    #[arg(long)]
    pub week: Option<String>,
    /// Print the whole review as JSON (with every listed entry) instead of a summary
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Keep entries younger than this many days (at least 365: CJIS AU-11)
    #[arg(long, default_value_t = MIN_RETENTION_DAYS)]
    pub retention_days: i64,
    /// Why (recorded in the access log), e.g. the records schedule's item
    #[arg(long)]
    pub reason: String,
}

pub async fn run(args: &LedgerArgs, cmd: &AuditCommand) -> Result<ExitCode, CliError> {
    match cmd {
        AuditCommand::Review(r) => review(args, r).await,
        AuditCommand::Purge(p) => purge(args, p).await,
    }
}

async fn review(args: &LedgerArgs, r: &ReviewArgs) -> Result<ExitCode, CliError> {
    let week = match &r.week {
        Some(w) => match w.parse::<IsoWeek>() {
            Ok(w) => w,
            Err(e) => {
                eprintln!("error: --week: {e}");
                return Ok(ExitCode::from(EXIT_FAILED));
            }
        },
        None => IsoWeek::of(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 7)),
    };
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let log = AccessLog::new(storage.clone(), id.clone());
    let accounts = crate::access::accounts::AccountStore::new(storage.clone(), id, log.clone());
    let review = access_review::weekly(&log, &accounts, week, jiff::Timestamp::now()).await;
    storage.close().await;
    let review = review?;
    if r.json {
        outln!("{}", serde_json::to_string_pretty(&review)?);
    } else {
        print_summary(&review);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(r: &WeeklyReview) {
    outln!(
        "Access log review, week {} ({} to {}, UTC)",
        r.week,
        r.from,
        r.until
    );
    outln!("  entries                {}", r.entries);
    let sections = [
        ("failed logons", &r.failed_logons),
        ("lockouts", &r.lockouts),
        ("privileged actions", &r.privileged_actions),
        ("exports", &r.exports),
        ("reveals", &r.reveals),
        ("erasures", &r.erasures),
        ("refused (403) requests", &r.denied_requests),
    ];
    for (name, s) in sections {
        outln!("  {name:<22} {}", s.count);
    }
    for (name, s) in sections {
        for l in &s.entries {
            outln!(
                "  {name}: #{} {} {} by {} from {} on {} ({})",
                l.seq,
                l.at,
                l.action,
                l.principal,
                l.source,
                l.target,
                l.outcome
            );
        }
    }
    for a in &r.accounts_near_inactivity {
        outln!(
            "  near inactivity: {} ({}), last used {}, disabled from {}",
            a.username,
            a.role,
            a.last_used_at,
            a.disabled_from
        );
    }
    outln!("  review sha256          {}", r.sha256);
    match r.acknowledgements.last() {
        Some(a) => outln!("  acknowledged by {} at {} (entry #{})", a.by, a.at, a.seq),
        None => outln!("  not acknowledged yet (a supervisor acknowledges it over the API)"),
    }
}

async fn purge(args: &LedgerArgs, p: &PurgeArgs) -> Result<ExitCode, CliError> {
    if p.retention_days < MIN_RETENTION_DAYS {
        eprintln!(
            "error: --retention-days {} is shorter than the {MIN_RETENTION_DAYS} days CJIS AU-11 requires",
            p.retention_days
        );
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    if icac_aggregates::text::check(&p.reason, icac_aggregates::text::limits::REASON).is_err() {
        eprintln!("error: --reason must be 1 to 500 characters of plain text");
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    let before = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * p.retention_days);
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let log = AccessLog::new(storage.clone(), id);
    let purged = log.purge_before(before, "cli:audit-purge", &p.reason).await;
    let report = match &purged {
        Ok(Some(_)) => Some(log.verify().await),
        _ => None,
    };
    storage.close().await;
    match purged? {
        None => outln!("nothing recorded before {before}: nothing purged"),
        Some(done) => {
            outln!(
                "purged entries {}..={} (recorded before {before}); the log now starts after anchor {}",
                done.first_seq, done.through_seq, done.anchor_hash
            );
            if let Some(report) = report {
                let report = report?;
                if !report.valid {
                    eprintln!(
                        "error: the retained access log does not verify: {:?}",
                        report.reason
                    );
                    return Ok(ExitCode::from(EXIT_FAILED));
                }
                outln!(
                    "the retained log verifies ({} entries in all)",
                    report.entries
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
