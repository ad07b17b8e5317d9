//! Deconfliction reads: a unit sees the matches on its case (whom to call, never the
//! other case); the Task Force sees every match with both cases.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::commands::visible_case;
use super::queries::log_read;
use crate::http::auth::Principal;
use crate::http::problem::{json, ApiResult};
use crate::http::SharedState;

/// `GET /v1/cases/{case_id}/deconfliction`
pub async fn case_matches(
    State(state): State<SharedState>,
    principal: Principal,
    Path(case_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let case_id = visible_case(&state, &principal, &case_id).await?;
    let notices = state
        .commands
        .matches()
        .notices(&case_id, state.commands.directory().as_ref());
    log_read(&state, &principal, "deconfliction_read", case_id.as_str()).await?;
    json(json!({ "case_id": case_id, "matches": notices }))
}

/// `GET /v1/deconfliction/matches`
pub async fn all_matches(
    State(state): State<SharedState>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    let matches = state.commands.matches().all();
    log_read(&state, &principal, "deconfliction_matches_read", "all").await?;
    json(json!({ "total": matches.len(), "matches": matches }))
}

/// `GET /v1/deconfliction/unchecked`
pub async fn not_checked(
    State(state): State<SharedState>,
    principal: Principal,
) -> ApiResult<Json<Value>> {
    let cases = state.commands.matches().not_checked();
    log_read(&state, &principal, "deconfliction_unchecked_read", "all").await?;
    json(json!({ "total": cases.len(), "cases": cases }))
}
