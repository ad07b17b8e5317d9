//! Account sign-in for the staff pages: username, password and a one-time code (TOTP
//! or a recovery code) at `/staff/signin`; at the first sign-in, the authenticator's
//! enrolment (`/staff/enroll`), which shows the recovery codes once; and the account's
//! own page (`/staff/account`). Every form carries a CSRF token (the sign-in form a
//! double-submit cookie, the others the session's).

use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::layout::{render, Chrome};
use super::staff::{
    chrome, error_page, forged, form_pairs, set_cookie, Staff, StaffForm, SESSION_COOKIE,
};
use crate::access::access_log::AccessEntry;
use crate::access::accounts::{account_principal_id, verify_password, AccountInfo};
use crate::access::db::unix_now;
use crate::http::csrf;
use crate::http::extract::{client_addr, cookie};
use crate::http::problem::Problem;
use crate::http::second_factor::{
    matching_step, new_secret, otpauth_uri, secret_base32, secret_from_base32,
};
use crate::http::sessions::{
    constant_time_eq, random_id, AccountSession, SessionId, SessionStage, ACCOUNT_SESSION_SECS,
    ENROLL_SECS,
};
use crate::http::signin::{SignInError, SignedIn};
use crate::http::SharedState;

/// The sign-in form's double-submit CSRF cookie (also read by the passkey requests).
pub const SIGNIN_COOKIE: &str = "icac_signin_csrf";

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    chrome: Chrome,
    error: Option<&'a str>,
    username: &'a str,
    csrf_field: &'static str,
    csrf: String,
}

/// The policy of pages that run the passkey script (`/staff/passkey.js`, same origin).
pub const SCRIPT_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'self'; base-uri 'none'";

fn with_script_csp(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(SCRIPT_CSP),
    );
    r
}

fn signin_form(
    state: &SharedState,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response {
    let csrf_value = random_id();
    let mut r = render(
        status,
        &SignInPage {
            chrome: Chrome::public("Staff sign in"),
            error,
            username,
            csrf_field: csrf::FIELD,
            csrf: csrf_value.clone(),
        },
    );
    if let Some(v) = set_cookie(state, SIGNIN_COOKIE, &csrf_value, "/staff", 3600) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    with_script_csp(r)
}

pub async fn signin_page(State(state): State<SharedState>) -> Response {
    signin_form(&state, None, "", StatusCode::OK)
}

/// Whether the sign-in cookie and the form's field carry the same CSRF value.
pub fn signin_csrf_ok(headers: &axum::http::HeaderMap, sent: &str) -> bool {
    let expected = cookie(headers, SIGNIN_COOKIE).unwrap_or("");
    !expected.is_empty() && constant_time_eq(expected.as_bytes(), sent.as_bytes())
}

/// The session cookie for a new account session, and where to go.
pub fn session_response(
    state: &SharedState,
    session: &SessionId,
    to: &str,
    max_age: i64,
) -> Response {
    let mut r = Redirect::to(to).into_response();
    let h = r.headers_mut();
    if let Some(v) = set_cookie(
        state,
        SESSION_COOKIE,
        session.as_cookie(),
        "/staff",
        max_age,
    ) {
        h.append(header::SET_COOKIE, v);
    }
    if let Some(v) = set_cookie(state, SIGNIN_COOKIE, "", "/staff", 0) {
        h.append(header::SET_COOKIE, v);
    }
    r
}

/// `r` with the cookie of a new full account session.
pub fn with_session_cookie(state: &SharedState, mut r: Response, session: &SessionId) -> Response {
    if let Some(v) = set_cookie(
        state,
        SESSION_COOKIE,
        session.as_cookie(),
        "/staff",
        ACCOUNT_SESSION_SECS,
    ) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub async fn signin(State(state): State<SharedState>, request: axum::extract::Request) -> Response {
    let (parts, body) = request.into_parts();
    if csrf::cross_site(&parts.headers) {
        return forged();
    }
    let Some(pairs) = form_pairs(body).await else {
        return signin_form(
            &state,
            Some("The form was too large"),
            "",
            StatusCode::PAYLOAD_TOO_LARGE,
        );
    };
    let sent = csrf::form_field(&pairs, csrf::FIELD).unwrap_or_default();
    if !signin_csrf_ok(&parts.headers, &sent) {
        return forged();
    }
    let field = |k: &str| csrf::form_field(&pairs, k).unwrap_or_default();
    let (username, password, code) = (field("username"), field("password"), field("code"));
    let username = username.trim().to_owned();
    let source = client_addr(&parts, &state.config.trusted_proxies);
    let now = unix_now();
    // Many failures from this address: answer more slowly (never refuse).
    match state.accounts.address_delay(&source, now).await {
        Ok(d) if !d.is_zero() => tokio::time::sleep(d).await,
        Ok(_) => {}
        Err(e) => return error_page(&Problem::internal(e)),
    }
    let outcome = state
        .accounts
        .sign_in(&username, &password, &code, &source, now)
        .await;
    let shown: String = username.chars().take(32).collect();
    let (account, stage, factor) = match outcome {
        Ok(SignedIn::Full { account, factor }) => (account, SessionStage::Full, factor),
        Ok(SignedIn::Enroll { account }) => (account, SessionStage::Enroll, "password"),
        Err(SignInError::Store(e)) => return error_page(&Problem::internal(e)),
        Err(e) => {
            let status = match e {
                SignInError::Locked | SignInError::Disabled => StatusCode::FORBIDDEN,
                SignInError::Replayed => StatusCode::CONFLICT,
                _ => StatusCode::UNAUTHORIZED,
            };
            state
                .metrics
                .auth_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return signin_form(&state, Some(&capitalise(&e.to_string())), &shown, status);
        }
    };
    let session = match state
        .sessions
        .start_account(&account.username, stage, factor, now)
        .await
    {
        Ok(s) => s,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    match stage {
        SessionStage::Full => session_response(&state, &session, "/staff", ACCOUNT_SESSION_SECS),
        SessionStage::Enroll => session_response(&state, &session, "/staff/enroll", ENROLL_SECS),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[derive(Template)]
#[template(path = "session_ended.html")]
struct SessionEndedPage<'a> {
    chrome: Chrome,
    why: &'a str,
}

/// A page saying the session ended and why (401).
pub fn session_ended_page(why: &str) -> Response {
    render(
        StatusCode::UNAUTHORIZED,
        &SessionEndedPage {
            chrome: Chrome::public("Your session has ended"),
            why,
        },
    )
}

// ---------------------------------------------------------------- enrolment

/// An account session at either stage: the enrolment page takes both (a signed-in
/// person may replace their authenticator).
pub struct AccountCookie {
    username: String,
    stage: SessionStage,
    session: SessionId,
}

impl FromRequestParts<SharedState> for AccountCookie {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &SharedState,
    ) -> Result<Self, Response> {
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE).and_then(SessionId::from_cookie)
        else {
            return Err(Redirect::to("/staff/signin").into_response());
        };
        match state.sessions.resolve_account(&session, unix_now()).await {
            Ok(AccountSession::Live { username, stage }) => Ok(AccountCookie {
                username,
                stage,
                session,
            }),
            Ok(AccountSession::Ended { why, .. }) => Err(session_ended_page(&why.message())),
            Ok(AccountSession::Unknown) => Err(Redirect::to("/staff/signin").into_response()),
            Err(e) => Err(error_page(&Problem::internal(e))),
        }
    }
}

#[derive(Template)]
#[template(path = "enroll.html")]
struct EnrollPage<'a> {
    chrome: Chrome,
    error: Option<&'a str>,
    username: &'a str,
    secret: String,
    uri: String,
    csrf_field: &'static str,
    csrf: String,
}

fn enroll_form(
    a: &AccountCookie,
    secret: &[u8],
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    render(
        status,
        &EnrollPage {
            chrome: Chrome::public("Set up your authenticator"),
            error,
            username: &a.username,
            secret: secret_base32(secret),
            uri: otpauth_uri(&a.username, secret),
            csrf_field: csrf::FIELD,
            csrf: a.session.csrf(),
        },
    )
}

pub async fn enroll_page(a: AccountCookie) -> Response {
    enroll_form(&a, &new_secret(), None, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
}

/// Turns the authenticator on: the password (its key is sealed under it) and a code
/// the new secret gives now. Every session of the account ends (a factor changed);
/// this browser gets a new full session and the recovery codes, once.
pub async fn enroll(State(state): State<SharedState>, request: axum::extract::Request) -> Response {
    let (mut parts, body) = request.into_parts();
    if csrf::cross_site(&parts.headers) {
        return forged();
    }
    let a = match AccountCookie::from_request_parts(&mut parts, &state).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let pairs = form_pairs(body).await.unwrap_or_default();
    let field = |k: &str| csrf::form_field(&pairs, k).unwrap_or_default();
    if !a.session.csrf_matches(&field(csrf::FIELD)) {
        return forged();
    }
    let source = client_addr(&parts, &state.config.trusted_proxies);
    let Some(secret) = secret_from_base32(&field("secret")) else {
        return error_page(&Problem::new(
            crate::http::problem::Kind::BadRequest,
            "the enrolment form was altered; open the page again",
        ));
    };
    let now = unix_now();
    let account = match state.accounts.secrets(&a.username).await {
        Ok(Some(acc)) => acc,
        Ok(None) => return error_page(&Problem::not_found("no such account")),
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let password = field("password");
    let step = matching_step(&secret, &field("code"), now);
    let step = match enrolment_proof(&password, &account.password_argon2, step) {
        Ok(step) => step,
        Err(refusal) => return enrolment_refused(&state, &a, &secret, &source, refusal, now).await,
    };
    let codes = match state
        .accounts
        .enroll_totp(&a.username, &secret, &password, step)
        .await
    {
        Ok(c) => c,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let session = match enrolled(&state, &a, &source, codes.len(), now).await {
        Ok(s) => s,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let r = render(
        StatusCode::OK,
        &RecoveryCodesPage {
            chrome: Chrome::public("Your recovery codes"),
            codes,
        },
    );
    with_session_cookie(&state, r, &session)
}

/// Why an enrolment is refused: the access log's outcome and what the page says.
type EnrolmentRefusal = (&'static str, &'static str);

/// The TOTP step an enrolment proved (its code matched `step`), or why it proved none:
/// the account's password must be right and the new secret's code must match.
fn enrolment_proof(password: &str, phc: &str, step: Option<i64>) -> Result<i64, EnrolmentRefusal> {
    if !verify_password(password, phc) {
        return Err(("wrong_password", "That password is not right."));
    }
    step.ok_or((
        "wrong_totp",
        "That code does not match; check the app's clock and type the code it shows now.",
    ))
}

/// A refused enrolment counts as a failed logon and is logged; the form is shown again
/// with the same secret (422).
async fn enrolment_refused(
    state: &SharedState,
    a: &AccountCookie,
    secret: &[u8],
    source: &str,
    (outcome, message): EnrolmentRefusal,
    now: i64,
) -> Response {
    let logged = match state
        .accounts
        .record_failure(&a.username, source, outcome, now)
        .await
    {
        Ok(_) => state
            .access_log
            .append(AccessEntry::new(
                "totp_enrol_failed",
                &account_principal_id(&a.username).0,
                source,
                &a.username,
                outcome,
            ))
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = logged {
        return error_page(&Problem::internal(e));
    }
    enroll_form(a, secret, Some(message), StatusCode::UNPROCESSABLE_ENTITY)
}

/// After the authenticator is enrolled: every session of the account ends, the
/// enrolment is logged, and this browser's full session starts.
async fn enrolled(
    state: &SharedState,
    a: &AccountCookie,
    source: &str,
    recovery_codes: usize,
    now: i64,
) -> Result<SessionId, String> {
    state
        .accounts
        .revoke_sessions(&a.username, "factor_changed", now)
        .await
        .map_err(|e| e.to_string())?;
    let was = if a.stage == SessionStage::Enroll {
        "first enrolment"
    } else {
        "replaced"
    };
    state
        .access_log
        .append(
            AccessEntry::new(
                "totp_enrolled",
                &account_principal_id(&a.username).0,
                source,
                &a.username,
                "ok",
            )
            .with_detail(format!(
                "recovery_codes={recovery_codes}; sessions revoked; was {was}"
            )),
        )
        .await
        .map_err(|e| e.to_string())?;
    state
        .sessions
        .start_account(&a.username, SessionStage::Full, "totp", now)
        .await
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------- own account

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    chrome: Chrome,
    notice: Option<&'a str>,
    account: AccountInfo,
    role: &'static str,
    csrf: String,
}

pub async fn account_page(State(state): State<SharedState>, Staff(p, csrf): Staff) -> Response {
    let Some(username) = &p.account else {
        return error_page(&Problem::not_found(
            "this session is a token's, not an account's; sign in with your account",
        ));
    };
    let account = match state.accounts.get(username).await {
        Ok(Some(a)) => a,
        Ok(None) => return error_page(&Problem::not_found("no such account")),
        Err(e) => return error_page(&Problem::internal(e)),
    };
    with_script_csp(render(
        StatusCode::OK,
        &AccountPage {
            chrome: chrome(&p, &csrf, "Your account"),
            notice: None,
            role: account.role.label(),
            account,
            csrf,
        },
    ))
}

#[derive(Template)]
#[template(path = "password_changed.html")]
struct PasswordChangedPage<'a> {
    chrome: Chrome,
    password: &'a str,
}

/// A person changes their own password: the current one proves it is them; the new one
/// is generated and shown once. Every session of the account ends; this browser gets a
/// new one. A wrong current password counts as a failed logon.
pub async fn change_password(State(state): State<SharedState>, form: StaffForm) -> Response {
    let StaffForm(p, _, pairs) = form;
    let Some(username) = p.account.clone() else {
        return error_page(&Problem::forbidden(
            "only an account (not a token) has a password",
        ));
    };
    let old = csrf::form_field(&pairs, "password").unwrap_or_default();
    let now = unix_now();
    let principal = account_principal_id(&username).0;
    let changed = match state.accounts.change_password(&username, &old, now).await {
        Ok(c) => c,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let Some(new) = changed else {
        if let Err(e) = state
            .accounts
            .record_failure(&username, &p.source, "wrong_password", now)
            .await
        {
            return error_page(&Problem::internal(e));
        }
        return error_page(&Problem::new(
            crate::http::problem::Kind::InvalidInput,
            "that is not your current password; nothing was changed",
        ));
    };
    let finish = async {
        state
            .access_log
            .append(
                AccessEntry::new(
                    "account_password_changed",
                    &principal,
                    &p.source,
                    &username,
                    "ok",
                )
                .with_detail("sessions revoked".into()),
            )
            .await
            .map_err(|e| e.to_string())?;
        state
            .sessions
            .start_account(&username, SessionStage::Full, "password_change", now)
            .await
            .map_err(|e| e.to_string())
    };
    let session = match finish.await {
        Ok(s) => s,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let r = render(
        StatusCode::OK,
        &PasswordChangedPage {
            chrome: Chrome::public("Your new password"),
            password: &new,
        },
    );
    with_session_cookie(&state, r, &session)
}
