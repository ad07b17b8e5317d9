//! The witness's own storage: an SQLite file holding, per log origin, the latest
//! checkpoint it cosigned, and every inconsistent checkpoint it was shown (evidence).
//! It shares nothing with a ledger's database.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use icac_format::merkle::Hash32;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS witness_logs (
        origin TEXT PRIMARY KEY,
        size INTEGER NOT NULL CHECK (size >= 0),
        root BLOB NOT NULL CHECK (length(root) = 32),
        note TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS witness_evidence (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        origin TEXT NOT NULL,
        held_note TEXT,
        shown_note TEXT NOT NULL,
        old_size INTEGER NOT NULL,
        reason TEXT NOT NULL,
        received_at TEXT NOT NULL
    )",
    // Evidence is append-only.
    "CREATE TRIGGER IF NOT EXISTS witness_evidence_no_update BEFORE UPDATE ON witness_evidence
        BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS witness_evidence_no_delete BEFORE DELETE ON witness_evidence
        BEGIN SELECT RAISE(ABORT, 'evidence is append-only'); END",
];

/// The latest cosigned checkpoint of one log.
#[derive(Debug, Clone)]
pub struct Latest {
    pub size: u64,
    pub root: Hash32,
    pub note: String,
}

/// One inconsistent checkpoint the witness was shown.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Evidence {
    pub id: i64,
    pub origin: String,
    pub held_note: Option<String>,
    pub shown_note: String,
    pub old_size: u64,
    pub reason: String,
    pub received_at: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("witness state: {0}")]
    Db(#[from] sqlx::Error),
    #[error("witness state holds a bad row: {0}")]
    Corrupt(String),
}

/// The witness state file. One connection: every check-and-update is serialised.
#[derive(Clone)]
pub struct WitnessState {
    pool: SqlitePool,
}

impl WitnessState {
    pub async fn open(path: &Path) -> Result<Self, StateError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A cosignature is answered only after the new state is on disk.
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// Runs `decide` on the latest checkpoint of `origin` and, when it returns a new
    /// state, writes it, all in one immediate transaction: two requests can never both
    /// pass the old-size check against the same state (the rollback race the spec
    /// describes). Returns what `decide` returned.
    pub async fn update<T, E>(
        &self,
        origin: &str,
        decide: impl FnOnce(Option<&Latest>) -> Result<(Latest, T), E>,
    ) -> Result<Result<T, E>, StateError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let result = async {
            let latest = read_latest(&mut conn, origin).await?;
            match decide(latest.as_ref()) {
                Ok((new, out)) => {
                    sqlx::query(
                        "INSERT INTO witness_logs (origin, size, root, note, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (origin) DO UPDATE SET size = ?2, root = ?3, note = ?4, updated_at = ?5",
                    )
                    .bind(origin)
                    .bind(new.size as i64)
                    .bind(new.root.0.to_vec())
                    .bind(&new.note)
                    .bind(icac_format::record::format_recorded_at(jiff::Timestamp::now()))
                    .execute(&mut *conn)
                    .await?;
                    Ok(Ok(out))
                }
                Err(e) => Ok(Err(e)),
            }
        }
        .await;
        let end = if matches!(result, Ok(Ok(_))) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        sqlx::query(end).execute(&mut *conn).await?;
        result
    }

    pub async fn latest(&self, origin: &str) -> Result<Option<Latest>, StateError> {
        let mut conn = self.pool.acquire().await?;
        read_latest(&mut conn, origin).await
    }

    /// The latest checkpoint of the log whose origin hashes to `origin_hash` (hex).
    pub async fn latest_by_hash(&self, origin_hash: &str) -> Result<Option<Latest>, StateError> {
        let rows = sqlx::query("SELECT origin FROM witness_logs")
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let origin: String = row.try_get(0)?;
            if origin_hash_hex(&origin) == origin_hash {
                return self.latest(&origin).await;
            }
        }
        Ok(None)
    }

    pub async fn record_evidence(
        &self,
        origin: &str,
        held: Option<&str>,
        shown: &str,
        old_size: u64,
        reason: &str,
    ) -> Result<(), StateError> {
        sqlx::query(
            "INSERT INTO witness_evidence (origin, held_note, shown_note, old_size, reason, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(origin)
        .bind(held)
        .bind(shown)
        .bind(old_size as i64)
        .bind(reason)
        .bind(icac_format::record::format_recorded_at(jiff::Timestamp::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn evidence(&self) -> Result<Vec<Evidence>, StateError> {
        let rows = sqlx::query(
            "SELECT id, origin, held_note, shown_note, old_size, reason, received_at
             FROM witness_evidence ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(Evidence {
                    id: r.try_get(0)?,
                    origin: r.try_get(1)?,
                    held_note: r.try_get(2)?,
                    shown_note: r.try_get(3)?,
                    old_size: r.try_get::<i64, _>(4)? as u64,
                    reason: r.try_get(5)?,
                    received_at: r.try_get(6)?,
                })
            })
            .collect()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

async fn read_latest(
    conn: &mut sqlx::SqliteConnection,
    origin: &str,
) -> Result<Option<Latest>, StateError> {
    let Some(row) = sqlx::query("SELECT size, root, note FROM witness_logs WHERE origin = ?1")
        .bind(origin)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let size: i64 = row.try_get(0)?;
    let root: Vec<u8> = row.try_get(1)?;
    Ok(Some(Latest {
        size: u64::try_from(size).map_err(|_| StateError::Corrupt(format!("size {size}")))?,
        root: Hash32::from_slice(&root).map_err(|e| StateError::Corrupt(e.to_string()))?,
        note: row.try_get(2)?,
    }))
}

/// The monitoring path's origin hash: lowercase hex SHA-256 of the origin.
pub fn origin_hash_hex(origin: &str) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(origin.as_bytes()))
}
