//! The key lifecycle against real PostgreSQL and SQLite: a rotation while a writer is
//! busy, keys signing only within their periods (events, checkpoints, proofs, bundle
//! trailers), and the rules for key events themselves (issue 14).

use crate::support::{common, http_support, tamper};

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{ledger_id, TestDb, KINDS};
use icac_format::chain::Hash32;
use icac_format::checkpoint::{self, Checkpoint};
use icac_format::key_events;
use icac_format::keys::{KeyringEntry, LedgerKey};
use icac_format::merkle;
use icac_format::record::{EventMetadata, EventRecord, SealedEvent, StreamId};
use icac_ledger::audit::bundle;
use icac_ledger::audit::checkpointer;
use icac_ledger::audit::proofs::{self, ProofKeys};
use icac_ledger::audit::trust::TrustRoot;
use icac_ledger::audit::verify::{
    verify_storage, BreakKind, CheckpointClaim, Report, VerifyOptions,
};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::ledger::sequencer::AppendError;
use icac_ledger::ledger::{keyring, Ledger};
use icac_ledger::storage::StoredRow;
use serde_json::{json, Value};

async fn verify(db: &TestDb, options: VerifyOptions) -> Report {
    let storage = tamper::storage(db).await;
    let report = verify_storage(&storage, &ledger_id(), options)
        .await
        .expect("verify runs");
    storage.close().await;
    report
}

fn assert_break(report: &Report, position: u64, kind: BreakKind, what: &str) -> String {
    let b = report
        .first_break
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: not detected: {report:#?}"));
    assert_eq!(
        (b.position, b.kind),
        (position, kind),
        "{what}: {}",
        b.detail
    );
    b.detail.clone()
}

/// Opens the ledger the way `serve` does: from a key file it re-reads after a rotation.
async fn open_from_file(db: &TestDb, path: &Path) -> Ledger {
    Ledger::open_with_key_file(db.storage().await, ledger_id(), path)
        .await
        .expect("open with key file")
}

/// `keys rotate` while a writer is busy appending: the writer never commits an event
/// signed by the retired key; without the new key it refuses every write (nothing
/// written); once its key path holds the new key it writes again, and the whole ledger
/// verifies intact with every key in its period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_while_writing_never_breaks_the_chain() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let dir = tempfile::tempdir().unwrap();
        let server_key = dir.path().join("server.pem");
        let first = LedgerKey::generate();
        first.save_new(&server_key).unwrap();
        common::open_ledger(&db, &first).await.shutdown().await;
        let server = open_from_file(&db, &server_key).await;

        // Load: appends back to back from two tasks until told to stop.
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let mut writers = Vec::new();
        for t in 0..2 {
            let (server, stop) = (server.clone(), stop.clone());
            let (acknowledged, refused) = (acknowledged.clone(), refused.clone());
            writers.push(tokio::spawn(async move {
                let stream = StreamId::new("case", &format!("LOAD-{t}"));
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let request = tamper::request(&stream, seq, 2, &format!("t{t}s{seq}"));
                    match server.append(request).await {
                        Ok(events) => {
                            seq += events.len() as u64;
                            acknowledged.fetch_add(events.len() as u64, Ordering::Relaxed);
                        }
                        Err(AppendError::SigningKey(_)) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        Err(e) => panic!("unexpected append error: {e}"),
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;

        // The CLI's rotation, through the real binary, in another process.
        let new_key = dir.path().join("new.pem");
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_icac-ledger"))
            .env_remove("ICAC_LEDGER_DB")
            .env_remove("ICAC_LEDGER_KEY")
            .env_remove("ICAC_LEDGER_ID")
            .args([
                "--db",
                &db.url,
                "--ledger-id",
                ledger_id().as_str(),
                "--key",
            ])
            .arg(&server_key)
            .args(["keys", "rotate", "--new-key"])
            .arg(&new_key)
            .output()
            .expect("run keys rotate");
        let out =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{kind:?}: keys rotate: {out}");
        assert!(
            !server_key.exists(),
            "{kind:?}: the retired key file is destroyed"
        );
        let second = LedgerKey::load(&new_key).unwrap();

        // The writer has no usable key now: its writes are refused, unsigned.
        let before = refused.load(Ordering::Relaxed);
        for _ in 0..100 {
            if refused.load(Ordering::Relaxed) > before + 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            refused.load(Ordering::Relaxed) > before,
            "{kind:?}: writes after the rotation are refused"
        );
        let stuck = server.head().await.unwrap().position;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.head().await.unwrap().position, stuck, "{kind:?}");

        // The operator puts the new key at the server's key path: writing resumes.
        std::fs::rename(&new_key, &server_key).unwrap();
        let resumed = acknowledged.load(Ordering::Relaxed);
        for _ in 0..200 {
            if acknowledged.load(Ordering::Relaxed) > resumed + 10 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        assert!(
            acknowledged.load(Ordering::Relaxed) > resumed,
            "{kind:?}: writes resume with the new key"
        );
        assert_eq!(server.signing_key().id(), second.id());
        let size = server.head().await.unwrap().position;
        server.shutdown().await;

        let pinned = TrustRoot::from_key_hex(&hex::encode(first.public().as_bytes())).unwrap();
        let report = verify(
            &db,
            VerifyOptions {
                trust: pinned,
                page_size: 64,
                ..Default::default()
            },
        )
        .await;
        assert!(report.intact, "{kind:?}: {report:#?}");
        assert_eq!(report.events_verified, size);
        // Nothing acknowledged was lost.
        let events: u64 = tamper::rows(&db)
            .await
            .iter()
            .filter(|r| r.aggregate_type == "case")
            .count() as u64;
        assert_eq!(events, acknowledged.load(Ordering::Relaxed), "{kind:?}");
    }
}

/// A rotated ledger: key `a` signs 1..=rotation, `b` from rotation + 1 to `size`.
struct Rotated {
    db: TestDb,
    a: LedgerKey,
    b: LedgerKey,
    rotation: u64,
    size: u64,
}

async fn rotated(kind: common::Kind) -> Rotated {
    let db = TestDb::new(kind).await;
    let a = LedgerKey::generate();
    let (ledger, _) = tamper::seed(&db, &a, 2).await;
    let b = LedgerKey::generate();
    let b_copy = LedgerKey::from_signing_key(b.signing_key().clone());
    let rotation = ledger
        .rotate_key(&a, b_copy, "test")
        .await
        .expect("rotate")
        .record
        .position;
    let stream = StreamId::new("case", "CASE-9");
    ledger
        .append(tamper::request(&stream, 0, 6, "after"))
        .await
        .expect("append");
    let size = ledger.head().await.unwrap().position;
    ledger.shutdown().await;
    Rotated {
        db,
        a,
        b,
        rotation,
        size,
    }
}

async fn entries(db: &TestDb) -> Vec<KeyringEntry> {
    let storage = tamper::storage(db).await;
    let ring = keyring(&storage, &ledger_id()).await.unwrap();
    storage.close().await;
    ring.entries().cloned().collect()
}

async fn tree(db: &TestDb) -> Vec<Hash32> {
    tamper::rows(db)
        .await
        .iter()
        .map(|r| Hash32::from_slice(&r.hash).unwrap())
        .collect()
}

fn note(key: &LedgerKey, hashes: &[Hash32], size: u64) -> String {
    let cp = Checkpoint::new(
        ledger_id().as_str(),
        size,
        merkle::root(&hashes[..size as usize]),
        hashes[size as usize - 1],
        "2026-06-01T00:00:00Z",
    )
    .unwrap();
    checkpoint::sign(&cp, key.signing_key()).unwrap()
}

/// A checkpoint counts only under the key active for its size: `verify --checkpoint`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_hold_only_under_the_key_of_their_size() {
    for kind in KINDS {
        let r = rotated(kind).await;
        let hashes = tree(&r.db).await;
        let claim = |note: &str| CheckpointClaim::parse(note, "cp").unwrap();
        let check = |note: String| {
            let db = &r.db;
            async move {
                verify(
                    db,
                    VerifyOptions {
                        checkpoints: vec![claim(&note)],
                        ..Default::default()
                    },
                )
                .await
            }
        };
        // Genuine: the old key up to and including its rotation, the new one from there.
        for (key, size) in [
            (&r.a, r.rotation - 1),
            (&r.a, r.rotation),
            (&r.b, r.rotation),
        ] {
            let report = check(note(key, &hashes, size)).await;
            assert!(report.intact, "{kind:?} size {size}: {report:#?}");
        }
        let report = check(note(&r.b, &hashes, r.size)).await;
        assert!(report.intact, "{kind:?}: {report:#?}");
        // The retired key over a size after its period, and the new key before its own.
        let detail = assert_break(
            &check(note(&r.a, &hashes, r.size)).await,
            1,
            BreakKind::RewrittenSinceCheckpoint,
            "retired key's checkpoint",
        );
        assert!(detail.contains(&r.a.id().to_string()), "{detail}");
        assert_break(
            &check(note(&r.b, &hashes, r.rotation - 1)).await,
            1,
            BreakKind::RewrittenSinceCheckpoint,
            "new key before its introduction",
        );

        // The signing side refuses the retired key too.
        let storage = tamper::storage(&r.db).await;
        let err = checkpointer::cut(&storage, &ledger_id(), &r.a)
            .await
            .expect_err("a retired key cannot cut a checkpoint");
        assert!(err.to_string().contains("may not sign"), "{err}");
        checkpointer::cut(&storage, &ledger_id(), &r.b)
            .await
            .expect("the active key can");
        storage.close().await;
    }
}

/// `verify-proof --keyring`: an inclusion proof for a tree larger than the real ledger,
/// signed by a retired key, is refused; the same proof under the active key verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_hold_only_under_the_key_of_their_tree_size() {
    for kind in KINDS {
        let r = rotated(kind).await;
        let mut hashes = tree(&r.db).await;
        // Invented leaves beyond the real head.
        for i in 0..5u8 {
            hashes.push(Hash32([i; 32]));
        }
        let fake_size = hashes.len() as u64;
        let position = 2u64;
        let storage = tamper::storage(&r.db).await;
        let genuine = proofs::prove_inclusion(&storage, &ledger_id(), Some(&r.b), position, None)
            .await
            .unwrap();
        storage.close().await;
        let forge = |key: &LedgerKey| {
            let mut p = genuine.clone();
            p.tree_size = fake_size;
            p.proof = merkle::inclusion_proof(&hashes, position - 1, fake_size).unwrap();
            p.checkpoint = note(key, &hashes, fake_size);
            serde_json::to_string(&p).unwrap()
        };
        let ring = ProofKeys::from_keyring(entries(&r.db).await).unwrap();
        let outcome =
            proofs::verify_proof(&serde_json::to_string(&genuine).unwrap(), &ring).unwrap();
        assert!(outcome.is_ok(), "{kind:?}: {outcome:?}");
        // The active key's signature is the only thing that makes a tree size valid.
        assert!(proofs::verify_proof(&forge(&r.b), &ring).unwrap().is_ok());
        let refused = proofs::verify_proof(&forge(&r.a), &ring).unwrap();
        let reason = refused.expect_err("retired key's proof is refused").0;
        assert!(reason.contains("size"), "{reason}");
    }
}

/// `verify --bundle --keyring`: a partial bundle whose trailer is re-signed by a key
/// retired before its range is broken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_trailers_hold_only_under_the_key_of_their_size() {
    for kind in KINDS {
        let r = rotated(kind).await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partial.jsonl");
        let storage = tamper::storage(&r.db).await;
        bundle::export(
            &storage,
            &ledger_id(),
            Some(&r.b),
            &path,
            Some(r.rotation + 2),
            Some(r.size),
        )
        .await
        .expect("export");
        // The export refuses to sign its trailer with the retired key.
        let refused = bundle::export(
            &storage,
            &ledger_id(),
            Some(&r.a),
            &dir.path().join("by-a.jsonl"),
            Some(r.rotation + 2),
            Some(r.size - 1),
        )
        .await;
        assert!(refused.is_err(), "{kind:?}: export signed by a retired key");
        storage.close().await;
        let pinned = TrustRoot::Keyring(entries(&r.db).await);
        let options = || VerifyOptions {
            trust: pinned.clone(),
            ..Default::default()
        };
        let report = bundle::verify_bundle_file(&path, options()).unwrap();
        assert!(report.intact, "{kind:?}: {report:#?}");

        let hashes = tree(&r.db).await;
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let mut trailer: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
        trailer["trailer"]["checkpoint"] = Value::String(note(&r.a, &hashes, r.size));
        let resigned = icac_format::canonical::to_canonical_bytes(&trailer).unwrap();
        *lines.last_mut().unwrap() = String::from_utf8(resigned).unwrap();
        let forged = dir.path().join("forged.jsonl");
        std::fs::write(&forged, lines.join("\n") + "\n").unwrap();
        let report = bundle::verify_bundle_file(&forged, options()).unwrap();
        let b = report.first_break.expect("re-signed trailer is refused");
        assert_eq!(b.kind, BreakKind::BundleMalformed, "{kind:?}: {}", b.detail);
        assert!(b.detail.contains(&r.a.id().to_string()), "{}", b.detail);
    }
}

/// An event signed by the ledger's real active key (an insider), appended at the head.
fn insider_event(
    head: &StoredRow,
    key: &LedgerKey,
    stream: (&str, &str),
    sequence: u64,
    event_type: &str,
    payload: Value,
    recorded_at: &str,
) -> SealedEvent {
    EventRecord {
        ledger_id: ledger_id(),
        position: head.position + 1,
        aggregate_type: stream.0.into(),
        aggregate_id: stream.1.into(),
        sequence,
        event_type: event_type.into(),
        event_version: "1".into(),
        payload,
        metadata: EventMetadata {
            principal: "insider".into(),
            unit: None,
            recorded_at: recorded_at.into(),
            request_id: "insider".into(),
            correlation_id: None,
        },
        prev_hash: Hash32::from_slice(&head.hash).unwrap(),
        key_id: key.id().clone(),
        format_version: Some(2),
    }
    .seal(key)
    .expect("seal")
}

/// Key events only in `ledger/<ledger_id>`, rotations only to new keys, and
/// `recorded_at` a real instant: each broken by the key holder, each caught by `verify`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_events_and_times_follow_the_rules() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let (ledger, size) = tamper::seed(&db, &key, 2).await;
        // The writer itself refuses key events from an ordinary append.
        let rogue = LedgerKey::generate();
        let mut request = tamper::request(&StreamId::new("case", "CASE-1"), 4, 1, "k");
        request.events[0].event_type = key_events::SIGNING_KEY_ROTATED.into();
        request.events[0].payload = key_events::rotated_payload(&key, &rogue);
        assert!(matches!(
            ledger.append(request).await,
            Err(AppendError::KeyEventType { .. })
        ));
        let ledger_stream = key_events::ledger_stream(&ledger_id());
        let request = tamper::request(&ledger_stream, 1, 1, "k");
        assert!(matches!(
            ledger.append(request).await,
            Err(AppendError::KeyEventType { .. })
        ));
        // Nor does it rotate back to a key of the history.
        let same = LedgerKey::from_signing_key(key.signing_key().clone());
        assert!(ledger.rotate_key(&key, same, "test").await.is_err());
        ledger.shutdown().await;
        tamper::disable_guards(&db).await;
        let head = tamper::row(&db, size).await;
        let ok_time = "2999-01-01T00:00:00.000000Z";
        let cases = [
            (
                "rotation in a case stream",
                insider_event(
                    &head,
                    &key,
                    ("case", "CASE-1"),
                    5,
                    key_events::SIGNING_KEY_ROTATED,
                    key_events::rotated_payload(&key, &rogue),
                    ok_time,
                ),
                BreakKind::BadKeyEvent,
            ),
            (
                "rotation to the active key",
                insider_event(
                    &head,
                    &key,
                    ("ledger", ledger_id().as_str()),
                    2,
                    key_events::SIGNING_KEY_ROTATED,
                    key_events::rotated_payload(&key, &key),
                    ok_time,
                ),
                BreakKind::BadKeyEvent,
            ),
            (
                "a key stream of another ledger",
                insider_event(
                    &head,
                    &key,
                    ("ledger", "other-ledger"),
                    1,
                    "TestEvent",
                    json!({}),
                    ok_time,
                ),
                BreakKind::BadKeyEvent,
            ),
            (
                "recorded_at that is no instant",
                insider_event(
                    &head,
                    &key,
                    ("case", "CASE-1"),
                    5,
                    "TestEvent",
                    json!({"note": "x"}),
                    "2099-13-45T25:61:61.000000Z",
                ),
                BreakKind::ContentAltered,
            ),
            (
                "February 30th",
                insider_event(
                    &head,
                    &key,
                    ("case", "CASE-1"),
                    5,
                    "TestEvent",
                    json!({"note": "x"}),
                    "2999-02-30T00:00:00.000000Z",
                ),
                BreakKind::ContentAltered,
            ),
        ];
        for (what, event, kind_expected) in cases {
            tamper::insert(&db, &StoredRow::from_sealed(&event)).await;
            assert_break(
                &verify(&db, VerifyOptions::default()).await,
                size + 1,
                kind_expected,
                what,
            );
            tamper::delete_where(&db, &format!("position = {}", size + 1)).await;
        }
        let report = verify(&db, VerifyOptions::default()).await;
        assert!(report.intact, "{kind:?}: {report:#?}");
    }
}

/// Over HTTP: after a rotation by another process, a server that does not hold the new
/// key answers a write with 503 problem+json and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_new_key_answers_503_and_writes_nothing() {
    use icac_ledger::access::auth::Role;
    use icac_ledger::http::ServerConfig;
    for kind in KINDS {
        let s = http_support::start(TestDb::new(kind).await, ServerConfig::default()).await;
        let held = s.state.ledger.signing_key();
        let current = LedgerKey::from_signing_key(held.signing_key().clone());
        let copy = LedgerKey::from_signing_key(held.signing_key().clone());
        let other = Ledger::open(s.db.storage().await, ledger_id(), copy)
            .await
            .expect("second writer");
        other
            .rotate_key(&current, LedgerKey::generate(), "test")
            .await
            .expect("rotate elsewhere");
        other.shutdown().await;
        let before = s.head().await;
        let (st, body) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                http_support::form(http_support::HARTFORD, "24-777", "123123123"),
            )
            .await;
        assert_eq!(st, 503, "{kind:?}: {body}");
        assert_eq!(body["status"], 503, "{body}");
        assert_eq!(s.head().await, before, "{kind:?}: nothing written");
        let report = verify(&s.db, VerifyOptions::default()).await;
        assert!(report.intact, "{kind:?}: {report:#?}");
        s.stop().await;
    }
}
