//! The standardized notification on the web, for unit reporters (and Task Force staff
//! filing for a unit): every field of the current form version in the domain brief's
//! groups, validated on the server by the same rules and messages as the API
//! (`commands::filing`), each error beside its field by JSON Pointer. It works without
//! JavaScript. Drafts are kept per token outside the ledger (`web_forms`) and deleted
//! when the form is filed; a form sent twice files once.
//!
//! With JavaScript, the page's script (`assets`) posts the form to [`check`] as it is
//! typed: the same fields-to-JSON mapping and the same validation as filing, nothing
//! written, every error with its pointer, which the script shows beside its field.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use icac_aggregates::catalog::Catalog;
use icac_aggregates::form::FieldError;
use jiff::Timestamp;
use serde_json::Value;

use super::assets::{allow_own_script, NOTIFICATION_JS};
use super::dashboard::unit_name;
use super::form_spec::{
    field_id, pointer_words, schema_help, sections, to_json, Control, Posted, SectionSpec,
};
use super::layout::{render, Chrome};
use super::staff::{chrome, error_page, require, Staff, StaffForm};
use crate::access::auth::{Permission, Principal};
use crate::commands::filing::{file_notification, validate_notification};
use crate::commands::CommandError;
use crate::http::problem::{Kind, Problem};
use crate::http::sessions::random_id;
use crate::http::web_forms::Claim;
use crate::http::SharedState;

/// One control as the template shows it.
pub struct FieldView {
    pub id: String,
    pub name: String,
    pub label: String,
    pub hint: String,
    pub control: Control,
    pub input_type: &'static str,
    pub value: String,
    pub checked: bool,
    /// (value, label, selected)
    pub options: Vec<(String, String, bool)>,
    pub error: Option<String>,
    pub describedby: String,
    pub autocomplete: &'static str,
}

pub struct RowView {
    id: String,
    legend: String,
    errors: Vec<String>,
    fields: Vec<FieldView>,
}

pub struct SectionView {
    id: &'static str,
    legend: &'static str,
    hint: &'static str,
    /// Errors at the section's own pointer (or an unknown one inside it).
    errors: Vec<String>,
    fields: Vec<FieldView>,
    rows: Vec<RowView>,
    /// (list pointer, rows shown, row noun, bound)
    add: Option<(&'static str, usize, String, usize)>,
}

#[derive(Template)]
#[template(path = "notification.html")]
struct NotificationPage {
    chrome: Chrome,
    csrf: String,
    submission: String,
    notice: Option<String>,
    fixed_unit: Option<String>,
    /// (field id to jump to, message)
    errors: Vec<(String, String)>,
    sections: Vec<SectionView>,
    /// The check-as-you-type script, and where it posts the form.
    script: &'static str,
    check: &'static str,
}

/// Where the page's script posts the form to be checked ([`check`]).
pub const CHECK_PATH: &str = "/staff/notifications/check";

fn field_view(
    spec: &super::form_spec::FieldSpec,
    pointer: &str,
    posted: &Posted,
    errors: &[FieldError],
    schema: &Value,
) -> FieldView {
    let id = field_id(pointer);
    let error = errors
        .iter()
        .filter(|e| {
            e.pointer == pointer
                || (spec.control == Control::Checkboxes
                    && e.pointer.starts_with(&format!("{pointer}/")))
        })
        .map(|e| e.message.clone())
        .reduce(|a, b| format!("{a}; {b}"));
    let hint = if spec.hint.is_empty() {
        schema_help(schema, pointer)
    } else {
        spec.hint.to_owned()
    };
    let mut describedby = Vec::new();
    if !hint.is_empty() {
        describedby.push(format!("{id}-hint"));
    }
    if error.is_some() {
        describedby.push(format!("{id}-error"));
    }
    let chosen = posted.all(pointer);
    FieldView {
        name: pointer.to_owned(),
        label: spec.label.clone(),
        control: spec.control,
        input_type: match spec.control {
            Control::Date => "date",
            Control::Time => "time",
            Control::Number => "number",
            Control::Email => "email",
            Control::Tel => "tel",
            _ => "text",
        },
        value: posted.get(pointer).to_owned(),
        checked: posted.checked(pointer),
        options: spec
            .options
            .iter()
            .map(|(v, l)| (v.clone(), l.clone(), chosen.contains(&v.as_str())))
            .collect(),
        error,
        describedby: describedby.join(" "),
        autocomplete: spec.autocomplete,
        hint,
        id,
    }
}

/// Every field shown: (pointer, label as the error summary names it).
type Claimed = Vec<(String, String)>;

fn section_view(
    spec: &SectionSpec,
    posted: &Posted,
    errors: &[FieldError],
    schema: &Value,
    claimed: &mut Claimed,
) -> SectionView {
    let (fields, rows, add) = match spec.list {
        None => (
            spec.fields
                .iter()
                .map(|f| field_view(f, &f.pointer, posted, errors, schema))
                .collect(),
            Vec::new(),
            None,
        ),
        Some((list, noun, bound)) => {
            let n = posted.rows(list, bound);
            let rows = (0..n)
                .map(|i| {
                    let base = format!("{list}/{i}");
                    let fields: Vec<FieldView> = spec
                        .fields
                        .iter()
                        .map(|f| {
                            field_view(f, &format!("{base}/{}", f.pointer), posted, errors, schema)
                        })
                        .collect();
                    let errors = errors
                        .iter()
                        .filter(|e| e.pointer == base)
                        .map(|e| e.message.clone())
                        .collect();
                    RowView {
                        id: field_id(&base),
                        legend: format!("{noun} {}", i + 1),
                        errors,
                        fields,
                    }
                })
                .collect();
            (
                Vec::new(),
                rows,
                Some((list, n, noun.to_lowercase(), bound)),
            )
        }
    };
    let own: Vec<String> = errors
        .iter()
        .filter(|e| spec.list.is_some_and(|(l, _, _)| e.pointer == l))
        .map(|e| e.message.clone())
        .collect();
    claimed.extend(fields.iter().map(|f| (f.name.clone(), f.label.clone())));
    for r in &rows {
        claimed.extend(r.fields.iter().map(|f| {
            (
                f.name.clone(),
                format!("{}, {}", r.legend, f.label.to_lowercase()),
            )
        }));
    }
    SectionView {
        id: spec.id,
        legend: spec.legend,
        hint: spec.hint,
        errors: own,
        fields,
        rows,
        add,
    }
}

/// Where the error summary links an error: its field, else the nearest group.
fn anchor(pointer: &str, fields: &Claimed) -> String {
    let mut p = pointer.to_owned();
    loop {
        if fields.iter().any(|(f, _)| *f == p) {
            return field_id(&p);
        }
        match p.rfind('/') {
            Some(i) if i > 0 => p.truncate(i),
            _ => return "notification-form".into(),
        }
    }
}

struct FormContext<'a> {
    state: &'a SharedState,
    p: &'a Principal,
    csrf: &'a str,
}

async fn show_form(
    cx: &FormContext<'_>,
    status: StatusCode,
    posted: &Posted,
    errors: &[FieldError],
    notice: Option<String>,
) -> Response {
    let catalog = match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let schema: Value = icac_aggregates::form::schema::notification_schema()
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let units = match (&cx.p.unit, cx.p.role.is_unit_bound()) {
        (Some(_), true) => Vec::new(),
        _ => {
            let listed = match cx.state.projections.units().await {
                Ok(u) => u,
                Err(e) => return error_page(&Problem::internal(e)),
            };
            let mut all: Vec<(String, String)> = listed
                .into_iter()
                .filter(|u| u.active)
                .map(|u| (u.ori.to_string(), format!("{} ({})", u.name, u.ori)))
                .collect();
            all.sort_by(|a, b| a.1.cmp(&b.1));
            all
        }
    };
    let mut claimed = Vec::new();
    let sections: Vec<SectionView> = sections(catalog, units)
        .iter()
        .map(|s| section_view(s, posted, errors, &schema, &mut claimed))
        .collect();
    let summary = errors
        .iter()
        .map(|e| {
            let target = anchor(&e.pointer, &claimed);
            let name = claimed
                .iter()
                .find(|(f, _)| *f == e.pointer)
                .map_or_else(|| pointer_words(&e.pointer), |(_, label)| label.clone());
            let text = format!("{name}: {}", e.message);
            (target, text)
        })
        .collect();
    let submission = match posted.get("submission") {
        s if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => s.to_owned(),
        _ => random_id(),
    };
    let title = if errors.is_empty() {
        "File a notification".to_owned()
    } else {
        "Error: File a notification".to_owned()
    };
    allow_own_script(render(
        status,
        &NotificationPage {
            chrome: chrome(cx.p, cx.csrf, title),
            csrf: cx.csrf.to_owned(),
            submission,
            notice,
            fixed_unit: match (&cx.p.unit, cx.p.role.is_unit_bound()) {
                (Some(u), true) => Some(format!("{} ({u})", unit_name(cx.state, u))),
                _ => None,
            },
            errors: summary,
            sections,
            script: NOTIFICATION_JS,
            check: CHECK_PATH,
        },
    ))
}

/// The owner of drafts and submissions: the token (one person's credential).
fn owner(p: &Principal) -> String {
    p.token_id.0.clone()
}

pub async fn new_form(State(state): State<SharedState>, Staff(p, csrf): Staff) -> Response {
    if let Err(r) = require(&p, Permission::FileForUnit) {
        return r;
    }
    let draft = match state.web_forms.draft(&owner(&p)).await {
        Ok(d) => d,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let cx = FormContext {
        state: &state,
        p: &p,
        csrf: &csrf,
    };
    match draft {
        Some(body) => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_str(&body).unwrap_or_default();
            show_form(&cx, StatusCode::OK, &Posted(pairs), &[], Some("Your saved draft is below. It is not filed until you choose File notification.".into())).await
        }
        None => show_form(&cx, StatusCode::OK, &Posted(Vec::new()), &[], None).await,
    }
}

/// What is kept of a posted form as a draft: every field but the CSRF token and the
/// button pressed.
fn draft_body(posted: &Posted) -> String {
    let keep: Vec<&(String, String)> = posted
        .0
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "action")
        .collect();
    serde_urlencoded::to_string(keep).unwrap_or_default()
}

pub async fn submit(
    State(state): State<SharedState>,
    StaffForm(p, csrf, pairs): StaffForm,
) -> Response {
    if let Err(r) = require(&p, Permission::FileForUnit) {
        return r;
    }
    let mut posted = Posted(pairs);
    let cx = FormContext {
        state: &state,
        p: &p,
        csrf: &csrf,
    };
    let action = posted.get("action").to_owned();
    if let Some(list) = action.strip_prefix("add") {
        // One more row of a list: the page again, nothing saved or filed.
        let key = format!("rows{list}");
        let n = posted.get(&key).parse::<usize>().unwrap_or(1) + 1;
        posted.0.retain(|(k, _)| *k != key);
        posted.0.push((key, n.to_string()));
        return show_form(&cx, StatusCode::OK, &posted, &[], None).await;
    }
    if action == "save" {
        return match state
            .web_forms
            .save_draft(&owner(&p), &draft_body(&posted))
            .await
        {
            Ok(()) => {
                show_form(
                    &cx,
                    StatusCode::OK,
                    &posted,
                    &[],
                    Some("Draft saved. It is kept for you only and is not a filing.".into()),
                )
                .await
            }
            Err(e) => error_page(&Problem::internal(e)),
        };
    }
    file(&cx, &posted).await
}

async fn file(cx: &FormContext<'_>, posted: &Posted) -> Response {
    let (state, p) = (cx.state, cx.p);
    let submission = posted.get("submission").to_owned();
    if submission.len() != 64 || !submission.bytes().all(|b| b.is_ascii_hexdigit()) {
        return show_form(
            cx,
            StatusCode::BAD_REQUEST,
            posted,
            &[],
            Some("The form was incomplete; check it and file again.".into()),
        )
        .await;
    }
    let unit = match (&p.unit, p.role.is_unit_bound()) {
        (Some(u), true) => Some(u.to_string()),
        _ => None,
    };
    let raw = to_json(posted, unit.as_deref());
    match state.web_forms.claim(&owner(p), &submission).await {
        Ok(Claim::New) => {}
        Ok(Claim::Filed(case)) => return filed_redirect(&case, true),
        Ok(Claim::InFlight) => {
            return show_form(cx, StatusCode::CONFLICT, posted, &[], Some("This form is being filed by another request right now. Open your case list in a moment to see it.".into())).await
        }
        Err(e) => return error_page(&Problem::internal(e)),
    }
    let outcome = file_notification(&state.commands, &raw, &p.actor(), Timestamp::now()).await;
    let failure: Option<Problem> = outcome
        .as_ref()
        .err()
        .map(|e| Problem::from(clone_error(e)));
    state.metrics.command(&failure.as_ref().map_or(Ok(()), Err));
    match outcome {
        Ok(receipt) => {
            let case_id = receipt.case_id();
            let completed = state
                .web_forms
                .complete(&submission, case_id.as_str())
                .await;
            let dropped = state.web_forms.delete_draft(&owner(p)).await;
            if let Err(e) = completed.and(dropped) {
                tracing::warn!(error = %e, "filed; the web form's bookkeeping could not be updated");
            }
            filed_redirect(case_id.as_str(), false)
        }
        Err(e) => {
            if let Err(release) = state.web_forms.release(&submission).await {
                tracing::warn!(error = %release, "could not release a web form submission claim");
            }
            match e {
                CommandError::Invalid(errors) => {
                    show_form(cx, StatusCode::UNPROCESSABLE_ENTITY, posted, &errors, None).await
                }
                CommandError::Rejected(reason) => {
                    show_form(
                        cx,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        posted,
                        &[FieldError {
                            pointer: String::new(),
                            message: reason.message,
                        }],
                        None,
                    )
                    .await
                }
                other => error_page(&Problem::from(other)),
            }
        }
    }
}

/// The metrics count a failure by kind only; this copies what they need.
pub(super) fn clone_error(e: &CommandError) -> CommandError {
    match e {
        CommandError::Invalid(v) => CommandError::Invalid(v.clone()),
        CommandError::Rejected(r) => CommandError::Rejected(r.clone()),
        CommandError::Conflict => CommandError::Conflict,
        CommandError::AlreadyExists(w) => CommandError::AlreadyExists(w.clone()),
        other => CommandError::Internal(other.to_string()),
    }
}

/// After filing: the case page, which shows the case, its 14-day status and receipt.
fn filed_redirect(case_id: &str, again: bool) -> Response {
    let flag = if again { "again" } else { "1" };
    Redirect::to(&format!("/staff/cases/{case_id}?filed={flag}")).into_response()
}

/// The form checked as it is typed: the posted fields become the form's JSON exactly as
/// when filing (`to_json`), and run through the filing command's own validation
/// (`validate_notification`); nothing is saved or written. 204 when the form would
/// file; otherwise the problem+json the API gives, each error with its JSON Pointer.
/// A staff form post like the others (session, CSRF, body limit), and limited per
/// token (`FORM_CHECKS_PER_MINUTE`).
pub async fn check(
    State(state): State<SharedState>,
    StaffForm(p, _csrf, pairs): StaffForm,
) -> Response {
    if let Err(problem) = p.require(Permission::FileForUnit) {
        return Problem::from(problem).into_response();
    }
    if let Err(wait) = state.form_checks.check(&owner(&p)) {
        return Problem::new(
            Kind::RateLimited,
            "too many checks of the form; it is checked again when you file it",
        )
        .with_retry_after(wait)
        .into_response();
    }
    let unit = match (&p.unit, p.role.is_unit_bound()) {
        (Some(u), true) => Some(u.to_string()),
        _ => None,
    };
    let raw = to_json(&Posted(pairs), unit.as_deref());
    match validate_notification(&state.commands, &raw, Timestamp::now()) {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(CommandError::Rejected(reason)) => Problem::field("", reason.message).into_response(),
        Err(e) => Problem::from(e).into_response(),
    }
}
