//! Staff pages behind a token login: signing in starts a server-side session (see
//! `sessions`), whose random id sits in an HttpOnly, SameSite=Strict cookie, `Secure`
//! when configured. Every form post is checked against cross-site forgery (`csrf`).
//! Pages: compliance dashboard with a chart, case list, case page with timeline and
//! as-of control, annual report preview and download, ledger status.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use icac_projections::report::render::chart::{self, Bar};
use serde::Deserialize;

use super::layout::{document, escape, html};
use crate::http::access_log::AccessEntry;
use crate::http::auth::{Permission, Principal};
use crate::http::csrf;
use crate::http::extract::{authenticate, client_addr, cookie, request_id, LoggedPrincipal};
use crate::http::problem::Problem;
use crate::http::routes::audit::ledger_status_value;
use crate::http::routes::commands::visible_case;
use crate::http::routes::queries::{self, case_summaries, log_read, parse_cut, parse_date, today};
use crate::http::sessions::{constant_time_eq, random_id, SessionId, SESSION_SECS};
use crate::http::SharedState;
use crate::projection::history::case_history;
use crate::projection::views::ViewQueryError;

pub const SESSION_COOKIE: &str = "icac_session";

/// A principal authenticated by the session cookie, with the session's CSRF token for
/// the page's forms; without a live session, the login page.
pub struct Staff(pub Principal, pub String);

pub enum StaffRejection {
    Login,
    Problem(Problem),
}

impl IntoResponse for StaffRejection {
    fn into_response(self) -> Response {
        match self {
            StaffRejection::Login => Redirect::to("/staff/login").into_response(),
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
        match state
            .sessions
            .resolve(&session, &source, &request_id(parts))
            .await
        {
            Ok(Some(p)) => {
                if let Some(slot) = parts.extensions.get::<LoggedPrincipal>() {
                    if let Ok(mut s) = slot.0.lock() {
                        *s = Some(p.id());
                    }
                }
                Ok(Staff(p, session.csrf()))
            }
            Ok(None) => Err(StaffRejection::Login),
            Err(e) => Err(StaffRejection::Problem(Problem::internal(e))),
        }
    }
}

fn error_page(p: &Problem) -> Response {
    html(
        p.status(),
        document(
            p.title,
            "",
            &format!(
                "<h1>{}</h1><p>{}</p><p><a href=\"/staff\">Back to the dashboard</a></p>",
                escape(p.title),
                escape(&p.detail)
            ),
        ),
    )
}

fn nav(p: &Principal, csrf: &str) -> String {
    let mut links = vec![("/staff", "Dashboard")];
    if p.role.allows(Permission::ReadCases) {
        links.push(("/staff/cases", "Cases"));
    }
    if p.role.allows(Permission::ReadAggregates) {
        links.push(("/staff/annual-report", "Annual report"));
    }
    if p.role.allows(Permission::ReadLedgerStatus) {
        links.push(("/staff/ledger", "Ledger status"));
    }
    let items: String = links
        .iter()
        .map(|(h, t)| format!("<a href=\"{h}\">{t}</a>"))
        .collect();
    format!(
        "<nav class=\"staff\" aria-label=\"Staff\">{items}<span>Signed in as {} ({})</span>\
<form method=\"post\" action=\"/staff/logout\" style=\"display:inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\" style=\"padding:.1rem .6rem\">Sign out</button></form></nav>",
        escape(&p.name),
        escape(p.role.label()),
        escape(csrf),
    )
}

fn page(p: &Principal, csrf: &str, title: &str, body: &str) -> Response {
    html(StatusCode::OK, document(title, &nav(p, csrf), body))
}

fn require(p: &Principal, perm: Permission) -> Result<(), Response> {
    p.require(perm).map_err(|e| error_page(&e))
}

// ---------------------------------------------------------------- login

/// A `Set-Cookie` value: HttpOnly and SameSite=Strict always, `Secure` when configured.
fn set_cookie(
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

/// The login form with a fresh double-submit CSRF value (cookie and hidden field).
fn login_form(state: &SharedState, error: Option<&str>, status: StatusCode) -> Response {
    let err = error
        .map(|e| format!("<div class=\"error-summary\" role=\"alert\"><h2>There is a problem</h2><ul><li><a href=\"#token\">{}</a></li></ul></div>", escape(e)))
        .unwrap_or_default();
    let csrf_value = random_id();
    let mut r = html(
        status,
        document(
            "Staff sign in",
            "",
            &format!(
                "<h1>Staff sign in</h1>{err}<form method=\"post\" action=\"/staff/login\">\
<input type=\"hidden\" name=\"{field}\" value=\"{csrf_value}\">\
<label for=\"token\">Access token</label><p class=\"hint\" id=\"token-hint\">Issued by your administrator with <code>icac-ledger tokens issue</code>.</p>\
<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" aria-describedby=\"token-hint\" required>\
<p><button type=\"submit\">Sign in</button></p></form>",
                field = csrf::FIELD,
            ),
        ),
    );
    if let Some(v) = set_cookie(state, csrf::LOGIN_COOKIE, &csrf_value, "/staff/login", 3600) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn forged() -> Response {
    error_page(&Problem::forbidden(
        "this form was not sent from this site's own page (cross-site request refused); open the page again and resend",
    ))
}

/// Reads an urlencoded form body of at most 4 KiB.
async fn form_pairs(body: axum::body::Body) -> Option<Vec<(String, String)>> {
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

// ---------------------------------------------------------------- dashboard

#[derive(Debug, Deserialize)]
pub struct AsOfQuery {
    pub as_of: Option<String>,
}

pub async fn dashboard(
    State(state): State<SharedState>,
    Staff(p, csrf): Staff,
    Query(q): Query<AsOfQuery>,
) -> Response {
    let see_per_case = p.role.allows(Permission::ReadCompliance);
    if !see_per_case && !p.role.allows(Permission::ReadAggregates) {
        let body = format!(
            "<h1>Welcome, {}</h1><p>Your role ({}) has no compliance view. Use the links above.</p>",
            escape(&p.name),
            escape(p.role.label())
        );
        return page(&p, &csrf, "Dashboard", &body);
    }
    let as_of = match parse_date("as_of", q.as_of.as_deref()) {
        Ok(d) => d,
        Err(e) => return error_page(&e),
    };
    if let Err(e) = state.fresh_views().await {
        return error_page(&e);
    }
    let unit = if p.role.is_unit_bound() {
        p.unit.clone()
    } else {
        None
    };
    let report = match state
        .projections
        .compliance_counts(as_of, unit.as_ref(), &state.config.deadline_policy)
        .await
    {
        Ok(r) => r,
        Err(ViewQueryError::Deadline(e)) => {
            return error_page(&Problem::field("/as_of", e.to_string()))
        }
        Err(ViewQueryError::Projection(e)) => return error_page(&Problem::internal(e)),
    };
    let sharing = match state
        .projections
        .sharing(as_of, unit.as_ref(), &state.config.sharing_policy, false)
        .await
    {
        Ok(r) => r.total,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let unacknowledged = match state.projections.tips().await {
        Ok(tips) => tips
            .iter()
            .filter(|t| t.status == icac_projections::tips::TipStatus::UnacknowledgedDissemination)
            .filter(|t| unit.is_none() || t.disseminated_to == unit)
            .count(),
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let t = &report.total;
    let link = |status: &str, n: u64, label: &str| {
        if see_per_case && p.role.allows(Permission::ReadCases) {
            format!("<div class=\"card\"><div class=\"v\"><a href=\"/staff/cases?compliance={status}&amp;as_of={as_of}\" id=\"card-{status}\">{n}</a></div>{label}</div>")
        } else {
            format!("<div class=\"card\"><div class=\"v\">{n}</div>{label}</div>")
        }
    };
    let cards = [
        link("overdue", t.overdue, "Overdue"),
        link("due_soon", t.due_soon, "Due soon"),
        link("pending", t.pending, "Pending"),
        link("late", t.late, "Filed late"),
        link("on_time", t.on_time, "On time"),
    ]
    .concat();
    let bars = vec![
        Bar {
            label: "On time".into(),
            parts: vec![t.on_time],
        },
        Bar {
            label: "Late".into(),
            parts: vec![t.late],
        },
        Bar {
            label: "Pending".into(),
            parts: vec![t.pending],
        },
        Bar {
            label: "Due soon".into(),
            parts: vec![t.due_soon],
        },
        Bar {
            label: "Overdue".into(),
            parts: vec![t.overdue],
        },
    ];
    let svg = chart::columns("Notifications by 14-day status", &bars);
    let mut units: Vec<_> = report.units.iter().filter(|u| u.unit.is_some()).collect();
    units.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(b.due_soon.cmp(&a.due_soon)));
    let rows: String = units
        .iter()
        .take(60)
        .map(|u| {
            let ori = u.unit.as_ref().map(|o| o.to_string()).unwrap_or_default();
            let overdue = if see_per_case && u.overdue > 0 && p.role.allows(Permission::ReadCases) {
                format!("<a href=\"/staff/cases?compliance=overdue&amp;unit={o}&amp;as_of={as_of}\">{n}</a>", o = escape(&ori), n = u.overdue)
            } else {
                u.overdue.to_string()
            };
            format!(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{overdue}</td><td class=\"n\">{}</td></tr>",
                escape(&ori), u.notifications, u.on_time, u.late, u.pending, u.due_soon, u.incomplete_form
            )
        })
        .collect();
    let scope = match &unit {
        Some(u) => format!("unit {}", escape(u.as_str())),
        None => "all units".to_owned(),
    };
    let body = format!(
        "<h1>14-day compliance</h1><p>Notifications under C.G.S. 29-7e(c) for {scope}, as of {as_of}.</p><p class=\"hint\" id=\"deadline-policy\">{policy}</p>\
<form method=\"get\" action=\"/staff\"><label for=\"as_of\">As of date</label><input type=\"date\" id=\"as_of\" name=\"as_of\" value=\"{as_of}\"> <button type=\"submit\">Show</button></form>\
<div class=\"cards\">{cards}</div>\
<h2>Continued sharing</h2><p class=\"hint\">An update from the unit every {cadence} days on an open case, and after an arrest or the closure (29-7e(c)).</p>\
<div class=\"cards\"><div class=\"card\"><div class=\"v\" id=\"sharing-current\">{sc}</div>Current</div><div class=\"card\"><div class=\"v\" id=\"sharing-due-soon\">{sd}</div>Update due soon</div><div class=\"card\"><div class=\"v\" id=\"sharing-overdue\">{so}</div>Update overdue</div><div class=\"card\"><div class=\"v\" id=\"tips-unacknowledged\">{ua}</div>Unacknowledged dissemination</div></div><figure>{svg}<figcaption class=\"hint\">{n} notifications; {inc} with an incomplete form.</figcaption></figure>\
<h2>By unit</h2><table><thead><tr><th>Unit</th><th class=\"n\">Notifications</th><th class=\"n\">On time</th><th class=\"n\">Late</th><th class=\"n\">Pending</th><th class=\"n\">Due soon</th><th class=\"n\">Overdue</th><th class=\"n\">Incomplete form</th></tr></thead><tbody>{rows}</tbody></table>",
        n = t.notifications,
        inc = t.incomplete_form,
        policy = escape(&report.policy_statement),
        cadence = state.config.sharing_policy.default_cadence_days,
        sc = sharing.current,
        sd = sharing.due_soon,
        so = sharing.overdue,
        ua = unacknowledged,
    );
    page(&p, &csrf, "Compliance dashboard", &body)
}

// ---------------------------------------------------------------- cases

#[derive(Debug, Deserialize)]
pub struct CasesQuery {
    pub unit: Option<String>,
    pub compliance: Option<String>,
    pub as_of: Option<String>,
}

pub async fn cases(
    State(state): State<SharedState>,
    Staff(p, csrf): Staff,
    Query(q): Query<CasesQuery>,
) -> Response {
    if let Err(r) = require(&p, Permission::ReadCases) {
        return r;
    }
    let as_of = match parse_date("as_of", q.as_of.as_deref()) {
        Ok(d) => d,
        Err(e) => return error_page(&e),
    };
    let compliance = q
        .compliance
        .as_deref()
        .filter(|c| ["overdue", "due_soon", "pending", "late", "on_time"].contains(c));
    let (total, list) = match case_summaries(
        &state,
        &p,
        q.unit.as_deref(),
        compliance,
        as_of,
        0,
        queries::MAX_LIMIT,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return error_page(&e),
    };
    if let Err(e) = log_read(&state, &p, "case_list", q.unit.as_deref().unwrap_or("*")).await {
        return error_page(&e);
    }
    let rows: String = list
        .iter()
        .map(|c| {
            let tag = c
                .compliance
                .as_deref()
                .map(|s| format!("<span class=\"tag {s}\">{}</span>", escape(c.compliance_label.as_deref().unwrap_or(s))))
                .unwrap_or_default();
            format!(
                "<tr><td><a href=\"/staff/cases/{id}?as_of={as_of}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{tag}</td><td>{}</td></tr>",
                escape(&c.reporting_unit),
                c.received_on,
                escape(c.status.as_deref().unwrap_or("complaint")),
                c.due_on.map(|d| d.to_string()).unwrap_or_default(),
                id = escape(&c.case_id),
            )
        })
        .collect();
    let filter = compliance
        .map(|c| format!(" — {}", escape(&c.replace('_', " "))))
        .unwrap_or_default();
    let body = format!(
        "<h1>Cases{filter}</h1><p>{} case(s) as of {as_of}.</p>\
<table id=\"cases\"><thead><tr><th>Case</th><th>Unit</th><th>Received</th><th>Status</th><th>14-day rule</th><th>Due</th></tr></thead><tbody>{rows}</tbody></table>",
        total
    );
    page(&p, &csrf, "Cases", &body)
}

#[derive(Debug, Deserialize)]
pub struct CasePageQuery {
    pub as_of: Option<String>,
}

/// Downloads the case's filing receipt (the staff page's link to `tlog::receipt`).
pub async fn case_receipt(
    State(state): State<SharedState>,
    Staff(p, _csrf): Staff,
    Path(raw): Path<String>,
) -> Response {
    if let Err(r) = require(&p, Permission::ReadCases) {
        return r;
    }
    match crate::http::routes::tlog::receipt(State(state), p, Path(raw)).await {
        Ok(r) => r,
        Err(e) => error_page(&e),
    }
}

pub async fn case_page(
    State(state): State<SharedState>,
    Staff(p, csrf): Staff,
    Path(raw): Path<String>,
    Query(q): Query<CasePageQuery>,
) -> Response {
    if let Err(r) = require(&p, Permission::ReadCases) {
        return r;
    }
    let case_id = match visible_case(&state, &p, &raw).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let cut = match parse_cut(q.as_of.as_deref(), None) {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let history = match case_history(state.ledger.storage(), state.ledger.id(), &case_id, cut).await
    {
        Ok(h) => h,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    if let Err(e) = log_read(&state, &p, "case_read", case_id.as_str()).await {
        return error_page(&e);
    }
    let entries: String = history
        .entries
        .iter()
        .map(|e| {
            let v = serde_json::to_value(e).unwrap_or_default();
            let when = v.get("recorded_at").and_then(|x| x.as_str()).unwrap_or("");
            let what = v.get("event_type").or_else(|| v.get("event")).and_then(|x| x.as_str()).unwrap_or("event");
            let summary = v.get("summary").and_then(|x| x.as_str()).unwrap_or("");
            let pos = v.get("position").map(|x| x.to_string()).unwrap_or_default();
            format!(
                "<li><strong>{}</strong> — {} <span class=\"hint\">{} · ledger position {}</span></li>",
                escape(what),
                escape(summary),
                escape(when),
                escape(pos.trim_matches('"'))
            )
        })
        .collect();
    let personal = match personal_section(&state, &p, &history, &case_id).await {
        Ok(html) => html,
        Err(e) => return error_page(&e),
    };
    let view = history.view.as_ref();
    let status = view
        .and_then(|v| v.status)
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "complaint only".into());
    let compliance = view.and_then(|v| {
        let asof = match q
            .as_of
            .as_deref()
            .and_then(|s| s.get(..10))
            .and_then(|s| s.parse().ok())
        {
            Some(d) => d,
            None => today(),
        };
        icac_projections::compliance::assess_case(v, asof, &state.config.deadline_policy)
            .ok()
            .flatten()
    });
    let comp_html = compliance
        .map(|c| {
            format!(
                "<p>14-day rule: <strong>{}</strong>, due {}</p>",
                escape(&c.label),
                c.due_on
            )
        })
        .unwrap_or_default();
    let as_of_val = q.as_of.as_deref().unwrap_or("");
    let details = match view {
        Some(v) => format!(
            "<table><tbody><tr><th>Reporting unit</th><td>{}</td></tr><tr><th>Received</th><td>{}</td></tr><tr><th>Source</th><td>{}</td></tr>\
<tr><th>Status</th><td>{}</td></tr><tr><th>Urgent</th><td>{}</td></tr><tr><th>Assignments</th><td>{}</td></tr><tr><th>Arrests</th><td>{}</td></tr><tr><th>Shares</th><td>{}</td></tr><tr><th>Last ledger position</th><td class=\"mono\">{} · {}</td></tr></tbody></table>",
            escape(v.reporting_unit.as_str()),
            v.received_on,
            escape(&serde_json::to_value(v.source).ok().and_then(|x| x.as_str().map(str::to_owned)).unwrap_or_default()),
            escape(&status),
            if v.urgent { "yes" } else { "no" },
            v.assignments.len(),
            v.arrests.len(),
            v.shares.len(),
            v.last_position,
            escape(&v.last_hash.to_string()),
        ),
        None => "<p>The case did not exist yet at that moment.</p>".to_owned(),
    };
    let body = format!(
        "<h1>Case <span class=\"mono\">{id}</span></h1>\
<form method=\"get\" action=\"/staff/cases/{id}\"><label for=\"as_of\">Show the case as it stood on (date, or RFC 3339 instant)</label>\
<input type=\"text\" id=\"as_of\" name=\"as_of\" value=\"{asof}\" placeholder=\"YYYY-MM-DD\"> <button type=\"submit\">Replay</button> <a href=\"/staff/cases/{id}\">Now</a></form>\
{comp_html}{details}{receipt}{personal}<h2>Timeline</h2><ol class=\"timeline\" id=\"timeline\">{entries}</ol>",
        id = escape(case_id.as_str()),
        asof = escape(as_of_val),
        receipt = match (&state.config.tlog_dir, state.publication.published_size()) {
            (Some(_), Some(size)) => format!(
                "<p id=\"receipt\">Filing receipt: <a href=\"/staff/cases/{}/receipt\">download (C2SP tlog-proof)</a> once a witnessed checkpoint covers the filing (the latest covers {size} events).</p>",
                escape(case_id.as_str())
            ),
            (Some(_), None) => "<p id=\"receipt\">Filing receipt: awaiting the first witnessed checkpoint.</p>".into(),
            (None, _) => String::new(),
        },
    );
    page(&p, &csrf, &format!("Case {}", case_id.as_str()), &body)
}

/// The case's sealed personal values: the values themselves for a role that may see
/// them (the reveal is access-logged by `reveal_for`), `[sealed]` with the commitment for
/// every other role, `[erased]` where a lawful erasure destroyed one.
async fn personal_section(
    state: &SharedState,
    p: &Principal,
    history: &icac_projections::history::CaseHistory,
    case_id: &icac_aggregates::ids::CaseId,
) -> Result<String, Problem> {
    let mut doc = serde_json::to_value(history).map_err(Problem::internal)?;
    let ids = [case_id.as_str().to_owned()];
    queries::reveal_for(state, p, &mut doc, case_id.as_str(), ("case", &ids)).await?;
    let mut rows = Vec::new();
    sealed_rows(&doc, &mut String::new(), &mut rows);
    if rows.is_empty() {
        return Ok(String::new());
    }
    let body: String = rows
        .iter()
        .map(|(field, shown)| {
            format!(
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(field),
                escape(shown)
            )
        })
        .collect();
    Ok(format!(
        "<h2>Personal details</h2><p class=\"hint\">Sealed out of the ledger; shown only to investigators and supervisors, and every view is logged.</p>\
<table id=\"personal\"><tbody>{body}</tbody></table>"
    ))
}

/// (field, what to show) for each sealed value in `v`, labelled by where it sits in its
/// event (e.g. "officer › phone").
fn sealed_rows(v: &serde_json::Value, path: &mut String, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    match v {
        Value::Object(map) if map.contains_key("sealed") => {
            let field = path
                .split('/')
                .filter(|s| !s.is_empty() && s.parse::<usize>().is_err())
                .skip_while(|s| !s.chars().next().is_some_and(char::is_uppercase))
                .skip(1)
                .collect::<Vec<_>>()
                .join(" › ");
            let shown = match (map.get("value"), map.get("erased")) {
                (Some(Value::String(s)), _) => s.clone(),
                (Some(other), _) => other.to_string(),
                (None, Some(_)) => "[erased]".to_owned(),
                (None, None) => format!(
                    "[sealed] {}",
                    map.get("sealed")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                ),
            };
            out.push((field, shown));
        }
        Value::Object(map) => {
            for (k, child) in map {
                let len = path.len();
                path.push('/');
                path.push_str(k);
                sealed_rows(child, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("/{i}"));
                sealed_rows(child, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- annual report

#[derive(Debug, Deserialize)]
pub struct AnnualPageQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub format: Option<String>,
    pub download: Option<String>,
}

pub async fn annual(
    State(state): State<SharedState>,
    Staff(p, csrf): Staff,
    Query(q): Query<AnnualPageQuery>,
) -> Response {
    if let Err(r) = require(&p, Permission::ReadAggregates) {
        return r;
    }
    let aq = queries::AnnualQuery {
        from: q.from.clone().filter(|s| !s.is_empty()),
        to: q.to.clone().filter(|s| !s.is_empty()),
        suppression_threshold: None,
        at_position: None,
        format: None,
        roll_to_business_day: None,
        saturday_to_friday: None,
        due_soon_days: None,
    };
    let report = match queries::build_annual(&state, &p, &aq).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    use icac_projections::report::render;
    if let Some(fmt) = q.format.as_deref() {
        let (ct, text) = match fmt {
            "html" => ("text/html; charset=utf-8", render::html::render(&report)),
            "csv" => ("text/csv; charset=utf-8", render::csv::render(&report)),
            "md" => ("text/markdown; charset=utf-8", render::md::render(&report)),
            "json" => match render::json::render(&report) {
                Ok(t) => ("application/json", t),
                Err(e) => return error_page(&Problem::internal(e)),
            },
            _ => return error_page(&Problem::field("/format", "must be html, csv, md or json")),
        };
        let disposition = if q.download.is_some() {
            "attachment"
        } else {
            "inline"
        };
        return (
            [
                (header::CONTENT_TYPE, ct.to_owned()),
                (header::CACHE_CONTROL, "no-store".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!(
                        "{disposition}; filename=\"icac-annual-report-{}.{fmt}\"",
                        report.attestation.position
                    ),
                ),
            ],
            text,
        )
            .into_response();
    }
    let qs = format!(
        "from={}&amp;to={}",
        escape(q.from.as_deref().unwrap_or("")),
        escape(q.to.as_deref().unwrap_or(""))
    );
    let body = format!(
        "<h1>Annual report (C.G.S. 29-7e(d))</h1>\
<form method=\"get\" action=\"/staff/annual-report\"><label for=\"from\">From</label><input type=\"date\" id=\"from\" name=\"from\" value=\"{f}\">\
<label for=\"to\">To</label><input type=\"date\" id=\"to\" name=\"to\" value=\"{t}\"> <button type=\"submit\">Preview</button></form>\
<p>Attested at ledger position {pos}. Download: <a href=\"/staff/annual-report?{qs}&amp;format=html&amp;download=1\">HTML</a> · \
<a href=\"/staff/annual-report?{qs}&amp;format=csv&amp;download=1\">CSV</a> · <a href=\"/staff/annual-report?{qs}&amp;format=md&amp;download=1\">Markdown</a> · \
<a href=\"/staff/annual-report?{qs}&amp;format=json&amp;download=1\">JSON</a></p>\
<iframe title=\"Annual report preview\" src=\"/staff/annual-report?{qs}&amp;format=html\" style=\"width:100%;height:70vh;border:1px solid #ccc\"></iframe>",
        f = escape(q.from.as_deref().unwrap_or("")),
        t = escape(q.to.as_deref().unwrap_or("")),
        pos = report.attestation.position,
    );
    page(&p, &csrf, "Annual report", &body)
}

// ---------------------------------------------------------------- ledger status

/// The ledger page's line on witnessed publication (issue 16): age and alert.
fn witnessed_row(w: &crate::tlog::publisher::PublicationSnapshot) -> String {
    if !w.configured {
        return String::new();
    }
    let alert = w
        .alert_reason
        .as_deref()
        .map(|r| {
            format!(
                " <strong class=\"alert\" id=\"witness-alert\">ALERT: {}</strong>",
                escape(r)
            )
        })
        .unwrap_or_default();
    format!(
        "<tr><th>Last witnessed checkpoint</th><td id=\"witnessed\">size {}, {} s ago (quorum {}){alert}</td></tr>",
        w.published_size.map_or("none".into(), |s| s.to_string()),
        w.seconds_since_witnessed.unwrap_or(0),
        escape(&w.quorum)
    )
}

pub async fn ledger(State(state): State<SharedState>, Staff(p, csrf): Staff) -> Response {
    if let Err(r) = require(&p, Permission::ReadLedgerStatus) {
        return r;
    }
    let v = match ledger_status_value(&state).await {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let get = |k: &str| {
        v.get(k)
            .map(|x| x.to_string().trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    let cp = v
        .get("last_checkpoint")
        .filter(|c| !c.is_null())
        .map(|c| {
            format!(
                "size {} at {}",
                c["size"],
                escape(c["created_at"].as_str().unwrap_or(""))
            )
        })
        .unwrap_or_else(|| "none yet".into());
    let lv = v
        .get("last_verification")
        .filter(|c| !c.is_null())
        .map(|c| {
            format!(
                "{} at {} ({} events)",
                if c["intact"].as_bool() == Some(true) {
                    "intact"
                } else {
                    "BROKEN"
                },
                escape(c["at"].as_str().unwrap_or("")),
                c["events"]
            )
        })
        .unwrap_or_else(|| "not run since the server started".into());
    let al = v
        .get("access_log")
        .map(|a| {
            format!(
                "{} entries, {}",
                a["entries"],
                if a["valid"].as_bool() == Some(true) {
                    "chain valid"
                } else {
                    "CHAIN BROKEN"
                }
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Ledger status</h1><table><tbody>\
<tr><th>Ledger</th><td>{}</td></tr><tr><th>Database</th><td>{}</td></tr><tr><th>Size (events)</th><td id=\"size\">{}</td></tr>\
<tr><th>Head hash</th><td class=\"mono\">{}</td></tr><tr><th>Last recorded</th><td>{}</td></tr>\
<tr><th>Last checkpoint</th><td>{cp}</td></tr><tr><th>Last verification</th><td>{lv}</td></tr><tr><th>Access log</th><td>{al}</td></tr>\
<tr><th>Read models at position</th><td>{}</td></tr>{}</tbody></table>",
        escape(&get("ledger_id")),
        escape(&get("database")),
        escape(&get("size")),
        escape(&get("head")),
        escape(&get("last_recorded_at")),
        escape(&get("projection_position")),
        witnessed_row(&state.publication.snapshot(std::time::SystemTime::now())),
    );
    page(&p, &csrf, "Ledger status", &body)
}
