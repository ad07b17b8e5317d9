//! View tables: one row per view (`view_id`, `version`, `payload`), and the
//! last position applied per projection. What the dialects write differently is in
//! `storage::sql`.

use std::collections::BTreeSet;

use icac_projections::case_view::CaseView;
use icac_projections::intake::PublicReportView;
use icac_projections::{ReadModels, ViewKey};
use jiff::civil::Date;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use super::ProjectionError;
use crate::storage::sql::{self, on_pool};
use crate::storage::Storage;
use icac_format::record::LedgerId;

/// The view tables, one per read model.
pub const TABLES: [&str; 4] = [
    "case_views",
    "operation_views",
    "public_report_views",
    "unit_views",
];

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

/// Upserts `rows` and records `position`, in one transaction.
pub async fn write_rows(
    storage: &Storage,
    ledger_id: &LedgerId,
    rows: &[ViewRow],
    position: u64,
) -> Result<(), ProjectionError> {
    let position = i64::try_from(position).unwrap_or(i64::MAX);
    sql::write_views(storage, ledger_id, rows, position, &now()).await
}

/// The error for a row whose index columns are not its table's.
pub(crate) fn missing_columns(r: &ViewRow) -> ProjectionError {
    ProjectionError::View {
        table: r.table,
        view_id: r.view_id.clone(),
        reason: "row lacks its table's index columns".into(),
    }
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
    let json_text = storage.sql_dialect().json_text;
    on_pool!(storage, |pool, _sql| {
        let sql = format!(
            "SELECT view_id, {json_text} FROM {table} WHERE ledger_id = $1 ORDER BY view_id"
        );
        let rows = sqlx::query(&sql)
            .bind(ledger_id.as_str())
            .fetch_all(pool)
            .await?;
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
    let positions: Vec<i64> = on_pool!(storage, |pool, _sql| {
        let rows = sqlx::query("SELECT position FROM projection_positions WHERE ledger_id = $1")
            .bind(ledger_id.as_str())
            .fetch_all(pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<Result<Vec<_>, _>>()?
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
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sql::fetch_views(storage, ledger_id, table, ids).await
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

/// Replaces `ledger_id`'s views by `rows` and records `position`, atomically: readers
/// see the old views or the new, never a mix, and other ledgers' views are kept.
/// `progress` hears the rows written so far. The view tables, their indexes and
/// triggers are the migrations' alone (`storage::sql` says how each backend keeps them).
pub async fn replace_all(
    storage: &Storage,
    ledger_id: &LedgerId,
    rows: Vec<ViewRow>,
    position: u64,
    progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let position = i64::try_from(position).unwrap_or(i64::MAX);
    sql::replace_views(storage, ledger_id, rows, position, &now(), progress).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
