//! Personal data sealed out of the chain (format version 2), on SQLite and PostgreSQL,
//! over real HTTP: planted values (a screen name, a phone number, a town, a share's
//! text, a public report's description) live only in the sealed store; investigators
//! see them, other roles see commitments; a supervisor erases them lawfully, after which
//! they are in no table, file or export, and the chain and bundles exported before and
//! after still verify.

use crate::support::{child_server, common, http_support};

use std::io::Cursor;

use common::{Kind, TestDb, KINDS};
use http_support::{form, start, Server, HARTFORD};
use icac_format::record::StreamId;
use icac_ledger::access::auth::Role;
use icac_ledger::audit::bundle::verify_bundle;
use icac_ledger::audit::verify::{verify_storage, VerifyOptions};
use icac_ledger::http::ServerConfig;
use icac_ledger::storage::{sealed_pack, StoredOpening};
use serde_json::{json, Value};
use sqlx::Row;

const SCREEN_NAME: &str = "zq7planted_screenname";
const PHONE: &str = "203-555-0142 x9771";
const TOWN: &str = "Zq7plantedton";
const SUMMARY: &str = "zq7 subscriber records for the planted account";
const DESCRIPTION: &str = "zq7 a stranger asked my son for photos";
const PLANTED: [&str; 5] = [SCREEN_NAME, PHONE, TOWN, SUMMARY, DESCRIPTION];

fn planted_form() -> Value {
    let mut f = form(HARTFORD, "ZQ-7", "555000777");
    f["officer"]["phone"] = json!(PHONE);
    f["subject_identifiers"][0]["value"] = json!(SCREEN_NAME);
    f["victim"]["town"] = json!(TOWN);
    f
}

/// Every row of every table, as text (bytea as hex, and as raw bytes where the driver
/// gives them), so a value anywhere in the database shows up.
async fn database_text(db: &TestDb) -> String {
    let mut out = String::new();
    match db.kind {
        Kind::Postgres => {
            let mut c: sqlx::PgConnection = sqlx::Connection::connect(&db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            for t in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT t::text FROM \"{t}\" t"))
                        .fetch_all(&mut c)
                        .await
                        .unwrap();
                for r in rows {
                    out.push_str(&r);
                    out.push('\n');
                }
            }
        }
        Kind::Sqlite => {
            let path = db.url.trim_start_matches("sqlite://");
            for suffix in ["", "-wal"] {
                if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                }
            }
        }
    }
    out
}

fn hex_of(s: &str) -> String {
    hex::encode(s.as_bytes())
}

/// Whether `text` holds `value`, plainly or hex-encoded (PostgreSQL prints bytea as hex).
fn holds(text: &str, value: &str) -> bool {
    text.contains(value) || text.contains(&hex_of(value))
}

/// On PostgreSQL, the bytes of the test database's files on disk after a checkpoint.
async fn pg_files(db: &TestDb) -> Vec<u8> {
    let mut c: sqlx::PgConnection = sqlx::Connection::connect(&db.url).await.unwrap();
    sqlx::query("CHECKPOINT").execute(&mut c).await.unwrap();
    let dir: String = sqlx::query_scalar("SHOW data_directory")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let oid: i64 =
        sqlx::query("SELECT oid::bigint FROM pg_database WHERE datname = current_database()")
            .fetch_one(&mut c)
            .await
            .unwrap()
            .get(0);
    let mut bytes = Vec::new();
    let base = std::path::Path::new(&dir)
        .join("base")
        .join(oid.to_string());
    if let Ok(entries) = std::fs::read_dir(base) {
        for e in entries.flatten() {
            if let Ok(b) = std::fs::read(e.path()) {
                if String::from_utf8_lossy(&b).contains(PHONE) {
                    let name = e.file_name().into_string().unwrap_or_default();
                    let node = name.split(['.', '_']).next().unwrap_or("0").to_owned();
                    let rel: Option<String> = sqlx::query_scalar(&format!(
                        "SELECT relname::text FROM pg_class WHERE pg_relation_filenode(oid) = {node}"
                    ))
                    .fetch_optional(&mut c)
                    .await
                    .unwrap_or(None);
                    eprintln!("the value is in file {name} ({rel:?})");
                }
                bytes.extend(b);
            }
        }
    }
    bytes
}

async fn export(s: &Server) -> String {
    let r = s
        .client
        .get(s.url("/v1/audit/export"))
        .bearer_auth(&s.tokens[&Role::Auditor])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn verify_text(bundle: &str) -> bool {
    verify_bundle(
        Box::new(Cursor::new(bundle.as_bytes().to_vec())),
        "test bundle",
        VerifyOptions::default(),
    )
    .expect("verify runs")
    .intact
}

async fn chain_intact(s: &Server) -> bool {
    verify_storage(
        s.state.ledger.storage(),
        s.state.ledger.id(),
        VerifyOptions::default(),
    )
    .await
    .expect("verify runs")
    .intact
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn personal_data_is_sealed_revealed_to_investigators_and_lawfully_erased() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let (st, filed) = s
            .post(Role::UnitReporter, "/v1/notifications", planted_form())
            .await;
        assert_eq!(st, 201, "{kind:?}: {filed}");
        let case_id = filed["case_id"].as_str().unwrap().to_owned();
        let share = json!({ "direction": { "direction": "task_force_to_units", "to_units": [HARTFORD] }, "category": "intelligence", "summary": SUMMARY });
        let (st, b) = s
            .post(
                Role::Investigator,
                &format!("/v1/cases/{case_id}/shares"),
                share,
            )
            .await;
        assert_eq!(st, 201, "{kind:?}: {b}");
        let report = json!({ "channel": "hotline", "content": { "description": DESCRIPTION, "links": [SCREEN_NAME] } });
        let (st, b) = s
            .post(Role::Investigator, "/v1/public-reports", report)
            .await;
        assert_eq!(st, 201, "{kind:?}: {b}");

        // The chain holds commitments only; the sealed store holds every value.
        let storage = s.state.ledger.storage();
        let rows = storage
            .read_page(s.state.ledger.id(), 1, 10_000)
            .await
            .unwrap();
        for row in &rows {
            let text = String::from_utf8_lossy(&row.canonical);
            for v in PLANTED {
                assert!(
                    !text.contains(v),
                    "{kind:?}: {v} is in the chain at {}",
                    row.position
                );
            }
        }
        let sealed = storage
            .sealed_of_stream(s.state.ledger.id(), &StreamId::new("case", &case_id))
            .await
            .unwrap();
        let values: Vec<String> = sealed
            .iter()
            .map(|r| String::from_utf8_lossy(&r.opening.value).into_owned())
            .collect();
        for v in [SCREEN_NAME, PHONE, TOWN, SUMMARY] {
            assert!(
                values.iter().any(|x| x.contains(v)),
                "{kind:?}: {v} not sealed: {values:?}"
            );
        }
        let everything = database_text(&s.db).await;
        assert!(
            holds(&everything, PHONE),
            "{kind:?}: the store holds the value"
        );

        // Investigators see the values; unit reporters see commitments; every reveal is logged.
        let path = format!("/v1/cases/{case_id}/history");
        let (st, h) = s.get(Role::Investigator, &path).await;
        assert_eq!(st, 200, "{kind:?}: {h}");
        let text = h.to_string();
        for v in [SCREEN_NAME, PHONE, SUMMARY] {
            assert!(text.contains(v), "{kind:?}: investigator does not see {v}");
        }
        let (st, h) = s.get(Role::UnitReporter, &path).await;
        assert_eq!(st, 200, "{kind:?}: {h}");
        let text = h.to_string();
        assert!(text.contains("\"sealed\""), "{kind:?}: {text}");
        for v in PLANTED {
            assert!(!text.contains(v), "{kind:?}: a unit reporter sees {v}");
        }
        // The role matrix for reveals: values exactly for the roles allowed to see them.
        for role in Role::ALL {
            let (st, h) = s.get(role, &path).await;
            if !role.allows(icac_ledger::access::auth::Permission::ReadCases) {
                assert!(st == 403, "{kind:?}: {role} reads history: {st}");
                continue;
            }
            let sees = h.to_string().contains(PHONE);
            let may = role.allows(icac_ledger::access::auth::Permission::RevealPersonalData);
            assert_eq!(sees, may, "{kind:?}: {role} sees personal data: {sees}");
        }
        let (_, q) = s.get(Role::Investigator, "/v1/public-reports").await;
        assert!(
            q.to_string().contains(DESCRIPTION),
            "{kind:?}: intake sees the report: {q}"
        );
        let (_, log) = s.get(Role::Auditor, "/v1/audit/access-log").await;
        assert!(
            log.to_string().contains("personal_data_reveal"),
            "{kind:?}: {log}"
        );
        for v in PLANTED {
            assert!(
                !log.to_string().contains(v),
                "{kind:?}: the access log holds {v}"
            );
        }

        // The default export holds no personal value and verifies.
        let before = export(&s).await;
        for v in PLANTED {
            assert!(!before.contains(v), "{kind:?}: the export holds {v}");
        }
        assert!(verify_text(&before), "{kind:?}");
        assert!(chain_intact(&s).await, "{kind:?}");

        // Erasure: least privilege, clear refusals that record nothing.
        let erase = format!("/v1/cases/{case_id}/erase");
        let head = s.head().await;
        let (st, b) = s
            .post(Role::Investigator, &erase, json!({ "reason": "dismissed" }))
            .await;
        assert_eq!(st, 403, "{kind:?}: {b}");
        let (st, b) = s
            .post(Role::Supervisor, &erase, json!({ "reason": " " }))
            .await;
        assert_eq!(st, 422, "{kind:?}: {b}");
        let (st, b) = s.post(Role::Supervisor, &erase, json!({})).await;
        assert_eq!(st, 422, "{kind:?}: {b}");
        let (st, b) = s
            .post(
                Role::Supervisor,
                "/v1/cases/CT0006400:NOPE-1/erase",
                json!({ "reason": "dismissed" }),
            )
            .await;
        assert_eq!(st, 404, "{kind:?}: {b}");
        assert_eq!(s.head().await, head, "{kind:?}: refusals record nothing");

        let reason = "C.G.S. 54-142a(a): charge dismissed";
        let (st, b) = s
            .post(Role::Supervisor, &erase, json!({ "reason": reason }))
            .await;
        assert_eq!(st, 201, "{kind:?}: {b}");
        assert_eq!(
            b["compaction"],
            json!({ "status": "done" }),
            "{kind:?}: {b}"
        );
        assert_eq!(b["values"], json!(sealed.len()), "{kind:?}: {b}");
        assert_eq!(
            s.head().await,
            head + 1,
            "{kind:?}: one PersonalDataErased event"
        );
        let (st, b) = s
            .post(Role::Supervisor, &erase, json!({ "reason": reason }))
            .await;
        assert_eq!(st, 409, "{kind:?}: erasing twice: {b}");
        assert_eq!(s.head().await, head + 1, "{kind:?}");

        // Gone from every table and file; the chain and both bundles verify.
        let after_text = database_text(&s.db).await;
        for v in [SCREEN_NAME, PHONE, TOWN, SUMMARY] {
            // The public report (another stream) still holds its own copy of the
            // screen name; the case's values are gone.
            if v == SCREEN_NAME {
                continue;
            }
            assert!(
                !holds(&after_text, v),
                "{kind:?}: {v} survives erasure in the database"
            );
        }
        if kind == Kind::Postgres {
            // A transaction still open anywhere in the cluster (the other tests here run
            // beside this one) can keep the dead row in the rewritten file; compacting
            // again once it has ended clears it (docs/OPERATIONS.md).
            let mut files = String::new();
            for _ in 0..40 {
                files = String::from_utf8_lossy(&pg_files(&s.db).await).into_owned();
                if ![PHONE, TOWN, SUMMARY].iter().any(|v| files.contains(v)) {
                    break;
                }
                s.db.exec("VACUUM FULL sealed_batches").await.unwrap();
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            for v in [PHONE, TOWN, SUMMARY] {
                assert!(
                    !files.contains(v),
                    "{kind:?}: {v} survives in a PostgreSQL data file"
                );
            }
        }
        assert!(chain_intact(&s).await, "{kind:?}: verify after erasure");
        assert!(verify_text(&before), "{kind:?}: the bundle exported before");
        let after = export(&s).await;
        assert!(verify_text(&after), "{kind:?}: the bundle exported after");
        for v in PLANTED
            .iter()
            .filter(|v| **v != DESCRIPTION && **v != SCREEN_NAME)
        {
            assert!(!after.contains(v), "{kind:?}");
        }
        // The case shows what was erased and why, never the values.
        let (_, h) = s.get(Role::Investigator, &path).await;
        let text = h.to_string();
        assert!(
            text.contains("\"erased\":true") && text.contains(reason),
            "{kind:?}: {text}"
        );
        for v in [PHONE, TOWN, SUMMARY] {
            assert!(!text.contains(v), "{kind:?}: {v} after erasure");
        }
        s.stop().await;
    }
}

/// A missing or corrupted sealed row is its own finding: the chain stays intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_reports_unavailable_and_corrupted_values_apart_from_the_chain() {
    use icac_ledger::audit::sealed_check::{check_sealed, SealedFinding};
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let (st, filed) = s
            .post(Role::UnitReporter, "/v1/notifications", planted_form())
            .await;
        assert_eq!(st, 201, "{kind:?}: {filed}");
        let storage = s.state.ledger.storage();
        let id = s.state.ledger.id();
        let clean = check_sealed(storage, id).await.unwrap();
        assert!(clean.ok() && clean.opened >= 7, "{kind:?}: {clean:?}");

        // An operator's stray DELETE (no erasure event): unavailable.
        // (A version 1 form is recorded in the version 2 shape: its town sits at
        // /victims/0/town.) A value swapped for another: corrupted (the value no longer
        // opens its commitment).
        rewrite_openings(&s, |openings| {
            let before = openings.len();
            openings.retain(|o| !o.opening.path.ends_with("/officer/phone"));
            assert_eq!(openings.len() + 1, before, "{kind:?}: one phone");
            let town = openings
                .iter_mut()
                .find(|o| o.opening.path.ends_with("/victims/0/town"))
                .expect("a town");
            town.opening.value = b"\"someone else\"".to_vec();
        })
        .await;
        let report = check_sealed(storage, id).await.unwrap();
        let kinds: Vec<SealedFinding> = report.listed.iter().map(|f| f.kind).collect();
        assert_eq!(kinds.len(), 2, "{kind:?}: {report:?}");
        assert!(
            kinds.contains(&SealedFinding::Unavailable),
            "{kind:?}: {report:?}"
        );
        assert!(
            kinds.contains(&SealedFinding::Corrupted),
            "{kind:?}: {report:?}"
        );
        assert!(
            chain_intact(&s).await,
            "{kind:?}: the chain itself is intact"
        );

        // The CLI says so too, and exits 1.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_icac-ledger"))
            .args(["--db", &s.db.url, "--ledger-id", id.as_str(), "verify"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{kind:?}: {text}");
        assert!(
            text.contains("Unavailable") && text.contains("Corrupted"),
            "{kind:?}: {text}"
        );
        s.stop().await;
    }
}

/// The CLI: `erase` refuses with exit 1 and a clear message, erases once, and `verify`
/// counts the erased values; `export-openings` writes one case's values, mode 0600.
#[test]
fn erase_and_export_openings_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("l.db").display());
    let key = dir.path().join("k.pem");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_icac-ledger"))
            .args(["--db", &db, "--key", key.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    assert_eq!(run(&["init"]).0, Some(0));
    assert_eq!(run(&["demo", "--cases", "5", "--seed", "7"]).0, Some(0));
    let (_, json) = run(&["compliance", "--format", "json"]);
    let v: Value = serde_json::from_str(&json[json.find('{').unwrap()..]).unwrap();
    let cases: Vec<String> = v["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["case_id"].as_str().unwrap().to_owned())
        .collect();
    let (case, other) = (&cases[0], &cases[1]);
    let (code, text) = run(&["erase", "--case", "CT0003400:NOPE", "--reason", "dismissed"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no case CT0003400:NOPE"), "{text}");
    let (code, text) = run(&["erase", "--case", case, "--reason", " "]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("reason"), "{text}");
    let (code, text) = run(&[
        "erase",
        "--case",
        case,
        "--reason",
        "C.G.S. 54-142a(a): dismissed",
    ]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("/NotificationFiled/form/officer/phone"),
        "{text}"
    );
    let (code, text) = run(&["erase", "--case", case, "--reason", "again"]);
    assert_eq!(code, Some(1), "{text}");
    let (code, _) = run(&["erase", "--subject", "nobody_zz", "--reason", "x"]);
    assert_eq!(code, Some(1));
    let (code, text) = run(&["verify"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 finding(s)"), "{text}");
    let out = dir.path().join("o.jsonl");
    let (code, text) = run(&[
        "export-openings",
        "--case",
        other,
        "--reason",
        "court order 7",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{text}");
    let lines = std::fs::read_to_string(&out).unwrap();
    assert!(
        lines.lines().count() > 3 && lines.contains("\"salt\""),
        "{lines}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (code, _) = run(&[
        "export-openings",
        "--case",
        case,
        "--reason",
        "x",
        "--out",
        dir.path().join("p").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "an erased case has nothing to export");
}

/// The server's own log, at debug level, through a filing, a refused filing whose body
/// holds a planted value where a date belongs, a share, a public report, reveals and an
/// erasure, never holds a planted value: not as text, not as hex, not JSON-escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_logs_hold_no_personal_value() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("logs.db").display());
    let (d, tokens) = child_server::Deployment::init(&url);
    let issue = |args: &[&str]| {
        let out = d.cli(&[&["tokens", "issue", "--name", "logs"], args].concat());
        assert!(out.status.success(), "{}", child_server::show(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let reporter = issue(&["--role", "unit_reporter", "--unit", HARTFORD]);
    let supervisor = issue(&["--role", "supervisor"]);
    let server = d.serve_logging("logs", &[], None, "debug").await;
    server.register_units(&tokens).await;

    let (st, filed) = server
        .post(&reporter, "/v1/notifications", planted_form())
        .await;
    assert_eq!(st, 201, "{filed}");
    let case_id = filed["case_id"].as_str().unwrap().to_owned();
    let mut refused = planted_form();
    refused["unit_case_number"] = json!("ZQ-8");
    refused["received"]["date"] = json!(SCREEN_NAME);
    let (st, b) = server.post(&reporter, "/v1/notifications", refused).await;
    assert_eq!(st, 422, "{b}");
    let share = json!({ "direction": { "direction": "task_force_to_units", "to_units": [HARTFORD] }, "category": "intelligence", "summary": SUMMARY });
    let (st, b) = server
        .post(
            &tokens.investigator,
            &format!("/v1/cases/{case_id}/shares"),
            share,
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let report = json!({ "channel": "hotline", "content": { "description": DESCRIPTION, "links": [SCREEN_NAME] } });
    let (st, b) = server
        .post(&tokens.investigator, "/v1/public-reports", report)
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, history) = server
        .get(
            &tokens.investigator,
            &format!("/v1/cases/{case_id}/history"),
        )
        .await;
    assert_eq!(st, 200, "{history}");
    assert!(
        history.to_string().contains(PHONE),
        "the reveal ran: {history}"
    );
    let (st, queue) = server.get(&tokens.investigator, "/v1/public-reports").await;
    assert_eq!(st, 200, "{queue}");
    let (st, b) = server
        .post(
            &supervisor,
            &format!("/v1/cases/{case_id}/erase"),
            json!({ "reason": "C.G.S. 54-142a(a): dismissed" }),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    assert_eq!(b["compaction"], json!({ "status": "done" }), "{b}");

    let log = server.log_text();
    server.kill();
    assert!(
        log.lines().count() > 20 && log.contains("DEBUG"),
        "debug logging was on:\n{log}"
    );
    for v in PLANTED {
        let escaped = serde_json::to_string(v).unwrap();
        for form in [
            v.to_owned(),
            hex_of(v),
            escaped[1..escaped.len() - 1].to_owned(),
        ] {
            assert!(!log.contains(&form), "{v} is in the server log as {form}");
        }
    }
}

/// Rewrites the sealed store as a database owner could, bypassing the ledger: every
/// opening is read, changed by `change`, and written back, one packed row per position.
async fn rewrite_openings(s: &Server, change: impl FnOnce(&mut Vec<StoredOpening>)) {
    let storage = s.state.ledger.storage();
    let id = s.state.ledger.id();
    let mut openings = storage.sealed_in_positions(id, 1, 1 << 40).await.unwrap();
    change(&mut openings);
    s.db.exec("DELETE FROM sealed_batches").await.unwrap();
    let mut positions: Vec<u64> = openings.iter().map(|o| o.position).collect();
    positions.dedup();
    for p in positions {
        let here: Vec<StoredOpening> = openings
            .iter()
            .filter(|o| o.position == p)
            .cloned()
            .collect();
        let packed = sealed_pack::pack(&here).unwrap();
        let sql = format!(
            "INSERT INTO sealed_batches (ledger_id, first_position, last_position, openings)
             VALUES ('{}', {p}, {p}, {})",
            id.as_str(),
            match s.db.kind {
                Kind::Postgres => format!("'\\x{}'::bytea", hex::encode(&packed)),
                Kind::Sqlite => format!("X'{}'", hex::encode(&packed)),
            }
        );
        s.db.exec(&sql).await.unwrap();
    }
}

/// A ledger written before schema 8 keeps one `sealed_values` row per value; the
/// migration repacks them, one row per position, and drops the old table.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_6_sealed_values_are_repacked_by_the_migration() {
    use icac_format::sealed::{commitment, Opening};
    use icac_ledger::storage::{Storage, LATEST_SCHEMA_VERSION};
    let ledger = icac_format::record::LedgerId::new("repack-test").unwrap();
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        schema_7(&db).await;
        let b = |bytes: &[u8]| match kind {
            Kind::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
            Kind::Sqlite => format!("X'{}'", hex::encode(bytes)),
        };
        let mut expected = Vec::new();
        for i in 0..7u8 {
            let value = format!("\"planted value {i}\"").into_bytes();
            let salt = [i + 1; 32];
            let o = StoredOpening {
                position: 10 + u64::from(i / 3),
                stream: StreamId::new("case", &format!("case-{}", i % 2)),
                opening: Opening {
                    commitment: commitment(&salt, &value),
                    path: format!("/InformationShared/summary{i}"),
                    salt,
                    value,
                },
            };
            let sql = format!(
                "INSERT INTO sealed_values (ledger_id, commitment, position, aggregate_type,
                     aggregate_id, path, salt, value)
                 VALUES ('{}', {}, {}, '{}', '{}', '{}', {}, {})",
                ledger.as_str(),
                b(&o.opening.commitment.0),
                o.position,
                o.stream.aggregate_type,
                o.stream.aggregate_id,
                o.opening.path,
                b(&o.opening.salt),
                b(&o.opening.value)
            );
            db.exec(&sql).await.unwrap();
            expected.push(o);
        }
        let storage = Storage::connect(&db.url).await.unwrap();
        assert_eq!(storage.migrate().await.unwrap(), LATEST_SCHEMA_VERSION);
        let repacked = storage.sealed_in_positions(&ledger, 1, 100).await.unwrap();
        let key = |o: &StoredOpening| (o.position, o.opening.path.clone());
        expected.sort_by_key(key);
        assert_eq!(repacked, expected, "{kind:?}");
        assert!(repacked.iter().all(|o| o.opening.is_valid()), "{kind:?}");
        let rows = db.exec("SELECT 1 FROM sealed_batches").await.unwrap();
        assert!(
            rows == 3 || kind == Kind::Sqlite,
            "{kind:?}: one row per position"
        );
        let gone = db.exec("SELECT count(*) FROM sealed_values").await;
        assert!(gone.is_err(), "{kind:?}: schema 6's table is dropped");
    }
}

/// Migrations 1 to 7 exactly, read from `migrations/`, as an icac-ledger from before
/// schema 8 left a database.
async fn schema_7(db: &TestDb) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(match db.kind {
        Kind::Postgres => "migrations/postgres",
        Kind::Sqlite => "migrations/sqlite",
    });
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        std::fs::File::create(path).unwrap();
    }
    let mut steps: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| Some((p.file_name()?.to_str()?.get(..4)?.parse().ok()?, p)))
        .filter(|(n, _)| *n <= 7)
        .collect();
    steps.sort();
    assert_eq!(steps.len(), 7);
    db.exec(
        "CREATE TABLE ledger_schema_version (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .await
    .unwrap();
    for (n, path) in steps {
        db.exec(&std::fs::read_to_string(path).unwrap())
            .await
            .unwrap();
        db.exec(&format!(
            "INSERT INTO ledger_schema_version VALUES ({n}, '2026-12-01T00:00:00Z')"
        ))
        .await
        .unwrap();
    }
}
