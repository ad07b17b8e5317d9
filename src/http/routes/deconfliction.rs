//! Deconfliction reads: a unit sees the matches on its case (whom to call, never the
//! other case); the Task Force sees every match with both cases, and the cases filed
//! with `deconfliction_checked: false` it has to follow up, and records that follow-up.
//! Each read first brings the match index up to the ledger's head (another process,
//! a CLI import, may have written since).

use axum::extract::{Path, Query, State};
use axum::Json;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};

use super::commands::{finish, Created};
use crate::access::auth::Principal;
use crate::commands::deconfliction;
use crate::commands::CommandError;
use crate::http::command_extractor::{visible_case, CommandBody, VisibleCase};
use crate::http::problem::{json, ApiResult};
use crate::http::requests::FollowUpBody;
use crate::http::SharedState;

async fn caught_up(state: &SharedState) -> ApiResult<()> {
    state
        .commands
        .matches()
        .catch_up(state.commands.ledger())
        .await
        .map_err(|e| CommandError::from(e).into())
}

/// `GET /v1/cases/{case_id}/deconfliction`
pub async fn case_matches(
    State(state): State<SharedState>,
    principal: Principal,
    Path(case_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let case_id = visible_case(&state, &principal, &case_id).await?;
    caught_up(&state).await?;
    let notices = state
        .commands
        .matches()
        .notices(&case_id, state.commands.directory().as_ref());
    json(json!({ "case_id": case_id, "matches": notices }))
}

/// `GET /v1/deconfliction/matches`
pub async fn all_matches(State(state): State<SharedState>, _: Principal) -> ApiResult<Json<Value>> {
    caught_up(&state).await?;
    let matches = state.commands.matches().all();
    json(json!({ "total": matches.len(), "matches": matches }))
}

/// The query of `GET /v1/deconfliction/unchecked`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UncheckedQuery {
    /// Also list the cases already followed up (default: only those still open).
    #[serde(default)]
    pub include_followed_up: bool,
}

/// `GET /v1/deconfliction/unchecked`
pub async fn not_checked(
    State(state): State<SharedState>,
    _: Principal,
    Query(q): Query<UncheckedQuery>,
) -> ApiResult<Json<Value>> {
    caught_up(&state).await?;
    let cases = state.commands.matches().not_checked(!q.include_followed_up);
    json(json!({ "total": cases.len(), "cases": cases }))
}

/// `POST /v1/deconfliction/unchecked/{case_id}/follow-up`
pub async fn follow_up(
    State(state): State<SharedState>,
    principal: Principal,
    VisibleCase(case_id): VisibleCase,
    CommandBody(b): CommandBody<FollowUpBody>,
) -> ApiResult<Created> {
    let result = async {
        deconfliction::follow_up(
            &state.commands,
            &case_id,
            b.outcome,
            &principal.actor(),
            Timestamp::now(),
        )
        .await?;
        Ok(json!({ "case_id": case_id, "outcome": b.outcome }))
    }
    .await;
    finish(&state, result).await
}
