//! Streams a ledger's rows in position order, in batches: verification reads whole
//! rows ([`StoredRow`]), replays of the read models only what they decode
//! ([`CanonicalRow`]).
//!
//! Paged `SELECT ... LIMIT` reads cost a round trip and an index descent per page and
//! leave PostgreSQL idle while the client works. On PostgreSQL a scan is one
//! `COPY (SELECT ...) TO STDOUT (FORMAT binary)`: the server streams every row from one
//! snapshot as fast as the client takes them (TCP back-pressure bounds what is in
//! flight), and rows are decoded straight from the wire format.
//!
//! On an SQLite file a scan is one statement stepped on a blocking thread through the C
//! library (`storage::sqlite_direct`), on a connection of its own inside one read
//! transaction, so it sees one snapshot (WAL mode) however long it takes and whatever
//! is appended meanwhile; rows are decoded straight from SQLite's column buffers. sqlx,
//! which costs about 3.4 µs of CPU per row on SQLite (a worker thread per connection,
//! every row sent over a channel), is left out of it. An in-memory database, which a
//! second connection cannot open, keeps the paged reads through the pool.

use std::path::Path;

use futures::future::BoxFuture;
use futures::StreamExt;
use sqlx::{Connection, Executor};
use tokio::sync::mpsc::Sender;

use super::sqlite_direct::{self, Access, ColumnError, Row, BUSY_TIMEOUT_MS};
use super::{to_i64, to_u64, CanonicalRow, Storage, StorageError, StoredRow};
use icac_format::record::LedgerId;

/// A row type a scan can produce: its columns, how to decode them from COPY's binary
/// format and from an SQLite row, and the paged read an in-memory SQLite database uses.
pub trait ScanRow: Sized + Send + 'static {
    /// The select list, in the order `from_copy` and `from_sqlite` read the fields.
    const SELECT: &'static str;
    const COLUMNS: usize;
    fn from_copy(fields: &[&[u8]]) -> Result<Self, StorageError>;
    /// Decodes the current row of a statement selecting [`ScanRow::SELECT`]; a value
    /// of the wrong type is [`StorageError::Malformed`].
    fn from_sqlite(row: &Row<'_>) -> Result<Self, StorageError>;
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
        Storage::Sqlite(s) => match s.file() {
            Some(path) => {
                let path = path.to_owned();
                let ledger = ledger.as_str().to_owned();
                tokio::task::spawn_blocking(move || {
                    sqlite_scan(&path, &ledger, from, up_to, batch, &tx)
                })
                .await
                .map_err(|e| StorageError::ReaderThread(e.to_string()))?
            }
            None => paged_scan(storage, ledger, from, up_to, batch, tx).await,
        },
    }
}

/// [`scan`] through the pool, a page (`LIMIT batch`) per query, each page its own
/// snapshot: for an in-memory SQLite database, and as the reference the direct scan is
/// tested against.
pub(crate) async fn paged_scan<R: ScanRow>(
    storage: &Storage,
    ledger: &LedgerId,
    from: u64,
    up_to: Option<u64>,
    batch: usize,
    tx: Sender<Vec<R>>,
) -> Result<(), StorageError> {
    let batch = batch.max(1);
    // Positions start at 1; counting a page from 0 would read one row past `up_to`.
    let mut next = from.max(1);
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

/// The SQLite arm of [`scan`], run on a blocking thread: one read transaction on a
/// connection of its own, one statement walking the primary key, rows decoded from the
/// column buffers and sent `batch` at a time with `blocking_send`.
///
/// Pages are read with `pread` into SQLite's page cache, not memory-mapped: mapping
/// the file made the scan slower (a page fault per 4 KiB page: 1.2–2.5 s against
/// 0.8–1.0 s for 1M events) and counted the whole file in the resident set.
fn sqlite_scan<R: ScanRow>(
    path: &Path,
    ledger: &str,
    from: u64,
    up_to: Option<u64>,
    batch: usize,
    tx: &Sender<Vec<R>>,
) -> Result<(), StorageError> {
    if up_to.is_some_and(|last| last < from) {
        return Ok(());
    }
    let conn = sqlite_direct::Connection::open(path, Access::Read, BUSY_TIMEOUT_MS)?;
    // The snapshot is taken at the statement's first step and held to COMMIT: rows
    // appended meanwhile are not seen, and none is seen twice or skipped.
    conn.execute("BEGIN")?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM ledger_events WHERE ledger_id = ?1 AND position >= ?2 AND position <= ?3 \
         ORDER BY position",
        R::SELECT
    ))?;
    stmt.bind_text(1, ledger)?;
    stmt.bind_i64(2, to_i64(from))?;
    stmt.bind_i64(3, up_to.map_or(i64::MAX, to_i64))?;
    let mut rows = Vec::with_capacity(batch);
    while let Some(row) = stmt.next_row()? {
        rows.push(R::from_sqlite(&row)?);
        if rows.len() == batch {
            let full = std::mem::replace(&mut rows, Vec::with_capacity(batch));
            if tx.blocking_send(full).is_err() {
                // The receiver is gone; dropping the connection ends the transaction.
                return Ok(());
            }
        }
    }
    drop(stmt);
    conn.execute("COMMIT")?;
    if !rows.is_empty() {
        let _ = tx.blocking_send(rows);
    }
    Ok(())
}

fn column<T>(value: Result<T, ColumnError>, position: u64, what: &str) -> Result<T, StorageError> {
    value.map_err(|e| StorageError::Malformed {
        position,
        reason: format!("{what}: {e}"),
    })
}

/// Column 0 of every scan: the position, which the other columns' errors name.
fn sqlite_position(row: &Row<'_>) -> Result<u64, StorageError> {
    to_u64(0, column(row.int(0), 0, "position")?, "position")
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

    fn from_sqlite(row: &Row<'_>) -> Result<Self, StorageError> {
        let position = sqlite_position(row)?;
        let text = |i, what| column(row.text(i), position, what).map(str::to_owned);
        let blob = |i, what| column(row.blob(i), position, what).map(<[u8]>::to_vec);
        Ok(StoredRow {
            position,
            aggregate_type: text(1, "aggregate_type")?,
            aggregate_id: text(2, "aggregate_id")?,
            sequence: to_u64(
                position,
                column(row.int(3), position, "sequence")?,
                "sequence",
            )?,
            event_type: text(4, "event_type")?,
            event_version: text(5, "event_version")?,
            recorded_at: text(6, "recorded_at")?,
            prev_hash: blob(7, "prev_hash")?,
            hash: blob(8, "hash")?,
            key_id: text(9, "key_id")?,
            signature: blob(10, "signature")?,
            canonical: blob(11, "canonical")?,
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

    fn from_sqlite(row: &Row<'_>) -> Result<Self, StorageError> {
        let position = sqlite_position(row)?;
        Ok(CanonicalRow {
            position,
            recorded_at: column(row.text(1), position, "recorded_at")?.to_owned(),
            hash: column(row.blob(2), position, "hash")?.to_vec(),
            canonical: column(row.blob(3), position, "canonical")?.to_vec(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    /// A migrated SQLite file with `n` synthetic rows in ledger `a` and a few in ledger
    /// `b`, interleaved so a scan must filter by ledger. The rows satisfy the schema's
    /// triggers (each `prev_hash` is the previous row's hash); nothing else about them
    /// is checked by a scan.
    async fn database(n: u64) -> (tempfile::TempDir, Storage, LedgerId) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("scan.db").display());
        let storage = Storage::connect(&url).await.expect("connect");
        storage.migrate().await.expect("migrate");
        let Storage::Sqlite(s) = &storage else {
            unreachable!("an sqlite URL")
        };
        assert!(s.file().is_some());
        for p in 1..=n {
            insert(&storage, "a", p).await;
            if p <= 3 {
                insert(&storage, "b", p).await;
            }
        }
        (dir, storage, LedgerId::new("a").expect("ledger id"))
    }

    fn hash(ledger: &str, position: u64) -> Vec<u8> {
        let mut h = vec![0u8; 32];
        if position > 0 {
            h[0] = ledger.as_bytes()[0];
            h[24..].copy_from_slice(&position.to_be_bytes());
        }
        h
    }

    async fn insert(storage: &Storage, ledger: &str, position: u64) {
        let Storage::Sqlite(s) = storage else {
            unreachable!("an sqlite URL")
        };
        let p = i64::try_from(position).expect("small");
        // A row of every shape the columns allow: empty and non-ASCII text, canonical
        // bytes of varying length, including none.
        sqlx::query(
            "INSERT INTO ledger_events (ledger_id, position, aggregate_type, aggregate_id,
                 sequence, event_type, event_version, recorded_at, prev_hash, hash, key_id,
                 signature, canonical)
             VALUES (?, ?, 'case', ?, ?, ?, '1', ?, ?, ?, 'k1', ?, ?)",
        )
        .bind(ledger)
        .bind(p)
        .bind(format!("case-{}", (p - 1) % 4))
        .bind(1 + (p - 1) / 4)
        .bind(if p % 5 == 0 {
            String::new()
        } else {
            format!("Événement{p}")
        })
        .bind(format!("2025-01-01T00:00:{:02}Z", p % 60))
        .bind(hash(ledger, position - 1))
        .bind(hash(ledger, position))
        .bind(vec![u8::try_from(p % 251).expect("small"); 64])
        .bind(vec![b'{'; usize::try_from(p * 37 % 300).expect("small")])
        .execute(s.pool())
        .await
        .expect("insert");
    }

    async fn collect<R: ScanRow>(
        storage: &Storage,
        ledger: &LedgerId,
        from: u64,
        up_to: Option<u64>,
        batch: usize,
        paged: bool,
    ) -> Vec<Vec<R>> {
        let (tx, mut rx) = mpsc::channel(2);
        let reader = {
            let storage = storage.clone();
            let ledger = ledger.clone();
            tokio::spawn(async move {
                if paged {
                    paged_scan(&storage, &ledger, from, up_to, batch, tx).await
                } else {
                    scan(&storage, &ledger, from, up_to, batch, tx).await
                }
            })
        };
        let mut batches = Vec::new();
        while let Some(rows) = rx.recv().await {
            batches.push(rows);
        }
        reader.await.expect("join").expect("scan");
        batches
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_sqlite_scan_returns_what_paged_reads_do() {
        let (_dir, storage, a) = database(23).await;
        let ranges: [(u64, Option<u64>); 10] = [
            (0, None),
            (0, Some(5)),
            (1, None),
            (1, Some(23)),
            (1, Some(100)),
            (5, Some(17)),
            (7, None),
            (23, None),
            (24, None),
            (10, Some(9)),
        ];
        for (from, up_to) in ranges {
            for batch in [1, 4, 5, 1000] {
                let direct = collect::<StoredRow>(&storage, &a, from, up_to, batch, false).await;
                let paged = collect::<StoredRow>(&storage, &a, from, up_to, batch, true).await;
                assert_eq!(direct, paged, "StoredRow {from}..={up_to:?} by {batch}");
                let direct = collect::<CanonicalRow>(&storage, &a, from, up_to, batch, false).await;
                let paged = collect::<CanonicalRow>(&storage, &a, from, up_to, batch, true).await;
                assert_eq!(direct, paged, "CanonicalRow {from}..={up_to:?} by {batch}");
            }
        }
        let all = collect::<StoredRow>(&storage, &a, 1, None, 4, false).await;
        let positions: Vec<u64> = all.iter().flatten().map(|r| r.position).collect();
        assert_eq!(positions, (1..=23).collect::<Vec<_>>());
        assert_eq!(
            all.iter().map(Vec::len).collect::<Vec<_>>(),
            [4, 4, 4, 4, 4, 3]
        );
        assert!(collect::<StoredRow>(&storage, &a, 24, None, 4, false)
            .await
            .is_empty());
        assert!(collect::<StoredRow>(&storage, &a, 0, Some(0), 4, false)
            .await
            .is_empty());
        let from_zero = collect::<CanonicalRow>(&storage, &a, 0, Some(2), 4, false).await;
        assert_eq!(
            from_zero
                .concat()
                .iter()
                .map(|r| r.position)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        let b = LedgerId::new("b").expect("ledger id");
        let other = collect::<CanonicalRow>(&storage, &b, 1, None, 100, false).await;
        assert_eq!(other.concat().len(), 3);
        let none = LedgerId::new("c").expect("ledger id");
        assert!(
            collect::<CanonicalRow>(&storage, &none, 1, None, 100, false)
                .await
                .is_empty()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_sqlite_scan_stops_when_the_receiver_goes() {
        let (_dir, storage, a) = database(40).await;
        let (tx, mut rx) = mpsc::channel::<Vec<CanonicalRow>>(1);
        let reader = {
            let storage = storage.clone();
            let a = a.clone();
            tokio::spawn(async move { scan(&storage, &a, 1, None, 3, tx).await })
        };
        let first = rx.recv().await.expect("a first batch");
        assert_eq!(first.len(), 3);
        drop(rx);
        reader.await.expect("join").expect("stops without error");
        // Its read transaction is over: a writer can still append and checkpoint.
        insert(&storage, "a", 41).await;
        let Storage::Sqlite(s) = &storage else {
            unreachable!("an sqlite URL")
        };
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(s.pool())
            .await
            .expect("checkpoint");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn direct_sqlite_scan_reads_one_snapshot_while_rows_are_appended() {
        let (_dir, storage, a) = database(30).await;
        let (tx, mut rx) = mpsc::channel::<Vec<StoredRow>>(1);
        let reader = {
            let storage = storage.clone();
            let a = a.clone();
            tokio::spawn(async move { scan(&storage, &a, 1, None, 2, tx).await })
        };
        let mut seen: Vec<u64> = rx
            .recv()
            .await
            .expect("a first batch")
            .iter()
            .map(|r| r.position)
            .collect();
        // The scan has started (its snapshot is taken): these rows are after it.
        for p in 31..=35 {
            insert(&storage, "a", p).await;
        }
        while let Some(rows) = rx.recv().await {
            seen.extend(rows.iter().map(|r| r.position));
        }
        reader.await.expect("join").expect("scan");
        assert_eq!(seen, (1..=30).collect::<Vec<_>>());
        // A new scan sees them.
        let after = collect::<StoredRow>(&storage, &a, 1, None, 100, false).await;
        assert_eq!(after.concat().len(), 35);
    }
}
