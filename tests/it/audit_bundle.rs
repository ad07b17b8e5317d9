//! Export bundles: exported from real databases, verified offline, and every mutation of
//! the file detected at the first position it breaks.

use crate::support::{common, tamper};

use std::io::Cursor;
use std::sync::OnceLock;

use common::{ledger_id, Kind, TestDb, KINDS};
use icac_format::chain::Hash32;
use icac_format::keys::LedgerKey;
use icac_ledger::audit::bundle::{export, verify_bundle, verify_bundle_file};
use icac_ledger::audit::checkpointer;
use icac_ledger::audit::trust::TrustRoot;
use icac_ledger::audit::verify::{
    verify_storage, BreakKind, CheckpointClaim, Report, VerifyOptions,
};
use icac_ledger::ledger::key_file::KeyFile;
use proptest::prelude::*;

fn verify_bytes(bytes: Vec<u8>, options: VerifyOptions) -> Report {
    verify_bundle(Box::new(Cursor::new(bytes)), "test bundle", options).expect("verify runs")
}

fn assert_break(report: &Report, position: u64, kind: BreakKind, what: &str) {
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
}

/// Lines of a bundle: header, events (index i = position i + from - 1... see `event_line`), trailer.
fn lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

async fn export_bytes(
    db: &TestDb,
    key: Option<&LedgerKey>,
    from: Option<u64>,
    to: Option<u64>,
) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.jsonl");
    let storage = tamper::storage(db).await;
    export(&storage, &ledger_id(), key, &path, from, to)
        .await
        .expect("export");
    storage.close().await;
    std::fs::read(&path).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_verifies_offline_like_the_database() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let (ledger, size) = tamper::seed(&db, &key, 3).await;
        ledger.shutdown().await;
        let storage = tamper::storage(&db).await;
        let from_db = verify_storage(&storage, &ledger_id(), VerifyOptions::default())
            .await
            .unwrap();
        storage.close().await;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        let storage = tamper::storage(&db).await;
        let summary = export(&storage, &ledger_id(), Some(&key), &path, None, None)
            .await
            .unwrap();
        storage.close().await;
        assert_eq!(summary.count, size);
        let pinned = TrustRoot::from_key_hex(&hex::encode(key.public().as_bytes())).unwrap();
        let report = verify_bundle_file(
            &path,
            VerifyOptions {
                trust: pinned,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(report.intact, "{kind:?}: {report:#?}");
        assert_eq!(
            (report.events_verified, report.head_hash, report.merkle_root),
            (
                from_db.events_verified,
                from_db.head_hash,
                from_db.merkle_root
            )
        );

        // A partial bundle proves its range against the full-ledger checkpoint.
        let part = export_bytes(&db, Some(&key), Some(5), Some(15)).await;
        let report = verify_bytes(part.clone(), VerifyOptions::default());
        assert!(report.intact, "{report:#?}");
        assert_eq!(
            (report.from, report.events_verified, report.head_position),
            (5, 11, 15)
        );
        // Its keys for positions before 5 come from the header: named unless pinned.
        let key_id = icac_format::keys::KeyId::of(&key.public());
        assert_eq!(report.unverified_header_keys, vec![key_id.clone()]);
        assert!(report.to_text().contains(&key_id.0), "{}", report.to_text());
        let pinned = TrustRoot::from_key_hex(&hex::encode(key.public().as_bytes())).unwrap();
        let report = verify_bytes(
            part.clone(),
            VerifyOptions {
                trust: pinned,
                ..Default::default()
            },
        );
        assert!(
            report.intact && report.unverified_header_keys.is_empty(),
            "{report:#?}"
        );
        // ...and an edit inside it is still caught.
        let mut l = lines(&part);
        l[3] = String::from_utf8(l[3].clone())
            .unwrap()
            .replacen("hello", "jello", 1)
            .into_bytes();
        assert_break(
            &verify_bytes(join(&l), VerifyOptions::default()),
            7,
            BreakKind::ContentAltered,
            "partial edit",
        );
        // A partial bundle checked against a checkpoint that ends where it starts.
        let storage = tamper::storage(&db).await;
        let cp = checkpointer::cut(&storage, &ledger_id(), &key)
            .await
            .unwrap();
        storage.close().await;
        let claim = CheckpointClaim::parse(&cp.note, "checkpoint").unwrap();
        let full = export_bytes(&db, None, None, None).await;
        let report = verify_bytes(
            full,
            VerifyOptions {
                checkpoints: vec![claim],
                ..Default::default()
            },
        );
        assert!(
            report.intact && report.checkpoints[0].consistent,
            "{report:#?}"
        );
    }
}

/// A 19-event bundle exported once from SQLite (and the key that signed it).
fn fixture() -> &'static (Vec<u8>, LedgerKey) {
    static F: OnceLock<(Vec<u8>, LedgerKey)> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let db = TestDb::new(Kind::Sqlite).await;
            let key = LedgerKey::generate();
            let (ledger, _) = tamper::seed(&db, &key, 3).await;
            ledger.shutdown().await;
            let bytes = export_bytes(&db, Some(&key), None, None).await;
            (bytes, key)
        })
    })
}

/// Line index of position `p` in a full bundle (line 0 is the header).
fn at(p: u64) -> usize {
    p as usize
}

#[test]
fn mutations_of_a_bundle_are_detected_at_their_position() {
    let (bytes, key) = fixture();
    let base = lines(bytes);
    let size = (base.len() - 2) as u64;
    assert!(verify_bytes(bytes.clone(), VerifyOptions::default()).intact);

    let edit = |p: u64, from: &str, to: &str| {
        let mut l = base.clone();
        let s = String::from_utf8(l[at(p)].clone()).unwrap();
        assert!(s.contains(from), "{s}");
        l[at(p)] = s.replacen(from, to, 1).into_bytes();
        join(&l)
    };
    let opts = VerifyOptions::default;
    assert_break(
        &verify_bytes(edit(9, "hello world", "hello wOrld"), opts()),
        9,
        BreakKind::ContentAltered,
        "payload",
    );
    assert_break(
        &verify_bytes(edit(4, "test:writer", "test:wrong!"), opts()),
        4,
        BreakKind::ContentAltered,
        "metadata",
    );

    let mut l = base.clone();
    l.remove(at(12));
    assert_break(
        &verify_bytes(join(&l), opts()),
        12,
        BreakKind::MissingPosition,
        "deleted line",
    );

    let mut l = base.clone();
    l.swap(at(5), at(11));
    let r = verify_bytes(join(&l), opts());
    assert_eq!(
        r.first_break.as_ref().map(|b| b.position),
        Some(5),
        "swap: {r:#?}"
    );

    // Forged event signed by an unknown key, linked to the head, before the trailer.
    let rogue = LedgerKey::generate();
    let head_line: serde_json::Value = serde_json::from_slice(&base[at(size)]).unwrap();
    let head = Hash32::from_hex(head_line["hash"].as_str().unwrap()).unwrap();
    let f = tamper::forged(
        size + 1,
        head,
        &rogue,
        "CASE-NEW",
        1,
        "2999-01-01T00:00:00.000000Z",
    );
    let line = icac_format::canonical::to_canonical_bytes(&f.to_json()).unwrap();
    let mut l = base.clone();
    l.insert(at(size + 1), line);
    assert_break(
        &verify_bytes(join(&l), opts()),
        size + 1,
        BreakKind::UnknownOrOutOfPeriodKey,
        "forged line",
    );

    // Signature of another event.
    let sig_of = |p: u64| {
        let v: serde_json::Value = serde_json::from_slice(&base[at(p)]).unwrap();
        v["signature"].as_str().unwrap().to_owned()
    };
    let swapped = edit(10, &sig_of(10), &sig_of(3));
    assert_break(
        &verify_bytes(swapped, opts()),
        10,
        BreakKind::BadSignature,
        "signature",
    );

    // Truncations.
    let mut l = base.clone();
    l.pop();
    assert_break(
        &verify_bytes(join(&l), opts()),
        size + 1,
        BreakKind::BundleTruncated,
        "no trailer",
    );
    l.truncate(l.len() - 3);
    assert_break(
        &verify_bytes(join(&l), opts()),
        size - 2,
        BreakKind::BundleTruncated,
        "tail cut",
    );
    let cut = bytes[..bytes.len() - 40].to_vec();
    assert_break(
        &verify_bytes(cut, opts()),
        size + 1,
        BreakKind::BundleTruncated,
        "cut mid-trailer",
    );
    let mut cut = join(&base[..at(8)]);
    cut.extend_from_slice(&base[at(8)][..50]);
    assert_break(
        &verify_bytes(cut, opts()),
        8,
        BreakKind::BundleTruncated,
        "cut mid-event",
    );

    // Re-signed with a rogue key: caught against the pinned key.
    let pinned = TrustRoot::from_key_hex(&hex::encode(key.public().as_bytes())).unwrap();
    assert!(
        verify_bytes(
            bytes.clone(),
            VerifyOptions {
                trust: pinned.clone(),
                ..Default::default()
            }
        )
        .intact
    );
    let rows: Vec<_> = base[1..=size as usize]
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_slice(l).unwrap();
            let obj = v.as_object_mut().unwrap();
            let hash = Hash32::from_hex(obj.remove("hash").unwrap().as_str().unwrap()).unwrap();
            let sig = hex::decode(obj.remove("signature").unwrap().as_str().unwrap()).unwrap();
            let canonical = icac_format::canonical::to_canonical_bytes(&v).unwrap();
            let record = icac_format::record::EventRecord::from_canonical(&canonical).unwrap();
            icac_ledger::storage::StoredRow::from_sealed(&icac_format::record::SealedEvent {
                record,
                canonical,
                hash,
                signature: sig.try_into().unwrap(),
            })
        })
        .collect();
    let forged_rows = tamper::resign(&rows, &rogue);
    let mut l = vec![base[0].clone()];
    for r in &forged_rows {
        let sealed = icac_ledger::ledger::sealed_from_row(r.clone()).unwrap();
        l.push(icac_format::canonical::to_canonical_bytes(&sealed.to_json()).unwrap());
    }
    l.push(base.last().unwrap().clone());
    let r = verify_bytes(
        join(&l),
        VerifyOptions {
            trust: pinned,
            ..Default::default()
        },
    );
    assert_break(&r, 1, BreakKind::UntrustedKey, "rogue bundle");
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { line: usize, offset: usize, xor: u8 },
    Delete { line: usize },
    Duplicate { line: usize },
    Swap { a: usize, b: usize },
    Truncate { at: usize },
}

fn mutation(lines: usize, bytes: usize) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (0..lines, any::<usize>(), 1u8..=255).prop_map(|(line, offset, xor)| Mutation::Flip { line, offset, xor }),
        1 => (0..lines).prop_map(|line| Mutation::Delete { line }),
        1 => (0..lines).prop_map(|line| Mutation::Duplicate { line }),
        1 => (0..lines, 0..lines).prop_filter("distinct", |(a, b)| a != b).prop_map(|(a, b)| Mutation::Swap { a, b }),
        1 => (0..bytes).prop_map(|at| Mutation::Truncate { at }),
    ]
}

proptest! {
    // The saved failing cases sit beside this file. The default would look in
    // tests/proptest-regressions/ now that tests/it/ holds a main.rs.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]
    #[test]
    fn random_mutations_never_go_unnoticed(m in mutation(21, 19_000)) {
        let (bytes, _) = fixture();
        let mut l = lines(bytes);
        let n = l.len();
        // The position the mutation first touches, when it touches an event line.
        let (mutated, expected) = match m.clone() {
            Mutation::Flip { line, offset, xor } => {
                let line = line % n;
                let off = offset % l[line].len();
                l[line][off] ^= xor;
                (join(&l), (1..n - 1).contains(&line).then_some(line as u64))
            }
            Mutation::Delete { line } => {
                let line = line % n;
                l.remove(line);
                (join(&l), (1..n - 1).contains(&line).then_some(line as u64))
            }
            Mutation::Duplicate { line } => {
                let line = line % n;
                let copy = l[line].clone();
                l.insert(line, copy);
                (join(&l), (1..n - 1).contains(&line).then_some(line as u64 + 1))
            }
            Mutation::Swap { a, b } => {
                let (a, b) = (a.min(b) % n, a.max(b) % n);
                prop_assume!(a != b);
                l.swap(a, b);
                (join(&l), (1..n - 1).contains(&a).then_some(a as u64))
            }
            Mutation::Truncate { at } => (bytes[..at % bytes.len()].to_vec(), None),
        };
        let report = verify_bytes(mutated, VerifyOptions::default());
        prop_assert!(!report.intact, "mutation {:?} went unnoticed", m);
        if let Some(p) = expected {
            let b = report.first_break.unwrap();
            prop_assert_eq!(b.position, p, "mutation {:?}: {:?}", m, b);
        }
    }
}
