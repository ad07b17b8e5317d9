//! The sealed store (`sealed_batches`, schema 8): personal values and their salts, kept
//! beside the chain (docs/LEDGER_FORMAT.md, section 12), one packed row per committed
//! batch (`sealed_pack`). Rows are written with their events by `insert_batch`/
//! `write_batch`; this module reads them, and cleans up after an erasure. Both dialects
//! take the same SQL here (`$n` parameters work in SQLite too); only the pool and the
//! post-erasure clean-up differ.
//!
//! A batch's positions are contiguous and batches never overlap, so the row holding a
//! position `p` is the one with the greatest `first_position <= p`: every lookup below
//! is that one index probe (`max(first_position)`), never a scan of the ranges.

use std::collections::{BTreeSet, HashSet};

use sqlx::Row;

use super::sealed_pack;
use super::{to_i64, to_u64, SealedRef, Storage, StorageError, StoredOpening};
use icac_format::record::{LedgerId, StreamId};

/// Batch rows one read of the whole store returns at most: bounds memory while a
/// search walks it.
const SCAN_PAGE: i64 = 500;

/// Streams one statement names at most.
const STREAMS_PER_STATEMENT: usize = 200;

/// The SQL that finds the row holding position `$n`.
fn holding(param: &str) -> String {
    format!(
        "(SELECT max(s.first_position) FROM sealed_batches s
           WHERE s.ledger_id = $1 AND s.first_position <= {param})"
    )
}

fn decode<R>(row: &R) -> Result<Vec<StoredOpening>, StorageError>
where
    R: Row,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let first: i64 = row.try_get("first_position")?;
    let position = to_u64(0, first, "sealed batch position")?;
    let packed: Vec<u8> = row.try_get("openings")?;
    sealed_pack::unpack(&packed).map_err(|e| StorageError::Malformed {
        position,
        reason: format!("sealed batch: {e}"),
    })
}

/// Runs one query on whichever pool, binding the same values, and unpacks the rows.
/// `each` binds every item of an iterator after the fixed values.
macro_rules! sealed_rows {
    ($storage:expr, $sql:expr $(, $bind:expr)* $(; each $items:expr)?) => {{
        let batches: Result<Vec<Vec<StoredOpening>>, StorageError> =
            $crate::storage::sql::on_pool!($storage, |pool, _sql| {
                #[allow(unused_mut)]
                let mut q = sqlx::query($sql)$(.bind($bind))*;
                $(for item in $items { q = q.bind(item); })?
                q.fetch_all(pool).await?.iter().map(decode).collect()
            });
        batches.map(|b| b.into_iter().flatten().collect::<Vec<StoredOpening>>())
    }};
}

/// Inside a transaction that holds the chain-head lock: rewrites every row holding an
/// opening named by `erases` without it, deleting a row left empty. A macro because the
/// two dialects' connections differ only in type; the SQL is the same.
macro_rules! erase_in {
    ($conn:expr, $ledger:expr, $erases:expr) => {{
        let conn = $conn;
        let erases: &[$crate::storage::SealedRef] = $erases;
        let gone: std::collections::HashSet<icac_format::chain::Hash32> =
            erases.iter().map(|r| r.commitment).collect();
        let mut positions: Vec<u64> = erases.iter().map(|r| r.position).collect();
        positions.sort_unstable();
        positions.dedup();
        let mut rewritten: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
        for position in positions {
            let row = sqlx::query($crate::storage::sealed_store::FIND_HOLDING)
                .bind($ledger.as_str())
                .bind($crate::storage::to_i64(position))
                .fetch_optional(&mut *conn)
                .await?;
            let Some(row) = row else { continue };
            let first: i64 = sqlx::Row::try_get(&row, "first_position")?;
            if !rewritten.insert(first) {
                continue;
            }
            let packed: Vec<u8> = sqlx::Row::try_get(&row, "openings")?;
            let (rest, removed) =
                $crate::storage::sealed_pack::strip(&packed, &gone).map_err(|e| {
                    $crate::storage::StorageError::Malformed {
                        position,
                        reason: format!("sealed batch: {e}"),
                    }
                })?;
            let q = match (rest, removed) {
                (_, 0) => continue,
                (None, _) => sqlx::query(
                    "DELETE FROM sealed_batches WHERE ledger_id = $1 AND first_position = $2",
                )
                .bind($ledger.as_str())
                .bind(first),
                (Some(rest), _) => sqlx::query(
                    "UPDATE sealed_batches SET openings = $3
                      WHERE ledger_id = $1 AND first_position = $2",
                )
                .bind($ledger.as_str())
                .bind(first)
                .bind(rest),
            };
            q.execute(&mut *conn).await?;
        }
    }};
}
pub(super) use erase_in;

/// The row that holds position `$2`, if any row starts at or before it.
pub(super) const FIND_HOLDING: &str = "SELECT first_position, openings FROM sealed_batches
  WHERE ledger_id = $1 AND first_position = (SELECT max(s.first_position)
        FROM sealed_batches s WHERE s.ledger_id = $1 AND s.first_position <= $2)";

impl Storage {
    /// Every sealed value of one stream (a case), in position order.
    pub async fn sealed_of_stream(
        &self,
        ledger: &LedgerId,
        stream: &StreamId,
    ) -> Result<Vec<StoredOpening>, StorageError> {
        self.sealed_of_streams(
            ledger,
            &stream.aggregate_type,
            std::slice::from_ref(&stream.aggregate_id),
        )
        .await
    }

    /// Every sealed value of these streams of one aggregate type, in position order.
    pub async fn sealed_of_streams(
        &self,
        ledger: &LedgerId,
        aggregate_type: &str,
        ids: &[String],
    ) -> Result<Vec<StoredOpening>, StorageError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(STREAMS_PER_STATEMENT) {
            let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT b.first_position, b.openings FROM sealed_batches b
                  WHERE b.ledger_id = $1 AND b.first_position IN (
                        SELECT {} FROM ledger_events e
                         WHERE e.ledger_id = $1 AND e.aggregate_type = $2
                           AND e.aggregate_id IN ({}))
                  ORDER BY b.first_position",
                holding("e.position"),
                list.join(", ")
            );
            let rows = sealed_rows!(self, &sql, ledger.as_str(), aggregate_type; each chunk.iter());
            let wanted: HashSet<&str> = chunk.iter().map(String::as_str).collect();
            out.extend(rows?.into_iter().filter(|o| {
                o.stream.aggregate_type == aggregate_type
                    && wanted.contains(o.stream.aggregate_id.as_str())
            }));
        }
        out.sort_by(|a, b| (a.position, &a.opening.path).cmp(&(b.position, &b.opening.path)));
        Ok(out)
    }

    /// The values named by `refs` that the store still holds (erased ones are absent).
    pub async fn sealed_at(
        &self,
        ledger: &LedgerId,
        refs: &[SealedRef],
    ) -> Result<Vec<StoredOpening>, StorageError> {
        let wanted: HashSet<SealedRef> = refs.iter().copied().collect();
        let positions: BTreeSet<u64> = refs.iter().map(|r| r.position).collect();
        let mut out = Vec::new();
        let mut covered_to = 0;
        for position in positions {
            if position <= covered_to {
                continue;
            }
            let sql = format!(
                "SELECT first_position, openings FROM sealed_batches
                  WHERE ledger_id = $1 AND first_position = {}",
                holding("$2")
            );
            let rows = sealed_rows!(self, &sql, ledger.as_str(), to_i64(position))?;
            covered_to = rows
                .iter()
                .map(|o| o.position)
                .max()
                .unwrap_or(position)
                .max(position);
            out.extend(rows.into_iter().filter(|o| {
                wanted.contains(&SealedRef {
                    position: o.position,
                    commitment: o.opening.commitment,
                })
            }));
        }
        Ok(out)
    }

    /// The streams holding a sealed value with exactly these canonical bytes. Walks the
    /// whole store: no index may hold a copy of a value.
    pub async fn streams_with_value(
        &self,
        ledger: &LedgerId,
        value: &[u8],
    ) -> Result<Vec<StreamId>, StorageError> {
        let mut streams: Vec<StreamId> = Vec::new();
        let mut after = 0u64;
        loop {
            let sql = format!(
                "SELECT first_position, openings FROM sealed_batches
                  WHERE ledger_id = $1 AND first_position > $2
                  ORDER BY first_position LIMIT {SCAN_PAGE}"
            );
            let page = sealed_rows!(self, &sql, ledger.as_str(), to_i64(after))?;
            // Batches never overlap, so the page's last opening lies in its last row and
            // every later row starts after it.
            let Some(last) = page.iter().map(|o| o.position).max() else {
                break;
            };
            streams.extend(
                page.into_iter()
                    .filter(|o| o.opening.value == value)
                    .map(|o| o.stream),
            );
            after = last;
        }
        streams.sort_by(|a, b| {
            (&a.aggregate_type, &a.aggregate_id).cmp(&(&b.aggregate_type, &b.aggregate_id))
        });
        streams.dedup();
        Ok(streams)
    }

    /// The values whose events sit at positions `from..=to`, in position order.
    pub async fn sealed_in_positions(
        &self,
        ledger: &LedgerId,
        from: u64,
        to: u64,
    ) -> Result<Vec<StoredOpening>, StorageError> {
        let sql = format!(
            "SELECT first_position, openings FROM sealed_batches
              WHERE ledger_id = $1 AND first_position <= $3
                AND first_position >= COALESCE({}, 0)
              ORDER BY first_position",
            holding("$2")
        );
        let rows = sealed_rows!(self, &sql, ledger.as_str(), to_i64(from), to_i64(to))?;
        let mut out: Vec<StoredOpening> = rows
            .into_iter()
            .filter(|o| (from..=to).contains(&o.position))
            .collect();
        out.sort_by(|a, b| (a.position, &a.opening.path).cmp(&(b.position, &b.opening.path)));
        Ok(out)
    }

    /// After an erasure: make the deleted values unrecoverable from the database files
    /// the process controls. SQLite already overwrote them (`secure_delete`); the old
    /// pages are still in the write-ahead log until it is checkpointed and truncated.
    /// PostgreSQL leaves a deleted tuple's bytes in its page until the table is
    /// rewritten: `VACUUM FULL` writes a new file and drops the old one. WAL segments
    /// and backups keep older copies: docs/OPERATIONS.md says how an operator purges them.
    pub async fn purge_erased(&self) -> Result<(), StorageError> {
        Ok(super::sql::purge_erased(self).await?)
    }
}
