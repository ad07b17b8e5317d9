//! Fills a ledger with the domain's deterministic synthetic year of activity, through
//! the real command path (cqrs-es → aggregates → ledger): filings through the filing
//! orchestration (with deconfliction), CyberTips through the Task Force's intake
//! (receive, triage, disseminate, the unit's acknowledgement opening its case).

use icac_aggregates::demo::{self, DemoCommand, ScriptedCommand};
use icac_aggregates::ids::{CaseId, LedgerPosition};
use jiff::civil::Date;

use super::filing::file_form;
use super::tip_intake;
use super::{Actor, CommandError, Commands, Refusal};
use icac_format::record::StreamId;

/// The demo year starts on the statute's effective date.
pub const DEMO_START: Date = jiff::civil::date(2024, 7, 1);

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct DemoSummary {
    pub commands: usize,
    pub rejected: usize,
}

/// Runs the script for `cases` cases from `seed`; `progress` is told every 500 commands.
pub async fn run(
    commands: &Commands,
    cases: usize,
    seed: u64,
    mut progress: impl FnMut(usize, usize),
) -> Result<DemoSummary, CommandError> {
    let script = demo::generate(cases, seed, DEMO_START);
    let total = script.len();
    let mut summary = DemoSummary::default();
    for (i, step) in script.into_iter().enumerate() {
        let step = resolve(commands, step).await?;
        let actor = Actor::system("demo:generator", format!("demo-{seed}-{i}"));
        match execute(commands, step, &actor).await {
            Ok(()) => {}
            // The script is built to be accepted; a refusal is reported, not fatal.
            Err(CommandError::Rejected(reason)) => {
                tracing::warn!(step = i, %reason, "demo step rejected");
                summary.rejected += 1;
            }
            Err(other) => return Err(other),
        }
        summary.commands += 1;
        if (i + 1) % 500 == 0 || i + 1 == total {
            progress(i + 1, total);
        }
    }
    Ok(summary)
}

/// Fills in the ledger position a correction refers to.
async fn resolve(
    commands: &Commands,
    step: ScriptedCommand,
) -> Result<ScriptedCommand, CommandError> {
    let Some(query) = step.resolve_position.clone() else {
        return Ok(step);
    };
    let stream = StreamId::new(query.aggregate_type, &query.aggregate_id);
    let events = commands.ledger().read_stream(&stream).await?;
    let position = events
        .iter()
        .filter(|e| e.record.event_type == query.event_type)
        .nth(query.occurrence.saturating_sub(1) as usize)
        .map(|e| e.record.position);
    match position {
        Some(p) => Ok(step.with_position(LedgerPosition::new(p))),
        None => Err(CommandError::Rejected(Refusal::new(
            "demo_correction_target_missing",
            format!(
                "demo correction refers to {} #{} in {}, which does not exist",
                query.event_type, query.occurrence, stream
            ),
        ))),
    }
}

async fn execute(
    commands: &Commands,
    step: ScriptedCommand,
    actor: &Actor,
) -> Result<(), CommandError> {
    let id = step.aggregate_id.as_str();
    let at = step.at;
    match step.command {
        DemoCommand::Unit(c) => commands.execute(&commands.units, id, c, actor).await,
        DemoCommand::Case(icac_aggregates::case::CaseCommand::FileNotification(f)) => {
            file_form(commands, f.case_id, f.form, actor, f.recorded_at)
                .await
                .map(|_| ())
        }
        DemoCommand::Case(c) => {
            let case_id = CaseId::parse(id).map_err(|e| {
                CommandError::Rejected(Refusal::new("invalid_case_id", e.to_string()))
            })?;
            commands.execute_case(&case_id, c, actor).await
        }
        DemoCommand::Cybertip(c) => commands.execute(&commands.cybertips, id, c, actor).await,
        DemoCommand::Operation(c) => commands.execute(&commands.operations, id, c, actor).await,
        DemoCommand::PublicReport(c) => {
            commands
                .execute(&commands.public_reports, id, c, actor)
                .await
        }
        DemoCommand::Tip(c) => commands.execute(&commands.ncmec_tips, id, c, actor).await,
        DemoCommand::AcknowledgeTip {
            cybertip_number,
            unit,
            unit_case_number,
        } => tip_intake::acknowledge(
            commands,
            &cybertip_number,
            unit,
            unit_case_number,
            actor,
            at,
        )
        .await
        .map(|_| ()),
    }
}
