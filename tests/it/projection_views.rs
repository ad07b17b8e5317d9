//! The view tables and the runner's bounded working set, against real SQLite and
//! PostgreSQL ledgers filled by the demo through the real command path: views let go
//! and read back fold to what the pure fold gives, the working set never exceeds its
//! bound, and every read the API makes from the tables (case pages with their 14-day
//! filter, compliance, units, operations, the intake queue) equals the answer the
//! whole in-memory read models gave for the same ledger.

use crate::support::{common, slow};

use common::{ledger_id, open_ledger, TestDb, KINDS};
use icac_aggregates::compliance::DeadlinePolicy;
use icac_aggregates::ids::Ori;
use icac_format::keys::LedgerKey;
use icac_ledger::commands::{demo, Commands};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::read_side::rebuild::rebuild;
use icac_ledger::read_side::runner::{CacheLimits, ProjectionRunner};
use icac_ledger::read_side::views::{self, CaseListQuery, StatusFilter};
use icac_ledger::read_side::{models_at, store};
use icac_projections::case_view::CaseView;
use icac_projections::compliance::{assess_case, compliance};
use icac_projections::ReadModels;
use jiff::civil::Date;
use jiff::ToSpan;

const CASES: usize = 60;

/// The working set's bounds in these tests: small enough that nearly every batch
/// reads views back from the tables.
const TINY: CacheLimits = CacheLimits {
    views: 6,
    bytes: 8 * 1024,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounded_runner_writes_what_the_pure_fold_gives() {
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let storage = ledger.storage().clone();
        let id = ledger_id();

        // Live, with a working set of a few views: almost every batch evicts some and
        // reads others back from their tables.
        let runner = ProjectionRunner::open_with_limits(storage.clone(), id.clone(), TINY)
            .await
            .expect("runner");
        let task = runner.spawn(&ledger);
        let commands = Commands::open(ledger.clone()).await.expect("commands");
        let summary = demo::run(&commands, CASES, 11, |_, _| {})
            .await
            .expect("demo");
        assert_eq!(summary.rejected, 0, "{kind:?}");
        let head = ledger.head().await.expect("head").position;
        assert_eq!(runner.catch_up().await.expect("catch up"), head);
        task.abort();

        // The most views it ever held (counted at every view it takes in).
        let stats = runner.cache_stats().await;
        assert!(stats.peak_views <= TINY.views, "{kind:?}: {stats:?}");
        assert!(stats.bytes <= TINY.bytes, "{kind:?}: {stats:?}");
        assert!(stats.evicted > 0 && stats.loaded > 0, "{kind:?}: {stats:?}");
        assert_eq!(stats.unwritten, 0, "{kind:?}");

        // What the tables hold equals the pure fold of the whole ledger.
        let pure = models_at(&storage, &id, head).await.expect("pure fold");
        let stored = store::load(&storage, &id).await.expect("load");
        assert_eq!(stored.position, head);
        assert_same(&stored.cases, &pure.cases, &format!("{kind:?} cases"));
        assert_eq!(stored.operations, pure.operations, "{kind:?}");
        assert_eq!(stored.public_reports, pure.public_reports, "{kind:?}");
        assert_eq!(stored.units, pure.units, "{kind:?}");
        assert!(pure.cases.len() >= CASES / 2, "{kind:?}");

        // One view reads the same whether the runner holds it or lets it go.
        for (case_id, view) in &pure.cases {
            let read = runner.case_view(case_id).await.expect("case view");
            assert_eq!(read.as_ref(), Some(view), "{kind:?} {case_id}");
        }

        // A runner behind views another process already wrote (its position row says
        // 0, the views say head) skips the events they hold instead of folding them twice.
        db.exec("UPDATE projection_positions SET position = 0")
            .await
            .expect("rewind");
        let behind = ProjectionRunner::open_with_limits(storage.clone(), id.clone(), TINY)
            .await
            .expect("runner");
        assert_eq!(behind.position().await, 0);
        assert_eq!(behind.catch_up().await.expect("catch up"), head);
        let again = store::load(&storage, &id).await.expect("load");
        assert_same(
            &again.cases,
            &pure.cases,
            &format!("{kind:?}: folded twice"),
        );
        assert_eq!(again.public_reports, pure.public_reports, "{kind:?}");

        // The kept totals (view_counts, by trigger) count the rows.
        let all = behind
            .case_page(&CaseListQuery {
                unit: None,
                visible_to: None,
                status: None,
                as_of: jiff::civil::date(2030, 1, 1),
                policy: DeadlinePolicy::default(),
                offset: 0,
                limit: 1,
            })
            .await
            .expect("page");
        assert_eq!(all.total, pure.cases.len(), "{kind:?}");
        let queue = behind.intake_page(0, 1).await.expect("intake");
        assert_eq!(queue.all, pure.public_reports.len() as u64, "{kind:?}");
        assert_eq!(queue.open, pure.intake_queue().len() as u64, "{kind:?}");

        drop(commands);
        ledger.shutdown().await;
    }
}

/// The case list as the API computed it over the whole in-memory read models before
/// the views moved to their tables (src/http/routes/queries.rs, `case_summaries`): the
/// oracle the SQL pages are checked against.
fn listed_in_memory<'a>(
    models: &'a ReadModels,
    q: &CaseListQuery,
    want: Option<&str>,
) -> Vec<&'a CaseView> {
    let report =
        compliance(models.cases.values(), q.as_of, &q.policy, q.unit.as_ref()).expect("compliance");
    let by_case: std::collections::HashMap<String, String> = report
        .notifications
        .iter()
        .map(|n| {
            let tag = serde_json::to_value(n.status).expect("status")["status"]
                .as_str()
                .expect("tag")
                .to_owned();
            (n.case_id.to_string(), tag)
        })
        .collect();
    let mut out: Vec<&CaseView> = models
        .cases
        .values()
        .filter(|c| q.unit.as_ref().is_none_or(|u| &c.reporting_unit == u))
        .filter(|c| {
            q.visible_to.as_ref().is_none_or(|own| {
                c.case_id.as_str().split_once(':').map(|(u, _)| u) == Some(own.as_str())
            })
        })
        .filter(|c| {
            want.is_none_or(|w| by_case.get(c.case_id.as_str()).map(String::as_str) == Some(w))
        })
        .collect();
    out.sort_by(|a, b| {
        b.received_on
            .cmp(&a.received_on)
            .then(a.case_id.as_str().cmp(b.case_id.as_str()))
    });
    out
}

/// Dates worth asking about: around the received dates of the ledger's cases (on the
/// due date, the day after, inside the due-soon window) and beyond the last.
fn as_of_dates(models: &ReadModels) -> Vec<Date> {
    let mut received: Vec<Date> = models.cases.values().map(|c| c.received_on).collect();
    received.sort();
    received.dedup();
    let mut dates = Vec::new();
    let step = (received.len() / 4).max(1);
    for d in received.iter().step_by(step) {
        for offset in [0, 11, 14, 15, 40] {
            dates.push(d.checked_add(offset.days()).expect("date"));
        }
    }
    if let Some(last) = received.last() {
        dates.push(last.checked_add(400.days()).expect("date"));
    }
    dates.push(jiff::civil::date(2000, 1, 1));
    dates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_from_the_tables_equal_the_in_memory_answers() {
    if slow::skip("reads_from_the_tables_equal_the_in_memory_answers") {
        return;
    }
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let key = LedgerKey::generate();
        let ledger = open_ledger(&db, &key).await;
        let storage = ledger.storage().clone();
        let id = ledger_id();
        let commands = Commands::open(ledger.clone()).await.expect("commands");
        demo::run(&commands, CASES, 5, |_, _| {})
            .await
            .expect("demo");
        let runner = ProjectionRunner::open(storage.clone(), id.clone())
            .await
            .expect("runner");
        let head = runner.catch_up().await.expect("catch up");
        let models = models_at(&storage, &id, head).await.expect("pure fold");

        // Twice: as the live runner wrote the tables, and as a rebuild swapped them in
        // (the rebuild makes the index columns and indexes itself).
        for round in ["live", "rebuilt"] {
            if round == "rebuilt" {
                rebuild(&storage, &id, |_| {}).await.expect("rebuild");
            }
            let label = format!("{kind:?} {round}");
            check_case_pages(&runner, &models, &label).await;
            check_compliance(&runner, &models, &label).await;

            let units = runner.units().await.expect("units");
            assert_eq!(
                units,
                models.units.values().cloned().collect::<Vec<_>>(),
                "{label}"
            );
            let operations = runner.operations().await.expect("operations");
            assert_eq!(
                operations,
                models.operations.values().cloned().collect::<Vec<_>>(),
                "{label}"
            );
            let queue: Vec<_> = models.intake_queue().into_iter().cloned().collect();
            for (offset, limit) in [(0, 100), (0, 1), (1, 2), (queue.len(), 5)] {
                let page = runner.intake_page(offset, limit).await.expect("intake");
                assert_eq!(page.all, models.public_reports.len() as u64, "{label}");
                assert_eq!(page.open, queue.len() as u64, "{label}");
                let want: Vec<_> = queue.iter().skip(offset).take(limit).cloned().collect();
                assert_eq!(page.reports, want, "{label} intake {offset}+{limit}");
            }
        }
        drop(commands);
        ledger.shutdown().await;
    }
}

async fn check_case_pages(runner: &ProjectionRunner, models: &ReadModels, label: &str) {
    let mut units: Vec<Ori> = models
        .cases
        .values()
        .map(|c| c.reporting_unit.clone())
        .collect();
    units.sort();
    units.dedup();
    let scopes: Vec<(Option<Ori>, Option<Ori>)> = vec![
        (None, None),
        (units.first().cloned(), None),
        (units.last().cloned(), units.last().cloned()),
        (None, units.first().cloned()),
    ];
    let roll = DeadlinePolicy {
        roll_to_business_day: true,
        ..DeadlinePolicy::default()
    };
    let mut nonempty_filtered = 0;
    for policy in [DeadlinePolicy::default(), roll] {
        for as_of in as_of_dates(models) {
            for (unit, visible_to) in &scopes {
                for want in [
                    None,
                    Some("on_time"),
                    Some("late"),
                    Some("pending"),
                    Some("due_soon"),
                    Some("overdue"),
                ] {
                    let mut q = CaseListQuery {
                        unit: unit.clone(),
                        visible_to: visible_to.clone(),
                        status: want.map(|w| StatusFilter::parse(w).expect("filter")),
                        as_of,
                        policy,
                        offset: 0,
                        limit: 500,
                    };
                    let expected = listed_in_memory(models, &q, want);
                    if want.is_some() && !expected.is_empty() {
                        nonempty_filtered += 1;
                    }
                    for (offset, limit) in [(0, 500), (0, 7), (5, 3), (expected.len(), 10)] {
                        q.offset = offset;
                        q.limit = limit;
                        let page = runner.case_page(&q).await.expect("page");
                        let want_page: Vec<CaseView> = expected
                            .iter()
                            .skip(offset)
                            .take(limit)
                            .map(|c| (*c).clone())
                            .collect();
                        assert_eq!(page.total, expected.len(), "{label} {q:?}");
                        assert_eq!(page.cases, want_page, "{label} {q:?}");
                        // The labels the page shows are computed from these views.
                        for c in &page.cases {
                            assess_case(c, as_of, &policy).expect("assess");
                        }
                    }
                }
            }
        }
    }
    assert!(
        nonempty_filtered > 20,
        "{label}: the dates chosen exercise few filters ({nonempty_filtered})"
    );
}

async fn check_compliance(runner: &ProjectionRunner, models: &ReadModels, label: &str) {
    let roll = DeadlinePolicy {
        roll_to_business_day: true,
        ..DeadlinePolicy::default()
    };
    let unit = models
        .cases
        .values()
        .next()
        .map(|c| c.reporting_unit.clone());
    for policy in [DeadlinePolicy::default(), roll] {
        for as_of in as_of_dates(models) {
            for unit in [None, unit.as_ref()] {
                let want =
                    compliance(models.cases.values(), as_of, &policy, unit).expect("in memory");
                let got = runner
                    .compliance(as_of, unit, &policy)
                    .await
                    .expect("from the table");
                assert_eq!(got, want, "{label} {as_of} {unit:?}");
                let counts = runner
                    .compliance_counts(as_of, unit, &policy)
                    .await
                    .expect("counts");
                assert!(counts.notifications.is_empty());
                assert_eq!(counts.units, want.units, "{label}");
                assert_eq!(counts.total, want.total, "{label}");
            }
        }
    }
    // The views module answers the same without a runner.
    let head = runner.position().await;
    assert!(head > 0);
    let _ = views::StatusFilter::parse("late");
}

/// Equal maps, or a panic naming the first key that differs and how.
fn assert_same<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    got: &std::collections::BTreeMap<K, V>,
    want: &std::collections::BTreeMap<K, V>,
    label: &str,
) {
    let got_keys: Vec<&K> = got.keys().collect();
    let want_keys: Vec<&K> = want.keys().collect();
    assert_eq!(got_keys, want_keys, "{label}: different views");
    for (k, v) in want {
        assert_eq!(got.get(k), Some(v), "{label}: {k:?} differs");
    }
}
