//! The least-privilege PostgreSQL setup of docs/OPERATIONS.md, run as written: its SQL
//! block (read from the document itself, with this test's role and database names) is
//! fed to `psql`, `init` runs as the owner role, and `tokens`, `serve` and `verify` run
//! as the application role, which can append and read but not change the schema or
//! rewrite the ledger. The roles and the database are created and dropped here.

use crate::support::{child_server, common};

use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use child_server::{notification, show, Deployment, HARTFORD};

const PASSWORD: &str = "roles-test-pw";

/// The ```sql block of the section on PostgreSQL roles, split where the document says
/// to run the rest after `init`.
fn documented_sql() -> (String, String) {
    let doc = include_str!("../../docs/OPERATIONS.md");
    let section = doc
        .split("## PostgreSQL roles")
        .nth(1)
        .expect("docs/OPERATIONS.md has a section on PostgreSQL roles");
    let block = section
        .split("```sql")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has a ```sql block");
    let (before, after) = block
        .split_once("-- after `icac-ledger init`")
        .expect("the block says what to run after init");
    let after = after.split_once('\n').map_or("", |(_, rest)| rest);
    (before.to_owned(), after.to_owned())
}

struct Names {
    owner: String,
    app: String,
    db: String,
}

impl Names {
    fn apply(&self, sql: &str) -> String {
        sql.replace("icac_owner", &self.owner)
            .replace("icac_app", &self.app)
            .replace("DATABASE icac ", &format!("DATABASE {} ", self.db))
            .replace("\\c icac\n", &format!("\\c {}\n", self.db))
            .replace("'…'", &format!("'{PASSWORD}'"))
    }

    fn url(&self, role: &str) -> String {
        format!("postgres://{role}:{PASSWORD}@127.0.0.1:5432/{}", self.db)
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE); DROP ROLE IF EXISTS {}; DROP ROLE IF EXISTS {};",
            self.db, self.app, self.owner
        );
        let _ = psql(&common::admin_url(), &sql);
    }
}

fn psql(url: &str, sql: &str) -> std::process::Output {
    let mut child = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql is needed for this test");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(sql.as_bytes())
        .expect("write sql");
    child.wait_with_output().expect("psql")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_roles_work_as_written() {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let tag = format!("{}_{nanos}", std::process::id());
    let names = Names {
        owner: format!("icac_owner_t{tag}"),
        app: format!("icac_app_t{tag}"),
        db: format!("icac_roles_t{tag}"),
    };
    let (superuser_sql, owner_sql) = documented_sql();

    let out = psql(&common::admin_url(), &names.apply(&superuser_sql));
    assert!(out.status.success(), "superuser part: {}", show(&out));

    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("ledger.key");
    let owner = Deployment {
        db_url: names.url(&names.owner),
        key: key.clone(),
        dir: tempfile::tempdir().expect("tempdir"),
    };
    let app = Deployment {
        db_url: names.url(&names.app),
        key,
        dir,
    };

    let out = owner.cli(&["init"]);
    assert!(out.status.success(), "init as the owner: {}", show(&out));
    let out = psql(&names.url(&names.owner), &names.apply(&owner_sql));
    assert!(out.status.success(), "owner part: {}", show(&out));

    // Staff accounts (schema 10) are administered as the application role too.
    for args in [
        &["accounts", "create", "roles-aud", "--role", "auditor"][..],
        &["accounts", "disable", "roles-aud", "--reason", "roles test"][..],
        &["accounts", "enable", "roles-aud"][..],
        &["accounts", "disable-inactive"][..],
    ] {
        let out = app.cli(args);
        assert!(out.status.success(), "{args:?} as the app: {}", show(&out));
    }
    let issue = |role: &str| {
        let out = app.cli(&["tokens", "issue", "--role", role, "--name", "roles"]);
        assert!(
            out.status.success(),
            "tokens issue as the app: {}",
            show(&out)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let tokens = child_server::Tokens {
        admin: issue("admin"),
        investigator: issue("investigator"),
        auditor: issue("auditor"),
    };

    // `serve` as the application role starts, takes writes and answers reads.
    let server = app.serve("roles").await;
    server.register_units(&tokens).await;
    let (st, body) = server
        .post(
            &tokens.investigator,
            "/v1/notifications",
            notification(HARTFORD, "ROLES-1", None),
        )
        .await;
    assert_eq!(st, 201, "{body}");
    let (st, body) = server
        .get(
            &tokens.investigator,
            &format!("/v1/cases/{HARTFORD}:ROLES-1"),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    server
        .wait_projections(&tokens, std::time::Duration::from_secs(60))
        .await;
    server.kill();
    app.assert_verifies();

    // What the application role may not do.
    for sql in [
        "UPDATE ledger_events SET key_id = key_id",
        "DELETE FROM ledger_checkpoints",
        "CREATE TABLE intruder (x int)",
        "DROP TABLE ledger_schema_version",
    ] {
        let out = psql(&names.url(&names.app), sql);
        assert!(!out.status.success(), "the app role could run {sql:?}");
    }
}
