//! The web pages in a real headless Chromium (Debian's `chromium` + `chromium-driver`),
//! driven over the W3C WebDriver protocol: a member of the public submits the reporting
//! form and gets a receipt; a supervisor signs in, goes from the dashboard's overdue
//! count to the case list and opens an overdue case. Screenshots land in
//! target/screenshots/ for a human to look at.

mod common;
mod http_support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use common::{Kind, TestDb};
use http_support::{start, HARTFORD};
use icac_ledger::http::auth::Role;
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";

struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Option<Driver> {
        if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(DRIVER).exists() {
            // CI installs them and sets ICAC_REQUIRE_BROWSER, so there a missing browser
            // fails the test instead of passing it unexercised.
            assert!(
                std::env::var_os("ICAC_REQUIRE_BROWSER").is_none(),
                "chromium/chromedriver not installed (apt-get install chromium chromium-driver)"
            );
            eprintln!("SKIP: chromium/chromedriver not installed (apt-get install chromium chromium-driver)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new(DRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({ "capabilities": { "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1200,1400", format!("--user-data-dir={}", profile.path().display())]
        }}}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        Some(Driver {
            child,
            base,
            session,
            http,
            _profile: profile,
        })
    }

    async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let v: Value = req
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), json!({}))
            .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.cmd("GET", &format!("/element/{id}/text"), json!({}))
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    async fn title(&self) -> String {
        self.cmd("GET", "/title", json!({}))
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    async fn screenshot(&self, name: &str) {
        let v = self.cmd("GET", "/screenshot", json!({})).await;
        if let Some(b64) = v.as_str() {
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) {
                let dir =
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(dir.join(name), bytes);
            }
        }
    }

    async fn quit(&self) {
        self.cmd("DELETE", "", json!({})).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn public_form_and_staff_overdue_case_in_chromium() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;

    // A complaint received 30 days ago with no form: overdue, incomplete.
    let received = icac_aggregates::local_time::ct_date(jiff::Timestamp::now())
        .checked_sub(jiff::Span::new().days(30))
        .unwrap()
        .to_string();
    let (st, b) = s
        .post(Role::UnitReporter, "/v1/complaints", json!({ "reporting_unit": HARTFORD, "unit_case_number": "24-777", "received_on": received, "source": { "kind": "parent" } }))
        .await;
    assert_eq!(st, 201, "{b}");

    // The public page: choose a category, confirm, send; a receipt comes back.
    driver.goto(&s.url("/")).await;
    wait_for_title(&driver, "Report").await;
    driver.screenshot("public.png").await;
    driver
        .click("input[name=category][value=online_enticement]")
        .await;
    driver
        .type_into("#description", "An adult account asked a child for photos")
        .await;
    driver.click("#good_faith").await;
    driver
        .click("form[action='/report'] button[type=submit]")
        .await;
    // The click navigates; wait for the receipt page rather than racing its load.
    let receipt = wait_for_text(&driver, "#receipt").await;
    assert!(receipt.starts_with("WEB-"), "{receipt}");

    // Staff: sign in with a token, dashboard → overdue → the case.
    driver.goto(&s.url("/staff/login")).await;
    driver
        .type_into("#token", &s.tokens[&Role::Supervisor])
        .await;
    driver
        .click("form[action='/staff/login'] button[type=submit]")
        .await;
    // The click navigates; wait for the dashboard rather than racing the page load.
    wait_for_title(&driver, "Compliance").await;
    assert_eq!(driver.text("#card-overdue").await, "1");
    driver.screenshot("dashboard.png").await;
    driver.click("#card-overdue").await;
    let first = driver.text("#cases tbody tr td a").await;
    assert_eq!(first, format!("{HARTFORD}:24-777"));
    driver.click("#cases tbody tr td a").await;
    wait_for_title(&driver, "24-777").await;
    let timeline = driver.text("#timeline").await;
    assert!(
        timeline.contains("Complaint") || timeline.contains("complaint"),
        "{timeline}"
    );
    driver.screenshot("case.png").await;

    driver.quit().await;
    s.stop().await;
}

/// Waits up to ten seconds for the element at `css` to exist with some text.
async fn wait_for_text(driver: &Driver, css: &str) -> String {
    for _ in 0..100 {
        let found = driver
            .cmd(
                "POST",
                "/element",
                json!({ "using": "css selector", "value": css }),
            )
            .await;
        // W3C WebDriver's element reference key; an error answer has none.
        let id = found
            .get("element-6066-11e4-a52e-4f735466cecf")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(id) = id {
            let text = driver
                .cmd("GET", &format!("/element/{id}/text"), json!({}))
                .await;
            if let Some(text) = text.as_str().filter(|t| !t.is_empty()) {
                return text.to_owned();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    driver.screenshot("wait_for_text_failed.png").await;
    panic!("{css} never appeared with text (screenshot in target/screenshots)");
}

/// Waits up to ten seconds for the page title to contain `needle` (navigation after a
/// click completes asynchronously).
async fn wait_for_title(driver: &Driver, needle: &str) {
    let mut title = String::new();
    for _ in 0..100 {
        title = driver.title().await;
        if title.contains(needle) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("page title {title:?} never contained {needle:?}");
}
