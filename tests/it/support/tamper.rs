//! What an attacker with database access does: disable the append-only triggers and
//! rewrite rows directly. Used by the audit tamper suite.

use icac_format::chain::{Hash32, GENESIS_PREV_HASH};
use icac_format::key_events;
use icac_format::keys::LedgerKey;
use icac_format::record::{EventMetadata, EventRecord, SealedEvent, StreamId};
use icac_ledger::ledger::sequencer::{AppendRequest, NewEvent, RequestContext};
use icac_ledger::ledger::Ledger;
use icac_ledger::storage::{Storage, StoredRow};
use serde_json::json;

use crate::support::common::{ledger_id, open_ledger, Kind, TestDb};

pub const STREAMS: [&str; 3] = ["CASE-1", "CASE-2", "CASE-3"];

pub fn request(stream: &StreamId, expected: u64, n: usize, tag: &str) -> AppendRequest {
    AppendRequest {
        stream: stream.clone(),
        expected_sequence: expected,
        events: (0..n)
            .map(|i| NewEvent {
                event_type: "TestEvent".into(),
                event_version: "1".into(),
                payload: json!({"note": "hello world", "tag": tag, "i": i}),
                openings: Vec::new(),
                erases: Vec::new(),
            })
            .collect(),
        context: RequestContext {
            principal: "test:writer".into(),
            unit: Some("CT0000000".into()),
            request_id: format!("req-{tag}"),
            correlation_id: None,
        },
    }
}

/// A ledger with the genesis event plus `rounds * 3 * 2` events over three streams;
/// returns the ledger (still open) and its size.
pub async fn seed(db: &TestDb, key: &LedgerKey, rounds: usize) -> (Ledger, u64) {
    let ledger = open_ledger(db, key).await;
    for round in 0..rounds {
        for (s, name) in STREAMS.iter().enumerate() {
            let stream = StreamId::new("case", name);
            ledger
                .append(request(
                    &stream,
                    (round * 2) as u64,
                    2,
                    &format!("r{round}s{s}"),
                ))
                .await
                .expect("append");
        }
    }
    let size = ledger.head().await.expect("head").position;
    (ledger, size)
}

pub fn blob(kind: Kind, bytes: &[u8]) -> String {
    match kind {
        Kind::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
        Kind::Sqlite => format!("X'{}'", hex::encode(bytes)),
    }
}

pub fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Turns off every append-only guard, as a database owner could.
pub async fn disable_guards(db: &TestDb) {
    let sql = match db.kind {
        Kind::Postgres => "ALTER TABLE ledger_events DISABLE TRIGGER ALL;",
        Kind::Sqlite => {
            "DROP TRIGGER IF EXISTS ledger_events_link;
             DROP TRIGGER IF EXISTS ledger_events_sequence;
             DROP TRIGGER IF EXISTS ledger_events_no_update;
             DROP TRIGGER IF EXISTS ledger_events_no_delete;"
        }
    };
    db.exec(sql).await.expect("disable triggers");
}

pub async fn storage(db: &TestDb) -> Storage {
    Storage::connect(&db.url).await.expect("connect")
}

pub async fn rows(db: &TestDb) -> Vec<StoredRow> {
    let storage = storage(db).await;
    let mut out = Vec::new();
    loop {
        let from = out.last().map_or(1, |r: &StoredRow| r.position + 1);
        let page = storage
            .read_page(&ledger_id(), from, 500)
            .await
            .expect("read");
        if page.is_empty() {
            break;
        }
        out.extend(page);
    }
    storage.close().await;
    out
}

pub async fn row(db: &TestDb, position: u64) -> StoredRow {
    rows(db)
        .await
        .into_iter()
        .find(|r| r.position == position)
        .expect("row exists")
}

pub async fn set(db: &TestDb, position: u64, column: &str, value_sql: &str) {
    let n = db
        .exec(&format!(
            "UPDATE ledger_events SET {column} = {value_sql} WHERE position = {position}"
        ))
        .await
        .expect("update");
    assert_eq!(n, 1, "updated one row");
}

pub async fn delete_where(db: &TestDb, condition: &str) -> u64 {
    db.exec(&format!("DELETE FROM ledger_events WHERE {condition}"))
        .await
        .expect("delete")
}

pub async fn insert(db: &TestDb, row: &StoredRow) {
    let k = db.kind;
    let sql = format!(
        "INSERT INTO ledger_events (ledger_id, position, aggregate_type, aggregate_id, sequence, \
         event_type, event_version, recorded_at, prev_hash, hash, key_id, signature, canonical) \
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
        text(ledger_id().as_str()),
        row.position,
        text(&row.aggregate_type),
        text(&row.aggregate_id),
        row.sequence,
        text(&row.event_type),
        text(&row.event_version),
        text(&row.recorded_at),
        blob(k, &row.prev_hash),
        blob(k, &row.hash),
        text(&row.key_id),
        blob(k, &row.signature),
        blob(k, &row.canonical),
    );
    db.exec(&sql).await.expect("insert");
}

/// Swaps the positions of two rows (the rows keep their content).
pub async fn swap_positions(db: &TestDb, a: u64, b: u64) {
    let parking = 1_000_000_000u64;
    db.exec(&format!(
        "UPDATE ledger_events SET position = {parking} WHERE position = {a}"
    ))
    .await
    .expect("park");
    db.exec(&format!(
        "UPDATE ledger_events SET position = {a} WHERE position = {b}"
    ))
    .await
    .expect("move");
    db.exec(&format!(
        "UPDATE ledger_events SET position = {b} WHERE position = {parking}"
    ))
    .await
    .expect("unpark");
}

/// A well-formed event at `position` linked to `prev`, signed by `key`.
pub fn forged(
    position: u64,
    prev: Hash32,
    key: &LedgerKey,
    stream: &str,
    sequence: u64,
    at: &str,
) -> SealedEvent {
    EventRecord {
        ledger_id: ledger_id(),
        position,
        aggregate_type: "case".into(),
        aggregate_id: stream.into(),
        sequence,
        event_type: "TestEvent".into(),
        event_version: "1".into(),
        payload: json!({"note": "forged"}),
        metadata: EventMetadata {
            principal: "attacker".into(),
            unit: None,
            recorded_at: at.into(),
            request_id: "forged".into(),
            correlation_id: None,
        },
        prev_hash: prev,
        key_id: key.id().clone(),
        format_version: Some(2),
    }
    .seal(key)
    .expect("seal")
}

/// Rebuilds every event with `rogue` as the ledger's only key: a perfect chain that is
/// not the original one.
pub fn resign(rows: &[StoredRow], rogue: &LedgerKey) -> Vec<StoredRow> {
    let mut prev = GENESIS_PREV_HASH;
    rows.iter()
        .map(|row| {
            let mut record = EventRecord::from_canonical(&row.canonical).expect("record");
            if record.position == 1 {
                record.payload = key_events::initialized_payload(&ledger_id(), rogue);
            }
            record.key_id = rogue.id().clone();
            record.prev_hash = prev;
            let sealed = record.seal(rogue).expect("seal");
            prev = sealed.hash;
            StoredRow::from_sealed(&sealed)
        })
        .collect()
}

/// Replaces the whole table with `rows`.
pub async fn replace_all(db: &TestDb, new_rows: &[StoredRow]) {
    delete_where(db, "1 = 1").await;
    for r in new_rows {
        insert(db, r).await;
    }
}
