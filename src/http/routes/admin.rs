//! Tokens (issue, list, revoke) and `whoami`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use crate::access::auth::Principal;
use crate::access::tokens::{TokenError, TokenScope, DEFAULT_TOKEN_DAYS};
use crate::http::extract::parse_body;
use crate::http::problem::{ApiResult, Kind, Problem};
use crate::http::requests::IssueTokenBody;
use crate::http::SharedState;

pub async fn whoami(principal: Principal) -> Json<Value> {
    Json(json!({
        "principal": principal.id(),
        "name": principal.name,
        "role": principal.role,
        "unit": principal.unit,
        "account": principal.account,
    }))
}

pub async fn list_tokens(State(state): State<SharedState>, _: Principal) -> ApiResult<Json<Value>> {
    let tokens = state.tokens.list().await.map_err(Problem::internal)?;
    Ok(Json(json!({ "tokens": tokens })))
}

fn token_problem(e: TokenError) -> Problem {
    match e {
        TokenError::UnitRequired(_) | TokenError::UnitNotAllowed => {
            Problem::field("/unit", e.to_string())
        }
        TokenError::BadName => Problem::field("/name", e.to_string()),
        TokenError::BadExpiry => Problem::field("/days", e.to_string()),
        TokenError::AccountNotEnabled(_) => Problem::field("/account", e.to_string()),
        TokenError::NoSuchToken(_) => Problem::not_found(e.to_string()),
        TokenError::AlreadyRevoked(_) => Problem::new(Kind::Conflict, e.to_string()),
        other => Problem::internal(other),
    }
}

pub async fn issue_token(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: IssueTokenBody = parse_body(&headers, &body)?;
    let scope = match (req.role, &req.account) {
        (Some(_), Some(_)) => {
            return Err(Problem::field(
                "/role",
                "a token scoped to an account takes the account's role; leave out role",
            ))
        }
        (None, None) => {
            return Err(Problem::field(
                "/role",
                "give role (a service token) or account",
            ))
        }
        (None, Some(username)) => {
            if req.unit.is_some() {
                return Err(Problem::field(
                    "/unit",
                    "a token scoped to an account takes the account's unit; leave out unit",
                ));
            }
            let account = state
                .accounts
                .get(username)
                .await
                .map_err(Problem::internal)?
                .ok_or_else(|| Problem::field("/account", "no such account"))?;
            TokenScope::Account(account)
        }
        (Some(role), None) => TokenScope::Service {
            role,
            unit: req.unit.clone(),
        },
    };
    if let Some(unit) = &req.unit {
        if icac_aggregates::services::UnitDirectory::unit(state.commands.directory().as_ref(), unit)
            .is_none()
        {
            return Err(Problem::field(
                "/unit",
                format!("no registered unit {unit}"),
            ));
        }
    }
    let issued = state
        .tokens
        .issue_scoped(
            scope,
            &req.name,
            &principal.id(),
            req.days.unwrap_or(DEFAULT_TOKEN_DAYS),
        )
        .await
        .map_err(token_problem)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(issued).map_err(Problem::internal)?),
    ))
}

pub async fn revoke_token(
    State(state): State<SharedState>,
    principal: Principal,
    Path(token_id): Path<String>,
) -> ApiResult<Json<Value>> {
    if token_id.len() > 32 || !token_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Problem::not_found("no such token"));
    }
    state
        .tokens
        .revoke(&token_id, &principal.id())
        .await
        .map_err(token_problem)?;
    Ok(Json(json!({ "token_id": token_id, "revoked": true })))
}
