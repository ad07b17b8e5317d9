//! Case actions from the case page, for the roles allowed to take them: share
//! information (both directions), assign an investigator, change the status (only the
//! moves valid now are offered), record an arrest with charges from the catalog, a
//! referral, link an operation, set the urgent flag, correct a field. Each form carries
//! the case version the page showed; the decision is the domain's, through
//! `commands::case_at` (a stale page is told to reload, nothing is lost).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use icac_aggregates::case::status::next_statuses;
use icac_aggregates::case::{
    CaseStatus, Disposition, InvestigatorRole, ReferralTarget, ShareCategory, UrgencyReason,
};
use icac_aggregates::catalog::{Catalog, IncidentType, Medium};
use icac_projections::case_view::CaseView;
use jiff::Timestamp;
use serde_json::{json, Value};

use super::cases::{render_case, CaseShown};
use super::form_spec::Posted;
use super::labels::{code, words};
use super::staff::{error_page, require, StaffForm};
use super::timeline::TimelineEntry;
use crate::access::auth::{Permission, Principal};
use crate::commands::case_at::{execute_case_at, CaseAtError};
use crate::commands::CommandError;
use crate::http::command_extractor::visible_case;
use crate::http::extract::decode;
use crate::http::problem::Problem;
use crate::http::requests::CaseBody;
use crate::http::SharedState;

type Options = Vec<(String, String)>;

/// Everything the case page's action forms need.
pub struct ActionsView {
    pub csrf: String,
    pub version: u64,
    /// The unit that may share to the Task Force from this page (the case's own unit,
    /// when the principal may act for it).
    pub share_from: Option<(String, String)>,
    pub manage: bool,
    pub units: Options,
    pub share_categories: Options,
    pub next_statuses: Options,
    pub dispositions: Options,
    pub roles: Options,
    pub statutes: Options,
    pub referral_targets: Options,
    pub urgency_reasons: Options,
    pub operations: Options,
    pub events: Vec<(u64, String)>,
    pub correction_fields: Options,
    pub incident_types: Options,
    pub media: Options,
    /// (action, messages) of the form that was just refused.
    pub error: Option<(String, Vec<String>)>,
}

impl ActionsView {
    /// The refused action's messages, for the form named `action`.
    pub fn errors_for(&self, action: &str) -> Vec<String> {
        match &self.error {
            Some((a, m)) if a == action => m.clone(),
            _ => Vec::new(),
        }
    }
}

fn options<T: serde::Serialize>(all: &[T]) -> Options {
    all.iter().map(|v| (code(v), words(v))).collect()
}

/// The action forms for `p` on the case `v` at `version`, or `None` for a role that may
/// take none.
pub async fn view(
    state: &SharedState,
    p: &Principal,
    csrf: &str,
    v: &CaseView,
    version: u64,
    timeline: &[TimelineEntry],
    error: Option<(String, Vec<String>)>,
) -> Result<Option<ActionsView>, Problem> {
    let manage = p.role.allows(Permission::ManageCases);
    let share_from = (p.role.allows(Permission::ShareFromUnit)
        && p.require_unit(&v.reporting_unit).is_ok())
    .then(|| {
        (
            v.reporting_unit.to_string(),
            super::dashboard::unit_name(state, &v.reporting_unit),
        )
    });
    if !manage && share_from.is_none() {
        return Ok(None);
    }
    let catalog = Catalog::builtin().map_err(Problem::internal)?;
    let mut units: Options = state
        .projections
        .units()
        .await
        .map_err(Problem::internal)?
        .into_iter()
        .filter(|u| u.active)
        .map(|u| (u.ori.to_string(), format!("{} ({})", u.name, u.ori)))
        .collect();
    units.sort_by(|a, b| a.1.cmp(&b.1));
    let operations = if manage {
        state
            .projections
            .operations()
            .await
            .map_err(Problem::internal)?
            .into_iter()
            .map(|o| {
                (
                    o.operation_id.to_string(),
                    format!("{} ({})", o.name, o.operation_id),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    let status = v.status.unwrap_or(CaseStatus::Received);
    Ok(Some(ActionsView {
        csrf: csrf.to_owned(),
        version,
        share_from,
        manage,
        units,
        share_categories: options(&[
            ShareCategory::CaseUpdate,
            ShareCategory::Intelligence,
            ShareCategory::SubjectInformation,
            ShareCategory::TechnicalAssistance,
            ShareCategory::ForensicResults,
            ShareCategory::Deconfliction,
            ShareCategory::Other,
        ]),
        next_statuses: if v.status.is_some() {
            options(&next_statuses(status).collect::<Vec<_>>())
        } else {
            Vec::new()
        },
        dispositions: options(&Disposition::ALL),
        roles: options(&[
            InvestigatorRole::Lead,
            InvestigatorRole::Support,
            InvestigatorRole::Forensic,
            InvestigatorRole::Undercover,
        ]),
        statutes: catalog
            .statutes
            .iter()
            .map(|s| (s.code.to_string(), format!("{} — {}", s.code, s.title)))
            .collect(),
        referral_targets: options(&[
            ReferralTarget::FederalProsecutors,
            ReferralTarget::FederalAgency,
            ReferralTarget::OutOfStateAgency,
            ReferralTarget::OtherConnecticutAgency,
        ]),
        urgency_reasons: options(&[
            UrgencyReason::ChildIdentifiable,
            UrgencyReason::ChildInImminentDanger,
        ]),
        operations,
        events: timeline
            .iter()
            .filter(|e| e.corrects.is_none())
            .map(|e| (e.position, format!("Position {}: {}", e.position, e.title)))
            .collect(),
        correction_fields: vec![
            ("received_on".into(), "Date received".into()),
            ("unit_case_number".into(), "Unit case number".into()),
            ("incident_type".into(), "Incident type".into()),
            ("medium".into(), "Medium".into()),
        ],
        incident_types: options(&IncidentType::ALL),
        media: options(&Medium::ALL),
        error,
    }))
}

/// Text as JSON, or nothing when empty (so the body names the missing field).
fn text(p: &Posted, name: &str) -> Value {
    match p.get(name) {
        "" => Value::Null,
        v => Value::String(v.to_owned()),
    }
}

fn strip_nulls(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.retain(|_, x| !x.is_null());
        for x in m.values_mut() {
            *x = strip_nulls(std::mem::take(x));
        }
    }
    v
}

/// The API body for `action` from the posted fields, decoded by the API's own types
/// (the same messages as the API), with the permission the action needs checked.
fn body(action: &str, p: &Posted, who: &Principal) -> Result<CaseBody, Problem> {
    let manage = || who.require(Permission::ManageCases);
    let value = match action {
        "share" => {
            let direction = match p.get("direction") {
                "to_units" => {
                    manage()?;
                    json!({ "direction": "task_force_to_units", "to_units": p.all("to_units") })
                }
                _ => {
                    let from = p.get("from_unit");
                    if let Ok(ori) = icac_aggregates::ids::Ori::parse(from) {
                        who.require_unit(&ori)?;
                    }
                    json!({ "direction": "unit_to_task_force", "from_unit": from })
                }
            };
            json!({ "direction": direction, "category": text(p, "category"), "summary": text(p, "summary") })
        }
        "assign" => {
            manage()?;
            json!({ "investigator": { "name": text(p, "name"), "badge": text(p, "badge"), "agency": text(p, "agency") }, "role": text(p, "role") })
        }
        "status" => {
            manage()?;
            json!({ "to": text(p, "to"), "disposition": text(p, "disposition"), "note": text(p, "note") })
        }
        "arrest" => {
            manage()?;
            let charges: Vec<Value> = (0..3)
                .filter(|i| !p.get(&format!("statute{i}")).is_empty())
                .map(|i| {
                    let counts = p.get(&format!("counts{i}"));
                    json!({ "statute": p.get(&format!("statute{i}")), "counts": counts.parse::<u64>().map_or_else(|_| Value::String(counts.to_owned()), Value::from) })
                })
                .collect();
            json!({ "arrested_on": text(p, "arrested_on"), "arresting_unit": text(p, "arresting_unit"), "charges": charges })
        }
        "referral" => {
            manage()?;
            json!({ "target": text(p, "target"), "agency_name": text(p, "agency_name"), "referred_on": text(p, "referred_on") })
        }
        "operation" => {
            manage()?;
            json!({ "operation_id": text(p, "operation_id") })
        }
        "urgent" => {
            manage()?;
            json!({ "reason": text(p, "reason") })
        }
        "correction" => {
            manage()?;
            let field = p.get("field");
            let key = match field {
                "received_on" => "date",
                "unit_case_number" => "value",
                "incident_type" => "incident_type",
                _ => "medium",
            };
            let corrects = text(p, "corrects");
            json!({ "corrects": corrects, "changes": [{ "field": field, key: text(p, "new_value") }], "reason": text(p, "reason") })
        }
        _ => {
            return Err(Problem::not_found(format!(
                "no case action {:?}",
                action.chars().take(20).collect::<String>()
            )))
        }
    };
    let value = strip_nulls(value);
    Ok(match action {
        "share" => CaseBody::Share(decode(value)?),
        "assign" => CaseBody::Assign(decode(value)?),
        "status" => CaseBody::ChangeStatus(decode(value)?),
        "arrest" => CaseBody::Arrest(decode(value)?),
        "referral" => CaseBody::Referral(decode(value)?),
        "operation" => CaseBody::LinkOperation(decode(value)?),
        "urgent" => CaseBody::SetUrgent(decode(value)?),
        _ => CaseBody::Correction(decode(value)?),
    })
}

/// The notice after an action was recorded.
pub fn done_notice(action: &str) -> Option<String> {
    let what = match action {
        "share" => "The information share was recorded.",
        "assign" => "The investigator was assigned.",
        "status" => "The status was changed.",
        "arrest" => "The arrest was recorded.",
        "referral" => "The referral was recorded.",
        "operation" => "The case was linked to the operation.",
        "urgent" => "The case was marked urgent.",
        "correction" => {
            "The correction was recorded; it is shown beside the original in the timeline."
        }
        _ => return None,
    };
    Some(what.to_owned())
}

fn messages(p: &Problem) -> Vec<String> {
    if p.errors.is_empty() {
        vec![p.detail.clone()]
    } else {
        p.errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    super::form_spec::pointer_words(&e.pointer),
                    e.message
                )
            })
            .collect()
    }
}

pub async fn act(
    State(state): State<SharedState>,
    Path((raw, action)): Path<(String, String)>,
    StaffForm(p, csrf, pairs): StaffForm,
) -> Response {
    if let Err(r) = require(&p, Permission::ReadCases) {
        return r;
    }
    let case_id = match visible_case(&state, &p, &raw).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let posted = Posted(pairs);
    let refused = |status: StatusCode, problem: Problem| {
        let shown = CaseShown {
            as_of: None,
            notice: None,
            action_error: Some((action.clone(), messages(&problem))),
        };
        (status, shown)
    };
    let Ok(expected) = posted.get("version").parse::<u64>() else {
        let (status, shown) = refused(
            StatusCode::BAD_REQUEST,
            Problem::field("/version", "the form has no case version; reload the page"),
        );
        return render_case(&state, &p, &csrf, &case_id, shown, status).await;
    };
    let command = match body(&action, &posted, &p) {
        Ok(b) => b.command(Timestamp::now()),
        Err(e) if e.status == 404 || e.status == 403 => return error_page(&e),
        Err(e) => {
            let (status, shown) = refused(StatusCode::UNPROCESSABLE_ENTITY, e);
            return render_case(&state, &p, &csrf, &case_id, shown, status).await;
        }
    };
    let result = execute_case_at(&state.commands, &case_id, expected, command, &p.actor()).await;
    let failure: Option<Problem> = match &result {
        Ok(()) => None,
        Err(CaseAtError::Stale { .. }) => Some(Problem::from(CommandError::Conflict)),
        Err(CaseAtError::Command(e)) => Some(Problem::from(super::notification::clone_error(e))),
    };
    state.metrics.command(&failure.as_ref().map_or(Ok(()), Err));
    match result {
        Ok(()) => Redirect::to(&format!("/staff/cases/{case_id}?done={action}")).into_response(),
        Err(CaseAtError::Stale { .. } | CaseAtError::Command(CommandError::Conflict)) => {
            let shown = CaseShown {
                as_of: None,
                notice: Some("This case changed since you loaded the page, so nothing was recorded. The page below is current: check it, then try again.".into()),
                action_error: None,
            };
            render_case(&state, &p, &csrf, &case_id, shown, StatusCode::CONFLICT).await
        }
        Err(CaseAtError::Command(e @ (CommandError::Invalid(_) | CommandError::Rejected(_)))) => {
            let (status, shown) = refused(StatusCode::UNPROCESSABLE_ENTITY, Problem::from(e));
            render_case(&state, &p, &csrf, &case_id, shown, status).await
        }
        Err(CaseAtError::Command(e)) => error_page(&Problem::from(e)),
    }
}
