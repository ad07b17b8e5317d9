//! The real `icac-ledger` binary as a child process, for the reliability tests: `init`,
//! `tokens issue`, `serve` (killed with SIGKILL or stopped), `verify`; a concurrent
//! write load over HTTP that remembers every answer; and a reader of the ledger's rows
//! straight from the database, to check the answers against what was stored.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use icac_format::record::LedgerId;
use icac_ledger::ledger::sealed_from_row;
use icac_ledger::storage::Storage;
use serde_json::{json, Value};

pub const HARTFORD: &str = "CT0006400";
pub const NEW_HAVEN: &str = "CT0009300";
const LEDGER_ID: &str = "ct-icac-reliability";

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_icac-ledger")
}

/// One ledger (database URL, key file, ledger id) driven through the binary.
pub struct Deployment {
    pub db_url: String,
    pub key: PathBuf,
    pub dir: tempfile::TempDir,
}

/// Bearer tokens issued with `icac-ledger tokens issue`.
#[derive(Clone)]
pub struct Tokens {
    pub admin: String,
    pub investigator: String,
    pub auditor: String,
}

impl Deployment {
    /// Runs `init` (schema, key, genesis) and issues the tokens the tests use.
    pub fn init(db_url: &str) -> (Deployment, Tokens) {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("ledger.key");
        let d = Deployment {
            db_url: db_url.to_owned(),
            key,
            dir,
        };
        let out = d.cli(&["init"]);
        assert!(out.status.success(), "init failed: {}", show(&out));
        let issue = |role: &str| {
            let out = d.cli(&["tokens", "issue", "--role", role, "--name", "reliability"]);
            assert!(out.status.success(), "tokens issue failed: {}", show(&out));
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let tokens = Tokens {
            admin: issue("admin"),
            investigator: issue("investigator"),
            auditor: issue("auditor"),
        };
        (d, tokens)
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(binary());
        c.env("ICAC_LEDGER_DB", &self.db_url)
            .env("ICAC_LEDGER_KEY", &self.key)
            .env("ICAC_LEDGER_ID", LEDGER_ID)
            .env_remove("ICAC_LOG");
        c
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run icac-ledger")
    }

    /// `icac-ledger verify`; panics with its output unless it exits 0.
    pub fn assert_verifies(&self) {
        let out = self.cli(&["verify"]);
        assert!(
            out.status.success(),
            "verify exited {:?}: {}",
            out.status.code(),
            show(&out)
        );
    }

    /// Starts `serve` on a free loopback port and waits until `/readyz` answers 200.
    pub async fn serve(&self, label: &str) -> ServerProcess {
        self.serve_with(label, &[], None).await
    }

    /// [`serve`](Self::serve) with more arguments, and optionally under a lower limit on
    /// open files (`ulimit -n`), as a small deployment would run it.
    pub async fn serve_with(
        &self,
        label: &str,
        extra: &[&str],
        max_open_files: Option<u32>,
    ) -> ServerProcess {
        self.serve_logging(label, extra, max_open_files, "warn")
            .await
    }

    /// [`serve_with`](Self::serve_with), logging at `level` (`ICAC_LOG`) into the
    /// process's log file.
    pub async fn serve_logging(
        &self,
        label: &str,
        extra: &[&str],
        max_open_files: Option<u32>,
        level: &str,
    ) -> ServerProcess {
        let log = self.dir.path().join(format!("serve-{label}.log"));
        let stderr = std::fs::File::create(&log).expect("log file");
        let mut command = match max_open_files {
            Some(n) => {
                let mut c = self.command();
                c.env("ICAC_LEDGER_NOFILE", n.to_string());
                let mut sh = Command::new("sh");
                sh.args([
                    "-c",
                    "ulimit -n \"$ICAC_LEDGER_NOFILE\" && exec \"$@\"",
                    "sh",
                    binary(),
                ]);
                for (k, v) in c.get_envs() {
                    match v {
                        Some(v) => sh.env(k, v),
                        None => sh.env_remove(k),
                    };
                }
                sh
            }
            None => self.command(),
        };
        let mut child = command
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--checkpoint-every-secs",
                "1",
                "--checkpoint-every-events",
                "500",
                "--hotline",
                "Test tip line=1-800-555-0100",
            ])
            .args(extra)
            .env("ICAC_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        // Reads the address from the banner, then keeps draining stdout so the child
        // never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(rest) = line.split(" on http://").nth(1) {
                        let _ = tx.send(rest.trim_end_matches('/').to_owned());
                        sent = true;
                    }
                }
            }
        });
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .expect("join");
        let Ok(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve did not print its address within 60 s; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        let server = ServerProcess {
            child,
            base: format!("http://{addr}"),
            log,
        };
        let client = client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(server.url("/readyz")).send().await {
                if r.status().as_u16() == 200 {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "serve was not ready within 60 s; log:\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    /// Every event of the ledger as stored, read directly from the database.
    pub async fn events(&self) -> Vec<StoredEvent> {
        let storage = Storage::connect(&self.db_url).await.expect("connect");
        let id = LedgerId::new(LEDGER_ID).expect("ledger id");
        let mut out = Vec::new();
        let mut from = 1;
        loop {
            let rows = storage.read_page(&id, from, 2_000).await.expect("read");
            if rows.is_empty() {
                break;
            }
            for row in rows {
                from = row.position + 1;
                let sealed = sealed_from_row(row).expect("row parses");
                let r = sealed.record;
                out.push(StoredEvent {
                    position: r.position,
                    aggregate_type: r.aggregate_type,
                    aggregate_id: r.aggregate_id,
                    event_type: r.event_type,
                    request_id: r.metadata.request_id,
                });
            }
        }
        storage.close().await;
        out
    }
}

pub fn show(out: &Output) -> String {
    format!(
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub position: u64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
    pub request_id: String,
}

pub struct ServerProcess {
    child: Child,
    pub base: String,
    log: PathBuf,
}

impl ServerProcess {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// SIGKILL: no graceful shutdown, no flushing, exactly like a crash.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL serve");
        let _ = self.child.wait();
    }

    /// Still running?
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = client()
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = client()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Registers the two units the load files for (once per ledger).
    pub async fn register_units(&self, tokens: &Tokens) {
        for (ori, name) in [
            (HARTFORD, "Hartford Police Department"),
            (NEW_HAVEN, "New Haven Police Department"),
        ] {
            let (st, body) = self
                .post(
                    &tokens.admin,
                    "/v1/units",
                    json!({ "ori": ori, "name": name, "kind": "municipal_police", "town": "Hartford" }),
                )
                .await;
            assert_eq!(st, 201, "register {ori}: {body}");
        }
    }

    /// Waits until the projections have applied every event; returns the ledger size.
    pub async fn wait_projections(&self, tokens: &Tokens, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        loop {
            let (st, body) = self.get(&tokens.auditor, "/v1/ledger/status").await;
            assert_eq!(st, 200, "{body}");
            let size = body["size"].as_u64().expect("size");
            let projected = body["projection_position"].as_u64().expect("position");
            if projected == size {
                return size;
            }
            assert!(
                Instant::now() < deadline,
                "projections stuck at {projected} of {size}; log:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What one request was for, and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Filing { case_id: String },
    Share { case_id: String },
}

#[derive(Debug, Clone)]
pub struct Answer {
    pub sent: Sent,
    /// `None`: no HTTP answer at all (connection refused or reset).
    pub status: Option<u16>,
    pub request_id: Option<String>,
    pub problem_json: bool,
    /// Milliseconds since the load started.
    pub at_ms: u64,
}

/// Every answer the load got, shared by its tasks.
#[derive(Default, Clone)]
pub struct Journal(pub Arc<Mutex<Vec<Answer>>>);

impl Journal {
    pub fn answers(&self) -> Vec<Answer> {
        self.0.lock().expect("journal").clone()
    }
}

/// A concurrent write load: each task files a notification for a new case (every other
/// one with its own CyberTip, so deconfliction's claim runs too), then shares
/// information on it, until stopped or the server is gone.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

static CASE_SEQ: AtomicU64 = AtomicU64::new(0);

pub struct LoadSpec<'a> {
    pub base: &'a str,
    pub token: &'a str,
    pub tasks: usize,
    /// A tag that keeps case numbers unique across runs on one ledger.
    pub tag: &'a str,
    /// Keep going after transport errors (the server is expected back).
    pub keep_going: bool,
    pub journal: Journal,
    pub started: Instant,
}

impl Load {
    pub fn start(spec: LoadSpec<'_>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(spec.tasks)
            .build()
            .expect("client");
        let mut tasks = Vec::new();
        for t in 0..spec.tasks {
            let stop = stop.clone();
            let client = client.clone();
            let base = spec.base.to_owned();
            let token = spec.token.to_owned();
            let tag = spec.tag.to_owned();
            let journal = spec.journal.clone();
            let keep_going = spec.keep_going;
            let started = spec.started;
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = CASE_SEQ.fetch_add(1, Ordering::Relaxed);
                    let unit = if t % 2 == 0 { HARTFORD } else { NEW_HAVEN };
                    let case_number = format!("{tag}-{t}-{n}");
                    let case_id = format!("{unit}:{case_number}");
                    let tip = (n % 2 == 0).then(|| format!("{}{n:06}", 7 + t % 3));
                    let filing = send(
                        &client,
                        &format!("{base}/v1/notifications"),
                        &token,
                        notification(unit, &case_number, tip.as_deref()),
                        Sent::Filing {
                            case_id: case_id.clone(),
                        },
                        started,
                    )
                    .await;
                    let filed = filing.status == Some(201);
                    let gone = filing.status.is_none();
                    journal.0.lock().expect("journal").push(filing);
                    if gone {
                        if keep_going {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                        break;
                    }
                    if !filed {
                        continue;
                    }
                    let share = send(
                        &client,
                        &format!("{base}/v1/cases/{case_id}/shares"),
                        &token,
                        json!({
                            "direction": { "direction": "task_force_to_units", "to_units": [HARTFORD, NEW_HAVEN] },
                            "category": "case_update",
                            "summary": format!("Subscriber records returned for {case_number}."),
                        }),
                        Sent::Share { case_id },
                        started,
                    )
                    .await;
                    let gone = share.status.is_none();
                    journal.0.lock().expect("journal").push(share);
                    if gone && !keep_going {
                        break;
                    }
                }
            }));
        }
        Load { stop, tasks }
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn send(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
    sent: Sent,
    started: Instant,
) -> Answer {
    let result = client.post(url).bearer_auth(token).json(&body).send().await;
    let at_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(r) => {
            let status = r.status().as_u16();
            let request_id = r
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let problem_json = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|c| c.starts_with("application/problem+json"));
            // A body cut off by a crash leaves the status known but the outcome not
            // acknowledged; only a complete 2xx body counts as acknowledged.
            let complete = r.bytes().await.is_ok();
            Answer {
                sent,
                status: if complete || status >= 400 {
                    Some(status)
                } else {
                    None
                },
                request_id,
                problem_json,
                at_ms,
            }
        }
        Err(_) => Answer {
            sent,
            status: None,
            request_id: None,
            problem_json: false,
            at_ms,
        },
    }
}

/// A valid notification form received two days ago.
pub fn notification(unit: &str, case_number: &str, tip: Option<&str>) -> Value {
    let today = icac_aggregates::local_time::ct_date(jiff::Timestamp::now());
    let day = today
        .checked_sub(jiff::Span::new().days(2))
        .expect("date")
        .to_string();
    let from = today
        .checked_sub(jiff::Span::new().days(9))
        .expect("date")
        .to_string();
    let source = match tip {
        Some(tip) => json!({ "kind": "ncmec_cybertip", "cybertip_number": tip }),
        None => json!({ "kind": "school" }),
    };
    json!({
        "form_version": "1",
        "reporting_unit": unit,
        "officer": { "name": "Det. A. Rivera", "badge": "1234", "phone": "(860) 555-0100", "email": "a.rivera@example.gov" },
        "unit_case_number": case_number,
        "received": { "date": day, "time": "09:30:00" },
        "source": source,
        "incident": { "type": "csam_distribution", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false, "date_from": from, "date_to": day },
        "medium": "chat_im",
        "platform": "Example Messenger",
        "suspected_statutes": ["53a-196d"],
        "urgent": false,
        "subject_identifiers": [ { "kind": "screen_name", "value": "suspect_handle_01", "platform": "Example Messenger" } ],
        "victim": { "identified": false, "age_band": "unknown" },
        "evidence": { "item_count": 2, "image_count": 2, "video_count": 0, "hashes": [] },
        "deconfliction_checked": true,
        "assistance_requested": { "undercover": false, "forensic": true, "technical": false },
        "attestation": { "name": "Det. A. Rivera", "statement_accepted": true }
    })
}

/// The acknowledged-means-durable checks shared by the crash and restart tests:
/// every 2xx filing and share is in the ledger under its request id, exactly once, and
/// no case was filed twice. Returns (acknowledged, unacknowledged but present); the
/// second counts requests answered with an error, or not at all, that committed anyway
/// (unanswered shares cannot be told apart, so only filings count there).
pub fn check_acknowledged(answers: &[Answer], events: &[StoredEvent]) -> (usize, usize) {
    let mut by_request: HashMap<&str, Vec<&StoredEvent>> = HashMap::new();
    for e in events {
        by_request.entry(e.request_id.as_str()).or_default().push(e);
    }
    // No case holds two filings; no event is repeated within one request.
    let mut filings: HashMap<&str, usize> = HashMap::new();
    for e in events {
        if e.aggregate_type == "case" && e.event_type == "NotificationFiled" {
            *filings.entry(e.aggregate_id.as_str()).or_default() += 1;
        }
    }
    let twice: Vec<_> = filings.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "cases filed more than once: {twice:?}");
    for (rid, evs) in &by_request {
        let mut seen = std::collections::HashSet::new();
        for e in evs {
            assert!(
                seen.insert((&e.aggregate_type, &e.aggregate_id, &e.event_type)),
                "request {rid} recorded {} on {}/{} twice",
                e.event_type,
                e.aggregate_type,
                e.aggregate_id
            );
        }
    }
    let mut acknowledged = 0;
    let mut extra = 0;
    for a in answers {
        let (case_id, wanted) = match &a.sent {
            Sent::Filing { case_id } => (case_id, "NotificationFiled"),
            Sent::Share { case_id } => (case_id, "InformationShared"),
        };
        let present = |rid: &str| {
            by_request.get(rid).is_some_and(|evs| {
                evs.iter().any(|e| {
                    e.aggregate_type == "case"
                        && e.aggregate_id == *case_id
                        && e.event_type == wanted
                })
            })
        };
        match (a.status, &a.request_id) {
            (Some(s), Some(rid)) if (200..300).contains(&s) => {
                acknowledged += 1;
                assert!(
                    present(rid),
                    "acknowledged {:?} (request {rid}, HTTP {s}) is missing from the ledger",
                    a.sent
                );
            }
            (_, Some(rid)) if present(rid) => extra += 1,
            // No answer at all: a filing is found by its case instead.
            (_, None)
                if matches!(a.sent, Sent::Filing { .. })
                    && filings.contains_key(case_id.as_str()) =>
            {
                extra += 1;
            }
            _ => {}
        }
    }
    (acknowledged, extra)
}
