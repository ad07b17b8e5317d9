//! Helpers for the service's own tables (tokens, sessions, accounts, access log).
//! Statements are written once with `$n` placeholders and run through
//! `storage::sql::{on_pool, on_write_tx}`, where the dialects' differences live.

/// Seconds since the Unix epoch; the lockout window is counted in these.
pub(crate) fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
