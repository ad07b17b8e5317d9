//! SQLite's side of the dialect layer: its [`DIALECT`] and the view tables'
//! statements that differ from PostgreSQL's (multi-row `VALUES`, `IN` lists, a
//! rebuild that rewrites the live tables in place).

use sqlx::{Row, Sqlite, SqlitePool, Transaction};

use super::{record_positions, record_positions_sql, recount, upsert_suffix, Dialect, RECOUNT};
use crate::read_side::store::{index_columns, missing_columns, IndexColumns, ViewRow, TABLES};
use crate::read_side::ProjectionError;
use crate::storage::sqlite::SqliteStorage;
use crate::storage::sqlite_direct::{Access, Connection, Statement, BUSY_TIMEOUT_MS};
use crate::storage::{SqliteError, StorageError};
use icac_format::record::LedgerId;

/// Anonymous `?` placeholders; `payload` is text; the default collation is bytewise.
pub(crate) static DIALECT: Dialect = Dialect {
    name: "sqlite",
    json_text: "payload",
    bytewise: "",
    placeholders: question_marks,
};

/// Opens a write transaction holding the one write lock before its first read.
pub(crate) const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

/// Rewrites `$1`, `$2`, ... as `?`. Every statement written for both dialects uses
/// each placeholder once and in order, so positional binding stays correct; anonymous
/// parameters spare SQLite a walk through a list of names per parameter.
fn question_marks(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// Rows per multi-row INSERT (well under SQLite's bind-parameter limit).
const INSERT_CHUNK: usize = 500;

/// `IN (...)` lists of more ids than this are not kept prepared (in each connection's
/// statement cache): small ones recur, a large one would hold a prepared program per
/// connection for one use.
const CACHED_SHAPES: usize = 16;

/// Rows for the next insert statement out of `remaining`: the largest power of two
/// that fits, at most `INSERT_CHUNK`.
fn piece(remaining: usize) -> usize {
    let cap = remaining.clamp(1, INSERT_CHUNK);
    1 << (usize::BITS - 1 - cap.leading_zeros())
}

/// Upserts `rows` and records `position`, in one transaction.
pub(super) async fn write_views(
    pool: &SqlitePool,
    ledger_id: &LedgerId,
    rows: &[ViewRow],
    position: i64,
    updated_at: &str,
) -> Result<(), ProjectionError> {
    let mut tx = pool.begin().await?;
    for table in TABLES {
        let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
        insert(
            &mut tx,
            table,
            &upsert_suffix(table),
            ledger_id,
            &mine,
            |_| {},
        )
        .await?;
    }
    record_positions(&mut tx, ledger_id, position, updated_at).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts `rows` into `table`, `INSERT_CHUNK` rows per statement, each statement
/// followed by `suffix` (e.g. an `ON CONFLICT` clause); `after_chunk` hears how many
/// rows each statement wrote.
async fn insert(
    tx: &mut Transaction<'_, Sqlite>,
    table: &str,
    suffix: &str,
    ledger_id: &LedgerId,
    rows: &[&ViewRow],
    mut after_chunk: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let extra = index_columns(table);
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

/// `(view_id, payload)` of the rows of `table` whose ids are among `ids`.
pub(super) async fn fetch_views(
    pool: &SqlitePool,
    ledger_id: &LedgerId,
    table: &'static str,
    ids: &[&str],
) -> Result<Vec<(String, String)>, ProjectionError> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(INSERT_CHUNK) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "SELECT view_id, {} FROM {table} WHERE ledger_id = ? AND view_id IN ({marks})",
            DIALECT.json_text
        );
        let mut q = sqlx::query(&sql)
            .persistent(chunk.len() <= CACHED_SHAPES)
            .bind(ledger_id.as_str());
        for id in chunk {
            q = q.bind(*id);
        }
        for r in q.fetch_all(pool).await? {
            out.push((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?));
        }
    }
    Ok(out)
}

/// Deletes one ledger's rows of a view table (`$1`: the ledger id).
fn delete_sql(table: &str) -> String {
    format!("DELETE FROM {table} WHERE ledger_id = $1")
}

/// Rebuilds one ledger's views in the live tables, in one write transaction: delete
/// its rows, insert the new ones, recount, record the position. Readers (WAL) see the
/// old rows until the commit; writers wait, as they would for any fill, SQLite having
/// one writer. The tables, indexes and triggers stay the migrations' own.
pub(super) async fn replace_views(
    storage: &SqliteStorage,
    ledger_id: &LedgerId,
    rows: Vec<ViewRow>,
    position: i64,
    updated_at: &str,
    mut progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let Some(path) = storage.file() else {
        // An in-memory database has no file for a direct connection: the pool fills it.
        return replace_on_pool(
            storage.pool(),
            ledger_id,
            &rows,
            position,
            updated_at,
            progress,
        )
        .await;
    };
    // On a blocking thread with a connection of its own; it reports its progress back
    // here, where `progress` lives.
    let path = path.to_owned();
    let ledger = ledger_id.as_str().to_owned();
    let updated_at = updated_at.to_owned();
    let (counted, mut counts) = tokio::sync::mpsc::unbounded_channel();
    let filler = tokio::task::spawn_blocking(move || {
        let conn = Connection::open(&path, Access::ReadWrite, BUSY_TIMEOUT_MS)
            .map_err(StorageError::from)?;
        replace_direct(&conn, &ledger, &rows, position, &updated_at, |n| {
            let _ = counted.send(n);
        })
    });
    while let Some(n) = counts.recv().await {
        progress(n);
    }
    filler
        .await
        .map_err(|e| ProjectionError::Worker(e.to_string()))?
}

/// [`replace_views`] through the pool.
async fn replace_on_pool(
    pool: &SqlitePool,
    ledger_id: &LedgerId,
    rows: &[ViewRow],
    position: i64,
    updated_at: &str,
    mut progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let mut tx = pool.begin_with(BEGIN_WRITE).await?;
    for table in TABLES {
        sqlx::query(&DIALECT.sql(&delete_sql(table)))
            .bind(ledger_id.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let mut written = 0usize;
    for table in TABLES {
        let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
        insert(&mut tx, table, "", ledger_id, &mine, |n| {
            written += n;
            progress(written);
        })
        .await?;
    }
    recount(&mut tx, ledger_id).await?;
    record_positions(&mut tx, ledger_id, position, updated_at).await?;
    tx.commit().await?;
    Ok(())
}

/// Rows between two progress reports of a fill.
const FILL_PROGRESS: usize = 4096;

/// [`replace_views`] on a direct connection (`storage::sqlite_direct`): one prepared
/// single-row INSERT per table, bound straight from the rows and run again for each,
/// instead of multi-row statements whose thousands of arguments sqlx copies and hands
/// to its worker thread. Dropping the connection before `COMMIT` rolls back.
fn replace_direct(
    conn: &Connection,
    ledger_id: &str,
    rows: &[ViewRow],
    position: i64,
    updated_at: &str,
    mut progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let db = |e: SqliteError| ProjectionError::from(StorageError::from(e));
    let started = std::time::Instant::now();
    conn.execute(BEGIN_WRITE).map_err(db)?;
    for table in TABLES {
        one_ledger(conn, &delete_sql(table), ledger_id).map_err(db)?;
    }
    let mut written = 0usize;
    for table in TABLES {
        let extra = index_columns(table);
        let mut insert = conn
            .prepare(&multi_row_insert(table, extra, 1))
            .map_err(db)?;
        for r in rows.iter().filter(|r| r.table == table) {
            if !bind_view_row(&mut insert, ledger_id, r, extra.len()).map_err(db)? {
                return Err(missing_columns(r));
            }
            insert.run().map_err(db)?;
            written += 1;
            if written % FILL_PROGRESS == 0 {
                progress(written);
            }
        }
    }
    for sql in RECOUNT {
        one_ledger(conn, sql, ledger_id).map_err(db)?;
    }
    record_direct(conn, ledger_id, position, updated_at).map_err(db)?;
    conn.execute("COMMIT").map_err(db)?;
    progress(written);
    tracing::debug!(
        rows = written,
        fill_ms = started.elapsed().as_millis(),
        "view tables rewritten"
    );
    Ok(())
}

/// Records `position` for every view table on a direct connection. `$1`, `$2`, `$3`
/// stay named parameters: the statement repeats them.
fn record_direct(
    conn: &Connection,
    ledger_id: &str,
    position: i64,
    updated_at: &str,
) -> Result<(), SqliteError> {
    let mut positions = conn.prepare(&record_positions_sql())?;
    positions.bind_text(1, ledger_id)?;
    positions.bind_i64(2, position)?;
    positions.bind_text(3, updated_at)?;
    positions.run()
}

/// Runs `sql`, whose one parameter is the ledger id.
fn one_ledger(conn: &Connection, sql: &str, ledger_id: &str) -> Result<(), SqliteError> {
    let mut statement = conn.prepare(sql)?;
    statement.bind_text(1, ledger_id)?;
    statement.run()
}

/// Binds one view row to a single-row INSERT of its table (`extra`: how many index
/// columns the table has); false if the row lacks them.
fn bind_view_row(
    insert: &mut Statement<'_>,
    ledger_id: &str,
    r: &ViewRow,
    extra: usize,
) -> Result<bool, SqliteError> {
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

/// SQLite already overwrote erased values in the file (`secure_delete`); the old pages
/// stay in the write-ahead log until it is checkpointed and truncated.
pub(super) async fn purge_erased(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_come_in_power_of_two_sizes() {
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
}
