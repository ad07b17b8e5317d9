//! CyberTip intake at the Task Force: receive NCMEC's report (by API or JSON Lines),
//! triage, disseminate to a unit; the unit's acknowledgement opens its case (a logged
//! complaint received on the acknowledgement date, source the tip), so the tip is
//! traced through to the case that answers for it.

use std::io::BufRead;

use icac_aggregates::case::{CaseCommand, LogComplaint};
use icac_aggregates::form::v1::Source;
use icac_aggregates::form::FieldError;
use icac_aggregates::ids::{CaseId, CyberTipNumber, Ori, UnitCaseNumber};
use icac_aggregates::local_time::ct_date;
use icac_aggregates::tip_intake::{NcmecPriority, NcmecReport, TipCommand};
use jiff::Timestamp;
use serde::Serialize;

use super::import::{LineError, MAX_LINE_BYTES};
use super::{Actor, CommandError, Commands};

fn invalid(pointer: &str, message: impl Into<String>) -> CommandError {
    CommandError::Invalid(vec![FieldError {
        pointer: pointer.to_owned(),
        message: message.into(),
    }])
}

/// Takes in one NCMEC report.
pub async fn receive(
    commands: &Commands,
    report: NcmecReport,
    actor: &Actor,
    at: Timestamp,
) -> Result<CyberTipNumber, CommandError> {
    let tip = report.cybertip_number.clone();
    let command = TipCommand::Receive {
        report,
        recorded_at: at,
    };
    commands
        .execute(&commands.ncmec_tips, tip.as_str(), command, actor)
        .await?;
    Ok(tip)
}

/// The Task Force's triage: NCMEC's priority confirmed or changed.
pub async fn triage(
    commands: &Commands,
    tip: &CyberTipNumber,
    priority: NcmecPriority,
    actor: &Actor,
    at: Timestamp,
) -> Result<(), CommandError> {
    let command = TipCommand::Triage {
        priority,
        recorded_at: at,
    };
    commands
        .execute(&commands.ncmec_tips, tip.as_str(), command, actor)
        .await
}

pub async fn disseminate(
    commands: &Commands,
    tip: &CyberTipNumber,
    to_unit: Ori,
    actor: &Actor,
    at: Timestamp,
) -> Result<(), CommandError> {
    let command = TipCommand::Disseminate {
        to_unit,
        recorded_at: at,
    };
    commands
        .execute(&commands.ncmec_tips, tip.as_str(), command, actor)
        .await
}

/// The receiving unit takes the tip as its case `unit_case_number`: the
/// acknowledgement is recorded on the tip, then the unit's case is opened with the
/// acknowledgement date as its received date (the 14-day clock starts). A case number
/// the unit already used is refused before anything is recorded.
pub async fn acknowledge(
    commands: &Commands,
    tip: &CyberTipNumber,
    unit: Ori,
    unit_case_number: UnitCaseNumber,
    actor: &Actor,
    at: Timestamp,
) -> Result<CaseId, CommandError> {
    let case_id = CaseId::for_unit_case(&unit, &unit_case_number)
        .map_err(|e| invalid("/unit_case_number", e.to_string()))?;
    let (sequence, _) = commands.load_case(&case_id).await?;
    if sequence > 0 {
        return Err(invalid(
            "/unit_case_number",
            format!("case {case_id} is already open; give the unit's case number for this tip"),
        ));
    }
    let command = TipCommand::Acknowledge {
        unit: unit.clone(),
        case_id: case_id.clone(),
        recorded_at: at,
    };
    commands
        .execute(&commands.ncmec_tips, tip.as_str(), command, actor)
        .await?;
    let complaint = LogComplaint {
        case_id: case_id.clone(),
        reporting_unit: unit,
        unit_case_number: Some(unit_case_number),
        received_on: ct_date(at),
        received_time: None,
        received_offset: None,
        source: Source::NcmecCybertip {
            cybertip_number: tip.clone(),
        },
        recorded_at: at,
    };
    commands
        .execute_case(&case_id, CaseCommand::LogComplaint(complaint), actor)
        .await?;
    Ok(case_id)
}

/// What became of one line of a tip import.
#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum TipLineOutcome {
    Received {
        line: usize,
        cybertip_number: String,
    },
    Rejected {
        line: usize,
        errors: Vec<LineError>,
    },
}

/// Receives every line of `input` (one NCMEC report as JSON per line) on its own.
pub async fn import_tips(
    commands: &Commands,
    input: impl BufRead,
    principal: &str,
    mut now: impl FnMut() -> Timestamp,
) -> Result<Vec<TipLineOutcome>, std::io::Error> {
    let mut outcomes = Vec::new();
    for (i, line) in input.split(b'\n').enumerate() {
        let line_no = i + 1;
        let bytes = line?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let rejected = |errors: Vec<LineError>| TipLineOutcome::Rejected {
            line: line_no,
            errors,
        };
        let whole = |m: String| {
            vec![LineError {
                pointer: String::new(),
                message: m,
            }]
        };
        if bytes.len() > MAX_LINE_BYTES {
            outcomes.push(rejected(whole(format!(
                "line is longer than {MAX_LINE_BYTES} bytes"
            ))));
            continue;
        }
        let report: NcmecReport = match serde_path_to_error::deserialize(
            &mut serde_json::Deserializer::from_slice(&bytes),
        ) {
            Ok(r) => r,
            Err(e) => {
                let pointer = pointer_of(e.path());
                outcomes.push(rejected(vec![LineError {
                    pointer,
                    message: e.inner().to_string(),
                }]));
                continue;
            }
        };
        let actor = Actor::system(principal, format!("import-tip-{line_no}"));
        outcomes.push(match receive(commands, report, &actor, now()).await {
            Ok(tip) => TipLineOutcome::Received {
                line: line_no,
                cybertip_number: tip.to_string(),
            },
            Err(CommandError::Invalid(errors)) => rejected(
                errors
                    .into_iter()
                    .map(|e| LineError {
                        pointer: e.pointer,
                        message: e.message,
                    })
                    .collect(),
            ),
            Err(other) => rejected(whole(other.to_string())),
        });
    }
    Ok(outcomes)
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    path.iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            serde_path_to_error::Segment::Map { key } => {
                Some(key.replace('~', "~0").replace('/', "~1"))
            }
            serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
            serde_path_to_error::Segment::Unknown => None,
        })
        .map(|s| format!("/{s}"))
        .collect()
}
