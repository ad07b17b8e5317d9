//! Staff accounts over real HTTP on loopback, on SQLite and PostgreSQL: the admin API
//! (create, change, disable, re-enable, release; the last admin kept), per-account
//! lockout, inactivity, sign-in with TOTP and recovery codes (a code used once is
//! refused again), sessions that end at logout, when idle, at their absolute limit and
//! when the account is disabled, and tokens scoped to accounts. Each refusal leaves
//! its access-log entry and changes nothing else.

use crate::support::{child_server, common, http_support, slow};

use common::{TestDb, KINDS};
use http_support::{cookie_value, hidden_csrf, set_cookies, start, Server, HARTFORD};
use icac_ledger::access::accounts::{Actor, INACTIVITY_SECS};
use icac_ledger::access::auth::Role;
use icac_ledger::http::second_factor::{code_at, secret_from_base32, TOTP_STEP};
use icac_ledger::http::sessions::{
    AccountSession, SessionEnd, SessionId, ACCOUNT_IDLE_SECS, ACCOUNT_SESSION_SECS,
};
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Access-log entries with `action`, as (principal, target, outcome).
async fn logged(s: &Server, action: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = s.state.access_log.page(after, 1000).await.expect("log");
        if page.is_empty() {
            return out;
        }
        for e in page {
            after = e.entry.seq;
            if e.entry.action == action {
                out.push((e.entry.principal, e.entry.target, e.entry.outcome));
            }
        }
    }
}

async fn create(s: &Server, username: &str, role: &str, unit: Option<&str>) -> String {
    let mut body = json!({ "username": username, "role": role });
    if let Some(u) = unit {
        body["unit"] = json!(u);
    }
    let (status, v) = s.post(Role::Admin, "/v1/accounts", body).await;
    assert_eq!(status, 201, "{v}");
    v["password"].as_str().expect("password").to_owned()
}

/// A browser's view: the cookies it holds.
struct Browser<'a> {
    s: &'a Server,
    session: Option<String>,
}

/// What a form post answered.
struct Answer {
    status: u16,
    location: String,
    cookies: Vec<String>,
    body: String,
}

impl<'a> Browser<'a> {
    fn new(s: &'a Server) -> Self {
        Browser { s, session: None }
    }

    async fn get(&self, path: &str) -> Answer {
        let mut r = self.s.client.get(self.s.url(path));
        if let Some(c) = &self.session {
            r = r.header("cookie", format!("icac_session={c}"));
        }
        answer(r.send().await.expect("get")).await
    }

    async fn post(
        &mut self,
        path: &str,
        extra_cookie: Option<String>,
        form: &[(&str, &str)],
    ) -> Answer {
        let mut cookies = Vec::new();
        if let Some(c) = &self.session {
            cookies.push(format!("icac_session={c}"));
        }
        cookies.extend(extra_cookie);
        let r = self
            .s
            .client
            .post(self.s.url(path))
            .header("origin", &self.s.base)
            .header("cookie", cookies.join("; "))
            .form(form)
            .send()
            .await
            .expect("post");
        let a = answer(r).await;
        if let Some(v) = cookie_value(&a.cookies, "icac_session") {
            self.session = (!v.is_empty()).then_some(v);
        }
        a
    }

    /// The sign-in form, filled in and sent.
    async fn sign_in(&mut self, username: &str, password: &str, code: &str) -> Answer {
        let page = self
            .s
            .client
            .get(self.s.url("/staff/signin"))
            .send()
            .await
            .unwrap();
        let cookie = cookie_value(&set_cookies(&page), "icac_signin_csrf").expect("signin cookie");
        let csrf = hidden_csrf(&page.text().await.unwrap());
        self.post(
            "/staff/signin",
            Some(format!("icac_signin_csrf={cookie}")),
            &[
                ("csrf", csrf.as_str()),
                ("username", username),
                ("password", password),
                ("code", code),
            ],
        )
        .await
    }

    /// First sign-in and enrolment: returns the TOTP secret and the recovery codes.
    async fn enrol(&mut self, username: &str, password: &str) -> (Vec<u8>, Vec<String>) {
        let a = self.sign_in(username, password, "").await;
        assert_eq!(
            (a.status, a.location.as_str()),
            (303, "/staff/enroll"),
            "{}",
            a.body
        );
        // An enrolment session opens nothing else.
        let dash = self.get("/staff").await;
        assert_eq!(
            (dash.status, dash.location.as_str()),
            (303, "/staff/enroll")
        );
        self.set_up_authenticator(password).await
    }

    /// Sets up a (new) authenticator from the enrolment page of this session.
    async fn set_up_authenticator(&mut self, password: &str) -> (Vec<u8>, Vec<String>) {
        let page = self.get("/staff/enroll").await;
        assert_eq!(page.status, 200);
        let secret_text = between(&page.body, "id=\"totp-secret\">", "<");
        let secret = secret_from_base32(&secret_text).expect("secret");
        let csrf = hidden_csrf(&page.body);
        let code = code_at(&secret, now());
        let done = self
            .post(
                "/staff/enroll",
                None,
                &[
                    ("csrf", csrf.as_str()),
                    ("secret", secret_text.as_str()),
                    ("password", password),
                    ("code", code.as_str()),
                ],
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        let codes: Vec<String> = done
            .body
            .split("<li><code>")
            .skip(1)
            .filter_map(|c| c.split('<').next().map(str::to_owned))
            .collect();
        assert_eq!(codes.len(), 10);
        assert_eq!(self.get("/staff").await.status, 200);
        (secret, codes)
    }

    async fn sign_out(&mut self) {
        let dash = self.get("/staff").await;
        let csrf = hidden_csrf(&dash.body);
        let a = self
            .post("/staff/logout", None, &[("csrf", csrf.as_str())])
            .await;
        assert_eq!(a.status, 303);
    }
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let cookies = set_cookies(&r);
    Answer {
        status,
        location,
        cookies,
        body: r.text().await.unwrap_or_default(),
    }
}

fn between(text: &str, start: &str, end: &str) -> String {
    text.split(start)
        .nth(1)
        .and_then(|t| t.split(end).next())
        .unwrap_or_else(|| panic!("no {start:?} in page"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_create_change_disable_and_reenable_accounts_each_logged() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        create(&s, "root", "admin", None).await;
        create(&s, "rita", "unit_reporter", Some(HARTFORD)).await;

        let (status, v) = s.get(Role::Admin, "/v1/accounts").await;
        assert_eq!(status, 200);
        let names: Vec<&str> = v["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["rita", "root"]);
        assert_eq!(v["accounts"][0]["unit"], HARTFORD);
        assert_eq!(v["accounts"][0]["status"], "enabled");
        assert!(
            v.to_string().find("argon2").is_none(),
            "no secret is listed"
        );

        // Bad input: a clear 4xx, logged, nothing created.
        let (status, v) = s
            .post(
                Role::Admin,
                "/v1/accounts",
                json!({ "username": "rita", "role": "auditor" }),
            )
            .await;
        assert_eq!(status, 409, "{v}");
        let (status, _) = s
            .post(
                Role::Admin,
                "/v1/accounts",
                json!({ "username": "Bad Name", "role": "auditor" }),
            )
            .await;
        assert_eq!(status, 422);
        let (status, _) = s
            .post(
                Role::Admin,
                "/v1/accounts",
                json!({ "username": "ursula", "role": "unit_reporter" }),
            )
            .await;
        assert_eq!(status, 422, "a unit reporter needs a unit");
        assert_eq!(s.state.accounts.list().await.unwrap().len(), 2);
        let refusals: Vec<String> = logged(&s, "account_created")
            .await
            .into_iter()
            .map(|(_, _, o)| o)
            .collect();
        assert_eq!(
            refusals,
            [
                "ok",
                "ok",
                "refused_exists",
                "refused_invalid",
                "refused_invalid"
            ]
        );
        // Only admins administer accounts.
        let (status, _) = s.get(Role::Supervisor, "/v1/accounts").await;
        assert_eq!(status, 403);

        // Change, disable, re-enable.
        let (status, v) = s
            .post(
                Role::Admin,
                "/v1/accounts/rita/role",
                json!({ "role": "investigator" }),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["role"], "investigator");
        assert_eq!(v["unit"], Value::Null);
        let (status, v) = s
            .post(
                Role::Admin,
                "/v1/accounts/rita/disable",
                json!({ "reason": "left the unit" }),
            )
            .await;
        assert_eq!(
            (status, v["status"].as_str()),
            (200, Some("disabled")),
            "{v}"
        );
        let (status, _) = s
            .post(
                Role::Admin,
                "/v1/accounts/rita/disable",
                json!({ "reason": "again" }),
            )
            .await;
        assert_eq!(status, 409);
        let (status, v) = s
            .post(Role::Admin, "/v1/accounts/rita/enable", json!({}))
            .await;
        assert_eq!(
            (status, v["status"].as_str()),
            (200, Some("enabled")),
            "{v}"
        );
        let (status, _) = s
            .post(Role::Admin, "/v1/accounts/nobody/enable", json!({}))
            .await;
        assert_eq!(status, 404);
        assert!(logged(&s, "account_enabled").await.contains(&(
            "admin:".to_owned() + &token_id(&s, Role::Admin),
            "nobody".into(),
            "refused_unknown_account".into()
        )));

        // The last enabled admin cannot disable itself, nor be demoted.
        let (status, token) = s
            .post(
                Role::Admin,
                "/v1/tokens",
                json!({ "account": "root", "name": "root's script", "days": 7 }),
            )
            .await;
        assert_eq!(status, 201, "{token}");
        assert_eq!(token["account"], "root");
        let root_token = token["token"].as_str().unwrap().to_owned();
        let r = s
            .client
            .post(s.url("/v1/accounts/root/disable"))
            .bearer_auth(&root_token)
            .json(&json!({ "reason": "leaving" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 409);
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/problem+json"
        );
        let detail = r.json::<Value>().await.unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(detail.contains("last enabled admin"), "{detail}");
        let (status, _) = s
            .post(
                Role::Admin,
                "/v1/accounts/root/role",
                json!({ "role": "auditor" }),
            )
            .await;
        assert_eq!(status, 409);
        let root = s.state.accounts.get("root").await.unwrap().unwrap();
        assert_eq!((root.role, root.status.as_str()), (Role::Admin, "enabled"));
        let root_token_id = root_token.split('_').nth(1).unwrap().to_owned();
        assert!(logged(&s, "account_disabled").await.contains(&(
            format!("admin:{root_token_id}"),
            "root".into(),
            "refused_last_admin".into()
        )));
        // With a second admin it may.
        create(&s, "ada", "admin", None).await;
        let (status, _) = s
            .post(
                Role::Admin,
                "/v1/accounts/root/disable",
                json!({ "reason": "leaving" }),
            )
            .await;
        assert_eq!(status, 200);
        // A disabled account's token stops working.
        let r = s
            .client
            .get(s.url("/v1/whoami"))
            .bearer_auth(&root_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        s.stop().await;
    }
}

fn token_id(s: &Server, role: Role) -> String {
    s.tokens[&role]
        .strip_prefix("icac_")
        .and_then(|t| t.split('_').next())
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_scoped_to_an_account_or_a_service_and_expire() {
    let s = start(
        TestDb::new(common::Kind::Sqlite).await,
        ServerConfig::default(),
    )
    .await;
    create(&s, "ivan", "investigator", None).await;
    let (status, v) = s
        .post(
            Role::Admin,
            "/v1/tokens",
            json!({ "account": "ivan", "name": "ivan's export script", "days": 30 }),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let who: Value = s
        .client
        .get(s.url("/v1/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (who["role"].as_str(), who["account"].as_str()),
        (Some("investigator"), Some("ivan"))
    );
    // The account's role change carries over to its token.
    let (status, _) = s
        .post(
            Role::Admin,
            "/v1/accounts/ivan/role",
            json!({ "role": "auditor" }),
        )
        .await;
    assert_eq!(status, 200);
    s.state.tokens.forget_verified();
    let who: Value = s
        .client
        .get(s.url("/v1/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["role"], "auditor");
    // Listed with scope and expiry; a service token too.
    let (_, list) = s.get(Role::Admin, "/v1/tokens").await;
    let mine = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["account"] == "ivan")
        .expect("listed")
        .clone();
    let expires: jiff::Timestamp = mine["expires_at"].as_str().unwrap().parse().unwrap();
    let days = (expires.as_second() - now()) / 86_400;
    assert!((29..=30).contains(&days), "{mine}");
    assert!(list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["account"].is_null() && t["expires_at"].is_string()));
    // Both at once, too long, or an unknown account: 422, nothing issued.
    let before = list["tokens"].as_array().unwrap().len();
    for body in [
        json!({ "account": "ivan", "role": "admin", "name": "x" }),
        json!({ "account": "ivan", "name": "x", "days": 400 }),
        json!({ "account": "nobody", "name": "x" }),
    ] {
        let (status, v) = s.post(Role::Admin, "/v1/tokens", body).await;
        assert_eq!(status, 422, "{v}");
    }
    let (_, list) = s.get(Role::Admin, "/v1/tokens").await;
    assert_eq!(list["tokens"].as_array().unwrap().len(), before);
    // An expired token is refused: age it in the table (the clock of a real one).
    let id = mine["token_id"].as_str().unwrap();
    s.db.exec(&format!(
        "UPDATE access_tokens SET expires_at = '2020-01-01T00:00:00Z' WHERE token_id = '{id}'"
    ))
    .await
    .unwrap();
    s.state.tokens.forget_verified();
    let r = s
        .client
        .get(s.url("/v1/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_needs_a_second_factor_and_a_used_code_is_refused() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let password = create(&s, "alice", "investigator", None).await;
        let mut b = Browser::new(&s);
        let (secret, codes) = b.enrol("alice", &password).await;
        assert!(logged(&s, "totp_enrolled")
            .await
            .iter()
            .any(|(_, t, o)| t == "alice" && o == "ok"));
        b.sign_out().await;

        // Password alone, or a wrong code: refused, logged, no session.
        let mut c = Browser::new(&s);
        let a = c.sign_in("alice", &password, "").await;
        assert_eq!(a.status, 401);
        assert!(a.body.contains("not right"), "{}", a.body);
        let a = c.sign_in("alice", &password, "000000").await;
        assert_eq!(a.status, 401);
        assert!(c.session.is_none());
        // The next step's code signs in (one step of skew), once.
        let code = code_at(&secret, now() + TOTP_STEP);
        let a = c.sign_in("alice", &password, &code).await;
        assert_eq!(
            (a.status, a.location.as_str()),
            (303, "/staff"),
            "{}",
            a.body
        );
        assert_eq!(c.get("/staff").await.status, 200);
        let mut d = Browser::new(&s);
        let a = d.sign_in("alice", &password, &code).await;
        assert_eq!(a.status, 409, "a replayed code is refused");
        assert!(a.body.contains("already used"), "{}", a.body);
        assert!(d.session.is_none());
        assert!(logged(&s, "logon_failed")
            .await
            .iter()
            .any(|(_, t, o)| t == "alice" && o == "totp_replayed"));

        // A recovery code works once.
        let a = d.sign_in("alice", &password, &codes[0]).await;
        assert_eq!(a.status, 303, "{}", a.body);
        let mut e = Browser::new(&s);
        let a = e.sign_in("alice", &password, &codes[0]).await;
        assert_eq!(a.status, 401);
        assert_eq!(
            s.state.accounts.recovery_codes_left("alice").await.unwrap(),
            9
        );
        // A wrong password with a good recovery code does not spend it.
        let a = e.sign_in("alice", "wrong-password", &codes[1]).await;
        assert_eq!(a.status, 401);
        assert_eq!(
            s.state.accounts.recovery_codes_left("alice").await.unwrap(),
            9
        );
        let logons: Vec<String> = logged(&s, "logon")
            .await
            .into_iter()
            .map(|(p, _, o)| format!("{p} {o}"))
            .collect();
        assert_eq!(
            logons,
            ["acct.alice enroll", "acct.alice ok", "acct.alice ok"]
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_lock_only_that_account_until_an_admin_releases_it() {
    if slow::skip("five_failures_lock_only_that_account_until_an_admin_releases_it") {
        return;
    }
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let alice_pw = create(&s, "alice", "investigator", None).await;
        let bob_pw = create(&s, "bob", "supervisor", None).await;
        let mut alice = Browser::new(&s);
        let (_, alice_codes) = alice.enrol("alice", &alice_pw).await;
        let mut bob = Browser::new(&s);
        let (_, bob_codes) = bob.enrol("bob", &bob_pw).await;

        // Someone guesses bob's password five times, from the same address as alice.
        let mut guesser = Browser::new(&s);
        for i in 0..5 {
            let a = guesser
                .sign_in("bob", &format!("guess-{i}"), "123456")
                .await;
            assert_eq!(a.status, 401);
        }
        let bob_now = s.state.accounts.get("bob").await.unwrap().unwrap();
        assert_eq!(bob_now.status.as_str(), "locked");
        // Bob's own session ended with the lock; the right password is refused.
        let ended = bob.get("/staff").await;
        assert_eq!(ended.status, 401);
        let mut bob2 = Browser::new(&s);
        let a = bob2.sign_in("bob", &bob_pw, &bob_codes[0]).await;
        assert_eq!(a.status, 403);
        assert!(a.body.contains("locked"), "{}", a.body);
        // Alice is untouched: her session and a new sign-in both work.
        assert_eq!(alice.get("/staff").await.status, 200);
        let mut alice2 = Browser::new(&s);
        assert_eq!(
            alice2
                .sign_in("alice", &alice_pw, &alice_codes[0])
                .await
                .status,
            303
        );
        assert_eq!(
            s.state
                .accounts
                .get("alice")
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str(),
            "enabled"
        );
        // Guessing an unknown account locks nobody.
        for _ in 0..6 {
            assert_eq!(guesser.sign_in("nobody", "x", "123456").await.status, 401);
        }
        assert!(s
            .state
            .accounts
            .list()
            .await
            .unwrap()
            .iter()
            .all(|a| a.username == "bob" || a.status.as_str() == "enabled"));
        assert!(logged(&s, "account_locked")
            .await
            .iter()
            .any(|(_, t, _)| t == "bob"));
        assert!(logged(&s, "logon_failed")
            .await
            .iter()
            .any(|(_, t, o)| t == "nobody" && o == "unknown_account"));

        // Releasing is an admin action; it takes an admin.
        let (status, _) = s
            .post(Role::Supervisor, "/v1/accounts/bob/release", json!({}))
            .await;
        assert_eq!(status, 403);
        let (status, _) = s
            .post(Role::Admin, "/v1/accounts/alice/release", json!({}))
            .await;
        assert_eq!(status, 409, "alice is not locked");
        let (status, v) = s
            .post(Role::Admin, "/v1/accounts/bob/release", json!({}))
            .await;
        assert_eq!(
            (status, v["status"].as_str()),
            (200, Some("enabled")),
            "{v}"
        );
        let mut bob3 = Browser::new(&s);
        assert_eq!(
            bob3.sign_in("bob", &bob_pw, &bob_codes[1]).await.status,
            303
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_at_logout_when_idle_at_their_limit_and_on_disable() {
    let s = start(
        TestDb::new(common::Kind::Postgres).await,
        ServerConfig::default(),
    )
    .await;
    let pw = create(&s, "carol", "supervisor", None).await;
    create(&s, "root", "admin", None).await;
    let mut b = Browser::new(&s);
    let (_, codes) = b.enrol("carol", &pw).await;

    // Logout: the same cookie no longer signs in, and the page says why.
    let cookie = b.session.clone().unwrap();
    b.sign_out().await;
    b.session = Some(cookie);
    let a = b.get("/staff").await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("signed out"), "{}", a.body);
    assert!(logged(&s, "session_refused")
        .await
        .iter()
        .any(|(_, t, o)| t == "carol" && o == "signed_out"));

    // Idle and absolute limits, judged at a later clock.
    let mut b = Browser::new(&s);
    assert_eq!(b.sign_in("carol", &pw, &codes[0]).await.status, 303);
    let id = SessionId::from_cookie(b.session.as_deref().unwrap()).unwrap();
    let t = now();
    assert!(matches!(
        s.state
            .sessions
            .resolve_account(&id, t + ACCOUNT_IDLE_SECS - 60)
            .await
            .unwrap(),
        AccountSession::Live { .. }
    ));
    let later = t + ACCOUNT_IDLE_SECS - 60 + ACCOUNT_IDLE_SECS;
    assert_eq!(
        s.state.sessions.resolve_account(&id, later).await.unwrap(),
        AccountSession::Ended {
            username: "carol".into(),
            why: SessionEnd::Idle
        }
    );
    let mut c = Browser::new(&s);
    assert_eq!(c.sign_in("carol", &pw, &codes[1]).await.status, 303);
    let id = SessionId::from_cookie(c.session.as_deref().unwrap()).unwrap();
    // From before the sign-in, so no step is ever a whole idle period after the last.
    let mut at = t;
    while at < t + ACCOUNT_SESSION_SECS {
        at += ACCOUNT_IDLE_SECS - 1;
        let r = s.state.sessions.resolve_account(&id, at).await.unwrap();
        if at < t + ACCOUNT_SESSION_SECS - 5 {
            assert!(
                matches!(r, AccountSession::Live { .. }),
                "{r:?} at +{}",
                at - t
            );
        }
    }
    assert_eq!(
        s.state
            .sessions
            .resolve_account(&id, t + ACCOUNT_SESSION_SECS + 10)
            .await
            .unwrap(),
        AccountSession::Ended {
            username: "carol".into(),
            why: SessionEnd::Expired
        }
    );

    // Disabling the account ends its sessions.
    let mut d = Browser::new(&s);
    assert_eq!(d.sign_in("carol", &pw, &codes[2]).await.status, 303);
    assert_eq!(d.get("/staff").await.status, 200);
    let (status, _) = s
        .post(
            Role::Admin,
            "/v1/accounts/carol/disable",
            json!({ "reason": "on leave" }),
        )
        .await;
    assert_eq!(status, 200);
    let a = d.get("/staff").await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("disabled"), "{}", a.body);
    let mut e = Browser::new(&s);
    let a = e.sign_in("carol", &pw, &codes[3]).await;
    assert_eq!(a.status, 403);
    assert!(a.body.contains("disabled"), "{}", a.body);
    assert_eq!(
        s.state.accounts.recovery_codes_left("carol").await.unwrap(),
        7,
        "a refused sign-in spends no code"
    );

    // A factor change ends the account's other sessions; a password reset ends all.
    let (status, _) = s
        .post(Role::Admin, "/v1/accounts/carol/enable", json!({}))
        .await;
    assert_eq!(status, 200);
    let mut f = Browser::new(&s);
    assert_eq!(f.sign_in("carol", &pw, &codes[3]).await.status, 303);
    let mut g = Browser::new(&s);
    assert_eq!(g.sign_in("carol", &pw, &codes[4]).await.status, 303);
    let (_, new_codes) = g.set_up_authenticator(&pw).await;
    let a = f.get("/staff").await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("factor_changed"), "{}", a.body);
    assert_eq!(
        g.get("/staff").await.status,
        200,
        "the browser that did it stays in"
    );
    let mut h = Browser::new(&s);
    assert_eq!(
        h.sign_in("carol", &pw, &codes[5]).await.status,
        401,
        "old codes are gone"
    );
    let (status, v) = s
        .post(Role::Admin, "/v1/accounts/carol/password-reset", json!({}))
        .await;
    assert_eq!(status, 200, "{v}");
    let a = g.get("/staff").await;
    assert_eq!(a.status, 401);
    assert!(a.body.contains("password_reset"), "{}", a.body);
    let new_pw = v["password"].as_str().unwrap();
    assert_eq!(h.sign_in("carol", &pw, &new_codes[0]).await.status, 401);
    // The authenticator was sealed under the old password: it is set up again.
    let a = h.sign_in("carol", new_pw, "").await;
    assert_eq!(a.location, "/staff/enroll");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_unused_for_90_days_is_disabled_and_an_admin_reenables_it() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let pw = create(&s, "dora", "auditor", None).await;
        create(&s, "eve", "auditor", None).await;
        let t = now();
        let sweeper = Actor::cli("system:test".into());
        // 89 days on: nothing yet.
        let done = s
            .state
            .accounts
            .disable_inactive(t + INACTIVITY_SECS - 86_400, &sweeper)
            .await
            .unwrap();
        assert!(done.is_empty());
        // Eve uses her account 30 days on (a sign-in counts), dora does not.
        s.state
            .accounts
            .touch("eve", t + 30 * 86_400)
            .await
            .unwrap();
        let done = s
            .state
            .accounts
            .disable_inactive(t + INACTIVITY_SECS + 1, &sweeper)
            .await
            .unwrap();
        assert_eq!(done, ["dora"]);
        let dora = s.state.accounts.get("dora").await.unwrap().unwrap();
        assert_eq!(dora.status.as_str(), "disabled");
        assert_eq!(dora.status_reason.as_deref(), Some("unused for 90 days"));
        assert_eq!(
            s.state
                .accounts
                .get("eve")
                .await
                .unwrap()
                .unwrap()
                .status
                .as_str(),
            "enabled"
        );
        assert!(logged(&s, "account_disabled_inactive")
            .await
            .iter()
            .any(|(_, t, _)| t == "dora"));
        // Sweeping again changes nothing.
        assert!(s
            .state
            .accounts
            .disable_inactive(t + INACTIVITY_SECS + 2, &sweeper)
            .await
            .unwrap()
            .is_empty());
        // Dora cannot sign in; an admin re-enables her, and the clock starts again.
        let mut b = Browser::new(&s);
        assert_eq!(b.sign_in("dora", &pw, "").await.status, 403);
        let (status, v) = s
            .post(Role::Admin, "/v1/accounts/dora/enable", json!({}))
            .await;
        assert_eq!((status, v["status"].as_str()), (200, Some("enabled")));
        assert_eq!(b.sign_in("dora", &pw, "").await.location, "/staff/enroll");
        s.stop().await;
    }
}

#[test]
fn the_accounts_command_line_administers_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let (d, _tokens) = child_server::Deployment::init(&url);
    let out = d.cli(&["accounts", "create", "root", "--role", "admin"]);
    assert!(out.status.success(), "{}", child_server::show(&out));
    let password = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(password.len(), 23, "a generated password, printed once");
    let out = d.cli(&[
        "accounts",
        "create",
        "uma",
        "--role",
        "unit_reporter",
        "--unit",
        HARTFORD,
    ]);
    assert!(out.status.success(), "{}", child_server::show(&out));
    // The last enabled admin: refused, exit 1.
    let out = d.cli(&["accounts", "disable", "root", "--reason", "test"]);
    assert_eq!(out.status.code(), Some(1), "{}", child_server::show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("last enabled admin"));
    let out = d.cli(&["accounts", "disable", "nobody", "--reason", "test"]);
    assert_eq!(out.status.code(), Some(1));
    let out = d.cli(&["accounts", "change", "uma", "--role", "investigator"]);
    assert!(out.status.success(), "{}", child_server::show(&out));
    // 91 days from now both are unused.
    let later = jiff::Timestamp::from_second(now() + INACTIVITY_SECS + 86_400)
        .unwrap()
        .to_string();
    let out = d.cli(&["accounts", "disable-inactive", "--as-of", &later]);
    assert!(out.status.success(), "{}", child_server::show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("disabled 2 account(s)"));
    let out = d.cli(&["accounts", "enable", "uma"]);
    assert!(out.status.success());
    let out = d.cli(&["accounts", "list", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let status: Vec<(String, String)> = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["username"].as_str().unwrap().into(),
                a["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        status,
        [
            ("root".into(), "disabled".into()),
            ("uma".into(), "enabled".into())
        ]
    );
    let out = d.cli(&[
        "tokens",
        "issue",
        "--account",
        "uma",
        "--name",
        "uma's tool",
        "--days",
        "10",
    ]);
    assert!(out.status.success(), "{}", child_server::show(&out));
    let out = d.cli(&["tokens", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("account uma"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_token_sign_in_off_the_staff_pages_take_accounts_only() {
    let config = ServerConfig {
        token_sign_in: false,
        ..ServerConfig::default()
    };
    let s = start(TestDb::new(common::Kind::Sqlite).await, config).await;
    let page = s.client.get(s.url("/staff/login")).send().await.unwrap();
    let cookie = cookie_value(&set_cookies(&page), "icac_login_csrf").unwrap();
    let csrf = hidden_csrf(&page.text().await.unwrap());
    let r = s
        .client
        .post(s.url("/staff/login"))
        .header("cookie", format!("icac_login_csrf={cookie}"))
        .header("origin", &s.base)
        .form(&[
            ("csrf", csrf.as_str()),
            ("token", s.tokens[&Role::Supervisor].as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(set_cookies(&r)
        .iter()
        .all(|c| !c.starts_with("icac_session=")));
    assert!(r.text().await.unwrap().contains("/staff/signin"));
    assert!(logged(&s, "logon_failed")
        .await
        .iter()
        .any(|(_, _, o)| o == "token_sign_in_off"));
    // The API still takes the token; accounts still sign in.
    assert_eq!(s.get(Role::Supervisor, "/v1/whoami").await.0, 200);
    let pw = create(&s, "fay", "auditor", None).await;
    let mut b = Browser::new(&s);
    b.enrol("fay", &pw).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_every_other_session_and_keeps_the_authenticator() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let pw = create(&s, "gus", "investigator", None).await;
        let mut b = Browser::new(&s);
        let (secret, codes) = b.enrol("gus", &pw).await;
        let mut other = Browser::new(&s);
        assert_eq!(other.sign_in("gus", &pw, &codes[0]).await.status, 303);
        let page = b.get("/staff/account").await;
        assert_eq!(page.status, 200);
        let csrf = hidden_csrf(&page.body);
        // The wrong current password: 422, nothing changes.
        let a = b
            .post(
                "/staff/account/password",
                None,
                &[("csrf", csrf.as_str()), ("password", "not-it")],
            )
            .await;
        assert_eq!(a.status, 422);
        assert_eq!(other.get("/staff").await.status, 200);
        let a = b
            .post(
                "/staff/account/password",
                None,
                &[("csrf", csrf.as_str()), ("password", pw.as_str())],
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let new_pw = between(&a.body, "id=\"new-password\">", "<");
        assert_ne!(new_pw, pw);
        let ended = other.get("/staff").await;
        assert_eq!(ended.status, 401);
        assert!(ended.body.contains("password_changed"), "{}", ended.body);
        assert_eq!(b.get("/staff").await.status, 200, "this browser stays in");
        // The old password is gone; the new one works with the same authenticator.
        let mut c = Browser::new(&s);
        assert_eq!(c.sign_in("gus", &pw, &codes[1]).await.status, 401);
        let code = code_at(&secret, now() + TOTP_STEP);
        assert_eq!(c.sign_in("gus", &new_pw, &code).await.status, 303);
        assert!(logged(&s, "account_password_changed")
            .await
            .iter()
            .any(|(p, t, o)| p == "acct.gus" && t == "gus" && o == "ok"));
        s.stop().await;
    }
}
