//! Where the ledger's rows live: PostgreSQL in production, an SQLite file by default.
//!
//! Both dialects expose the same small surface: run migrations, write one batch inside a
//! transaction that holds the chain head, and read rows back by position or by stream.
//! Everything about *what* goes into a batch is decided by `ledger::sequencer`.

mod migrate;
mod postgres;
pub mod scan;
pub mod sealed_pack;
pub(crate) mod sealed_store;
pub(crate) mod sql;
mod sqlite;
pub(crate) mod sqlite_direct;

use std::collections::HashMap;

use icac_format::chain::{Hash32, GENESIS_PREV_HASH};
use icac_format::record::{LedgerId, SealedEvent, StreamId};
use icac_format::sealed::Opening;

pub use migrate::LATEST_SCHEMA_VERSION;
pub use sqlite_direct::SqliteError;

/// How many rows one page of a sequential read returns; bounds memory while streaming.
pub const READ_PAGE: u32 = 2_000;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database URL must start with postgres:// or sqlite:// (got {0:?})")]
    BadUrl(String),
    #[error("cannot open database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database schema is version {found}, newer than this icac-ledger supports ({supported}); upgrade icac-ledger")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("database schema is not initialised; run `icac-ledger init`")]
    NotInitialised,
    #[error("database schema is version {found}, older than this icac-ledger's {supported}; run `icac-ledger migrate` (or `init`) as the schema's owner first")]
    SchemaTooOld { found: i64, supported: i64 },
    #[error("migration {version} failed: {source}")]
    Migration { version: i64, source: sqlx::Error },
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// From a direct SQLite connection (`storage::sqlite_direct`), which bypasses sqlx.
    #[error("database error: {0}")]
    Sqlite(#[from] SqliteError),
    #[error("the SQLite reader thread stopped: {0}")]
    ReaderThread(String),
    #[error("stored row at position {position} is malformed: {reason}")]
    Malformed { position: u64, reason: String },
}

/// SQLSTATE class 23's generic code, which the ledger's PostgreSQL triggers raise.
const PG_INTEGRITY_CONSTRAINT_VIOLATION: &str = "23000";
/// SQLite's extended result code for a constraint a trigger raised (1811).
const SQLITE_CONSTRAINT_TRIGGER: &str = "1811";

impl StorageError {
    /// True when the database refused a row because it would fork or gap the chain or
    /// duplicate a stream sequence: another writer got there first.
    pub fn is_chain_conflict(&self) -> bool {
        match self {
            // By code, never by message: PostgreSQL's link and sequence triggers raise
            // SQLSTATE 23000 (integrity_constraint_violation); SQLite's `RAISE(ABORT)` in
            // a trigger is SQLITE_CONSTRAINT_TRIGGER. The only insert triggers on the
            // ledger tables are those two checks.
            StorageError::Query(sqlx::Error::Database(db)) => {
                db.is_unique_violation()
                    || matches!(
                        db.code().as_deref(),
                        Some(PG_INTEGRITY_CONSTRAINT_VIOLATION | SQLITE_CONSTRAINT_TRIGGER)
                    )
            }
            _ => false,
        }
    }
}

/// The last event of the chain, or the genesis state when the ledger is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub position: u64,
    pub hash: Hash32,
    pub recorded_at: Option<String>,
}

impl Head {
    pub const EMPTY: Head = Head {
        position: 0,
        hash: GENESIS_PREV_HASH,
        recorded_at: None,
    };
}

/// One row exactly as stored, before any parsing or checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    pub position: u64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: u64,
    pub event_type: String,
    pub event_version: String,
    pub recorded_at: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
    pub key_id: String,
    pub signature: Vec<u8>,
    pub canonical: Vec<u8>,
}

impl StoredRow {
    pub fn from_sealed(event: &SealedEvent) -> Self {
        let r = &event.record;
        StoredRow {
            position: r.position,
            aggregate_type: r.aggregate_type.clone(),
            aggregate_id: r.aggregate_id.clone(),
            sequence: r.sequence,
            event_type: r.event_type.clone(),
            event_version: r.event_version.clone(),
            recorded_at: r.metadata.recorded_at.clone(),
            prev_hash: r.prev_hash.0.to_vec(),
            hash: event.hash.0.to_vec(),
            key_id: r.key_id.0.clone(),
            signature: event.signature.to_vec(),
            canonical: event.canonical.clone(),
        }
    }
}

/// The columns a reader that trusts the database needs: the canonical bytes (every
/// hashed field), the event hash, and `recorded_at` (kept as written, for checkpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalRow {
    pub position: u64,
    pub recorded_at: String,
    pub hash: Vec<u8>,
    pub canonical: Vec<u8>,
}

/// A stored checkpoint row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    pub size: u64,
    pub root: Vec<u8>,
    pub head: Vec<u8>,
    pub created_at: String,
    pub key_id: String,
    pub note: String,
}

/// Decides what a batch writes, given the chain head and the current last sequence of
/// each stream the batch touches (streams absent from the map are empty). Runs while the
/// head is locked, so it must be quick and must not fail halfway: it returns the sealed
/// events to insert, possibly none.
pub type BatchPlan<'a> = Box<dyn FnOnce(&Head, &HashMap<StreamId, u64>) -> Batch + Send + 'a>;

/// What one transaction writes: the events, the openings of the values they seal
/// (one packed `sealed_batches` row), and the sealed values an erasure among them
/// destroys. One transaction, so an acknowledged event always has its openings and an
/// erasure event never exists beside the values it erased.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<SealedEvent>,
    pub openings: Vec<StoredOpening>,
    pub erases: Vec<SealedRef>,
}

/// The format's name for one sealed value (its event's position and its commitment).
pub use icac_format::sealed::SealedRef;

/// An opening with the event that holds its commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOpening {
    pub position: u64,
    pub stream: StreamId,
    pub opening: Opening,
}

#[derive(Clone)]
pub enum Storage {
    Postgres(postgres::PgStorage),
    Sqlite(sqlite::SqliteStorage),
}

/// Removes every secret from a database URL before it appears in a message or a log:
/// the password of `user:password@`, and the value of any query parameter whose name
/// (percent-decoded, any case) speaks of a password, secret or token.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(query) = query {
        out.push('?');
        let params: Vec<String> = query.split('&').map(redact_param).collect();
        out.push_str(&params.join("&"));
    }
    out
}

/// `scheme://user:password@host...` to `scheme://user:***@host...`; without a scheme,
/// everything before the `@` counts as credentials.
fn redact_userinfo(base: &str) -> String {
    let Some(at) = base.rfind('@') else {
        return base.to_owned();
    };
    let start = base.find("://").map_or(0, |i| i + 3);
    if at < start {
        return base.to_owned();
    }
    let creds = &base[start..at];
    match creds.find(':') {
        Some(colon) => format!("{}:***{}", &base[..start + colon], &base[at..]),
        None if start == 0 => format!("***{}", &base[at..]),
        None => base.to_owned(),
    }
}

fn redact_param(param: &str) -> String {
    let (name, _) = param.split_once('=').unwrap_or((param, ""));
    let decoded = percent_decode(name).to_ascii_lowercase();
    let secret = ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| decoded.contains(word));
    if secret && param.contains('=') {
        format!("{name}=***")
    } else {
        param.to_owned()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Storage {
    /// Opens a database by URL without touching its schema.
    pub async fn connect(url: &str) -> Result<Self, StorageError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Storage::Postgres(postgres::PgStorage::connect(url).await?))
        } else if url.starts_with("sqlite:") {
            Ok(Storage::Sqlite(sqlite::SqliteStorage::connect(url).await?))
        } else {
            Err(StorageError::BadUrl(redact_url(url)))
        }
    }

    pub fn dialect(&self) -> &'static str {
        self.sql_dialect().name
    }

    /// Applies pending migrations; refuses a schema newer than this binary.
    pub async fn migrate(&self) -> Result<i64, StorageError> {
        match self {
            Storage::Postgres(s) => migrate::postgres(s.pool()).await,
            Storage::Sqlite(s) => migrate::sqlite(s.pool()).await,
        }
    }

    /// Fails unless the schema is present and not newer than this binary.
    pub async fn check_schema(&self) -> Result<i64, StorageError> {
        let version = match self {
            Storage::Postgres(s) => migrate::postgres_version(s.pool()).await?,
            Storage::Sqlite(s) => migrate::sqlite_version(s.pool()).await?,
        };
        match version {
            None | Some(0) => Err(StorageError::NotInitialised),
            Some(v) if v > LATEST_SCHEMA_VERSION => Err(StorageError::SchemaTooNew {
                found: v,
                supported: LATEST_SCHEMA_VERSION,
            }),
            Some(v) if v < LATEST_SCHEMA_VERSION => Err(StorageError::SchemaTooOld {
                found: v,
                supported: LATEST_SCHEMA_VERSION,
            }),
            Some(v) => Ok(v),
        }
    }

    /// Writes one batch atomically while holding the chain head: lock, read the head and
    /// stream versions, let `plan` seal events against them, insert, commit.
    /// Returns the events written (what `plan` returned), now committed.
    pub async fn write_batch(
        &self,
        ledger: &LedgerId,
        streams: &[StreamId],
        plan: BatchPlan<'_>,
    ) -> Result<Batch, StorageError> {
        match self {
            Storage::Postgres(s) => s.write_batch(ledger, streams, plan).await,
            Storage::Sqlite(s) => s.write_batch(ledger, streams, plan).await,
        }
    }

    /// Inserts an already sealed batch with no reads first, in one transaction. The
    /// database refuses it (`is_chain_conflict`) unless every row extends the chain and
    /// its stream exactly as committed: the fast path for a writer that remembers the
    /// head and stream versions from its own last commit.
    pub async fn insert_batch(&self, ledger: &LedgerId, batch: &Batch) -> Result<(), StorageError> {
        match self {
            Storage::Postgres(s) => s.insert_batch(ledger, batch).await,
            Storage::Sqlite(s) => s.insert_batch(ledger, batch).await,
        }
    }

    /// Commits a write that changes nothing anyone reads, to learn whether the database
    /// accepts writes at all (readiness after a failed batch).
    pub async fn probe_write(&self) -> Result<(), StorageError> {
        match self {
            Storage::Postgres(s) => s.probe_write().await,
            Storage::Sqlite(s) => s.probe_write().await,
        }
    }

    pub async fn head(&self, ledger: &LedgerId) -> Result<Head, StorageError> {
        match self {
            Storage::Postgres(s) => s.head(ledger).await,
            Storage::Sqlite(s) => s.head(ledger).await,
        }
    }

    /// Rows of one stream in sequence order.
    pub async fn read_stream(
        &self,
        ledger: &LedgerId,
        stream: &StreamId,
    ) -> Result<Vec<StoredRow>, StorageError> {
        self.read_stream_after(ledger, stream, 0).await
    }

    /// Rows of one stream with `sequence > after`, in sequence order.
    pub async fn read_stream_after(
        &self,
        ledger: &LedgerId,
        stream: &StreamId,
        after: u64,
    ) -> Result<Vec<StoredRow>, StorageError> {
        match self {
            Storage::Postgres(s) => s.read_stream(ledger, stream, after).await,
            Storage::Sqlite(s) => s.read_stream(ledger, stream, after).await,
        }
    }

    /// Up to `limit` rows with `position >= from`, in position order.
    pub async fn read_page(
        &self,
        ledger: &LedgerId,
        from: u64,
        limit: u32,
    ) -> Result<Vec<StoredRow>, StorageError> {
        match self {
            Storage::Postgres(s) => s.read_page(ledger, from, limit).await,
            Storage::Sqlite(s) => s.read_page(ledger, from, limit).await,
        }
    }

    /// [`Storage::read_page`] with only the columns of a [`CanonicalRow`]: what the
    /// projections read, a third of the allocations per row.
    pub async fn read_canonical_page(
        &self,
        ledger: &LedgerId,
        from: u64,
        limit: u32,
    ) -> Result<Vec<CanonicalRow>, StorageError> {
        match self {
            Storage::Postgres(s) => s.read_canonical_page(ledger, from, limit).await,
            Storage::Sqlite(s) => s.read_canonical_page(ledger, from, limit).await,
        }
    }

    /// The ids of the streams of `aggregate_type` holding an event of `event_type`, in
    /// no particular order (ids only: a start-up check over every case stays small).
    pub async fn streams_with_event(
        &self,
        ledger: &LedgerId,
        aggregate_type: &str,
        event_type: &str,
    ) -> Result<Vec<String>, StorageError> {
        match self {
            Storage::Postgres(s) => {
                s.streams_with_event(ledger, aggregate_type, event_type)
                    .await
            }
            Storage::Sqlite(s) => {
                s.streams_with_event(ledger, aggregate_type, event_type)
                    .await
            }
        }
    }

    /// Rows of one aggregate type in position order (for the ledger's own key events).
    pub async fn read_type(
        &self,
        ledger: &LedgerId,
        aggregate_type: &str,
    ) -> Result<Vec<StoredRow>, StorageError> {
        match self {
            Storage::Postgres(s) => s.read_type(ledger, aggregate_type).await,
            Storage::Sqlite(s) => s.read_type(ledger, aggregate_type).await,
        }
    }

    pub async fn insert_checkpoint(
        &self,
        ledger: &LedgerId,
        row: &CheckpointRow,
    ) -> Result<(), StorageError> {
        match self {
            Storage::Postgres(s) => s.insert_checkpoint(ledger, row).await,
            Storage::Sqlite(s) => s.insert_checkpoint(ledger, row).await,
        }
    }

    pub async fn latest_checkpoint(
        &self,
        ledger: &LedgerId,
    ) -> Result<Option<CheckpointRow>, StorageError> {
        match self {
            Storage::Postgres(s) => s.latest_checkpoint(ledger).await,
            Storage::Sqlite(s) => s.latest_checkpoint(ledger).await,
        }
    }

    pub async fn close(&self) {
        match self {
            Storage::Postgres(s) => s.pool().close().await,
            Storage::Sqlite(s) => s.pool().close().await,
        }
    }
}

/// Column decoding shared by both dialects.
pub(crate) mod decode {
    use sqlx::{ColumnIndex, Decode, Row, Type};

    use super::{to_u64, CanonicalRow, CheckpointRow, Head, StorageError, StoredRow};
    use icac_format::chain::Hash32;

    pub fn event<R>(row: &R) -> Result<StoredRow, StorageError>
    where
        R: Row,
        for<'r> &'r str: ColumnIndex<R>,
        for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let position: i64 = row.try_get("position")?;
        let position = to_u64(0, position, "position")?;
        let sequence: i64 = row.try_get("sequence")?;
        Ok(StoredRow {
            position,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            sequence: to_u64(position, sequence, "sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            recorded_at: row.try_get("recorded_at")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
            key_id: row.try_get("key_id")?,
            signature: row.try_get("signature")?,
            canonical: row.try_get("canonical")?,
        })
    }

    pub fn canonical<R>(row: &R) -> Result<CanonicalRow, StorageError>
    where
        R: Row,
        for<'r> &'r str: ColumnIndex<R>,
        for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let position: i64 = row.try_get("position")?;
        Ok(CanonicalRow {
            position: to_u64(0, position, "position")?,
            recorded_at: row.try_get("recorded_at")?,
            hash: row.try_get("hash")?,
            canonical: row.try_get("canonical")?,
        })
    }

    pub fn head<R>(row: Option<R>) -> Result<Head, StorageError>
    where
        R: Row,
        for<'r> &'r str: ColumnIndex<R>,
        for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let Some(row) = row else {
            return Ok(Head::EMPTY);
        };
        let position: i64 = row.try_get("position")?;
        let position = to_u64(0, position, "position")?;
        let hash: Vec<u8> = row.try_get("hash")?;
        Ok(Head {
            position,
            hash: Hash32::from_slice(&hash).map_err(|e| StorageError::Malformed {
                position,
                reason: e.to_string(),
            })?,
            recorded_at: Some(row.try_get("recorded_at")?),
        })
    }

    pub fn checkpoint<R>(row: &R) -> Result<CheckpointRow, StorageError>
    where
        R: Row,
        for<'r> &'r str: ColumnIndex<R>,
        for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
        for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let size: i64 = row.try_get("size")?;
        Ok(CheckpointRow {
            size: to_u64(0, size, "size")?,
            root: row.try_get("root")?,
            head: row.try_get("head")?,
            created_at: row.try_get("created_at")?,
            key_id: row.try_get("key_id")?,
            note: row.try_get("note")?,
        })
    }
}

fn to_u64(position_hint: u64, value: i64, field: &str) -> Result<u64, StorageError> {
    u64::try_from(value).map_err(|_| StorageError::Malformed {
        position: position_hint,
        reason: format!("{field} is negative ({value})"),
    })
}

pub(crate) fn to_i64(value: u64) -> i64 {
    // Positions and sequences are bounded far below i64::MAX by MAX_SAFE_INTEGER checks
    // in the sequencer; saturate rather than wrap if that invariant is ever broken.
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact_url("sqlite://a.db"), "sqlite://a.db");
        assert_eq!(
            redact_url("postgres://db/x?user=app&password=s3cret&sslmode=require"),
            "postgres://db/x?user=app&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://db/x?PassWord=s3cret&pass%77ord=s3cret&sslpassword=s3cret"),
            "postgres://db/x?PassWord=***&pass%77ord=***&sslpassword=***"
        );
        assert_eq!(
            redact_url("postgres://app:s%33cr%40t@db/x?options=-c%20a%3Db"),
            "postgres://app:***@db/x?options=-c%20a%3Db"
        );
        assert_eq!(redact_url("app:s3cret@db/x"), "app:***@db/x");
        assert_eq!(redact_url("s3cret@db/x"), "***@db/x");
        assert_eq!(
            redact_url("mysql://app:s3cret@db/x"),
            "mysql://app:***@db/x"
        );
    }
}
