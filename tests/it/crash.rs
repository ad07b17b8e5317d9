//! Crash safety of the real server: `icac-ledger serve` as a child process is killed
//! with SIGKILL in the middle of a concurrent write load over HTTP, restarted, 20 times
//! in a row, on SQLite and on PostgreSQL. Afterwards every request that got a 2xx is in
//! the ledger exactly once (matched by the request id the server returned and recorded
//! in the event's metadata), no case is filed twice, `icac-ledger verify` exits 0, and
//! the projections catch up to the head.

use crate::support::{child_server, common, slow};

use std::time::{Duration, Instant};

use child_server::{check_acknowledged, Deployment, Journal, Load, LoadSpec, Sent};
use common::{Kind, TestDb};

const CYCLES: usize = 20;
const CLIENTS: usize = 6;

async fn crash_cycles(kind: Kind) {
    let db = TestDb::new(kind).await;
    let (deployment, tokens) = Deployment::init(&db.url);
    let journal = Journal::default();
    let started = Instant::now();
    let mut rng = cycle_lengths();

    for cycle in 0..CYCLES {
        let server = deployment.serve(&format!("cycle{cycle}")).await;
        if cycle == 0 {
            server.register_units(&tokens).await;
        }
        let before = journal.answers().len();
        let load = Load::start(LoadSpec {
            base: &server.base,
            token: &tokens.investigator,
            tasks: CLIENTS,
            tag: &format!("K{cycle}"),
            keep_going: false,
            journal: journal.clone(),
            started,
        });
        // Kill at a different moment each cycle, once some requests have succeeded
        // (however slow the machine), always with requests in flight.
        let deadline = Instant::now() + Duration::from_secs(60);
        while acknowledged_since(&journal, before) < 3 {
            assert!(
                Instant::now() < deadline,
                "{kind:?} cycle {cycle}: no request succeeded within 60 s; log:\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng())).await;
        server.kill();
        load.stop().await;
    }

    // Restart once more: the server must come up on whatever the kills left behind.
    let server = deployment.serve("final").await;
    let size = server
        .wait_projections(&tokens, Duration::from_secs(60))
        .await;
    let answers = journal.answers();

    // The server answered every request it answered with success: no 4xx or 5xx under
    // a load of valid commands; only the kill itself may cut a request off.
    let refused: Vec<_> = answers
        .iter()
        .filter(|a| a.status.is_some_and(|s| s >= 300))
        .collect();
    assert!(
        refused.is_empty(),
        "{kind:?}: refused requests: {refused:?}"
    );

    // Projections serve every acknowledged case.
    for a in answers.iter().filter(|a| a.status == Some(201)) {
        if let Sent::Filing { case_id } = &a.sent {
            let (st, body) = server
                .get(&tokens.investigator, &format!("/v1/cases/{case_id}"))
                .await;
            assert_eq!(st, 200, "{kind:?}: {case_id} after the crashes: {body}");
        }
    }
    server.kill();

    let events = deployment.events().await;
    assert_eq!(events.len() as u64, size, "{kind:?}: size seen by the API");
    let (acknowledged, unacknowledged_present) = check_acknowledged(&answers, &events);
    deployment.assert_verifies();
    let cut_off = answers.iter().filter(|a| a.status.is_none()).count();
    eprintln!(
        "{kind:?}: {CYCLES} SIGKILLs, {} requests, {acknowledged} acknowledged and all present, \
         {cut_off} cut off by a kill ({unacknowledged_present} filings of them committed anyway), \
         {size} events, verify ok",
        answers.len()
    );
}

fn acknowledged_since(journal: &Journal, before: usize) -> usize {
    journal.answers()[before..]
        .iter()
        .filter(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
        .count()
}

/// Extra load time per cycle, 0-300 ms, from a fixed seed so a failure reproduces.
fn cycle_lengths() -> impl FnMut() -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % 300
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_sqlite() {
    if slow::skip("sigkill_under_load_sqlite") {
        return;
    }
    crash_cycles(Kind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_postgres() {
    if slow::skip("sigkill_under_load_postgres") {
        return;
    }
    crash_cycles(Kind::Postgres).await;
}
