//! `history CASE_ID [--as-of TIMESTAMP | --at-position N] [--format text|json]`

use crate::http::pages::labels::words;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use icac_aggregates::ids::CaseId;
use icac_projections::history::{CaseHistory, Cut};

use super::{CliError, EXIT_FAILED};
use crate::config::LedgerArgs;
use crate::read_side::history::{case_history, parse_cut, CaseHistoryError};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum HistoryFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Case id, e.g. CT0006400:24-00123
    pub case_id: String,
    /// Replay the case as it stood at this instant (RFC 3339, e.g. 2025-03-01T12:00:00Z),
    /// or at the end of this Connecticut date (2025-03-01), as the API reads it
    #[arg(long, conflicts_with = "at_position")]
    pub as_of: Option<String>,
    /// Replay the case as it stood at this ledger position (at most the head)
    #[arg(long)]
    pub at_position: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: HistoryFormat,
}

pub async fn run(args: &LedgerArgs, h: &HistoryArgs) -> Result<ExitCode, CliError> {
    let case_id = CaseId::parse(h.case_id.as_str())?;
    let cut = match parse_cut(h.as_of.as_deref(), h.at_position.as_deref()) {
        Ok(cut) => cut,
        Err(e) => return Ok(refused(&format!("--{}: {e}", e.field().replace('_', "-")))),
    };
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let history = match case_history(&storage, &args.ledger_id()?, &case_id, cut).await {
        Ok(history) => history,
        Err(e @ (CaseHistoryError::BeyondHead { .. } | CaseHistoryError::NotFound(_))) => {
            return Ok(refused(&e.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    match h.format {
        HistoryFormat::Json => outln!("{}", serde_json::to_string_pretty(&history)?),
        HistoryFormat::Text => out!("{}", text(&history)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Input the ledger cannot answer: one line, exit 1.
fn refused(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_FAILED)
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
                "  unit {}  received {}  source {}",
                v.reporting_unit,
                v.received_on,
                words(&v.source)
            );
            let status = v
                .status
                .map_or("complaint logged, no form".to_owned(), |s| {
                    words(&s).to_lowercase()
                });
            let _ = writeln!(
                out,
                "  status {status}{}",
                v.disposition
                    .map(|d| format!(" ({})", words(&d).to_lowercase()))
                    .unwrap_or_default()
            );
            if let Some(n) = &v.notification {
                let _ = writeln!(
                    out,
                    "  incident {}  medium {}  statutes {}",
                    words(&n.incident_type),
                    words(&n.medium),
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
