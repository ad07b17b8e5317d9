//! Filing a standardized notification: validate, claim the CyberTip (first filer), file
//! on the unit's own case, then register its CyberTip and suspect identifiers for
//! deconfliction. The order is docs/DOMAIN.md's "Deconfliction" orchestration.

use cqrs_es::AggregateError;
use icac_aggregates::case::{CaseCommand, FileNotification};
use icac_aggregates::catalog::Catalog;
use icac_aggregates::cybertip::{filing, ClaimOutcome, CyberTip, CyberTipCommand, STRANDED_AFTER};
use icac_aggregates::form::{parse_and_validate, NotificationForm, ValidationContext};
use icac_aggregates::ids::CaseId;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::deconfliction::{self, MatchNotice};
use super::Refusal;
use super::{Actor, CommandError, Commands};
use icac_aggregates::text::BlamesField;

/// What happened to a filed notification. Never another unit's case id, case number
/// or identifiers: a match names only the unit to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FilingReceipt {
    /// A case was opened (or a logged complaint completed) for this notification.
    Filed {
        case_id: CaseId,
        /// Other units holding the same CyberTip or suspect identifier: call them.
        deconfliction: Vec<MatchNotice>,
    },
}

impl FilingReceipt {
    pub fn case_id(&self) -> &CaseId {
        match self {
            FilingReceipt::Filed { case_id, .. } => case_id,
        }
    }
}

/// Validates raw form JSON (every problem at once, with JSON Pointers) and files it.
pub async fn file_notification(
    commands: &Commands,
    raw: &Value,
    actor: &Actor,
    recorded_at: Timestamp,
) -> Result<FilingReceipt, CommandError> {
    let (case_id, form) = validate_notification(commands, raw, recorded_at)?;
    file_form(commands, case_id, form, actor, recorded_at).await
}

/// The validation `file_notification` runs before it files, and nothing else: every
/// problem at once with its JSON Pointer, or the case the form would be filed on. It
/// writes nothing (the web form checks a form with it as it is typed).
pub fn validate_notification(
    commands: &Commands,
    raw: &Value,
    recorded_at: Timestamp,
) -> Result<(CaseId, NotificationForm), CommandError> {
    let catalog = Catalog::builtin().map_err(|e| CommandError::Internal(e.to_string()))?;
    let ctx = ValidationContext {
        recorded_at,
        units: commands.directory().as_ref(),
        catalog,
    };
    let form = parse_and_validate(raw, &ctx).map_err(CommandError::Invalid)?;
    let case_id = CaseId::for_unit_case(&form.reporting_unit, &form.unit_case_number)
        .map_err(|e| CommandError::Rejected(Refusal::new("invalid_case_id", e.to_string())))?;
    Ok((case_id, form))
}

/// Files an already validated form on `case_id` (the unit's own case, or the case a
/// routed public report opened) through the deconfliction orchestration.
pub async fn file_form(
    commands: &Commands,
    case_id: CaseId,
    form: NotificationForm,
    actor: &Actor,
    recorded_at: Timestamp,
) -> Result<FilingReceipt, CommandError> {
    let (_, own_case) = commands.load_case(&case_id).await?;
    // Ask the case first, so a filing the case would refuse records no claim either.
    let own_filing = CaseCommand::FileNotification(FileNotification {
        case_id: case_id.clone(),
        form: form.clone(),
        recorded_at,
    });
    commands.would_accept(&own_case, own_filing.clone())?;

    // The first case to file a tip claims it; a later case of another unit files on its
    // own case too (both stay open) and deconfliction tells both units of each other.
    let claim = filing::claim(&case_id, &form, recorded_at);
    let outcome = match &claim {
        None => ClaimOutcome::FileOnOwnCase,
        Some((tip, command)) => claim_tip(commands, tip, command, actor).await?,
    };
    let outcome = match (outcome, &claim) {
        (ClaimOutcome::LinkToExisting(holder), Some((tip, command))) if holder != case_id => {
            take_over_if_stranded(commands, tip, command, holder, actor, recorded_at).await?
        }
        (ClaimOutcome::LinkToExisting(_), _) => ClaimOutcome::FileOnOwnCase,
        (other, _) => other,
    };
    let claimed_own = claim.is_some() && matches!(outcome, ClaimOutcome::FileOnOwnCase);
    if let Err(err) = commands.execute_case(&case_id, own_filing, actor).await {
        // A claim whose filing failed would block the tip for everyone else.
        if let (true, Some((tip, _))) = (claimed_own, &claim) {
            let release = CyberTipCommand::Release {
                case_id: case_id.clone(),
                reason: "notification could not be filed".into(),
                recorded_at,
            };
            if let Err(e) = commands
                .execute(&commands.cybertips, tip, release, actor)
                .await
            {
                tracing::error!(error = %e, "could not release CyberTip claim after a failed filing");
            }
        }
        return Err(err);
    }
    let deconfliction =
        deconfliction::register_filing(commands, &case_id, &form, actor, recorded_at).await?;
    Ok(FilingReceipt::Filed {
        case_id,
        deconfliction,
    })
}

/// The tip is held by `holder`. If `holder` never filed its notification (a filing
/// that claimed the tip, then failed, and could not release the claim: a database
/// outage between its writes) and the claim is older than `STRANDED_AFTER`, the claim
/// is released on the ledger and this filing claims the tip; a younger one may still
/// be in flight, so this filing is refused as a conflict, to be retried.
async fn take_over_if_stranded(
    commands: &Commands,
    tip: &str,
    command: &CyberTipCommand,
    holder: CaseId,
    actor: &Actor,
    recorded_at: Timestamp,
) -> Result<ClaimOutcome, CommandError> {
    let (_, holder_case) = commands.load_case(&holder).await?;
    let holder_filed = holder_case.notification.is_some();
    if holder_filed {
        return Ok(ClaimOutcome::LinkToExisting(holder));
    }
    let (_, state) = commands.load::<CyberTip>(tip).await?;
    if state.holder.as_ref() != Some(&holder) {
        // Released or claimed again since: decide on the new state.
        return Err(CommandError::Conflict);
    }
    if !state.is_stranded(holder_filed, recorded_at) {
        return Err(CommandError::Conflict);
    }
    let release = CyberTipCommand::Release {
        case_id: holder.clone(),
        reason: format!(
            "stranded claim: case {holder} filed no notification within {} minutes of claiming",
            STRANDED_AFTER.as_secs() / 60
        ),
        recorded_at,
    };
    commands
        .execute(&commands.cybertips, tip, release, actor)
        .await?;
    tracing::warn!(case = %holder, "released a stranded CyberTip claim");
    claim_tip(commands, tip, command, actor).await
}

async fn claim_tip(
    commands: &Commands,
    tip: &str,
    command: &CyberTipCommand,
    actor: &Actor,
) -> Result<ClaimOutcome, CommandError> {
    // Two units claiming at the same instant: one wins, the other conflicts and, on
    // retry, sees the winner's claim and links to it.
    for _ in 0..3 {
        let result = commands
            .cybertips
            .execute_with_metadata(tip, command.clone(), actor.metadata())
            .await;
        match result {
            Ok(()) => return Ok(ClaimOutcome::FileOnOwnCase),
            Err(AggregateError::UserError(e)) => {
                return ClaimOutcome::from_result(Err(&e))
                    .map_err(|e| CommandError::Rejected(Refusal::new(e.rule(), e.to_string())))
            }
            Err(AggregateError::AggregateConflict) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(CommandError::Conflict)
}
