//! The ledger against real PostgreSQL and SQLite: chain integrity under concurrency,
//! append-only enforcement, restart recovery, key rotation.

use crate::support::{common, slow};

use std::collections::HashSet;
use std::sync::Arc;

use common::{ledger_id, open_ledger, Kind, TestDb, KINDS};
use icac_format::chain::{event_hash, Hash32, GENESIS_PREV_HASH};
use icac_format::keys::{verify_signature, LedgerKey};
use icac_format::record::{EventRecord, StreamId};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::ledger::sequencer::{AppendError, AppendRequest, NewEvent, RequestContext};
use icac_ledger::ledger::{keyring, Ledger, LedgerError};
use icac_ledger::storage::Storage;
use serde_json::json;

fn request(stream: &StreamId, expected: u64, n: usize, tag: &str) -> AppendRequest {
    AppendRequest {
        stream: stream.clone(),
        expected_sequence: expected,
        events: (0..n)
            .map(|i| NewEvent {
                event_type: "TestEvent".into(),
                event_version: "1".into(),
                payload: json!({"tag": tag, "i": i}),
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

/// Walks the whole ledger and checks every link, hash, signature and stream sequence.
/// Returns the number of events.
async fn assert_chain_intact(storage: &Storage) -> u64 {
    let id = ledger_id();
    let ring = keyring(storage, &id).await.expect("keyring");
    let mut prev = GENESIS_PREV_HASH;
    let mut expected_pos = 1u64;
    let mut streams: std::collections::HashMap<(String, String), u64> = Default::default();
    loop {
        let rows = storage
            .read_page(&id, expected_pos, 500)
            .await
            .expect("read");
        if rows.is_empty() {
            break;
        }
        for row in rows {
            assert_eq!(row.position, expected_pos, "gap-free positions");
            let record = EventRecord::from_canonical(&row.canonical).expect("canonical");
            assert_eq!(record.position, row.position);
            assert_eq!(
                record.prev_hash, prev,
                "prev_hash links at {}",
                row.position
            );
            let hash = event_hash(&prev, &row.canonical);
            assert_eq!(hash.0.to_vec(), row.hash, "hash at {}", row.position);
            let key = ring.key_for(&record.key_id, row.position).expect("key");
            let sig: [u8; 64] = row.signature.as_slice().try_into().unwrap();
            assert!(
                verify_signature(key, &hash, &sig),
                "signature at {}",
                row.position
            );
            let seq = streams
                .entry((record.aggregate_type.clone(), record.aggregate_id.clone()))
                .or_insert(0);
            assert_eq!(record.sequence, *seq + 1, "stream sequence contiguous");
            *seq += 1;
            prev = hash;
            expected_pos += 1;
        }
    }
    expected_pos - 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_chain_and_read_back() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let stream = StreamId::new("case", "CASE-1");
        let sealed = ledger.append(request(&stream, 0, 3, "a")).await.unwrap();
        assert_eq!(
            sealed.iter().map(|e| e.record.position).collect::<Vec<_>>(),
            vec![2, 3, 4],
            "{kind:?}: genesis is position 1"
        );
        assert_eq!(sealed[1].record.prev_hash, sealed[0].hash);
        let back = ledger.read_stream(&stream).await.unwrap();
        assert_eq!(back, sealed, "{kind:?}: read back byte for byte");
        assert_eq!(assert_chain_intact(ledger.storage()).await, 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_expected_sequence_conflicts_without_failing_batch_mates() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let s1 = StreamId::new("case", "A");
        ledger.append(request(&s1, 0, 1, "first")).await.unwrap();
        let stale = ledger.append(request(&s1, 0, 1, "stale")).await;
        assert!(
            matches!(
                stale,
                Err(AppendError::Conflict {
                    expected: 0,
                    actual: 1,
                    ..
                })
            ),
            "{kind:?}: {stale:?}"
        );
        // Fire a stale and a good request together so they share a batch.
        let s2 = StreamId::new("case", "B");
        let (bad, good) = tokio::join!(
            ledger.append(request(&s1, 0, 1, "stale2")),
            ledger.append(request(&s2, 0, 2, "good"))
        );
        assert!(matches!(bad, Err(AppendError::Conflict { .. })));
        assert_eq!(good.unwrap().len(), 2);
        assert_eq!(assert_chain_intact(ledger.storage()).await, 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_writers_on_distinct_streams() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let per_writer = 15u64;
        let mut tasks = Vec::new();
        for w in 0..64 {
            let ledger = ledger.clone();
            tasks.push(tokio::spawn(async move {
                let stream = StreamId::new("case", &format!("W{w}"));
                let mut acked = Vec::new();
                for i in 0..per_writer {
                    let sealed = ledger
                        .append(request(&stream, i, 1, &format!("{w}-{i}")))
                        .await
                        .expect("distinct streams never conflict");
                    acked.push(sealed[0].hash);
                }
                acked
            }));
        }
        let mut acked = HashSet::new();
        for t in tasks {
            for h in t.await.unwrap() {
                assert!(acked.insert(h), "no event acknowledged twice");
            }
        }
        let total = assert_chain_intact(ledger.storage()).await;
        assert_eq!(
            total,
            1 + 64 * per_writer,
            "{kind:?}: every acknowledged event present"
        );
        assert!(
            ledger
                .stats()
                .largest_batch
                .load(std::sync::atomic::Ordering::Relaxed)
                > 1,
            "{kind:?}: concurrent appends were group-committed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_writers_on_one_stream() {
    if slow::skip("sixty_four_writers_on_one_stream") {
        return;
    }
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let stream = StreamId::new("case", "HOT");
        let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let conflicts = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut tasks = Vec::new();
        for w in 0..64 {
            let (ledger, stream, acked, conflicts) = (
                ledger.clone(),
                stream.clone(),
                acked.clone(),
                conflicts.clone(),
            );
            tasks.push(tokio::spawn(async move {
                for i in 0..3 {
                    // Read-modify-write as a command does; retry on conflict.
                    loop {
                        let seq = ledger.read_stream(&stream).await.unwrap().len() as u64;
                        match ledger
                            .append(request(&stream, seq, 1, &format!("{w}-{i}")))
                            .await
                        {
                            Ok(s) => {
                                acked.lock().unwrap().push(s[0].record.sequence);
                                break;
                            }
                            Err(AppendError::Conflict { .. }) => {
                                conflicts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let mut seqs = acked.lock().unwrap().clone();
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=192).collect::<Vec<u64>>(),
            "{kind:?}: no duplicate or lost sequence"
        );
        assert!(
            conflicts.load(std::sync::atomic::Ordering::Relaxed) > 0,
            "contention happened"
        );
        assert_eq!(assert_chain_intact(ledger.storage()).await, 193);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_delete_truncate_are_refused_by_the_database() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        ledger
            .append(request(&StreamId::new("case", "X"), 0, 2, "x"))
            .await
            .unwrap();
        let checkpoint = icac_ledger::storage::CheckpointRow {
            size: 3,
            root: vec![0; 32],
            head: vec![0; 32],
            created_at: "2026-01-01T00:00:00Z".into(),
            key_id: key.id().to_string(),
            note: "note".into(),
        };
        ledger
            .storage()
            .insert_checkpoint(&ledger_id(), &checkpoint)
            .await
            .unwrap();
        let mut attempts = vec![
            "UPDATE ledger_events SET event_type = 'Forged' WHERE position = 2",
            "DELETE FROM ledger_events WHERE position = 3",
            "DELETE FROM ledger_events",
            "UPDATE ledger_checkpoints SET note = 'x'",
            "DELETE FROM ledger_checkpoints",
        ];
        if kind == Kind::Postgres {
            attempts.push("TRUNCATE ledger_events");
            attempts.push("TRUNCATE ledger_checkpoints");
        }
        for sql in attempts {
            let err = db.exec(sql).await.expect_err(sql);
            assert!(
                err.to_string().contains("append-only"),
                "{kind:?} {sql}: {err}"
            );
        }
        // A forged row that does not link to the head is refused too.
        let forged = match kind {
            Kind::Postgres => "INSERT INTO ledger_events SELECT ledger_id, 4, aggregate_type, aggregate_id, 3, event_type, event_version, recorded_at, decode(repeat('11', 32), 'hex'), hash, key_id, signature, canonical FROM ledger_events WHERE position = 3",
            Kind::Sqlite => "INSERT INTO ledger_events SELECT ledger_id, 4, aggregate_type, aggregate_id, 3, event_type, event_version, recorded_at, randomblob(32), hash, key_id, signature, canonical FROM ledger_events WHERE position = 3",
        };
        let err = db.exec(forged).await.expect_err("forged insert");
        assert!(err.to_string().contains("link"), "{kind:?}: {err}");
        // The writer recognises it as a conflict by its code (SQLSTATE 23000, SQLite's
        // constraint-trigger code), not by its words.
        let err = icac_ledger::storage::StorageError::Query(err);
        assert!(err.is_chain_conflict(), "{kind:?}: {err}");
        assert_eq!(assert_chain_intact(ledger.storage()).await, 3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_recovers_the_head_and_two_processes_never_fork() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let s = StreamId::new("case", "R");
        ledger.append(request(&s, 0, 2, "before")).await.unwrap();
        ledger.shutdown().await;

        // Two independent "processes" (separate pools and writers) on one database.
        let a = Ledger::open(
            db.storage().await,
            ledger_id(),
            LedgerKey::from_signing_key(key.signing_key().clone()),
        )
        .await
        .unwrap();
        let b = Ledger::open(
            db.storage().await,
            ledger_id(),
            LedgerKey::from_signing_key(key.signing_key().clone()),
        )
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for w in 0..16 {
            let l = if w % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let s = StreamId::new("case", &format!("P{w}"));
                for i in 0..5 {
                    l.append(request(&s, i, 1, &format!("{w}{i}")))
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            assert_chain_intact(a.storage()).await,
            3 + 16 * 5,
            "{kind:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_refused_and_rotation_is_recorded() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let other = LedgerKey::generate();
        let err = Ledger::open(
            db.storage().await,
            ledger_id(),
            LedgerKey::from_signing_key(other.signing_key().clone()),
        )
        .await
        .err()
        .unwrap();
        assert!(matches!(err, LedgerError::WrongKey { .. }), "{err}");

        let s = StreamId::new("case", "K");
        ledger.append(request(&s, 0, 1, "old")).await.unwrap();
        let next = LedgerKey::generate();
        let next_id = next.id().clone();
        let rotation = ledger
            .rotate_key(
                &key,
                LedgerKey::from_signing_key(next.signing_key().clone()),
                "test:admin",
            )
            .await
            .unwrap();
        assert_eq!(
            &rotation.record.key_id,
            key.id(),
            "rotation signed by the outgoing key"
        );
        let after = ledger.append(request(&s, 1, 1, "new")).await.unwrap();
        assert_eq!(after[0].record.key_id, next_id);
        let ring = keyring(ledger.storage(), &ledger_id()).await.unwrap();
        assert!(ring.key_for(key.id(), rotation.record.position).is_ok());
        assert!(ring.key_for(key.id(), after[0].record.position).is_err());
        assert_chain_intact(ledger.storage()).await;
        ledger.shutdown().await;
        // Only the new key may open the ledger now.
        assert!(Ledger::open(db.storage().await, ledger_id(), key)
            .await
            .is_err());
        assert!(Ledger::open(db.storage().await, ledger_id(), next)
            .await
            .is_ok());
    }
}

#[tokio::test]
async fn bad_requests_are_rejected_before_the_chain() {
    let db = TestDb::new(Kind::Sqlite).await;
    let key = LedgerKey::generate();
    let ledger = open_ledger(&db, &key).await;
    let s = StreamId::new("case", "V");
    let mut r = request(&s, 0, 1, "x");
    r.events[0].payload = json!({"big": 9007199254740993u64});
    assert!(matches!(
        ledger.append(r).await,
        Err(AppendError::Invalid(_))
    ));
    let mut r = request(&s, 0, 1, "x");
    r.events[0].payload = json!({"blob": "x".repeat(70_000)});
    assert!(matches!(
        ledger.append(r).await,
        Err(AppendError::Invalid(_))
    ));
    let r = request(&StreamId::new("case", "has space"), 0, 1, "x");
    assert!(matches!(
        ledger.append(r).await,
        Err(AppendError::Invalid(_))
    ));
    let mut r = request(&s, 0, 1, "x");
    r.context.principal.clear();
    assert!(matches!(
        ledger.append(r).await,
        Err(AppendError::BadContext { .. })
    ));
    assert!(matches!(
        ledger.append(request(&s, 0, 0, "x")).await,
        Err(AppendError::TooManyEvents(0))
    ));
    assert_eq!(ledger.head().await.unwrap().position, 1, "nothing recorded");
    let _ = Hash32::default();
}
