//! PostgreSQL's side of the dialect layer: its [`DIALECT`] and the view tables'
//! statements that differ from SQLite's (`UNNEST` upserts, `ANY` lookups, `COPY`
//! rebuilds into shadow tables derived from the live ones).

use sqlx::{PgPool, Postgres, Row, Transaction};

use super::{record_positions, recount, upsert_suffix, Dialect};
use crate::read_side::store::{index_columns, missing_columns, IndexColumns, ViewRow, TABLES};
use crate::read_side::ProjectionError;
use icac_format::record::LedgerId;

/// Statements keep their `$n` placeholders; `payload` is `json`; text compares by the
/// database's collation unless told `COLLATE "C"`.
pub(crate) static DIALECT: Dialect = Dialect {
    name: "postgres",
    json_text: "payload::text",
    bytewise: " COLLATE \"C\"",
    placeholders: str::to_owned,
};

/// Upserts `rows` (one multi-row statement per table that has any) and records
/// `position`, in one transaction.
pub(super) async fn write_views(
    pool: &PgPool,
    ledger_id: &LedgerId,
    rows: &[ViewRow],
    position: i64,
    updated_at: &str,
) -> Result<(), ProjectionError> {
    let mut tx = pool.begin().await?;
    for table in TABLES {
        let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
        if mine.is_empty() {
            continue;
        }
        upsert(&mut tx, table, ledger_id, &mine).await?;
    }
    record_positions(&mut tx, ledger_id, position, updated_at).await?;
    tx.commit().await?;
    Ok(())
}

/// One multi-row upsert into `table`. Arrays keep the statement text constant per
/// table, so it is prepared once.
async fn upsert(
    tx: &mut Transaction<'_, Postgres>,
    table: &'static str,
    ledger_id: &LedgerId,
    rows: &[&ViewRow],
) -> Result<(), ProjectionError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.view_id.as_str()).collect();
    let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
    let payloads: Vec<&str> = rows.iter().map(|r| r.payload.as_str()).collect();
    let extra = index_columns(table);
    let types: &[&str] = match table {
        "case_views" => &["text[]", "int8[]", "int8[]", "int2[]"],
        "public_report_views" => &["int2[]", "int8[]", "int4[]"],
        _ => &[],
    };
    let mut columns = String::from("ledger_id, view_id, version, payload");
    let mut arrays = String::from("$2::text[], $3::int8[], $4::text[]::json[]");
    for (i, (c, t)) in extra.iter().zip(types).enumerate() {
        columns.push_str(&format!(", {c}"));
        arrays.push_str(&format!(", ${}::{t}", i + 5));
    }
    let sql = format!(
        "INSERT INTO {table} ({columns}) SELECT $1, * FROM UNNEST({arrays}){}",
        upsert_suffix(table)
    );
    let q = sqlx::query(&sql)
        .bind(ledger_id.as_str())
        .bind(&ids)
        .bind(&versions)
        .bind(&payloads);
    let q = match table {
        "case_views" => {
            let (mut units, mut received, mut filed, mut complaint) = (
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
            );
            for r in rows {
                let IndexColumns::Case {
                    reporting_unit,
                    received_day,
                    filed_day,
                    opened_by_complaint,
                } = &r.index
                else {
                    return Err(missing_columns(r));
                };
                units.push(reporting_unit.as_str());
                received.push(*received_day);
                filed.push(*filed_day);
                complaint.push(i16::from(*opened_by_complaint));
            }
            q.bind(units).bind(received).bind(filed).bind(complaint)
        }
        "public_report_views" => {
            let (mut open, mut secs, mut nanos) = (
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
                Vec::with_capacity(rows.len()),
            );
            for r in rows {
                let IndexColumns::PublicReport {
                    open: o,
                    received_at_s,
                    received_at_ns,
                } = &r.index
                else {
                    return Err(missing_columns(r));
                };
                open.push(i16::from(*o));
                secs.push(*received_at_s);
                nanos.push(*received_at_ns);
            }
            q.bind(open).bind(secs).bind(nanos)
        }
        _ => q,
    };
    q.execute(&mut **tx).await?;
    Ok(())
}

/// `(view_id, payload)` of the rows of `table` whose ids are among `ids`.
pub(super) async fn fetch_views(
    pool: &PgPool,
    ledger_id: &LedgerId,
    table: &'static str,
    ids: &[&str],
) -> Result<Vec<(String, String)>, ProjectionError> {
    let sql = format!(
        "SELECT view_id, {} FROM {table} WHERE ledger_id = $1 AND view_id = ANY($2)",
        DIALECT.json_text
    );
    let rows = sqlx::query(&sql)
        .bind(ledger_id.as_str())
        .bind(ids)
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push((r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?));
    }
    Ok(out)
}

/// What a view table has besides its columns, CHECK constraints and defaults (which
/// `CREATE TABLE .. (LIKE ..)` copies), read from the catalog: a rebuild gives the
/// table it swaps in exactly what the migrations gave the live one, without a copy of
/// their DDL here.
struct TableDefs {
    /// `(name, definition)` of the primary key, unique, exclusion and foreign key
    /// constraints, which LIKE leaves out with the indexes.
    constraints: Vec<(String, String)>,
    /// `CREATE INDEX` statements of the indexes no constraint owns.
    indexes: Vec<String>,
    /// `CREATE TRIGGER` statements of the table's own triggers.
    triggers: Vec<String>,
    /// `GRANT` statements reproducing the table's privileges (a dropped table takes
    /// its grants with it: the service role's, docs/OPERATIONS.md).
    grants: Vec<String>,
}

const CONSTRAINTS: &str = "SELECT conname::text, pg_get_constraintdef(oid) FROM pg_constraint \
     WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'x', 'f') ORDER BY oid";
const INDEXES: &str = "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i \
     WHERE i.indrelid = $1::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
     WHERE c.conrelid = i.indrelid AND c.conindid = i.indexrelid) ORDER BY i.indexrelid";
const TRIGGERS: &str = "SELECT pg_get_triggerdef(oid) FROM pg_trigger \
     WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY oid";
const GRANTS: &str = "SELECT 'GRANT ' || a.privilege_type || ' ON ' || $1 || ' TO ' || \
     CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END || \
     CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END \
     FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a \
     LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = $1::regclass";

async fn table_defs(pool: &PgPool, table: &str) -> Result<TableDefs, sqlx::Error> {
    let texts = |sql: &'static str| async move {
        sqlx::query_scalar::<_, String>(sql)
            .bind(table)
            .fetch_all(pool)
            .await
    };
    let constraints = sqlx::query_as::<_, (String, String)>(CONSTRAINTS)
        .bind(table)
        .fetch_all(pool)
        .await?;
    Ok(TableDefs {
        constraints,
        indexes: texts(INDEXES).await?,
        triggers: texts(TRIGGERS).await?,
        grants: texts(GRANTS).await?,
    })
}

/// The name a constraint has on the shadow table while the live one holds its own
/// (index-backed constraints share the index's schema-wide name).
fn shadow_name(constraint: &str) -> String {
    format!("{constraint}_next")
}

/// Creates `<table>_next` like `table`: columns, CHECK constraints and defaults by
/// LIKE, then the key constraints, so rows copy across with `SELECT *`. No index but
/// the keys' and no trigger yet: the fill is faster without, [`swap_in`] adds them.
async fn create_shadow(pool: &PgPool, table: &str, defs: &TableDefs) -> Result<(), sqlx::Error> {
    let next = format!("{table}_next");
    sqlx::query(&format!("DROP TABLE IF EXISTS {next}"))
        .execute(pool)
        .await?;
    sqlx::query(&format!(
        "CREATE TABLE {next} (LIKE {table} INCLUDING ALL EXCLUDING INDEXES)"
    ))
    .execute(pool)
    .await?;
    for (name, definition) in &defs.constraints {
        sqlx::query(&format!(
            "ALTER TABLE {next} ADD CONSTRAINT {} {definition}",
            shadow_name(name)
        ))
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Rebuilds one ledger's views: fills shadow tables derived from the live ones with
/// COPY, outside any transaction readers wait on, then swaps them in with the other
/// ledgers' rows in one transaction. Why not rewrite the live tables in place: the
/// counting triggers would update the same few `view_counts` rows once per view in one
/// transaction, each update a new row version the next must walk past.
pub(super) async fn replace_views(
    pool: &PgPool,
    ledger_id: &LedgerId,
    rows: &[ViewRow],
    position: i64,
    updated_at: &str,
    progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let mut defs = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let d = table_defs(pool, table).await?;
        create_shadow(pool, table, &d).await?;
        defs.push(d);
    }
    fill(pool, ledger_id, rows, progress).await?;
    let started = std::time::Instant::now();
    let mut tx = pool.begin().await?;
    for (table, d) in TABLES.iter().zip(&defs) {
        swap_in(&mut tx, table, ledger_id, d).await?;
    }
    // The fresh tables were filled without the counting triggers: count this
    // ledger's rows again (other ledgers' rows and counts are unchanged).
    recount(&mut tx, ledger_id).await?;
    record_positions(&mut tx, ledger_id, position, updated_at).await?;
    tx.commit().await?;
    tracing::debug!(
        swap_ms = started.elapsed().as_millis(),
        "view tables swapped in"
    );
    Ok(())
}

/// Bytes of COPY data sent per message.
const COPY_BUFFER: usize = 1 << 20;

/// COPYs `rows` into the `<table>_next` tables on one connection.
async fn fill(
    pool: &PgPool,
    ledger_id: &LedgerId,
    rows: &[ViewRow],
    mut progress: impl FnMut(usize),
) -> Result<(), ProjectionError> {
    let mut written = 0usize;
    let mut conn = pool.acquire().await?;
    for table in TABLES {
        let mine: Vec<&ViewRow> = rows.iter().filter(|r| r.table == table).collect();
        if mine.is_empty() {
            continue;
        }
        let mut columns = String::from("ledger_id, view_id, version, payload");
        for c in index_columns(table) {
            columns.push_str(&format!(", {c}"));
        }
        let mut copy = conn
            .copy_in_raw(&format!("COPY {table}_next ({columns}) FROM STDIN"))
            .await?;
        let mut buf = Vec::with_capacity(COPY_BUFFER + 64 * 1024);
        for r in mine {
            copy_text_row(&mut buf, ledger_id.as_str(), r);
            written += 1;
            if buf.len() >= COPY_BUFFER {
                copy.send(std::mem::take(&mut buf)).await?;
                progress(written);
            }
        }
        if !buf.is_empty() {
            copy.send(buf).await?;
        }
        copy.finish().await?;
        progress(written);
    }
    Ok(())
}

/// Inside the swap transaction: copies the other ledgers' rows of `table` into its
/// shadow, drops it, renames the shadow and its constraints to the live names, and
/// recreates the indexes, triggers and grants `defs` read from the live table.
async fn swap_in(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    ledger_id: &LedgerId,
    defs: &TableDefs,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO {table}_next SELECT * FROM {table} WHERE ledger_id <> $1"
    ))
    .bind(ledger_id.as_str())
    .execute(&mut **tx)
    .await?;
    sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&mut **tx)
        .await?;
    sqlx::query(&format!("ALTER TABLE {table}_next RENAME TO {table}"))
        .execute(&mut **tx)
        .await?;
    for (name, _) in &defs.constraints {
        sqlx::query(&format!(
            "ALTER TABLE {table} RENAME CONSTRAINT {} TO {name}",
            shadow_name(name)
        ))
        .execute(&mut **tx)
        .await?;
    }
    // Built here rather than on the shadow: the live table's indexes hold the names
    // until it is dropped, and one build over the rows beats maintaining them per row.
    for sql in defs
        .indexes
        .iter()
        .chain(&defs.triggers)
        .chain(&defs.grants)
    {
        sqlx::raw_sql(sql).execute(&mut **tx).await?;
    }
    Ok(())
}

/// One row in COPY's text format: tab-separated, with backslash, tab, newline and
/// carriage return escaped.
fn copy_text_row(buf: &mut Vec<u8>, ledger_id: &str, r: &ViewRow) {
    fn field(buf: &mut Vec<u8>, text: &str) {
        for &b in text.as_bytes() {
            match b {
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                _ => buf.push(b),
            }
        }
    }
    field(buf, ledger_id);
    buf.push(b'\t');
    field(buf, &r.view_id);
    buf.push(b'\t');
    buf.extend_from_slice(r.version.to_string().as_bytes());
    buf.push(b'\t');
    field(buf, &r.payload);
    let number = |buf: &mut Vec<u8>, n: Option<i64>| {
        buf.push(b'\t');
        match n {
            Some(n) => buf.extend_from_slice(n.to_string().as_bytes()),
            None => buf.extend_from_slice(b"\\N"),
        }
    };
    match &r.index {
        IndexColumns::None => {}
        IndexColumns::Case {
            reporting_unit,
            received_day,
            filed_day,
            opened_by_complaint,
        } => {
            buf.push(b'\t');
            field(buf, reporting_unit);
            number(buf, Some(*received_day));
            number(buf, *filed_day);
            number(buf, Some(i64::from(*opened_by_complaint)));
        }
        IndexColumns::PublicReport {
            open,
            received_at_s,
            received_at_ns,
        } => {
            number(buf, Some(i64::from(*open)));
            number(buf, Some(*received_at_s));
            number(buf, Some(i64::from(*received_at_ns)));
        }
    }
    buf.push(b'\n');
}

/// How long (in 100 ms rounds) an erasure waits for older transactions before it
/// compacts the table; one that outlives this is left to the operator (OPERATIONS.md).
const PURGE_WAIT_ROUNDS: usize = 100;

/// PostgreSQL leaves a deleted tuple's bytes in its page until the table is rewritten:
/// `VACUUM FULL` writes a new file and drops the old one.
pub(super) async fn purge_erased(pool: &PgPool) -> Result<(), sqlx::Error> {
    // A transaction that began before the erasure may still see the deleted row, and
    // VACUUM FULL copies what some snapshot can see: wait (boundedly) for those
    // transactions to end first.
    let since: String = sqlx::query_scalar("SELECT clock_timestamp()::text")
        .fetch_one(pool)
        .await?;
    for _ in 0..PURGE_WAIT_ROUNDS {
        let older: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND backend_xmin IS NOT NULL AND xact_start < $1::timestamptz",
        )
        .bind(&since)
        .fetch_one(pool)
        .await?;
        if older == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    sqlx::query("VACUUM FULL sealed_batches")
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_rows_escape_what_copy_text_format_reads_specially() {
        let mut buf = Vec::new();
        let r = ViewRow {
            table: TABLES[0],
            view_id: "CT1-24-00001".into(),
            version: 3,
            payload: "{\"a\":\"x\\ny\ttab\"}".into(),
            index: IndexColumns::None,
        };
        copy_text_row(&mut buf, "ct-icac", &r);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "ct-icac\tCT1-24-00001\t3\t{\"a\":\"x\\\\ny\\ttab\"}\n"
        );
    }
}
