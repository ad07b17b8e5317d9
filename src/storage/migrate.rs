//! Schema migrations, one numbered SQL file per step and dialect, applied in order inside
//! a transaction that also serialises concurrent `init`s.

use sqlx::{PgPool, Row, SqlitePool};

use super::StorageError;

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
    (8, include_str!("../../migrations/postgres/0008_web_forms.sql")),
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
    (8, include_str!("../../migrations/sqlite/0008_web_forms.sql")),
];

pub const LATEST_SCHEMA_VERSION: i64 = 8;

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
