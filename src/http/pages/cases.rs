//! The case list and the case page (details, personal values for the roles that may
//! see them, timeline, as-of replay).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::dashboard::unit_name;
use super::layout::{render, Chrome};
use super::staff::{chrome, error_page, require, Staff};
use crate::http::auth::{Permission, Principal};
use crate::http::problem::Problem;
use crate::http::routes::commands::visible_case;
use crate::http::routes::queries::{self, case_summaries, log_read, parse_cut, parse_date, today};
use crate::http::SharedState;
use crate::projection::history::case_history;

#[derive(Debug, Deserialize)]
pub struct CasesQuery {
    pub unit: Option<String>,
    pub compliance: Option<String>,
    pub as_of: Option<String>,
}

struct CaseRow {
    case_id: String,
    unit_name: String,
    unit_ori: String,
    received_on: jiff::civil::Date,
    status: String,
    /// (css class, label) of the 14-day tag.
    tag: Option<(String, String)>,
    due_on: String,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    chrome: Chrome,
    filter_label: Option<String>,
    total: usize,
    as_of: jiff::civil::Date,
    rows: Vec<CaseRow>,
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
    let rows = list
        .into_iter()
        .map(|c| {
            let ori = icac_aggregates::ids::Ori::parse(&c.reporting_unit).ok();
            CaseRow {
                unit_name: ori
                    .as_ref()
                    .map(|o| unit_name(&state, o))
                    .unwrap_or_else(|| c.reporting_unit.clone()),
                unit_ori: c.reporting_unit,
                received_on: c.received_on,
                status: c.status.unwrap_or_else(|| "complaint".into()),
                tag: c.compliance.map(|s| {
                    let label = c.compliance_label.clone().unwrap_or_else(|| s.clone());
                    (s, label)
                }),
                due_on: c.due_on.map(|d| d.to_string()).unwrap_or_default(),
                case_id: c.case_id,
            }
        })
        .collect();
    render(
        StatusCode::OK,
        &CasesPage {
            chrome: chrome(&p, &csrf, "Cases"),
            filter_label: compliance.map(|c| c.replace('_', " ")),
            total,
            as_of,
            rows,
        },
    )
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

/// The case page's line about the filing receipt.
enum ReceiptLine {
    Published(u64),
    Awaiting,
    None,
}

struct TimelineEntry {
    what: String,
    summary: String,
    when: String,
    position: u64,
}

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    case_id: String,
    as_of: String,
    /// (label, due date) under the 14-day rule.
    compliance: Option<(String, jiff::civil::Date)>,
    details: Option<Vec<(&'static str, String)>>,
    receipt: ReceiptLine,
    personal: Vec<(String, String)>,
    timeline: Vec<TimelineEntry>,
}

fn details(v: &icac_projections::case_view::CaseView) -> Vec<(&'static str, String)> {
    let text = |x: serde_json::Value| x.as_str().map(str::to_owned).unwrap_or_default();
    vec![
        ("Reporting unit", v.reporting_unit.to_string()),
        ("Received", v.received_on.to_string()),
        ("Source", text(serde_json::to_value(v.source).unwrap_or_default())),
        (
            "Status",
            v.status
                .and_then(|s| serde_json::to_value(s).ok())
                .map(text)
                .unwrap_or_else(|| "complaint only".into()),
        ),
        ("Urgent", if v.urgent { "yes" } else { "no" }.into()),
        ("Assignments", v.assignments.len().to_string()),
        ("Arrests", v.arrests.len().to_string()),
        ("Shares", v.shares.len().to_string()),
        (
            "Last ledger position",
            format!("{} · {}", v.last_position, v.last_hash),
        ),
    ]
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
    let timeline = history
        .entries
        .iter()
        .map(|e| TimelineEntry {
            what: e.event_type.clone(),
            summary: String::new(),
            when: e.recorded_at.to_string(),
            position: e.position,
        })
        .collect();
    let personal = match personal_rows(&state, &p, &history, &case_id).await {
        Ok(rows) => rows,
        Err(e) => return error_page(&e),
    };
    let view = history.view.as_ref();
    let compliance = view.and_then(|v| {
        let asof = q
            .as_of
            .as_deref()
            .and_then(|s| s.get(..10))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(today);
        icac_projections::compliance::assess_case(v, asof, &state.config.deadline_policy)
            .ok()
            .flatten()
            .map(|c| (c.label, c.due_on))
    });
    let page = CasePage {
        chrome: chrome(&p, &csrf, format!("Case {}", case_id.as_str())),
        case_id: case_id.to_string(),
        as_of: q.as_of.clone().unwrap_or_default(),
        compliance,
        details: view.map(details),
        receipt: match (&state.config.tlog_dir, state.publication.published_size()) {
            (Some(_), Some(size)) => ReceiptLine::Published(size),
            (Some(_), None) => ReceiptLine::Awaiting,
            (None, _) => ReceiptLine::None,
        },
        personal,
        timeline,
    };
    render(StatusCode::OK, &page)
}

/// The case's sealed personal values: the values themselves for a role that may see
/// them (the reveal is access-logged by `reveal_for`), `[sealed]` with the commitment for
/// every other role, `[erased]` where a lawful erasure destroyed one.
async fn personal_rows(
    state: &SharedState,
    p: &Principal,
    history: &icac_projections::history::CaseHistory,
    case_id: &icac_aggregates::ids::CaseId,
) -> Result<Vec<(String, String)>, Problem> {
    let mut doc = serde_json::to_value(history).map_err(Problem::internal)?;
    queries::reveal_for(state, p, &mut doc, case_id.as_str()).await?;
    let mut rows = Vec::new();
    sealed_rows(&doc, &mut String::new(), &mut rows);
    Ok(rows)
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

