//! What an operator can get wrong around the files and the terminal, run against the
//! real binary: database files' modes under any umask, secrets in database URLs, odd key
//! paths (a FIFO, a link to `/dev/zero`, a huge file, a missing file), and a reader that
//! closes the pipe early (`| head`).

use crate::support::child_server;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use child_server::{binary, show};

/// A ledger set up with `init` in a temp dir: `ledger.db`, `ledger.key`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let s = Setup {
            dir: tempfile::tempdir().expect("tempdir"),
        };
        let out = s.cli(&["init"]);
        assert!(out.status.success(), "init: {}", show(&out));
        s
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.path("ledger.db").display())
    }

    fn command(&self) -> Command {
        let mut c = Command::new(binary());
        c.env("ICAC_LEDGER_DB", self.db_url())
            .env("ICAC_LEDGER_KEY", self.path("ledger.key"))
            .env("ICAC_LEDGER_ID", "ct-icac-ops")
            .env_remove("ICAC_LOG")
            .stdin(Stdio::null());
        c
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run icac-ledger")
    }
}

/// Runs `command` to completion within `limit`, killing it if it overruns.
fn run_within(mut command: Command, limit: Duration) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("still running after {limit:?}: {}", show(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn database_wal_and_shm_files_are_created_0600_whatever_the_umask() {
    for umask in ["000", "022"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("ledger.db");
        // `serve --demo` sets the ledger up and keeps the database open, so the WAL and
        // shared-memory files exist while it runs.
        let script = format!(
            "umask {umask}; exec \"$0\" --db sqlite://{} --key {} serve --demo --demo-cases 1 --addr 127.0.0.1:0",
            db.display(),
            dir.path().join("ledger.key").display()
        );
        let mut child = Command::new("sh")
            .args(["-c", &script, binary()])
            .env_remove("ICAC_LEDGER_DB")
            .env_remove("ICAC_LEDGER_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve");
        let wal = dir.path().join("ledger.db-wal");
        let shm = dir.path().join("ledger.db-shm");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(wal.exists() && shm.exists()) {
            assert!(Instant::now() < deadline, "no -wal/-shm within 60 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        let modes = [mode(&db), mode(&wal), mode(&shm)];
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            modes, [0o600; 3],
            "umask {umask}: ledger.db, -wal, -shm modes {modes:?} (decimal)"
        );
    }
}

#[test]
fn secrets_in_database_urls_never_reach_errors_or_logs() {
    const SECRET: &str = "Zq9xSecretPw";
    // A real server refuses quickly: the database does not exist.
    let urls = [
        format!("postgres://postgres:{SECRET}@127.0.0.1:5432/icac_ops_no_such_db"),
        format!("postgres://127.0.0.1:5432/icac_ops_no_such_db?user=postgres&password={SECRET}"),
        format!("postgres://127.0.0.1:5432/icac_ops_no_such_db?user=postgres&pass%77ord={SECRET}"),
        format!("postgres://127.0.0.1:5432/icac_ops_no_such_db?PASSWORD={SECRET}&user=postgres"),
        format!("postgres://postgres:{SECRET}%40x@127.0.0.1:5432/icac_ops_no_such_db"),
        format!("postgres://postgres:{SECRET}@127.0.0.1:notaport/icac_ops_no_such_db"),
        format!("mysql://postgres:{SECRET}@127.0.0.1/x"),
        format!("postgres:{SECRET}@127.0.0.1/x"),
    ];
    for url in &urls {
        for args in [&["status"][..], &["--db", url, "init"][..], &["serve"][..]] {
            let mut c = Command::new(binary());
            c.args(args)
                .env("ICAC_LEDGER_DB", url)
                .env("ICAC_LOG", "trace")
                .stdin(Stdio::null());
            let out = run_within(c, Duration::from_secs(60));
            let text = show(&out);
            assert_eq!(out.status.code(), Some(2), "{url} {args:?}: {text}");
            assert!(text.contains("error:"), "{url} {args:?}: {text}");
            assert!(!text.contains(SECRET), "{url} {args:?} leaked: {text}");
        }
    }
    // --help shows the environment's defaults, but not the database URL's.
    let out = Command::new(binary())
        .arg("--help")
        .env("ICAC_LEDGER_DB", &urls[0])
        .output()
        .expect("help");
    assert!(
        !show(&out).contains(SECRET),
        "--help leaked: {}",
        show(&out)
    );
}

#[test]
fn odd_key_paths_are_refused_at_once_and_no_key_is_written() {
    let s = Setup::new();
    let fifo = s.path("fifo.key");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let zero = s.path("zero.key");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let big = s.path("big.key");
    std::fs::write(&big, vec![b'A'; 64 * 1024]).expect("big file");
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let dir_key = s.path("a-directory");
    std::fs::create_dir(&dir_key).expect("mkdir");

    for (key, wanted) in [
        (&fifo, "not a regular file"),
        (&zero, "not a regular file"),
        (&dir_key, "not a regular file"),
        (&big, "larger than"),
    ] {
        for args in [&["serve", "--addr", "127.0.0.1:0"][..], &["init"][..]] {
            let mut c = s.command();
            c.args(args).env("ICAC_LEDGER_KEY", key);
            let out = run_within(c, Duration::from_secs(20));
            let text = show(&out);
            assert_eq!(out.status.code(), Some(2), "{key:?} {args:?}: {text}");
            assert!(text.contains(wanted), "{key:?} {args:?}: {text}");
        }
    }

    // A missing key file: `serve` refuses without writing one, and so does `init` for
    // a ledger that already exists.
    let missing = s.path("missing.key");
    for args in [
        &["serve", "--addr", "127.0.0.1:0"][..],
        &["init"][..],
        &["serve", "--demo", "--addr", "127.0.0.1:0"][..],
    ] {
        let mut c = s.command();
        c.args(args).env("ICAC_LEDGER_KEY", &missing);
        let out = run_within(c, Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        assert!(
            show(&out).contains("does not exist"),
            "{args:?}: {}",
            show(&out)
        );
        assert!(!missing.exists(), "{args:?} wrote a new private key");
    }
    // `init` of a new ledger still creates its first key.
    let fresh = s.path("fresh.key");
    let out = s
        .command()
        .args([
            "--db",
            &format!("sqlite://{}", s.path("fresh.db").display()),
            "init",
        ])
        .env("ICAC_LEDGER_KEY", &fresh)
        .output()
        .expect("init");
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(mode(&fresh), 0o600);
}

#[test]
fn commands_exit_quietly_when_the_reader_closes_the_pipe() {
    let s = Setup::new();
    let out = s.cli(&["demo", "--cases", "3"]);
    assert!(out.status.success(), "demo: {}", show(&out));
    // A case id the demo created, from the JSON compliance listing.
    let out = s.cli(&["compliance", "--format", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let listing: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let text = listing.to_string();
    let case_id = text
        .split('"')
        .find(|t| t.starts_with("CT") && t.contains(':'))
        .expect("a case id in the compliance listing")
        .to_owned();

    for args in [
        vec!["compliance"],
        vec!["compliance", "--format", "csv"],
        vec!["history", &case_id],
        vec!["history", &case_id, "--format", "json"],
        vec!["prove", "inclusion", "--position", "2"],
        vec!["status"],
        vec!["verify"],
        vec!["keys", "export"],
    ] {
        let mut child = s
            .command()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader is gone before the command writes a byte: like `| head -0`.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?} with a closed stdout: {stderr}"
        );
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arguments_mean_the_same_in_the_cli_and_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("args.db").display());
    let (d, tokens) = child_server::Deployment::init(&url);
    let server = d.serve("args").await;
    server.register_units(&tokens).await;
    let case_id = format!("{}:ARGS-1", child_server::HARTFORD);
    let (st, body) = server
        .post(
            &tokens.investigator,
            "/v1/notifications",
            child_server::notification(child_server::HARTFORD, "ARGS-1", None),
        )
        .await;
    assert_eq!(st, 201, "{body}");

    // A position beyond the head: refused by both, with the same words.
    let (st, body) = server
        .get(
            &tokens.investigator,
            &format!("/v1/cases/{case_id}/history?at_position=99999999"),
        )
        .await;
    assert_eq!(st, 422, "{body}");
    let out = d.cli(&["history", &case_id, "--at-position", "99999999"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        show(&out).contains("beyond the ledger's head"),
        "{}",
        show(&out)
    );
    for bad in [
        &["--at-position", "12x"][..],
        &["--as-of", "2025-02-30"][..],
    ] {
        let mut args = vec!["history", case_id.as_str()];
        args.extend_from_slice(bad);
        let out = d.cli(&args);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {}", show(&out));
    }

    // A plain date: accepted by both, meaning the end of that day in Connecticut.
    let (st, api) = server
        .get(
            &tokens.investigator,
            &format!("/v1/cases/{case_id}/history?as_of=2099-03-01"),
        )
        .await;
    assert_eq!(st, 200, "{api}");
    let out = d.cli(&[
        "history",
        &case_id,
        "--as-of",
        "2099-03-01",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(cli["cut"], api["cut"], "CLI {cli} vs API {api}");
    let out = d.cli(&[
        "history",
        &case_id,
        "--as-of",
        "2099-03-01T23:59:59.999999999-05:00",
        "--format",
        "json",
    ]);
    let instant: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(cli["cut"], instant["cut"]);
    server.kill();

    // Registering a unit that is already registered is rejected input (exit 1), and the
    // other units of the file still register.
    let csv = dir.path().join("units.csv");
    std::fs::write(
        &csv,
        format!(
            "ori,name,kind,town\n{},Hartford Police Department,municipal_police,Hartford\nCT0001500,Bridgeport Police Department,municipal_police,Bridgeport\n",
            child_server::HARTFORD
        ),
    )
    .expect("csv");
    let out = d.cli(&["import", "units", csv.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        show(&out).contains(child_server::HARTFORD) && show(&out).contains("1 units registered"),
        "{}",
        show(&out)
    );
    let out = d.cli(&["import", "units", csv.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
}
