//! The intake queue for public reports: open reports oldest first with the time since
//! receipt, what the person reported (intake staff only; access-logged), and forms to
//! triage, route to a unit (which opens the unit's case and starts its clock) or close.
//! The commands are the API's (`commands::public_report::run`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use icac_aggregates::public_report::CloseReason;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};

use super::form_spec::Posted;
use super::labels::{code, words};
use super::layout::{render, Chrome};
use super::staff::{chrome, error_page, require, Staff, StaffForm};
use crate::access::auth::{Permission, Principal};
use crate::commands::public_report;
use crate::http::command_extractor::existing_public_report;
use crate::http::extract::decode;
use crate::http::problem::Problem;
use crate::http::requests::PublicReportBody;
use crate::http::routes::queries::reveal_for;
use crate::http::SharedState;

#[derive(Debug, Deserialize)]
pub struct IntakeQuery {
    pub done: Option<String>,
    pub format: Option<String>,
}

struct Row {
    receipt: String,
    received: String,
    waiting: String,
    channel: String,
    category: String,
    stage: String,
    description: String,
}

#[derive(Template)]
#[template(path = "intake.html")]
struct IntakePage {
    chrome: Chrome,
    csrf: String,
    notice: Option<String>,
    error: Option<String>,
    open: u64,
    all: u64,
    rows: Vec<Row>,
    units: Vec<(String, String)>,
    reasons: Vec<(String, String)>,
}

/// "3 days 4 hours", "5 hours 12 minutes", "8 minutes".
fn waiting(since: Timestamp, now: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(since.as_second()).max(0);
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let unit = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match (days, hours) {
        (0, 0) => unit(minutes, "minute"),
        (0, h) => format!("{} {}", unit(h, "hour"), unit(minutes, "minute")),
        (d, h) => format!("{} {}", unit(d, "day"), unit(h, "hour")),
    }
}

async fn rows(state: &SharedState, p: &Principal) -> Result<(u64, u64, Vec<Row>), Problem> {
    state.fresh_views().await?;
    let page = state
        .projections
        .intake_page(0, crate::http::routes::queries::MAX_LIMIT)
        .await
        .map_err(Problem::internal)?;
    let mut doc = serde_json::to_value(&page.reports).map_err(Problem::internal)?;
    let ids: Vec<String> = page
        .reports
        .iter()
        .map(|r| r.receipt_number.as_str().to_owned())
        .collect();
    reveal_for(state, p, &mut doc, "intake_page", ("public_report", &ids)).await?;
    let now = Timestamp::now();
    let rows = page
        .reports
        .iter()
        .zip(doc.as_array().cloned().unwrap_or_default())
        .map(|(r, revealed)| Row {
            receipt: r.receipt_number.to_string(),
            received: r.received_at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
            waiting: waiting(r.received_at, now),
            channel: words(&r.channel),
            category: r.category.map_or_else(|| "Not given".into(), |c| words(&c)),
            stage: words(&r.stage),
            description: revealed
                .pointer("/content/description/value")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
        .collect();
    Ok((page.open, page.all, rows))
}

async fn show(
    state: &SharedState,
    p: &Principal,
    csrf: &str,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let (open, all, rows) = match rows(state, p).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let mut units: Vec<(String, String)> = match state.projections.units().await {
        Ok(u) => u
            .into_iter()
            .filter(|u| u.active)
            .map(|u| (u.ori.to_string(), format!("{} ({})", u.name, u.ori)))
            .collect(),
        Err(e) => return error_page(&Problem::internal(e)),
    };
    units.sort_by(|a, b| a.1.cmp(&b.1));
    let reasons = [
        CloseReason::NotActionable,
        CloseReason::OutsideJurisdiction,
        CloseReason::DuplicateReport,
        CloseReason::ReferredToNcmec,
        CloseReason::InsufficientInformation,
    ]
    .iter()
    .map(|r| (code(r), words(r)))
    .collect();
    render(
        status,
        &IntakePage {
            chrome: chrome(p, csrf, "Intake"),
            csrf: csrf.to_owned(),
            notice,
            error,
            open,
            all,
            rows,
            units,
            reasons,
        },
    )
}

pub async fn queue(
    State(state): State<SharedState>,
    Staff(p, csrf): Staff,
    Query(q): Query<IntakeQuery>,
) -> Response {
    if let Err(r) = require(&p, Permission::HandlePublicReports) {
        return r;
    }
    if q.format.as_deref() == Some("csv") {
        // The download carries no description: what a person typed stays on the page.
        return match rows(&state, &p).await {
            Ok((_, _, rows)) => super::csv::download(
                "icac-intake-queue.csv",
                super::csv::table(
                    &[
                        "receipt", "received", "waiting", "channel", "concern", "stage",
                    ],
                    rows.into_iter().map(|r| {
                        vec![
                            r.receipt, r.received, r.waiting, r.channel, r.category, r.stage,
                        ]
                    }),
                ),
            ),
            Err(e) => error_page(&e),
        };
    }
    let notice = match q.done.as_deref() {
        Some("triage") => Some("The report was triaged.".to_owned()),
        Some("route") => Some(
            "The report was routed; the unit's case is open and its 14-day clock has started."
                .to_owned(),
        ),
        Some("close") => Some("The report was closed.".to_owned()),
        _ => None,
    };
    show(&state, &p, &csrf, notice, None, StatusCode::OK).await
}

pub async fn act(
    State(state): State<SharedState>,
    Path((raw, action)): Path<(String, String)>,
    StaffForm(p, csrf, pairs): StaffForm,
) -> Response {
    if let Err(r) = require(&p, Permission::HandlePublicReports) {
        return r;
    }
    let receipt = match existing_public_report(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let posted = Posted(pairs);
    let field = |k: &str| match posted.get(k) {
        "" => Value::Null,
        v => Value::String(v.to_owned()),
    };
    let body = match action.as_str() {
        "triage" => decode(json!({ "priority": field("priority") })).map(PublicReportBody::Triage),
        "route" => decode(json!({ "unit": field("unit") })).map(PublicReportBody::Route),
        "close" => decode(json!({ "reason": field("reason") })).map(PublicReportBody::Close),
        _ => return error_page(&Problem::not_found("no such intake action")),
    };
    let result = match body {
        Ok(b) => {
            let command = b.command(Timestamp::now());
            public_report::run(&state.commands, &receipt, command, &p.actor())
                .await
                .map_err(Problem::from)
        }
        Err(e) => Err(e),
    };
    state.metrics.command(&result.as_ref().map(|_| ()));
    match result {
        Ok(_) => Redirect::to(&format!("/staff/intake?done={action}")).into_response(),
        Err(e) if e.status >= 500 => error_page(&e),
        Err(e) => {
            let detail = match e.errors.first() {
                Some(f) => format!(
                    "{receipt}: {} ({})",
                    e.detail,
                    f.pointer.trim_start_matches('/')
                ),
                None => format!("{receipt}: {}", e.detail),
            };
            show(&state, &p, &csrf, None, Some(detail), e.status()).await
        }
    }
}
