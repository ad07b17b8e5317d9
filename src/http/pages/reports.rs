//! The annual report preview and downloads, and the ledger status page.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::layout::{render, Chrome};
use super::staff::{chrome, error_page, require, Staff};
use crate::access::auth::Permission;
use crate::http::problem::Problem;
use crate::http::routes::audit::ledger_status_value;
use crate::http::routes::queries;
use crate::http::SharedState;

#[derive(Debug, Deserialize)]
pub struct AnnualPageQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub format: Option<String>,
    pub download: Option<String>,
}

#[derive(Template)]
#[template(path = "annual.html")]
struct AnnualPage {
    chrome: Chrome,
    from: String,
    to: String,
    position: u64,
}

/// A rendered edition of the report as a download (or inline, for the preview frame).
fn edition(report: &icac_projections::report::AnnualReport, fmt: &str, download: bool) -> Response {
    use icac_projections::report::render;
    let (ct, text) = match fmt {
        "html" => ("text/html; charset=utf-8", render::html::render(report)),
        "csv" => ("text/csv; charset=utf-8", render::csv::render(report)),
        "md" => ("text/markdown; charset=utf-8", render::md::render(report)),
        "json" => match render::json::render(report) {
            Ok(t) => ("application/json", t),
            Err(e) => return error_page(&Problem::internal(e)),
        },
        _ => return error_page(&Problem::field("/format", "must be html, csv, md or json")),
    };
    let disposition = if download { "attachment" } else { "inline" };
    (
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
        .into_response()
}

/// The year the January report covers: the last calendar year that ended before
/// today, or before the newest receipt on the ledger when that is older (a ledger
/// whose data stops earlier, like the demo year, opens on a year with figures).
async fn last_complete_year(
    state: &SharedState,
    p: &crate::access::auth::Principal,
) -> Result<i16, Problem> {
    let today = queries::today();
    let (_, newest) = queries::case_summaries(state, p, None, None, today, 0, 1).await?;
    let until = newest.first().map_or(today, |c| c.received_on.min(today));
    Ok(until.year() - 1)
}

pub async fn annual(
    State(state): State<SharedState>,
    Staff(p, csrf): Staff,
    Query(q): Query<AnnualPageQuery>,
) -> Response {
    if let Err(r) = require(&p, Permission::ReadAggregates) {
        return r;
    }
    let mut from = q.from.clone().filter(|s| !s.is_empty());
    let mut to = q.to.clone().filter(|s| !s.is_empty());
    if from.is_none() && to.is_none() {
        match last_complete_year(&state, &p).await {
            Ok(year) => {
                from = Some(format!("{year}-01-01"));
                to = Some(format!("{year}-12-31"));
            }
            Err(e) => return error_page(&e),
        }
    }
    let aq = queries::AnnualQuery {
        from: from.clone(),
        to: to.clone(),
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
    if let Some(fmt) = q.format.as_deref() {
        return edition(&report, fmt, q.download.is_some());
    }
    render(
        StatusCode::OK,
        &AnnualPage {
            chrome: chrome(&p, &csrf, "Annual report"),
            from: from.unwrap_or_default(),
            to: to.unwrap_or_default(),
            position: report.attestation.position,
        },
    )
}

struct StatusRow {
    label: &'static str,
    value: String,
    id: Option<&'static str>,
    mono: bool,
    alert: Option<String>,
}

impl StatusRow {
    fn new(label: &'static str, value: impl Into<String>) -> Self {
        StatusRow {
            label,
            value: value.into(),
            id: None,
            mono: false,
            alert: None,
        }
    }
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    chrome: Chrome,
    rows: Vec<StatusRow>,
}

/// The ledger page's line on witnessed publication (issue 16): age and alert.
fn witnessed_row(w: &crate::tlog::publisher::PublicationSnapshot) -> Option<StatusRow> {
    if !w.configured {
        return None;
    }
    Some(StatusRow {
        id: Some("witnessed"),
        alert: w.alert_reason.clone(),
        ..StatusRow::new(
            "Last witnessed checkpoint",
            format!(
                "size {}, {} s ago (quorum {})",
                w.published_size.map_or("none".into(), |s| s.to_string()),
                w.seconds_since_witnessed.unwrap_or(0),
                w.quorum
            ),
        )
    })
}

fn status_rows(v: &serde_json::Value) -> Vec<StatusRow> {
    let get = |k: &str| {
        v.get(k)
            .map(|x| x.to_string().trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    let cp = v
        .get("last_checkpoint")
        .filter(|c| !c.is_null())
        .map_or_else(
            || "none yet".into(),
            |c| {
                format!(
                    "size {} at {}",
                    c["size"],
                    c["created_at"].as_str().unwrap_or("")
                )
            },
        );
    let lv = v
        .get("last_verification")
        .filter(|c| !c.is_null())
        .map_or_else(
            || "not run since the server started".into(),
            |c| {
                format!(
                    "{} at {} ({} events)",
                    if c["intact"].as_bool() == Some(true) {
                        "intact"
                    } else {
                        "BROKEN"
                    },
                    c["at"].as_str().unwrap_or(""),
                    c["events"]
                )
            },
        );
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
    let al = match v.get("access_log_health") {
        Some(h) if h["writable"].as_bool() == Some(false) => format!(
            "{al}; NOT ACCEPTING ENTRIES since {} ({}): reads of case data are refused",
            h["failing"]["since"].as_str().unwrap_or(""),
            h["failing"]["error"].as_str().unwrap_or("")
        ),
        _ => al,
    };
    vec![
        StatusRow::new("Ledger", get("ledger_id")),
        StatusRow::new("Database", get("database")),
        StatusRow {
            id: Some("size"),
            ..StatusRow::new("Size (events)", get("size"))
        },
        StatusRow {
            mono: true,
            ..StatusRow::new("Head hash", get("head"))
        },
        StatusRow::new("Last recorded", get("last_recorded_at")),
        StatusRow::new("Last checkpoint", cp),
        StatusRow::new("Last verification", lv),
        StatusRow::new("Access log", al),
        StatusRow::new("Read models at position", get("projection_position")),
    ]
}

pub async fn ledger(State(state): State<SharedState>, Staff(p, csrf): Staff) -> Response {
    if let Err(r) = require(&p, Permission::ReadLedgerStatus) {
        return r;
    }
    let v = match ledger_status_value(&state).await {
        Ok(v) => v,
        Err(e) => return error_page(&e),
    };
    let mut rows = status_rows(&v);
    rows.extend(witnessed_row(
        &state.publication.snapshot(std::time::SystemTime::now()),
    ));
    render(
        StatusCode::OK,
        &LedgerPage {
            chrome: chrome(&p, &csrf, "Ledger status"),
            rows,
        },
    )
}
