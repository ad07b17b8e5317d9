//! View tables: one row per view (`view_id`, `version`, `payload`), and the
//! last position applied per projection. Same SQL for both dialects except
//! the JSON cast.

use std::collections::BTreeSet;

use icac_projections::{ReadModels, ViewKey};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use super::ProjectionError;
use crate::ledger::record::LedgerId;
use crate::storage::Storage;

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
}

fn row<T: Serialize>(
    table: &'static str,
    id: &str,
    version: u64,
    view: &T,
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
    })
}

/// The row for one view key, if that view exists.
pub fn view_row(models: &ReadModels, key: &ViewKey) -> Result<Option<ViewRow>, ProjectionError> {
    Ok(match key {
        ViewKey::Case(id) => match models.cases.get(id) {
            Some(v) => Some(row(TABLES[0], id.as_str(), v.version, v)?),
            None => None,
        },
        ViewKey::Operation(id) => match models.operations.get(id) {
            Some(v) => Some(row(TABLES[1], id.as_str(), v.version, v)?),
            None => None,
        },
        ViewKey::PublicReport(id) => match models.public_reports.get(id) {
            Some(v) => Some(row(TABLES[2], id.as_str(), v.version, v)?),
            None => None,
        },
        ViewKey::Unit(id) => match models.units.get(id) {
            Some(v) => Some(row(TABLES[3], id.as_str(), v.version, v)?),
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
    let mut rows = Vec::with_capacity(changed.len());
    for key in changed {
        if let Some(r) = view_row(models, key)? {
            rows.push(r);
        }
    }
    let position = i64::try_from(models.position).unwrap_or(i64::MAX);
    let updated_at = now();
    match storage {
        Storage::Postgres(s) => {
            let mut tx = s.pool().begin().await?;
            for table in TABLES {
                let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
                if mine.is_empty() {
                    continue;
                }
                // Arrays keep the statement text constant, so it is prepared once.
                let ids: Vec<&str> = mine.iter().map(|r| r.view_id.as_str()).collect();
                let versions: Vec<i64> = mine.iter().map(|r| r.version).collect();
                let payloads: Vec<&str> = mine.iter().map(|r| r.payload.as_str()).collect();
                sqlx::query(&format!(
                    "INSERT INTO {table} (ledger_id, view_id, version, payload) \
                     SELECT $1, * FROM UNNEST($2::text[], $3::int8[], $4::text[]::json[]) \
                     ON CONFLICT (ledger_id, view_id) DO UPDATE SET version = excluded.version, payload = excluded.payload"
                ))
                .bind(ledger_id.as_str())
                .bind(&ids)
                .bind(&versions)
                .bind(&payloads)
                .execute(&mut *tx)
                .await?;
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
                    " ON CONFLICT (ledger_id, view_id) DO UPDATE SET version = excluded.version, payload = excluded.payload",
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

/// `INSERT INTO table (...) VALUES (...), ...` for `rows` rows of 4 parameters.
/// Inserts `rows` into `table` on SQLite, `INSERT_CHUNK` rows per statement, each
/// statement followed by `suffix` (e.g. an `ON CONFLICT` clause); `after_chunk` hears how
/// many rows each statement wrote.
async fn sqlite_insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &str,
    suffix: &str,
    ledger_id: &LedgerId,
    rows: &[&ViewRow],
    mut after_chunk: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        let sql = format!("{}{suffix}", multi_row_insert(table, chunk.len(), ""));
        let mut q = sqlx::query(&sql);
        for r in chunk {
            q = q
                .bind(ledger_id.as_str())
                .bind(&r.view_id)
                .bind(r.version)
                .bind(&r.payload);
        }
        q.execute(&mut **tx).await?;
        after_chunk(chunk.len());
    }
    Ok(())
}

fn multi_row_insert(table: &str, rows: usize, json: &str) -> String {
    let mut sql = format!("INSERT INTO {table} (ledger_id, view_id, version, payload) VALUES ");
    for i in 0..rows {
        let b = i * 4;
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}{json})",
            b + 1,
            b + 2,
            b + 3,
            b + 4
        ));
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

fn parse<T: DeserializeOwned>(
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

fn create_sql(storage: &Storage, table: &str) -> String {
    match storage {
        Storage::Postgres(_) => format!(
            "CREATE TABLE {table} (ledger_id text NOT NULL, view_id text NOT NULL, \
             version bigint NOT NULL CHECK (version >= 1), payload json NOT NULL, \
             CONSTRAINT {table}_pkey PRIMARY KEY (ledger_id, view_id))"
        ),
        Storage::Sqlite(_) => format!(
            "CREATE TABLE {table} (ledger_id TEXT NOT NULL, view_id TEXT NOT NULL, \
             version INTEGER NOT NULL CHECK (version >= 1), payload TEXT NOT NULL, \
             PRIMARY KEY (ledger_id, view_id)) STRICT"
        ),
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
    rows: &[ViewRow],
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
            sqlx::query(&create_sql(storage, &format!("{table}_next"))).execute(pool).await?;
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
                let mut copy = conn
                    .copy_in_raw(&format!(
                        "COPY {table}_next (ledger_id, view_id, version, payload) FROM STDIN"
                    ))
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
        Storage::Sqlite(s) => {
            let mut tx = s.pool().begin().await?;
            for table in TABLES {
                let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
                sqlite_insert(
                    &mut tx,
                    &format!("{table}_next"),
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
    }
    on_pool!(storage, pool, _json, _json_out => {
        let mut tx = pool.begin().await?;
        for table in TABLES {
            sqlx::query(&format!(
                "INSERT INTO {table}_next SELECT * FROM {table} WHERE ledger_id <> $1"
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
        }
        record_positions(&mut tx, ledger_id, position, &updated_at).await?;
        tx.commit().await?;
    });
    Ok(())
}

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
    buf.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_escape_what_copy_text_format_reads_specially() {
        let mut buf = Vec::new();
        let r = ViewRow {
            table: TABLES[0],
            view_id: "CT1-24-00001".into(),
            version: 3,
            payload: "{\"a\":\"x\\ny\ttab\"}".into(),
        };
        copy_text_row(&mut buf, "ct-icac", &r);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "ct-icac\tCT1-24-00001\t3\t{\"a\":\"x\\\\ny\\ttab\"}\n"
        );
    }
}
