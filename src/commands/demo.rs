//! Fills a ledger with the domain's deterministic synthetic year of activity, through
//! the real command path (cqrs-es → aggregates → ledger): filings through the filing
//! orchestration (with deconfliction), CyberTips through the Task Force's intake
//! (receive, triage, disseminate, the unit's acknowledgement opening its case).
//!
//! On a demo ledger (created by `demo` or `serve --demo`, its genesis declaring the demo
//! clock) every step is committed at its instant in the story, so the ledger's commit
//! times, the business dates and as-of replay agree; on another ledger the steps are
//! committed when they are loaded.

use icac_aggregates::demo::{self, DemoCommand, ScriptedCommand};
use icac_aggregates::ids::{CaseId, LedgerPosition, ReceiptNumber};
use jiff::civil::Date;

use super::filing::file_form;
use super::{public_report, tip_intake};
use super::{Actor, CommandError, Commands, Refusal};
use crate::ledger::clock::WriterClock;
use icac_format::key_events::CommitClock;
use icac_format::record::StreamId;

/// The demo year starts on the statute's effective date.
pub const DEMO_START: Date = jiff::civil::date(2024, 7, 1);

/// The story's first instant: midnight in Connecticut on [`DEMO_START`]. A demo
/// ledger's genesis is committed then (`Ledger::initialise_demo`).
pub fn story_start() -> jiff::Timestamp {
    DEMO_START
        .to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC))
        .map_or(jiff::Timestamp::UNIX_EPOCH, |z| z.timestamp())
}

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct DemoSummary {
    pub commands: usize,
    pub rejected: usize,
}

/// Runs the script for `cases` cases from `seed`; `progress` is told (done, total)
/// after every command (it only watches: it decides nothing).
pub async fn run(
    commands: &Commands,
    cases: usize,
    seed: u64,
    mut progress: impl FnMut(usize, usize),
) -> Result<DemoSummary, CommandError> {
    let script = demo::generate(cases, seed, DEMO_START);
    let total = script.len();
    let mut summary = DemoSummary::default();
    // On a demo ledger (its genesis declares the demo clock) each step is committed at
    // its instant in the story; on any other ledger, when it is loaded.
    let story = StoryClock::start(commands.ledger().clock());
    for (i, step) in script.into_iter().enumerate() {
        story.at(step.at);
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
        progress(i + 1, total);
    }
    Ok(summary)
}

/// The story's clock while the script runs, back to the system clock when it ends
/// (however it ends). Does nothing on a ledger that does not declare the demo clock.
struct StoryClock<'a>(Option<&'a WriterClock>);

impl<'a> StoryClock<'a> {
    fn start(clock: &'a WriterClock) -> Self {
        StoryClock((clock.commit_clock() == CommitClock::Demo).then_some(clock))
    }

    fn at(&self, at: jiff::Timestamp) {
        if let Some(c) = self.0 {
            // Cannot fail: the clock declares the demo clock.
            let _ = c.set_story_time(Some(at));
        }
    }
}

impl Drop for StoryClock<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.0 {
            let _ = c.set_story_time(None);
        }
    }
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
            let receipt = ReceiptNumber::parse(id).map_err(|e| {
                CommandError::Rejected(Refusal::new("invalid_receipt_number", e.to_string()))
            })?;
            public_report::run(commands, &receipt, c, actor)
                .await
                .map(|_| ())
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
