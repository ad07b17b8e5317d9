//! The sealed store (`sealed_values`, schema 6): personal values and their salts, kept
//! beside the chain (docs/LEDGER_FORMAT.md, section 12). Rows are written with their
//! events by `insert_batch`/`write_batch`; this module reads them, and cleans up after
//! an erasure. Both dialects take the same SQL here (`$n` parameters work in SQLite
//! too); only the pool and the post-erasure clean-up differ.

use sqlx::Row;

use super::{to_i64, to_u64, Storage, StorageError};
use icac_format::chain::Hash32;
use icac_format::record::{LedgerId, StreamId};
use icac_format::sealed::Opening;

/// How long (in 100 ms rounds) an erasure waits for older transactions before it
/// compacts the table; one that outlives this is left to the operator (OPERATIONS.md).
const PURGE_WAIT_ROUNDS: usize = 100;

/// Rows one read returns at most: bounds memory while a verifier walks the store.
pub const SEALED_PAGE: i64 = 5_000;

/// A sealed row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRow {
    pub position: u64,
    pub stream: StreamId,
    pub opening: Opening,
}

const COLUMNS: &str = "commitment, position, aggregate_type, aggregate_id, path, salt, value";

fn decode<R>(row: &R) -> Result<SealedRow, StorageError>
where
    R: Row,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let position: i64 = row.try_get("position")?;
    let position = to_u64(0, position, "sealed position")?;
    let malformed = |reason: &str| StorageError::Malformed {
        position,
        reason: format!("sealed value: {reason}"),
    };
    let commitment: Vec<u8> = row.try_get("commitment")?;
    let salt: Vec<u8> = row.try_get("salt")?;
    Ok(SealedRow {
        position,
        stream: StreamId {
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
        },
        opening: Opening {
            commitment: Hash32::from_slice(&commitment)
                .map_err(|_| malformed("commitment is not 32 bytes"))?,
            path: row.try_get("path")?,
            salt: salt
                .as_slice()
                .try_into()
                .map_err(|_| malformed("salt is not 32 bytes"))?,
            value: row.try_get("value")?,
        },
    })
}

/// Runs one query on whichever pool, binding the same values, and decodes the rows.
/// `each` binds every item of an iterator after the fixed values.
macro_rules! sealed_rows {
    ($storage:expr, $sql:expr $(, $bind:expr)* $(; each $items:expr)?) => {
        match $storage {
            Storage::Postgres(s) => {
                #[allow(unused_mut)]
                let mut q = sqlx::query($sql)$(.bind($bind))*;
                $(for item in $items { q = q.bind(item); })?
                q.fetch_all(s.pool()).await?.iter().map(decode).collect()
            }
            Storage::Sqlite(s) => {
                #[allow(unused_mut)]
                let mut q = sqlx::query($sql)$(.bind($bind))*;
                $(for item in $items { q = q.bind(item); })?
                q.fetch_all(s.pool()).await?.iter().map(decode).collect()
            }
        }
    };
}

impl Storage {
    /// Every sealed row of one stream (a case), in position order.
    pub async fn sealed_of_stream(
        &self,
        ledger: &LedgerId,
        stream: &StreamId,
    ) -> Result<Vec<SealedRow>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sealed_values
              WHERE ledger_id = $1 AND aggregate_type = $2 AND aggregate_id = $3
              ORDER BY position, path"
        );
        sealed_rows!(
            self,
            &sql,
            ledger.as_str(),
            &stream.aggregate_type,
            &stream.aggregate_id
        )
    }

    /// The rows for these commitments (those still held; erased ones are absent).
    pub async fn sealed_by_commitment(
        &self,
        ledger: &LedgerId,
        commitments: &[Hash32],
    ) -> Result<Vec<SealedRow>, StorageError> {
        let mut out = Vec::with_capacity(commitments.len());
        // One statement per page of commitments keeps the statement size bounded.
        for chunk in commitments.chunks(200) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "SELECT {COLUMNS} FROM sealed_values WHERE ledger_id = $1 AND commitment IN ({})",
                list.join(", ")
            );
            let rows: Result<Vec<SealedRow>, StorageError> = sealed_rows!(
                self, &sql, ledger.as_str(); each chunk.iter().map(|c| c.0.to_vec())
            );
            out.extend(rows?);
        }
        Ok(out)
    }

    /// The streams holding a sealed value with exactly these canonical bytes.
    pub async fn streams_with_value(
        &self,
        ledger: &LedgerId,
        value: &[u8],
    ) -> Result<Vec<StreamId>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sealed_values WHERE ledger_id = $1 AND value = $2
              ORDER BY aggregate_type, aggregate_id"
        );
        let rows: Result<Vec<SealedRow>, StorageError> =
            sealed_rows!(self, &sql, ledger.as_str(), value.to_vec());
        let rows = rows?;
        let mut streams: Vec<StreamId> = rows.into_iter().map(|r| r.stream).collect();
        streams.dedup();
        Ok(streams)
    }

    /// The rows whose events sit at positions `from..=to`.
    pub async fn sealed_in_positions(
        &self,
        ledger: &LedgerId,
        from: u64,
        to: u64,
    ) -> Result<Vec<SealedRow>, StorageError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sealed_values
              WHERE ledger_id = $1 AND position >= $2 AND position <= $3
              ORDER BY position, path"
        );
        sealed_rows!(self, &sql, ledger.as_str(), to_i64(from), to_i64(to))
    }

    /// One page of the whole store in (position, commitment) order, after `after`.
    pub async fn sealed_page(
        &self,
        ledger: &LedgerId,
        after: Option<(u64, Hash32)>,
    ) -> Result<Vec<SealedRow>, StorageError> {
        let (position, commitment) = after.unwrap_or((0, Hash32::ZERO));
        let sql = format!(
            "SELECT {COLUMNS} FROM sealed_values
              WHERE ledger_id = $1 AND (position > $2 OR (position = $2 AND commitment > $3))
              ORDER BY position, commitment LIMIT {SEALED_PAGE}"
        );
        sealed_rows!(
            self,
            &sql,
            ledger.as_str(),
            to_i64(position),
            commitment.0.to_vec()
        )
    }

    /// After an erasure: make the deleted values unrecoverable from the database files
    /// the process controls. SQLite already overwrote them (`secure_delete`); the old
    /// pages are still in the write-ahead log until it is checkpointed and truncated.
    /// PostgreSQL leaves a deleted tuple's bytes in its page until the table is
    /// rewritten: `VACUUM FULL` writes a new file and drops the old one. WAL segments
    /// and backups keep older copies: docs/OPERATIONS.md says how an operator purges them.
    pub async fn purge_erased(&self) -> Result<(), StorageError> {
        match self {
            Storage::Sqlite(s) => {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(s.pool())
                    .await?;
            }
            Storage::Postgres(s) => {
                // A transaction that began before the erasure may still see the deleted
                // row, and VACUUM FULL copies what some snapshot can see: wait (boundedly)
                // for those transactions to end first.
                let since: String = sqlx::query_scalar("SELECT clock_timestamp()::text")
                    .fetch_one(s.pool())
                    .await?;
                for _ in 0..PURGE_WAIT_ROUNDS {
                    let older: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity
                          WHERE datname = current_database() AND pid <> pg_backend_pid()
                            AND backend_xmin IS NOT NULL AND xact_start < $1::timestamptz",
                    )
                    .bind(&since)
                    .fetch_one(s.pool())
                    .await?;
                    if older == 0 {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                sqlx::query("VACUUM FULL sealed_values")
                    .execute(s.pool())
                    .await?;
            }
        }
        Ok(())
    }
}
