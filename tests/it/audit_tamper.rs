//! The tamper suite against real PostgreSQL and SQLite: an attacker with database access
//! disables the append-only triggers and edits rows; `verify` must name the first broken
//! position and the kind of break.

use crate::support::{common, tamper};

use common::{ledger_id, TestDb, KINDS};
use icac_format::chain::Hash32;
use icac_format::keys::LedgerKey;
use icac_ledger::audit::checkpointer;
use icac_ledger::audit::trust::TrustRoot;
use icac_ledger::audit::verify::{
    verify_storage, BreakKind, CheckpointClaim, Report, VerifyOptions,
};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::storage::StoredRow;

async fn verify(db: &TestDb, options: VerifyOptions) -> Report {
    let storage = tamper::storage(db).await;
    let report = verify_storage(&storage, &ledger_id(), options)
        .await
        .expect("verify runs");
    storage.close().await;
    report
}

async fn verify_plain(db: &TestDb) -> Report {
    verify(
        db,
        VerifyOptions {
            page_size: 7,
            ..Default::default()
        },
    )
    .await
}

fn assert_break(report: &Report, position: u64, kind: BreakKind, what: &str) {
    let b = report
        .first_break
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: not detected: {report:#?}"));
    assert!(!report.intact);
    assert_eq!(
        (b.position, b.kind),
        (position, kind),
        "{what}: {}",
        b.detail
    );
}

/// A fresh seeded ledger (19 events) with the guards off, ready to be attacked.
async fn attacked(kind: common::Kind) -> (TestDb, LedgerKey, u64) {
    let db = TestDb::new(kind).await;
    let key = LedgerKey::generate();
    let (ledger, size) = tamper::seed(&db, &key, 3).await;
    ledger.shutdown().await;
    let report = verify_plain(&db).await;
    assert!(report.intact, "untouched ledger verifies: {report:#?}");
    assert_eq!(report.events_verified, size);
    tamper::disable_guards(&db).await;
    (db, key, size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untouched_ledger_is_intact_with_pinned_key_and_rotation() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let (ledger, _) = tamper::seed(&db, &key, 2).await;
        let next = LedgerKey::generate();
        let next_id = next.id().clone();
        ledger.rotate_key(&key, next, "test").await.expect("rotate");
        let stream = icac_format::record::StreamId::new("case", "CASE-9");
        ledger
            .append(tamper::request(&stream, 0, 3, "after"))
            .await
            .expect("append");
        let size = ledger.head().await.unwrap().position;
        ledger.shutdown().await;
        let pinned = TrustRoot::from_key_hex(&hex::encode(key.public().as_bytes())).unwrap();
        let report = verify(
            &db,
            VerifyOptions {
                trust: pinned,
                page_size: 5,
                ..Default::default()
            },
        )
        .await;
        assert!(report.intact, "{kind:?}: {report:#?}");
        assert_eq!(report.events_verified, size);
        assert_eq!(report.genesis_key_id.as_ref(), Some(key.id()));
        assert_ne!(&next_id, key.id());
        // A rotated-out key may not sign later positions.
        tamper::disable_guards(&db).await;
        let last = tamper::row(&db, size).await;
        let head = Hash32::from_slice(&last.hash).unwrap();
        let late = tamper::forged(
            size + 1,
            head,
            &key,
            "CASE-1",
            7,
            "2999-01-01T00:00:00.000000Z",
        );
        tamper::insert(&db, &StoredRow::from_sealed(&late)).await;
        assert_break(
            &verify_plain(&db).await,
            size + 1,
            BreakKind::UnknownOrOutOfPeriodKey,
            "old key after rotation",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_payload_byte_changed() {
    for kind in KINDS {
        let (db, _key, _) = attacked(kind).await;
        let row = tamper::row(&db, 9).await;
        let text = String::from_utf8(row.canonical.clone()).unwrap();
        let changed = text.replacen("hello world", "hello wOrld", 1);
        assert_ne!(text, changed);
        tamper::set(&db, 9, "canonical", &tamper::blob(kind, changed.as_bytes())).await;
        assert_break(
            &verify_plain(&db).await,
            9,
            BreakKind::ContentAltered,
            "payload byte",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_changed_in_bytes_or_columns() {
    for kind in KINDS {
        let (db, _key, _) = attacked(kind).await;
        let row = tamper::row(&db, 4).await;
        let text = String::from_utf8(row.canonical.clone()).unwrap();
        let changed = text.replacen("test:writer", "test:wrong!", 1);
        tamper::set(&db, 4, "canonical", &tamper::blob(kind, changed.as_bytes())).await;
        tamper::set(&db, 6, "aggregate_id", &tamper::text("CASE-X")).await;
        tamper::set(
            &db,
            3,
            "recorded_at",
            &tamper::text("2000-01-01T00:00:00.000000Z"),
        )
        .await;
        assert_break(
            &verify_plain(&db).await,
            3,
            BreakKind::ContentAltered,
            "recorded_at column",
        );
        tamper::set(
            &db,
            3,
            "recorded_at",
            &tamper::text(&tamper::row(&db, 2).await.recorded_at),
        )
        .await;
        // Restoring column 3 to a different (earlier) time is still a column mismatch...
        let r3 = tamper::row(&db, 3).await;
        let rec3 = icac_format::record::EventRecord::from_canonical(&r3.canonical).unwrap();
        if rec3.metadata.recorded_at != r3.recorded_at {
            assert_break(
                &verify_plain(&db).await,
                3,
                BreakKind::ContentAltered,
                "recorded_at column",
            );
            tamper::set(
                &db,
                3,
                "recorded_at",
                &tamper::text(&rec3.metadata.recorded_at),
            )
            .await;
        }
        assert_break(
            &verify_plain(&db).await,
            4,
            BreakKind::ContentAltered,
            "principal in bytes",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_row() {
    for kind in KINDS {
        let (db, _key, _) = attacked(kind).await;
        assert_eq!(tamper::delete_where(&db, "position = 12").await, 1);
        assert_break(
            &verify_plain(&db).await,
            12,
            BreakKind::MissingPosition,
            "delete",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_rows_signed_by_an_unknown_key() {
    for kind in KINDS {
        let (db, _key, size) = attacked(kind).await;
        let rogue = LedgerKey::generate();
        let last = tamper::row(&db, size).await;
        let head = Hash32::from_slice(&last.hash).unwrap();
        let f = tamper::forged(
            size + 1,
            head,
            &rogue,
            "CASE-NEW",
            1,
            "2999-01-01T00:00:00.000000Z",
        );
        tamper::insert(&db, &StoredRow::from_sealed(&f)).await;
        assert_break(
            &verify_plain(&db).await,
            size + 1,
            BreakKind::UnknownOrOutOfPeriodKey,
            "forged at end",
        );

        // In the middle: shift the tail up by one and slot the forgery in.
        tamper::delete_where(&db, &format!("position = {}", size + 1)).await;
        db.exec("UPDATE ledger_events SET position = position + 1000 WHERE position >= 8")
            .await
            .unwrap();
        db.exec("UPDATE ledger_events SET position = position - 999 WHERE position >= 1000")
            .await
            .unwrap();
        // UNIQUE (ledger_id, prev_hash) stops a second child of position 7, so the
        // forgery cannot even link to it.
        let f = tamper::forged(
            8,
            Hash32([9; 32]),
            &rogue,
            "CASE-NEW",
            1,
            "2999-01-01T00:00:00.000000Z",
        );
        tamper::insert(&db, &StoredRow::from_sealed(&f)).await;
        assert_break(
            &verify_plain(&db).await,
            8,
            BreakKind::InsertedOrReordered,
            "forged in the middle",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_rows() {
    for kind in KINDS {
        let (db, _key, _) = attacked(kind).await;
        tamper::swap_positions(&db, 5, 11).await;
        assert_break(
            &verify_plain(&db).await,
            5,
            BreakKind::InsertedOrReordered,
            "swap",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_tail_against_an_earlier_checkpoint() {
    for kind in KINDS {
        let (db, key, size) = attacked(kind).await;
        let storage = tamper::storage(&db).await;
        let signed = checkpointer::cut(&storage, &ledger_id(), &key)
            .await
            .expect("checkpoint");
        storage.close().await;
        assert_eq!(signed.checkpoint.size, size);
        let claim = || CheckpointClaim::parse(&signed.note, "checkpoint").unwrap();
        let report = verify(
            &db,
            VerifyOptions {
                checkpoints: vec![claim()],
                ..Default::default()
            },
        )
        .await;
        assert!(report.intact, "{report:#?}");
        assert!(report.checkpoints[0].consistent);

        tamper::delete_where(&db, "position > 15").await;
        // Without the checkpoint a clean truncation is indistinguishable from a shorter ledger.
        assert!(verify_plain(&db).await.intact);
        let report = verify(
            &db,
            VerifyOptions {
                checkpoints: vec![claim()],
                ..Default::default()
            },
        )
        .await;
        assert_break(&report, 16, BreakKind::TruncatedSinceCheckpoint, "truncate");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_signature() {
    for kind in KINDS {
        let (db, _key, _) = attacked(kind).await;
        let other = tamper::row(&db, 3).await;
        tamper::set(&db, 10, "signature", &tamper::blob(kind, &other.signature)).await;
        assert_break(
            &verify_plain(&db).await,
            10,
            BreakKind::BadSignature,
            "signature",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_hash_replaced() {
    for kind in KINDS {
        let (db, _key, _) = attacked(kind).await;
        tamper::set(&db, 14, "hash", &tamper::blob(kind, &[7u8; 32])).await;
        assert_break(
            &verify_plain(&db).await,
            14,
            BreakKind::HashMismatch,
            "hash",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_chain_resigned_with_a_rogue_key() {
    for kind in KINDS {
        let (db, key, _) = attacked(kind).await;
        let storage = tamper::storage(&db).await;
        let signed = checkpointer::cut(&storage, &ledger_id(), &key)
            .await
            .expect("checkpoint");
        storage.close().await;
        let rogue = LedgerKey::generate();
        let forged = tamper::resign(&tamper::rows(&db).await, &rogue);
        tamper::replace_all(&db, &forged).await;

        // Internally consistent: only a trust root can tell.
        let report = verify_plain(&db).await;
        assert!(report.intact, "{report:#?}");
        assert_eq!(report.genesis_key_id.as_ref(), Some(rogue.id()));

        let pinned = TrustRoot::from_key_hex(&hex::encode(key.public().as_bytes())).unwrap();
        let report = verify(
            &db,
            VerifyOptions {
                trust: pinned,
                ..Default::default()
            },
        )
        .await;
        assert_break(&report, 1, BreakKind::UntrustedKey, "rogue vs pinned key");

        let by_id = TrustRoot::from_key_hex(&key.id().0).unwrap();
        let report = verify(
            &db,
            VerifyOptions {
                trust: by_id,
                ..Default::default()
            },
        )
        .await;
        assert_break(
            &report,
            1,
            BreakKind::UntrustedKey,
            "rogue vs pinned key id",
        );

        let claim = CheckpointClaim::parse(&signed.note, "checkpoint").unwrap();
        let report = verify(
            &db,
            VerifyOptions {
                checkpoints: vec![claim],
                ..Default::default()
            },
        )
        .await;
        assert_break(
            &report,
            1,
            BreakKind::RewrittenSinceCheckpoint,
            "rogue vs checkpoint",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_sequence_gap_and_time_going_backwards() {
    for kind in KINDS {
        let (db, key, size) = attacked(kind).await;
        let last = tamper::row(&db, size).await;
        let head = Hash32::from_slice(&last.hash).unwrap();
        // Signed by the real key (an insider with the key), but skipping sequence 7.
        let f = tamper::forged(
            size + 1,
            head,
            &key,
            "CASE-1",
            8,
            "2999-01-01T00:00:00.000000Z",
        );
        tamper::insert(&db, &StoredRow::from_sealed(&f)).await;
        assert_break(
            &verify_plain(&db).await,
            size + 1,
            BreakKind::StreamSequenceGap,
            "sequence gap",
        );
        tamper::delete_where(&db, &format!("position = {}", size + 1)).await;
        let f = tamper::forged(
            size + 1,
            head,
            &key,
            "CASE-1",
            7,
            "2000-01-01T00:00:00.000000Z",
        );
        tamper::insert(&db, &StoredRow::from_sealed(&f)).await;
        assert_break(
            &verify_plain(&db).await,
            size + 1,
            BreakKind::TimeWentBackwards,
            "time",
        );
    }
}
