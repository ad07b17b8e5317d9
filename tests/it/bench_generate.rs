//! The benchmark data generator writes the same ledger as `demo` (through cqrs-es,
//! command by command) for the same cases and seed, on both databases, and that
//! ledger verifies and feeds every projection and the report.

use crate::support::common::{ledger_id, open_ledger, TestDb, KINDS};
use icac_aggregates::compliance::DeadlinePolicy;
use icac_format::keys::LedgerKey;
use icac_ledger::audit::verify::{verify_storage, VerifyOptions};
use icac_ledger::bench::generate::{generate, GenerateError, GenerateOptions};
use icac_ledger::commands::deconfliction_key::DeconflictionKey;
use icac_ledger::commands::{demo, Commands};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::ledger::sealed_from_row;
use icac_ledger::read_side::annual;
use icac_ledger::read_side::rebuild::rebuild;
use icac_ledger::read_side::{models_at, store};
use icac_ledger::storage::Storage;
use icac_projections::report::Parameters;
use jiff::civil::date;

const CASES: usize = 40;
const SEED: u64 = 7;
/// Both runs compare identifiers under one deconfliction key, so their fingerprints
/// (payloads and stream ids) are the same.
const DECONFLICTION_KEY: [u8; 32] = [0x5a; 32];

/// Everything about each event that a run decides (not the key, clock or hashes).
async fn contents(storage: &Storage) -> Vec<(u64, String, String, u64, String, String, String)> {
    let rows = storage
        .read_page(&ledger_id(), 1, 1_000_000)
        .await
        .expect("read");
    let mut out = Vec::new();
    for row in rows {
        let r = sealed_from_row(row).expect("row").record;
        if r.aggregate_type == "ledger" {
            continue;
        }
        out.push((
            r.position,
            r.stream().to_string(),
            r.event_type.clone(),
            r.sequence,
            // Salts are random: compare what was sealed, not the commitments.
            crate::support::common::opened(storage, &r)
                .await
                .to_string(),
            r.metadata.principal,
            r.metadata.request_id,
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_writes_the_demo_ledger_and_projections_read_it() {
    for kind in KINDS {
        // The demo through the real command path.
        let demo_db = TestDb::new(kind).await;
        let demo_ledger = open_ledger(&demo_db, &LedgerKey::generate()).await;
        let commands = Commands::open_with_deconfliction_key(
            demo_ledger.clone(),
            DeconflictionKey::from_bytes(DECONFLICTION_KEY),
        )
        .await
        .expect("commands");
        let by_commands = demo::run(&commands, CASES, SEED, |_, _| {})
            .await
            .expect("demo");
        drop(commands);
        demo_ledger.shutdown().await;

        // The generator, with far more requests in flight than commands per case.
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let options = GenerateOptions {
            cases: CASES,
            seed: SEED,
            max_events: None,
            in_flight: 512,
            deconfliction_key: Some(DECONFLICTION_KEY),
        };
        let summary = generate(&ledger, options, |_| {}).await.expect("generate");
        assert_eq!(summary.rejected, by_commands.rejected, "{kind:?}");
        assert_eq!(summary.commands, by_commands.commands, "{kind:?}");
        let storage = db.storage().await;
        let generated = contents(&storage).await;
        let expected = contents(&demo_db.storage().await).await;
        assert_eq!(generated.len() as u64, summary.events, "{kind:?}");
        assert!(generated.len() > CASES * 5, "{kind:?}: {}", generated.len());
        assert!(
            generated.iter().any(|e| e.2 == "CorrectionRecorded"),
            "{kind:?}: the scenario has corrections, which name positions"
        );
        for event_type in [
            "FingerprintsRegistered",
            "DeconflictionMatch",
            "DeconflictionNotChecked",
            "TipReceived",
            "TipDisseminated",
            "TipAcknowledged",
        ] {
            assert!(
                generated.iter().any(|e| e.2 == event_type),
                "{kind:?}: the scenario has {event_type} (deconfliction, tip intake)"
            );
        }
        assert_eq!(generated, expected, "{kind:?}: generator != demo");

        // A second run would duplicate the scenario: refused, nothing written.
        let head = ledger.head().await.expect("head").position;
        let again = generate(&ledger, options, |_| {}).await;
        assert!(
            matches!(again, Err(GenerateError::NotFresh(n)) if n == summary.events),
            "{kind:?}: {again:?}"
        );
        assert_eq!(ledger.head().await.expect("head").position, head);
        ledger.shutdown().await;

        // It verifies, rebuilds, and reports.
        let report = verify_storage(&storage, &ledger_id(), VerifyOptions::default())
            .await
            .expect("verify");
        assert!(report.intact, "{kind:?}");
        let rebuilt = rebuild(&storage, &ledger_id(), |_| {})
            .await
            .expect("rebuild");
        assert_eq!(rebuilt.position, head);
        let stored = store::load(&storage, &ledger_id()).await.expect("load");
        let folded = models_at(&storage, &ledger_id(), head).await.expect("fold");
        assert_eq!(stored, folded, "{kind:?}");
        assert_eq!(folded.orphans, 0, "{kind:?}");
        let report = annual::build(
            &storage,
            &ledger_id(),
            &key,
            Parameters {
                from: date(2024, 7, 1),
                to: date(2025, 6, 30),
                suppression_threshold: 10,
                protection_width: 10,
                deadline_policy: DeadlinePolicy::default(),
            },
            None,
            None,
        )
        .await
        .expect("report");
        assert!(report.figures.notifications.total > 0, "{kind:?}");
        assert!(annual::verify(&storage, &ledger_id(), &report)
            .await
            .expect("report verify")
            .is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_stops_at_the_event_count_asked_for() {
    let db = TestDb::new(crate::support::common::Kind::Sqlite).await;
    let ledger = open_ledger(&db, &LedgerKey::generate()).await;
    let summary = generate(&ledger, GenerateOptions::for_events(300, 3), |_| {})
        .await
        .expect("generate");
    // It stops after the command that reaches the count; one command writes a few events.
    assert!((300..310).contains(&summary.events), "{}", summary.events);
    assert_eq!(
        ledger.head().await.expect("head").position,
        summary.events + 1
    );
    ledger.shutdown().await;
}
