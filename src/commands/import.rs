//! Bulk filing of notifications from JSON Lines (the backlog since July 1, 2024): each
//! line is one form, accepted or rejected on its own; a rejected line records nothing.

use std::io::BufRead;

use jiff::Timestamp;
use serde::Serialize;

use super::filing::{file_notification, FilingReceipt};
use super::{Actor, CommandError, Commands};

/// Longest line accepted; a form is a few KiB.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum LineOutcome {
    Accepted {
        line: usize,
        #[serde(flatten)]
        receipt: FilingReceipt,
    },
    Rejected {
        line: usize,
        errors: Vec<LineError>,
    },
}

#[derive(Debug, Serialize)]
pub struct LineError {
    /// JSON Pointer of the field ("" for the whole line).
    pub pointer: String,
    pub message: String,
}

fn whole_line(message: impl Into<String>) -> Vec<LineError> {
    vec![LineError {
        pointer: String::new(),
        message: message.into(),
    }]
}

/// Files every line of `input`; returns one outcome per non-blank line, in order.
pub async fn import_notifications(
    commands: &Commands,
    input: impl BufRead,
    principal: &str,
    mut now: impl FnMut() -> Timestamp,
) -> Result<Vec<LineOutcome>, std::io::Error> {
    let mut outcomes = Vec::new();
    for (i, line) in input.split(b'\n').enumerate() {
        let line_no = i + 1;
        let bytes = line?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if bytes.len() > MAX_LINE_BYTES {
            outcomes.push(LineOutcome::Rejected {
                line: line_no,
                errors: whole_line(format!("line is longer than {MAX_LINE_BYTES} bytes")),
            });
            continue;
        }
        let value: serde_json::Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                outcomes.push(LineOutcome::Rejected {
                    line: line_no,
                    errors: whole_line(format!("not JSON: {e}")),
                });
                continue;
            }
        };
        let actor = Actor::system(principal, format!("import-line-{line_no}"));
        let outcome = match file_notification(commands, &value, &actor, now()).await {
            Ok(receipt) => LineOutcome::Accepted {
                line: line_no,
                receipt,
            },
            Err(CommandError::Invalid(errors)) => LineOutcome::Rejected {
                line: line_no,
                errors: errors
                    .into_iter()
                    .map(|e| LineError {
                        pointer: e.pointer,
                        message: e.message,
                    })
                    .collect(),
            },
            Err(other) => LineOutcome::Rejected {
                line: line_no,
                errors: whole_line(other.to_string()),
            },
        };
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

/// What became of one unit of a CSV import.
#[derive(Debug, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum UnitOutcome {
    Registered {
        ori: String,
    },
    /// The domain refused it (already registered, say); nothing was recorded for it.
    Rejected {
        ori: String,
        message: String,
    },
}

/// Registers each parsed unit on its own: a unit the domain refuses is reported and the
/// others still register, as lines of a notification import do. Fails only when the
/// ledger itself fails.
pub async fn import_units(
    commands: &Commands,
    units: Vec<icac_aggregates::units::RegisterUnit>,
    principal: &str,
) -> Result<Vec<UnitOutcome>, CommandError> {
    let mut outcomes = Vec::with_capacity(units.len());
    for (i, unit) in units.into_iter().enumerate() {
        let ori = unit.ori.to_string();
        let actor = Actor::system(principal, format!("import-unit-{i}"));
        let command = icac_aggregates::units::UnitCommand::Register(unit);
        match commands
            .execute(&commands.units, &ori, command, &actor)
            .await
        {
            Ok(()) => outcomes.push(UnitOutcome::Registered { ori }),
            Err(e @ (CommandError::Rejected(_) | CommandError::Invalid(_))) => {
                outcomes.push(UnitOutcome::Rejected {
                    ori,
                    message: e.to_string(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(outcomes)
}
