//! PostgreSQL dialect.

use std::collections::HashMap;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Row};

use super::sealed_store::erase_in;
use super::{
    decode, redact_url, sealed_pack, to_i64, to_u64, Batch, BatchPlan, CanonicalRow, CheckpointRow,
    Head, StorageError, StoredRow,
};
use icac_format::record::{LedgerId, StreamId};

const ROW_COLUMNS: &str = "position, aggregate_type, aggregate_id, sequence, event_type, \
     event_version, recorded_at, prev_hash, hash, key_id, signature, canonical";
const CANONICAL_COLUMNS: &str = "position, recorded_at, hash, canonical";

#[derive(Clone)]
pub struct PgStorage {
    pool: PgPool,
}

impl PgStorage {
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        let options: PgConnectOptions = url.parse().map_err(|source| StorageError::Connect {
            url: redact_url(url),
            source,
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| StorageError::Connect {
                url: redact_url(url),
                source,
            })?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn write_batch(
        &self,
        ledger: &LedgerId,
        streams: &[StreamId],
        plan: BatchPlan<'_>,
    ) -> Result<Batch, StorageError> {
        let mut tx = self.pool.begin().await?;
        // The transaction-scoped advisory lock is the chain-head lock: one batch at a time
        // per ledger, across every process sharing this database.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(ledger.as_str())
            .execute(&mut *tx)
            .await?;
        let head = head_in(&mut tx, ledger).await?;

        let types: Vec<&str> = streams.iter().map(|s| s.aggregate_type.as_str()).collect();
        let ids: Vec<&str> = streams.iter().map(|s| s.aggregate_id.as_str()).collect();
        let rows = sqlx::query(
            "SELECT t.aggregate_type, t.aggregate_id,
                    (SELECT max(e.sequence) FROM ledger_events e
                      WHERE e.ledger_id = $1 AND e.aggregate_type = t.aggregate_type
                        AND e.aggregate_id = t.aggregate_id) AS last
               FROM UNNEST($2::text[], $3::text[]) AS t(aggregate_type, aggregate_id)",
        )
        .bind(ledger.as_str())
        .bind(&types)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut versions = HashMap::with_capacity(rows.len());
        for row in rows {
            let last: Option<i64> = row.try_get("last")?;
            if let Some(last) = last {
                let stream = StreamId {
                    aggregate_type: row.try_get("aggregate_type")?,
                    aggregate_id: row.try_get("aggregate_id")?,
                };
                versions.insert(stream, to_u64(head.position, last, "sequence")?);
            }
        }

        let batch = plan(&head, &versions);
        if batch.events.is_empty() {
            tx.rollback().await?;
            return Ok(batch);
        }
        erase_in!(&mut *tx, ledger, &batch.erases);
        insert(&mut *tx, ledger, &batch).await?;
        tx.commit().await?;
        Ok(batch)
    }

    pub async fn insert_batch(&self, ledger: &LedgerId, batch: &Batch) -> Result<(), StorageError> {
        if batch.erases.is_empty() {
            // One statement outside an explicit transaction is its own transaction: one
            // round trip, and the chain guard runs before it commits.
            return insert(&self.pool, ledger, batch).await;
        }
        // An erasure reads the rows it rewrites, so it takes the head lock first.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(ledger.as_str())
            .execute(&mut *tx)
            .await?;
        erase_in!(&mut *tx, ledger, &batch.erases);
        insert(&mut *tx, ledger, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn probe_write(&self) -> Result<(), StorageError> {
        // A transaction id makes the commit write (and flush) a WAL record.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT txid_current()")
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
              WHERE ledger_id = $1 AND aggregate_type = $2 AND aggregate_id = $3
                AND sequence > $4
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
        let rows = self.page(ROW_COLUMNS, ledger, from, limit).await?;
        rows.iter().map(decode::event).collect()
    }

    pub async fn read_canonical_page(
        &self,
        ledger: &LedgerId,
        from: u64,
        limit: u32,
    ) -> Result<Vec<CanonicalRow>, StorageError> {
        let rows = self.page(CANONICAL_COLUMNS, ledger, from, limit).await?;
        rows.iter().map(decode::canonical).collect()
    }

    /// Up to `limit` rows from `from` on, in position order.
    async fn page(
        &self,
        columns: &str,
        ledger: &LedgerId,
        from: u64,
        limit: u32,
    ) -> Result<Vec<sqlx::postgres::PgRow>, StorageError> {
        // Positions are gap-free, so the page is normally exactly the range
        // [from, from + limit). Bounding the range keeps the cost at one page even
        // when the planner misjudges: with statistics from before a bulk load it
        // sorted every row from `from` to the head for each page (quadratic reads).
        let bounded = format!(
            "SELECT {columns} FROM ledger_events
              WHERE ledger_id = $1 AND position >= $2 AND position < $2 + $3
              ORDER BY position"
        );
        let rows = sqlx::query(&bounded)
            .bind(ledger.as_str())
            .bind(to_i64(from))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        if rows.len() == limit as usize {
            return Ok(rows);
        }
        // The head, or a gap (which verification must see past): read by order.
        let sql = format!(
            "SELECT {columns} FROM ledger_events
              WHERE ledger_id = $1 AND position >= $2 ORDER BY position LIMIT $3"
        );
        Ok(sqlx::query(&sql)
            .bind(ledger.as_str())
            .bind(to_i64(from))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn streams_with_event(
        &self,
        ledger: &LedgerId,
        aggregate_type: &str,
        event_type: &str,
    ) -> Result<Vec<String>, StorageError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT aggregate_id FROM ledger_events
              WHERE ledger_id = $1 AND aggregate_type = $2 AND event_type = $3",
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
              WHERE ledger_id = $1 AND aggregate_type = $2 ORDER BY position"
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
            "INSERT INTO ledger_checkpoints (ledger_id, size, root, head, created_at, key_id, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
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
              WHERE ledger_id = $1 ORDER BY size DESC LIMIT 1",
        )
        .bind(ledger.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode::checkpoint).transpose()
    }
}

async fn head_in(conn: &mut sqlx::PgConnection, ledger: &LedgerId) -> Result<Head, StorageError> {
    let row = sqlx::query(
        "SELECT position, hash, recorded_at FROM ledger_events
          WHERE ledger_id = $1 ORDER BY position DESC LIMIT 1",
    )
    .bind(ledger.as_str())
    .fetch_optional(conn)
    .await?;
    decode::head(row)
}

/// Inserts a sealed batch as one `INSERT ... SELECT FROM UNNEST(...)` statement, holding
/// the ledger's advisory lock.
async fn insert<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    ledger: &LedgerId,
    batch: &Batch,
) -> Result<(), StorageError> {
    let mut cols = Columns::with_capacity(batch.events.len());
    for event in &batch.events {
        cols.push(StoredRow::from_sealed(event));
    }
    let packed = sealed_pack::packed_row(&batch.openings).map_err(|e| StorageError::Malformed {
        position: batch.events.first().map_or(0, |e| e.record.position),
        reason: format!("sealed batch: {e}"),
    })?;
    let (first, last, openings) = match packed {
        Some(p) => (
            Some(to_i64(p.first_position)),
            Some(to_i64(p.last_position)),
            Some(p.openings),
        ),
        None => (None, None, None),
    };
    sqlx::query(
        // The chain-head lock comes first (joined in, so it is taken before any row is
        // produced): a batch written without reading the head must still never run
        // beside a writer that did read it. Already held when inside `write_batch`.
        // The batch's openings ride in the same statement as one packed row, so they
        // commit or fail with the events.
        "WITH head_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))),
         events AS (
         INSERT INTO ledger_events (ledger_id, position, aggregate_type, aggregate_id, sequence,
             event_type, event_version, recorded_at, prev_hash, hash, key_id, signature, canonical)
         SELECT $1, u.* FROM head_lock, UNNEST($2::int8[], $3::text[], $4::text[], $5::int8[],
             $6::text[], $7::text[], $8::text[], $9::bytea[], $10::bytea[], $11::text[],
             $12::bytea[], $13::bytea[]) AS u
         ORDER BY 2)
         INSERT INTO sealed_batches (ledger_id, first_position, last_position, openings)
         SELECT $1, $14::int8, $15::int8, $16::bytea FROM head_lock WHERE $16::bytea IS NOT NULL",
    )
    .bind(ledger.as_str())
    .bind(&cols.position)
    .bind(&cols.aggregate_type)
    .bind(&cols.aggregate_id)
    .bind(&cols.sequence)
    .bind(&cols.event_type)
    .bind(&cols.event_version)
    .bind(&cols.recorded_at)
    .bind(&cols.prev_hash)
    .bind(&cols.hash)
    .bind(&cols.key_id)
    .bind(&cols.signature)
    .bind(&cols.canonical)
    .bind(first)
    .bind(last)
    .bind(openings)
    .execute(executor)
    .await?;
    Ok(())
}

/// A batch laid out column by column for one `INSERT ... SELECT FROM UNNEST(...)`.
struct Columns {
    position: Vec<i64>,
    aggregate_type: Vec<String>,
    aggregate_id: Vec<String>,
    sequence: Vec<i64>,
    event_type: Vec<String>,
    event_version: Vec<String>,
    recorded_at: Vec<String>,
    prev_hash: Vec<Vec<u8>>,
    hash: Vec<Vec<u8>>,
    key_id: Vec<String>,
    signature: Vec<Vec<u8>>,
    canonical: Vec<Vec<u8>>,
}

impl Columns {
    fn with_capacity(n: usize) -> Self {
        Columns {
            position: Vec::with_capacity(n),
            aggregate_type: Vec::with_capacity(n),
            aggregate_id: Vec::with_capacity(n),
            sequence: Vec::with_capacity(n),
            event_type: Vec::with_capacity(n),
            event_version: Vec::with_capacity(n),
            recorded_at: Vec::with_capacity(n),
            prev_hash: Vec::with_capacity(n),
            hash: Vec::with_capacity(n),
            key_id: Vec::with_capacity(n),
            signature: Vec::with_capacity(n),
            canonical: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, row: StoredRow) {
        self.position.push(to_i64(row.position));
        self.aggregate_type.push(row.aggregate_type);
        self.aggregate_id.push(row.aggregate_id);
        self.sequence.push(to_i64(row.sequence));
        self.event_type.push(row.event_type);
        self.event_version.push(row.event_version);
        self.recorded_at.push(row.recorded_at);
        self.prev_hash.push(row.prev_hash);
        self.hash.push(row.hash);
        self.key_id.push(row.key_id);
        self.signature.push(row.signature);
        self.canonical.push(row.canonical);
    }
}
