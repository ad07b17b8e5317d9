//! Reads: the unit directory, cases (every read of details is access-logged), case
//! history as of a moment, 14-day compliance, operations, the public-report intake
//! queue and the annual report.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use icac_aggregates::compliance::{DeadlinePolicy, PolicyError};
use icac_aggregates::ids::Ori;
use icac_projections::case_view::CaseView;
use icac_projections::compliance::{assess_case, NotificationCompliance};
use icac_projections::history::Cut;
use icac_projections::report::figures::MAX_PERIOD_DAYS;
use icac_projections::report::suppression::{MAX_THRESHOLD, MIN_THRESHOLD};
use icac_projections::report::Parameters;
use jiff::civil::Date;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::access::access_log::AccessEntry;
use crate::access::auth::{Permission, Principal};
use crate::http::command_extractor::visible_case;
use crate::http::extract::ApiQuery;
use crate::http::problem::{json, ApiResult, Problem};
use crate::http::SharedState;
use crate::read_side::annual;
use crate::read_side::history::{case_history, CaseHistoryError};
use crate::read_side::reveal;
use crate::read_side::views::{self, StatusFilter, ViewQueryError};

/// Largest page of a listing.
pub const MAX_LIMIT: usize = 500;

pub(crate) fn today() -> Date {
    icac_aggregates::local_time::ct_date(Timestamp::now())
}

pub(crate) fn parse_date(field: &str, raw: Option<&str>) -> ApiResult<Date> {
    match raw {
        None | Some("") => Ok(today()),
        Some(s) => s
            .parse::<Date>()
            .map_err(|_| Problem::field(format!("/{field}"), "must be a date YYYY-MM-DD")),
    }
}

/// For a role allowed to see personal data, fills the sealed values of `doc` from
/// the sealed store, and logs the reveal before anything is answered (no log entry,
/// no values). Every other role gets `doc` as it is: commitments only. `streams` are
/// the streams `doc` was made from (an aggregate type and ids).
pub(crate) async fn reveal_for(
    state: &SharedState,
    principal: &Principal,
    doc: &mut Value,
    target: &str,
    streams: (&str, &[String]),
) -> ApiResult<()> {
    if !principal.role.allows(Permission::RevealPersonalData) {
        return Ok(());
    }
    let count = reveal::reveal(state.ledger.storage(), state.ledger.id(), streams, doc)
        .await
        .map_err(Problem::internal)?;
    if count == reveal::RevealCount::default() {
        return Ok(());
    }
    state
        .access_log
        .append(
            AccessEntry::new(
                "personal_data_reveal",
                &principal.id(),
                &principal.source,
                target,
                "ok",
            )
            .with_detail(format!(
                "revealed {}, erased {}, unavailable {}",
                count.revealed, count.erased, count.unavailable
            )),
        )
        .await
        .map(|_| ())
        .map_err(Problem::internal)
}

pub async fn list_units(State(state): State<SharedState>, _: Principal) -> ApiResult<Json<Value>> {
    state.fresh_views().await?;
    let units = state.projections.units().await.map_err(Problem::internal)?;
    let units: Vec<Value> = units
        .iter()
        .map(|u| json!({ "ori": u.ori, "name": u.name, "kind": u.kind, "town": u.town, "active": u.active }))
        .collect();
    Ok(Json(json!({ "units": units })))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseListQuery {
    /// One unit's cases (ORI); a unit reporter always sees its own unit's only.
    #[schemars(with = "Option<Ori>")]
    pub unit: Option<String>,
    /// Only cases with this 14-day status.
    #[schemars(extend("enum" = COMPLIANCE_FILTERS))]
    pub compliance: Option<String>,
    /// Compliance as of this date (default: today in Connecticut).
    #[schemars(with = "Option<Date>")]
    pub as_of: Option<String>,
    /// Cases to skip.
    pub offset: Option<usize>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<usize>,
}

const COMPLIANCE_FILTERS: [&str; 5] = ["overdue", "due_soon", "pending", "late", "on_time"];

/// One line of the case list: no details beyond what triage needs.
#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    pub case_id: String,
    pub reporting_unit: String,
    pub received_on: Date,
    pub status: Option<String>,
    pub urgent: bool,
    pub compliance: Option<String>,
    pub compliance_label: Option<String>,
    pub due_on: Option<Date>,
}

fn status_key(c: &NotificationCompliance) -> String {
    serde_json::to_value(c.status)
        .ok()
        .and_then(|v| match v {
            Value::String(s) => Some(s),
            Value::Object(m) => m
                .get("status")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| m.keys().next().cloned()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The unit a listing covers: a unit-bound principal's own, whatever (well-formed
/// unit) was asked; otherwise the unit asked for, if any.
fn unit_scope(principal: &Principal, requested: Option<&str>) -> ApiResult<Option<Ori>> {
    let requested = requested
        .filter(|u| !u.is_empty())
        .map(|u| Ori::parse(u).map_err(|e| Problem::field("/unit", e.to_string())))
        .transpose()?;
    match (principal.role.is_unit_bound(), &principal.unit) {
        // Asking for another unit is not an error: the answer is scoped to its own.
        (true, Some(own)) => Ok(Some(own.clone())),
        _ => Ok(requested),
    }
}

fn view_problem(e: ViewQueryError) -> Problem {
    match e {
        ViewQueryError::Deadline(e) => Problem::field("/as_of", e.to_string()),
        ViewQueryError::Projection(e) => Problem::internal(e),
    }
}

/// 14-day compliance from the view tables; with `rows` false, the counts only.
async fn compliance_report(
    state: &SharedState,
    as_of: Date,
    unit: Option<&Ori>,
    policy: &DeadlinePolicy,
    rows: bool,
) -> ApiResult<icac_projections::compliance::ComplianceReport> {
    let report = if rows {
        state.projections.compliance(as_of, unit, policy).await
    } else {
        state
            .projections
            .compliance_counts(as_of, unit, policy)
            .await
    };
    report.map_err(view_problem)
}

/// One line of the case list for a view, with its 14-day standing as of `as_of`.
pub(crate) fn case_summary(
    c: &CaseView,
    as_of: Date,
    policy: &icac_aggregates::compliance::DeadlinePolicy,
) -> ApiResult<CaseSummary> {
    let comp =
        assess_case(c, as_of, policy).map_err(|e| Problem::field("/as_of", e.to_string()))?;
    Ok(CaseSummary {
        case_id: c.case_id.to_string(),
        reporting_unit: c.reporting_unit.to_string(),
        received_on: c.received_on,
        status: c
            .status
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_owned)),
        urgent: c.urgent,
        compliance: comp.as_ref().map(status_key),
        compliance_label: comp.as_ref().map(|n| n.label.clone()),
        due_on: comp.as_ref().map(|n| n.due_on),
    })
}

/// One page of the cases a principal may see, filtered, newest received first; with
/// the number of cases on all pages. Shared with the staff pages.
pub async fn case_summaries(
    state: &SharedState,
    principal: &Principal,
    unit: Option<&str>,
    compliance: Option<&str>,
    as_of: Date,
    offset: usize,
    limit: usize,
) -> ApiResult<(usize, Vec<CaseSummary>)> {
    state.fresh_views().await?;
    let unit = unit_scope(principal, unit)?;
    let status = match compliance.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match StatusFilter::parse(c) {
            Some(f) => Some(f),
            // No case has a status by another name.
            None => return Ok((0, Vec::new())),
        },
    };
    let visible_to = match (principal.role.is_unit_bound(), &principal.unit) {
        (true, Some(own)) => Some(own.clone()),
        _ => None,
    };
    let policy = state.config.deadline_policy;
    let page = state
        .projections
        .case_page(&views::CaseListQuery {
            unit,
            visible_to,
            status,
            as_of,
            policy,
            offset,
            limit,
        })
        .await
        .map_err(view_problem)?;
    let cases = page
        .cases
        .iter()
        .map(|c| case_summary(c, as_of, &policy))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok((page.total, cases))
}

pub async fn list_cases(
    State(state): State<SharedState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<CaseListQuery>,
) -> ApiResult<Json<Value>> {
    if let Some(c) = q.compliance.as_deref() {
        if !c.is_empty() && !COMPLIANCE_FILTERS.contains(&c) {
            return Err(Problem::field(
                "/compliance",
                "must be one of overdue, due_soon, pending, late, on_time",
            ));
        }
    }
    let as_of = parse_date("as_of", q.as_of.as_deref())?;
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    let (total, page) = case_summaries(
        &state,
        &principal,
        q.unit.as_deref(),
        q.compliance.as_deref(),
        as_of,
        offset,
        limit,
    )
    .await?;
    Ok(Json(
        json!({ "total": total, "offset": offset, "limit": limit, "cases": page }),
    ))
}

pub async fn get_case(
    State(state): State<SharedState>,
    principal: Principal,
    Path(case_id): Path<String>,
) -> ApiResult<Json<Value>> {
    let case_id = visible_case(&state, &principal, &case_id).await?;
    state.fresh_view().await?;
    let view = state
        .projections
        .case_view(&case_id)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no case {case_id}")))?;
    json(view)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// An RFC 3339 instant, or a date (end of that day in Connecticut).
    pub as_of: Option<String>,
    /// A ledger position.
    #[schemars(with = "Option<icac_aggregates::ids::LedgerPosition>")]
    pub at_position: Option<String>,
}

pub(crate) fn parse_cut(as_of: Option<&str>, at_position: Option<&str>) -> ApiResult<Cut> {
    crate::read_side::history::parse_cut(as_of, at_position)
        .map_err(|e| Problem::field(format!("/{}", e.field()), e.to_string()))
}

pub async fn case_history_route(
    State(state): State<SharedState>,
    principal: Principal,
    Path(case_id): Path<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<Value>> {
    let case_id = visible_case(&state, &principal, &case_id).await?;
    let cut = parse_cut(q.as_of.as_deref(), q.at_position.as_deref())?;
    let history = case_history(state.ledger.storage(), state.ledger.id(), &case_id, cut)
        .await
        .map_err(|e| match e {
            CaseHistoryError::NotFound(c) => Problem::not_found(format!("no case {c}")),
            e @ CaseHistoryError::BeyondHead { .. } => {
                Problem::field("/at_position", e.to_string())
            }
            other => Problem::internal(other),
        })?;
    let mut doc = serde_json::to_value(history).map_err(Problem::internal)?;
    let ids = [case_id.as_str().to_owned()];
    reveal_for(
        &state,
        &principal,
        &mut doc,
        case_id.as_str(),
        ("case", &ids),
    )
    .await?;
    Ok(Json(doc))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplianceQuery {
    /// Compliance as of this date (default: today in Connecticut).
    #[schemars(with = "Option<Date>")]
    pub as_of: Option<String>,
    /// One unit (ORI); a unit reporter always sees its own unit's only.
    #[schemars(with = "Option<Ori>")]
    pub unit: Option<String>,
    /// Deadline policy for this answer (default: the server's): roll a weekend or
    /// CT legal-holiday due date to the next business day.
    pub roll_to_business_day: Option<bool>,
    /// Observe a Saturday holiday on the Friday before (C.G.S. 1-4; default: the server's, on).
    pub saturday_to_friday: Option<bool>,
    /// "Due soon" with at most this many days left, 0 to 14 (default: the server's).
    #[schemars(range(max = 14))]
    pub due_soon_days: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    /// Compliance as of this date (default: today in Connecticut).
    #[schemars(with = "Option<Date>")]
    pub as_of: Option<String>,
    /// Deadline policy for this answer (default: the server's): roll a weekend or
    /// CT legal-holiday due date to the next business day.
    pub roll_to_business_day: Option<bool>,
    /// Observe a Saturday holiday on the Friday before (C.G.S. 1-4; default: the server's, on).
    pub saturday_to_friday: Option<bool>,
    /// "Due soon" with at most this many days left, 0 to 14 (default: the server's).
    #[schemars(range(max = 14))]
    pub due_soon_days: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharingQuery {
    /// The sharing clock as of this date (default: today in Connecticut).
    #[schemars(with = "Option<Date>")]
    pub as_of: Option<String>,
    /// One unit (ORI); a unit reporter always sees its own unit's only.
    #[schemars(with = "Option<Ori>")]
    pub unit: Option<String>,
    /// Cadence of a case that set none (default: the server's, 30 days).
    #[schemars(range(min = 1, max = 365))]
    pub cadence_days: Option<u32>,
}

/// Continued sharing (29-7e(c)): which open case owes the Task Force an update.
pub async fn sharing(
    State(state): State<SharedState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<SharingQuery>,
) -> ApiResult<Json<Value>> {
    let as_of = parse_date("as_of", q.as_of.as_deref())?;
    let mut policy = state.config.sharing_policy;
    if let Some(days) = q.cadence_days {
        policy.default_cadence_days = icac_aggregates::compliance::sharing::check_cadence(days)
            .map_err(|e| Problem::field("/cadence_days", e.to_string()))?;
    }
    state.fresh_views().await?;
    let unit = unit_scope(&principal, q.unit.as_deref())?;
    let report = state
        .projections
        .sharing(as_of, unit.as_ref(), &policy, true)
        .await
        .map_err(Problem::internal)?;
    json(report)
}

/// The deadline policy a request names; what it leaves out is the server's.
pub(crate) fn request_policy(
    state: &SharedState,
    roll_to_business_day: Option<bool>,
    saturday_to_friday: Option<bool>,
    due_soon_days: Option<u32>,
) -> ApiResult<DeadlinePolicy> {
    let base = state.config.deadline_policy;
    DeadlinePolicy::new(
        roll_to_business_day.unwrap_or(base.roll_to_business_day),
        saturday_to_friday.unwrap_or(base.observance.saturday_to_friday),
        due_soon_days.unwrap_or(base.due_soon_days),
    )
    .map_err(|e| match e {
        PolicyError::DueSoonDays(_) => Problem::field("/due_soon_days", e.to_string()),
    })
}

pub async fn compliance(
    State(state): State<SharedState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<ComplianceQuery>,
) -> ApiResult<Json<Value>> {
    let as_of = parse_date("as_of", q.as_of.as_deref())?;
    let policy = request_policy(
        &state,
        q.roll_to_business_day,
        q.saturday_to_friday,
        q.due_soon_days,
    )?;
    state.fresh_views().await?;
    let unit = unit_scope(&principal, q.unit.as_deref())?;
    json(compliance_report(&state, as_of, unit.as_ref(), &policy, true).await?)
}

/// Counts only (no case ids): for report authors and supervisors.
pub async fn compliance_summary(
    State(state): State<SharedState>,
    _: Principal,
    ApiQuery(q): ApiQuery<SummaryQuery>,
) -> ApiResult<Json<Value>> {
    let as_of = parse_date("as_of", q.as_of.as_deref())?;
    let policy = request_policy(
        &state,
        q.roll_to_business_day,
        q.saturday_to_friday,
        q.due_soon_days,
    )?;
    state.fresh_views().await?;
    let report = compliance_report(&state, as_of, None, &policy, false).await?;
    Ok(Json(json!({
        "as_of": report.as_of,
        "policy": report.policy,
        "policy_statement": report.policy_statement,
        "total": report.total,
        "units": report.units,
    })))
}

pub async fn list_operations(
    State(state): State<SharedState>,
    _: Principal,
) -> ApiResult<Json<Value>> {
    state.fresh_views().await?;
    let ops = state
        .projections
        .operation_results()
        .await
        .map_err(Problem::internal)?;
    // Results from the linked cases; `cases_opened` and `arrests` of the view are what
    // was typed in at the conclusion and are kept only beside them for comparison.
    let ops: Vec<Value> = ops
        .into_iter()
        .map(|(view, results)| {
            let mut v = serde_json::to_value(&view).unwrap_or(Value::Null);
            if let Some(m) = v.as_object_mut() {
                m.insert(
                    "status".into(),
                    json!(if results.in_progress {
                        "in_progress"
                    } else {
                        "concluded"
                    }),
                );
                m.insert("results".into(), json!(results));
            }
            v
        })
        .collect();
    Ok(Json(json!({ "operations": ops })))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeQuery {
    /// Open reports to skip.
    pub offset: Option<usize>,
    /// Page size, 1 to 500 (default 100).
    pub limit: Option<usize>,
}

/// Open public reports, oldest first, a page at a time; `open_total` counts the open
/// ones on every page, `all` every report of any stage.
pub async fn intake_queue(
    State(state): State<SharedState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<IntakeQuery>,
) -> ApiResult<Json<Value>> {
    state.fresh_views().await?;
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_LIMIT);
    let page = state
        .projections
        .intake_page(offset, limit)
        .await
        .map_err(Problem::internal)?;
    let ids: Vec<String> = page
        .reports
        .iter()
        .map(|r| r.receipt_number.as_str().to_owned())
        .collect();
    let mut doc = json!({
        "open": page.reports,
        "all": page.all,
        "open_total": page.open,
        "offset": offset,
        "limit": limit,
    });
    reveal_for(
        &state,
        &principal,
        &mut doc,
        "intake_queue",
        ("public_report", &ids),
    )
    .await?;
    Ok(Json(doc))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnnualQuery {
    /// First day covered (default: a year before `to`).
    #[schemars(with = "Option<Date>")]
    pub from: Option<String>,
    /// Last day covered (default: today in Connecticut).
    #[schemars(with = "Option<Date>")]
    pub to: Option<String>,
    /// Victim counts from 1 to this are suppressed (default 10).
    #[schemars(range(min = MIN_THRESHOLD, max = MAX_THRESHOLD))]
    pub suppression_threshold: Option<u64>,
    /// The ledger position to compute at (default: the head).
    #[schemars(range(min = 1))]
    pub at_position: Option<u64>,
    /// `json` (default), `html`, `csv` or `md`.
    #[schemars(extend("enum" = ["json", "html", "csv", "md"]))]
    pub format: Option<String>,
    /// Deadline policy for this answer (default: the server's): roll a weekend or
    /// CT legal-holiday due date to the next business day.
    pub roll_to_business_day: Option<bool>,
    /// Observe a Saturday holiday on the Friday before (C.G.S. 1-4; default: the server's, on).
    pub saturday_to_friday: Option<bool>,
    /// "Due soon" with at most this many days left, 0 to 14 (default: the server's).
    #[schemars(range(max = 14))]
    pub due_soon_days: Option<u32>,
}

pub async fn annual_report(
    State(state): State<SharedState>,
    principal: Principal,
    ApiQuery(q): ApiQuery<AnnualQuery>,
) -> ApiResult<Response> {
    let report = build_annual(&state, &principal, &q).await?;
    let format = q.format.as_deref().unwrap_or("json");
    use icac_projections::report::render;
    let (ct, body) = match format {
        "json" => (
            "application/json",
            render::json::render(&report).map_err(Problem::internal)?,
        ),
        "html" => ("text/html; charset=utf-8", render::html::render(&report)),
        "csv" => ("text/csv; charset=utf-8", render::csv::render(&report)),
        "md" => ("text/markdown; charset=utf-8", render::md::render(&report)),
        _ => return Err(Problem::field("/format", "must be json, html, csv or md")),
    };
    let filename = format!(
        "icac-annual-report-{}.{}",
        report.attestation.position, format
    );
    Ok((
        [
            (header::CONTENT_TYPE, ct.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{filename}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /v1/reports/releases`
pub async fn list_releases(
    State(state): State<SharedState>,
    _: Principal,
) -> ApiResult<Json<Value>> {
    let list = crate::read_side::releases::releases(state.ledger.storage(), state.ledger.id())
        .await
        .map_err(Problem::internal)?;
    let releases: Vec<Value> = list
        .iter()
        .map(|(r, event_position)| {
            json!({
                "number": r.number,
                "period": r.period.to_string(),
                "position": r.position,
                "event_position": event_position,
                "revises": r.revises,
            })
        })
        .collect();
    Ok(Json(json!({ "releases": releases })))
}

/// A draft: only for roles that may read every case behind it.
pub(crate) async fn build_annual(
    state: &SharedState,
    principal: &Principal,
    q: &AnnualQuery,
) -> ApiResult<icac_projections::report::AnnualReport> {
    if !principal
        .role
        .allows(crate::access::auth::Permission::ReadDrafts)
    {
        return Err(Problem::forbidden(
            "drafts of the annual report are for roles that read every case; the report role reads releases (GET /v1/reports/releases)",
        ));
    }
    let to = match q.to.as_deref() {
        Some(_) => parse_date("to", q.to.as_deref())?,
        None => today(),
    };
    let from = match q.from.as_deref() {
        Some(_) => parse_date("from", q.from.as_deref())?,
        None => to
            .checked_sub(jiff::Span::new().years(1))
            .map_err(|_| Problem::field("/to", "is out of range"))?,
    };
    if from > to {
        return Err(Problem::field("/from", "must not be after `to`"));
    }
    if from
        .until(to)
        .map_or(true, |s| i64::from(s.get_days()) > MAX_PERIOD_DAYS)
    {
        return Err(Problem::field(
            "/from",
            format!("the period from `from` to `to` is at most {MAX_PERIOD_DAYS} days"),
        ));
    }
    let threshold = q.suppression_threshold.unwrap_or(10);
    if !(MIN_THRESHOLD..=MAX_THRESHOLD).contains(&threshold) {
        return Err(Problem::field(
            "/suppression_threshold",
            format!("must be {MIN_THRESHOLD} to {MAX_THRESHOLD}"),
        ));
    }
    let head = super::audit::head_position(state).await?;
    if let Some(p) = q.at_position {
        if p == 0 || p > head {
            return Err(Problem::field(
                "/at_position",
                format!("must be between 1 and the ledger head {head}"),
            ));
        }
    }
    let parameters = Parameters {
        from,
        to,
        suppression_threshold: threshold,
        protection_width: threshold,
        deadline_policy: request_policy(
            state,
            q.roll_to_business_day,
            q.saturday_to_friday,
            q.due_soon_days,
        )?,
    };
    annual::build(
        state.ledger.storage(),
        state.ledger.id(),
        &state.key(),
        parameters,
        q.at_position,
        None,
    )
    .await
    .map_err(|e| match e {
        // What the report refuses to compute is a problem with the request.
        annual::AnnualError::Report(e) => Problem::field("", e.to_string()),
        annual::AnnualError::BeyondHead { .. } | annual::AnnualError::Empty => {
            Problem::field("/at_position", e.to_string())
        }
        other => Problem::internal(other),
    })
}
