//! A full disk under the SQLite store, for real: the database lives on a 30 MiB tmpfs
//! that a filler file fills while `icac-ledger serve` takes a concurrent write load,
//! and the filler is then deleted. While writes fail the server keeps answering (fast
//! problem+json errors, `/readyz` 503, reads answered without waiting on a lock); once
//! space returns it accepts writes and says ready again by itself, with no restart;
//! every acknowledged request is in the ledger and `verify` passes.
//!
//! A slow test: it runs with `ICAC_SLOW_TESTS=1` (which `.ci/run` sets), and then
//! needs root to mount the tmpfs (failing without it).

use crate::support::{child_server, slow};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use child_server::{check_acknowledged, client, Deployment, Journal, Load, LoadSpec};

/// A tmpfs mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed (root needed)");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros into `path` until the file system refuses another byte.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).expect("filler");
    let mut written = 0u64;
    for chunk in [1 << 20, 4096, 1] {
        let buf = vec![0u8; chunk];
        while file.write_all(&buf).is_ok() {
            written += chunk as u64;
        }
    }
    let _ = file.sync_all();
    written
}

async fn status_of(url: &str, token: Option<&str>, within: Duration) -> Option<u16> {
    let mut req = client().get(url).timeout(within);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.ok().map(|r| r.status().as_u16())
}

fn count(journal: &Journal, pred: impl Fn(&child_server::Answer) -> bool) -> usize {
    journal.answers().iter().filter(|a| pred(a)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_fails_writes_cleanly_and_recovers_without_a_restart() {
    if slow::skip("a_full_disk_fails_writes_cleanly_and_recovers_without_a_restart") {
        return;
    }
    let fs = Tmpfs::mount("30m");
    let db_url = format!("sqlite://{}", fs.path().join("ledger.db").display());
    let (deployment, tokens) = Deployment::init(&db_url);
    let server = deployment.serve("disk-full").await;
    server.register_units(&tokens).await;

    let journal = Journal::default();
    let started = Instant::now();
    let load = Load::start(LoadSpec {
        base: &server.base,
        token: &tokens.investigator,
        tasks: 4,
        tag: "DF",
        keep_going: true,
        journal: journal.clone(),
        started,
    });
    let ok = |a: &child_server::Answer| a.status.is_some_and(|s| (200..300).contains(&s));
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&journal, ok) < 20 {
        assert!(
            Instant::now() < deadline,
            "no writes before the fill; log:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Fill the disk under load, and keep it full: whatever the server frees (a
    // checkpointed WAL) is taken again.
    let filler: PathBuf = fs.path().join("filler");
    let filled = fill(&filler);
    let failed_at_fill = count(&journal, |a| a.status.is_some_and(|s| s >= 500));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut extra = 0;
    loop {
        let failed = count(&journal, |a| a.status.is_some_and(|s| s >= 500));
        if failed >= failed_at_fill + 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writes still succeed 60 s after filling the disk ({filled} bytes); log:\n{}",
            server.log_text()
        );
        extra += 1;
        fill(&fs.path().join(format!("filler-{extra}")));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // While writes fail: not ready, and reads still answer promptly.
    let mut not_ready = false;
    for _ in 0..50 {
        if status_of(&server.url("/readyz"), None, Duration::from_secs(5)).await == Some(503) {
            not_ready = true;
            break;
        }
        fill(&fs.path().join("filler-ready"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        not_ready,
        "/readyz never said 503 while the disk was full; log:\n{}",
        server.log_text()
    );
    let filed = journal
        .answers()
        .into_iter()
        .find_map(|a| match (a.status, a.sent) {
            (Some(201), child_server::Sent::Filing { case_id }) => Some(case_id),
            _ => None,
        })
        .expect("a filed case");
    // A case read is written to the access log, so it may fail now; but fast.
    let case_path = format!("/v1/cases/{filed}");
    for (path, token) in [
        ("/healthz", &tokens.auditor),
        ("/v1/ledger/status", &tokens.auditor),
        ("/v1/cases?limit=5", &tokens.investigator),
        (case_path.as_str(), &tokens.investigator),
    ] {
        let t = Instant::now();
        let st = status_of(&server.url(path), Some(token), Duration::from_secs(10)).await;
        assert!(
            st.is_some() && t.elapsed() < Duration::from_secs(5),
            "GET {path} while the disk is full: {st:?} after {:?}",
            t.elapsed()
        );
    }
    let failures: Vec<_> = journal
        .answers()
        .into_iter()
        .filter(|a| a.status.is_some_and(|s| s >= 500))
        .collect();
    assert!(
        failures.iter().all(|a| a.problem_json),
        "a failed write was not problem+json: {:?}",
        failures.iter().find(|a| !a.problem_json)
    );

    // Space returns: the same process accepts writes and says ready again.
    for entry in std::fs::read_dir(fs.path()).expect("read tmpfs") {
        let path = entry.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("filler"))
        {
            std::fs::remove_file(&path).expect("remove filler");
        }
    }
    let freed_at = started.elapsed().as_millis() as u64;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready =
            status_of(&server.url("/readyz"), None, Duration::from_secs(5)).await == Some(200);
        let written_since = journal
            .answers()
            .iter()
            .filter(|a| ok(a) && a.at_ms > freed_at + 200)
            .count();
        if ready && written_since >= 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "30 s after space returned: ready {ready}, {written_since} writes acknowledged; log:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    load.stop().await;
    // Everything works again: the projections catch up, case reads are logged again.
    server
        .wait_projections(&tokens, Duration::from_secs(60))
        .await;
    let (st, body) = server.get(&tokens.investigator, &case_path).await;
    assert_eq!(st, 200, "GET {case_path} after recovery: {body}");
    let log = server.log_text();
    assert!(
        !log.contains("non-zero transaction depth"),
        "a connection was wedged; log:\n{log}"
    );
    server.kill();

    let answers = journal.answers();
    let events = deployment.events().await;
    let (acknowledged, _) = check_acknowledged(&answers, &events);
    assert!(acknowledged > 40, "only {acknowledged} acknowledged");
    deployment.assert_verifies();
}
