//! Issue 16: the C2SP witness, publication under a tlog-policy, tiles and receipts, with
//! a real witness server on loopback, real ledgers (SQLite files and PostgreSQL) and
//! the real binary for the offline checks (`verify --policy`, `receipt verify`).

use crate::support::{common, tamper};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{ledger_id, Kind, TestDb};
use icac_format::chain::Hash32;
use icac_format::checkpoint::{self, NoteVerifier};
use icac_format::cosignature::{verify_cosignatures, CosignerKey};
use icac_format::keys::LedgerKey;
use icac_format::merkle::consistency_proof;
use icac_format::policy::Policy;
use icac_format::receipt::Receipt;
use icac_format::record::{EventRecord, StreamId};
use icac_format::witness::AddCheckpoint;
use icac_ledger::audit::checkpointer::{self, SignedCheckpoint};
use icac_ledger::storage::StoredRow;
use icac_ledger::tlog::publisher::{self, Publication, PublicationConfig};
use icac_ledger::tlog::{receipt, tiles};
use icac_ledger::witness::server::{router, Witness};
use icac_ledger::witness::state::WitnessState;
use tokio::sync::watch;

const WITNESS_NAME: &str = "witness.apa.ct.example/w1";

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_icac-ledger")
}

fn ledger_key() -> LedgerKey {
    LedgerKey::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[42; 32]))
}

fn witness_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
}

fn log_vkey(key: &LedgerKey) -> String {
    checkpoint::verifier_key_string(ledger_id().as_str(), &key.public()).unwrap()
}

fn witness_vkey() -> String {
    CosignerKey::new(WITNESS_NAME, witness_key().verifying_key())
        .unwrap()
        .to_vkey()
}

/// A witness server on a loopback port, its state in `dir`.
struct RunningWitness {
    url: String,
    task: tokio::task::JoinHandle<()>,
    witness: Arc<Witness>,
}

async fn start_witness(state: &Path, logs: &[String], port: u16) -> RunningWitness {
    let witness = Arc::new(Witness {
        name: WITNESS_NAME.into(),
        key: witness_key(),
        logs: logs
            .iter()
            .map(|v| NoteVerifier::from_verifier_key(v).unwrap())
            .collect(),
        state: WitnessState::open(state).await.unwrap(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(witness.clone());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    RunningWitness { url, task, witness }
}

fn policy_text(key: &LedgerKey, witness_url: Option<&str>) -> String {
    format!(
        "# the Auditors of Public Accounts run the witness\nlog {}\nwitness APA {} {}\nquorum APA\n",
        log_vkey(key),
        witness_vkey(),
        witness_url.unwrap_or("")
    )
}

fn write_policy(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("policy.txt");
    std::fs::write(&p, text).unwrap();
    p
}

async fn post(url: &str, body: impl Into<reqwest::Body>) -> (u16, String, String) {
    let r = reqwest::Client::new()
        .post(format!("{url}/add-checkpoint"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

/// Event hashes of a ledger, in position order.
fn hashes(rows: &[StoredRow]) -> Vec<Hash32> {
    rows.iter()
        .map(|r| Hash32::from_slice(&r.hash).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_answers_add_checkpoint_with_the_spec_status_codes() {
    let db = TestDb::new(Kind::Sqlite).await;
    let key = ledger_key();
    let (ledger, size) = tamper::seed(&db, &key, 2).await;
    let storage = ledger.storage().clone();
    let small = checkpointer::cut(&storage, &ledger_id(), &key)
        .await
        .unwrap();
    ledger
        .append(tamper::request(
            &StreamId::new("case", "CASE-9"),
            0,
            3,
            "more",
        ))
        .await
        .unwrap();
    let big = checkpointer::cut(&storage, &ledger_id(), &key)
        .await
        .unwrap();
    let rows = tamper::rows(&db).await;
    let all = hashes(&rows);
    let proof = consistency_proof(&all, size, big.checkpoint.size).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let state_path = tmp.path().join("witness.db");
    let w = start_witness(&state_path, &[log_vkey(&key)], 0).await;

    // Malformed bodies: 400.
    let n = &small.note;
    for bad in [
        String::new(),
        format!("old 00\n\n{n}"),
        format!("new 0\n\n{n}"),
        format!("old 0\nnot a hash\n\n{n}"),
        format!("old 0\n{n}"),
    ] {
        let (st, _, body) = post(&w.url, bad.clone()).await;
        assert_eq!(st, 400, "{bad:?}: {body}");
    }
    // Unknown origin: 404. A signature by another key under our name: 403.
    let other = checkpoint::sign_note(
        &n.replace("icac-ledger/ct-icac-test\n", "icac-ledger/other\n")
            .split("\n\n")
            .next()
            .map(|t| format!("{t}\n"))
            .unwrap(),
        "icac-ledger/other",
        key.signing_key(),
    )
    .unwrap();
    assert_eq!(
        post(&w.url, AddCheckpoint::encode(0, &[], &other)).await.0,
        404
    );
    let rogue = LedgerKey::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[9; 32]));
    let forged = checkpoint::sign(&small.checkpoint, rogue.signing_key()).unwrap();
    assert_eq!(
        post(&w.url, AddCheckpoint::encode(0, &[], &forged)).await.0,
        403
    );
    // Old size above the checkpoint: 400. Proof from size 0: 422.
    assert_eq!(
        post(&w.url, AddCheckpoint::encode(size + 1, &[], n))
            .await
            .0,
        400
    );
    assert_eq!(
        post(&w.url, AddCheckpoint::encode(0, &proof, n)).await.0,
        422
    );

    // First contact: cosigned, and the cosignature verifies as tlog-cosignature/v1.
    let (st, _, lines) = post(&w.url, AddCheckpoint::encode(0, &[], n)).await;
    assert_eq!(st, 200, "{lines}");
    let wkey = CosignerKey::from_vkey(&witness_vkey()).unwrap();
    let cos = verify_cosignatures(&format!("{n}{lines}"), std::slice::from_ref(&wkey)).unwrap();
    assert_eq!(cos.len(), 1);
    assert!(cos[0].timestamp > 1_700_000_000);
    // Persisted before the answer: a fresh handle on the file sees it.
    let reopened = WitnessState::open(&state_path).await.unwrap();
    let held = reopened
        .latest("icac-ledger/ct-icac-test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.size, size);
    reopened.close().await;

    // A stale old size: 409 with the size, as text/x.tlog.size.
    let (st, ct, body) = post(&w.url, AddCheckpoint::encode(0, &[], &big.note)).await;
    assert_eq!(
        (st, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", &*format!("{size}\n"))
    );
    // A wrong proof: 422. The right one: 200.
    let mut wrong = proof.clone();
    wrong[0] = Hash32([1; 32]);
    assert_eq!(
        post(&w.url, AddCheckpoint::encode(size, &wrong, &big.note))
            .await
            .0,
        422
    );
    let (st, _, _) = post(&w.url, AddCheckpoint::encode(size, &proof, &big.note)).await;
    assert_eq!(st, 200);
    // The monitoring endpoint serves the cosigned checkpoint.
    let origin_hash = icac_ledger::witness::state::origin_hash_hex("icac-ledger/ct-icac-test");
    let mon = reqwest::get(format!("{}/{origin_hash}/checkpoint", w.url))
        .await
        .unwrap();
    assert_eq!(mon.status(), 200);
    let mon = mon.text().await.unwrap();
    assert!(mon.starts_with(&big.note));
    assert_eq!(verify_cosignatures(&mon, &[wkey]).unwrap().len(), 1);
    assert_eq!(
        reqwest::get(format!("{}/{}/checkpoint", w.url, "0".repeat(64)))
            .await
            .unwrap()
            .status(),
        404
    );
    // A body over the limit is refused, not read.
    let huge = "A".repeat(icac_format::witness::MAX_BODY_BYTES + 10);
    assert_eq!(post(&w.url, huge).await.0, 413);
    // A proof that does not verify may be a fork: kept as evidence; stale sizes are not.
    let evidence = w.witness.state.evidence().await.unwrap();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    assert_eq!(
        evidence[0].held_note.as_deref().map(|n| n.starts_with(n)),
        Some(true)
    );
    w.task.abort();
    ledger.shutdown().await;
}

/// Rewrites the payload of every event after `keep`, re-linking and re-signing with the
/// same key: what the key holder can do. The prefix stays byte-identical.
fn rewrite_tail(rows: &[StoredRow], keep: u64, key: &LedgerKey) -> Vec<StoredRow> {
    let mut prev = icac_format::chain::GENESIS_PREV_HASH;
    rows.iter()
        .map(|row| {
            let mut record = EventRecord::from_canonical(&row.canonical).unwrap();
            if record.position > keep {
                record.payload = serde_json::json!({"note": "rewritten by the key holder"});
            }
            record.prev_hash = prev;
            let sealed = record.seal(key).unwrap();
            prev = sealed.hash;
            StoredRow::from_sealed(&sealed)
        })
        .collect()
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn publication_config(dir: &Path, policy: Option<Policy>) -> PublicationConfig {
    PublicationConfig {
        dir: dir.to_path_buf(),
        policy,
        max_age: Duration::from_secs(2),
        witness_timeout: Duration::from_millis(800),
        retry: Duration::from_millis(200),
    }
}

/// Runs the real publisher over `storage` with one checkpoint handed to it.
fn start_publisher(
    storage: &icac_ledger::storage::Storage,
    config: PublicationConfig,
    first: Option<SignedCheckpoint>,
) -> (
    Publication,
    watch::Sender<Option<SignedCheckpoint>>,
    tokio::task::JoinHandle<()>,
) {
    let status = Publication::default();
    let (tx, rx) = watch::channel(first);
    let task = tokio::spawn({
        let (storage, status) = (storage.clone(), status.clone());
        async move {
            let _ = publisher::run(storage, ledger_id(), config, status, rx).await;
        }
    });
    (status, tx, task)
}

fn cli(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .env("ICAC_LEDGER_DB", db)
        .env("ICAC_LEDGER_ID", ledger_id().as_str())
        .env_remove("ICAC_LOG")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn show(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_diverging_ledgers_shown_to_one_witness() {
    for kind in common::KINDS {
        diverging(kind).await;
    }
}

async fn diverging(kind: Kind) {
    let key = ledger_key();
    let tmp = tempfile::tempdir().unwrap();
    let w = start_witness(&tmp.path().join("witness.db"), &[log_vkey(&key)], 0).await;
    let policy = Policy::parse(&policy_text(&key, Some(&w.url))).unwrap();
    let policy_file = write_policy(tmp.path(), &policy_text(&key, Some(&w.url)));

    // Ledger A, published under the policy.
    let db_a = TestDb::new(kind).await;
    let (ledger_a, size) = tamper::seed(&db_a, &key, 3).await;
    let storage_a = ledger_a.storage().clone();
    let cut_a = checkpointer::cut(&storage_a, &ledger_id(), &key)
        .await
        .unwrap();
    let dir_a = tmp.path().join("tiles-a");
    let (status_a, _tx_a, task_a) = start_publisher(
        &storage_a,
        publication_config(&dir_a, Some(policy.clone())),
        Some(cut_a),
    );
    wait_for("A published", Duration::from_secs(20), || {
        status_a.published_size() == Some(size)
    })
    .await;
    task_a.abort();

    // Ledger B: A's rows with the tail after position 4 re-signed by the key holder,
    // then grown by two events.
    let db_b = TestDb::new(kind).await;
    let (ledger_b, _) = tamper::seed(&db_b, &key, 0).await;
    ledger_b.shutdown().await;
    tamper::disable_guards(&db_b).await;
    tamper::replace_all(&db_b, &rewrite_tail(&tamper::rows(&db_a).await, 4, &key)).await;
    let ledger_b = icac_ledger::ledger::Ledger::open(
        db_b.storage().await,
        ledger_id(),
        LedgerKey::from_signing_key(key.signing_key().clone()),
    )
    .await
    .unwrap();
    ledger_b
        .append(tamper::request(&StreamId::new("case", "CASE-B"), 0, 2, "b"))
        .await
        .unwrap();
    let storage_b = ledger_b.storage().clone();
    let cut_b = checkpointer::cut(&storage_b, &ledger_id(), &key)
        .await
        .unwrap();
    assert_eq!(cut_b.checkpoint.size, size + 2);
    let dir_b = tmp.path().join("tiles-b");
    let (status_b, _tx_b, task_b) = start_publisher(
        &storage_b,
        publication_config(&dir_b, Some(policy.clone())),
        Some(cut_b.clone()),
    );
    wait_for("B refused", Duration::from_secs(20), || {
        status_b.snapshot(SystemTime::now()).witness_refusals > 0
    })
    .await;
    let snap = status_b.snapshot(SystemTime::now());
    assert!(snap.alert, "{snap:?}");
    assert_eq!(
        snap.published_size, None,
        "B's checkpoint must not be published"
    );
    assert_eq!(snap.witnesses[0].state, "refused");
    assert!(!dir_b.join("checkpoint").exists());
    // Refused once, never asked again about the same checkpoint.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(status_b.snapshot(SystemTime::now()).witness_refusals, 1);
    task_b.abort();

    // The witness kept both checkpoints as evidence, and still holds A's.
    let evidence = w.witness.state.evidence().await.unwrap();
    assert_eq!(evidence.len(), 1, "{evidence:?}");
    let held_a = std::fs::read_to_string(dir_a.join("checkpoint")).unwrap();
    assert_eq!(evidence[0].held_note.as_deref(), Some(held_a.as_str()));
    assert_eq!(evidence[0].shown_note, cut_b.note);
    let state_file = tmp.path().join("witness.db");
    let listed = Command::new(binary())
        .args(["witness", "evidence", "--state"])
        .arg(&state_file)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", show(&listed));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 1);

    // `verify --policy` with the witnessed checkpoint: A passes, B fails.
    let witnessed = held_a.clone();
    let cp_file = tmp.path().join("witnessed.checkpoint");
    std::fs::write(&cp_file, &witnessed).unwrap();
    let p = policy_file.to_str().unwrap();
    let c = cp_file.to_str().unwrap();
    let ok = cli(&db_a.url, &["verify", "--policy", p, "--checkpoint", c]);
    assert!(ok.status.success(), "A: {}", show(&ok));
    let bad = cli(&db_b.url, &["verify", "--policy", p, "--checkpoint", c]);
    assert_eq!(bad.status.code(), Some(1), "B: {}", show(&bad));
    assert!(show(&bad).contains("rewritten"), "{}", show(&bad));
    // B's own checkpoint has no cosignature: refused by the policy.
    let own_b = tmp.path().join("b.checkpoint");
    std::fs::write(&own_b, &cut_b.note).unwrap();
    let refused = cli(
        &db_b.url,
        &[
            "verify",
            "--policy",
            p,
            "--checkpoint",
            own_b.to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    assert!(show(&refused).contains("quorum"), "{}", show(&refused));
    // The same holds offline: A's export bundle and an inclusion proof against the
    // witnessed checkpoint pass under the policy; B's bundle fails.
    let bundle_a = tmp.path().join("a.jsonl");
    let bundle_b = tmp.path().join("b.jsonl");
    assert!(
        cli(&db_a.url, &["export", "--out", bundle_a.to_str().unwrap()])
            .status
            .success()
    );
    assert!(
        cli(&db_b.url, &["export", "--out", bundle_b.to_str().unwrap()])
            .status
            .success()
    );
    let ok = cli(
        &db_a.url,
        &[
            "verify",
            "--bundle",
            bundle_a.to_str().unwrap(),
            "--policy",
            p,
            "--checkpoint",
            c,
        ],
    );
    assert!(ok.status.success(), "A bundle: {}", show(&ok));
    let bad = cli(
        &db_a.url,
        &[
            "verify",
            "--bundle",
            bundle_b.to_str().unwrap(),
            "--policy",
            p,
            "--checkpoint",
            c,
        ],
    );
    assert_eq!(bad.status.code(), Some(1), "B bundle: {}", show(&bad));
    let proof = tmp.path().join("proof.json");
    let made = cli(
        &db_a.url,
        &[
            "prove",
            "inclusion",
            "--position",
            "3",
            "--checkpoint",
            c,
            "--out",
            proof.to_str().unwrap(),
        ],
    );
    assert!(made.status.success(), "{}", show(&made));
    let public = hex::encode(key.public().as_bytes());
    let ok = cli(
        &db_a.url,
        &[
            "verify-proof",
            proof.to_str().unwrap(),
            "--public-key",
            &public,
            "--policy",
            p,
            "--checkpoint",
            c,
        ],
    );
    assert!(ok.status.success(), "verify-proof: {}", show(&ok));
    let refused = cli(
        &db_a.url,
        &[
            "verify-proof",
            proof.to_str().unwrap(),
            "--public-key",
            &public,
            "--policy",
            p,
            "--checkpoint",
            own_b.to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    // --policy without a checkpoint to hold the ledger to is a usage error.
    assert_eq!(
        cli(&db_a.url, &["verify", "--policy", p]).status.code(),
        Some(2)
    );

    ledger_a.shutdown().await;
    ledger_b.shutdown().await;
    w.task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witness_down_slow_or_refusing_and_a_policy_that_cannot_be_met() {
    let key = ledger_key();
    let db = TestDb::new(Kind::Sqlite).await;
    let (ledger, size) = tamper::seed(&db, &key, 1).await;
    let storage = ledger.storage().clone();
    let cut = checkpointer::cut(&storage, &ledger_id(), &key)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // Down: nothing listens on the port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = Policy::parse(&policy_text(
        &key,
        Some(&format!("http://127.0.0.1:{port}")),
    ))
    .unwrap();
    let (status, _tx, task) = start_publisher(
        &storage,
        publication_config(&tmp.path().join("down"), Some(down)),
        Some(cut.clone()),
    );
    wait_for("alert while down", Duration::from_secs(20), || {
        status.snapshot(SystemTime::now()).alert
    })
    .await;
    let snap = status.snapshot(SystemTime::now());
    assert_eq!(snap.witnesses[0].state, "unreachable", "{snap:?}");
    assert_eq!(snap.published_size, None);
    assert!(snap
        .alert_reason
        .unwrap()
        .contains("no witnessed checkpoint"));
    assert_eq!(snap.witness_refusals, 0, "down is not a refusal");
    // The witness comes up on that port: the retry publishes, the alert clears.
    let w = start_witness(&tmp.path().join("w.db"), &[log_vkey(&key)], port).await;
    wait_for(
        "published after the witness came up",
        Duration::from_secs(20),
        || status.published_size() == Some(size),
    )
    .await;
    assert!(!status.snapshot(SystemTime::now()).alert);
    task.abort();
    w.task.abort();

    // Slow: a witness that accepts and never answers.
    let slow = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow_url = format!("http://{}", slow.local_addr().unwrap());
    let slow_policy = Policy::parse(&policy_text(&key, Some(&slow_url))).unwrap();
    let (status, _tx, task) = start_publisher(
        &storage,
        publication_config(&tmp.path().join("slow"), Some(slow_policy)),
        Some(cut.clone()),
    );
    wait_for("slow witness timed out", Duration::from_secs(20), || {
        status
            .snapshot(SystemTime::now())
            .witnesses
            .first()
            .is_some_and(|w| w.state == "unreachable")
    })
    .await;
    assert_eq!(status.published_size(), None);
    task.abort();
    drop(slow);

    // Refusing: a witness that does not follow this log (404 for the origin).
    let stranger = start_witness(&tmp.path().join("s.db"), &[], 0).await;
    let refusing = Policy::parse(&policy_text(&key, Some(&stranger.url))).unwrap();
    let (status, _tx, task) = start_publisher(
        &storage,
        publication_config(&tmp.path().join("refusing"), Some(refusing)),
        Some(cut.clone()),
    );
    wait_for("refusal", Duration::from_secs(20), || {
        status.snapshot(SystemTime::now()).witness_refusals == 1
    })
    .await;
    let snap = status.snapshot(SystemTime::now());
    assert!(
        snap.alert && snap.alert_reason.as_deref().unwrap().contains("refused"),
        "{snap:?}"
    );
    assert!(
        snap.witnesses[0].detail.as_deref().unwrap().contains("404"),
        "{snap:?}"
    );
    task.abort();
    stranger.task.abort();

    // A policy whose quorum no reachable witness can meet is refused up front, by the
    // config check and by `serve`.
    let unmeetable = Policy::parse(&policy_text(&key, None)).unwrap();
    let config = publication_config(tmp.path(), Some(unmeetable));
    assert!(config.check().unwrap_err().contains("can never be met"));
    let file = write_policy(tmp.path(), &policy_text(&key, None));
    let keyfile = tmp.path().join("k.key");
    let out = Command::new(binary())
        .env("ICAC_LEDGER_DB", &db.url)
        .env("ICAC_LEDGER_KEY", &keyfile)
        .args(["serve", "--addr", "127.0.0.1:0", "--tlog-dir"])
        .arg(tmp.path().join("never"))
        .arg("--witness-policy")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(show(&out).contains("can never be met"), "{}", show(&out));
    // And a policy with a group threshold above its members does not even parse.
    let bad = format!("witness A {}\ngroup G 2 A\nquorum G\n", witness_vkey());
    assert!(Policy::parse(&bad)
        .unwrap_err()
        .to_string()
        .contains("never be met"));
    ledger.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_verify_offline_and_fail_after_any_edit() {
    let key = ledger_key();
    let db = TestDb::new(Kind::Sqlite).await;
    let (ledger, size) = tamper::seed(&db, &key, 4).await;
    let storage = ledger.storage().clone();
    let tmp = tempfile::tempdir().unwrap();
    let w = start_witness(&tmp.path().join("w.db"), &[log_vkey(&key)], 0).await;
    let text = policy_text(&key, Some(&w.url));
    let policy = Policy::parse(&text).unwrap();
    let policy_file = write_policy(tmp.path(), &text);
    let dir = tmp.path().join("tiles");
    let cut = checkpointer::cut(&storage, &ledger_id(), &key)
        .await
        .unwrap();
    let (status, _tx, task) = start_publisher(
        &storage,
        publication_config(&dir, Some(policy.clone())),
        Some(cut),
    );
    wait_for("published", Duration::from_secs(20), || {
        status.published_size() == Some(size)
    })
    .await;
    task.abort();

    // Not yet witnessed past the published size.
    assert!(matches!(
        receipt::receipt(&storage, &ledger_id(), &dir, size + 1).await,
        Err(receipt::ReceiptError::NotYetWitnessed { .. })
    ));
    let position = 5;
    let text = receipt::receipt(&storage, &ledger_id(), &dir, position)
        .await
        .unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    let facts = Receipt::parse(&text).unwrap().verify(&policy).unwrap();
    let row = tamper::row(&db, position).await;
    assert_eq!(facts.position, position);
    assert_eq!(facts.event_hash.0.as_slice(), row.hash.as_slice());
    assert_eq!(facts.recorded_at, row.recorded_at);
    assert_eq!(facts.witnesses, vec!["APA".to_string()]);
    ledger.shutdown().await;
    w.task.abort();

    // Offline, after the ledger and the witness are gone: the binary, public keys only.
    let file = tmp.path().join("filing.tlog-proof");
    std::fs::write(&file, &text).unwrap();
    let run = |f: &Path| {
        Command::new(binary())
            .args(["receipt", "verify"])
            .arg(f)
            .arg("--policy")
            .arg(&policy_file)
            .output()
            .unwrap()
    };
    let ok = run(&file);
    assert!(ok.status.success(), "{}", show(&ok));
    assert!(show(&ok).contains(&row.recorded_at), "{}", show(&ok));
    // One edited byte anywhere fails it: every 7th byte, each edited alone.
    let bytes = text.as_bytes();
    let edited = tmp.path().join("edited.tlog-proof");
    let mut failures = 0;
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        if b == bytes {
            continue;
        }
        let edited_text = String::from_utf8_lossy(&b).into_owned();
        let verdict = Receipt::parse(&edited_text).and_then(|r| r.verify(&policy));
        assert!(verdict.is_err(), "byte {i} edited still verifies");
        failures += 1;
    }
    assert!(failures > 50);
    let mut b = bytes.to_vec();
    let mid = b.len() / 3;
    b[mid] = if b[mid] == b'x' { b'y' } else { b'x' };
    std::fs::write(&edited, &b).unwrap();
    let out = run(&edited);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(show(&out).contains("INVALID"));
    // Under a policy that trusts another witness, the same receipt fails (no quorum).
    let other = CosignerKey::new(
        "other.example/w",
        ed25519_dalek::SigningKey::from_bytes(&[8; 32]).verifying_key(),
    )
    .unwrap()
    .to_vkey();
    let strict = Policy::parse(&format!(
        "log {}\nwitness O {other}\nquorum O\n",
        log_vkey(&key)
    ))
    .unwrap();
    assert!(Receipt::parse(&text).unwrap().verify(&strict).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_export_is_incremental_and_refuses_past_the_tree_size() {
    let key = ledger_key();
    let db = TestDb::new(Kind::Sqlite).await;
    let keyfile_dir = tempfile::tempdir().unwrap();
    // Enough events for a full level-0 tile and a partial one.
    let ledger = common::open_ledger(&db, &key).await;
    for i in 0..9u64 {
        ledger
            .append(tamper::request(
                &StreamId::new("case", "BULK"),
                i * 40,
                40,
                &format!("b{i}"),
            ))
            .await
            .unwrap();
    }
    let storage = ledger.storage().clone();
    checkpointer::cut(&storage, &ledger_id(), &key)
        .await
        .unwrap();
    let dir = keyfile_dir.path().join("tiles");
    let d = dir.to_str().unwrap();
    let first = cli(&db.url, &["export", "tiles", d]);
    assert!(first.status.success(), "{}", show(&first));
    let size = tiles::written_size(&dir).unwrap();
    assert_eq!(size, 361);
    assert!(dir.join("tile/0/000").exists() && dir.join("tile/0/001.p/105").exists());
    assert!(dir.join("tile/entries/000").exists() && dir.join("tile/1/000.p/1").exists());
    assert_eq!(std::fs::read(dir.join("tile/0/000")).unwrap().len(), 8192);
    let full_before = std::fs::metadata(dir.join("tile/0/000"))
        .unwrap()
        .modified()
        .unwrap();

    ledger
        .append(tamper::request(
            &StreamId::new("case", "BULK"),
            360,
            10,
            "late",
        ))
        .await
        .unwrap();
    checkpointer::cut(&storage, &ledger_id(), &key)
        .await
        .unwrap();
    let second = cli(&db.url, &["export", "tiles", d]);
    assert!(second.status.success(), "{}", show(&second));
    assert!(show(&second).contains("(was 361)"), "{}", show(&second));
    assert_eq!(tiles::written_size(&dir).unwrap(), 371);
    assert_eq!(
        std::fs::metadata(dir.join("tile/0/000"))
            .unwrap()
            .modified()
            .unwrap(),
        full_before,
        "a full tile is immutable and not rewritten"
    );
    let root = tiles::root_of_dir(&dir, 371).unwrap();
    let (text, _) = icac_format::cosignature::split_note(
        &std::fs::read_to_string(dir.join("checkpoint")).unwrap(),
    )
    .map(|(t, l)| (t.to_owned(), l.len()))
    .unwrap();
    assert_eq!(
        checkpoint::Checkpoint::parse_body(&text).unwrap().root,
        root
    );

    // Requests past the published tree size, and malformed paths, are refused.
    let served = |p: &str| tiles::serve(&dir, p, Some(361));
    assert!(served("tile/0/000").is_ok());
    assert!(served("tile/0/001.p/105").is_ok());
    assert!(matches!(
        served("tile/0/001.p/115"),
        Err(tiles::ServeError::PastTreeSize(..))
    ));
    assert!(matches!(
        served("tile/0/002"),
        Err(tiles::ServeError::PastTreeSize(..))
    ));
    assert!(matches!(
        served("tile/entries/001"),
        Err(tiles::ServeError::PastTreeSize(..))
    ));
    assert!(matches!(
        served("tile/0/../../etc"),
        Err(tiles::ServeError::BadPath(_))
    ));
    assert!(matches!(
        served("tile/0/x000/001"),
        Err(tiles::ServeError::BadPath(_))
    ));
    assert!(matches!(
        tiles::serve(&dir, "tile/0/000", None),
        Err(tiles::ServeError::NothingPublished)
    ));

    // A directory of a larger tree is never written back to a smaller one.
    let small = tempfile::tempdir().unwrap();
    std::fs::write(small.path().join(".icac-tiles-size"), "100000").unwrap();
    let refused = cli(
        &db.url,
        &["export", "tiles", small.path().to_str().unwrap()],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", show(&refused));
    assert!(show(&refused).contains("never goes back"));
    ledger.shutdown().await;
}
