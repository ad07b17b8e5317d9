//! SQLite dialect: the zero-setup embedded default.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::sealed_store::erase_in;
use super::{
    decode, sealed_pack, to_i64, to_u64, Batch, BatchPlan, CanonicalRow, CheckpointRow, Head,
    StorageError, StoredRow,
};
use icac_format::record::{LedgerId, StreamId};

const ROW_COLUMNS: &str = "position, aggregate_type, aggregate_id, sequence, event_type, \
     event_version, recorded_at, prev_hash, hash, key_id, signature, canonical";

#[derive(Clone)]
pub struct SqliteStorage {
    pool: SqlitePool,
    /// The database file, for readers that open a connection of their own
    /// (`storage::scan`); `None` for an in-memory database.
    file: Option<Arc<PathBuf>>,
}

impl SqliteStorage {
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let connect_err = |source| StorageError::Connect {
            url: super::redact_url(url),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(connect_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged commit survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true)
            // An erased sealed value is overwritten in the file, not left in a free page.
            .pragma("secure_delete", "on");
        let file = (!in_memory(url)).then(|| Arc::new(options.get_filename().to_path_buf()));
        if let Some(path) = &file {
            create_private(path).map_err(|e| connect_err(sqlx::Error::Io(e)))?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .after_release(|conn, _| Box::pin(reusable(conn)))
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        Ok(Self { pool, file })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The database file, unless the database is in memory.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref().map(PathBuf::as_path)
    }

    pub async fn write_batch(
        &self,
        ledger: &LedgerId,
        streams: &[StreamId],
        plan: BatchPlan<'_>,
    ) -> Result<Batch, StorageError> {
        // BEGIN IMMEDIATE takes SQLite's single write lock before reading the head, so the
        // head cannot move under us, even with a second process on the same file.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let head = head_in(&mut tx, ledger).await?;
        let mut versions = HashMap::with_capacity(streams.len());
        for stream in streams {
            let last: Option<i64> = sqlx::query(
                "SELECT max(sequence) FROM ledger_events
                  WHERE ledger_id = ? AND aggregate_type = ? AND aggregate_id = ?",
            )
            .bind(ledger.as_str())
            .bind(&stream.aggregate_type)
            .bind(&stream.aggregate_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            if let Some(last) = last {
                versions.insert(stream.clone(), to_u64(head.position, last, "sequence")?);
            }
        }
        let batch = plan(&head, &versions);
        if batch.events.is_empty() {
            tx.rollback().await?;
            return Ok(batch);
        }
        insert(&mut tx, ledger, &batch).await?;
        tx.commit().await?;
        Ok(batch)
    }

    pub async fn insert_batch(&self, ledger: &LedgerId, batch: &Batch) -> Result<(), StorageError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert(&mut tx, ledger, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn probe_write(&self) -> Result<(), StorageError> {
        // Rewriting the header's user_version with its own value dirties page 1, so the
        // commit appends a frame to the WAL and syncs it, as a ledger batch would.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let version: i64 = sqlx::query("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        sqlx::query(&format!("PRAGMA user_version = {version}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn head(&self, ledger: &LedgerId) -> Result<Head, StorageError> {
        let mut conn = self.pool.acquire().await?;
        head_in(&mut conn, ledger).await
    }

    pub async fn read_stream(
        &self,
        ledger: &LedgerId,
        stream: &StreamId,
        after: u64,
    ) -> Result<Vec<StoredRow>, StorageError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM ledger_events
              WHERE ledger_id = ? AND aggregate_type = ? AND aggregate_id = ?
                AND sequence > ?
              ORDER BY sequence"
        );
        let rows = sqlx::query(&sql)
            .bind(ledger.as_str())
            .bind(&stream.aggregate_type)
            .bind(&stream.aggregate_id)
            .bind(to_i64(after))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode::event).collect()
    }

    pub async fn read_page(
        &self,
        ledger: &LedgerId,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StoredRow>, StorageError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM ledger_events
              WHERE ledger_id = ? AND position >= ? ORDER BY position LIMIT ?"
        );
        let rows = sqlx::query(&sql)
            .bind(ledger.as_str())
            .bind(to_i64(from))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode::event).collect()
    }

    pub async fn read_canonical_page(
        &self,
        ledger: &LedgerId,
        from: u64,
        limit: u32,
    ) -> Result<Vec<CanonicalRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT position, recorded_at, hash, canonical FROM ledger_events
              WHERE ledger_id = ? AND position >= ? ORDER BY position LIMIT ?",
        )
        .bind(ledger.as_str())
        .bind(to_i64(from))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode::canonical).collect()
    }

    pub async fn streams_with_event(
        &self,
        ledger: &LedgerId,
        aggregate_type: &str,
        event_type: &str,
    ) -> Result<Vec<String>, StorageError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT aggregate_id FROM ledger_events
              WHERE ledger_id = ? AND aggregate_type = ? AND event_type = ?",
        )
        .bind(ledger.as_str())
        .bind(aggregate_type)
        .bind(event_type)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn read_type(
        &self,
        ledger: &LedgerId,
        aggregate_type: &str,
    ) -> Result<Vec<StoredRow>, StorageError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM ledger_events
              WHERE ledger_id = ? AND aggregate_type = ? ORDER BY position"
        );
        let rows = sqlx::query(&sql)
            .bind(ledger.as_str())
            .bind(aggregate_type)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode::event).collect()
    }

    pub async fn insert_checkpoint(
        &self,
        ledger: &LedgerId,
        row: &CheckpointRow,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT OR IGNORE INTO ledger_checkpoints
                 (ledger_id, size, root, head, created_at, key_id, note)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(ledger.as_str())
        .bind(to_i64(row.size))
        .bind(&row.root)
        .bind(&row.head)
        .bind(&row.created_at)
        .bind(&row.key_id)
        .bind(&row.note)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn latest_checkpoint(
        &self,
        ledger: &LedgerId,
    ) -> Result<Option<CheckpointRow>, StorageError> {
        let row = sqlx::query(
            "SELECT size, root, head, created_at, key_id, note FROM ledger_checkpoints
              WHERE ledger_id = ? ORDER BY size DESC LIMIT 1",
        )
        .bind(ledger.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode::checkpoint).transpose()
    }
}

/// Creates the database file, empty and mode 0600, unless it exists. SQLite gives its
/// `-wal` and `-shm` files the mode of the database file, so the three stay private to
/// the service's user whatever the umask (SQLite alone would create them 0644).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(file) => {
            // The umask may have taken bits from 0600 too (077 is fine, 277 is not).
            #[cfg(unix)]
            file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            file.sync_all()
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether a connection coming back to the pool is outside any transaction, both as
/// sqlx counts them and as SQLite knows it. After SQLITE_FULL or an I/O error, SQLite may
/// already have rolled the transaction back, so sqlx's own ROLLBACK fails and its count
/// stays at one: every later `BEGIN IMMEDIATE` on that connection would then be refused
/// ("begin_with at non-zero transaction depth"). Or SQLite kept the transaction open,
/// and with it the write lock every other connection waits 30 s for. Either way the
/// connection is closed (which rolls back whatever is left) and the pool opens a fresh
/// one when it needs it.
async fn reusable(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    // Goes through the connection's worker queue, so a rollback queued when a
    // transaction was dropped has run by the time the handle is ours.
    let mut handle = conn.lock_handle().await?;
    let autocommit = super::sqlite_direct::autocommit(&mut handle);
    drop(handle);
    let clean = autocommit && !conn.is_in_transaction();
    if !clean {
        tracing::warn!("closing an SQLite connection left inside a failed transaction");
    }
    Ok(clean)
}

/// Whether an `sqlite:` URL names an in-memory database (as sqlx parses it:
/// `sqlite::memory:`, `sqlite://:memory:`, or `mode=memory`), which only the pool's
/// own connections can reach.
fn in_memory(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database == ":memory:"
        || params
            .split('&')
            .any(|p| p.eq_ignore_ascii_case("mode=memory"))
}

async fn head_in(
    conn: &mut sqlx::SqliteConnection,
    ledger: &LedgerId,
) -> Result<Head, StorageError> {
    let row = sqlx::query(
        "SELECT position, hash, recorded_at FROM ledger_events
          WHERE ledger_id = ? ORDER BY position DESC LIMIT 1",
    )
    .bind(ledger.as_str())
    .fetch_optional(conn)
    .await?;
    decode::head(row)
}

/// Inserts a sealed batch row by row; the triggers check each row's link and sequence.
async fn insert(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    ledger: &LedgerId,
    batch: &Batch,
) -> Result<(), StorageError> {
    for event in &batch.events {
        let row = StoredRow::from_sealed(event);
        sqlx::query(
            "INSERT INTO ledger_events (ledger_id, position, aggregate_type, aggregate_id,
                 sequence, event_type, event_version, recorded_at, prev_hash, hash, key_id,
                 signature, canonical)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(ledger.as_str())
        .bind(to_i64(row.position))
        .bind(&row.aggregate_type)
        .bind(&row.aggregate_id)
        .bind(to_i64(row.sequence))
        .bind(&row.event_type)
        .bind(&row.event_version)
        .bind(&row.recorded_at)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .bind(&row.key_id)
        .bind(&row.signature)
        .bind(&row.canonical)
        .execute(&mut **tx)
        .await?;
    }
    erase_in!(&mut **tx, ledger, &batch.erases);
    let packed = sealed_pack::packed_row(&batch.openings).map_err(|e| StorageError::Malformed {
        position: batch.events.first().map_or(0, |e| e.record.position),
        reason: format!("sealed batch: {e}"),
    })?;
    if let Some(p) = packed {
        sqlx::query(
            "INSERT INTO sealed_batches (ledger_id, first_position, last_position, openings)
             VALUES (?, ?, ?, ?)",
        )
        .bind(ledger.as_str())
        .bind(to_i64(p.first_position))
        .bind(to_i64(p.last_position))
        .bind(p.openings)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::in_memory;

    #[test]
    fn tells_in_memory_urls_from_files() {
        assert!(in_memory("sqlite::memory:"));
        assert!(in_memory("sqlite://:memory:"));
        assert!(in_memory("sqlite://x.db?mode=memory&cache=shared"));
        assert!(!in_memory("sqlite://x.db"));
        assert!(!in_memory("sqlite:///tmp/memory.db?mode=rwc"));
    }
}
