//! Issue 16, with the real binaries as child processes: `serve --tlog-dir
//! --witness-policy` beside `witness serve`. The witness is killed under a write load:
//! appends go on, no new checkpoint is published, the alert fires on the status, the
//! metrics and the staff ledger page; after its restart the publisher catches up. Then
//! a filing's receipt from the API verifies offline and fails once edited, and the tiles
//! served over HTTP match an `export tiles` of the same ledger.

use crate::support::{child_server, common};

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use child_server::{
    binary, client, notification, show, Deployment, Journal, Load, LoadSpec, HARTFORD,
};
use common::{Kind, TestDb};
use serde_json::Value;

const WITNESS_NAME: &str = "witness.apa.ct.example/w1";

struct WitnessProcess {
    child: Child,
}

impl WitnessProcess {
    fn start(dir: &Path, port: u16, log_vkey: &str) -> WitnessProcess {
        let log = std::fs::File::create(dir.join(format!("witness-{port}.log"))).unwrap();
        let child = Command::new(binary())
            .args([
                "witness",
                "serve",
                "--name",
                WITNESS_NAME,
                "--log",
                log_vkey,
                "--addr",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--key")
            .arg(dir.join("witness.key"))
            .arg("--state")
            .arg(dir.join("witness-state.db"))
            .env_remove("ICAC_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the witness did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        WitnessProcess { child }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn public_text(url: &str) -> (u16, String) {
    let r = client().get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The size line of the published checkpoint (0 if none yet).
async fn published_size(base: &str) -> u64 {
    let (st, body) = public_text(&format!("{base}/tlog/checkpoint")).await;
    if st != 200 {
        return 0;
    }
    body.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

async fn status(base: &str, token: &str) -> Value {
    let r = client()
        .get(format!("{base}/v1/ledger/status"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_witness_under_load_stops_publication_not_appends() {
    let db = TestDb::new(Kind::Sqlite).await;
    let (d, tokens) = Deployment::init(&db.url);
    let dir = d.dir.path().to_path_buf();
    let vkey = String::from_utf8(d.cli(&["keys", "vkey"]).stdout)
        .unwrap()
        .trim()
        .to_owned();
    let keygen = Command::new(binary())
        .args(["witness", "keygen", "--name", WITNESS_NAME, "--key"])
        .arg(dir.join("witness.key"))
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", show(&keygen));
    let witness_vkey = String::from_utf8(keygen.stdout).unwrap().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let policy = dir.join("policy.txt");
    std::fs::write(
        &policy,
        format!("log {vkey}\nwitness APA {witness_vkey} http://127.0.0.1:{port}\nquorum APA\n"),
    )
    .unwrap();
    let tiles = dir.join("tlog");
    let witness = WitnessProcess::start(&dir, port, &vkey);
    let server = d
        .serve_with(
            "tlog",
            &[
                "--tlog-dir",
                tiles.to_str().unwrap(),
                "--witness-policy",
                policy.to_str().unwrap(),
                "--witness-max-age-secs",
                "3",
                "--witness-retry-secs",
                "1",
                "--witness-timeout-secs",
                "2",
            ],
            None,
        )
        .await;
    server.register_units(&tokens).await;
    let base = server.base.clone();

    // A filing answers with its receipt's address.
    let (st, filed) = server
        .post(
            &tokens.investigator,
            "/v1/notifications",
            notification(HARTFORD, "TLOG-1", None),
        )
        .await;
    assert_eq!(st, 201, "{filed}");
    let receipt_url = filed["receipt"].as_str().unwrap().to_owned();
    assert!(receipt_url.ends_with("/receipt"), "{filed}");

    let journal = Journal::default();
    let started = Instant::now();
    let load = Load::start(LoadSpec {
        base: &base,
        token: &tokens.investigator,
        tasks: 4,
        tag: "W",
        keep_going: false,
        journal: journal.clone(),
        started,
    });
    let ok = |j: &Journal| j.answers().iter().filter(|a| a.status == Some(201)).count();
    wait_until(
        "a witnessed checkpoint with filings",
        Duration::from_secs(60),
        || async { published_size(&base).await > 5 && ok(&journal) > 5 },
    )
    .await;
    let st = status(&base, &tokens.auditor).await;
    assert_eq!(st["publication"]["alert"], false, "{st}");

    // Kill the witness under load.
    witness.kill();
    let frozen = {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        published_size(&base).await
    };
    let acked_at_kill = ok(&journal);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        ok(&journal) > acked_at_kill + 5,
        "appends stopped with the witness down"
    );
    let head = status(&base, &tokens.auditor).await["size"]
        .as_u64()
        .unwrap();
    assert_eq!(
        published_size(&base).await,
        frozen,
        "a checkpoint was published without the witness"
    );
    assert!(head > frozen);
    let st = status(&base, &tokens.auditor).await;
    assert_eq!(st["publication"]["alert"], true, "{st}");
    assert_eq!(
        st["publication"]["witnesses"][0]["state"], "unreachable",
        "{st}"
    );
    let metrics = client()
        .get(format!("{base}/metrics"))
        .bearer_auth(&tokens.auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("icac_witness_alert 1"), "{metrics}");
    assert!(
        metrics.contains(&format!("icac_witnessed_checkpoint_size {frozen}")),
        "{metrics}"
    );

    // Restart it: the publisher catches up to the head.
    let witness = WitnessProcess::start(&dir, port, &vkey);
    load.stop().await;
    let refused: Vec<_> = journal
        .answers()
        .into_iter()
        .filter(|a| a.status.is_some_and(|s| s >= 300))
        .collect();
    assert!(
        refused.is_empty(),
        "requests refused while the witness was down: {refused:?}"
    );
    let final_head = status(&base, &tokens.auditor).await["size"]
        .as_u64()
        .unwrap();
    wait_until(
        "catch-up after the restart",
        Duration::from_secs(60),
        || async { published_size(&base).await == final_head },
    )
    .await;
    wait_until("the alert to clear", Duration::from_secs(10), || async {
        status(&base, &tokens.auditor).await["publication"]["alert"] == false
    })
    .await;

    // The filing's receipt, from the API, verifies offline and fails once edited.
    let r = client()
        .get(format!("{base}{receipt_url}"))
        .bearer_auth(&tokens.investigator)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let receipt = r.text().await.unwrap();
    let file = dir.join("filing.tlog-proof");
    std::fs::write(&file, &receipt).unwrap();
    let verify = |f: &Path| {
        Command::new(binary())
            .args(["receipt", "verify"])
            .arg(f)
            .arg("--policy")
            .arg(&policy)
            .output()
            .unwrap()
    };
    let out = verify(&file);
    assert!(out.status.success(), "{}", show(&out));
    assert!(show(&out).contains("NotificationFiled"), "{}", show(&out));
    let mut edited = receipt.clone().into_bytes();
    let at = edited.len() / 2;
    edited[at] = if edited[at] == b'Q' { b'R' } else { b'Q' };
    std::fs::write(&file, &edited).unwrap();
    assert_eq!(verify(&file).status.code(), Some(1));

    // An export of the same ledger makes the same tiles as those served.
    let exported = dir.join("exported");
    let published = dir.join("published.checkpoint");
    let (_, note) = public_text(&format!("{base}/tlog/checkpoint")).await;
    std::fs::write(&published, &note).unwrap();
    let out = d.cli(&[
        "export",
        "tiles",
        exported.to_str().unwrap(),
        "--checkpoint",
        published.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", show(&out));
    let served = client()
        .get(format!("{base}/tlog/tile/0/000"))
        .send()
        .await
        .unwrap();
    assert_eq!(served.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        served.bytes().await.unwrap().as_ref(),
        std::fs::read(exported.join("tile/0/000"))
            .unwrap()
            .as_slice()
    );
    // Past the published size: 404 problem.
    let (st, _) = public_text(&format!("{base}/tlog/tile/0/999")).await;
    assert_eq!(st, 404);
    // And with the quorum's checkpoint, the ledger verifies under the policy.
    let out = d.cli(&[
        "verify",
        "--policy",
        policy.to_str().unwrap(),
        "--checkpoint",
        published.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", show(&out));

    drop(witness);
    server.kill();
}
