//! Failed attempts counted over a sliding window, the one rule behind every lockout and
//! slow-down here: an account's failed logons (AC-7, `account_logon_failures`), and
//! failed authentications per client address or presented token id (`auth_failures`,
//! which also counts sign-in attempts per address under a `logon:` key).
//!
//! A table holds one row a failure, `(ledger_id, <key column>, failed_at)` in Unix
//! seconds; a failure counts while it is younger than the window. Table and column
//! names are the constants below, never input, so the statements built from them
//! carry nothing a caller chose but bound values.

use sqlx::Row;

use crate::storage::sql::on_pool;
use crate::storage::Storage;
use icac_format::record::LedgerId;

/// A failures table and the window its rows count for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailureWindow {
    table: &'static str,
    key_column: &'static str,
    window_secs: i64,
}

/// Failed logons per account: five within the window lock it.
pub(crate) const ACCOUNT_LOGONS: FailureWindow = FailureWindow {
    table: "account_logon_failures",
    key_column: "username",
    window_secs: super::accounts::FAILED_LOGON_WINDOW_SECS,
};

/// Failed token authentications per client address and per presented token id.
pub(crate) const TOKEN_AUTH: FailureWindow = FailureWindow {
    table: "auth_failures",
    key_column: "source",
    window_secs: super::tokens::LOCKOUT_WINDOW_SECS,
};

/// Failed sign-ins per client address (`logon:<address>` in the same table as
/// [`TOKEN_AUTH`]): they only slow answers down.
pub(crate) const SIGN_IN_ADDRESSES: FailureWindow = FailureWindow {
    table: "auth_failures",
    key_column: "source",
    window_secs: 15 * 60,
};

/// What the window holds for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Failures within the window.
    pub count: i64,
    /// The latest of them (Unix seconds), if any.
    pub latest: Option<i64>,
}

impl FailureWindow {
    /// This window over one ledger's rows in `storage`.
    pub(crate) fn of<'a>(self, storage: &'a Storage, ledger: &'a LedgerId) -> Failures<'a> {
        Failures {
            window: self,
            storage,
            ledger,
        }
    }
}

/// A [`FailureWindow`] over one ledger's rows.
pub(crate) struct Failures<'a> {
    window: FailureWindow,
    storage: &'a Storage,
    ledger: &'a LedgerId,
}

impl Failures<'_> {
    /// The latest `failed_at` that no longer counts at `now`.
    fn cutoff(&self, now: i64) -> i64 {
        now - self.window.window_secs
    }

    /// Deletes the ledger's failures that have left the window (every key's): they are
    /// no longer evidence of anything, and the table stays small.
    pub(crate) async fn prune(&self, now: i64) -> Result<(), sqlx::Error> {
        let statement = format!(
            "DELETE FROM {} WHERE ledger_id = $1 AND failed_at <= $2",
            self.window.table
        );
        self.execute(&statement, None, Some(self.cutoff(now))).await
    }

    /// Stores one failure of `key` at `now`, pruning nothing.
    pub(crate) async fn insert(&self, key: &str, now: i64) -> Result<(), sqlx::Error> {
        let statement = format!(
            "INSERT INTO {} (ledger_id, {}, failed_at) VALUES ($1, $2, $3)",
            self.window.table, self.window.key_column
        );
        self.execute(&statement, Some(key), Some(now)).await
    }

    /// Prunes the window, then stores one failure of `key` at `now`.
    pub(crate) async fn record(&self, key: &str, now: i64) -> Result<(), sqlx::Error> {
        self.prune(now).await?;
        self.insert(key, now).await
    }

    /// Deletes every failure of `key`, in the window or not.
    pub(crate) async fn forget(&self, key: &str) -> Result<(), sqlx::Error> {
        let statement = format!(
            "DELETE FROM {} WHERE ledger_id = $1 AND {} = $2",
            self.window.table, self.window.key_column
        );
        self.execute(&statement, Some(key), None).await
    }

    /// The failures of `key` within the window at `now`.
    pub(crate) async fn tally(&self, key: &str, now: i64) -> Result<Tally, sqlx::Error> {
        let statement = format!(
            "SELECT count(*), max(failed_at) FROM {} WHERE ledger_id = $1 AND {} = $2 AND failed_at > $3",
            self.window.table, self.window.key_column
        );
        Ok(on_pool!(self.storage, |pool, sql| {
            let row = sqlx::query(&sql(&statement))
                .bind(self.ledger.as_str())
                .bind(key)
                .bind(self.cutoff(now))
                .fetch_one(pool)
                .await?;
            Tally {
                count: row.try_get::<i64, _>(0)?,
                latest: row.try_get::<Option<i64>, _>(1)?,
            }
        }))
    }

    /// Runs one of the statements above: `$1` is the ledger, then `key` and `at` bind
    /// in that order where given.
    async fn execute(
        &self,
        statement: &str,
        key: Option<&str>,
        at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        on_pool!(self.storage, |pool, sql| {
            let statement = sql(statement);
            let mut query = sqlx::query(&statement).bind(self.ledger.as_str());
            if let Some(key) = key {
                query = query.bind(key);
            }
            if let Some(at) = at {
                query = query.bind(at);
            }
            query.execute(pool).await?;
        });
        Ok(())
    }
}
