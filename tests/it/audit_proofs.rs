//! Checkpoints, the periodic checkpointer, and inclusion/consistency proof files checked
//! with nothing but the public key.

use crate::support::{common, tamper};

use std::time::Duration;

use common::{ledger_id, TestDb, KINDS};
use icac_format::checkpoint::{self, NoteVerifier};
use icac_format::keys::LedgerKey;
use icac_format::record::StreamId;
use icac_ledger::audit::checkpointer::{self, Schedule};
use icac_ledger::audit::proofs::{self, ProofKeys};
use icac_ledger::ledger::key_file::KeyFile;

fn keys(key: &LedgerKey) -> ProofKeys {
    ProofKeys::from_hex(&[hex::encode(key.public().as_bytes())]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inclusion_and_consistency_proofs_verify_with_the_public_key_only() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let (ledger, size) = tamper::seed(&db, &key, 3).await;
        let storage = ledger.storage().clone();
        let id = ledger_id();
        let old = checkpointer::cut(&storage, &id, &key).await.unwrap();
        let stream = StreamId::new("case", "CASE-LATER");
        ledger
            .append(tamper::request(&stream, 0, 5, "later"))
            .await
            .unwrap();

        // Against the current head (signed now) and against the older checkpoint.
        for note in [None, Some(old.note.clone())] {
            let p = proofs::prove_inclusion(&storage, &id, Some(&key), 7, note)
                .await
                .unwrap();
            let json = serde_json::to_string(&p).unwrap();
            let outcome = proofs::verify_proof(&json, &keys(&key)).unwrap();
            assert!(outcome.is_ok(), "{kind:?}: {outcome:?}");
            // Another key cannot vouch for it.
            let other = LedgerKey::generate();
            assert!(proofs::verify_proof(&json, &keys(&other)).unwrap().is_err());
            // Nor does an edited event or a wrong position survive.
            let edited = json.replacen("hello world", "hello there", 1);
            assert!(proofs::verify_proof(&edited, &keys(&key)).unwrap().is_err());
            let mut moved = p.clone();
            moved.position = 8;
            assert!(proofs::check_inclusion(&moved, &keys(&key)).is_err());
            let mut bad_path = p.clone();
            bad_path.proof[0].0[0] ^= 1;
            assert!(proofs::check_inclusion(&bad_path, &keys(&key)).is_err());
        }
        assert!(
            proofs::prove_inclusion(&storage, &id, Some(&key), size + 100, None)
                .await
                .is_err()
        );

        let head = ledger.head().await.unwrap().position;
        let c = proofs::prove_consistency(&storage, &id, Some(&key), size, head)
            .await
            .unwrap();
        assert_eq!(c.old_root, old.checkpoint.root);
        let json = serde_json::to_string(&c).unwrap();
        assert!(proofs::verify_proof(&json, &keys(&key)).unwrap().is_ok());
        let mut forged = c.clone();
        forged.old_root.0[0] ^= 1;
        assert!(proofs::check_consistency(&forged, &keys(&key)).is_err());
        ledger.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_are_signed_stored_and_written_periodically() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let (ledger, size) = tamper::seed(&db, &key, 1).await;
        let id = ledger_id();
        let signed = checkpointer::cut(ledger.storage(), &id, &key)
            .await
            .unwrap();
        let verifier = NoteVerifier::for_ledger(id.as_str(), key.public()).unwrap();
        let cp = checkpoint::parse_and_verify(&signed.note, &verifier.clone().into()).unwrap();
        assert_eq!(cp.size, size);
        let stored = ledger
            .storage()
            .latest_checkpoint(&id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.size, size);

        let task = checkpointer::spawn_for(
            &ledger,
            Schedule {
                every_events: 4,
                every: Duration::from_millis(100),
            },
        );
        let stream = StreamId::new("case", "CASE-P");
        for i in 0..5u64 {
            ledger
                .append(tamper::request(&stream, i * 3, 3, &format!("p{i}")))
                .await
                .unwrap();
        }
        let head = ledger.head().await.unwrap().position;
        let mut latest = 0;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            latest = ledger
                .storage()
                .latest_checkpoint(&id)
                .await
                .unwrap()
                .map_or(0, |c| c.size);
            if latest == head {
                break;
            }
        }
        assert_eq!(
            latest, head,
            "{kind:?}: the periodic checkpointer caught up"
        );
        let note = ledger
            .storage()
            .latest_checkpoint(&id)
            .await
            .unwrap()
            .unwrap()
            .note;
        assert!(checkpoint::parse_and_verify(&note, &verifier.clone().into()).is_ok());
        ledger.shutdown().await;
        let written = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(written >= 1);
    }
}
