//! Public reports: receipt under a fresh, unguessable number, and the intake commands.
//! Routing a report to a unit is the rule the statute cares about: it logs the
//! complaint on the unit's case, which starts the unit's 14-day clock (29-7e(b)). The
//! API, the intake page and the demo all reach it through [`run`].

use icac_aggregates::case::CaseCommand;
use icac_aggregates::catalog::IncidentType;
use icac_aggregates::ids::{CaseId, ReceiptNumber};
use icac_aggregates::public_report::{Channel, PublicReport, PublicReportCommand, ReportContent};
use jiff::Timestamp;
use rand_core::{OsRng, RngCore};

use super::{Actor, CommandError, Commands};

/// What a public-report command did: the report, and the case routing opened (if any).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Outcome {
    pub receipt_number: ReceiptNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
}

/// Characters of a receipt's random tail: no 0/O or 1/I/L, which people misread.
const RECEIPT_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Random characters per receipt: 32^10 = 2^50, so receipts cannot be guessed or
/// counted from outside.
const RECEIPT_TAIL: usize = 10;

/// A fresh receipt number: `WEB-2025-` or `HOT-2025-` plus the random tail.
pub fn new_receipt(channel: Channel, now: Timestamp) -> Result<ReceiptNumber, CommandError> {
    let mut b = [0u8; RECEIPT_TAIL];
    OsRng.fill_bytes(&mut b);
    let tail: String = b
        .iter()
        .map(|x| RECEIPT_ALPHABET[usize::from(*x) % RECEIPT_ALPHABET.len()] as char)
        .collect();
    let prefix = match channel {
        Channel::WebSite => "WEB",
        Channel::Hotline => "HOT",
    };
    let year = icac_aggregates::local_time::ct_date(now).year();
    ReceiptNumber::parse(format!("{prefix}-{year}-{tail}"))
        .map_err(|e| CommandError::Internal(format!("a fresh receipt does not parse: {e}")))
}

/// Records a received public report under a fresh receipt (the public page, or
/// hotline intake by staff).
pub async fn receive(
    commands: &Commands,
    channel: Channel,
    category: Option<IncidentType>,
    content: Option<ReportContent>,
    actor: &Actor,
    now: Timestamp,
) -> Result<ReceiptNumber, CommandError> {
    let receipt = new_receipt(channel, now)?;
    let command = PublicReportCommand::Receive {
        receipt_number: receipt.clone(),
        channel,
        category,
        content,
        recorded_at: now,
    };
    commands
        .execute(&commands.public_reports, receipt.as_str(), command, actor)
        .await?;
    Ok(receipt)
}

/// Runs one intake command on an existing report. Routing also logs the complaint on
/// the unit's case, as the report itself words it (`PublicReport::routing_complaint`).
pub async fn run(
    commands: &Commands,
    receipt: &ReceiptNumber,
    command: PublicReportCommand,
    actor: &Actor,
) -> Result<Outcome, CommandError> {
    let routed_at = match &command {
        PublicReportCommand::RouteToUnit { recorded_at, .. } => Some(*recorded_at),
        _ => None,
    };
    commands
        .execute(&commands.public_reports, receipt.as_str(), command, actor)
        .await?;
    let mut outcome = Outcome {
        receipt_number: receipt.clone(),
        case_id: None,
    };
    if let Some(at) = routed_at {
        outcome.case_id = log_routed_complaint(commands, receipt, actor, at).await?;
    }
    Ok(outcome)
}

/// Starts the unit's clock on the case the report was routed to.
async fn log_routed_complaint(
    commands: &Commands,
    receipt: &ReceiptNumber,
    actor: &Actor,
    at: Timestamp,
) -> Result<Option<CaseId>, CommandError> {
    let (_, report) = commands.load::<PublicReport>(receipt.as_str()).await?;
    let complaint = report
        .routing_complaint(at)
        .map_err(|e| CommandError::Internal(format!("a routed report names no case: {e}")))?;
    let Some(complaint) = complaint else {
        return Ok(None);
    };
    let case_id = complaint.case_id.clone();
    commands
        .execute_case(&case_id, CaseCommand::LogComplaint(complaint), actor)
        .await?;
    Ok(Some(case_id))
}
