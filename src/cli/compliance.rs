//! `compliance [--as-of DATE] [--unit ORI] [--format table|json|csv]`

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use icac_aggregates::ids::Ori;
use icac_aggregates::local_time::ct_date;
use icac_projections::compliance::ComplianceReport;
use jiff::civil::Date;

use super::deadline_policy::{DeadlinePolicyArgs, SharingPolicyArgs};
use super::CliError;
use crate::config::LedgerArgs;
use crate::read_side::runner::ProjectionRunner;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ComplianceFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ComplianceArgs {
    /// Connecticut date to assess on (default: today in Connecticut)
    #[arg(long)]
    pub as_of: Option<Date>,
    /// Only this unit's notifications (ORI, e.g. CT0006400)
    #[arg(long)]
    pub unit: Option<Ori>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ComplianceFormat,
    #[command(flatten)]
    pub policy: DeadlinePolicyArgs,
    /// Show the continued-sharing clock (29-7e(c), second sentence) instead of the 14-day rule
    #[arg(long)]
    pub sharing: bool,
    #[command(flatten)]
    pub sharing_policy: SharingPolicyArgs,
}

pub async fn run(args: &LedgerArgs, c: &ComplianceArgs) -> Result<ExitCode, CliError> {
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let runner = ProjectionRunner::open(storage, args.ledger_id()?).await?;
    runner.catch_up().await?;
    let as_of = c.as_of.unwrap_or_else(|| ct_date(jiff::Timestamp::now()));
    let policy = c.policy.policy().map_err(|e| e.to_string())?;
    if c.sharing {
        let sp = c
            .sharing_policy
            .policy()
            .map_err(|e| format!("--sharing-cadence-days: {e}"))?;
        let report = runner.sharing(as_of, c.unit.as_ref(), &sp, true).await?;
        match c.format {
            ComplianceFormat::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
            ComplianceFormat::Csv => out!("{}", sharing_csv(&report)),
            ComplianceFormat::Table => out!("{}", sharing_table(&report)),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = runner.compliance(as_of, c.unit.as_ref(), &policy).await?;
    match c.format {
        ComplianceFormat::Json => outln!("{}", serde_json::to_string_pretty(&report)?),
        ComplianceFormat::Csv => out!("{}", csv(&report)),
        ComplianceFormat::Table => out!("{}", table(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

fn status_fields(s: &icac_aggregates::compliance::ComplianceStatus) -> (&'static str, String) {
    use icac_aggregates::compliance::ComplianceStatus::*;
    match *s {
        OnTime => ("on_time", String::new()),
        Late { days } => ("late", days.to_string()),
        Pending { due_in_days } => ("pending", due_in_days.to_string()),
        DueSoon { due_in_days } => ("due_soon", due_in_days.to_string()),
        Overdue { days } => ("overdue", days.to_string()),
    }
}

fn csv(r: &ComplianceReport) -> String {
    let mut out = String::from(
        "case_id,unit,received_on,filed_on,due_on,status,days,incomplete_form,deadline_policy\r\n",
    );
    // The policy in every row, so a row read alone still says what its due date assumes.
    let policy = format!(
        "roll_to_business_day={};saturday_to_friday={};due_soon_days={}",
        r.policy.roll_to_business_day,
        r.policy.observance.saturday_to_friday,
        r.policy.due_soon_days
    );
    for n in &r.notifications {
        let (status, days) = status_fields(&n.status);
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\r\n",
            n.case_id,
            n.unit,
            n.received_on,
            n.filed_on.map(|d| d.to_string()).unwrap_or_default(),
            n.due_on,
            status,
            days,
            n.incomplete_form,
            policy
        ));
    }
    out
}

fn table(r: &ComplianceReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "14-day compliance as of {} ({} notification(s))",
        r.as_of,
        r.notifications.len()
    );
    let _ = writeln!(out, "{}", r.policy_statement);
    let _ = writeln!(
        out,
        "{:<32} {:<10} {:<10} {:<10} {:<10} status",
        "case", "unit", "received", "due", "filed"
    );
    for n in &r.notifications {
        let _ = writeln!(
            out,
            "{:<32} {:<10} {:<10} {:<10} {:<10} {}",
            n.case_id.as_str(),
            n.unit.as_str(),
            n.received_on.to_string(),
            n.due_on.to_string(),
            n.filed_on.map_or_else(|| "-".to_owned(), |d| d.to_string()),
            n.label
        );
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:>6} {:>7} {:>5} {:>8} {:>8} {:>8} {:>10}",
        "unit", "total", "on time", "late", "pending", "due soon", "overdue", "incomplete"
    );
    for u in r.units.iter().chain(std::iter::once(&r.total)) {
        let name = u.unit.as_ref().map_or("all", |o| o.as_str());
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>7} {:>5} {:>8} {:>8} {:>8} {:>10}",
            name,
            u.notifications,
            u.on_time,
            u.late,
            u.pending,
            u.due_soon,
            u.overdue,
            u.incomplete_form
        );
    }
    out
}

fn sharing_csv(r: &icac_projections::sharing::SharingReport) -> String {
    let mut out =
        String::from("case_id,unit,cadence_days,last_update_on,due_on,due_for,status,days\r\n");
    for row in &r.cases {
        use icac_aggregates::compliance::sharing::SharingStatus::*;
        let (status, days) = match row.status {
            Current { due_in_days } => ("current", due_in_days.to_string()),
            DueSoon { due_in_days } => ("due_soon", due_in_days.to_string()),
            Overdue { days } => ("overdue", days.to_string()),
            Complete => ("complete", String::new()),
        };
        let due_for = row
            .due_for
            .and_then(|d| serde_json::to_value(d).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            row.case_id,
            row.unit,
            row.cadence_days,
            row.last_update_on
                .map(|d| d.to_string())
                .unwrap_or_default(),
            row.due_on.map(|d| d.to_string()).unwrap_or_default(),
            due_for,
            status,
            days
        ));
    }
    out
}

fn sharing_table(r: &icac_projections::sharing::SharingReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Continued sharing (29-7e(c)) as of {}: an update every {} day(s) unless a case sets its own, and within {} day(s) of an arrest or the closure",
        r.as_of, r.policy.default_cadence_days, r.policy.event_update_days
    );
    let _ = writeln!(
        out,
        "{:<32} {:<10} {:>7} {:<10} {:<10} status",
        "case", "unit", "cadence", "last", "due"
    );
    for row in &r.cases {
        let _ = writeln!(
            out,
            "{:<32} {:<10} {:>7} {:<10} {:<10} {}",
            row.case_id.as_str(),
            row.unit.as_str(),
            row.cadence_days,
            row.last_update_on
                .map_or_else(|| "-".to_owned(), |d| d.to_string()),
            row.due_on.map_or_else(|| "-".to_owned(), |d| d.to_string()),
            row.label
        );
    }
    let _ = writeln!(
        out,
        "\n{:<10} {:>6} {:>8} {:>8} {:>8} {:>9}",
        "unit", "cases", "current", "due soon", "overdue", "complete"
    );
    for u in r.units.iter().chain(std::iter::once(&r.total)) {
        let _ = writeln!(
            out,
            "{:<10} {:>6} {:>8} {:>8} {:>8} {:>9}",
            u.unit.as_ref().map_or("all", |o| o.as_str()),
            u.cases,
            u.current,
            u.due_soon,
            u.overdue,
            u.complete
        );
    }
    out
}
