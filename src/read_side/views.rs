//! Reads of the view tables for the API and the CLI: one view, a page of cases
//! (unit scope, 14-day filter, newest first, paged in SQL), 14-day compliance
//! streamed page by page, the unit directory, operations and the intake queue.
//!
//! Nothing here holds more than a page of views (a full compliance report holds its
//! rows, which are its answer). The answers are the ones the in-memory read models gave
//! for the same ledger: the same filters, the same order (PostgreSQL compares ids
//! bytewise, `COLLATE "C"`, as Rust does), the same pure assessment.

use icac_aggregates::compliance::deadline::DeadlineError;
use icac_aggregates::compliance::sharing::SharingPolicy;
use icac_aggregates::compliance::NOTIFICATION_DAYS;
use icac_aggregates::compliance::{ComplianceStatus, DeadlinePolicy, NotificationClock};
use icac_aggregates::ids::{CaseId, Ori};
use icac_projections::case_view::CaseView;
use icac_projections::compliance::{assess_clock, ComplianceReport, ComplianceTally};
use icac_projections::intake::PublicReportView;
use icac_projections::operation_results::OperationResults;
use icac_projections::operations::OperationView;
use icac_projections::sharing::{SharingReport, SharingTally};
use icac_projections::unit_directory::UnitView;
use jiff::civil::Date;
use serde::de::DeserializeOwned;
use sqlx::Row;

use super::store::{self, date_of_day, day_number, TABLES};
use super::ProjectionError;
use crate::storage::sql::on_pool;
use crate::storage::Storage;
use icac_format::record::LedgerId;

/// Rows per round trip when a read streams a whole table.
const STREAM_PAGE: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ViewQueryError {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// A 14-day deadline could not be computed for the date asked about.
    #[error(transparent)]
    Deadline(#[from] DeadlineError),
}

impl From<sqlx::Error> for ViewQueryError {
    fn from(e: sqlx::Error) -> Self {
        ViewQueryError::Projection(e.into())
    }
}

/// One 14-day status, as the case list filters by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    OnTime,
    Late,
    Pending,
    DueSoon,
    Overdue,
}

impl StatusFilter {
    /// `on_time`, `late`, `pending`, `due_soon` or `overdue` (the status's tag).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "on_time" => Self::OnTime,
            "late" => Self::Late,
            "pending" => Self::Pending,
            "due_soon" => Self::DueSoon,
            "overdue" => Self::Overdue,
            _ => return None,
        })
    }

    pub fn matches(self, status: &ComplianceStatus) -> bool {
        matches!(
            (self, status),
            (Self::OnTime, ComplianceStatus::OnTime)
                | (Self::Late, ComplianceStatus::Late { .. })
                | (Self::Pending, ComplianceStatus::Pending { .. })
                | (Self::DueSoon, ComplianceStatus::DueSoon { .. })
                | (Self::Overdue, ComplianceStatus::Overdue { .. })
        )
    }

    /// The same test in SQL over `received_day` and `filed_day`, for a policy that does
    /// not roll due dates (due = received + 14 days). `$a` is the as-of day, `$s` the
    /// due-soon threshold in days. Mirrors `icac_aggregates::compliance::assess`: a case
    /// received after the as-of day has no status; a form filed after it counts as
    /// not filed yet.
    fn sql(self, a: &str, s: &str) -> String {
        let due = format!("(received_day + {NOTIFICATION_DAYS})");
        let started = format!("received_day <= {a}");
        let filed = format!("filed_day <= {a}");
        let open = format!("(filed_day IS NULL OR filed_day > {a})");
        match self {
            Self::OnTime => format!("{started} AND {filed} AND filed_day <= {due}"),
            Self::Late => format!("{started} AND {filed} AND filed_day > {due}"),
            Self::Overdue => format!("{started} AND {open} AND {due} < {a}"),
            Self::DueSoon => {
                format!("{started} AND {open} AND {due} >= {a} AND {due} <= {a} + {s}")
            }
            Self::Pending => format!("{started} AND {open} AND {due} > {a} + {s}"),
        }
    }
}

/// What a case list asks for.
#[derive(Debug, Clone)]
pub struct CaseListQuery {
    /// Cases whose reporting unit is this one.
    pub unit: Option<Ori>,
    /// Only cases whose id begins `<ORI>:` (what a unit-bound principal may see).
    pub visible_to: Option<Ori>,
    pub status: Option<StatusFilter>,
    pub as_of: Date,
    pub policy: DeadlinePolicy,
    pub offset: usize,
    pub limit: usize,
}

/// One page of a case list, newest received first (ties by case id).
#[derive(Debug, Clone, PartialEq)]
pub struct CasePage {
    /// Cases matching the query, on every page.
    pub total: usize,
    pub cases: Vec<CaseView>,
}

/// `COLLATE "C"` on PostgreSQL (bytewise, as Rust orders strings); SQLite's default
/// collation already is.
fn bytewise(storage: &Storage) -> &'static str {
    storage.sql_dialect().bytewise
}

fn payload_column(storage: &Storage) -> &'static str {
    storage.sql_dialect().json_text
}

/// A value bound to a query, in order.
#[derive(Debug, Clone)]
enum Param {
    Text(String),
    Int(i64),
}

/// Runs `sql` with `params` on either dialect and hands back the rows as `T`.
macro_rules! fetch {
    ($storage:expr, $sql:expr, $params:expr, |$row:ident| $map:expr) => {{
        let params: &[Param] = $params;
        on_pool!($storage, |pool, _sql| {
            let mut q = sqlx::query($sql);
            for p in params {
                q = match p {
                    Param::Text(t) => q.bind(t.clone()),
                    Param::Int(i) => q.bind(*i),
                };
            }
            let rows = q.fetch_all(pool).await?;
            let mut out = Vec::with_capacity(rows.len());
            for $row in &rows {
                out.push($map);
            }
            out
        })
    }};
}

fn parse_view<T: DeserializeOwned>(
    table: &'static str,
    id: &str,
    payload: &str,
) -> Result<T, ProjectionError> {
    store::parse(table, id, payload)
}

fn bad_column(table: &'static str, id: &str, reason: impl Into<String>) -> ProjectionError {
    ProjectionError::View {
        table,
        view_id: id.to_owned(),
        reason: reason.into(),
    }
}

/// One case's view as its table holds it.
pub async fn case_view(
    storage: &Storage,
    ledger_id: &LedgerId,
    case_id: &CaseId,
) -> Result<Option<CaseView>, ProjectionError> {
    let rows = store::fetch_payloads(storage, ledger_id, TABLES[0], &[case_id.as_str()]).await?;
    rows.into_iter()
        .next()
        .map(|(id, payload)| parse_view(TABLES[0], &id, &payload))
        .transpose()
}

/// The `WHERE` clause (after `ledger_id = $1`) and its parameters for a case list.
fn case_filter(q: &CaseListQuery, params: &mut Vec<Param>, with_status: bool) -> String {
    let mut sql = String::new();
    if let Some(unit) = &q.unit {
        params.push(Param::Text(unit.as_str().to_owned()));
        sql.push_str(&format!(" AND reporting_unit = ${}", params.len()));
    }
    if let Some(own) = &q.visible_to {
        params.push(Param::Text(format!("{}:", own.as_str())));
        let n = params.len();
        sql.push_str(&format!(" AND substr(view_id, 1, length(${n})) = ${n}"));
    }
    if let (true, Some(status)) = (with_status, q.status) {
        params.push(Param::Int(day_number(q.as_of)));
        let a = format!("${}", params.len());
        params.push(Param::Int(i64::from(q.policy.due_soon_days)));
        let s = format!("${}", params.len());
        sql.push_str(&format!(" AND {}", status.sql(&a, &s)));
    }
    sql
}

/// A page of cases: unit scope, visibility and the 14-day filter in SQL, newest
/// received first, ties by case id. A policy that rolls due dates to business days has
/// no SQL form; its filter runs over the case clocks, streamed (bounded memory).
pub async fn case_page(
    storage: &Storage,
    ledger_id: &LedgerId,
    q: &CaseListQuery,
) -> Result<CasePage, ViewQueryError> {
    if q.status.is_some() && q.policy.roll_to_business_day {
        return case_page_streamed(storage, ledger_id, q).await;
    }
    let mut params = vec![Param::Text(ledger_id.as_str().to_owned())];
    let filter = case_filter(q, &mut params, true);
    // Totals of a whole unit, or of every case, are kept counted (`view_counts`); a
    // count over the rows is for filtered lists only.
    let count_sql = match (&q.status, &q.visible_to, &q.unit) {
        (None, None, Some(_)) => "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM view_counts \
             WHERE ledger_id = $1 AND counter = 'cases:' || $2"
            .to_owned(),
        (None, None, None) => "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM view_counts \
             WHERE ledger_id = $1 AND substr(counter, 1, 6) = 'cases:'"
            .to_owned(),
        _ => format!("SELECT COUNT(*) FROM case_views WHERE ledger_id = $1{filter}"),
    };
    let total: Vec<i64> = fetch!(storage, &count_sql, &params, |r| r.try_get::<i64, _>(0)?);
    let total = usize::try_from(total.first().copied().unwrap_or(0)).unwrap_or(0);
    params.push(Param::Int(i64::try_from(q.limit).unwrap_or(i64::MAX)));
    params.push(Param::Int(i64::try_from(q.offset).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT view_id, {} FROM case_views WHERE ledger_id = $1{filter} \
         ORDER BY received_day DESC, view_id{} LIMIT ${} OFFSET ${}",
        payload_column(storage),
        bytewise(storage),
        params.len() - 1,
        params.len()
    );
    let rows: Vec<(String, String)> = fetch!(storage, &sql, &params, |r| (
        r.try_get::<String, _>(0)?,
        r.try_get::<String, _>(1)?
    ));
    let mut cases = Vec::with_capacity(rows.len());
    for (id, payload) in rows {
        cases.push(parse_view(TABLES[0], &id, &payload)?);
    }
    Ok(CasePage { total, cases })
}

/// One case's clock as its row's columns hold it.
struct ClockRow {
    case_id: String,
    unit: String,
    received_day: i64,
    filed_day: Option<i64>,
    opened_by_complaint: bool,
}

impl ClockRow {
    fn clock(&self) -> Result<NotificationClock, ProjectionError> {
        let day = |d: i64| {
            date_of_day(d).ok_or_else(|| bad_column(TABLES[0], &self.case_id, "day out of range"))
        };
        Ok(NotificationClock {
            received_on: day(self.received_day)?,
            filed_on: self.filed_day.map(day).transpose()?,
            opened_by_complaint: self.opened_by_complaint,
        })
    }

    fn ids(&self) -> Result<(CaseId, Ori), ProjectionError> {
        let case_id = CaseId::parse(self.case_id.as_str())
            .map_err(|e| bad_column(TABLES[0], &self.case_id, e.to_string()))?;
        let unit = Ori::parse(self.unit.as_str())
            .map_err(|e| bad_column(TABLES[0], &self.case_id, e.to_string()))?;
        Ok((case_id, unit))
    }
}

fn clock_row<R: Row>(r: &R) -> Result<ClockRow, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ClockRow {
        case_id: r.try_get(0)?,
        unit: r.try_get(1)?,
        received_day: r.try_get(2)?,
        filed_day: r.try_get(3)?,
        opened_by_complaint: r.try_get::<i64, _>(4)? != 0,
    })
}

const CLOCK_COLUMNS: &str =
    "view_id, reporting_unit, received_day, filed_day, CAST(opened_by_complaint AS BIGINT)";

/// The case list by streaming clocks newest first and filtering them in Rust; then the
/// page's views are read by id.
async fn case_page_streamed(
    storage: &Storage,
    ledger_id: &LedgerId,
    q: &CaseListQuery,
) -> Result<CasePage, ViewQueryError> {
    let Some(status) = q.status else {
        return Err(ViewQueryError::Projection(bad_column(
            TABLES[0],
            "",
            "streamed list without a status filter",
        )));
    };
    let mut total = 0usize;
    let mut wanted: Vec<String> = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let mut params = vec![Param::Text(ledger_id.as_str().to_owned())];
        let mut filter = case_filter(q, &mut params, false);
        if let Some((day, id)) = &after {
            params.push(Param::Int(*day));
            let d = params.len();
            params.push(Param::Text(id.clone()));
            filter.push_str(&format!(
                " AND (received_day < ${d} OR (received_day = ${d} AND view_id{c} > ${}{c}))",
                d + 1,
                c = bytewise(storage)
            ));
        }
        params.push(Param::Int(STREAM_PAGE));
        let sql = format!(
            "SELECT {CLOCK_COLUMNS} FROM case_views WHERE ledger_id = $1{filter} \
             ORDER BY received_day DESC, view_id{} LIMIT ${}",
            bytewise(storage),
            params.len()
        );
        let rows: Vec<ClockRow> = fetch!(storage, &sql, &params, |r| clock_row(r)?);
        let count = rows.len();
        for row in &rows {
            let (case_id, unit) = row.ids()?;
            let assessed = assess_clock(&case_id, &unit, &row.clock()?, q.as_of, &q.policy)?;
            if assessed.is_some_and(|c| status.matches(&c.status)) {
                if total >= q.offset && wanted.len() < q.limit {
                    wanted.push(row.case_id.clone());
                }
                total += 1;
            }
        }
        match rows.last() {
            Some(last) if count as i64 == STREAM_PAGE => {
                after = Some((last.received_day, last.case_id.clone()));
            }
            _ => break,
        }
    }
    let ids: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let mut found = std::collections::HashMap::new();
    for (id, payload) in store::fetch_payloads(storage, ledger_id, TABLES[0], &ids).await? {
        let view: CaseView = parse_view(TABLES[0], &id, &payload)?;
        found.insert(id, view);
    }
    let cases = wanted.iter().filter_map(|id| found.remove(id)).collect();
    Ok(CasePage { total, cases })
}

/// 14-day compliance as of `as_of`, optionally for one unit, streamed over the case
/// clocks a page at a time. With `rows` false the report carries the counts only (its
/// `notifications` stay empty) and memory stays bounded by the number of units.
pub async fn compliance(
    storage: &Storage,
    ledger_id: &LedgerId,
    as_of: Date,
    unit: Option<&Ori>,
    policy: &DeadlinePolicy,
    rows: bool,
) -> Result<ComplianceReport, ViewQueryError> {
    let mut tally = ComplianceTally::new(rows);
    let mut after: Option<String> = None;
    loop {
        let mut params = vec![Param::Text(ledger_id.as_str().to_owned())];
        let mut filter = String::new();
        if let Some(u) = unit {
            params.push(Param::Text(u.as_str().to_owned()));
            filter.push_str(&format!(" AND reporting_unit = ${}", params.len()));
        }
        if let Some(last) = &after {
            params.push(Param::Text(last.clone()));
            filter.push_str(&format!(" AND view_id > ${}", params.len()));
        }
        params.push(Param::Int(STREAM_PAGE));
        // Key order (the primary key's collation): any order does, the tally sorts.
        let sql = format!(
            "SELECT {CLOCK_COLUMNS} FROM case_views WHERE ledger_id = $1{filter} \
             ORDER BY view_id LIMIT ${}",
            params.len()
        );
        let page: Vec<ClockRow> = fetch!(storage, &sql, &params, |r| clock_row(r)?);
        let count = page.len();
        for row in &page {
            let (case_id, unit) = row.ids()?;
            if let Some(n) = assess_clock(&case_id, &unit, &row.clock()?, as_of, policy)? {
                tally.add(n);
            }
        }
        match page.last() {
            Some(last) if count as i64 == STREAM_PAGE => after = Some(last.case_id.clone()),
            _ => break,
        }
    }
    Ok(tally.finish(as_of, policy))
}

/// Every row of a small view table (units, operations), by id.
async fn whole_table<T: DeserializeOwned>(
    storage: &Storage,
    ledger_id: &LedgerId,
    table: &'static str,
) -> Result<Vec<T>, ProjectionError> {
    let sql = format!(
        "SELECT view_id, {} FROM {table} WHERE ledger_id = $1 ORDER BY view_id{}",
        payload_column(storage),
        bytewise(storage)
    );
    let params = [Param::Text(ledger_id.as_str().to_owned())];
    let rows: Vec<(String, String)> = fetch!(storage, &sql, &params, |r| (
        r.try_get::<String, _>(0)?,
        r.try_get::<String, _>(1)?
    ));
    rows.iter()
        .map(|(id, payload)| parse_view(table, id, payload))
        .collect()
}

/// The unit directory, by ORI.
pub async fn units(
    storage: &Storage,
    ledger_id: &LedgerId,
) -> Result<Vec<UnitView>, ProjectionError> {
    whole_table(storage, ledger_id, TABLES[3]).await
}

/// Every operation, by id (a task force runs a few dozen a year).
pub async fn operations(
    storage: &Storage,
    ledger_id: &LedgerId,
) -> Result<Vec<OperationView>, ProjectionError> {
    whole_table(storage, ledger_id, TABLES[1]).await
}

/// Every case view, a page at a time (bounded memory), handed to `f` in id order.
async fn each_case_view(
    storage: &Storage,
    ledger_id: &LedgerId,
    mut f: impl FnMut(CaseView),
) -> Result<(), ProjectionError> {
    let mut after = String::new();
    loop {
        let sql = format!(
            "SELECT view_id, {} FROM {} WHERE ledger_id = $1 AND view_id > $2{} \
             ORDER BY view_id{} LIMIT $3",
            payload_column(storage),
            TABLES[0],
            bytewise(storage),
            bytewise(storage)
        );
        let params = [
            Param::Text(ledger_id.as_str().to_owned()),
            Param::Text(after.clone()),
            Param::Int(STREAM_PAGE),
        ];
        let rows: Vec<(String, String)> = fetch!(storage, &sql, &params, |r| (
            r.try_get::<String, _>(0)?,
            r.try_get::<String, _>(1)?
        ));
        for (id, payload) in &rows {
            f(parse_view(TABLES[0], id, payload)?);
        }
        match rows.last() {
            Some((id, _)) if rows.len() as i64 == STREAM_PAGE => after = id.clone(),
            _ => return Ok(()),
        }
    }
}

/// Every operation with its results derived from the cases linked to it, keeping
/// only the linked case views.
pub async fn operation_results(
    storage: &Storage,
    ledger_id: &LedgerId,
) -> Result<Vec<(OperationView, OperationResults)>, ProjectionError> {
    let operations = operations(storage, ledger_id).await?;
    let mut linked: Vec<CaseView> = Vec::new();
    each_case_view(storage, ledger_id, |view| {
        if !view.operations.is_empty() {
            linked.push(view);
        }
    })
    .await?;
    let mut results = icac_projections::operation_results::results(&operations, &linked);
    Ok(operations
        .into_iter()
        .map(|o| {
            let r = results.remove(&o.operation_id).unwrap_or_default();
            (o, r)
        })
        .collect())
}

/// The continued-sharing clock of every case (or one unit's) as of `as_of`; with
/// `rows` false, counts only.
pub async fn sharing(
    storage: &Storage,
    ledger_id: &LedgerId,
    as_of: Date,
    unit: Option<&Ori>,
    policy: &SharingPolicy,
    rows: bool,
) -> Result<SharingReport, ProjectionError> {
    let mut tally = SharingTally::new(rows);
    each_case_view(storage, ledger_id, |view| {
        if unit.is_some_and(|u| *u != view.reporting_unit) {
            return;
        }
        if let Some(row) = icac_projections::sharing::assess_case(&view, as_of, policy) {
            tally.add(row);
        }
    })
    .await?;
    Ok(tally.finish(as_of, policy))
}

/// Every CyberTip at the Task Force, folded from its stream (a few thousand a year: no
/// view table of their own yet).
pub async fn tips(
    storage: &Storage,
    ledger_id: &LedgerId,
) -> Result<Vec<icac_projections::tips::TipView>, ProjectionError> {
    let rows = storage
        .read_type(
            ledger_id,
            <icac_aggregates::tip_intake::Tip as cqrs_es::Aggregate>::TYPE,
        )
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let position = row.position;
        let record = crate::ledger::sealed_from_row(row)?.record;
        let decoded = icac_projections::decode(
            &record.aggregate_type,
            &record.event_type,
            &record.event_version,
            record.payload,
        )
        .map_err(|source| ProjectionError::Decode { position, source })?;
        if let Some(icac_projections::DomainEvent::NcmecTip(e)) = decoded {
            events.push((record.aggregate_id.as_str().to_owned(), e));
        }
    }
    Ok(icac_projections::tips::fold(
        events.iter().map(|(id, e)| (id.as_str(), e)),
    ))
}

/// A page of the intake queue.
#[derive(Debug, Clone, PartialEq)]
pub struct IntakePage {
    /// Public reports of every stage.
    pub all: u64,
    /// Reports still open (received or triaged).
    pub open: u64,
    /// Open reports, oldest received first (ties by receipt number), this page of them.
    pub reports: Vec<PublicReportView>,
}

/// Open public reports awaiting triage or routing, oldest first, paged.
pub async fn intake_page(
    storage: &Storage,
    ledger_id: &LedgerId,
    offset: usize,
    limit: usize,
) -> Result<IntakePage, ProjectionError> {
    let params = vec![Param::Text(ledger_id.as_str().to_owned())];
    let counts: Vec<(String, i64)> = fetch!(
        storage,
        "SELECT counter, n FROM view_counts WHERE ledger_id = $1 \
         AND counter IN ('public_reports', 'public_reports_open')",
        &params,
        |r| (r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)
    );
    let count = |name: &str| {
        counts
            .iter()
            .find(|(c, _)| c == name)
            .map_or(0, |(_, n)| *n)
    };
    let (all, open) = (count("public_reports"), count("public_reports_open"));
    let mut params = params;
    params.push(Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
    params.push(Param::Int(i64::try_from(offset).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT view_id, {} FROM public_report_views WHERE ledger_id = $1 AND open = 1 \
         ORDER BY received_at_s, received_at_ns, view_id{} LIMIT $2 OFFSET $3",
        payload_column(storage),
        bytewise(storage)
    );
    let rows: Vec<(String, String)> = fetch!(storage, &sql, &params, |r| (
        r.try_get::<String, _>(0)?,
        r.try_get::<String, _>(1)?
    ));
    let reports = rows
        .iter()
        .map(|(id, payload)| parse_view(TABLES[2], id, payload))
        .collect::<Result<_, _>>()?;
    Ok(IntakePage {
        all: u64::try_from(all).unwrap_or(0),
        open: u64::try_from(open).unwrap_or(0),
        reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn day_numbers_round_trip() {
        for d in [
            date(1970, 1, 1),
            date(1969, 12, 31),
            date(2000, 2, 29),
            date(2026, 11, 29),
            date(9999, 12, 31),
            date(-9999, 1, 1),
        ] {
            assert_eq!(date_of_day(day_number(d)), Some(d), "{d}");
        }
        assert_eq!(day_number(date(1970, 1, 15)), 14);
        assert_eq!(day_number(date(1969, 12, 31)), -1);
    }

    #[test]
    fn status_filters_parse_their_tags() {
        for (tag, status) in [
            ("on_time", ComplianceStatus::OnTime),
            ("late", ComplianceStatus::Late { days: 1 }),
            ("pending", ComplianceStatus::Pending { due_in_days: 9 }),
            ("due_soon", ComplianceStatus::DueSoon { due_in_days: 0 }),
            ("overdue", ComplianceStatus::Overdue { days: 2 }),
        ] {
            let f = StatusFilter::parse(tag).expect(tag);
            assert!(f.matches(&status), "{tag}");
            let tagged = serde_json::to_value(status).expect("json");
            assert_eq!(tagged["status"], tag);
        }
        assert_eq!(StatusFilter::parse("soon"), None);
    }
}
