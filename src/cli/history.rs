//! `history CASE_ID [--as-of TIMESTAMP | --at-position N] [--format text|json]`

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use icac_aggregates::ids::CaseId;
use icac_projections::history::{CaseHistory, Cut};

use super::CliError;
use crate::config::LedgerArgs;
use crate::projection::history::case_history;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HistoryFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Case id, e.g. CT0006400:24-00123
    pub case_id: String,
    /// Replay the case as it stood at this instant (RFC 3339, e.g. 2025-03-01T12:00:00Z)
    #[arg(long, conflicts_with = "at_position")]
    pub as_of: Option<jiff::Timestamp>,
    /// Replay the case as it stood at this ledger position
    #[arg(long)]
    pub at_position: Option<u64>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: HistoryFormat,
}

pub async fn run(args: &LedgerArgs, h: &HistoryArgs) -> Result<ExitCode, CliError> {
    let case_id = CaseId::parse(h.case_id.as_str())?;
    let cut = match (h.as_of, h.at_position) {
        (Some(at), _) => Cut::AsOf { at },
        (None, Some(position)) => Cut::AtPosition { position },
        (None, None) => Cut::Head,
    };
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let history = case_history(&storage, &args.ledger_id()?, &case_id, cut).await?;
    match h.format {
        HistoryFormat::Json => outln!("{}", serde_json::to_string_pretty(&history)?),
        HistoryFormat::Text => out!("{}", text(&history)),
    }
    Ok(ExitCode::SUCCESS)
}

fn text(h: &CaseHistory) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let cut = match h.cut {
        Cut::Head => "now".to_owned(),
        Cut::AsOf { at } => format!("as of {at}"),
        Cut::AtPosition { position } => format!("at ledger position {position}"),
    };
    let _ = writeln!(
        out,
        "case {} ({cut}): {} event(s)",
        h.case_id,
        h.entries.len()
    );
    for e in &h.entries {
        let _ = write!(
            out,
            "{:>8}  {}  {:<28} by {}",
            e.position, e.recorded_at, e.event_type, e.principal
        );
        if let Some(u) = &e.unit {
            let _ = write!(out, " ({u})");
        }
        if let Some(target) = e.corrects {
            let _ = write!(out, "  corrects #{target}");
        }
        if !e.corrected_by.is_empty() {
            let list: Vec<String> = e.corrected_by.iter().map(|p| format!("#{p}")).collect();
            let _ = write!(out, "  corrected by {}", list.join(", "));
        }
        let _ = writeln!(out, "\n          hash {}", e.hash);
    }
    match &h.view {
        None => {
            let _ = writeln!(out, "the case did not exist yet");
        }
        Some(v) => {
            let _ = writeln!(out, "state:");
            let _ = writeln!(
                out,
                "  unit {}  received {}  source {:?}",
                v.reporting_unit, v.received_on, v.source
            );
            let status = v
                .status
                .map_or("complaint logged, no form".to_owned(), |s| {
                    format!("{s:?}").to_lowercase()
                });
            let _ = writeln!(
                out,
                "  status {status}{}",
                v.disposition
                    .map(|d| format!(" ({d:?})"))
                    .unwrap_or_default()
            );
            if let Some(n) = &v.notification {
                let _ = writeln!(
                    out,
                    "  incident {:?}  medium {:?}  statutes {}",
                    n.incident_type,
                    n.medium,
                    n.suggested_statutes_text()
                );
            }
            let _ = writeln!(
                out,
                "  urgent {}  investigators {}  arrests {}  referrals {}  operations {}  shares {}  corrections {}",
                v.urgent,
                v.assignments.len(),
                v.arrests.len(),
                v.referrals.len(),
                v.operations.len(),
                v.shares.len(),
                v.corrections.len()
            );
        }
    }
    out
}

trait StatutesText {
    fn suggested_statutes_text(&self) -> String;
}

impl StatutesText for icac_projections::case_view::NotificationSummary {
    fn suggested_statutes_text(&self) -> String {
        if self.suspected_statutes.is_empty() {
            return "none".to_owned();
        }
        self.suspected_statutes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
