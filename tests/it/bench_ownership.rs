//! Benchmarks never touch a user's ledger, and a ledger holding events of a type this
//! build does not know still opens: the read models skip them (and say so), `verify`
//! still checks them. Against the real binary on a real SQLite file.

use crate::support::child_server::{show, Deployment};
use icac_format::keys::LedgerKey;
use icac_format::record::{LedgerId, StreamId};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::ledger::sequencer::{AppendRequest, NewEvent, RequestContext};
use icac_ledger::ledger::Ledger;
use icac_ledger::storage::Storage;
use serde_json::json;

/// The reliability harness's ledger id (`child_server`).
const LEDGER_ID: &str = "ct-icac-reliability";

fn sqlite_url(dir: &tempfile::TempDir, name: &str) -> String {
    format!("sqlite://{}", dir.path().join(name).display())
}

#[test]
fn bench_commands_refuse_a_ledger_they_did_not_create() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (user, _tokens) = Deployment::init(&sqlite_url(&dir, "user.db"));
    let out = user.cli(&["demo", "--cases", "2"]);
    assert!(out.status.success(), "demo: {}", show(&out));
    let size = |d: &Deployment| -> u64 {
        let out = d.cli(&["status", "--json"]);
        assert!(out.status.success(), "status: {}", show(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v["size"].as_u64().expect("size")
    };
    let before = size(&user);
    for args in [
        &[
            "bench",
            "verify",
            "--events",
            "2000",
            "--raw-signatures",
            "64",
        ][..],
        &["bench", "generate", "--events", "200"][..],
        &["bench", "rebuild", "--events", "5000"][..],
        &["bench", "report", "--events", "5000"][..],
    ] {
        let out = user.cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        assert!(
            show(&out).contains("not created by a benchmark"),
            "{args:?}: {}",
            show(&out)
        );
    }
    assert_eq!(
        size(&user),
        before,
        "a benchmark wrote to the user's ledger"
    );

    // A database of its own: created and grown, then used again.
    let bench_db = sqlite_url(&dir, "bench.db");
    let bench_key = dir.path().join("bench.key");
    for events in ["300", "300"] {
        let out = user
            .command()
            .args([
                "bench",
                "verify",
                "--events",
                events,
                "--raw-signatures",
                "64",
                "--json",
            ])
            .env("ICAC_LEDGER_DB", &bench_db)
            .env("ICAC_LEDGER_KEY", &bench_key)
            .output()
            .expect("bench verify");
        assert!(
            out.status.success(),
            "bench verify {events}: {}",
            show(&out)
        );
    }
    // A ledger big enough is only read: verifying the user's ledger is allowed.
    let out = user.cli(&["bench", "verify", "--events", "1", "--raw-signatures", "64"]);
    assert!(
        out.status.success(),
        "read-only bench verify: {}",
        show(&out)
    );
    assert_eq!(size(&user), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ledger_with_events_of_unknown_types_still_opens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir, "user.db");
    let (user, tokens) = Deployment::init(&url);
    let out = user.cli(&["demo", "--cases", "2"]);
    assert!(out.status.success(), "demo: {}", show(&out));

    // What the old `bench verify` appended to a user's ledger: events of a type the
    // domain does not know, in `case` streams, plus one of a type from some other build.
    {
        let storage = Storage::connect(&url).await.expect("connect");
        let id = LedgerId::new(LEDGER_ID).expect("id");
        let key = LedgerKey::load(&user.key).expect("key");
        let ledger = Ledger::open(storage, id, key).await.expect("open");
        for (aggregate_type, event_type) in [
            ("case", "BenchEventRecorded"),
            ("case", "BenchEventRecorded"),
            ("warrant", "WarrantServed"),
        ] {
            let n = rand_stream();
            ledger
                .append(AppendRequest {
                    stream: StreamId::new(aggregate_type, &format!("BENCH-0-{n}")),
                    expected_sequence: 0,
                    events: vec![NewEvent::plain(
                        event_type,
                        "1",
                        json!({ "i": 0, "task": 0, "note": "xxxx" }),
                    )],
                    context: RequestContext {
                        principal: "bench:generator".into(),
                        unit: Some("CT0000000".into()),
                        request_id: format!("bench-0-{n}"),
                        correlation_id: None,
                    },
                })
                .await
                .expect("append");
        }
        ledger.shutdown().await;
    }

    let report = dir.path().join("report.json");
    let report = report.to_str().expect("path");
    // Each command that reads past them says so (a second `compliance` finds the views
    // already caught up, and reads nothing).
    for args in [
        &["compliance"][..],
        &["projections", "rebuild"][..],
        &[
            "report",
            "annual",
            "--from",
            "2024-07-01",
            "--to",
            "2025-06-30",
            "--format",
            "json",
            "--without-recommendation",
            "--out",
            report,
        ][..],
    ] {
        let out = user.cli(args);
        assert!(out.status.success(), "{args:?}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("case/BenchEventRecorded") && stderr.contains("warrant/WarrantServed"),
            "{args:?} does not report what it skipped: {stderr}"
        );
    }
    let out = user.cli(&["compliance", "--format", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    user.assert_verifies();

    // And the server starts, catches up past them, and answers.
    let server = user.serve("unknown-events").await;
    let size = server
        .wait_projections(&tokens, std::time::Duration::from_secs(60))
        .await;
    assert!(size > 3);
    let (st, body) = server.get(&tokens.auditor, "/v1/ledger/status").await;
    assert_eq!(st, 200, "{body}");
    server.kill();
}

fn rand_stream() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
