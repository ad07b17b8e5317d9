//! Every command of the domain as a `POST`: units, notifications, complaints, the case
//! commands, operations and public reports. Bodies are the domain's command without the
//! fields the server sets (`recorded_at`, ids from the URL).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use cqrs_es::{AggregateContext, EventStore};
use icac_aggregates::case::{CaseCommand, LogComplaint, ShareDirection};
use icac_aggregates::ids::{CaseId, IdError, OperationId, Ori, ReceiptNumber};
use icac_aggregates::public_report::{PublicReport, PublicReportCommand};
use icac_aggregates::services::UnitDirectory;
use icac_aggregates::units::UnitCommand;
use jiff::Timestamp;
use serde_json::{json, Value};

use crate::commands::filing::{file_notification, validate_notification};
use crate::commands::Actor;
use crate::event_store::LedgerEventStore;
use crate::http::auth::{Permission, Principal};
use crate::http::extract::{json_object, parse_body, str_field};
use crate::http::problem::{ApiResult, Kind, Problem};
use crate::http::requests::{
    CaseBody, DeactivateUnitBody, LogComplaintBody, OperationBody, PlanOperationBody,
    PublicReportBody, PublicReportIntakeBody, RegisterUnitBody, RenameUnitBody,
    ShareInformationBody,
};
use crate::http::SharedState;
use icac_format::record::StreamId;

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
            tracing::warn!(error = %e, "committed; the ledger head is left out of the answer")
        }
    }
    Ok((StatusCode::CREATED, Json(body)))
}

async fn stream_exists(state: &SharedState, aggregate_type: &str, id: &str) -> ApiResult<bool> {
    let events = state
        .ledger
        .read_stream(&StreamId::new(aggregate_type, id))
        .await
        .map_err(Problem::internal)?;
    Ok(!events.is_empty())
}

/// Parses the id of an operation or public report from the URL and checks it exists;
/// a malformed or unknown id is a 404 either way.
async fn existing<T>(
    state: &SharedState,
    aggregate_type: &str,
    raw: &str,
    parse: fn(String) -> Result<T, IdError>,
    key: fn(&T) -> &str,
) -> ApiResult<T> {
    let not_found = || {
        Problem::not_found(format!(
            "no {} {:?}",
            aggregate_type.replace('_', " "),
            raw.chars().take(64).collect::<String>()
        ))
    };
    let id = parse(raw.to_owned()).map_err(|_| not_found())?;
    if !stream_exists(state, aggregate_type, key(&id)).await? {
        return Err(not_found());
    }
    Ok(id)
}

/// Parses a case id from the URL and checks the caller may see it and that it exists.
/// A case of another unit is reported as not found, so ids cannot be probed.
pub(crate) async fn visible_case(
    state: &SharedState,
    principal: &Principal,
    raw: &str,
) -> ApiResult<CaseId> {
    let not_found = || {
        Problem::not_found(format!(
            "no case {:?}",
            raw.chars().take(80).collect::<String>()
        ))
    };
    let case_id = CaseId::parse(raw).map_err(|_| not_found())?;
    if !principal.may_see_case(&case_id) || !stream_exists(state, "case", case_id.as_str()).await? {
        return Err(not_found());
    }
    Ok(case_id)
}

fn parse_ori(raw: &str) -> ApiResult<Ori> {
    Ori::parse(raw).map_err(|_| {
        Problem::not_found(format!(
            "no unit {:?}",
            raw.chars().take(20).collect::<String>()
        ))
    })
}

fn known_unit(state: &SharedState, raw: &str) -> ApiResult<Ori> {
    let ori = parse_ori(raw)?;
    if state.commands.directory().unit(&ori).is_none() {
        return Err(Problem::not_found(format!("no unit {ori}")));
    }
    Ok(ori)
}

// ---------------------------------------------------------------- units

pub async fn register_unit(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    let result = async {
        let body: RegisterUnitBody = parse_body(&headers, &body)?;
        let ori = body.ori.clone();
        if state.commands.directory().unit(&ori).is_some() {
            return Err(Problem::new(
                Kind::Conflict,
                format!("unit {ori} is already registered"),
            ));
        }
        let command = body.command(Timestamp::now());
        state
            .commands
            .execute(
                &state.commands.units,
                ori.as_str(),
                command,
                &principal.actor(),
            )
            .await?;
        Ok(json!({ "ori": ori }))
    }
    .await;
    finish(&state, result).await
}

pub async fn rename_unit(
    State(state): State<SharedState>,
    principal: Principal,
    Path(ori): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    let ori = known_unit(&state, &ori)?;
    let result = async {
        let body: RenameUnitBody = parse_body(&headers, &body)?;
        let command = UnitCommand::Rename {
            name: body.name,
            recorded_at: Timestamp::now(),
        };
        unit_command(&state, &principal, &ori, command).await
    }
    .await;
    finish(&state, result).await
}

pub async fn deactivate_unit(
    State(state): State<SharedState>,
    principal: Principal,
    Path(ori): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    let ori = known_unit(&state, &ori)?;
    let result = async {
        let body: DeactivateUnitBody = parse_body(&headers, &body)?;
        let command = UnitCommand::Deactivate {
            reason: body.reason,
            recorded_at: Timestamp::now(),
        };
        unit_command(&state, &principal, &ori, command).await
    }
    .await;
    finish(&state, result).await
}

async fn unit_command(
    state: &SharedState,
    principal: &Principal,
    ori: &Ori,
    command: UnitCommand,
) -> ApiResult<Value> {
    state
        .commands
        .execute(
            &state.commands.units,
            ori.as_str(),
            command,
            &principal.actor(),
        )
        .await?;
    Ok(json!({ "ori": ori }))
}

// ---------------------------------------------------------------- filing

pub async fn file(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    let result = async {
        let form = json_object(&headers, &body)?;
        own_unit(&principal, &form)?;
        let receipt = file_notification(
            &state.commands,
            &Value::Object(form),
            &principal.actor(),
            Timestamp::now(),
        )
        .await?;
        let mut answer = serde_json::to_value(&receipt).map_err(Problem::internal)?;
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
    if let Some(unit) = str_field(form, "reporting_unit").and_then(|u| Ori::parse(u).ok()) {
        principal.require_unit(&unit)?;
    } else if principal.role.is_unit_bound() {
        if let Some(u) = str_field(form, "reporting_unit") {
            return Err(Problem::field(
                "/reporting_unit",
                format!(
                    "{:?} is not a unit code",
                    u.chars().take(20).collect::<String>()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks a notification exactly as `POST /v1/notifications` would before filing it —
/// the filing command's own validation (`validate_notification`) — and records
/// nothing: 200 with the case it would be filed on, or the same 422 problem+json,
/// every error with its JSON Pointer.
pub async fn check_notification(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let form = json_object(&headers, &body)?;
    own_unit(&principal, &form)?;
    let (case_id, _) =
        validate_notification(&state.commands, &Value::Object(form), Timestamp::now())?;
    Ok(Json(json!({ "valid": true, "case_id": case_id })))
}

pub async fn log_complaint(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    let result = async {
        let body: LogComplaintBody = parse_body(&headers, &body)?;
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
        state
            .commands
            .execute_case(
                &case_id,
                CaseCommand::LogComplaint(command),
                &principal.actor(),
            )
            .await?;
        Ok(json!({ "case_id": case_id }))
    }
    .await;
    finish(&state, result).await
}

// ---------------------------------------------------------------- case commands

/// Runs one case command on a case the caller may see. The body is parsed only once
/// the case is known to exist, so ids cannot be probed through body errors.
async fn case_command(
    state: SharedState,
    principal: Principal,
    raw_case: String,
    parse: impl FnOnce() -> ApiResult<CaseBody>,
) -> ApiResult<Created> {
    let case_id = visible_case(&state, &principal, &raw_case).await?;
    let result = async {
        let body = parse()?;
        // Sharing is the one case command a unit reporter may issue, for its own unit;
        // the route table's permission (checked on extraction) covers the rest.
        if let CaseBody::Share(ShareInformationBody { direction, .. }) = &body {
            match direction {
                ShareDirection::UnitToTaskForce { from_unit } => {
                    principal.require_unit(from_unit)?
                }
                ShareDirection::TaskForceToUnits { .. } => {
                    principal.require(Permission::ManageCases)?
                }
            }
        }
        state
            .commands
            .execute_case(&case_id, body.command(Timestamp::now()), &principal.actor())
            .await?;
        Ok(json!({ "case_id": case_id }))
    }
    .await;
    finish(&state, result).await
}

/// Lawful erasure of a case's personal values; the decision is the domain's and
/// `commands::erasure`'s, the answer names what was erased (paths, never values).
pub async fn erase_personal_data(
    State(state): State<SharedState>,
    principal: Principal,
    Path(raw_case): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    use crate::commands::erasure::{erase_case, ErasureError};
    let case_id = visible_case(&state, &principal, &raw_case).await?;
    let result = async {
        let body: crate::http::requests::ErasePersonalDataBody = parse_body(&headers, &body)?;
        let erased = erase_case(&state.commands, &case_id, &body.reason, &principal.actor())
            .await
            .map_err(|e| match e {
                ErasureError::UnknownCase(_) | ErasureError::UnknownValue => {
                    Problem::not_found(e.to_string())
                }
                ErasureError::NothingToErase(_) => Problem::new(Kind::Conflict, e.to_string()),
                ErasureError::Command(c) => Problem::from(c),
                ErasureError::Storage(s) => Problem::internal(s),
            })?;
        serde_json::to_value(&erased).map_err(Problem::internal)
    }
    .await;
    finish(&state, result).await
}

/// A `POST` on an existing case, operation or public report: `$run` checks the thing
/// exists and the caller may act on it, then parses the body as `$body` and runs it.
macro_rules! command_route {
    ($name:ident, $run:ident, $body:path) => {
        pub async fn $name(
            State(state): State<SharedState>,
            principal: Principal,
            Path(id): Path<String>,
            headers: HeaderMap,
            body: Bytes,
        ) -> ApiResult<Created> {
            $run(state, principal, id, || {
                parse_body(&headers, &body).map($body)
            })
            .await
        }
    };
}

command_route!(share, case_command, CaseBody::Share);
command_route!(assign, case_command, CaseBody::Assign);
command_route!(change_status, case_command, CaseBody::ChangeStatus);
command_route!(record_arrest, case_command, CaseBody::Arrest);
command_route!(record_referral, case_command, CaseBody::Referral);
command_route!(link_operation, case_command, CaseBody::LinkOperation);
command_route!(set_urgent, case_command, CaseBody::SetUrgent);
command_route!(record_correction, case_command, CaseBody::Correction);
command_route!(add_victim, case_command, CaseBody::AddVictim);
command_route!(set_sharing_cadence, case_command, CaseBody::SharingCadence);
command_route!(identify_victim, case_command, CaseBody::IdentifyVictim);
command_route!(record_outcome, case_command, CaseBody::Outcome);

pub async fn decide_referral(
    State(state): State<SharedState>,
    principal: Principal,
    Path((case_id, number)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    let n: u32 = match number.parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            return Err(Problem::not_found(format!(
                "no referral {:?}",
                number.chars().take(12).collect::<String>()
            )))
        }
    };
    case_command(state, principal, case_id, || {
        parse_body(&headers, &body).map(|b| CaseBody::DecideReferral(b, n))
    })
    .await
}

// ---------------------------------------------------------------- operations

pub async fn plan_operation(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    let result = async {
        let body: PlanOperationBody = parse_body(&headers, &body)?;
        let id = body.operation_id.clone();
        if stream_exists(&state, "operation", id.as_str()).await? {
            return Err(Problem::new(
                Kind::Conflict,
                format!("operation {id} is already planned"),
            ));
        }
        state
            .commands
            .execute(
                &state.commands.operations,
                id.as_str(),
                body.command(Timestamp::now()),
                &principal.actor(),
            )
            .await?;
        Ok(json!({ "operation_id": id }))
    }
    .await;
    finish(&state, result).await
}

async fn operation_command(
    state: SharedState,
    principal: Principal,
    raw_id: String,
    parse: impl FnOnce() -> ApiResult<OperationBody>,
) -> ApiResult<Created> {
    let id = existing(
        &state,
        "operation",
        &raw_id,
        OperationId::parse,
        OperationId::as_str,
    )
    .await?;
    let result = async {
        let command = parse()?.command(Timestamp::now());
        state
            .commands
            .execute(
                &state.commands.operations,
                id.as_str(),
                command,
                &principal.actor(),
            )
            .await?;
        Ok(json!({ "operation_id": id }))
    }
    .await;
    finish(&state, result).await
}

// ---------------------------------------------------------------- public reports

/// A fresh receipt number: `WEB-2025-` or `HOT-2025-` plus ten random characters, so
/// receipts cannot be guessed or counted from outside.
pub fn new_receipt(channel: icac_aggregates::public_report::Channel) -> ApiResult<ReceiptNumber> {
    use rand_core::{OsRng, RngCore};
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut b = [0u8; 10];
    OsRng.fill_bytes(&mut b);
    let tail: String = b
        .iter()
        .map(|x| ALPHABET[(*x as usize) % ALPHABET.len()] as char)
        .collect();
    let prefix = match channel {
        icac_aggregates::public_report::Channel::WebSite => "WEB",
        icac_aggregates::public_report::Channel::Hotline => "HOT",
    };
    let year = icac_aggregates::local_time::ct_date(Timestamp::now()).year();
    ReceiptNumber::parse(format!("{prefix}-{year}-{tail}")).map_err(Problem::internal)
}

/// Records a received public report under a fresh receipt; used by the API (hotline
/// intake by staff) and the public page.
pub async fn receive_public_report(
    state: &SharedState,
    channel: icac_aggregates::public_report::Channel,
    category: Option<icac_aggregates::catalog::IncidentType>,
    content: Option<icac_aggregates::public_report::ReportContent>,
    actor: &Actor,
) -> ApiResult<ReceiptNumber> {
    let receipt = new_receipt(channel)?;
    let command = PublicReportCommand::Receive {
        receipt_number: receipt.clone(),
        channel,
        category,
        content,
        recorded_at: Timestamp::now(),
    };
    state
        .commands
        .execute(
            &state.commands.public_reports,
            receipt.as_str(),
            command,
            actor,
        )
        .await?;
    Ok(receipt)
}

pub async fn intake_public_report(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    let result = async {
        let intake: PublicReportIntakeBody = parse_body(&headers, &body)?;
        let receipt = receive_public_report(
            &state,
            intake.channel,
            intake.category,
            intake.content,
            &principal.actor(),
        )
        .await?;
        Ok(json!({ "receipt_number": receipt }))
    }
    .await;
    finish(&state, result).await
}

async fn public_report_command(
    state: SharedState,
    principal: Principal,
    raw: String,
    parse: impl FnOnce() -> ApiResult<PublicReportBody>,
) -> ApiResult<Created> {
    let receipt = existing_public_report(&state, &raw).await?;
    let result = async {
        let command = parse()?.command(Timestamp::now());
        run_public_report(&state, &principal, &receipt, command).await
    }
    .await;
    finish(&state, result).await
}

/// A public report's receipt from the URL, if the report exists (else a 404).
pub(crate) async fn existing_public_report(
    state: &SharedState,
    raw: &str,
) -> ApiResult<ReceiptNumber> {
    existing(
        state,
        "public_report",
        raw,
        ReceiptNumber::parse,
        ReceiptNumber::as_str,
    )
    .await
}

/// Runs one intake command on a public report; routing also logs the complaint on the
/// unit's case, which starts its clock. Shared by the API and the intake page.
pub(crate) async fn run_public_report(
    state: &SharedState,
    principal: &Principal,
    receipt: &ReceiptNumber,
    command: PublicReportCommand,
) -> ApiResult<Value> {
    let routed = matches!(command, PublicReportCommand::RouteToUnit { .. });
    let now = command_time(&command);
    let actor = principal.actor();
    state
        .commands
        .execute(
            &state.commands.public_reports,
            receipt.as_str(),
            command,
            &actor,
        )
        .await?;
    let mut out = json!({ "receipt_number": receipt });
    if routed {
        // Routing starts the unit's clock: log the complaint on the unit's case.
        let store = LedgerEventStore::<PublicReport>::new(state.ledger.clone());
        let mut context = store
            .load_aggregate(receipt.as_str())
            .await
            .map_err(|e| Problem::internal(e.to_string()))?;
        let report = context.aggregate();
        if let Some(complaint) = report.routing_complaint(now).map_err(Problem::internal)? {
            let case_id = complaint.case_id.clone();
            state
                .commands
                .execute_case(&case_id, CaseCommand::LogComplaint(complaint), &actor)
                .await?;
            out["case_id"] = json!(case_id);
        }
    }
    Ok(out)
}

fn command_time(command: &PublicReportCommand) -> Timestamp {
    match command {
        PublicReportCommand::Receive { recorded_at, .. }
        | PublicReportCommand::Triage { recorded_at, .. }
        | PublicReportCommand::RouteToUnit { recorded_at, .. }
        | PublicReportCommand::Close { recorded_at, .. } => *recorded_at,
    }
}

command_route!(conduct_operation, operation_command, OperationBody::Conduct);
command_route!(
    conclude_operation,
    operation_command,
    OperationBody::Conclude
);
command_route!(
    triage_public_report,
    public_report_command,
    PublicReportBody::Triage
);
command_route!(
    route_public_report,
    public_report_command,
    PublicReportBody::Route
);
command_route!(
    close_public_report,
    public_report_command,
    PublicReportBody::Close
);

// ---------------------------------------------------------------- report releases

/// `POST /v1/reports/releases`: refused releases are 422 naming the quarter or figure.
pub async fn publish_release(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    use crate::commands::release::{self, ReleaseRequest};
    let result = async {
        let body: crate::http::requests::PublishReleaseBody = parse_body(&headers, &body)?;
        let threshold = body.suppression_threshold.unwrap_or(10);
        let request = ReleaseRequest {
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
        let report = release::publish(
            &state.ledger,
            &key,
            request,
            &principal.actor(),
            Timestamp::now(),
        )
        .await
        .map_err(|e| {
            if e.is_refusal() {
                Problem::new(Kind::Rejected, e.to_string())
            } else {
                Problem::internal(e)
            }
        })?;
        serde_json::to_value(&report).map_err(Problem::internal)
    }
    .await;
    finish(&state, result).await
}
