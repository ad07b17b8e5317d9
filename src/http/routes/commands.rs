//! Every command of the domain as a `POST`: units, notifications, complaints, the case
//! commands, operations and public reports. Bodies are the domain's command without the
//! fields the server sets (`recorded_at`, ids from the URL).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use cqrs_es::{AggregateContext, EventStore};
use icac_aggregates::case::{CaseCommand, LogComplaint, ShareDirection, ShareInformation};
use icac_aggregates::ids::{CaseId, OperationId, Ori, ReceiptNumber};
use icac_aggregates::operation::OperationCommand;
use icac_aggregates::public_report::{PublicReport, PublicReportCommand};
use icac_aggregates::services::UnitDirectory;
use icac_aggregates::units::UnitCommand;
use jiff::Timestamp;
use serde_json::{json, Value};

use crate::commands::filing::file_notification;
use crate::commands::Actor;
use crate::event_store::LedgerEventStore;
use crate::http::auth::{Permission, Principal};
use crate::http::extract::{
    decode, decode_variant, json_object, now_value, str_field, with_server_fields,
};
use crate::http::problem::{ApiResult, Problem};
use crate::http::SharedState;
use crate::ledger::record::StreamId;

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
    match state.ledger.head().await {
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
    principal.require(Permission::ManageUnits)?;
    let result = async {
        let body = json_object(&headers, &body)?;
        let body = with_server_fields(body, &[("recorded_at", now_value(Timestamp::now()))])?;
        let command: UnitCommand = decode_variant("register", body)?;
        let UnitCommand::Register(r) = &command else {
            return Err(Problem::internal(
                "register body decoded to another command",
            ));
        };
        let ori = r.ori.clone();
        if state.commands.directory().unit(&ori).is_some() {
            return Err(Problem::new(
                crate::http::problem::Kind::Conflict,
                format!("unit {ori} is already registered"),
            ));
        }
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
    unit_command(state, principal, ori, headers, body, "rename").await
}

pub async fn deactivate_unit(
    State(state): State<SharedState>,
    principal: Principal,
    Path(ori): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    unit_command(state, principal, ori, headers, body, "deactivate").await
}

async fn unit_command(
    state: SharedState,
    principal: Principal,
    ori: String,
    headers: HeaderMap,
    body: Bytes,
    variant: &str,
) -> ApiResult<Created> {
    principal.require(Permission::ManageUnits)?;
    let ori = known_unit(&state, &ori)?;
    let result = async {
        let body = json_object(&headers, &body)?;
        let body = with_server_fields(body, &[("recorded_at", now_value(Timestamp::now()))])?;
        let command: UnitCommand = decode_variant(variant, body)?;
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

// ---------------------------------------------------------------- filing

pub async fn file(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    principal.require(Permission::FileForUnit)?;
    let result = async {
        let form = json_object(&headers, &body)?;
        // A unit reporter files only for its own unit; a missing or malformed unit is
        // left to the form's validation, which names it.
        if let Some(unit) = str_field(&form, "reporting_unit").and_then(|u| Ori::parse(u).ok()) {
            principal.require_unit(&unit)?;
        } else if principal.role.is_unit_bound() {
            if let Some(u) = str_field(&form, "reporting_unit") {
                return Err(Problem::field(
                    "/reporting_unit",
                    format!(
                        "{:?} is not a unit code",
                        u.chars().take(20).collect::<String>()
                    ),
                ));
            }
        }
        let receipt = file_notification(
            &state.commands,
            &Value::Object(form),
            &principal.actor(),
            Timestamp::now(),
        )
        .await?;
        serde_json::to_value(&receipt).map_err(Problem::internal)
    }
    .await;
    finish(&state, result).await
}

pub async fn log_complaint(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    principal.require(Permission::FileForUnit)?;
    let result = async {
        let body = json_object(&headers, &body)?;
        if !body.contains_key("unit_case_number") {
            return Err(Problem::field(
                "/unit_case_number",
                "missing field `unit_case_number` (the unit's own case number names the case)",
            ));
        }
        // The case id derives from the unit and its case number; decode once without it
        // to learn both, then again with it.
        let probe = with_server_fields(
            body.clone(),
            &[
                ("recorded_at", now_value(Timestamp::now())),
                ("case_id", Value::String("CT0000000:probe".into())),
            ],
        )?;
        let probe: LogComplaint = decode(Value::Object(probe), 0)?;
        principal.require_unit(&probe.reporting_unit)?;
        let number = probe
            .unit_case_number
            .clone()
            .ok_or_else(|| Problem::field("/unit_case_number", "is required"))?;
        let case_id = CaseId::for_unit_case(&probe.reporting_unit, &number)
            .map_err(|e| Problem::field("/unit_case_number", e.to_string()))?;
        let command = LogComplaint {
            case_id: case_id.clone(),
            recorded_at: Timestamp::now(),
            ..probe
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

/// Which case command a route runs, and the permission it needs.
#[derive(Debug, Clone, Copy)]
pub enum CaseAction {
    Share,
    Assign,
    ChangeStatus,
    Arrest,
    Referral,
    DecideReferral,
    LinkOperation,
    SetUrgent,
    Correction,
}

impl CaseAction {
    fn variant(self) -> &'static str {
        match self {
            CaseAction::Share => "share_information",
            CaseAction::Assign => "assign_investigator",
            CaseAction::ChangeStatus => "change_status",
            CaseAction::Arrest => "record_arrest",
            CaseAction::Referral => "record_referral",
            CaseAction::DecideReferral => "decide_referral",
            CaseAction::LinkOperation => "link_operation",
            CaseAction::SetUrgent => "set_urgent",
            CaseAction::Correction => "record_correction",
        }
    }
}

async fn case_command(
    state: SharedState,
    principal: Principal,
    raw_case: String,
    headers: HeaderMap,
    body: Bytes,
    action: CaseAction,
    extra: Vec<(&'static str, Value)>,
) -> ApiResult<Created> {
    // Sharing from a unit is the one case command a unit reporter may issue.
    let needs = match action {
        CaseAction::Share => Permission::ShareFromUnit,
        _ => Permission::ManageCases,
    };
    principal.require(needs)?;
    let case_id = visible_case(&state, &principal, &raw_case).await?;
    let result = async {
        let body = json_object(&headers, &body)?;
        let mut fields = vec![("recorded_at", now_value(Timestamp::now()))];
        fields.extend(extra);
        let body = with_server_fields(body, &fields)?;
        let command: CaseCommand = decode_variant(action.variant(), body)?;
        if let CaseCommand::ShareInformation(ShareInformation { direction, .. }) = &command {
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
            .execute_case(&case_id, command, &principal.actor())
            .await?;
        Ok(json!({ "case_id": case_id }))
    }
    .await;
    finish(&state, result).await
}

macro_rules! case_route {
    ($name:ident, $action:expr) => {
        pub async fn $name(
            State(state): State<SharedState>,
            principal: Principal,
            Path(case_id): Path<String>,
            headers: HeaderMap,
            body: Bytes,
        ) -> ApiResult<Created> {
            case_command(
                state,
                principal,
                case_id,
                headers,
                body,
                $action,
                Vec::new(),
            )
            .await
        }
    };
}

case_route!(share, CaseAction::Share);
case_route!(assign, CaseAction::Assign);
case_route!(change_status, CaseAction::ChangeStatus);
case_route!(record_arrest, CaseAction::Arrest);
case_route!(record_referral, CaseAction::Referral);
case_route!(link_operation, CaseAction::LinkOperation);
case_route!(set_urgent, CaseAction::SetUrgent);
case_route!(record_correction, CaseAction::Correction);

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
    case_command(
        state,
        principal,
        case_id,
        headers,
        body,
        CaseAction::DecideReferral,
        vec![("referral_number", json!(n))],
    )
    .await
}

// ---------------------------------------------------------------- operations

pub async fn plan_operation(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    principal.require(Permission::ManageOperations)?;
    let result = async {
        let body = json_object(&headers, &body)?;
        let body = with_server_fields(body, &[("recorded_at", now_value(Timestamp::now()))])?;
        let command: OperationCommand = decode_variant("plan", body)?;
        let OperationCommand::Plan(p) = &command else {
            return Err(Problem::internal("plan body decoded to another command"));
        };
        let id = p.operation_id.clone();
        if stream_exists(&state, "operation", id.as_str()).await? {
            return Err(Problem::new(
                crate::http::problem::Kind::Conflict,
                format!("operation {id} is already planned"),
            ));
        }
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

async fn operation_command(
    state: SharedState,
    principal: Principal,
    raw_id: String,
    headers: HeaderMap,
    body: Bytes,
    variant: &str,
) -> ApiResult<Created> {
    principal.require(Permission::ManageOperations)?;
    let not_found = || {
        Problem::not_found(format!(
            "no operation {:?}",
            raw_id.chars().take(64).collect::<String>()
        ))
    };
    let id = OperationId::parse(raw_id.clone()).map_err(|_| not_found())?;
    if !stream_exists(&state, "operation", id.as_str()).await? {
        return Err(not_found());
    }
    let result = async {
        let body = json_object(&headers, &body)?;
        let body = with_server_fields(body, &[("recorded_at", now_value(Timestamp::now()))])?;
        let command: OperationCommand = decode_variant(variant, body)?;
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

pub async fn conduct_operation(
    State(state): State<SharedState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    operation_command(state, principal, id, headers, body, "record_conduct").await
}

pub async fn conclude_operation(
    State(state): State<SharedState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    operation_command(state, principal, id, headers, body, "conclude").await
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
    actor: &Actor,
) -> ApiResult<ReceiptNumber> {
    let receipt = new_receipt(channel)?;
    let command = PublicReportCommand::Receive {
        receipt_number: receipt.clone(),
        channel,
        category,
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
    principal.require(Permission::HandlePublicReports)?;
    let result = async {
        let body = json_object(&headers, &body)?;
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Intake {
            channel: icac_aggregates::public_report::Channel,
            #[serde(default)]
            category: Option<icac_aggregates::catalog::IncidentType>,
        }
        let intake: Intake = decode(Value::Object(body), 0)?;
        let receipt =
            receive_public_report(&state, intake.channel, intake.category, &principal.actor())
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
    headers: HeaderMap,
    body: Bytes,
    variant: &str,
) -> ApiResult<Created> {
    principal.require(Permission::HandlePublicReports)?;
    let not_found = || {
        Problem::not_found(format!(
            "no public report {:?}",
            raw.chars().take(32).collect::<String>()
        ))
    };
    let receipt = ReceiptNumber::parse(raw.clone()).map_err(|_| not_found())?;
    if !stream_exists(&state, "public_report", receipt.as_str()).await? {
        return Err(not_found());
    }
    let result = async {
        let body = json_object(&headers, &body)?;
        let now = Timestamp::now();
        let body = with_server_fields(body, &[("recorded_at", now_value(now))])?;
        let command: PublicReportCommand = decode_variant(variant, body)?;
        let routed = matches!(command, PublicReportCommand::RouteToUnit { .. });
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
    .await;
    finish(&state, result).await
}

pub async fn triage_public_report(
    State(state): State<SharedState>,
    principal: Principal,
    Path(receipt): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    public_report_command(state, principal, receipt, headers, body, "triage").await
}

pub async fn route_public_report(
    State(state): State<SharedState>,
    principal: Principal,
    Path(receipt): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    public_report_command(state, principal, receipt, headers, body, "route_to_unit").await
}

pub async fn close_public_report(
    State(state): State<SharedState>,
    principal: Principal,
    Path(receipt): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Created> {
    public_report_command(state, principal, receipt, headers, body, "close").await
}
