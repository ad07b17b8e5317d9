//! Staff accounts in a real headless Chromium with WebDriver's virtual authenticator
//! (a CTAP2 platform authenticator with user verification): an investigator signs in
//! with her password and a TOTP code, registers a passkey and signs in with it; a
//! replayed passkey assertion is refused; five failed sign-ins on a colleague's
//! account lock his account only (hers still works) until an admin releases it; and
//! after she signs out, her session's cookie signs no one in.

use crate::support::{browser, common, http_support};

use std::time::Duration;

use browser::Driver;
use common::{Kind, TestDb};
use http_support::start;
use icac_ledger::access::auth::Role;
use icac_ledger::http::second_factor::{code_at, secret_from_base32};
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};

/// WebDriver's virtual authenticator (W3C WebAuthn §11.3), as chromedriver serves it.
async fn add_virtual_authenticator(driver: &Driver) -> String {
    let v = driver
        .cmd(
            "POST",
            "/webauthn/authenticator",
            json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true
            }),
        )
        .await;
    v.as_str()
        .unwrap_or_else(|| panic!("no virtual authenticator: {v}"))
        .to_owned()
}

async fn wait_for(driver: &Driver, script: &str, what: &str) {
    for _ in 0..100 {
        if driver.execute(script, json!([])).await == json!(true) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver.screenshot("accounts-wait-failed.png").await;
    panic!("{what} never happened (screenshot in target/screenshots)");
}

async fn at_path(driver: &Driver, path: &str) {
    wait_for(
        driver,
        &format!("return location.pathname === '{path}' && document.readyState === 'complete';"),
        &format!("arriving at {path}"),
    )
    .await;
}

async fn sign_in_form(driver: &Driver, base: &str, username: &str, password: &str, code: &str) {
    driver.goto(&format!("{base}/staff/signin")).await;
    driver.type_into("#username", username).await;
    driver.type_into("#password", password).await;
    if !code.is_empty() {
        driver.type_into("#code", code).await;
    }
    driver.submit("#signin-submit").await;
}

async fn create(s: &http_support::Server, username: &str, role: &str) -> String {
    let (status, v) = s
        .post(
            Role::Admin,
            "/v1/accounts",
            json!({ "username": username, "role": role }),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    v["password"].as_str().unwrap().to_owned()
}

/// In the sign-in page: one passkey ceremony, its assertion sent twice.
const REPLAY: &str = "const done = arguments[arguments.length - 1];
(async () => {
  const dec = s => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), c => c.charCodeAt(0)).buffer;
  const enc = b => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  const csrf = document.getElementById('signin-csrf').value;
  const post = (u, b) => fetch(u, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(b) });
  const begun = await (await post('/staff/passkey/login/start', { csrf, username: arguments[0] })).json();
  const p = begun.options.publicKey;
  p.challenge = dec(p.challenge);
  (p.allowCredentials || []).forEach(c => c.id = dec(c.id));
  const a = await navigator.credentials.get({ publicKey: p });
  const body = { csrf, ceremony_id: begun.ceremony_id, credential: { id: a.id, rawId: enc(a.rawId), type: a.type, extensions: {},
    response: { authenticatorData: enc(a.response.authenticatorData), clientDataJSON: enc(a.response.clientDataJSON),
                signature: enc(a.response.signature), userHandle: a.response.userHandle ? enc(a.response.userHandle) : null } } };
  const first = await post('/staff/passkey/login/finish', body);
  const second = await post('/staff/passkey/login/finish', body);
  const again = await post('/staff/passkey/login/finish', Object.assign({}, body, { ceremony_id: '00'.repeat(32) }));
  done([first.status, second.status, (await second.json()).detail, again.status]);
})().catch(e => done(['error', String(e)]));";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passkey_sign_in_lockout_of_another_account_and_sign_out_in_chromium() {
    let Some(driver) =
        Driver::start("passkey_sign_in_lockout_of_another_account_and_sign_out_in_chromium").await
    else {
        return;
    };
    let s = start(TestDb::new(Kind::Postgres).await, ServerConfig::default()).await;
    // WebAuthn needs a domain: the browser opens the service as localhost.
    let base = s.base.replace("127.0.0.1", "localhost");
    let alice_pw = create(&s, "alice", "investigator").await;
    let bob_pw = create(&s, "bob", "supervisor").await;
    add_virtual_authenticator(&driver).await;

    // First sign-in: password, then the authenticator app is set up.
    sign_in_form(&driver, &base, "alice", &alice_pw, "").await;
    at_path(&driver, "/staff/enroll").await;
    driver.assert_accessible("enroll").await;
    let secret = secret_from_base32(&driver.text("#totp-secret").await).expect("a TOTP key");
    driver.type_into("#password", &alice_pw).await;
    let code = code_at(&secret, jiff::Timestamp::now().as_second());
    driver.type_into("#code", &code).await;
    driver.submit("#enroll-submit").await;
    let codes = driver.text("#recovery-codes").await;
    assert_eq!(codes.lines().count(), 10, "{codes}");

    // Register a passkey on the account page.
    driver.goto(&format!("{base}/staff/account")).await;
    driver.assert_accessible("account").await;
    assert_eq!(driver.text("#passkey-count").await, "0");
    driver.click("#passkey-register").await;
    wait_for(
        &driver,
        "const c = document.getElementById('passkey-count'); return !!c && c.textContent === '1';",
        "the passkey's registration",
    )
    .await;
    assert_eq!(
        s.state.accounts.passkeys("alice").await.unwrap().len(),
        1,
        "stored"
    );

    // Sign out, then in with the passkey alone.
    driver
        .click("nav form[action='/staff/logout'] button")
        .await;
    at_path(&driver, "/staff/login").await;
    driver.goto(&format!("{base}/staff/signin")).await;
    driver.assert_accessible("signin").await;
    driver.type_into("#username", "alice").await;
    driver.click("#passkey-signin").await;
    at_path(&driver, "/staff").await;
    assert!(
        driver.text("nav.staff span").await.contains("alice"),
        "signed in as alice"
    );

    // A replayed assertion is refused: its challenge was used once already.
    driver.goto(&format!("{base}/staff/signin")).await;
    let v = driver
        .cmd(
            "POST",
            "/execute/async",
            json!({ "script": REPLAY, "args": ["alice"] }),
        )
        .await;
    assert_eq!(v[0], 200, "{v}");
    assert_eq!(v[1], 409, "the same assertion again: {v}");
    assert!(v[2].as_str().unwrap_or("").contains("already used"), "{v}");
    assert_eq!(v[3], 409, "{v}");
    let replays = s.state.access_log.page(0, 1000).await.unwrap();
    assert!(replays
        .iter()
        .any(|e| e.entry.action == "logon_failed"
            && e.entry.outcome == "assertion_replayed_or_expired"));
    driver.goto(&format!("{base}/staff")).await;
    at_path(&driver, "/staff").await;

    // Five failed sign-ins on bob's account, from this same browser.
    for i in 0..5 {
        sign_in_form(&driver, &base, "bob", &format!("not-bobs-{i}"), "123456").await;
        assert!(driver.text("#signin-error").await.contains("not right"));
    }
    sign_in_form(&driver, &base, "bob", &bob_pw, "").await;
    assert!(
        driver.text("#signin-error").await.contains("locked"),
        "bob is locked"
    );
    // Alice's session still works, and so does a new sign-in of hers.
    driver.goto(&format!("{base}/staff")).await;
    at_path(&driver, "/staff").await;
    assert!(driver.text("nav.staff span").await.contains("alice"));
    driver.goto(&format!("{base}/staff/signin")).await;
    driver.type_into("#username", "alice").await;
    driver.click("#passkey-signin").await;
    at_path(&driver, "/staff").await;
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

    // Sign out: the session's cookie is dead on the server, not just in the browser.
    let cookie: Value = driver.cmd("GET", "/cookie/icac_session", json!({})).await;
    let session = cookie["value"].as_str().expect("session cookie").to_owned();
    driver
        .click("nav form[action='/staff/logout'] button")
        .await;
    at_path(&driver, "/staff/login").await;
    let r = s
        .client
        .get(s.url("/staff"))
        .header("cookie", format!("icac_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("signed out"));

    // Bob stays locked until an admin releases him; then his password works again.
    sign_in_form(&driver, &base, "bob", &bob_pw, "").await;
    assert!(driver.text("#signin-error").await.contains("locked"));
    let (status, v) = s
        .post(Role::Admin, "/v1/accounts/bob/release", json!({}))
        .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("enabled")),
        "{v}"
    );
    sign_in_form(&driver, &base, "bob", &bob_pw, "").await;
    at_path(&driver, "/staff/enroll").await;
    driver.doc_shot("accounts-enroll.png").await;
    driver.quit().await;
    s.stop().await;
}
