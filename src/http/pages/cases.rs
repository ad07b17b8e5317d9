//! The case list and the case page (details, personal values for the roles that may
//! see them, timeline, as-of replay).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use icac_projections::case_view::CaseView;
use serde::Deserialize;

use super::dashboard::unit_name;
use super::labels::{date, spell, words};
use super::layout::{render, Chrome};
use super::staff::{chrome, error_page, require, Staff};
use super::timeline::{timeline, TimelineEntry};
use crate::access::auth::{Permission, Principal};
use crate::http::command_extractor::visible_case;
use crate::http::problem::{Kind, Problem};
use crate::http::routes::queries::{self, case_summaries, parse_cut, parse_date, today};
use crate::http::SharedState;
use crate::read_side::history::case_history;

#[derive(Debug, Deserialize)]
pub struct CasesQuery {
    pub unit: Option<String>,
    pub compliance: Option<String>,
    pub as_of: Option<String>,
    pub offset: Option<usize>,
    pub limit: Option<usize>,
    /// A case id, unit case number or CyberTip number to find.
    pub q: Option<String>,
    /// `csv`: the whole filtered list as a download.
    pub format: Option<String>,
}

const COMPLIANCE: [(&str, &str); 5] = [
    ("overdue", "Overdue"),
    ("due_soon", "Due soon"),
    ("pending", "Pending"),
    ("late", "Filed late"),
    ("on_time", "On time"),
];
const PAGE: usize = 100;
/// Rows a CSV download holds at most (the list pages through them 500 at a time).
const CSV_MAX: usize = 100_000;

struct CaseRow {
    case_id: String,
    unit_name: String,
    unit_ori: String,
    received_on: jiff::civil::Date,
    status: String,
    urgent: bool,
    /// (css class, label) of the 14-day tag.
    tag: Option<(String, String)>,
    due_on: String,
}

#[derive(Template)]
#[template(path = "cases.html")]
struct CasesPage {
    chrome: Chrome,
    filter_label: Option<String>,
    q: String,
    search_note: Option<String>,
    compliance_options: Vec<(&'static str, &'static str, bool)>,
    unit_bound: bool,
    /// (ORI, name, selected)
    units: Vec<(String, String, bool)>,
    total: usize,
    first: usize,
    last: usize,
    limit: usize,
    as_of: jiff::civil::Date,
    as_of_words: String,
    as_of_is_today: bool,
    rows: Vec<CaseRow>,
    csv_link: String,
    prev_link: Option<String>,
    next_link: Option<String>,
}

fn case_row(state: &SharedState, c: queries::CaseSummary) -> CaseRow {
    let ori = icac_aggregates::ids::Ori::parse(&c.reporting_unit).ok();
    CaseRow {
        unit_name: ori
            .as_ref()
            .map_or_else(|| c.reporting_unit.clone(), |o| unit_name(state, o)),
        unit_ori: c.reporting_unit,
        received_on: c.received_on,
        status: c
            .status
            .as_deref()
            .map_or_else(|| "Complaint only".into(), spell),
        urgent: c.urgent,
        tag: c.compliance.map(|s| {
            let label = c.compliance_label.clone().unwrap_or_else(|| spell(&s));
            (s, label)
        }),
        due_on: c.due_on.map(|d| d.to_string()).unwrap_or_default(),
        case_id: c.case_id,
    }
}

/// The list's query string with `offset` (and the format) replaced.
fn list_link(
    q: &CasesQuery,
    as_of: jiff::civil::Date,
    offset: usize,
    limit: usize,
    csv: bool,
) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(u) = q.unit.as_deref().filter(|u| !u.is_empty()) {
        pairs.push(("unit", u.to_owned()));
    }
    if let Some(c) = q.compliance.as_deref().filter(|c| !c.is_empty()) {
        pairs.push(("compliance", c.to_owned()));
    }
    pairs.push(("as_of", as_of.to_string()));
    if csv {
        pairs.push(("format", "csv".into()));
    } else {
        pairs.push(("offset", offset.to_string()));
        pairs.push(("limit", limit.to_string()));
    }
    format!(
        "/staff/cases?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

/// Every filtered case as CSV, a page of the list at a time.
async fn cases_csv(
    state: &SharedState,
    p: &Principal,
    q: &CasesQuery,
    compliance: Option<&str>,
    as_of: jiff::civil::Date,
) -> Result<Response, Problem> {
    let mut rows = Vec::new();
    let mut offset = 0;
    loop {
        let (total, page) = case_summaries(
            state,
            p,
            q.unit.as_deref(),
            compliance,
            as_of,
            offset,
            queries::MAX_LIMIT,
        )
        .await?;
        let n = page.len();
        rows.extend(page.into_iter().map(|c| case_row(state, c)));
        offset += n;
        if n == 0 || offset >= total || offset >= CSV_MAX {
            break;
        }
    }
    let body = super::csv::table(
        &[
            "case_id",
            "unit",
            "unit_ori",
            "received_on",
            "status",
            "urgent",
            "fourteen_day_rule",
            "due_on",
        ],
        rows.into_iter().map(|r| {
            vec![
                r.case_id,
                r.unit_name,
                r.unit_ori,
                r.received_on.to_string(),
                r.status,
                if r.urgent { "yes" } else { "no" }.into(),
                r.tag.map(|t| t.1).unwrap_or_default(),
                r.due_on,
            ]
        }),
    );
    Ok(super::csv::download(
        &format!("icac-cases-{as_of}.csv"),
        body,
    ))
}

/// The cases `text` names: as a case id, as a CyberTip number (the case holding it),
/// and as a unit case number (of the caller's unit, or of any unit for Task Force
/// roles). Only cases the caller may see.
async fn find(state: &SharedState, p: &Principal, text: &str) -> Result<Vec<CaseView>, Problem> {
    use icac_aggregates::ids::{CaseId, CyberTipNumber, UnitCaseNumber};
    let mut ids: Vec<CaseId> = Vec::new();
    if let Ok(id) = CaseId::parse(text) {
        if text.contains(':') {
            ids.push(id);
        }
    }
    if let Ok(tip) = CyberTipNumber::parse(text) {
        ids.extend(state.commands.tip_holder(&tip));
    }
    if let Ok(number) = UnitCaseNumber::parse(text) {
        let units: Vec<icac_aggregates::ids::Ori> = match (&p.unit, p.role.is_unit_bound()) {
            (Some(own), true) => vec![own.clone()],
            _ => state
                .projections
                .units()
                .await
                .map_err(Problem::internal)?
                .into_iter()
                .map(|u| u.ori)
                .collect(),
        };
        ids.extend(
            units
                .iter()
                .filter_map(|u| CaseId::for_unit_case(u, &number).ok()),
        );
    }
    ids.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    ids.dedup();
    state.fresh_view().await?;
    let mut found = Vec::new();
    for id in ids.iter().filter(|id| p.may_see_case(id)) {
        if let Some(v) = state
            .projections
            .case_view(id)
            .await
            .map_err(Problem::internal)?
        {
            found.push(v);
        }
    }
    Ok(found)
}

/// One match opens the case; several are listed; none says so.
async fn search(state: &SharedState, p: &Principal, csrf: &str, text: &str) -> Response {
    let text: String = text.chars().take(130).collect();
    let found = match find(state, p, &text).await {
        Ok(f) => f,
        Err(e) => return error_page(&e),
    };
    if let [one] = found.as_slice() {
        return axum::response::Redirect::to(&format!("/staff/cases/{}", one.case_id))
            .into_response();
    }
    let as_of = today();
    let policy = state.config.deadline_policy;
    let rows: Vec<CaseRow> = match found
        .iter()
        .map(|v| queries::case_summary(v, as_of, &policy))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(list) => list.into_iter().map(|c| case_row(state, c)).collect(),
        Err(e) => return error_page(&e),
    };
    let page = CasesPage {
        chrome: chrome(p, csrf, format!("Search: {text}")),
        filter_label: None,
        search_note: Some(if rows.is_empty() {
            format!("No case you may see matches {text:?} as a case id, unit case number or CyberTip number.")
        } else {
            format!("{} cases match {text:?}.", rows.len())
        }),
        q: text,
        compliance_options: COMPLIANCE.iter().map(|(k, l)| (*k, *l, false)).collect(),
        unit_bound: true,
        units: Vec::new(),
        total: rows.len(),
        first: usize::from(!rows.is_empty()),
        last: rows.len(),
        limit: rows.len(),
        as_of,
        as_of_words: date(as_of),
        as_of_is_today: true,
        csv_link: String::new(),
        prev_link: None,
        next_link: None,
        rows,
    };
    render(StatusCode::OK, &page)
}

pub async fn cases(
    State(state): State<SharedState>,
    Staff(p, csrf): Staff,
    Query(q): Query<CasesQuery>,
) -> Response {
    if let Err(r) = require(&p, Permission::ReadCases) {
        return r;
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        return search(&state, &p, &csrf, text).await;
    }
    let as_of = match parse_date("as_of", q.as_of.as_deref()) {
        Ok(d) => d,
        Err(e) => return error_page(&e),
    };
    let compliance = q.compliance.as_deref().filter(|c| !c.is_empty());
    if let Some(c) = compliance {
        if !COMPLIANCE.iter().any(|(k, _)| *k == c) {
            return error_page(&Problem::new(
                Kind::BadRequest,
                format!(
                    "There is no 14-day status called {:?}. Choose one of: overdue, due soon, pending, filed late, on time.",
                    c.chars().take(40).collect::<String>()
                ),
            ));
        }
    }
    if q.format.as_deref() == Some("csv") {
        return match cases_csv(&state, &p, &q, compliance, as_of).await {
            Ok(r) => r,
            Err(e) => error_page(&e),
        };
    }
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(PAGE).clamp(1, queries::MAX_LIMIT);
    let (total, list) = match case_summaries(
        &state,
        &p,
        q.unit.as_deref(),
        compliance,
        as_of,
        offset,
        limit,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return error_page(&e),
    };
    let rows: Vec<CaseRow> = list.into_iter().map(|c| case_row(&state, c)).collect();
    let mut units: Vec<(String, String, bool)> = match state.projections.units().await {
        Ok(us) => us
            .into_iter()
            .map(|u| {
                let ori = u.ori.to_string();
                let selected = q.unit.as_deref() == Some(ori.as_str());
                (ori, u.name, selected)
            })
            .collect(),
        Err(e) => return error_page(&Problem::internal(e)),
    };
    units.sort_by(|a, b| a.1.cmp(&b.1));
    let page = CasesPage {
        chrome: chrome(&p, &csrf, "Cases"),
        filter_label: compliance
            .and_then(|c| COMPLIANCE.iter().find(|(k, _)| *k == c))
            .map(|(_, l)| (*l).to_owned()),
        q: String::new(),
        search_note: None,
        compliance_options: COMPLIANCE
            .iter()
            .map(|(k, l)| (*k, *l, compliance == Some(*k)))
            .collect(),
        unit_bound: p.role.is_unit_bound(),
        units,
        total,
        first: if rows.is_empty() { 0 } else { offset + 1 },
        last: offset + rows.len(),
        limit,
        as_of,
        as_of_words: date(as_of),
        as_of_is_today: as_of == today(),
        csv_link: list_link(&q, as_of, 0, limit, true),
        prev_link: (offset > 0)
            .then(|| list_link(&q, as_of, offset.saturating_sub(limit), limit, false)),
        next_link: (offset + rows.len() < total)
            .then(|| list_link(&q, as_of, offset + limit, limit, false)),
        rows,
    };
    render(StatusCode::OK, &page)
}

#[derive(Debug, Deserialize)]
pub struct CasePageQuery {
    pub as_of: Option<String>,
    /// Set by the notification form after filing: `1`, or `again` for a form sent twice.
    pub filed: Option<String>,
    /// Set after a case action: which one was recorded.
    pub done: Option<String>,
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

#[derive(Template)]
#[template(path = "case.html")]
struct CasePage {
    chrome: Chrome,
    case_id: String,
    notice: Option<String>,
    as_of: String,
    as_of_words: String,
    replaying: bool,
    /// (label, due date) under the 14-day rule.
    compliance: Option<(String, String)>,
    details: Option<Vec<(&'static str, String)>>,
    /// In a replay before the case's first event: the day the ledger first recorded it
    /// (ISO date, words).
    first_recorded: Option<(String, String)>,
    receipt: ReceiptLine,
    personal: Vec<(String, String)>,
    actions: Option<super::actions::ActionsView>,
    timeline: Vec<TimelineEntry>,
}

fn details(state: &SharedState, v: &CaseView) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        (
            "Reporting unit",
            format!(
                "{} ({})",
                unit_name(state, &v.reporting_unit),
                v.reporting_unit
            ),
        ),
        ("Received", date(v.received_on)),
        ("Source", words(&v.source)),
        (
            "Status",
            v.status
                .map_or_else(|| "Complaint only (no form yet)".into(), |s| words(&s)),
        ),
        ("Urgent", if v.urgent { "Yes" } else { "No" }.into()),
        ("Investigators assigned", v.assignments.len().to_string()),
        ("Arrests", v.arrests.len().to_string()),
        ("Information shares", v.shares.len().to_string()),
    ];
    rows.push((
        "Last ledger position",
        format!("{} (hash {})", v.last_position, v.last_hash),
    ));
    rows
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
    let notice = match (q.filed.as_deref(), q.done.as_deref()) {
        (Some("1"), _) => Some(
            "Notification filed. The case, its 14-day status and its receipt are below.".to_owned(),
        ),
        (Some("again"), _) => Some(
            "This form was already filed (it was sent twice); it was filed once, on this case."
                .to_owned(),
        ),
        (_, Some(done)) => super::actions::done_notice(done),
        _ => None,
    };
    let shown = CaseShown {
        as_of: q.as_of,
        notice,
        action_error: None,
    };
    render_case(&state, &p, &csrf, &case_id, shown, StatusCode::OK).await
}

/// What a case page shows besides the case: a replay date, a notice, an action's errors.
pub(super) struct CaseShown {
    pub as_of: Option<String>,
    pub notice: Option<String>,
    pub action_error: Option<(String, Vec<String>)>,
}

/// The case page: details, personal values, the actions the role may take (not in a
/// replay), the timeline.
pub(super) async fn render_case(
    state: &SharedState,
    p: &Principal,
    csrf: &str,
    case_id: &icac_aggregates::ids::CaseId,
    shown: CaseShown,
    status: StatusCode,
) -> Response {
    let cut = match parse_cut(shown.as_of.as_deref(), None) {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let history = match case_history(state.ledger.storage(), state.ledger.id(), case_id, cut).await
    {
        Ok(h) => h,
        Err(e) => return error_page(&Problem::internal(e)),
    };
    let name = |o: &icac_aggregates::ids::Ori| unit_name(state, o);
    let timeline = timeline(&history.entries, &name);
    let personal = match personal_rows(state, p, &history, case_id).await {
        Ok(rows) => rows,
        Err(e) => return error_page(&e),
    };
    let view = history.view.as_ref();
    let as_of = shown.as_of.clone().unwrap_or_default();
    // Replayed to before the ledger first heard of the case (a notification filed late,
    // with no complaint logged on receipt): the 14-day status on that day is still the
    // dashboard's (received more than 14 days before, not filed by then), from the case
    // as the ledger holds it now; the page says when the ledger first recorded it.
    let (first_recorded, known_later) = match (view, as_of.is_empty()) {
        (None, false) => {
            match case_history(
                state.ledger.storage(),
                state.ledger.id(),
                case_id,
                icac_projections::history::Cut::Head,
            )
            .await
            {
                Ok(h) => (
                    h.entries.first().map(|e| {
                        let day = icac_aggregates::local_time::ct_date(e.recorded_at);
                        (day.to_string(), date(day))
                    }),
                    h.view,
                ),
                Err(e) => return error_page(&Problem::internal(e)),
            }
        }
        _ => (None, None),
    };
    let compliance = view.or(known_later.as_ref()).and_then(|v| {
        let asof = as_of
            .get(..10)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(today);
        icac_projections::compliance::assess_case(v, asof, &state.config.deadline_policy)
            .ok()
            .flatten()
            .map(|c| (c.label, c.due_on))
    });
    let actions = match (view, as_of.is_empty()) {
        (Some(v), true) => {
            let version = history.entries.last().map_or(0, |e| e.sequence);
            match super::actions::view(state, p, csrf, v, version, &timeline, shown.action_error)
                .await
            {
                Ok(a) => a,
                Err(e) => return error_page(&e),
            }
        }
        _ => None,
    };
    let page = CasePage {
        chrome: chrome(p, csrf, format!("Case {}", case_id.as_str())),
        case_id: case_id.to_string(),
        notice: shown.notice,
        as_of_words: as_of
            .get(..10)
            .and_then(|d| d.parse().ok())
            .map_or_else(|| as_of.clone(), date),
        replaying: !as_of.is_empty(),
        as_of,
        compliance: compliance.map(|(label, due)| (label, date(due))),
        details: view.map(|v| details(state, v)),
        first_recorded,
        receipt: match (&state.config.tlog_dir, state.publication.published_size()) {
            (Some(_), Some(size)) => ReceiptLine::Published(size),
            (Some(_), None) => ReceiptLine::Awaiting,
            (None, _) => ReceiptLine::None,
        },
        personal,
        actions,
        timeline,
    };
    render(status, &page)
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
    let ids = [case_id.as_str().to_owned()];
    queries::reveal_for(state, p, &mut doc, case_id.as_str(), ("case", &ids)).await?;
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
                .filter(|s| *s != "form")
                .map(spell)
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
