//! CyberTip intake at the Task Force over HTTP: receive NCMEC's report, triage,
//! disseminate to a unit, the unit's acknowledgement; the list with each tip's
//! dissemination status. Decisions are `commands::tip_intake`'s and the domain's.

use axum::extract::{Path, State};
use axum::Json;
use icac_aggregates::ids::CyberTipNumber;
use jiff::Timestamp;
use serde_json::{json, Value};

use super::commands::{finish, Created};
use crate::access::auth::Principal;
use crate::commands::tip_intake;
use crate::http::command_extractor::CommandBody;
use crate::http::problem::{ApiResult, Problem};
use crate::http::requests::{
    AcknowledgeTipBody, DisseminateTipBody, ReceiveTipBody, TriageTipBody,
};
use crate::http::SharedState;

fn tip_number(raw: &str) -> ApiResult<CyberTipNumber> {
    CyberTipNumber::parse(raw).map_err(|_| Problem::not_found(format!("no CyberTip {raw}")))
}

pub async fn receive_tip(
    State(state): State<SharedState>,
    principal: Principal,
    CommandBody(body): CommandBody<ReceiveTipBody>,
) -> ApiResult<Created> {
    let result = async {
        let report = body.report();
        let tip = tip_intake::receive(
            &state.commands,
            report,
            &principal.actor(),
            Timestamp::now(),
        )
        .await?;
        Ok(json!({ "cybertip_number": tip }))
    }
    .await;
    finish(&state, result).await
}

pub async fn triage_tip(
    State(state): State<SharedState>,
    principal: Principal,
    Path(raw): Path<String>,
    CommandBody(b): CommandBody<TriageTipBody>,
) -> ApiResult<Created> {
    let tip = tip_number(&raw)?;
    let result = async {
        tip_intake::triage(
            &state.commands,
            &tip,
            b.priority,
            &principal.actor(),
            Timestamp::now(),
        )
        .await?;
        Ok(json!({ "cybertip_number": tip }))
    }
    .await;
    finish(&state, result).await
}

pub async fn disseminate_tip(
    State(state): State<SharedState>,
    principal: Principal,
    Path(raw): Path<String>,
    CommandBody(b): CommandBody<DisseminateTipBody>,
) -> ApiResult<Created> {
    let tip = tip_number(&raw)?;
    let result = async {
        tip_intake::disseminate(
            &state.commands,
            &tip,
            b.to_unit,
            &principal.actor(),
            Timestamp::now(),
        )
        .await?;
        Ok(json!({ "cybertip_number": tip }))
    }
    .await;
    finish(&state, result).await
}

/// The receiving unit's reporter (or Task Force staff for it) takes the tip on.
pub async fn acknowledge_tip(
    State(state): State<SharedState>,
    principal: Principal,
    Path(raw): Path<String>,
    CommandBody(b): CommandBody<AcknowledgeTipBody>,
) -> ApiResult<Created> {
    let tip = tip_number(&raw)?;
    let result = async {
        principal.require_unit(&b.unit)?;
        let case_id = tip_intake::acknowledge(
            &state.commands,
            &tip,
            b.unit,
            b.unit_case_number,
            &principal.actor(),
            Timestamp::now(),
        )
        .await?;
        Ok(json!({ "cybertip_number": tip, "case_id": case_id }))
    }
    .await;
    finish(&state, result).await
}

/// Every tip (a unit's reporter: the tips disseminated to its unit), with counts.
pub async fn list_tips(
    State(state): State<SharedState>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    let mut tips = state.projections.tips().await.map_err(Problem::internal)?;
    if principal.role.is_unit_bound() {
        tips.retain(|t| t.disseminated_to.is_some() && t.disseminated_to == principal.unit);
    }
    let unacknowledged = tips
        .iter()
        .filter(|t| t.status == icac_projections::tips::TipStatus::UnacknowledgedDissemination)
        .count();
    Ok(Json(json!({
        "total": tips.len(),
        "unacknowledged_disseminations": unacknowledged,
        "tips": tips,
    })))
}
