//! Database loss mid-batch: PostgreSQL is restarted twice (a fast shutdown, then an
//! immediate one, which is a crash followed by WAL recovery), then stopped for 12 s
//! (longer than the connection pool waits), while `icac-ledger serve` runs under a
//! concurrent write load. Clients get 5xx problem+json for what could not
//! commit (never a dropped connection), the server reconnects by itself without a
//! restart, every acknowledged request is in the ledger exactly once, the periodic
//! checkpointer and the projections resume, and `icac-ledger verify` exits 0.
//!
//! The shared PostgreSQL on 5432 is never touched: the test makes a private cluster
//! with `initdb` in a temporary directory (as the `postgres` user when run as root), on
//! a free port, and removes it at the end. Without `initdb` and `pg_ctl` it fails.

use crate::support::{child_server, slow};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use child_server::{check_acknowledged, show, Deployment, Journal, Load, LoadSpec};
use sqlx::Connection;

/// A PostgreSQL cluster of this test's own, in a temporary directory.
struct PrivateCluster {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    /// Running as root: PostgreSQL refuses that, so its tools run as `postgres`.
    run_as: Option<String>,
}

fn find_bindir() -> Result<PathBuf, String> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    // Highest major version first.
    candidates.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0),
        )
    });
    if let Ok(path) = std::env::var("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .ok_or_else(|| {
            "this test needs PostgreSQL's initdb and pg_ctl (Debian package postgresql, \
             /usr/lib/postgresql/<version>/bin) to run a private cluster it may restart; \
             none was found"
                .to_owned()
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl PrivateCluster {
    fn create() -> Result<Self, String> {
        let bindir = find_bindir()?;
        let dir = tempfile::Builder::new()
            .prefix("icac_restart_")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let run_as = if is_root {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(
                    "running as root, but cannot hand the cluster directory to the \
                            `postgres` user (chown failed)"
                        .into(),
                );
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        let cluster = PrivateCluster {
            dir,
            bindir,
            port: free_port(),
            run_as,
        };
        let out = cluster.tool(
            "initdb",
            &[
                "-D",
                &cluster.data().display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", show(&out)));
        }
        cluster.pg_ctl(&["start"])?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tool(&self, name: &str, args: &[&str]) -> Result<Output, String> {
        let program = self.bindir.join(name);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("{}: {e}", program.display()))
    }

    /// `pg_ctl ACTION` on this cluster's data directory, waiting for it to finish.
    fn pg_ctl(&self, action: &[&str]) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=on",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        let data = self.data().display().to_string();
        let mut args = vec![
            "-D",
            data.as_str(),
            "-l",
            log.as_str(),
            "-o",
            options.as_str(),
            "-w",
            "-t",
            "60",
        ];
        args.extend_from_slice(action);
        let out = self.tool("pg_ctl", &args)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl {action:?} failed: {}\nserver log:\n{}",
                show(&out),
                std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
            ))
        }
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `pg_ctl ACTION...`; returns when it has finished.
    async fn control(&self, action: &[&str]) -> Instant {
        let result = tokio::task::block_in_place(|| self.pg_ctl(action));
        result.unwrap_or_else(|e| panic!("pg_ctl on the private cluster on {}: {e}", self.port));
        Instant::now()
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate"]);
    }
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load() {
    if slow::skip("postgres_restart_under_load") {
        return;
    }
    let cluster = PrivateCluster::create().unwrap_or_else(|e| {
        panic!("cannot run the database-loss test without a private PostgreSQL cluster: {e}")
    });
    {
        let mut admin = sqlx::PgConnection::connect(&cluster.url("postgres"))
            .await
            .expect("connect to the private cluster");
        sqlx::query("CREATE DATABASE icac")
            .execute(&mut admin)
            .await
            .expect("create database");
    }
    let (deployment, tokens) = Deployment::init(&cluster.url("icac"));
    let mut server = deployment.serve("restart").await;
    server.register_units(&tokens).await;

    let journal = Journal::default();
    let started = Instant::now();
    let load = Load::start(LoadSpec {
        base: &server.base,
        token: &tokens.investigator,
        tasks: 6,
        tag: "R",
        keep_going: true,
        journal: journal.clone(),
        started,
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let fast_done = cluster.control(&["restart", "-m", "fast"]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let immediate_done = cluster.control(&["restart", "-m", "immediate"]).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // A longer loss: down for longer than the pool waits for a connection (10 s), so
    // requests, the projection runner and the checkpointer all see the database fail.
    cluster.control(&["stop", "-m", "immediate"]).await;
    let (st, body) = server.get(&tokens.auditor, "/readyz").await;
    assert_eq!(st, 503, "/readyz with the database down: {body}");
    tokio::time::sleep(Duration::from_secs(12)).await;
    let outage_done = cluster.control(&["start"]).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    load.stop().await;
    assert!(
        server.is_running(),
        "serve exited when PostgreSQL restarted; log:\n{}",
        log_tail(server.log_path())
    );

    let answers = journal.answers();
    let since = |t: Instant| t.duration_since(started).as_millis() as u64;
    let ok = |a: &&child_server::Answer| a.status.is_some_and(|s| (200..300).contains(&s));
    // Nothing but success or a 5xx problem: the restart is not the client's fault, and
    // the server never drops a connection.
    let odd: Vec<_> = answers
        .iter()
        .filter(|a| !ok(a))
        .filter(|a| !(a.status.is_some_and(|s| s >= 500) && a.problem_json))
        .collect();
    assert!(
        odd.is_empty(),
        "answers other than 2xx or 5xx problem+json: {odd:?}\nlog:\n{}",
        log_tail(server.log_path())
    );
    // It reconnected by itself: requests succeed again after each restart.
    for (what, done) in [
        ("fast", fast_done),
        ("immediate", immediate_done),
        ("12-second", outage_done),
    ] {
        let after = answers
            .iter()
            .filter(ok)
            .filter(|a| a.at_ms > since(done))
            .count();
        assert!(
            after > 0,
            "no request succeeded after the {what} restart; log:\n{}",
            log_tail(server.log_path())
        );
    }

    // Projections and the periodic checkpointer resume and reach the head.
    let size = server
        .wait_projections(&tokens, Duration::from_secs(60))
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (st, body) = server.get(&tokens.auditor, "/v1/ledger/status").await;
        assert_eq!(st, 200, "{body}");
        if body["last_checkpoint"]["size"].as_u64() == Some(size) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the checkpointer did not resume: last checkpoint {} of {size} events; log:\n{}",
            body["last_checkpoint"],
            log_tail(server.log_path())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server.kill();

    // The views the projections stored (not only what they held in memory) cover every
    // acknowledged filing: a fresh server loads them from the tables. At start-up it
    // registers for deconfliction the filings whose case committed just before an outage
    // cut off their registration (and records their matches): its only writes.
    let server = deployment.serve("after").await;
    let after = server
        .wait_projections(&tokens, Duration::from_secs(60))
        .await;
    assert!(after >= size, "{after} < {size}");
    for a in answers.iter().filter(ok) {
        if let child_server::Sent::Filing { case_id } = &a.sent {
            let (st, body) = server
                .get(&tokens.investigator, &format!("/v1/cases/{case_id}"))
                .await;
            assert_eq!(st, 200, "{case_id} after the outages: {body}");
        }
    }
    server.kill();

    let events = deployment.events().await;
    assert_eq!(events.len() as u64, after);
    for e in events.iter().filter(|e| e.position > size) {
        assert!(
            e.aggregate_type == "deconfliction" && e.request_id.starts_with("reconcile-"),
            "the restarted server wrote {} on {}/{} (request {})",
            e.event_type,
            e.aggregate_type,
            e.aggregate_id,
            e.request_id
        );
    }
    // Every filed case is registered for deconfliction, outages or not (once each).
    let count = |t: &str| events.iter().filter(|e| e.event_type == t).count();
    assert_eq!(count("FingerprintsRegistered"), count("NotificationFiled"));
    let (acknowledged, unacknowledged_present) = check_acknowledged(&answers, &events);
    deployment.assert_verifies();
    let errors = answers.iter().filter(|a| !ok(a)).count();
    eprintln!(
        "PostgreSQL restarted twice and down for 12 s under load: {} requests, {acknowledged} acknowledged and \
         all present, {errors} answered 5xx problem+json ({unacknowledged_present} of those \
         committed before the connection was lost), {size} events, then {} written by the \
         restarted server's deconfliction reconciliation, verify ok",
        answers.len(),
        after - size
    );
}
