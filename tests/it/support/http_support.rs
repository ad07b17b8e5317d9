//! A real server on loopback for the HTTP tests: migrated ledger (SQLite or PostgreSQL),
//! the service bound to 127.0.0.1:0, a token per role, two registered units.

use std::collections::HashMap;
use std::net::SocketAddr;

use icac_format::keys::LedgerKey;
use icac_ledger::access::auth::Role;
use icac_ledger::http::{serve, AppState, ServerConfig, SharedState};
use icac_ledger::ledger::key_file::KeyFile;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::support::common::{open_ledger, TestDb};

pub const HARTFORD: &str = "CT0006400";
pub const NEW_HAVEN: &str = "CT0009300";

pub struct Server {
    pub base: String,
    pub state: SharedState,
    pub tokens: HashMap<Role, String>,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub db: TestDb,
}

pub async fn start(db: TestDb, config: ServerConfig) -> Server {
    let key = LedgerKey::generate();
    let ledger = open_ledger(&db, &key).await;
    let state = AppState::open(ledger, config).await.expect("state");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let st = state.clone();
    let task = tokio::spawn(async move {
        serve(listener, st, async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    let mut tokens = HashMap::new();
    for role in Role::ALL {
        let unit = role.is_unit_bound().then(|| HARTFORD.parse().expect("ori"));
        let t = state
            .tokens
            .issue(role, unit, &format!("test {role}"), "test")
            .await
            .expect("issue");
        tokens.insert(role, t.token);
    }
    let server = Server {
        base: format!("http://{addr}"),
        state,
        tokens,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        stop: Some(tx),
        task: Some(task),
        db,
    };
    for (ori, name) in [
        (HARTFORD, "Hartford Police Department"),
        (NEW_HAVEN, "New Haven Police Department"),
    ] {
        let (status, body) = server
            .post(
                Role::Admin,
                "/v1/units",
                json!({ "ori": ori, "name": name, "kind": "municipal_police", "town": "Hartford" }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    server
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, role: Role, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.tokens[&role])
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, role: Role, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(self.url(path))
            .bearer_auth(&self.tokens[&role])
            .send()
            .await
            .expect("send");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn head(&self) -> u64 {
        self.state.ledger.head().await.expect("head").position
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// A valid notification form received today (so the 14-day clock is fresh).
pub fn form(unit: &str, case_number: &str, tip: &str) -> Value {
    let today = icac_aggregates::local_time::ct_date(jiff::Timestamp::now());
    let day = today
        .checked_sub(jiff::Span::new().days(2))
        .expect("date")
        .to_string();
    let from = today
        .checked_sub(jiff::Span::new().days(9))
        .expect("date")
        .to_string();
    json!({
        "form_version": "1",
        "reporting_unit": unit,
        "officer": { "name": "Det. A. Rivera", "badge": "1234", "phone": "(860) 555-0100", "email": "a.rivera@example.gov" },
        "unit_case_number": case_number,
        "received": { "date": day, "time": "09:30:00" },
        "source": { "kind": "ncmec_cybertip", "cybertip_number": tip },
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

// Staff pages: the login form, its cookies and CSRF tokens.

pub fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

pub fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

pub fn hidden_csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a csrf field")
        .to_owned()
}

/// Signs in through the login form; returns the session cookie and the page's CSRF token.
pub async fn sign_in(s: &Server, token: &str) -> (String, String) {
    let page = s.client.get(s.url("/staff/login")).send().await.unwrap();
    let login_cookie =
        cookie_value(&set_cookies(&page), "icac_login_csrf").expect("login csrf cookie");
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let r = s
        .client
        .post(s.url("/staff/login"))
        .header("cookie", format!("icac_login_csrf={login_cookie}"))
        .header("origin", &s.base)
        .form(&[("csrf", csrf.as_str()), ("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookies = set_cookies(&r);
    let session = cookie_value(&cookies, "icac_session").expect("session cookie");
    let dash = s
        .client
        .get(s.url("/staff"))
        .header("cookie", format!("icac_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(dash.status(), 200);
    let csrf = hidden_csrf(&dash.text().await.unwrap());
    (session, csrf)
}

/// A server over a demo ledger as `serve --demo` makes one: the genesis declares the
/// demo clock and the demo year of `cases` cases is loaded (its own units; none are
/// registered here). Tokens are issued for every role, unit-bound ones to Hartford
/// (a demo unit).
pub async fn start_demo(db: TestDb, cases: usize) -> Server {
    use icac_ledger::commands::demo;
    use icac_ledger::ledger::Ledger;
    let key = LedgerKey::generate();
    let storage = db.storage().await;
    let id = crate::support::common::ledger_id();
    Ledger::initialise_demo(&storage, &id, &key, demo::story_start())
        .await
        .expect("demo genesis");
    let ledger = Ledger::open(
        storage,
        id,
        LedgerKey::from_signing_key(key.signing_key().clone()),
    )
    .await
    .expect("open");
    let state = AppState::open(ledger, ServerConfig::default())
        .await
        .expect("state");
    demo::run(&state.commands, cases, 7, |_, _| {})
        .await
        .expect("demo");
    state.projections.catch_up().await.expect("views");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let st = state.clone();
    let task = tokio::spawn(async move {
        serve(listener, st, async {
            let _ = rx.await;
        })
        .await
        .expect("serve");
    });
    let units = state.projections.units().await.expect("units");
    let unit = units
        .iter()
        .find(|u| u.active && u.ori.as_str() == HARTFORD)
        .or_else(|| units.iter().find(|u| u.active))
        .map(|u| u.ori.clone());
    let mut tokens = HashMap::new();
    for role in Role::ALL {
        let unit = role.is_unit_bound().then(|| unit.clone()).flatten();
        let t = state
            .tokens
            .issue(role, unit, &format!("test {role}"), "test")
            .await
            .expect("issue");
        tokens.insert(role, t.token);
    }
    Server {
        base: format!("http://{addr}"),
        state,
        tokens,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        stop: Some(tx),
        task: Some(task),
        db,
    }
}
