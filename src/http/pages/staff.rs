//! Staff pages behind a token login: signing in starts a server-side session (see
//! `sessions`), whose random id sits in an HttpOnly, SameSite=Strict cookie, `Secure`
//! when configured. Every form post is checked against cross-site forgery (`csrf`).
//! This module holds the session extractor, sign-in and sign-out, and what every staff
//! page shares (navigation, error page); the pages themselves are in `dashboard`,
//! `cases` and `reports`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::layout::{render, Chrome, Nav};
use crate::access::access_log::AccessEntry;
use crate::access::accounts::{account_principal_id, AccountStatus};
use crate::access::auth::{Permission, Principal};
use crate::access::db::unix_now;
use crate::http::csrf;
use crate::http::extract::{authenticate, client_addr, cookie, request_id, LoggedPrincipal};
use crate::http::problem::Problem;
use crate::http::sessions::{constant_time_eq, random_id, SessionId, SESSION_SECS};
use crate::http::sessions::{AccountSession, SessionStage};
use crate::http::SharedState;

pub const SESSION_COOKIE: &str = "icac_session";

/// A principal authenticated by the session cookie, with the session's CSRF token for
/// the page's forms; without a live session, the login page.
pub struct Staff(pub Principal, pub String);

pub enum StaffRejection {
    Login,
    /// An account session that proved its password but has no second factor yet.
    Enroll,
    /// An account session that no longer signs anyone in, and why.
    Ended(String),
    Problem(Problem),
}

impl IntoResponse for StaffRejection {
    fn into_response(self) -> Response {
        match self {
            StaffRejection::Login => Redirect::to("/staff/login").into_response(),
            StaffRejection::Enroll => Redirect::to("/staff/enroll").into_response(),
            StaffRejection::Ended(why) => super::signin::session_ended_page(&why),
            StaffRejection::Problem(p) => error_page(&p),
        }
    }
}

impl FromRequestParts<SharedState> for Staff {
    type Rejection = StaffRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, StaffRejection> {
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE).and_then(SessionId::from_cookie)
        else {
            return Err(StaffRejection::Login);
        };
        let source = client_addr(parts, &state.config.trusted_proxies);
        let rid = request_id(parts);
        let principal = match account_session(state, &session, &source, &rid).await? {
            Some(p) => Some(p),
            None => state
                .sessions
                .resolve(&session, &source, &rid)
                .await
                .map_err(|e| StaffRejection::Problem(Problem::internal(e)))?,
        };
        let Some(p) = principal else {
            return Err(StaffRejection::Login);
        };
        if let Some(slot) = parts.extensions.get::<LoggedPrincipal>() {
            slot.record(&p);
        }
        Ok(Staff(p, session.csrf()))
    }
}

/// The principal of a live, fully signed-in account session; `None` when the cookie
/// names no account session (it may be a token's). A session that ended (signed out,
/// idle, expired, revoked) or whose account is no longer enabled answers a page that
/// says so (401), and the refusal is access-logged; an enrolment session goes to the
/// enrolment page.
async fn account_session(
    state: &SharedState,
    session: &SessionId,
    source: &str,
    rid: &str,
) -> Result<Option<Principal>, StaffRejection> {
    let internal = |e: String| StaffRejection::Problem(Problem::internal(e));
    let now = unix_now();
    match state
        .sessions
        .resolve_account(session, now)
        .await
        .map_err(|e| internal(e.to_string()))?
    {
        AccountSession::Unknown => Ok(None),
        AccountSession::Live {
            stage: SessionStage::Enroll,
            ..
        } => Err(StaffRejection::Enroll),
        AccountSession::Live { username, .. } => {
            let account = state
                .accounts
                .get(&username)
                .await
                .map_err(|e| internal(e.to_string()))?;
            match account {
                Some(a) if a.status == AccountStatus::Enabled => a
                    .principal(source, rid)
                    .map(Some)
                    .map_err(|e| internal(e.to_string())),
                _ => {
                    session_refused(state, &username, source, "account_not_enabled").await?;
                    Err(StaffRejection::Ended(
                        "Your account is not enabled; ask an administrator.".into(),
                    ))
                }
            }
        }
        AccountSession::Ended { username, why } => {
            session_refused(state, &username, source, why.as_str()).await?;
            Err(StaffRejection::Ended(why.message()))
        }
    }
}

async fn session_refused(
    state: &SharedState,
    username: &str,
    source: &str,
    why: &str,
) -> Result<(), StaffRejection> {
    state
        .access_log
        .append(AccessEntry::new(
            "session_refused",
            &account_principal_id(username).0,
            source,
            username,
            why,
        ))
        .await
        .map(|_| ())
        .map_err(|e| StaffRejection::Problem(Problem::internal(e)))
}

/// A staff form post: the session's principal, its CSRF token, and the form's fields.
/// Refused unless the browser sent it from this site and it carries the session's CSRF
/// token (checked here, server side, for every staff form).
pub struct StaffForm(pub Principal, pub String, pub Vec<(String, String)>);

/// A staff form's body at most: the notification form with many rows fits.
const MAX_FORM_BODY: usize = 256 * 1024;

impl axum::extract::FromRequest<SharedState> for StaffForm {
    type Rejection = Response;

    async fn from_request(
        request: axum::extract::Request,
        state: &SharedState,
    ) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        if csrf::cross_site(&parts.headers) {
            return Err(forged());
        }
        let Staff(p, token) = Staff::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let bytes = axum::body::to_bytes(body, MAX_FORM_BODY)
            .await
            .map_err(|_| {
                error_page(&Problem::new(
                    crate::http::problem::Kind::TooLarge,
                    "the form was too large; nothing was recorded",
                ))
            })?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).map_err(|_| {
            error_page(&Problem::new(
                crate::http::problem::Kind::BadRequest,
                "the form could not be read; open the page again and resend",
            ))
        })?;
        let sent = csrf::form_field(&pairs, csrf::FIELD).unwrap_or_default();
        if !constant_time_eq(token.as_bytes(), sent.as_bytes()) {
            return Err(forged());
        }
        Ok(StaffForm(p, token, pairs))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    heading: &'a str,
    detail: &'a str,
    /// Each field's problem, "where: what" (a problem+json's `errors`).
    fields: Vec<String>,
}

/// A problem as a page: its title, its detail, and each field's problem.
pub(super) fn error_page(p: &Problem) -> Response {
    render(
        p.status(),
        &ErrorPage {
            chrome: Chrome::public(p.title),
            heading: p.title,
            detail: &p.detail,
            fields: p
                .errors
                .iter()
                .map(|e| format!("{}: {}", e.pointer, e.message))
                .collect(),
        },
    )
}

/// The navigation bar for `p`: the pages its role may open.
pub(super) fn nav(p: &Principal, csrf: &str) -> Nav {
    let mut links = vec![("/staff", "Dashboard")];
    if p.role.allows(Permission::ReadCases) {
        links.push(("/staff/cases", "Cases"));
    }
    if p.role.allows(Permission::HandlePublicReports) {
        links.push(("/staff/intake", "Intake"));
    }
    if p.role.allows(Permission::FileForUnit) {
        links.push(("/staff/notifications/new", "File a notification"));
    }
    if p.role.allows(Permission::ReadAggregates) {
        links.push(("/staff/annual-report", "Annual report"));
    }
    if p.role.allows(Permission::ReadLedgerStatus) {
        links.push(("/staff/ledger", "Ledger status"));
    }
    if p.account.is_some() {
        links.push(("/staff/account", "Your account"));
    }
    Nav {
        links,
        name: p.name.clone(),
        role: p.role.label(),
        csrf: csrf.to_owned(),
    }
}

/// The layout's part of a signed-in page.
pub(super) fn chrome(p: &Principal, csrf: &str, title: impl Into<String>) -> Chrome {
    Chrome {
        title: title.into(),
        nav: Some(nav(p, csrf)),
    }
}

pub(super) fn require(p: &Principal, perm: Permission) -> Result<(), Response> {
    p.require(perm).map_err(|e| error_page(&Problem::from(e)))
}

// ---------------------------------------------------------------- login

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always, `Secure` when configured.
pub(super) fn set_cookie(
    state: &SharedState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> Option<HeaderValue> {
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

pub async fn login_page(State(state): State<SharedState>) -> Response {
    login_form(&state, None, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    chrome: Chrome,
    error: Option<&'a str>,
    csrf_field: &'static str,
    csrf: String,
}

/// The login form with a fresh double-submit CSRF value (cookie and hidden field).
fn login_form(state: &SharedState, error: Option<&str>, status: StatusCode) -> Response {
    let csrf_value = random_id();
    let mut r = render(
        status,
        &LoginPage {
            chrome: Chrome::public("Staff sign in"),
            error,
            csrf_field: csrf::FIELD,
            csrf: csrf_value.clone(),
        },
    );
    if let Some(v) = set_cookie(state, csrf::LOGIN_COOKIE, &csrf_value, "/staff/login", 3600) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub(super) fn forged() -> Response {
    error_page(&Problem::forbidden(
        "this form was not sent from this site's own page (cross-site request refused); open the page again and resend",
    ))
}

/// Reads an urlencoded form body of at most 4 KiB.
pub(super) async fn form_pairs(body: axum::body::Body) -> Option<Vec<(String, String)>> {
    let bytes: Bytes = axum::body::to_bytes(body, 4096).await.ok()?;
    Some(serde_urlencoded::from_bytes(&bytes).unwrap_or_default())
}

pub async fn login(State(state): State<SharedState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    if csrf::cross_site(&parts.headers) {
        return forged();
    }
    let Some(pairs) = form_pairs(body).await else {
        return login_form(
            &state,
            Some("The form was too large"),
            StatusCode::PAYLOAD_TOO_LARGE,
        );
    };
    let expected = cookie(&parts.headers, csrf::LOGIN_COOKIE).unwrap_or("");
    let sent = csrf::form_field(&pairs, csrf::FIELD).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), sent.as_bytes()) {
        return forged();
    }
    if !state.config.token_sign_in {
        let source = client_addr(&parts, &state.config.trusted_proxies);
        if let Err(e) = state
            .access_log
            .append(AccessEntry::new(
                "logon_failed",
                "",
                &source,
                "",
                "token_sign_in_off",
            ))
            .await
        {
            return error_page(&Problem::internal(e));
        }
        return error_page(&Problem::forbidden(
            "the staff pages take account sign-in only here; sign in at /staff/signin with your username, password and authenticator, or your passkey",
        ));
    }
    let token = csrf::form_field(&pairs, "token")
        .map(|t| t.trim().to_owned())
        .unwrap_or_default();
    let presented = (!token.is_empty()).then_some(token.as_str());
    let principal = match authenticate(&state, &parts, presented).await {
        Ok(p) => p,
        Err(p) if p.status == 429 => {
            return login_form(&state, Some(&p.detail), StatusCode::TOO_MANY_REQUESTS)
        }
        Err(p) if p.status == 401 => {
            return login_form(
                &state,
                Some("That token is not valid"),
                StatusCode::UNAUTHORIZED,
            )
        }
        Err(p) => return error_page(&p),
    };
    let session = match state.sessions.start(&principal).await {
        Ok(s) => s,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let _ = state
        .access_log
        .append(AccessEntry::new(
            "staff_login",
            &principal.id(),
            &principal.source,
            "",
            "ok",
        ))
        .await;
    let mut r = Redirect::to("/staff").into_response();
    let h = r.headers_mut();
    if let Some(v) = set_cookie(
        &state,
        SESSION_COOKIE,
        session.as_cookie(),
        "/staff",
        SESSION_SECS,
    ) {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(v) = set_cookie(&state, csrf::LOGIN_COOKIE, "", "/staff/login", 0) {
        h.append(header::SET_COOKIE, v);
    }
    r
}

/// Ends the session on the server (every copy of the cookie stops working) and clears
/// the cookie. Needs the session's CSRF token, so another site cannot sign staff out.
pub async fn logout(State(state): State<SharedState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    if csrf::cross_site(&parts.headers) {
        return forged();
    }
    let session = cookie(&parts.headers, SESSION_COOKIE).and_then(SessionId::from_cookie);
    let pairs = form_pairs(body).await.unwrap_or_default();
    if let Some(session) = session {
        let sent = csrf::form_field(&pairs, csrf::FIELD).unwrap_or_default();
        if !session.csrf_matches(&sent) {
            return forged();
        }
        if let Err(e) = state.sessions.end(&session).await {
            return error_page(&Problem::internal(e));
        }
    }
    let mut r = Redirect::to("/staff/login").into_response();
    if let Some(v) = set_cookie(&state, SESSION_COOKIE, "", "/staff", 0) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
