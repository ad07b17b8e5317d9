//! The audit commands end to end through the binary: exit codes 0 (intact), 1 (broken),
//! 2 (could not run), JSON output, export → offline verify, checkpoint → proof → verify-proof.

use std::path::Path;
use std::process::{Command, Output};

use icac_format::keys::LedgerKey;
use icac_ledger::ledger::key_file::KeyFile;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_icac-ledger"))
        .current_dir(dir)
        .env_remove("ICAC_LEDGER_DB")
        .env_remove("ICAC_LEDGER_KEY")
        .env_remove("ICAC_LEDGER_ID")
        .args(args)
        .output()
        .expect("run icac-ledger")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn audit_commands_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(d, &["init"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let key = LedgerKey::load(&d.join("icac-ledger.key")).unwrap();
    let public = hex::encode(key.public().as_bytes());

    let o = run(d, &["verify", "--trusted-key", &public]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("INTACT"));
    let o = run(d, &["verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "intact");
    assert_eq!(v["genesis_key_id"], key.id().0.as_str());

    // The access log's weekly review and retention purge.
    let o = run(d, &["tokens", "issue", "--role", "auditor", "--name", "A"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let week = icac_ledger::http::access_review::IsoWeek::of(jiff::Timestamp::now()).to_string();
    let o = run(d, &["audit", "review", "--week", &week, "--json"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let review: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(review["privileged_actions"]["count"], 1, "{review}");
    assert_eq!(
        review["privileged_actions"]["entries"][0]["action"],
        "token_issued"
    );
    let o = run(d, &["audit", "review", "--week", "2026-W99"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("not an ISO week"), "{}", text(&o));
    let o = run(
        d,
        &["audit", "purge", "--retention-days", "30", "--reason", "x"],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("365"), "{}", text(&o));
    let o = run(d, &["audit", "purge", "--reason", "records schedule 7"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("nothing purged"), "{}", text(&o));

    let o = run(d, &["checkpoint", "--out", "cp1.note"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(d, &["export", "--out", "b.jsonl"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(
        d,
        &[
            "--db",
            "sqlite:///nonexistent/x.db",
            "verify",
            "--bundle",
            "b.jsonl",
            "--trusted-key",
            &public,
        ],
    );
    assert_eq!(code(&o), 0, "bundle needs no database: {}", text(&o));
    let o = run(
        d,
        &[
            "prove",
            "inclusion",
            "--position",
            "1",
            "--checkpoint",
            "cp1.note",
            "--out",
            "p.json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = run(
        d,
        &[
            "verify-proof",
            "p.json",
            "--public-key",
            &public,
            "--checkpoint",
            "cp1.note",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let other = hex::encode(LedgerKey::generate().public().as_bytes());
    let o = run(d, &["verify-proof", "p.json", "--public-key", &other]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let o = run(d, &["verify", "--checkpoint", "cp1.note"]);
    assert_eq!(code(&o), 0, "{}", text(&o));

    // Tamper: an attacker drops the guard and edits the genesis payload.
    let db = d.join("icac-ledger.db");
    let url = format!("sqlite://{}", db.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "DROP TRIGGER ledger_events_no_update;
             UPDATE ledger_events SET canonical = CAST(replace(CAST(canonical AS TEXT), 'ct-icac', 'ct-icax') AS BLOB) WHERE position = 1;",
        )
        .execute(&mut c)
        .await
        .unwrap();
    });
    let o = run(d, &["verify", "--json"]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "broken");
    assert_eq!(v["first_break"]["position"], 1);
    let o = run(d, &["verify"]);
    assert_eq!(code(&o), 1);
    assert!(text(&o).contains("BROKEN at position 1"), "{}", text(&o));

    // Could not run: missing bundle, bad trusted key.
    assert_eq!(code(&run(d, &["verify", "--bundle", "missing.jsonl"])), 2);
    assert_eq!(code(&run(d, &["verify", "--trusted-key", "zz"])), 2);
}
