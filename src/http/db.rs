//! The one place the service's own tables (schema 3: tokens, failures, access log)
//! are reached. Statements are written once with `$n` placeholders; SQLite gets `?`.

use crate::storage::Storage;

/// Rewrites `$1`, `$2`, ... as `?` for SQLite. Every statement here uses each
/// placeholder once and in order, so positional binding stays correct.
pub(crate) fn for_sqlite(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `$body` with `$pool` bound to the dialect's pool and `$sql` a function that
/// adapts a statement to it; the same code is compiled for both dialects.
macro_rules! on_pool {
    ($storage:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match $storage {
            $crate::storage::Storage::Postgres(s) => {
                let $pool = s.pool();
                let $sql = |q: &str| q.to_string();
                $body
            }
            $crate::storage::Storage::Sqlite(s) => {
                let $pool = s.pool();
                let $sql = $crate::http::db::for_sqlite;
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
                let $sql = |q: &str| q.to_string();
                $body
            }
            $crate::storage::Storage::Sqlite(s) => {
                let mut $tx = s.pool().begin_with("BEGIN IMMEDIATE").await?;
                let $sql = $crate::http::db::for_sqlite;
                $body
            }
        }
    };
}
pub(crate) use on_write_tx;

/// Seconds since the Unix epoch; the lockout window is counted in these.
pub(crate) fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[allow(dead_code)]
pub(crate) fn dialect(storage: &Storage) -> &'static str {
    storage.dialect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_become_question_marks() {
        assert_eq!(
            super::for_sqlite("SELECT a FROM t WHERE x = $1 AND y = $12"),
            "SELECT a FROM t WHERE x = ? AND y = ?"
        );
    }
}
