//! View tables: one row per view (`view_id`, `version`, `payload`), and the
//! last position applied per projection. Same SQL for both dialects except
//! the JSON cast.

use std::collections::BTreeSet;

use icac_projections::case_view::CaseView;
use icac_projections::intake::PublicReportView;
use icac_projections::{ReadModels, ViewKey};
use jiff::civil::Date;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use super::ProjectionError;
use crate::storage::Storage;
use icac_format::record::LedgerId;

/// The view tables, one per read model.
pub const TABLES: [&str; 4] = [
    "case_views",
    "operation_views",
    "public_report_views",
    "unit_views",
];

/// Rows per multi-row INSERT during a rebuild (well under both dialects'
/// bind-parameter limits).
const INSERT_CHUNK: usize = 500;

/// SQLite `IN (...)` lists of more ids than this are not kept prepared (in each
/// connection's statement cache): small ones recur, a large one would hold a prepared
/// program per connection for one use.
const CACHED_SHAPES: usize = 16;

/// Rows for the next SQLite insert statement out of `remaining`: the largest power of
/// two that fits, at most `INSERT_CHUNK`.
fn piece(remaining: usize) -> usize {
    let cap = remaining.clamp(1, INSERT_CHUNK);
    1 << (usize::BITS - 1 - cap.leading_zeros())
}

/// Runs `$body` with `$pool` bound to the dialect's pool and `$json` to the
/// cast a JSON parameter needs there.
macro_rules! on_pool {
    ($storage:expr, $pool:ident, $json:ident, $json_out:ident => $body:block) => {
        match $storage {
            Storage::Postgres(s) => {
                let $pool = s.pool();
                let $json = "::json";
                let $json_out = "payload::text";
                $body
            }
            Storage::Sqlite(s) => {
                let $pool = s.pool();
                let $json = "";
                let $json_out = "payload";
                $body
            }
        }
    };
}

/// One row to write.
pub struct ViewRow {
    pub table: &'static str,
    pub view_id: String,
    pub version: i64,
    pub payload: String,
    /// Copies of payload fields that lists and filters read in SQL.
    pub index: IndexColumns,
}

/// The columns a view table has besides `(ledger_id, view_id, version, payload)`
/// (schema 5), with their values for one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexColumns {
    None,
    Case {
        reporting_unit: String,
        received_day: i64,
        filed_day: Option<i64>,
        opened_by_complaint: bool,
    },
    PublicReport {
        open: bool,
        received_at_s: i64,
        received_at_ns: i32,
    },
}

/// The extra columns of each view table, in table order (see `IndexColumns`).
pub fn index_columns(table: &str) -> &'static [&'static str] {
    match table {
        "case_views" => &[
            "reporting_unit",
            "received_day",
            "filed_day",
            "opened_by_complaint",
        ],
        "public_report_views" => &["open", "received_at_s", "received_at_ns"],
        _ => &[],
    }
}

/// Indexes on the view tables beyond their primary keys: (name, table, PostgreSQL
/// column list, SQLite column list). Migration 0005 creates the same; a rebuild
/// creates them on the tables it swaps in. PostgreSQL compares `view_id` bytewise
/// (`COLLATE "C"`) so its order is Rust's.
pub const INDEXES: [(&str, &str, &str, &str); 3] = [
    (
        "case_views_by_received",
        "case_views",
        "ledger_id, received_day DESC, view_id COLLATE \"C\"",
        "ledger_id, received_day DESC, view_id",
    ),
    (
        "case_views_by_unit",
        "case_views",
        "ledger_id, reporting_unit, received_day DESC, view_id COLLATE \"C\"",
        "ledger_id, reporting_unit, received_day DESC, view_id",
    ),
    (
        "public_report_views_queue",
        "public_report_views",
        "ledger_id, open, received_at_s, received_at_ns, view_id COLLATE \"C\"",
        "ledger_id, open, received_at_s, received_at_ns, view_id",
    ),
];

/// The triggers that keep `view_counts`, per view table, as migration 0005 creates
/// them; a rebuild puts them on the tables it swaps in. PostgreSQL's call functions the
/// migration made.
const POSTGRES_TRIGGERS: [(&str, &str); 4] = [
    (
        "case_views",
        "CREATE TRIGGER case_views_counted AFTER INSERT OR DELETE ON case_views \
         FOR EACH ROW EXECUTE FUNCTION case_views_count()",
    ),
    (
        "case_views",
        "CREATE TRIGGER case_views_recounted AFTER UPDATE ON case_views \
         FOR EACH ROW WHEN (OLD.reporting_unit IS DISTINCT FROM NEW.reporting_unit) \
         EXECUTE FUNCTION case_views_count()",
    ),
    (
        "public_report_views",
        "CREATE TRIGGER public_report_views_counted AFTER INSERT OR DELETE ON public_report_views \
         FOR EACH ROW EXECUTE FUNCTION public_report_views_count()",
    ),
    (
        "public_report_views",
        "CREATE TRIGGER public_report_views_recounted AFTER UPDATE ON public_report_views \
         FOR EACH ROW WHEN (OLD.open <> NEW.open) EXECUTE FUNCTION public_report_views_count()",
    ),
];

const SQLITE_TRIGGERS: [(&str, &str); 6] = [
    (
        "case_views",
        "CREATE TRIGGER case_views_counted AFTER INSERT ON case_views BEGIN \
         INSERT OR IGNORE INTO view_counts (ledger_id, counter, n) VALUES (NEW.ledger_id, 'cases:' || NEW.reporting_unit, 0); \
         UPDATE view_counts SET n = n + 1 WHERE ledger_id = NEW.ledger_id AND counter = 'cases:' || NEW.reporting_unit; \
         END",
    ),
    (
        "case_views",
        "CREATE TRIGGER case_views_uncounted AFTER DELETE ON case_views BEGIN \
         UPDATE view_counts SET n = n - 1 WHERE ledger_id = OLD.ledger_id AND counter = 'cases:' || OLD.reporting_unit; \
         END",
    ),
    (
        "case_views",
        "CREATE TRIGGER case_views_recounted AFTER UPDATE OF reporting_unit ON case_views \
         WHEN OLD.reporting_unit IS NOT NEW.reporting_unit BEGIN \
         UPDATE view_counts SET n = n - 1 WHERE ledger_id = OLD.ledger_id AND counter = 'cases:' || OLD.reporting_unit; \
         INSERT OR IGNORE INTO view_counts (ledger_id, counter, n) VALUES (NEW.ledger_id, 'cases:' || NEW.reporting_unit, 0); \
         UPDATE view_counts SET n = n + 1 WHERE ledger_id = NEW.ledger_id AND counter = 'cases:' || NEW.reporting_unit; \
         END",
    ),
    (
        "public_report_views",
        "CREATE TRIGGER public_report_views_counted AFTER INSERT ON public_report_views BEGIN \
         INSERT OR IGNORE INTO view_counts (ledger_id, counter, n) VALUES (NEW.ledger_id, 'public_reports', 0), (NEW.ledger_id, 'public_reports_open', 0); \
         UPDATE view_counts SET n = n + 1 WHERE ledger_id = NEW.ledger_id AND counter = 'public_reports'; \
         UPDATE view_counts SET n = n + NEW.open WHERE ledger_id = NEW.ledger_id AND counter = 'public_reports_open'; \
         END",
    ),
    (
        "public_report_views",
        "CREATE TRIGGER public_report_views_uncounted AFTER DELETE ON public_report_views BEGIN \
         UPDATE view_counts SET n = n - 1 WHERE ledger_id = OLD.ledger_id AND counter = 'public_reports'; \
         UPDATE view_counts SET n = n - OLD.open WHERE ledger_id = OLD.ledger_id AND counter = 'public_reports_open'; \
         END",
    ),
    (
        "public_report_views",
        "CREATE TRIGGER public_report_views_recounted AFTER UPDATE OF open ON public_report_views \
         WHEN OLD.open <> NEW.open BEGIN \
         UPDATE view_counts SET n = n - OLD.open + NEW.open WHERE ledger_id = NEW.ledger_id AND counter = 'public_reports_open'; \
         END",
    ),
];

/// Recounts one ledger's `view_counts` from its view tables (`$1`: the ledger id).
const RECOUNT: [&str; 4] = [
    "DELETE FROM view_counts WHERE ledger_id = $1",
    "INSERT INTO view_counts (ledger_id, counter, n) \
     SELECT ledger_id, 'cases:' || reporting_unit, COUNT(*) FROM case_views \
     WHERE ledger_id = $1 GROUP BY ledger_id, reporting_unit",
    "INSERT INTO view_counts (ledger_id, counter, n) \
     SELECT ledger_id, 'public_reports', COUNT(*) FROM public_report_views \
     WHERE ledger_id = $1 GROUP BY ledger_id",
    "INSERT INTO view_counts (ledger_id, counter, n) \
     SELECT ledger_id, 'public_reports_open', SUM(open) FROM public_report_views \
     WHERE ledger_id = $1 GROUP BY ledger_id",
];

/// The first day `received_day` and `filed_day` count from.
const DAY_ZERO: Date = jiff::civil::date(1970, 1, 1);

/// A Connecticut date as the day number the view tables store.
pub fn day_number(date: Date) -> i64 {
    date.duration_since(DAY_ZERO).as_secs().div_euclid(86_400)
}

/// The date of a stored day number.
pub fn date_of_day(day: i64) -> Option<Date> {
    let seconds = day.checked_mul(86_400)?;
    DAY_ZERO
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .ok()
}

fn case_columns(v: &CaseView) -> IndexColumns {
    let clock = v.notification_clock();
    IndexColumns::Case {
        reporting_unit: v.reporting_unit.as_str().to_owned(),
        received_day: day_number(clock.received_on),
        filed_day: clock.filed_on.map(day_number),
        opened_by_complaint: clock.opened_by_complaint,
    }
}

fn public_report_columns(v: &PublicReportView) -> IndexColumns {
    let nanos = v.received_at.as_nanosecond();
    IndexColumns::PublicReport {
        open: v.is_open(),
        received_at_s: i64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(i64::MAX),
        received_at_ns: i32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0),
    }
}

fn row<T: Serialize>(
    table: &'static str,
    id: &str,
    version: u64,
    view: &T,
    index: IndexColumns,
) -> Result<ViewRow, ProjectionError> {
    let payload = serde_json::to_string(view).map_err(|e| ProjectionError::View {
        table,
        view_id: id.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(ViewRow {
        table,
        view_id: id.to_owned(),
        version: i64::try_from(version.max(1)).unwrap_or(i64::MAX),
        payload,
        index,
    })
}

/// The row for one view key, if that view exists.
pub fn view_row(models: &ReadModels, key: &ViewKey) -> Result<Option<ViewRow>, ProjectionError> {
    Ok(match key {
        ViewKey::Case(id) => match models.cases.get(id) {
            Some(v) => Some(row(TABLES[0], id.as_str(), v.version, v, case_columns(v))?),
            None => None,
        },
        ViewKey::Operation(id) => match models.operations.get(id) {
            Some(v) => Some(row(
                TABLES[1],
                id.as_str(),
                v.version,
                v,
                IndexColumns::None,
            )?),
            None => None,
        },
        ViewKey::PublicReport(id) => match models.public_reports.get(id) {
            Some(v) => Some(row(
                TABLES[2],
                id.as_str(),
                v.version,
                v,
                public_report_columns(v),
            )?),
            None => None,
        },
        ViewKey::Unit(id) => match models.units.get(id) {
            Some(v) => Some(row(
                TABLES[3],
                id.as_str(),
                v.version,
                v,
                IndexColumns::None,
            )?),
            None => None,
        },
    })
}

/// Every row of every view.
pub fn all_rows(models: &ReadModels) -> Result<Vec<ViewRow>, ProjectionError> {
    let mut keys: Vec<ViewKey> = Vec::new();
    keys.extend(models.cases.keys().cloned().map(ViewKey::Case));
    keys.extend(models.operations.keys().cloned().map(ViewKey::Operation));
    keys.extend(
        models
            .public_reports
            .keys()
            .cloned()
            .map(ViewKey::PublicReport),
    );
    keys.extend(models.units.keys().cloned().map(ViewKey::Unit));
    // Serializing every view is the CPU-heavy part of writing a rebuild.
    use rayon::prelude::*;
    let rows: Vec<Option<ViewRow>> = keys
        .par_iter()
        .map(|k| view_row(models, k))
        .collect::<Result<_, _>>()?;
    Ok(rows.into_iter().flatten().collect())
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// Writes the changed views and the new position in one transaction: one
/// multi-row upsert per view table that changed and one statement for the
/// positions, whatever the number of views (the live runner calls this after
/// every committed batch).
pub async fn persist(
    storage: &Storage,
    ledger_id: &LedgerId,
    models: &ReadModels,
    changed: &BTreeSet<ViewKey>,
) -> Result<(), ProjectionError> {
    let rows = changed_rows(models, changed)?;
    write_rows(storage, ledger_id, &rows, models.position).await
}

/// The rows of the changed views the models hold.
pub fn changed_rows(
    models: &ReadModels,
    changed: &BTreeSet<ViewKey>,
) -> Result<Vec<ViewRow>, ProjectionError> {
    let mut rows = Vec::with_capacity(changed.len());
    for key in changed {
        if let Some(r) = view_row(models, key)? {
            rows.push(r);
        }
    }
    Ok(rows)
}

/// `SET` list of an upsert: every column but the key from `excluded`, and only over
/// an older version of the row, so a process folding behind another (a CLI catch-up
/// beside the server) never takes a view back.
fn upsert_suffix(table: &str) -> String {
    let mut set = String::from("version = excluded.version, payload = excluded.payload");
    for c in index_columns(table) {
        set.push_str(&format!(", {c} = excluded.{c}"));
    }
    format!(" ON CONFLICT (ledger_id, view_id) DO UPDATE SET {set} WHERE {table}.version <= excluded.version")
}

/// Upserts `rows` and records `position`, in one transaction.
pub async fn write_rows(
    storage: &Storage,
    ledger_id: &LedgerId,
    rows: &[ViewRow],
    position: u64,
) -> Result<(), ProjectionError> {
    let position = i64::try_from(position).unwrap_or(i64::MAX);
    let updated_at = now();
    match storage {
        Storage::Postgres(s) => {
            let mut tx = s.pool().begin().await?;
            for table in TABLES {
                let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
                if mine.is_empty() {
                    continue;
                }
                postgres_upsert(&mut tx, table, ledger_id, &mine).await?;
            }
            record_positions(&mut tx, ledger_id, position, &updated_at).await?;
            tx.commit().await?;
        }
        Storage::Sqlite(s) => {
            let mut tx = s.pool().begin().await?;
            for table in TABLES {
                let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
                sqlite_insert(
                    &mut tx,
                    table,
                    table,
                    &upsert_suffix(table),
                    ledger_id,
                    &mine,
                    |_| {},
                )
                .await?;
            }
            record_positions(&mut tx, ledger_id, position, &updated_at).await?;
            tx.commit().await?;
        }
    }
    Ok(())
}

/// One multi-row upsert into `table` on PostgreSQL. Arrays keep the statement text
/// constant per table, so it is prepared once.
async fn postgres_upsert(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    table: &'static str,
    ledger_id: &LedgerId,
    rows: &[&ViewRow],
) -> Result<(), ProjectionError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.view_id.as_str()).collect();
    let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
    let payloads: Vec<&str> = rows.iter().map(|r| r.payload.as_str()).collect();
    let extra = index_columns(table);
    let types: &[&str] = match table {
        "case_views" => &["text[]", "int8[]", "int8[]", "int2[]"],
        "public_report_views" => &["int2[]", "int8[]", "int4[]"],
        _ => &[],
    };
    let mut columns = String::from("ledger_id, view_id, version, payload");
    let mut arrays = String::from("$2::text[], $3::int8[], $4::text[]::json[]");
    for (i, (c, t)) in extra.iter().zip(types).enumerate() {
        columns.push_str(&format!(", {c}"));
        arrays.push_str(&format!(", ${}::{t}", i + 5));
    }
    let sql = format!(
        "INSERT INTO {table} ({columns}) SELECT $1, * FROM UNNEST({arrays}){}",
        upsert_suffix(table)
    );
    let q = sqlx::query(&sql)
        .bind(ledger_id.as_str())
        .bind(&ids)
        .bind(&versions)
        .bind(&payloads);
    let q = match table {
        "case_views" => {
            let (mut units, mut received, mut filed, mut complaint) = (
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
            );
            for r in rows {
                let IndexColumns::Case {
                    reporting_unit,
                    received_day,
                    filed_day,
                    opened_by_complaint,
                } = &r.index
                else {
                    return Err(missing_columns(r));
                };
                units.push(reporting_unit.as_str());
                received.push(*received_day);
                filed.push(*filed_day);
                complaint.push(i16::from(*opened_by_complaint));
            }
            q.bind(units).bind(received).bind(filed).bind(complaint)
        }
        "public_report_views" => {
            let (mut open, mut secs, mut nanos) = (
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
            );
            for r in rows {
                let IndexColumns::PublicReport {
                    open: o,
                    received_at_s,
                    received_at_ns,
                } = &r.index
                else {
                    return Err(missing_columns(r));
                };
                open.push(i16::from(*o));
                secs.push(*received_at_s);
                nanos.push(*received_at_ns);
            }
            q.bind(open).bind(secs).bind(nanos)
        }
        _ => q,
    };
    q.execute(&mut **tx).await?;
    Ok(())
}

fn missing_columns(r: &ViewRow) -> ProjectionError {
    ProjectionError::View {
        table: r.table,
        view_id: r.view_id.clone(),
        reason: "row lacks its table's index columns".into(),
    }
}

/// Inserts `rows` into `table` on SQLite, `INSERT_CHUNK` rows per statement, each
/// statement followed by `suffix` (e.g. an `ON CONFLICT` clause); `after_chunk` hears how
/// many rows each statement wrote. `base` is the view table whose columns `table` has
/// (itself, or the table a rebuild fills as `<base>_next`).
async fn sqlite_insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &str,
    base: &str,
    suffix: &str,
    ledger_id: &LedgerId,
    rows: &[&ViewRow],
    mut after_chunk: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let extra = index_columns(base);
    let mut rest = rows;
    while !rest.is_empty() {
        // Statements of power-of-two row counts only: a few shapes per table, each
        // prepared once per connection (preparing one binds thousands of parameters by
        // name, which costs more than running it), however the rows come.
        let n = piece(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let sql = format!("{}{suffix}", multi_row_insert(table, extra, chunk.len()));
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(ledger_id.as_str())
                .bind(&r.view_id)
                .bind(r.version)
                .bind(&r.payload);
            q = match (&r.index, extra.len()) {
                (_, 0) => q,
                (
                    IndexColumns::Case {
                        reporting_unit,
                        received_day,
                        filed_day,
                        opened_by_complaint,
                    },
                    4,
                ) => q
                    .bind(reporting_unit)
                    .bind(*received_day)
                    .bind(*filed_day)
                    .bind(i64::from(*opened_by_complaint)),
                (
                    IndexColumns::PublicReport {
                        open,
                        received_at_s,
                        received_at_ns,
                    },
                    3,
                ) => q
                    .bind(i64::from(*open))
                    .bind(*received_at_s)
                    .bind(i64::from(*received_at_ns)),
                _ => return Err(missing_columns(r)),
            };
        }
        q.execute(&mut **tx).await?;
        after_chunk(chunk.len());
    }
    Ok(())
}

/// `INSERT INTO table (...) VALUES (...), ...` for `rows` rows of the four view columns
/// and `extra` columns.
fn multi_row_insert(table: &str, extra: &[&str], rows: usize) -> String {
    let mut columns = String::from("ledger_id, view_id, version, payload");
    for c in extra {
        columns.push_str(&format!(", {c}"));
    }
    // Anonymous `?` parameters: SQLite finds a numbered or named one by walking a list
    // of names, per parameter and per execution, which is quadratic in a statement of
    // thousands of them.
    let mut row = String::from("(?, ?, ?, ?");
    for _ in extra {
        row.push_str(", ?");
    }
    row.push(')');
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&row);
    }
    sql
}

/// Records `position` for every view table, in one statement.
async fn record_positions<'c, DB>(
    conn: &mut sqlx::Transaction<'c, DB>,
    ledger_id: &LedgerId,
    position: i64,
    updated_at: &str,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'e> &'e mut <DB as sqlx::Database>::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let values: Vec<String> = TABLES
        .iter()
        .map(|t| format!("($1, '{t}', $2, $3)"))
        .collect();
    sqlx::query(&format!(
        "INSERT INTO projection_positions (ledger_id, projection, position, updated_at) VALUES {} \
         ON CONFLICT (ledger_id, projection) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
        values.join(", ")
    ))
    .bind(ledger_id.as_str())
    .bind(position)
    .bind(updated_at)
    .execute(&mut **conn)
    .await?;
    Ok(())
}

pub(crate) fn parse<T: DeserializeOwned>(
    table: &'static str,
    id: &str,
    payload: &str,
) -> Result<T, ProjectionError> {
    serde_json::from_str(payload).map_err(|e| ProjectionError::View {
        table,
        view_id: id.to_owned(),
        reason: e.to_string(),
    })
}

/// `(view_id, payload)` of every row of one view table, ordered by id.
pub async fn read_table(
    storage: &Storage,
    ledger_id: &LedgerId,
    table: &'static str,
) -> Result<Vec<(String, String)>, ProjectionError> {
    on_pool!(storage, pool, _json, json_out => {
        let sql = format!("SELECT view_id, {json_out} FROM {table} WHERE ledger_id = $1 ORDER BY view_id");
        let rows = sqlx::query(&sql).bind(ledger_id.as_str()).fetch_all(pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?));
        }
        Ok(out)
    })
}

/// The last position applied (the smallest over the view tables, so a
/// half-written state is never trusted past what every table holds).
pub async fn position(storage: &Storage, ledger_id: &LedgerId) -> Result<u64, ProjectionError> {
    let positions: Vec<i64> = on_pool!(storage, pool, _json, _json_out => {
        let rows = sqlx::query("SELECT position FROM projection_positions WHERE ledger_id = $1")
            .bind(ledger_id.as_str())
            .fetch_all(pool)
            .await?;
        rows.iter().map(|r| r.try_get::<i64, _>(0)).collect::<Result<Vec<_>, _>>()?
    });
    if positions.len() < TABLES.len() {
        return Ok(0);
    }
    Ok(positions
        .into_iter()
        .min()
        .map_or(0, |p| u64::try_from(p).unwrap_or(0)))
}

/// Loads the persisted read models (empty at position 0 if none).
pub async fn load(storage: &Storage, ledger_id: &LedgerId) -> Result<ReadModels, ProjectionError> {
    let mut models = ReadModels::new();
    let position = position(storage, ledger_id).await?;
    if position == 0 {
        return Ok(models);
    }
    for (id, payload) in read_table(storage, ledger_id, TABLES[0]).await? {
        let v: icac_projections::case_view::CaseView = parse(TABLES[0], &id, &payload)?;
        models.cases.insert(v.case_id.clone(), v);
    }
    for (id, payload) in read_table(storage, ledger_id, TABLES[1]).await? {
        let v: icac_projections::operations::OperationView = parse(TABLES[1], &id, &payload)?;
        models.operations.insert(v.operation_id.clone(), v);
    }
    for (id, payload) in read_table(storage, ledger_id, TABLES[2]).await? {
        let v: icac_projections::intake::PublicReportView = parse(TABLES[2], &id, &payload)?;
        models.public_reports.insert(v.receipt_number.clone(), v);
    }
    for (id, payload) in read_table(storage, ledger_id, TABLES[3]).await? {
        let v: icac_projections::unit_directory::UnitView = parse(TABLES[3], &id, &payload)?;
        models.units.insert(v.ori.clone(), v);
    }
    models.position = position;
    Ok(models)
}

/// `(view_id, payload)` of the rows of `table` whose ids are among `ids` (any order).
pub async fn fetch_payloads(
    storage: &Storage,
    ledger_id: &LedgerId,
    table: &'static str,
    ids: &[&str],
) -> Result<Vec<(String, String)>, ProjectionError> {
    let mut out = Vec::with_capacity(ids.len());
    if ids.is_empty() {
        return Ok(out);
    }
    match storage {
        Storage::Postgres(s) => {
            let sql = format!(
                "SELECT view_id, payload::text FROM {table} WHERE ledger_id = $1 AND view_id = ANY($2)"
            );
            let rows = sqlx::query(&sql)
                .bind(ledger_id.as_str())
                .bind(ids)
                .fetch_all(s.pool())
                .await?;
            for r in rows {
                out.push((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?));
            }
        }
        Storage::Sqlite(s) => {
            for chunk in ids.chunks(INSERT_CHUNK) {
                let marks = vec!["?"; chunk.len()].join(", ");
                let sql = format!(
                    "SELECT view_id, payload FROM {table} WHERE ledger_id = ? AND view_id IN ({marks})"
                );
                let mut q = sqlx::query(&sql)
                    .persistent(chunk.len() <= CACHED_SHAPES)
                    .bind(ledger_id.as_str());
                for id in chunk {
                    q = q.bind(*id);
                }
                for r in q.fetch_all(s.pool()).await? {
                    out.push((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?));
                }
            }
        }
    }
    Ok(out)
}

/// Reads the stored views among `keys`: the models hold just those found (at
/// position 0), each listed with its payload's size in bytes.
pub async fn load_views(
    storage: &Storage,
    ledger_id: &LedgerId,
    keys: &BTreeSet<ViewKey>,
) -> Result<(ReadModels, Vec<(ViewKey, usize)>), ProjectionError> {
    let mut by_table: [Vec<&str>; 4] = Default::default();
    for key in keys {
        let (i, id) = match key {
            ViewKey::Case(id) => (0, id.as_str()),
            ViewKey::Operation(id) => (1, id.as_str()),
            ViewKey::PublicReport(id) => (2, id.as_str()),
            ViewKey::Unit(id) => (3, id.as_str()),
        };
        by_table[i].push(id);
    }
    let mut models = ReadModels::new();
    let mut sizes = Vec::with_capacity(keys.len());
    for (i, ids) in by_table.iter().enumerate() {
        let table = TABLES[i];
        for (id, payload) in fetch_payloads(storage, ledger_id, table, ids).await? {
            let key = insert_view(&mut models, table, &id, &payload)?;
            sizes.push((key, payload.len()));
        }
    }
    Ok((models, sizes))
}

/// Parses one stored row of `table` into `models`; returns its key.
pub fn insert_view(
    models: &mut ReadModels,
    table: &'static str,
    id: &str,
    payload: &str,
) -> Result<ViewKey, ProjectionError> {
    Ok(match table {
        "case_views" => {
            let v: CaseView = parse(table, id, payload)?;
            let key = ViewKey::Case(v.case_id.clone());
            models.cases.insert(v.case_id.clone(), v);
            key
        }
        "operation_views" => {
            let v: icac_projections::operations::OperationView = parse(table, id, payload)?;
            let key = ViewKey::Operation(v.operation_id.clone());
            models.operations.insert(v.operation_id.clone(), v);
            key
        }
        "public_report_views" => {
            let v: PublicReportView = parse(table, id, payload)?;
            let key = ViewKey::PublicReport(v.receipt_number.clone());
            models.public_reports.insert(v.receipt_number.clone(), v);
            key
        }
        _ => {
            let v: icac_projections::unit_directory::UnitView = parse(table, id, payload)?;
            let key = ViewKey::Unit(v.ori.clone());
            models.units.insert(v.ori.clone(), v);
            key
        }
    })
}

/// `CREATE TABLE table` with the columns of the view table `base` (as migration 0005
/// left them, in the same order, so rows copy across with `SELECT *`).
fn create_sql(storage: &Storage, base: &str, table: &str) -> String {
    let postgres = matches!(storage, Storage::Postgres(_));
    let extra = match (base, postgres) {
        ("case_views", true) => {
            "reporting_unit text NOT NULL, received_day bigint NOT NULL, filed_day bigint, \
             opened_by_complaint smallint NOT NULL CHECK (opened_by_complaint IN (0, 1)), "
        }
        ("case_views", false) => {
            "reporting_unit TEXT NOT NULL, received_day INTEGER NOT NULL, filed_day INTEGER, \
             opened_by_complaint INTEGER NOT NULL CHECK (opened_by_complaint IN (0, 1)), "
        }
        ("public_report_views", true) => {
            "open smallint NOT NULL CHECK (open IN (0, 1)), received_at_s bigint NOT NULL, \
             received_at_ns integer NOT NULL, "
        }
        ("public_report_views", false) => {
            "open INTEGER NOT NULL CHECK (open IN (0, 1)), received_at_s INTEGER NOT NULL, \
             received_at_ns INTEGER NOT NULL, "
        }
        _ => "",
    };
    if postgres {
        format!(
            "CREATE TABLE {table} (ledger_id text NOT NULL, view_id text NOT NULL, \
             version bigint NOT NULL CHECK (version >= 1), payload json NOT NULL, {extra}\
             CONSTRAINT {table}_pkey PRIMARY KEY (ledger_id, view_id))"
        )
    } else {
        format!(
            "CREATE TABLE {table} (ledger_id TEXT NOT NULL, view_id TEXT NOT NULL, \
             version INTEGER NOT NULL CHECK (version >= 1), payload TEXT NOT NULL, {extra}\
             PRIMARY KEY (ledger_id, view_id)) STRICT"
        )
    }
}

/// Writes `rows` into fresh `<table>_next` tables (keeping other ledgers'
/// rows), then swaps them in and records `position`, all in one transaction
/// for the swap so readers see the old views or the new, never a mix.
/// PostgreSQL fills the fresh tables with COPY, SQLite with multi-row INSERTs in
/// one transaction.
pub async fn replace_all(
    storage: &Storage,
    ledger_id: &LedgerId,
    rows: Vec<ViewRow>,
    position: u64,
    mut progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let position = i64::try_from(position).unwrap_or(i64::MAX);
    let updated_at = now();
    on_pool!(storage, pool, _json, _json_out => {
        // Fill the next tables outside the swap transaction: it can take a
        // while and must not block live readers.
        for table in TABLES {
            sqlx::query(&format!("DROP TABLE IF EXISTS {table}_next")).execute(pool).await?;
            sqlx::query(&create_sql(storage, table, &format!("{table}_next"))).execute(pool).await?;
        }
    });
    let mut written = 0usize;
    match storage {
        Storage::Postgres(s) => {
            let mut conn = s.pool().acquire().await?;
            for table in TABLES {
                let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
                if mine.is_empty() {
                    continue;
                }
                let mut columns = String::from("ledger_id, view_id, version, payload");
                for c in index_columns(table) {
                    columns.push_str(&format!(", {c}"));
                }
                let mut copy = conn
                    .copy_in_raw(&format!("COPY {table}_next ({columns}) FROM STDIN"))
                    .await?;
                let mut buf = Vec::with_capacity(COPY_BUFFER + 64 * 1024);
                for r in mine {
                    copy_text_row(&mut buf, ledger_id.as_str(), r);
                    written += 1;
                    if buf.len() >= COPY_BUFFER {
                        copy.send(std::mem::take(&mut buf)).await?;
                        progress(written);
                    }
                }
                if !buf.is_empty() {
                    copy.send(buf).await?;
                }
                copy.finish().await?;
                progress(written);
            }
        }
        Storage::Sqlite(s) => match s.file() {
            Some(path) => {
                // On a blocking thread with a connection of its own; it reports its
                // progress back here, where `progress` lives.
                let path = path.to_owned();
                let ledger = ledger_id.as_str().to_owned();
                let (counted, mut counts) = tokio::sync::mpsc::unbounded_channel();
                let filler = tokio::task::spawn_blocking(move || {
                    sqlite_fill(&path, &ledger, &rows, |n| {
                        let _ = counted.send(n);
                    })
                });
                while let Some(n) = counts.recv().await {
                    progress(n);
                }
                filler
                    .await
                    .map_err(|e| ProjectionError::Worker(e.to_string()))??;
            }
            None => {
                let mut tx = s.pool().begin().await?;
                for table in TABLES {
                    let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
                    sqlite_insert(
                        &mut tx,
                        &format!("{table}_next"),
                        table,
                        "",
                        ledger_id,
                        &mine,
                        |n| {
                            written += n;
                            progress(written);
                        },
                    )
                    .await?;
                }
                tx.commit().await?;
            }
        },
    }
    let started = std::time::Instant::now();
    on_pool!(storage, pool, _json, _json_out => {
        let mut tx = pool.begin().await?;
        // Other ledgers' rows. On SQLite `<>` reads every row of the old table (this
        // ledger's included) where two ranges of the primary key read only theirs.
        let others = if matches!(storage, Storage::Postgres(_)) {
            "ledger_id <> $1"
        } else {
            "(ledger_id < $1 OR ledger_id > $1)"
        };
        for table in TABLES {
            sqlx::query(&format!(
                "INSERT INTO {table}_next SELECT * FROM {table} WHERE {others}"
            ))
            .bind(ledger_id.as_str())
            .execute(&mut *tx)
            .await?;
            sqlx::query(&format!("DROP TABLE {table}")).execute(&mut *tx).await?;
            sqlx::query(&format!("ALTER TABLE {table}_next RENAME TO {table}")).execute(&mut *tx).await?;
            if matches!(storage, Storage::Postgres(_)) {
                sqlx::query(&format!("ALTER TABLE {table} RENAME CONSTRAINT {table}_next_pkey TO {table}_pkey"))
                    .execute(&mut *tx)
                    .await?;
            }
            // Built here rather than on the `_next` table: SQLite cannot rename an index,
            // and the old table's indexes hold the names until it is dropped.
            for (name, on, pg_columns, sqlite_columns) in INDEXES {
                if on == table {
                    let columns = if matches!(storage, Storage::Postgres(_)) { pg_columns } else { sqlite_columns };
                    sqlx::query(&format!("CREATE INDEX {name} ON {table} ({columns})"))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let triggers: &[(&str, &str)] = if matches!(storage, Storage::Postgres(_)) { &POSTGRES_TRIGGERS } else { &SQLITE_TRIGGERS };
            for (on, sql) in triggers.iter().copied() {
                if on == table {
                    sqlx::raw_sql(sql).execute(&mut *tx).await?;
                }
            }
        }
        // The fresh tables were filled without the counting triggers: count this
        // ledger's rows again (other ledgers' rows and counts are unchanged).
        for sql in RECOUNT {
            sqlx::query(sql).bind(ledger_id.as_str()).execute(&mut *tx).await?;
        }
        record_positions(&mut tx, ledger_id, position, &updated_at).await?;
        tx.commit().await?;
    });
    tracing::debug!(
        swap_ms = started.elapsed().as_millis(),
        "view tables swapped in"
    );
    Ok(())
}

/// Fills the fresh `<table>_next` tables of an SQLite file with `rows`, in one
/// transaction on a connection of its own (`storage::sqlite_direct`): one prepared
/// single-row INSERT per table, bound straight from the rows and run again for each,
/// instead of multi-row statements whose thousands of arguments sqlx copies and hands
/// to its worker thread. `progress` hears the rows written so far. The tables have no
/// index but their primary key and no trigger yet (`replace_all` adds them at the swap).
fn sqlite_fill(
    path: &std::path::Path,
    ledger_id: &str,
    rows: &[ViewRow],
    mut progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    use crate::storage::sqlite_direct::{Access, Connection, BUSY_TIMEOUT_MS};
    use crate::storage::StorageError;

    let started = std::time::Instant::now();
    let conn =
        Connection::open(path, Access::ReadWrite, BUSY_TIMEOUT_MS).map_err(StorageError::from)?;
    conn.execute("BEGIN IMMEDIATE")
        .map_err(StorageError::from)?;
    let mut written = 0usize;
    for table in TABLES {
        let extra = index_columns(table);
        let mut insert = conn
            .prepare(&multi_row_insert(&format!("{table}_next"), extra, 1))
            .map_err(StorageError::from)?;
        for r in rows.iter().filter(|r| r.table == table) {
            if !bind_view_row(&mut insert, ledger_id, r, extra.len()).map_err(StorageError::from)? {
                return Err(missing_columns(r));
            }
            insert.run().map_err(StorageError::from)?;
            written += 1;
            if written % FILL_PROGRESS == 0 {
                progress(written);
            }
        }
    }
    conn.execute("COMMIT").map_err(StorageError::from)?;
    progress(written);
    tracing::debug!(
        rows = written,
        fill_ms = started.elapsed().as_millis(),
        "view tables filled"
    );
    Ok(())
}

/// Binds one view row to a single-row INSERT of its table (`extra`: how many index
/// columns the table has); false if the row lacks them.
fn bind_view_row(
    insert: &mut crate::storage::sqlite_direct::Statement<'_>,
    ledger_id: &str,
    r: &ViewRow,
    extra: usize,
) -> Result<bool, crate::storage::SqliteError> {
    insert.bind_text(1, ledger_id)?;
    insert.bind_text(2, &r.view_id)?;
    insert.bind_i64(3, r.version)?;
    insert.bind_text(4, &r.payload)?;
    match (&r.index, extra) {
        (_, 0) => {}
        (
            IndexColumns::Case {
                reporting_unit,
                received_day,
                filed_day,
                opened_by_complaint,
            },
            4,
        ) => {
            insert.bind_text(5, reporting_unit)?;
            insert.bind_i64(6, *received_day)?;
            match filed_day {
                Some(day) => insert.bind_i64(7, *day)?,
                None => insert.bind_null(7)?,
            }
            insert.bind_i64(8, i64::from(*opened_by_complaint))?;
        }
        (
            IndexColumns::PublicReport {
                open,
                received_at_s,
                received_at_ns,
            },
            3,
        ) => {
            insert.bind_i64(5, i64::from(*open))?;
            insert.bind_i64(6, *received_at_s)?;
            insert.bind_i64(7, i64::from(*received_at_ns))?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// Rows between two progress reports of an SQLite fill.
const FILL_PROGRESS: usize = 4096;

/// Bytes of COPY data sent per message.
const COPY_BUFFER: usize = 1 << 20;

/// One row in COPY's text format: tab-separated, with backslash, tab, newline and
/// carriage return escaped.
fn copy_text_row(buf: &mut Vec<u8>, ledger_id: &str, r: &ViewRow) {
    fn field(buf: &mut Vec<u8>, text: &str) {
        for &b in text.as_bytes() {
            match b {
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                _ => buf.push(b),
            }
        }
    }
    field(buf, ledger_id);
    buf.push(b'\t');
    field(buf, &r.view_id);
    buf.push(b'\t');
    buf.extend_from_slice(r.version.to_string().as_bytes());
    buf.push(b'\t');
    field(buf, &r.payload);
    let number = |buf: &mut Vec<u8>, n: Option<i64>| {
        buf.push(b'\t');
        match n {
            Some(n) => buf.extend_from_slice(n.to_string().as_bytes()),
            None => buf.extend_from_slice(b"\\N"),
        }
    };
    match &r.index {
        IndexColumns::None => {}
        IndexColumns::Case {
            reporting_unit,
            received_day,
            filed_day,
            opened_by_complaint,
        } => {
            buf.push(b'\t');
            field(buf, reporting_unit);
            number(buf, Some(*received_day));
            number(buf, *filed_day);
            number(buf, Some(i64::from(*opened_by_complaint)));
        }
        IndexColumns::PublicReport {
            open,
            received_at_s,
            received_at_ns,
        } => {
            number(buf, Some(i64::from(*open)));
            number(buf, Some(*received_at_s));
            number(buf, Some(i64::from(*received_at_ns)));
        }
    }
    buf.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_statements_come_in_power_of_two_sizes() {
        assert_eq!(piece(1), 1);
        assert_eq!(piece(3), 2);
        assert_eq!(piece(500), 256);
        assert_eq!(piece(10_000), 256);
        let mut shapes = std::collections::BTreeSet::new();
        for n in 1..=1_200 {
            let (mut rest, mut total) = (n, 0);
            while rest > 0 {
                let p = piece(rest);
                shapes.insert(p);
                total += p;
                rest -= p;
            }
            assert_eq!(total, n);
        }
        assert_eq!(shapes.len(), 9, "{shapes:?}");
    }

    #[test]
    fn copy_rows_escape_what_copy_text_format_reads_specially() {
        let mut buf = Vec::new();
        let r = ViewRow {
            table: TABLES[0],
            view_id: "CT1-24-00001".into(),
            version: 3,
            payload: "{\"a\":\"x\\ny\ttab\"}".into(),
            index: IndexColumns::None,
        };
        copy_text_row(&mut buf, "ct-icac", &r);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "ct-icac\tCT1-24-00001\t3\t{\"a\":\"x\\\\ny\\ttab\"}\n"
        );
    }

    /// View rows of every table and shape for ledger `ledger`, `n` of each kind; `tag`
    /// varies the payloads so a replaced ledger's rows can be told from its old ones.
    fn sample_rows(tag: &str, n: i64) -> Vec<ViewRow> {
        let mut rows = Vec::new();
        for i in 0..n {
            rows.push(ViewRow {
                table: TABLES[0],
                view_id: format!("CT{i}-24-0000{i}"),
                version: i + 1,
                payload: format!("{{\"case\":\"{tag}-{i}\",\"é\":1}}"),
                index: IndexColumns::Case {
                    reporting_unit: format!("CT00{}", i % 2),
                    received_day: 19_000 + i,
                    filed_day: (i % 2 == 0).then_some(19_010 + i),
                    opened_by_complaint: i % 3 == 0,
                },
            });
            rows.push(ViewRow {
                table: TABLES[1],
                view_id: format!("op-{i}"),
                version: 1,
                payload: format!("{{\"op\":\"{tag}\"}}"),
                index: IndexColumns::None,
            });
            rows.push(ViewRow {
                table: TABLES[2],
                view_id: format!("pr-{i}"),
                version: 2,
                payload: format!("{{\"report\":\"{tag}\"}}"),
                index: IndexColumns::PublicReport {
                    open: i % 2 == 1,
                    received_at_s: 1_700_000_000 + i,
                    received_at_ns: 999_999_999,
                },
            });
        }
        rows.push(ViewRow {
            table: TABLES[3],
            view_id: "CT0000000".into(),
            version: 4,
            payload: format!("{{\"unit\":\"{tag}\"}}"),
            index: IndexColumns::None,
        });
        rows
    }

    /// Everything a rebuild writes, as text, but the positions' `updated_at`.
    async fn dump(storage: &Storage) -> Vec<String> {
        let Storage::Sqlite(s) = storage else {
            unreachable!("sqlite")
        };
        let mut out = Vec::new();
        let queries = [
            "SELECT ledger_id || '|' || view_id || '|' || version || '|' || payload || '|' || \
             reporting_unit || '|' || received_day || '|' || ifnull(filed_day, 'null') || '|' || \
             opened_by_complaint FROM case_views ORDER BY ledger_id, view_id"
                .to_owned(),
            "SELECT ledger_id || '|' || view_id || '|' || version || '|' || payload FROM operation_views \
             ORDER BY ledger_id, view_id"
                .to_owned(),
            "SELECT ledger_id || '|' || view_id || '|' || version || '|' || payload || '|' || open || \
             '|' || received_at_s || '|' || received_at_ns FROM public_report_views \
             ORDER BY ledger_id, view_id"
                .to_owned(),
            "SELECT ledger_id || '|' || view_id || '|' || version || '|' || payload FROM unit_views \
             ORDER BY ledger_id, view_id"
                .to_owned(),
            "SELECT ledger_id || '|' || counter || '|' || n FROM view_counts ORDER BY 1".to_owned(),
            "SELECT ledger_id || '|' || projection || '|' || position FROM projection_positions \
             ORDER BY 1"
                .to_owned(),
            "SELECT type || '|' || name || '|' || tbl_name FROM sqlite_master \
             WHERE tbl_name LIKE '%_views' ORDER BY 1"
                .to_owned(),
        ];
        for sql in queries {
            for row in sqlx::query(&sql).fetch_all(s.pool()).await.expect("dump") {
                out.push(row.try_get::<String, _>(0).expect("text"));
            }
            out.push("--".into());
        }
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_rebuild_fill_keeps_other_ledgers_and_matches_the_pool_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = Storage::connect(&format!("sqlite://{}", dir.path().join("v.db").display()))
            .await
            .expect("connect");
        // An in-memory database has no file for a direct connection: the pool fills it.
        let memory = Storage::connect("sqlite::memory:").await.expect("connect");
        for storage in [&file, &memory] {
            storage.migrate().await.expect("migrate");
            for (ledger, n) in [("a", 3), ("b", 5), ("c", 2)] {
                let id = LedgerId::new(ledger).expect("id");
                replace_all(storage, &id, sample_rows(ledger, n), 7, |_| {})
                    .await
                    .expect("rebuild");
            }
            // Rebuild the middle ledger: both key ranges around it must be kept.
            let b = LedgerId::new("b").expect("id");
            let mut seen = Vec::new();
            replace_all(storage, &b, sample_rows("b2", 4), 9, |n| seen.push(n))
                .await
                .expect("rebuild");
            assert_eq!(seen.last(), Some(&13), "progress reaches every row");
        }
        let (on_file, in_memory) = (dump(&file).await, dump(&memory).await);
        assert_eq!(on_file, in_memory);
        let count = |prefix: &str| on_file.iter().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(count("a|CT"), 3 + 1, "ledger a's cases and unit");
        assert_eq!(count("c|CT"), 2 + 1);
        assert_eq!(count("b|CT"), 4 + 1);
        assert!(on_file
            .iter()
            .any(|l| l.starts_with("b|CT0-24-00000|1|{\"case\":\"b2-0\"")));
        assert!(
            !on_file.iter().any(|l| l.contains("\"b-")),
            "b's old views are gone"
        );
        assert!(
            on_file.contains(&"b|cases:CT000|2".to_owned()),
            "{on_file:?}"
        );
        assert!(on_file.contains(&"b|public_reports_open|2".to_owned()));
        assert!(on_file.contains(&"a|public_reports|3".to_owned()));
        assert!(on_file.contains(&"b|case_views|9".to_owned()));
        assert!(on_file.contains(&"index|case_views_by_unit|case_views".to_owned()));
        assert!(on_file.contains(&"trigger|case_views_counted|case_views".to_owned()));
    }
}
