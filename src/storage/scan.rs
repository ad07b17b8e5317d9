//! Streams a ledger's rows in position order, in batches: verification reads whole
//! rows ([`StoredRow`]), replays of the read models only what they decode
//! ([`CanonicalRow`]).
//!
//! Paged `SELECT ... LIMIT` reads cost a round trip and an index descent per page and
//! leave PostgreSQL idle while the client works. On PostgreSQL a scan is one
//! `COPY (SELECT ...) TO STDOUT (FORMAT binary)`: the server streams every row from one
//! snapshot as fast as the client takes them (TCP back-pressure bounds what is in
//! flight), and rows are decoded straight from the wire format. SQLite, in-process and
//! without a network hop, keeps the paged reads.

use futures::future::BoxFuture;
use futures::StreamExt;
use sqlx::{Connection, Executor};
use tokio::sync::mpsc::Sender;

use super::{to_u64, CanonicalRow, Storage, StorageError, StoredRow};
use crate::ledger::record::LedgerId;

/// A row type a scan can produce: its columns, how to decode them from COPY's binary
/// format, and the paged read SQLite uses instead.
pub trait ScanRow: Sized + Send + 'static {
    /// The select list, in the order `from_copy` reads the fields.
    const SELECT: &'static str;
    const COLUMNS: usize;
    fn from_copy(fields: &[&[u8]]) -> Result<Self, StorageError>;
    fn position(&self) -> u64;
    fn read_page<'a>(
        storage: &'a Storage,
        ledger: &'a LedgerId,
        from: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Self>, StorageError>>;
}

/// Reads rows with `from <= position <= up_to` (`None`: to the head) in position
/// order and sends them in batches of `batch` rows. Stops early, without error, when
/// the receiver is dropped.
pub async fn scan<R: ScanRow>(
    storage: &Storage,
    ledger: &LedgerId,
    from: u64,
    up_to: Option<u64>,
    batch: usize,
    tx: Sender<Vec<R>>,
) -> Result<(), StorageError> {
    let batch = batch.max(1);
    match storage {
        Storage::Postgres(pg) => copy_scan(pg, ledger, from, up_to, batch, tx).await,
        Storage::Sqlite(_) => {
            let mut next = from;
            loop {
                let limit = match up_to {
                    Some(last) if last < next => return Ok(()),
                    Some(last) => (last - next + 1).min(batch as u64),
                    None => batch as u64,
                };
                let limit = u32::try_from(limit).unwrap_or(u32::MAX);
                let rows = R::read_page(storage, ledger, next, limit).await?;
                let Some(last) = rows.last() else {
                    return Ok(());
                };
                next = last.position().saturating_add(1);
                if tx.send(rows).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

async fn copy_scan<R: ScanRow>(
    pg: &super::postgres::PgStorage,
    ledger: &LedgerId,
    from: u64,
    up_to: Option<u64>,
    batch: usize,
    tx: Sender<Vec<R>>,
) -> Result<(), StorageError> {
    // COPY takes no bind parameters. A `LedgerId` is only [a-z0-9-] (checked when it
    // was built) and the bounds are numbers, so none can break out of the literal.
    let upper = up_to
        .map(|last| format!(" AND position <= {}", super::to_i64(last)))
        .unwrap_or_default();
    let sql = format!(
        "COPY (SELECT {} FROM ledger_events WHERE ledger_id = '{}' AND position >= {}{upper} \
         ORDER BY position) TO STDOUT (FORMAT binary)",
        R::SELECT,
        ledger.as_str(),
        super::to_i64(from)
    );
    // A connection of its own: if the reader stops early the COPY is abandoned
    // mid-stream, and such a connection must not go back to the pool.
    let mut conn = pg.pool().acquire().await?.detach();
    // The rows are already stored in position order in the primary key: walk it. With
    // statistics from before a bulk load the planner chose a bitmap scan plus a sort,
    // which spilled the whole ledger to temporary files and cost the server 5x more CPU
    // per row than the index walk. These settings die with this detached connection.
    conn.execute("SET enable_sort = off; SET enable_bitmapscan = off; SET enable_seqscan = off")
        .await?;
    let mut decoder = CopyDecoder::default();
    let mut rows = Vec::with_capacity(batch);
    let mut stopped = false;
    {
        let mut stream = conn.copy_out_raw(&sql).await?;
        while let Some(chunk) = stream.next().await {
            decoder.feed(&chunk?);
            while let Some(row) = decoder.next_row::<R>()? {
                rows.push(row);
                if rows.len() == batch {
                    let full = std::mem::replace(&mut rows, Vec::with_capacity(batch));
                    if tx.send(full).await.is_err() {
                        stopped = true;
                        break;
                    }
                }
            }
            if stopped {
                break;
            }
        }
    }
    if stopped {
        // Dropping the socket ends the server's COPY; nothing else needs it.
        drop(conn);
        return Ok(());
    }
    if !decoder.finished() {
        return Err(malformed(0, "COPY data ended without its trailer"));
    }
    let _ = conn.close().await;
    if !rows.is_empty() {
        let _ = tx.send(rows).await;
    }
    Ok(())
}

fn malformed(position: u64, reason: &str) -> StorageError {
    StorageError::Malformed {
        position,
        reason: format!("COPY binary stream: {reason}"),
    }
}

/// Incremental decoder of PostgreSQL's binary COPY format.
#[derive(Default)]
struct CopyDecoder {
    buf: Vec<u8>,
    at: usize,
    header_done: bool,
    trailer_seen: bool,
}

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Fields per row a scan may select (`ScanRow::COLUMNS` is at most this).
const MAX_COLUMNS: usize = 12;

impl CopyDecoder {
    fn feed(&mut self, chunk: &[u8]) {
        if self.at > 0 && self.at == self.buf.len() {
            self.buf.clear();
            self.at = 0;
        } else if self.at > (1 << 20) {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    fn finished(&self) -> bool {
        self.trailer_seen && self.at == self.buf.len()
    }

    /// The next complete row, or `None` when more data is needed (or the trailer came).
    fn next_row<R: ScanRow>(&mut self) -> Result<Option<R>, StorageError> {
        if !self.header_done {
            let rest = &self.buf[self.at..];
            if rest.len() < SIGNATURE.len() + 8 {
                return Ok(None);
            }
            if &rest[..SIGNATURE.len()] != SIGNATURE {
                return Err(malformed(0, "bad signature"));
            }
            let ext = be_u32(&rest[SIGNATURE.len() + 4..]) as usize;
            let total = SIGNATURE.len() + 8 + ext;
            if rest.len() < total {
                return Ok(None);
            }
            self.at += total;
            self.header_done = true;
        }
        if self.trailer_seen {
            return Ok(None);
        }
        let mut r = Reader {
            b: &self.buf[self.at..],
            i: 0,
        };
        let Some(count) = r.take(2).map(|b| i16::from_be_bytes([b[0], b[1]])) else {
            return Ok(None);
        };
        if count == -1 {
            self.at += 2;
            self.trailer_seen = true;
            return Ok(None);
        }
        if usize::try_from(count).ok() != Some(R::COLUMNS) || R::COLUMNS > MAX_COLUMNS {
            return Err(malformed(0, &format!("{count} columns in a row")));
        }
        let mut fields: [&[u8]; MAX_COLUMNS] = [&[]; MAX_COLUMNS];
        for f in fields.iter_mut().take(R::COLUMNS) {
            let Some(len) = r.take(4).map(be_u32) else {
                return Ok(None);
            };
            if len == u32::MAX {
                return Err(malformed(0, "NULL in a NOT NULL column"));
            }
            let Some(bytes) = r.take(len as usize) else {
                return Ok(None);
            };
            *f = bytes;
        }
        let consumed = r.i;
        let row = R::from_copy(&fields[..R::COLUMNS])?;
        self.at += consumed;
        Ok(Some(row))
    }
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.i.checked_add(n)?;
        let out = self.b.get(self.i..end)?;
        self.i = end;
        Some(out)
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn int8(b: &[u8], what: &str, position: u64) -> Result<i64, StorageError> {
    <[u8; 8]>::try_from(b)
        .map(i64::from_be_bytes)
        .map_err(|_| malformed(position, &format!("{what} is not an int8")))
}

fn text(b: &[u8], what: &str, position: u64) -> Result<String, StorageError> {
    String::from_utf8(b.to_vec()).map_err(|_| malformed(position, &format!("{what} is not UTF-8")))
}

impl ScanRow for StoredRow {
    const SELECT: &'static str = "position, aggregate_type, aggregate_id, sequence, event_type, \
         event_version, recorded_at, prev_hash, hash, key_id, signature, canonical";
    const COLUMNS: usize = 12;

    fn from_copy(f: &[&[u8]]) -> Result<Self, StorageError> {
        let position = to_u64(0, int8(f[0], "position", 0)?, "position")?;
        Ok(StoredRow {
            position,
            aggregate_type: text(f[1], "aggregate_type", position)?,
            aggregate_id: text(f[2], "aggregate_id", position)?,
            sequence: to_u64(position, int8(f[3], "sequence", position)?, "sequence")?,
            event_type: text(f[4], "event_type", position)?,
            event_version: text(f[5], "event_version", position)?,
            recorded_at: text(f[6], "recorded_at", position)?,
            prev_hash: f[7].to_vec(),
            hash: f[8].to_vec(),
            key_id: text(f[9], "key_id", position)?,
            signature: f[10].to_vec(),
            canonical: f[11].to_vec(),
        })
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn read_page<'a>(
        storage: &'a Storage,
        ledger: &'a LedgerId,
        from: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Self>, StorageError>> {
        Box::pin(storage.read_page(ledger, from, limit))
    }
}

impl ScanRow for CanonicalRow {
    const SELECT: &'static str = "position, recorded_at, hash, canonical";
    const COLUMNS: usize = 4;

    fn from_copy(f: &[&[u8]]) -> Result<Self, StorageError> {
        let position = to_u64(0, int8(f[0], "position", 0)?, "position")?;
        Ok(CanonicalRow {
            position,
            recorded_at: text(f[1], "recorded_at", position)?,
            hash: f[2].to_vec(),
            canonical: f[3].to_vec(),
        })
    }

    fn position(&self) -> u64 {
        self.position
    }

    fn read_page<'a>(
        storage: &'a Storage,
        ledger: &'a LedgerId,
        from: u64,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Self>, StorageError>> {
        Box::pin(storage.read_canonical_page(ledger, from, limit))
    }
}
