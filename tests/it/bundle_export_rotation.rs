//! Exporting a range that ends before a key rotation: the trailer's checkpoint must be
//! signed by a key the range itself introduces, or a genuine bundle verifies as broken.
//! (Found while seeding the bundle fuzz corpus, docs/FUZZING.md.)

use crate::support::{common, tamper};

use std::io::Cursor;

use common::{ledger_id, Kind, TestDb};
use icac_format::keys::LedgerKey;
use icac_ledger::audit::bundle::{export, verify_bundle};
use icac_ledger::audit::verify::VerifyOptions;
use icac_ledger::ledger::key_file::KeyFile;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_before_a_rotation_is_refused_and_after_it_verifies() {
    let db = TestDb::new(Kind::Sqlite).await;
    let first = LedgerKey::generate();
    let (ledger, size) = tamper::seed(&db, &first, 1).await;
    let second = LedgerKey::generate();
    let second_copy = LedgerKey::from_signing_key(second.signing_key().clone());
    let rotation = ledger
        .rotate_key(&first, second, "test:rotate")
        .await
        .expect("rotate")
        .record
        .position;
    ledger.shutdown().await;
    assert_eq!(rotation, size + 1);

    let dir = tempfile::tempdir().expect("tempdir");
    let storage = tamper::storage(&db).await;
    let before = dir.path().join("before.jsonl");
    let err = export(
        &storage,
        &ledger_id(),
        Some(&second_copy),
        &before,
        None,
        Some(size),
    )
    .await
    .expect_err("a checkpoint the range cannot trust is refused");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "may sign only trees of size {rotation}..=now, not {size}"
        )),
        "{msg}"
    );
    assert!(!before.exists(), "no bundle is left behind");
    assert!(
        !before.with_extension("partial").exists(),
        "no partial file is left behind"
    );

    // Through the rotation (from the start, and from the middle) the same key is fine.
    for from in [None, Some(3)] {
        let out = dir.path().join(format!("after-{from:?}.jsonl"));
        export(
            &storage,
            &ledger_id(),
            Some(&second_copy),
            &out,
            from,
            Some(rotation),
        )
        .await
        .expect("export through the rotation");
        let bytes = std::fs::read(&out).expect("read bundle");
        let report = verify_bundle(
            Box::new(Cursor::new(bytes)),
            "after",
            VerifyOptions::default(),
        )
        .expect("verify runs");
        assert!(report.intact, "{report:#?}");
    }
    storage.close().await;
}
