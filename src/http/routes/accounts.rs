//! Staff account administration: `/v1/accounts` (admins). Every action, refused ones
//! included, is written to the access log by the account store.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

use crate::access::accounts::{valid_username, AccountError, Actor};
use crate::access::auth::Principal;
use crate::access::db::unix_now;
use crate::http::extract::parse_body;
use crate::http::problem::{ApiResult, Kind, Problem};
use crate::http::requests::{ChangeAccountBody, CreateAccountBody, DisableAccountBody};
use crate::http::SharedState;

pub fn account_problem(e: AccountError) -> Problem {
    match e {
        AccountError::BadUsername => Problem::field("/username", e.to_string()),
        AccountError::UnitRequired(_) | AccountError::UnitNotAllowed => {
            Problem::field("/unit", e.to_string())
        }
        AccountError::BadReason => Problem::field("/reason", e.to_string()),
        AccountError::NoSuchAccount(_) => Problem::not_found(e.to_string()),
        AccountError::Exists(_)
        | AccountError::LastAdmin(_)
        | AccountError::AlreadyInState(..)
        | AccountError::NotLocked(_) => Problem::new(Kind::Conflict, e.to_string()),
        other => Problem::internal(other),
    }
}

fn check_unit_registered(
    state: &SharedState,
    unit: &Option<icac_aggregates::ids::Ori>,
) -> Result<(), Problem> {
    if let Some(unit) = unit {
        if icac_aggregates::services::UnitDirectory::unit(state.commands.directory().as_ref(), unit)
            .is_none()
        {
            return Err(Problem::field(
                "/unit",
                format!("no registered unit {unit}"),
            ));
        }
    }
    Ok(())
}

pub async fn list(State(state): State<SharedState>, _: Principal) -> ApiResult<Json<Value>> {
    let accounts = state.accounts.list().await.map_err(Problem::internal)?;
    Ok(Json(json!({ "accounts": accounts })))
}

pub async fn get_one(
    State(state): State<SharedState>,
    _: Principal,
    Path(username): Path<String>,
) -> ApiResult<Json<Value>> {
    match state
        .accounts
        .get(&username)
        .await
        .map_err(Problem::internal)?
    {
        Some(a) => Ok(Json(serde_json::to_value(a).map_err(Problem::internal)?)),
        None => Err(Problem::not_found(format!(
            "no account {}",
            if valid_username(&username) {
                username.as_str()
            } else {
                "by that name"
            }
        ))),
    }
}

pub async fn create(
    State(state): State<SharedState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: CreateAccountBody = parse_body(&headers, &body)?;
    check_unit_registered(&state, &req.unit)?;
    let created = state
        .accounts
        .create(
            &req.username,
            req.role,
            req.unit,
            &Actor::of(&principal),
            unix_now(),
        )
        .await
        .map_err(account_problem)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(created).map_err(Problem::internal)?),
    ))
}

pub async fn change(
    State(state): State<SharedState>,
    principal: Principal,
    Path(username): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: ChangeAccountBody = parse_body(&headers, &body)?;
    check_unit_registered(&state, &req.unit)?;
    let a = state
        .accounts
        .change(
            &username,
            req.role,
            req.unit,
            &Actor::of(&principal),
            unix_now(),
        )
        .await
        .map_err(account_problem)?;
    Ok(Json(serde_json::to_value(a).map_err(Problem::internal)?))
}

pub async fn disable(
    State(state): State<SharedState>,
    principal: Principal,
    Path(username): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: DisableAccountBody = parse_body(&headers, &body)?;
    let a = state
        .accounts
        .disable(&username, &req.reason, &Actor::of(&principal), unix_now())
        .await
        .map_err(account_problem)?;
    state.tokens.forget_verified();
    Ok(Json(serde_json::to_value(a).map_err(Problem::internal)?))
}

pub async fn enable(
    State(state): State<SharedState>,
    principal: Principal,
    Path(username): Path<String>,
) -> ApiResult<Json<Value>> {
    let a = state
        .accounts
        .enable(&username, &Actor::of(&principal), unix_now())
        .await
        .map_err(account_problem)?;
    Ok(Json(serde_json::to_value(a).map_err(Problem::internal)?))
}

pub async fn release(
    State(state): State<SharedState>,
    principal: Principal,
    Path(username): Path<String>,
) -> ApiResult<Json<Value>> {
    let a = state
        .accounts
        .release(&username, &Actor::of(&principal), unix_now())
        .await
        .map_err(account_problem)?;
    Ok(Json(serde_json::to_value(a).map_err(Problem::internal)?))
}

pub async fn reset_password(
    State(state): State<SharedState>,
    principal: Principal,
    Path(username): Path<String>,
) -> ApiResult<Json<Value>> {
    let password = state
        .accounts
        .reset_password(&username, &Actor::of(&principal), unix_now())
        .await
        .map_err(account_problem)?;
    Ok(Json(json!({ "username": username, "password": password })))
}
