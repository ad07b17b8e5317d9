//! The one place that knows how PostgreSQL and SQLite differ (issue 20).
//!
//! * [`Dialect`]: what differs in the *text* of a statement both dialects share
//!   (placeholders, the JSON column read as text, bytewise collation, the write
//!   transaction's `BEGIN`), one constant per backend beside that backend's statements.
//! * [`on_pool!`] and [`on_write_tx!`]: one body compiled against both pool types, for
//!   statements whose text is the same but for the above.
//! * The view tables' writes, whose statements really differ (PostgreSQL: `UNNEST`
//!   arrays, `ANY`, `COPY`, a rebuild into a shadow table derived from the live one;
//!   SQLite: multi-row `VALUES`, `IN` lists, a rebuild in place), side by side in
//!   [`postgres`] and [`sqlite`]; the functions here only dispatch.
//!
//! The ledger's own append and read paths are per backend too (`storage::postgres`,
//! `storage::sqlite`, `storage::scan`); `Storage`'s methods dispatch to them.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use crate::read_side::store::{ViewRow, TABLES};
use crate::read_side::ProjectionError;
use crate::storage::Storage;
use icac_format::record::LedgerId;

/// What differs between the dialects in statements written once for both.
#[derive(Debug)]
pub struct Dialect {
    /// `postgres` or `sqlite`, as `Storage::dialect` reports it.
    pub name: &'static str,
    /// The view tables' `payload` column read as text (a `json` column on PostgreSQL).
    pub json_text: &'static str,
    /// Appended to a text expression so it orders bytewise, as Rust's `str` does
    /// (SQLite's default collation already is).
    pub bytewise: &'static str,
    /// Rewrites a statement written with `$n` placeholders for this dialect.
    placeholders: fn(&str) -> String,
}

impl Dialect {
    /// `statement` (written with `$1`, `$2`, ...) as this dialect takes it.
    pub fn sql(&self, statement: &str) -> String {
        (self.placeholders)(statement)
    }
}

impl Storage {
    /// The text differences of this storage's dialect.
    pub(crate) fn sql_dialect(&self) -> &'static Dialect {
        match self {
            Storage::Postgres(_) => &postgres::DIALECT,
            Storage::Sqlite(_) => &sqlite::DIALECT,
        }
    }
}

/// Runs `$body` with `$pool` bound to the dialect's pool and `$sql` a function that
/// adapts a `$n` statement to it ([`Dialect::sql`]); the same code is compiled for
/// both dialects.
macro_rules! on_pool {
    ($storage:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match $storage {
            $crate::storage::Storage::Postgres(s) => {
                let $pool = s.pool();
                #[allow(unused_variables)]
                let $sql = |q: &str| $crate::storage::sql::postgres::DIALECT.sql(q);
                $body
            }
            $crate::storage::Storage::Sqlite(s) => {
                let $pool = s.pool();
                #[allow(unused_variables)]
                let $sql = |q: &str| $crate::storage::sql::sqlite::DIALECT.sql(q);
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// Runs `$body` with `$tx` a write transaction of the dialect (SQLite's `BEGIN
/// IMMEDIATE` takes the one write lock before the body reads anything, so a head read
/// inside it cannot move) and `$sql` as in [`on_pool!`]. The body commits; dropping the
/// transaction rolls it back.
macro_rules! on_write_tx {
    ($storage:expr, |$tx:ident, $sql:ident| $body:expr) => {
        match $storage {
            $crate::storage::Storage::Postgres(s) => {
                let mut $tx = s.pool().begin().await?;
                #[allow(unused_variables)]
                let $sql = |q: &str| $crate::storage::sql::postgres::DIALECT.sql(q);
                $body
            }
            $crate::storage::Storage::Sqlite(s) => {
                let mut $tx = s
                    .pool()
                    .begin_with($crate::storage::sql::sqlite::BEGIN_WRITE)
                    .await?;
                #[allow(unused_variables)]
                let $sql = |q: &str| $crate::storage::sql::sqlite::DIALECT.sql(q);
                $body
            }
        }
    };
}
pub(crate) use on_write_tx;

/// Upserts `rows` into the view tables and records `position`, in one transaction.
pub(crate) async fn write_views(
    storage: &Storage,
    ledger_id: &LedgerId,
    rows: &[ViewRow],
    position: i64,
    updated_at: &str,
) -> Result<(), ProjectionError> {
    match storage {
        Storage::Postgres(s) => {
            postgres::write_views(s.pool(), ledger_id, rows, position, updated_at).await
        }
        Storage::Sqlite(s) => {
            sqlite::write_views(s.pool(), ledger_id, rows, position, updated_at).await
        }
    }
}

/// `(view_id, payload)` of the rows of `table` whose ids are among `ids` (any order).
pub(crate) async fn fetch_views(
    storage: &Storage,
    ledger_id: &LedgerId,
    table: &'static str,
    ids: &[&str],
) -> Result<Vec<(String, String)>, ProjectionError> {
    match storage {
        Storage::Postgres(s) => postgres::fetch_views(s.pool(), ledger_id, table, ids).await,
        Storage::Sqlite(s) => sqlite::fetch_views(s.pool(), ledger_id, table, ids).await,
    }
}

/// Replaces one ledger's rows of every view table by `rows` and records `position`,
/// so that readers see the old views or the new, never a mix; `progress` hears the rows
/// written so far. Neither backend carries view-table DDL of its own: the tables,
/// indexes and triggers are the migrations' (docs/ARCHITECTURE.md, "Rebuilds").
pub(crate) async fn replace_views(
    storage: &Storage,
    ledger_id: &LedgerId,
    rows: Vec<ViewRow>,
    position: i64,
    updated_at: &str,
    progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    match storage {
        Storage::Postgres(s) => {
            postgres::replace_views(s.pool(), ledger_id, &rows, position, updated_at, progress)
                .await
        }
        Storage::Sqlite(s) => {
            sqlite::replace_views(s, ledger_id, rows, position, updated_at, progress).await
        }
    }
}

/// After an erasure: makes the deleted sealed values unrecoverable from the database
/// files the process controls (`Storage::purge_erased`).
pub(crate) async fn purge_erased(storage: &Storage) -> Result<(), sqlx::Error> {
    match storage {
        Storage::Postgres(s) => postgres::purge_erased(s.pool()).await,
        Storage::Sqlite(s) => sqlite::purge_erased(s.pool()).await,
    }
}

/// `SET` list of an upsert: every column but the key from `excluded`, and only over
/// an older version of the row, so a process folding behind another (a CLI catch-up
/// beside the server) never takes a view back. The same text on both dialects.
fn upsert_suffix(table: &str) -> String {
    let mut set = String::from("version = excluded.version, payload = excluded.payload");
    for c in crate::read_side::store::index_columns(table) {
        set.push_str(&format!(", {c} = excluded.{c}"));
    }
    format!(" ON CONFLICT (ledger_id, view_id) DO UPDATE SET {set} WHERE {table}.version <= excluded.version")
}

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

/// Records the position of every view table, in one statement (`$1` the ledger, `$2`
/// the position, `$3` the time).
fn record_positions_sql() -> String {
    let values: Vec<String> = TABLES
        .iter()
        .map(|t| format!("($1, '{t}', $2, $3)"))
        .collect();
    format!(
        "INSERT INTO projection_positions (ledger_id, projection, position, updated_at) VALUES {} \
         ON CONFLICT (ledger_id, projection) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at",
        values.join(", ")
    )
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
    sqlx::query(&record_positions_sql())
        .bind(ledger_id.as_str())
        .bind(position)
        .bind(updated_at)
        .execute(&mut **conn)
        .await?;
    Ok(())
}

/// Recounts one ledger's `view_counts` ([`RECOUNT`]) inside `conn`'s transaction.
async fn recount<'c, DB>(
    conn: &mut sqlx::Transaction<'c, DB>,
    ledger_id: &LedgerId,
) -> Result<(), sqlx::Error>
where
    DB: sqlx::Database,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'e> &'e mut <DB as sqlx::Database>::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for sql in RECOUNT {
        sqlx::query(sql)
            .bind(ledger_id.as_str())
            .execute(&mut **conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_become_question_marks_on_sqlite_only() {
        let q = "SELECT a FROM t WHERE x = $1 AND y = $12";
        assert_eq!(
            super::sqlite::DIALECT.sql(q),
            "SELECT a FROM t WHERE x = ? AND y = ?"
        );
        assert_eq!(super::postgres::DIALECT.sql(q), q);
    }
}
