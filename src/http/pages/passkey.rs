//! The staff pages' passkey requests (JSON, from `/staff/passkey.js`): registration
//! from a signed-in account session, and sign-in with a username and a passkey. Each
//! request is refused unless the browser sent it from this site and it carries the
//! page's CSRF token (the session's, or the sign-in form's double-submit cookie).
//! Errors are problem+json; every outcome is access-logged.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::signin::{signin_csrf_ok, with_session_cookie};
use super::staff::Staff;
use crate::access::access_log::AccessEntry;
use crate::access::accounts::{account_principal_id, AccountStatus};
use crate::access::db::unix_now;
use crate::http::csrf;
use crate::http::extract::{client_addr, parse_body};
use crate::http::passkeys::{relying_party, PasskeyError};
use crate::http::problem::{Kind, Problem};
use crate::http::sessions::{SessionId, SessionStage};
use crate::http::SharedState;

const SCRIPT: &str = include_str!("../../../templates/passkey.js");

pub async fn script() -> Response {
    let mut r = SCRIPT.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn rp(state: &SharedState, headers: &HeaderMap) -> Result<webauthn_rs::Webauthn, Problem> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    relying_party(state.config.public_origin.as_deref(), host)
        .map_err(|e| Problem::new(Kind::Forbidden, e.to_string()))
}

fn passkey_problem(e: PasskeyError) -> Problem {
    match e {
        PasskeyError::CeremonyGone => Problem::new(Kind::Conflict, e.to_string()),
        PasskeyError::Rejected(_) | PasskeyError::UnknownCredential => {
            Problem::new(Kind::Unauthenticated, e.to_string())
        }
        PasskeyError::NoOrigin => Problem::new(Kind::Forbidden, e.to_string()),
        other => Problem::internal(other),
    }
}

fn refuse_cross_site(headers: &HeaderMap) -> Result<(), Problem> {
    if csrf::cross_site(headers) {
        return Err(Problem::forbidden(
            "this request was not sent from this site's own page (cross-site request refused)",
        ));
    }
    Ok(())
}

fn bad_csrf() -> Problem {
    Problem::forbidden("the page's CSRF token is missing or wrong; open the page again")
}

#[derive(Deserialize)]
pub struct RegisterStart {
    csrf: String,
}

#[derive(Deserialize)]
pub struct Finish {
    csrf: String,
    ceremony_id: String,
    credential: serde_json::Value,
}

#[derive(Deserialize)]
pub struct LoginStart {
    csrf: String,
    username: String,
}

/// The signed-in account of a JSON request, its CSRF token checked.
async fn account_of(
    state: &SharedState,
    parts: &mut axum::http::request::Parts,
    sent_csrf: &str,
) -> Result<(String, String), Response> {
    let Staff(p, token) = Staff::from_request_parts(parts, state).await.map_err(|_| {
        Problem::new(
            Kind::Unauthenticated,
            "sign in with your account first; this session has ended",
        )
        .into_response()
    })?;
    if !crate::http::sessions::constant_time_eq(token.as_bytes(), sent_csrf.as_bytes()) {
        return Err(bad_csrf().into_response());
    }
    let Some(username) = p.account.clone() else {
        return Err(
            Problem::forbidden("only an account (not a token) can register a passkey")
                .into_response(),
        );
    };
    Ok((username, p.source))
}

pub async fn register_start(
    State(state): State<SharedState>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let run = async {
        let req: RegisterStart = json_request(&parts.headers, body, 4096)
            .await
            .map_err(IntoResponse::into_response)?;
        let (username, _) = account_of(&state, &mut parts, &req.csrf).await?;
        let rp = rp(&state, &parts.headers).map_err(IntoResponse::into_response)?;
        let begun = state
            .accounts
            .begin_registration(&rp, &username, unix_now())
            .await
            .map_err(|e| passkey_problem(e).into_response())?;
        Ok::<_, Response>(
            Json(json!({ "ceremony_id": begun.ceremony_id, "options": begun.options }))
                .into_response(),
        )
    };
    run.await.unwrap_or_else(|r| r)
}

pub async fn register_finish(
    State(state): State<SharedState>,
    request: axum::extract::Request,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let run = async {
        let req: Finish = json_request(&parts.headers, body, 64 * 1024)
            .await
            .map_err(IntoResponse::into_response)?;
        let (username, source) = account_of(&state, &mut parts, &req.csrf).await?;
        let rp = rp(&state, &parts.headers).map_err(IntoResponse::into_response)?;
        let now = unix_now();
        let principal = account_principal_id(&username).0;
        let credential = serde_json::from_value(req.credential)
            .map_err(|e| Problem::field("/credential", e.to_string()).into_response())?;
        let log = |outcome: String| {
            AccessEntry::new(
                "passkey_registered",
                &principal,
                &source,
                &username,
                &outcome,
            )
        };
        if let Err(e) = state
            .accounts
            .finish_registration(&rp, &username, &req.ceremony_id, &credential, now)
            .await
        {
            let problem = passkey_problem(e);
            state
                .access_log
                .append(log(format!("refused: {}", problem.detail)))
                .await
                .map_err(|e| Problem::internal(e).into_response())?;
            return Err(problem.into_response());
        }
        // A factor changed: every session of the account ends; this browser gets a new one.
        let fresh = async {
            state
                .accounts
                .revoke_sessions(&username, "factor_changed", now)
                .await
                .map_err(|e| e.to_string())?;
            state
                .access_log
                .append(log("ok".into()).with_detail("sessions revoked".into()))
                .await
                .map_err(|e| e.to_string())?;
            state
                .sessions
                .start_account(&username, SessionStage::Full, "passkey", now)
                .await
                .map_err(|e| e.to_string())
        };
        let session = fresh
            .await
            .map_err(|e| Problem::internal(e).into_response())?;
        let r = Json(json!({ "registered": true, "redirect": "/staff/account" })).into_response();
        Ok::<_, Response>(with_session_cookie(&state, r, &session))
    };
    run.await.unwrap_or_else(|r| r)
}

pub async fn login_start(
    State(state): State<SharedState>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let run = async {
        let req =
            signin_request(&parts.headers, body, 4096, |r: &LoginStart| r.csrf.as_str()).await?;
        let rp = rp(&state, &parts.headers)?;
        let username = req.username.trim();
        let begun = if crate::access::accounts::valid_username(username) {
            state
                .accounts
                .begin_login(&rp, username, unix_now())
                .await
                .map_err(passkey_problem)?
        } else {
            None
        };
        let Some(begun) = begun else {
            let source = client_addr(&parts, &state.config.trusted_proxies);
            let target: String = username
                .chars()
                .filter(|c| !c.is_control())
                .take(40)
                .collect();
            state
                .access_log
                .append(AccessEntry::new(
                    "logon_failed",
                    "",
                    &source,
                    &target,
                    "no_passkey",
                ))
                .await
                .map_err(Problem::internal)?;
            return Err(Problem::new(
                Kind::Unauthenticated,
                "no passkey is registered for that username; sign in with your password and code",
            ));
        };
        Ok(Json(
            json!({ "ceremony_id": begun.ceremony_id, "options": begun.options }),
        ))
    };
    match run.await {
        Ok(r) => r.into_response(),
        Err(p) => p.into_response(),
    }
}

pub async fn login_finish(
    State(state): State<SharedState>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let source = client_addr(&parts, &state.config.trusted_proxies);
    let run = async {
        let req = signin_request(&parts.headers, body, 64 * 1024, |r: &Finish| {
            r.csrf.as_str()
        })
        .await?;
        let rp = rp(&state, &parts.headers)?;
        let now = unix_now();
        let credential = serde_json::from_value(req.credential)
            .map_err(|e| Problem::field("/credential", e.to_string()))?;
        let username = match state
            .accounts
            .finish_login(&rp, &req.ceremony_id, &credential, now)
            .await
        {
            Ok(u) => u,
            Err((who, e)) => return Err(login_refused(&state, &source, who, e, now).await),
        };
        require_enabled(&state, &username, &source).await?;
        signed_in(&state, &username, &source, now).await
    };
    match run.await {
        Ok(session) => {
            let r = (StatusCode::OK, Json(json!({ "redirect": "/staff" }))).into_response();
            with_session_cookie(&state, r, &session)
        }
        Err(p) => {
            state
                .metrics
                .auth_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            p.into_response()
        }
    }
}

/// The JSON body of a request sent from this site's own page, at most `limit` bytes.
async fn json_request<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
) -> Result<T, Problem> {
    refuse_cross_site(headers)?;
    let bytes: Bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Problem::new(Kind::TooLarge, "too large"))?;
    parse_body(headers, &bytes)
}

/// The body of a sign-in request (there is no session yet), as [`json_request`], also
/// carrying the sign-in form's CSRF token (`csrf_of`).
async fn signin_request<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: axum::body::Body,
    limit: usize,
    csrf_of: fn(&T) -> &str,
) -> Result<T, Problem> {
    let req: T = json_request(headers, body, limit).await?;
    if !signin_csrf_ok(headers, csrf_of(&req)) {
        return Err(bad_csrf());
    }
    Ok(req)
}

/// Logs a refused passkey assertion and returns its problem. A wrong answer for a
/// known account counts against that account (AC-7); anything else is only logged.
async fn login_refused(
    state: &SharedState,
    source: &str,
    who: Option<String>,
    e: PasskeyError,
    now: i64,
) -> Problem {
    let problem = passkey_problem(e);
    let logged = match &who {
        Some(u) if problem.status == 401 => state
            .accounts
            .record_failure(u, source, "passkey_rejected", now)
            .await
            .map(|_| ())
            .map_err(Problem::internal),
        _ => {
            let outcome = if problem.status == 409 {
                "assertion_replayed_or_expired"
            } else {
                "passkey_error"
            };
            state
                .access_log
                .append(AccessEntry::new(
                    "logon_failed",
                    &who.as_deref()
                        .map(|u| account_principal_id(u).0)
                        .unwrap_or_default(),
                    source,
                    who.as_deref().unwrap_or(""),
                    outcome,
                ))
                .await
                .map(|_| ())
                .map_err(Problem::internal)
        }
    };
    match logged {
        Ok(()) => problem,
        Err(log_problem) => log_problem,
    }
}

/// Refuses, and logs, a passkey sign-in to an account that is not enabled.
async fn require_enabled(state: &SharedState, username: &str, source: &str) -> Result<(), Problem> {
    let account = state
        .accounts
        .get(username)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found("no such account"))?;
    if account.status == AccountStatus::Enabled {
        return Ok(());
    }
    state
        .access_log
        .append(AccessEntry::new(
            "logon_failed",
            &account_principal_id(username).0,
            source,
            username,
            &format!("account_{}", account.status),
        ))
        .await
        .map_err(Problem::internal)?;
    Err(Problem::forbidden(match account.status {
        AccountStatus::Locked => "this account is locked after too many failed sign-ins; an administrator must release it",
        _ => "this account is disabled; an administrator must re-enable it",
    }))
}

/// A proved passkey sign-in: the account was used, the logon is logged, and a full
/// session starts.
async fn signed_in(
    state: &SharedState,
    username: &str,
    source: &str,
    now: i64,
) -> Result<SessionId, Problem> {
    state
        .accounts
        .touch(username, now)
        .await
        .map_err(Problem::internal)?;
    state
        .access_log
        .append(
            AccessEntry::new(
                "logon",
                &account_principal_id(username).0,
                source,
                username,
                "ok",
            )
            .with_detail("factor=passkey".into()),
        )
        .await
        .map_err(Problem::internal)?;
    state
        .sessions
        .start_account(username, SessionStage::Full, "passkey", now)
        .await
        .map_err(Problem::internal)
}
