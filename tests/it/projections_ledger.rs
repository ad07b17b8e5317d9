//! Projections against real SQLite and PostgreSQL ledgers filled by the demo
//! through the real command path.

use crate::support::{common, slow};

use common::{ledger_id, open_ledger, TestDb, KINDS};
use icac_aggregates::compliance::DeadlinePolicy;
use icac_format::keys::LedgerKey;
use icac_ledger::commands::{demo, Commands};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::read_side::history::case_history;
use icac_ledger::read_side::rebuild::rebuild;
use icac_ledger::read_side::runner::ProjectionRunner;
use icac_ledger::read_side::{annual, models_at, store};
use icac_projections::history::Cut;
use icac_projections::report::render::{json, render, Format};
use icac_projections::report::Parameters;
use jiff::civil::date;

const CASES: usize = 40;

fn params() -> Parameters {
    Parameters {
        from: date(2024, 7, 1),
        to: date(2025, 6, 30),
        suppression_threshold: 10,
        protection_width: 10,
        deadline_policy: DeadlinePolicy::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_views_equal_a_rebuild_and_reports_verify() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let storage = ledger.storage().clone();
        let id = ledger_id();

        // Live: the runner follows every commit while the demo runs.
        let runner = ProjectionRunner::open(storage.clone(), id.clone())
            .await
            .expect("runner");
        let task = runner.spawn(&ledger);
        let commands = Commands::open(ledger.clone()).await.expect("commands");
        let summary = demo::run(&commands, CASES, 7, |_, _| {})
            .await
            .expect("demo");
        assert_eq!(summary.rejected, 0, "{kind:?}");
        let head = ledger.head().await.expect("head").position;
        assert_eq!(runner.catch_up().await.expect("catch up"), head);
        task.abort();

        let live = store::load(&storage, &id).await.expect("load live");
        assert_eq!(live.position, head);
        assert!(
            live.cases.len() >= CASES / 2,
            "{kind:?}: {} cases",
            live.cases.len()
        );
        let pure = models_at(&storage, &id, head).await.expect("pure fold");
        assert_eq!(live.cases, pure.cases);
        assert_eq!(live.units, pure.units);

        let summary = rebuild(&storage, &id, |_| {}).await.expect("rebuild");
        assert_eq!(summary.position, head);
        let rebuilt = store::load(&storage, &id).await.expect("load rebuilt");
        assert_eq!(rebuilt, live, "{kind:?}: rebuilt != live");
        // A second rebuild swaps again cleanly (constraint names reused).
        rebuild(&storage, &id, |_| {})
            .await
            .expect("second rebuild");
        assert_eq!(store::load(&storage, &id).await.expect("load"), live);

        // History at a past position equals the pure fold cut there.
        let (case_id, view) = live
            .cases
            .iter()
            .max_by_key(|(_, v)| (v.corrections.len(), v.version))
            .expect("a case");
        let first = view.opened_at;
        let _ = first;
        let full = case_history(&storage, &id, case_id, Cut::Head)
            .await
            .expect("history");
        assert_eq!(full.view.as_ref(), Some(view));
        for entry in &full.entries {
            let h = case_history(
                &storage,
                &id,
                case_id,
                Cut::AtPosition {
                    position: entry.position,
                },
            )
            .await
            .expect("history cut");
            let cut = models_at(&storage, &id, entry.position)
                .await
                .expect("fold cut");
            assert_eq!(
                h.view.as_ref(),
                cut.cases.get(case_id),
                "{kind:?} at {}",
                entry.position
            );
        }

        // Report: byte-identical twice, verifies, and fails once edited.
        let at = Some(head - 3);
        let one = annual::build(&storage, &id, &key, params(), at, Some("Extend.".into()))
            .await
            .expect("report");
        let two = annual::build(&storage, &id, &key, params(), at, Some("Extend.".into()))
            .await
            .expect("report");
        let text = render(&one, Format::Json).expect("json");
        assert_eq!(text, render(&two, Format::Json).expect("json"));
        assert_eq!(
            render(&one, Format::Html).unwrap(),
            render(&two, Format::Html).unwrap()
        );
        let parsed = json::parse(&text).expect("parse");
        assert!(annual::verify(&storage, &id, &parsed)
            .await
            .expect("verify")
            .is_empty());
        let mut edited = parsed.clone();
        edited.figures.notifications.total += 1;
        let problems = annual::verify(&storage, &id, &edited)
            .await
            .expect("verify");
        assert!(
            problems.iter().any(|p| p.contains("notifications.total")),
            "{problems:?}"
        );
        let mut forged = parsed.clone();
        forged.attestation.checkpoint = forged.attestation.checkpoint.replace("\n— ", "\n— x");
        assert!(!annual::verify(&storage, &id, &forged)
            .await
            .expect("verify")
            .is_empty());

        drop(commands);
        ledger.shutdown().await;
    }
}

/// A replay that stops on the way (releases cut at earlier positions take their true
/// counts from one pass) hands out, at each stop, partitions that together are
/// exactly the models of a fold to that position, and its end result is the plain
/// fold's: stops inside a page, at a page's last row, at the end, repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_with_stops_sees_the_fold_at_each_stop() {
    if slow::skip("a_replay_with_stops_sees_the_fold_at_each_stop") {
        return;
    }
    use icac_ledger::read_side::replay::{replay_with_stops, Snapshot};
    use icac_projections::ReadModels;
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let storage = ledger.storage().clone();
        let id = ledger_id();
        let commands = Commands::open(ledger.clone()).await.expect("commands");
        // Enough cases for more than one page of the replay (4,096 rows).
        demo::run(&commands, 800, 7, |_, _| {}).await.expect("demo");
        let head = ledger.head().await.expect("head").position;
        assert!(head > 4096, "{kind:?}: {head} events fill more than a page");
        let stops = vec![head / 3, 4096, head / 2, head / 3, 1, head];
        let snapshot: Snapshot<ReadModels> = Box::new(|position, parts: &[ReadModels]| {
            ReadModels::merge(parts.to_vec(), position).expect("merge")
        });
        let (replayed, seen) = replay_with_stops(
            &storage,
            &id,
            Some(head),
            true,
            Some((stops, snapshot)),
            |_| {},
        )
        .await
        .expect("replay with stops");
        let positions: Vec<u64> = seen.iter().map(|(p, _)| *p).collect();
        let mut want = vec![1, 4096, head / 3, head / 2, head];
        want.sort_unstable();
        assert_eq!(positions, want, "{kind:?}");
        for (position, models) in &seen {
            let plain = models_at(&storage, &id, *position).await.expect("fold");
            assert_eq!(models, &plain, "{kind:?} at {position}");
        }
        let plain = annual::ledger_at(&storage, &id, head).await.expect("fold");
        assert_eq!(replayed.models, plain.models, "{kind:?}");
        assert_eq!(replayed.root, Some(plain.root), "{kind:?}");
        // A stop beyond the end is refused before anything is read.
        let beyond: Snapshot<()> = Box::new(|_, _: &[ReadModels]| ());
        assert!(replay_with_stops(
            &storage,
            &id,
            Some(head / 2),
            false,
            Some((vec![head], beyond)),
            |_| {}
        )
        .await
        .is_err());
        drop(commands);
        ledger.shutdown().await;
    }
}
