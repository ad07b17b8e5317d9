//! Schema migrations, one numbered SQL file per step and dialect, applied in order inside
//! a transaction that also serialises concurrent `init`s.

use sqlx::{PgPool, Row, SqlitePool};

use super::{sealed_pack, StorageError, StoredOpening};
use icac_format::chain::Hash32;
use icac_format::record::StreamId;
use icac_format::sealed::Opening;

const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_ledger.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_projections.sql"),
    ),
    (3, include_str!("../../migrations/postgres/0003_access.sql")),
    (
        4,
        include_str!("../../migrations/postgres/0004_stream_contiguity.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_view_columns.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_sealed_values.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_staff_sessions.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_sealed_batches.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_web_forms.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_accounts.sql"),
    ),
    (
        11,
        include_str!("../../migrations/postgres/0011_access_log_retention.sql"),
    ),
];
const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_ledger.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_projections.sql"),
    ),
    (3, include_str!("../../migrations/sqlite/0003_access.sql")),
    (
        4,
        include_str!("../../migrations/sqlite/0004_stream_contiguity.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_view_columns.sql"),
    ),
    (
        6,
        include_str!("../../migrations/sqlite/0006_sealed_values.sql"),
    ),
    (
        7,
        include_str!("../../migrations/sqlite/0007_staff_sessions.sql"),
    ),
    (
        8,
        include_str!("../../migrations/sqlite/0008_sealed_batches.sql"),
    ),
    (
        9,
        include_str!("../../migrations/sqlite/0009_web_forms.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_accounts.sql"),
    ),
    (
        11,
        include_str!("../../migrations/sqlite/0011_access_log_retention.sql"),
    ),
];

pub const LATEST_SCHEMA_VERSION: i64 = 11;

/// Schema 8 moves schema 6's rows (one per value) into packed rows (one per event)
/// after creating the new table, then drops the old one: SQL alone cannot pack.
const REPACK_VERSION: i64 = 8;
const LEGACY_ROWS: &str = "SELECT ledger_id, position, aggregate_type, aggregate_id, path,
        commitment, salt, value FROM sealed_values ORDER BY ledger_id, position, path";
const INSERT_PACKED: &str = "INSERT INTO sealed_batches (ledger_id, first_position,
        last_position, openings) VALUES ($1, $2, $2, $3)";
const DROP_LEGACY: &str = "DROP TABLE sealed_values";

/// Schema 6's rows, grouped into one packed row per (ledger, position).
fn repack<R>(rows: &[R]) -> Result<Vec<(String, i64, Vec<u8>)>, StorageError>
where
    R: Row,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
{
    let mut groups: Vec<(String, i64, Vec<StoredOpening>)> = Vec::new();
    for row in rows {
        let ledger: String = row.try_get("ledger_id")?;
        let position: i64 = row.try_get("position")?;
        let malformed = |reason: &str| StorageError::Malformed {
            position: u64::try_from(position).unwrap_or(0),
            reason: format!("schema 6 sealed value: {reason}"),
        };
        let commitment: Vec<u8> = row.try_get("commitment")?;
        let salt: Vec<u8> = row.try_get("salt")?;
        let opening = StoredOpening {
            position: u64::try_from(position).map_err(|_| malformed("negative position"))?,
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
        };
        match groups.last_mut() {
            Some((l, p, list)) if *l == ledger && *p == position => list.push(opening),
            _ => groups.push((ledger, position, vec![opening])),
        }
    }
    groups
        .into_iter()
        .map(|(ledger, position, list)| {
            let packed = sealed_pack::pack(&list).map_err(|e| StorageError::Malformed {
                position: u64::try_from(position).unwrap_or(0),
                reason: format!("schema 6 sealed value: {e}"),
            })?;
            Ok((ledger, position, packed))
        })
        .collect()
}

/// Runs the Rust part of a step, if it has one, inside the migration's transaction.
macro_rules! after_step {
    ($tx:expr, $version:expr) => {
        if $version == REPACK_VERSION {
            let rows = sqlx::query(LEGACY_ROWS).fetch_all(&mut *$tx).await?;
            for (ledger, position, packed) in repack(&rows)? {
                sqlx::query(INSERT_PACKED)
                    .bind(ledger)
                    .bind(position)
                    .bind(packed)
                    .execute(&mut *$tx)
                    .await?;
            }
            sqlx::query(DROP_LEGACY).execute(&mut *$tx).await?;
        }
    };
}

const VERSION_TABLE: &str =
    "CREATE TABLE IF NOT EXISTS ledger_schema_version (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)";

fn now_text() -> String {
    jiff::Timestamp::now().to_string()
}

pub async fn postgres(pool: &PgPool) -> Result<i64, StorageError> {
    let mut tx = pool.begin().await?;
    // Serialises two processes running `init` against one database at the same time.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('icac-ledger:migrate', 0))")
        .execute(&mut *tx)
        .await?;
    sqlx::query(VERSION_TABLE).execute(&mut *tx).await?;
    let current: Option<i64> = sqlx::query("SELECT max(version) FROM ledger_schema_version")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    let current = current.unwrap_or(0);
    if current > LATEST_SCHEMA_VERSION {
        return Err(StorageError::SchemaTooNew {
            found: current,
            supported: LATEST_SCHEMA_VERSION,
        });
    }
    for (version, sql) in POSTGRES.iter().filter(|(v, _)| *v > current) {
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|source| StorageError::Migration {
                version: *version,
                source,
            })?;
        after_step!(tx, *version);
        sqlx::query("INSERT INTO ledger_schema_version (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(now_text())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(LATEST_SCHEMA_VERSION)
}

pub async fn sqlite(pool: &SqlitePool) -> Result<i64, StorageError> {
    // BEGIN IMMEDIATE takes the write lock up front, serialising concurrent `init`s.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(VERSION_TABLE).execute(&mut *tx).await?;
    let current: Option<i64> = sqlx::query("SELECT max(version) FROM ledger_schema_version")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    let current = current.unwrap_or(0);
    if current > LATEST_SCHEMA_VERSION {
        return Err(StorageError::SchemaTooNew {
            found: current,
            supported: LATEST_SCHEMA_VERSION,
        });
    }
    for (version, sql) in SQLITE.iter().filter(|(v, _)| *v > current) {
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|source| StorageError::Migration {
                version: *version,
                source,
            })?;
        after_step!(tx, *version);
        sqlx::query("INSERT INTO ledger_schema_version (version, applied_at) VALUES (?, ?)")
            .bind(version)
            .bind(now_text())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(LATEST_SCHEMA_VERSION)
}

pub async fn postgres_version(pool: &PgPool) -> Result<Option<i64>, StorageError> {
    let exists: bool = sqlx::query("SELECT to_regclass('ledger_schema_version') IS NOT NULL")
        .fetch_one(pool)
        .await?
        .try_get(0)?;
    if !exists {
        return Ok(None);
    }
    Ok(
        sqlx::query("SELECT max(version) FROM ledger_schema_version")
            .fetch_one(pool)
            .await?
            .try_get(0)?,
    )
}

pub async fn sqlite_version(pool: &SqlitePool) -> Result<Option<i64>, StorageError> {
    let exists: i64 = sqlx::query(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'ledger_schema_version'",
    )
    .fetch_one(pool)
    .await?
    .try_get(0)?;
    if exists == 0 {
        return Ok(None);
    }
    Ok(
        sqlx::query("SELECT max(version) FROM ledger_schema_version")
            .fetch_one(pool)
            .await?
            .try_get(0)?,
    )
}
