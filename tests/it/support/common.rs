//! Real databases for tests: a fresh PostgreSQL database per test (from DATABASE_URL,
//! default the local server) and a fresh SQLite file in a temp dir.

use icac_format::keys::LedgerKey;
use icac_format::record::LedgerId;
use icac_ledger::ledger::Ledger;
use icac_ledger::storage::Storage;
use sqlx::Connection;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG.to_string())
}

/// A database that lives as long as this value.
pub struct TestDb {
    pub url: String,
    pub kind: Kind,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Sqlite,
}

pub const KINDS: [Kind; 2] = [Kind::Sqlite, Kind::Postgres];

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let prefix = match base.rfind('/') {
        Some(i) if i > base.find("://").map_or(0, |j| j + 2) => &base[..i],
        _ => base,
    };
    format!("{prefix}/{name}{query}")
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("ledger.db").display());
                TestDb {
                    url,
                    kind,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Kind::Postgres => {
                let admin = admin_url();
                let name = format!("icac_test_{}_{}", std::process::id(), rand_suffix());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL at {admin} is needed for tests (set DATABASE_URL): {e}")
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let url = replace_db_name(&admin, &name);
                TestDb {
                    url,
                    kind,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }

    pub async fn storage(&self) -> Storage {
        let storage = Storage::connect(&self.url).await.expect("connect");
        storage.migrate().await.expect("migrate");
        storage
    }

    /// Runs raw SQL as a database owner would (bypassing the application).
    pub async fn exec(&self, sql: &str) -> Result<u64, sqlx::Error> {
        match self.kind {
            Kind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await?;
                Ok(sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected())
            }
            Kind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await?;
                Ok(sqlx::raw_sql(sql).execute(&mut c).await?.rows_affected())
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = admin_url();
            // Best effort; a leftover database only costs disk.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async {
                        if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            ))
                            .execute(&mut c)
                            .await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

pub fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}{}", nanos, N.fetch_add(1, Ordering::Relaxed))
}

pub fn ledger_id() -> LedgerId {
    LedgerId::new("ct-icac-test").expect("ledger id")
}

/// A migrated, initialised ledger open for writing.
pub async fn open_ledger(db: &TestDb, key: &LedgerKey) -> Ledger {
    let storage = db.storage().await;
    Ledger::initialise(&storage, &ledger_id(), key)
        .await
        .expect("init");
    Ledger::open(
        storage,
        ledger_id(),
        LedgerKey::from_signing_key(key.signing_key().clone()),
    )
    .await
    .expect("open")
}

/// A payload with each sealed value replaced by the value the sealed store holds for it
/// (`"[erased]"` or `"[unavailable]"` when it holds none), so that two ledgers written
/// with different random salts compare equal on what they recorded.
pub async fn opened(
    storage: &Storage,
    record: &icac_format::record::EventRecord,
) -> serde_json::Value {
    let mut doc = record.payload.clone();
    let ids = [record.aggregate_id.clone()];
    icac_ledger::read_side::reveal::reveal(
        storage,
        &record.ledger_id,
        (&record.aggregate_type, &ids),
        &mut doc,
    )
    .await
    .expect("reveal");
    strip_commitments(&mut doc);
    doc
}

fn strip_commitments(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(map) if map.contains_key("sealed") => {
            *v = match map.remove("value") {
                Some(inner) => inner,
                None if map.contains_key("erased") => Value::String("[erased]".into()),
                None => Value::String("[unavailable]".into()),
            };
        }
        Value::Object(map) => map.values_mut().for_each(strip_commitments),
        Value::Array(items) => items.iter_mut().for_each(strip_commitments),
        _ => {}
    }
}
