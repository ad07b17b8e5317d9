//! A rebuilt schema is the migrated one (issue 20): a projection rebuild carries no
//! DDL of its own, so after it every table, column, constraint, index, trigger and
//! privilege is exactly what the migrations made, on PostgreSQL and on SQLite.

use crate::support::common::{ledger_id, open_ledger, Kind, TestDb, KINDS};
use icac_format::keys::LedgerKey;
use icac_ledger::commands::{demo, Commands};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::read_side::rebuild::rebuild;
use sqlx::Connection;

/// Everything PostgreSQL knows about the schema's own objects, one line each.
const PG_SCHEMA: [&str; 5] = [
    "SELECT concat_ws('|', table_name, ordinal_position, column_name, data_type, \
     is_nullable, column_default, collation_name) FROM information_schema.columns \
     WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
    "SELECT concat_ws('|', c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text, \
     c.reloptions::text, c.relpersistence) FROM pg_class c \
     WHERE c.relnamespace = current_schema()::regnamespace ORDER BY c.relname",
    "SELECT concat_ws('|', conrelid::regclass::text, conname, contype, \
     pg_get_constraintdef(oid)) FROM pg_constraint \
     WHERE connamespace = current_schema()::regnamespace ORDER BY 1",
    "SELECT concat_ws('|', tablename, indexname, indexdef) FROM pg_indexes \
     WHERE schemaname = current_schema() ORDER BY tablename, indexname",
    "SELECT concat_ws('|', t.tgrelid::regclass::text, t.tgname, t.tgenabled, \
     pg_get_triggerdef(t.oid)) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
     WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace ORDER BY 1",
];

/// SQLite's whole schema is its text in `sqlite_master`.
const SQLITE_SCHEMA: &str = "SELECT type || '|' || name || '|' || tbl_name || '|' || \
     ifnull(sql, '') FROM sqlite_master ORDER BY type, name";

async fn dump(db: &TestDb) -> Vec<String> {
    let mut out = Vec::new();
    match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            for sql in PG_SCHEMA {
                let rows: Vec<String> = sqlx::query_scalar(sql)
                    .fetch_all(&mut c)
                    .await
                    .expect("dump");
                out.extend(rows);
                out.push("--".into());
            }
        }
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            out = sqlx::query_scalar(SQLITE_SCHEMA)
                .fetch_all(&mut c)
                .await
                .expect("dump");
        }
    }
    out
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            sqlx::query_scalar(sql)
                .fetch_one(&mut c)
                .await
                .expect("count")
        }
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url)
                .await
                .expect("connect");
            sqlx::query_scalar(sql)
                .fetch_one(&mut c)
                .await
                .expect("count")
        }
    }
}

/// Counts of the view tables and `view_counts`, to see that the rebuild wrote views
/// and the counters agree with them.
const TOTALS: &str = "SELECT CAST((SELECT COUNT(*) FROM case_views) * 1000000 + \
     (SELECT COALESCE(SUM(n), 0) FROM view_counts WHERE substr(counter, 1, 6) = 'cases:') \
     AS BIGINT)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_schema_equals_the_migrated_one() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let storage = ledger.storage().clone();
        let commands = Commands::open(ledger.clone()).await.expect("commands");
        let summary = demo::run(&commands, 8, 5, |_, _| {}).await.expect("demo");
        assert_eq!(summary.rejected, 0, "{kind:?}");
        if kind == Kind::Postgres {
            // What docs/OPERATIONS.md has the owner grant the service role; a rebuild
            // that dropped a view table must not drop its grants with it.
            db.exec(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO PUBLIC",
            )
            .await
            .expect("grant");
        }
        let migrated = dump(&db).await;
        assert!(
            migrated.iter().any(|l| l.contains("case_views_by_unit")),
            "{kind:?}: the dump sees the view indexes: {migrated:?}"
        );
        for round in 0..2 {
            let rebuilt = rebuild(&storage, &ledger_id(), |_| {})
                .await
                .expect("rebuild");
            assert!(rebuilt.views > 0, "{kind:?}");
            let after = dump(&db).await;
            let lost: Vec<&String> = migrated.iter().filter(|l| !after.contains(l)).collect();
            let gained: Vec<&String> = after.iter().filter(|l| !migrated.contains(l)).collect();
            assert!(
                lost.is_empty() && gained.is_empty(),
                "{kind:?}, rebuild {round}: lost {lost:#?}, gained {gained:#?}"
            );
            assert_eq!(
                migrated, after,
                "{kind:?}: schema order after rebuild {round}"
            );
            let totals = count(&db, TOTALS).await;
            assert!(totals > 0, "{kind:?}");
            assert_eq!(
                totals / 1_000_000,
                totals % 1_000_000,
                "{kind:?}: cases counted"
            );
        }
    }
}
