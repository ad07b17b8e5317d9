//! Issue 16: an implementation we did not write verifies our checkpoints, cosignatures,
//! tiles, proofs and receipts: Go's golang.org/x/mod/sumdb/note and sumdb/tlog
//! (tests/go_tlog/main.go), built in GOPATH mode from Debian's golang-golang-x-mod-dev.
//! A slow test (`ICAC_SLOW_TESTS=1`, as in CI): with the gate set, a missing Go fails it.

use crate::support::{common, slow, tamper};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ledger_id, Kind, TestDb};
use icac_format::checkpoint::{self, NoteVerifier};
use icac_format::cosignature::CosignerKey;
use icac_format::keys::LedgerKey;
use icac_format::policy::Policy;
use icac_format::record::StreamId;
use icac_ledger::audit::checkpointer;
use icac_ledger::tlog::publisher::{self, Publication, PublicationConfig};
use icac_ledger::tlog::receipt;
use icac_ledger::witness::server::{router, Witness};
use icac_ledger::witness::state::WitnessState;

const GOPATH: &str = "/usr/share/gocode";
const WITNESS: &str = "witness.example/go";

/// Builds the Go client, or fails the test saying why it cannot.
fn go_client(out: &Path) -> PathBuf {
    let missing =
        |why: String| -> PathBuf { panic!("the Go interoperability check cannot run: {why}") };
    if !Path::new(GOPATH)
        .join("src/golang.org/x/mod/sumdb/tlog")
        .is_dir()
    {
        return missing(format!("{GOPATH}/src/golang.org/x/mod is absent (apt-get install golang-go golang-golang-x-mod-dev)"));
    }
    let bin = out.join("go_tlog");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go_tlog/main.go");
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(&src)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOCACHE", out.join("gocache"))
        .env("GOFLAGS", "")
        .output();
    match built {
        Ok(o) if o.status.success() => bin,
        Ok(o) => missing(format!(
            "go build failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => missing(format!("cannot run go: {e}")),
    }
}

fn run_go(bin: &Path, args: &[&str]) -> (bool, String) {
    let o = Command::new(bin)
        .args(args)
        .output()
        .expect("run go client");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

async fn publish(
    storage: &icac_ledger::storage::Storage,
    dir: &Path,
    policy: &Policy,
    key: &LedgerKey,
) -> String {
    let cut = checkpointer::cut(storage, &ledger_id(), key).await.unwrap();
    let status = Publication::default();
    let (_tx, rx) = tokio::sync::watch::channel(Some(cut.clone()));
    let config = PublicationConfig {
        dir: dir.to_path_buf(),
        policy: Some(policy.clone()),
        max_age: Duration::from_secs(60),
        witness_timeout: Duration::from_secs(5),
        retry: Duration::from_millis(200),
    };
    let task = tokio::spawn({
        let (storage, status) = (storage.clone(), status.clone());
        async move {
            let _ = publisher::run(storage, ledger_id(), config, status, rx).await;
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while status.published_size() != Some(cut.checkpoint.size) {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            status.snapshot(std::time::SystemTime::now())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
    std::fs::read_to_string(dir.join("checkpoint")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_sumdb_verifies_checkpoints_cosignatures_tiles_proofs_and_receipts() {
    if slow::skip("go_sumdb_verifies_checkpoints_cosignatures_tiles_proofs_and_receipts") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let go = go_client(tmp.path());
    let key = LedgerKey::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
    let wkey = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
    let log_vkey = checkpoint::verifier_key_string(ledger_id().as_str(), &key.public()).unwrap();
    let witness_vkey = CosignerKey::new(WITNESS, wkey.verifying_key())
        .unwrap()
        .to_vkey();

    let witness = Arc::new(Witness {
        name: WITNESS.into(),
        key: wkey,
        logs: vec![NoteVerifier::from_verifier_key(&log_vkey).unwrap()],
        state: WitnessState::open(&tmp.path().join("w.db")).await.unwrap(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router(witness)).await;
    });
    let policy = Policy::parse(&format!(
        "log {log_vkey}\nwitness W {witness_vkey} {url}\nquorum W\n"
    ))
    .unwrap();

    // 1 + 300 events (a full tile and a partial one), then 66,000 more (a full level-1
    // tile and partial tiles on three levels).
    let db = TestDb::new(Kind::Sqlite).await;
    let ledger = common::open_ledger(&db, &key).await;
    let stream = StreamId::new("case", "GO");
    for i in 0..6u64 {
        ledger
            .append(tamper::request(&stream, i * 50, 50, &format!("a{i}")))
            .await
            .unwrap();
    }
    let storage = ledger.storage().clone();
    let dir = tmp.path().join("tiles");
    let old = publish(&storage, &dir, &policy, &key).await;
    let old_file = tmp.path().join("old.checkpoint");
    std::fs::write(&old_file, &old).unwrap();
    let receipt_text = receipt::receipt(&storage, &ledger_id(), &dir, 200)
        .await
        .unwrap();
    for i in 0..330u64 {
        ledger
            .append(tamper::request(
                &stream,
                300 + i * 200,
                200,
                &format!("b{i}"),
            ))
            .await
            .unwrap();
    }
    publish(&storage, &dir, &policy, &key).await;
    assert!(dir.join("tile/2/000.p/1").exists(), "a level-2 tile");
    let late_receipt = receipt::receipt(&storage, &ledger_id(), &dir, 66_000)
        .await
        .unwrap();
    ledger.shutdown().await;
    server.abort();

    let rfile = tmp.path().join("r.tlog-proof");
    let d = dir.to_str().unwrap();
    for (i, r) in [&receipt_text, &late_receipt].into_iter().enumerate() {
        std::fs::write(&rfile, r).unwrap();
        let (ok, out) = run_go(
            &go,
            &[
                "-base",
                d,
                "-log",
                &log_vkey,
                "-witness",
                &witness_vkey,
                "-old",
                old_file.to_str().unwrap(),
                "-receipt",
                rfile.to_str().unwrap(),
            ],
        );
        assert!(ok, "receipt {i}: {out}");
        for want in [
            "OK checkpoint",
            "OK cosignature/v1",
            "OK tree hash from tiles",
            "OK inclusion",
            "OK consistency 301 -> 66301",
            "OK receipt",
        ] {
            assert!(out.contains(want), "{want} missing: {out}");
        }
    }

    // Go refuses what we refuse: an edited tile, an edited receipt, another witness key.
    let tile = dir.join("tile/1/000");
    let good = std::fs::read(&tile).unwrap();
    let mut bad = good.clone();
    bad[100] ^= 1;
    std::fs::write(&tile, &bad).unwrap();
    let (ok, out) = run_go(&go, &["-base", d, "-log", &log_vkey]);
    assert!(!ok, "an edited tile passed: {out}");
    std::fs::write(&tile, &good).unwrap();
    let mut edited = late_receipt.clone().into_bytes();
    let at = late_receipt.find("index ").unwrap() + 60;
    edited[at] = if edited[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&rfile, &edited).unwrap();
    let (ok, out) = run_go(
        &go,
        &[
            "-base",
            d,
            "-log",
            &log_vkey,
            "-receipt",
            rfile.to_str().unwrap(),
        ],
    );
    assert!(!ok, "an edited receipt passed: {out}");
    let stranger = CosignerKey::new(
        WITNESS,
        ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key(),
    )
    .unwrap()
    .to_vkey();
    let (ok, out) = run_go(&go, &["-base", d, "-log", &log_vkey, "-witness", &stranger]);
    assert!(!ok, "a cosignature by another key passed: {out}");
}
