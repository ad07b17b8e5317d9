//! Every command of the domain as a `POST`: units, notifications, complaints, the case
//! commands, operations and public reports. Bodies are the domain's command without the
//! fields the server sets (`recorded_at`, ids from the URL).
//!
//! A handler extracts (caller, target, body: `command_extractor`), authorizes, calls one
//! function of `crate::commands` and answers; the rules live there and in the domain.
//! One generic handler serves each kind of target, instantiated per body type by the
//! route table.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use icac_aggregates::case::{CaseCommand, LogComplaint, ShareDirection};
use icac_aggregates::ids::CaseId;
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::access::auth::{Denied, Permission, Principal};
use crate::commands::filing::{file_notification, validate_notification};
use crate::commands::{erasure, public_report, registration, release};
use crate::http::command_extractor::{
    CommandBody, ExistingOperation, ExistingPublicReport, KnownUnit, VisibleCase,
};
use crate::http::extract::str_field;
use crate::http::problem::{ApiResult, Problem};
use crate::http::requests::{
    CaseBody, DecideReferralBody, ErasePersonalDataBody, LogComplaintBody, OperationBody,
    PlanOperationBody, PublicReportBody, PublicReportIntakeBody, PublishReleaseBody,
    RegisterUnitBody, ShareInformationBody, UnitBody,
};
use crate::http::SharedState;

pub type Created = (StatusCode, Json<Value>);

/// Counts the outcome and answers 201 with the ledger head after the command.
pub(crate) async fn finish(
    state: &SharedState,
    result: Result<Value, Problem>,
) -> ApiResult<Created> {
    state.metrics.command(&result.as_ref().map(|_| ()));
    let mut body = result?;
    // The command has committed: a failure to read the head now (the database just
    // went away) must not turn its answer into an error, so the head is then left out.
    // This process committed the command, so the head it last committed includes it.
    let head = match state.ledger.last_committed_head() {
        Some(head) => Ok(head),
        None => state.ledger.head().await,
    };
    match head {
        Ok(head) => {
            if let Value::Object(m) = &mut body {
                m.insert(
                    "ledger_position".into(),
                    Value::String(head.position.to_string()),
                );
                m.insert("ledger_head".into(), Value::String(head.hash.to_hex()));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "committed; the ledger head is left out of the answer");
        }
    }
    Ok((StatusCode::CREATED, Json(body)))
}

/// Serializes what a command returned as the answer's body.
fn answer<T: serde::Serialize>(value: &T) -> Result<Value, Problem> {
    serde_json::to_value(value).map_err(Problem::internal)
}

// ---------------------------------------------------------------- units

pub async fn register_unit(
    State(state): State<SharedState>,
    principal: Principal,
    CommandBody(body): CommandBody<RegisterUnitBody>,
) -> ApiResult<Created> {
    let ori = body.ori.clone();
    let command = body.command(Timestamp::now());
    let result = registration::register_unit(&state.commands, &ori, command, &principal.actor())
        .await
        .map_err(Problem::from)
        .map(|()| json!({ "ori": ori }));
    finish(&state, result).await
}

/// Any command on a registered unit (`requests::UnitBody`).
pub async fn unit<B>(
    State(state): State<SharedState>,
    principal: Principal,
    KnownUnit(ori): KnownUnit,
    CommandBody(body): CommandBody<B>,
) -> ApiResult<Created>
where
    B: DeserializeOwned + Into<UnitBody>,
{
    let command = body.into().command(Timestamp::now());
    let commands = &state.commands;
    let result = commands
        .execute(&commands.units, ori.as_str(), command, &principal.actor())
        .await
        .map_err(Problem::from)
        .map(|()| json!({ "ori": ori }));
    finish(&state, result).await
}

// ---------------------------------------------------------------- filing

pub async fn file(
    State(state): State<SharedState>,
    principal: Principal,
    CommandBody(form): CommandBody<serde_json::Map<String, Value>>,
) -> ApiResult<Created> {
    let result = async {
        own_unit(&principal, &form)?;
        let form = Value::Object(form);
        let receipt =
            file_notification(&state.commands, &form, &principal.actor(), Timestamp::now()).await?;
        let mut answer = answer(&receipt)?;
        // Where the unit fetches its tlog-proof receipt once a witnessed checkpoint
        // covers the filing.
        let case_id = receipt.case_id();
        if let Value::Object(m) = &mut answer {
            m.insert(
                "receipt".into(),
                Value::String(format!("/v1/cases/{case_id}/receipt")),
            );
        }
        Ok(answer)
    }
    .await;
    finish(&state, result).await
}

/// A unit reporter files only for its own unit; a missing or malformed unit is left to
/// the form's validation, which names it.
fn own_unit(principal: &Principal, form: &serde_json::Map<String, Value>) -> Result<(), Problem> {
    let unit = str_field(form, "reporting_unit");
    match unit.map(icac_aggregates::ids::Ori::parse) {
        Some(Ok(unit)) => principal.require_unit(&unit).map_err(Problem::from),
        Some(Err(_)) if principal.role.is_unit_bound() => Err(Problem::field(
            "/reporting_unit",
            format!(
                "{:?} is not a unit code",
                unit.unwrap_or_default()
                    .chars()
                    .take(20)
                    .collect::<String>()
            ),
        )),
        _ => Ok(()),
    }
}

/// Checks a notification exactly as `POST /v1/notifications` would before filing it —
/// the filing command's own validation (`validate_notification`) — and records
/// nothing: 200 with the case it would be filed on, or the same 422 problem+json,
/// every error with its JSON Pointer.
pub async fn check_notification(
    State(state): State<SharedState>,
    principal: Principal,
    CommandBody(form): CommandBody<serde_json::Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    own_unit(&principal, &form)?;
    let (case_id, _) =
        validate_notification(&state.commands, &Value::Object(form), Timestamp::now())?;
    Ok(Json(json!({ "valid": true, "case_id": case_id })))
}

pub async fn log_complaint(
    State(state): State<SharedState>,
    principal: Principal,
    CommandBody(body): CommandBody<LogComplaintBody>,
) -> ApiResult<Created> {
    let result = async {
        principal.require_unit(&body.reporting_unit)?;
        let case_id = CaseId::for_unit_case(&body.reporting_unit, &body.unit_case_number)
            .map_err(|e| Problem::field("/unit_case_number", e.to_string()))?;
        let command = LogComplaint {
            case_id: case_id.clone(),
            reporting_unit: body.reporting_unit,
            unit_case_number: Some(body.unit_case_number),
            received_on: body.received_on,
            received_time: body.received_time,
            received_offset: body.received_offset,
            source: body.source,
            recorded_at: Timestamp::now(),
        };
        let command = CaseCommand::LogComplaint(command);
        state
            .commands
            .execute_case(&case_id, command, &principal.actor())
            .await?;
        Ok(json!({ "case_id": case_id }))
    }
    .await;
    finish(&state, result).await
}

// ---------------------------------------------------------------- case commands

/// Sharing is the one case command a unit reporter may issue, for its own unit; the
/// route table's permission (checked on extraction) covers the rest.
fn authorize_case_command(principal: &Principal, body: &CaseBody) -> Result<(), Denied> {
    match body {
        CaseBody::Share(ShareInformationBody { direction, .. }) => match direction {
            ShareDirection::UnitToTaskForce { from_unit } => principal.require_unit(from_unit),
            ShareDirection::TaskForceToUnits { .. } => principal.require(Permission::ManageCases),
        },
        _ => Ok(()),
    }
}

async fn run_case_command(
    state: &SharedState,
    principal: &Principal,
    case_id: CaseId,
    body: CaseBody,
) -> ApiResult<Created> {
    let result = async {
        authorize_case_command(principal, &body)?;
        let command = body.command(Timestamp::now());
        state
            .commands
            .execute_case(&case_id, command, &principal.actor())
            .await?;
        Ok(json!({ "case_id": case_id }))
    }
    .await;
    finish(state, result).await
}

/// Any command on a case the caller may see (`requests::CaseBody`).
pub async fn case<B>(
    State(state): State<SharedState>,
    principal: Principal,
    VisibleCase(case_id): VisibleCase,
    CommandBody(body): CommandBody<B>,
) -> ApiResult<Created>
where
    B: DeserializeOwned + Into<CaseBody>,
{
    run_case_command(&state, &principal, case_id, body.into()).await
}

/// The decision on a case's referral `{number}` (from 1).
pub async fn decide_referral(
    State(state): State<SharedState>,
    principal: Principal,
    VisibleCase(case_id): VisibleCase,
    Path((_, number)): Path<(String, String)>,
    CommandBody(body): CommandBody<DecideReferralBody>,
) -> ApiResult<Created> {
    let n = match number.parse::<u32>() {
        Ok(n) if n >= 1 => n,
        _ => {
            return Err(Problem::not_found(format!(
                "no referral {:?}",
                number.chars().take(12).collect::<String>()
            )))
        }
    };
    run_case_command(
        &state,
        &principal,
        case_id,
        CaseBody::DecideReferral(body, n),
    )
    .await
}

/// Lawful erasure of a case's personal values; the decision is the domain's and
/// `commands::erasure`'s, the answer names what was erased (paths, never values).
pub async fn erase_personal_data(
    State(state): State<SharedState>,
    principal: Principal,
    VisibleCase(case_id): VisibleCase,
    CommandBody(body): CommandBody<ErasePersonalDataBody>,
) -> ApiResult<Created> {
    let actor = principal.actor();
    let result = erasure::erase_case(&state.commands, &case_id, &body.reason, &actor)
        .await
        .map_err(Problem::from)
        .and_then(|erased| answer(&erased));
    finish(&state, result).await
}

// ---------------------------------------------------------------- operations

pub async fn plan_operation(
    State(state): State<SharedState>,
    principal: Principal,
    CommandBody(body): CommandBody<PlanOperationBody>,
) -> ApiResult<Created> {
    let id = body.operation_id.clone();
    let command = body.command(Timestamp::now());
    let result = registration::plan_operation(&state.commands, &id, command, &principal.actor())
        .await
        .map_err(Problem::from)
        .map(|()| json!({ "operation_id": id }));
    finish(&state, result).await
}

/// Any command on a planned operation (`requests::OperationBody`).
pub async fn operation<B>(
    State(state): State<SharedState>,
    principal: Principal,
    ExistingOperation(id): ExistingOperation,
    CommandBody(body): CommandBody<B>,
) -> ApiResult<Created>
where
    B: DeserializeOwned + Into<OperationBody>,
{
    let command = body.into().command(Timestamp::now());
    let commands = &state.commands;
    let result = commands
        .execute(
            &commands.operations,
            id.as_str(),
            command,
            &principal.actor(),
        )
        .await
        .map_err(Problem::from)
        .map(|()| json!({ "operation_id": id }));
    finish(&state, result).await
}

// ---------------------------------------------------------------- public reports

/// Hotline intake by staff: a report received by telephone.
pub async fn intake_public_report(
    State(state): State<SharedState>,
    principal: Principal,
    CommandBody(intake): CommandBody<PublicReportIntakeBody>,
) -> ApiResult<Created> {
    let result = public_report::receive(
        &state.commands,
        intake.channel,
        intake.category,
        intake.content,
        &principal.actor(),
        Timestamp::now(),
    )
    .await
    .map_err(Problem::from)
    .map(|receipt| json!({ "receipt_number": receipt }));
    finish(&state, result).await
}

/// Any intake command on a received report (`requests::PublicReportBody`); routing
/// also opens the unit's case (`commands::public_report::run`).
pub async fn public_report<B>(
    State(state): State<SharedState>,
    principal: Principal,
    ExistingPublicReport(receipt): ExistingPublicReport,
    CommandBody(body): CommandBody<B>,
) -> ApiResult<Created>
where
    B: DeserializeOwned + Into<PublicReportBody>,
{
    let command = body.into().command(Timestamp::now());
    let result = public_report::run(&state.commands, &receipt, command, &principal.actor())
        .await
        .map_err(Problem::from)
        .and_then(|outcome| answer(&outcome));
    finish(&state, result).await
}

// ---------------------------------------------------------------- report releases

/// `POST /v1/reports/releases`: refused releases are 422 naming the quarter or figure.
pub async fn publish_release(
    State(state): State<SharedState>,
    principal: Principal,
    CommandBody(body): CommandBody<PublishReleaseBody>,
) -> ApiResult<Created> {
    let threshold = body.suppression_threshold.unwrap_or(10);
    let request = release::ReleaseRequest {
        parameters: icac_projections::report::Parameters {
            from: body.from,
            to: body.to,
            suppression_threshold: threshold,
            protection_width: body.protection_width.unwrap_or(threshold),
            deadline_policy: state.config.deadline_policy,
        },
        position: body.at_position,
        recommendation: None,
        revision: body.revision,
    };
    let key = state.key();
    let actor = principal.actor();
    let result = release::publish(&state.ledger, &key, request, &actor, Timestamp::now())
        .await
        .map_err(Problem::from)
        .and_then(|report| answer(&report));
    finish(&state, result).await
}
