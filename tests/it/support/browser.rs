//! The WebDriver client the browser tests share: a headless Chromium (Debian's
//! `chromium` + `chromium-driver`) driven over the W3C WebDriver protocol.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use super::slow;

pub const CHROMIUM: &str = "/usr/bin/chromium";
/// axe-core 4.14.1 (MPL-2.0), the npm package's axe.min.js, vendored.
const AXE: &str = include_str!("../../fixtures/axe-core/axe.min.js");
pub const DRIVER: &str = "/usr/bin/chromedriver";

pub struct Driver {
    pub child: Child,
    pub base: String,
    pub session: String,
    pub http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// A browser for the slow test `test`, or None (skipped) without the slow-test
    /// gate: every browser test is slow. With the gate set a missing browser fails
    /// the test instead of passing it unexercised.
    pub async fn start(test: &str) -> Option<Driver> {
        if slow::skip(test) {
            return None;
        }
        assert!(
            std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(DRIVER).exists(),
            "chromium/chromedriver not installed (apt-get install chromium chromium-driver)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
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

    pub async fn cmd(&self, method: &str, path: &str, body: Value) -> Value {
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

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", json!({ "url": url })).await;
    }

    pub async fn find(&self, css: &str) -> String {
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

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.cmd("POST", &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// Clicks a form's submit button and waits for the answer's page: the old page's
    /// notice would otherwise still be there to read (a race the fresh-clone CI hit).
    pub async fn submit(&self, css: &str) {
        self.execute("window.__icacBefore = true; return true;", json!([]))
            .await;
        self.click(css).await;
        for _ in 0..100 {
            let gone = self
                .execute(
                    "return window.__icacBefore === undefined && document.readyState === 'complete';",
                    json!([]),
                )
                .await;
            if gone == json!(true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.screenshot("submit_failed.png").await;
        panic!("submitting {css} never loaded a new page (screenshot in target/screenshots)");
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.cmd("GET", &format!("/element/{id}/text"), json!({}))
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub async fn title(&self) -> String {
        self.cmd("GET", "/title", json!({}))
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    pub async fn screenshot(&self, name: &str) {
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

    /// Runs `script` in the page (WebDriver's execute, which the page's CSP does not
    /// govern) and returns its value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Sets a control's value as a person picking a date or an option would, and tells
    /// the page it changed.
    pub async fn set_value(&self, css: &str, value: &str) {
        let r = self
            .execute(
                "const e = document.querySelector(arguments[0]); if (!e) return 'missing'; e.value = arguments[1]; e.dispatchEvent(new Event('change', {bubbles: true})); return e.value;",
                json!([css, value]),
            )
            .await;
        assert_eq!(r, json!(value), "{css} did not take {value:?}");
    }

    /// Runs axe-core (vendored, tests/fixtures/axe-core) on the page for WCAG 2.x A and
    /// AA and fails with every violation found.
    pub async fn assert_accessible(&self, page: &str) {
        self.execute(AXE, json!([])).await;
        let script = "const done = arguments[arguments.length - 1];\
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })\
            .then(r => done({ passes: r.passes.length, violations: r.violations.map(v => v.id + ': ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', ')) }))\
            .catch(e => done({ passes: 0, violations: ['axe did not run: ' + e] }));";
        let v = self
            .cmd(
                "POST",
                "/execute/async",
                json!({ "script": script, "args": [] }),
            )
            .await;
        // Rules that passed prove axe ran; an answer without them is a failure too.
        let passes = v["passes"].as_u64().unwrap_or(0);
        let mut violations: Vec<String> = serde_json::from_value(v["violations"].clone())
            .unwrap_or_else(|_| vec![format!("unexpected axe answer: {v}")]);
        if passes == 0 && violations.is_empty() {
            violations.push(format!("axe checked nothing: {v}"));
        }
        if !violations.is_empty() {
            self.screenshot(&format!("axe-{page}.png")).await;
        }
        assert!(
            violations.is_empty(),
            "{page}: accessibility violations:\n{}",
            violations.join("\n")
        );
    }

    /// A screenshot for docs/screenshots when ICAC_DOC_SCREENSHOTS is set (to refresh
    /// the committed ones), else beside the others in target/screenshots.
    pub async fn doc_shot(&self, name: &str) {
        if std::env::var_os("ICAC_DOC_SCREENSHOTS").is_none() {
            return self.screenshot(name).await;
        }
        let v = self.cmd("GET", "/screenshot", json!({})).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot"))
            .expect("png");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("docs/screenshots");
        std::fs::write(dir.join(name), bytes).expect("write screenshot");
    }

    pub async fn quit(&self) {
        self.cmd("DELETE", "", json!({})).await;
    }
}
