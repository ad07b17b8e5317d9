//! The web pages in a real headless Chromium (Debian's `chromium` + `chromium-driver`),
//! driven over the W3C WebDriver protocol: a member of the public submits the reporting
//! form and gets a receipt; a supervisor signs in, goes from the dashboard's overdue
//! count to the case list and opens an overdue case. Screenshots land in
//! target/screenshots/ for a human to look at.

use crate::support::{browser, common, http_support};

use browser::Driver;
use common::{Kind, TestDb};
use http_support::{start, HARTFORD};
use icac_ledger::access::auth::Role;
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn public_form_and_staff_overdue_case_in_chromium() {
    let Some(driver) = Driver::start("public_form_and_staff_overdue_case_in_chromium").await else {
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

/// Signs in through the login page (signing out first if someone is signed in).
async fn browser_sign_in(driver: &Driver, s: &http_support::Server, role: Role) {
    driver.goto(&s.url("/staff/login")).await;
    wait_for_title(driver, "sign in").await;
    driver.type_into("#token", &s.tokens[&role]).await;
    driver
        .click("form[action='/staff/login'] button[type=submit]")
        .await;
    wait_for_title(driver, "ashboard").await;
}

async fn sign_out(driver: &Driver) {
    driver
        .click("form[action='/staff/logout'] button[type=submit]")
        .await;
    wait_for_title(driver, "sign in").await;
}

/// Issue 18 in a real browser, on a demo ledger as `serve --demo` makes one, signing in
/// with its tokens: a unit reporter files through the page (the form checked as it is
/// typed, then one attempt with errors), finds the case by its unit case number and
/// downloads the list as CSV; an investigator shares information and closes the case;
/// intake routes a public report; a supervisor replays the case as of a past date, and
/// opens a case the dashboard shows overdue on a date of the demo's story as it stood
/// then. axe-core checks every page on the way; each step is checked in the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_and_the_task_force_work_in_the_browser() {
    let Some(driver) = Driver::start("units_and_the_task_force_work_in_the_browser").await else {
        return;
    };
    let s = http_support::start_demo(TestDb::new(Kind::Sqlite).await, 120).await;
    let today = icac_aggregates::local_time::ct_date(jiff::Timestamp::now());
    let received = today
        .checked_sub(jiff::Span::new().days(3))
        .unwrap()
        .to_string();

    // The public page, and a report for intake later.
    driver.goto(&s.url("/")).await;
    wait_for_title(&driver, "Report").await;
    driver.assert_accessible("public").await;
    driver
        .click("input[name=category][value=online_enticement]")
        .await;
    driver
        .type_into(
            "#description",
            "Someone asked my son for pictures on a game",
        )
        .await;
    driver.click("#good_faith").await;
    driver
        .click("form[action='/report'] button[type=submit]")
        .await;
    let receipt = wait_for_text(&driver, "#receipt").await;
    driver.assert_accessible("public-receipt").await;
    driver.goto(&s.url("/staff/login")).await;
    wait_for_title(&driver, "sign in").await;
    driver.assert_accessible("login").await;

    // A unit reporter files, first with errors.
    browser_sign_in(&driver, &s, Role::UnitReporter).await;
    driver.assert_accessible("dashboard").await;
    driver.click("nav a[href='/staff/notifications/new']").await;
    wait_for_title(&driver, "File a notification").await;
    driver.assert_accessible("notification-form").await;

    // As it is typed: an e-mail address the API refuses is named beside its field, in
    // the API's own words, announced, and nothing is sent or recorded; fixing it
    // clears the message.
    let untouched = s.head().await;
    driver.type_into("#f-officer-email", "ana.reyes@").await;
    let shown = wait_for_text(&driver, "#f-officer-email-error").await;
    let (st, api) = s
        .post(
            Role::UnitReporter,
            "/v1/notifications",
            json!({ "form_version": "2", "officer": { "name": "Ana Reyes", "email": "ana.reyes@" } }),
        )
        .await;
    assert_eq!(st, 422, "{api}");
    let said = api["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["pointer"] == "/officer/email"))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("the API named no /officer/email error: {api}"))
        .to_owned();
    assert_eq!(shown, format!("Error: {said}"));
    let aria = driver
        .execute(
            "const e = document.getElementById('f-officer-email'); return [e.getAttribute('aria-invalid'), e.getAttribute('aria-describedby'), document.getElementById('form-check-status').textContent];",
            json!([]),
        )
        .await;
    assert_eq!(aria[0], "true", "{aria}");
    assert!(
        aria[1]
            .as_str()
            .is_some_and(|d| d.split(' ').any(|id| id == "f-officer-email-error")),
        "{aria}"
    );
    assert!(
        aria[2].as_str().is_some_and(|t| t.contains(&said)),
        "{aria}"
    );
    // Only the field typed in is judged: the empty ones not reached yet say nothing.
    assert_eq!(driver.count(".field-error").await, 1);
    // Not submitted: the page is the one typed in, not an answer with errors.
    assert_eq!(driver.title().await, "File a notification");
    driver.assert_accessible("notification-checked").await;
    driver.doc_shot("notification-as-you-type.png").await;
    driver.type_into("#f-officer-email", "agency.gov").await;
    driver.wait_gone("#f-officer-email-error").await;
    assert_eq!(
        s.head().await,
        untouched,
        "checking the form as it is typed recorded something"
    );

    driver.type_into("#f-unit-case-number", "B-2201").await;
    driver.set_value("#f-received-date", &received).await;
    let before = s.head().await;
    driver.click("#file").await;
    wait_for_title(&driver, "Error").await;
    let summary = driver.text("#error-summary").await;
    assert!(summary.contains("There is a problem"), "{summary}");
    assert!(driver
        .text("#f-officer-name-error")
        .await
        .starts_with("Error:"));
    assert_eq!(
        s.head().await,
        before,
        "a form with errors recorded something"
    );
    driver.assert_accessible("notification-errors").await;
    driver.doc_shot("notification-errors.png").await;

    driver.type_into("#f-officer-name", "Det. Ana Reyes").await;
    driver.type_into("#f-officer-phone", "(203) 555-0101").await;
    driver.set_value("#f-source-kind", "parent").await;
    driver
        .set_value("#f-incident-type", "online_enticement")
        .await;
    driver.set_value("#f-medium", "gaming").await;
    driver.click("#f-suspected-statutes-0").await;
    driver
        .set_value("#f-subject-identifiers-0-kind", "screen_name")
        .await;
    driver
        .type_into("#f-subject-identifiers-0-value", "gamer_suspect_9")
        .await;
    driver.type_into("#f-evidence-item-count", "0").await;
    driver.type_into("#f-evidence-image-count", "0").await;
    driver.type_into("#f-evidence-video-count", "0").await;
    driver.click("#f-deconfliction-checked").await;
    driver
        .type_into("#f-attestation-name", "Det. Ana Reyes")
        .await;
    driver.click("#f-attestation-statement-accepted").await;
    driver.click("#file").await;
    wait_for_title(&driver, "B-2201").await;
    assert!(driver.text("#notice").await.contains("Notification filed"));
    assert!(driver.text("#compliance").await.contains("14-day rule"));
    driver.assert_accessible("case-after-filing").await;
    driver.doc_shot("case-filed.png").await;
    let (st, view) = s
        .get(Role::Investigator, &format!("/v1/cases/{HARTFORD}:B-2201"))
        .await;
    assert_eq!(st, 200, "{view}");

    // Find it by the unit case number, and download the list as CSV.
    driver.click("nav a[href='/staff/cases']").await;
    wait_for_title(&driver, "Cases").await;
    driver.assert_accessible("case-list").await;
    driver.type_into("#q", "B-2201").await;
    driver.click("form[role=search] button[type=submit]").await;
    wait_for_title(&driver, "B-2201").await;
    driver.assert_accessible("case-found").await;
    driver.goto(&s.url("/staff/cases")).await;
    wait_for_title(&driver, "Cases").await;
    // The download link, fetched with the browser's own session cookie (the pages'
    // CSP lets no script fetch anything).
    let href = driver
        .execute("return document.getElementById('csv').href;", json!([]))
        .await;
    let cookie = driver.cmd("GET", "/cookie/icac_session", json!({})).await;
    let r = s
        .client
        .get(href.as_str().expect("a CSV link"))
        .header(
            "cookie",
            format!(
                "icac_session={}",
                cookie["value"].as_str().expect("session cookie")
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    assert!(
        csv.starts_with("case_id,unit") && csv.contains("CT0006400:B-2201"),
        "{csv}"
    );
    sign_out(&driver).await;

    // An investigator shares information and closes the case.
    browser_sign_in(&driver, &s, Role::Investigator).await;
    driver
        .goto(&s.url(&format!("/staff/cases/{HARTFORD}:B-2201")))
        .await;
    wait_for_title(&driver, "B-2201").await;
    driver.assert_accessible("case-actions").await;
    driver.click("#action-share summary").await;
    driver.click("#share-down").await;
    driver.set_value("#share-to", HARTFORD).await;
    driver.set_value("#share-category", "case_update").await;
    driver
        .type_into("#share-summary", "Platform records requested")
        .await;
    driver
        .submit("form[action$='/actions/share'] button[type=submit]")
        .await;
    assert!(wait_for_text(&driver, "#notice")
        .await
        .contains("share was recorded"));
    driver.assert_accessible("case-shared").await;
    for (to, disposition) in [("triaged", None), ("closed", Some("unfounded"))] {
        driver.click("#action-status summary").await;
        driver.set_value("#status-to", to).await;
        if let Some(d) = disposition {
            driver.set_value("#status-disposition", d).await;
        }
        driver
            .submit("form[action$='/actions/status'] button[type=submit]")
            .await;
        assert!(wait_for_text(&driver, "#notice")
            .await
            .contains("status was changed"));
    }
    driver.doc_shot("case-closed.png").await;
    let (_, view) = s
        .get(Role::Investigator, &format!("/v1/cases/{HARTFORD}:B-2201"))
        .await;
    assert_eq!(view["status"], "closed", "{view}");
    assert_eq!(view["shares"].as_array().map(Vec::len), Some(1), "{view}");

    // Intake triages and routes the public report.
    driver.click("nav a[href='/staff/intake']").await;
    wait_for_title(&driver, "Intake").await;
    driver.assert_accessible("intake").await;
    driver.doc_shot("intake.png").await;
    driver
        .set_value(&format!("#priority-{receipt}"), "urgent")
        .await;
    driver
        .submit(&format!(
            "form[action='/staff/intake/{receipt}/triage'] button"
        ))
        .await;
    assert!(wait_for_text(&driver, "#notice").await.contains("triaged"));
    driver
        .set_value(&format!("#unit-{receipt}"), HARTFORD)
        .await;
    driver
        .submit(&format!(
            "form[action='/staff/intake/{receipt}/route'] button"
        ))
        .await;
    assert!(wait_for_text(&driver, "#notice").await.contains("routed"));
    driver.assert_accessible("intake-routed").await;
    let (st, b) = s
        .get(
            Role::Investigator,
            &format!("/v1/cases/{HARTFORD}:PR-{receipt}"),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    let report = s
        .state
        .ledger
        .read_stream(&icac_format::record::StreamId::new(
            "public_report",
            &receipt,
        ))
        .await
        .expect("public report stream");
    let kinds: Vec<&str> = report
        .iter()
        .map(|e| e.record.event_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "PublicReportReceived",
            "PublicReportTriaged",
            "PublicReportRouted"
        ],
        "{kinds:?}"
    );
    let routed = report[2].record.payload.to_string();
    assert!(
        routed.contains(&format!("\"unit\":\"{HARTFORD}\"")),
        "{routed}"
    );
    sign_out(&driver).await;

    // A supervisor replays the case as of a past date: before it was filed.
    browser_sign_in(&driver, &s, Role::Supervisor).await;
    driver
        .goto(&s.url(&format!("/staff/cases/{HARTFORD}:B-2201")))
        .await;
    wait_for_title(&driver, "B-2201").await;
    let yesterday = today
        .checked_sub(jiff::Span::new().days(1))
        .unwrap()
        .to_string();
    driver.set_value("#as_of", &yesterday).await;
    driver.submit("form[method=get] button[type=submit]").await;
    assert!(wait_for_text(&driver, "#replay-note")
        .await
        .contains("Replay"));
    assert!(driver.text("#not-yet").await.contains("did not exist yet"));
    driver.assert_accessible("replay").await;
    driver
        .goto(&s.url(&format!("/staff/cases/{HARTFORD}:B-2201?as_of={today}")))
        .await;
    wait_for_title(&driver, "B-2201").await;
    assert!(driver.text("#details").await.contains("Closed"));

    // In the ledger itself: the case's own stream holds the filing, the share and the
    // two status changes, each by the person who signed in to make it.
    let events = s
        .state
        .ledger
        .read_stream(&icac_format::record::StreamId::new(
            "case",
            &format!("{HARTFORD}:B-2201"),
        ))
        .await
        .expect("case stream");
    let said: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e.record.event_type.clone(),
                e.record.metadata.principal.clone(),
            )
        })
        .collect();
    let by = |kind: &str| {
        said.iter()
            .filter(|(t, _)| t == kind)
            .map(|(_, p)| p.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(by("NotificationFiled").len(), 1, "{said:?}");
    assert!(
        by("NotificationFiled")[0].starts_with("unit_reporter"),
        "{said:?}"
    );
    assert_eq!(by("InformationShared").len(), 1, "{said:?}");
    assert_eq!(by("StatusChanged").len(), 2, "{said:?}");
    assert!(
        by("StatusChanged")
            .iter()
            .all(|p| p.starts_with("investigator")),
        "{said:?}"
    );

    // The demo's story as of a past date: the dashboard's overdue count leads to a case
    // that opens as it stood that day (its commit times follow the story).
    driver.goto(&s.url("/staff")).await;
    wait_for_title(&driver, "ashboard").await;
    driver.set_value("#as_of", "2025-03-01").await;
    driver
        .submit("form[action='/staff'] button[type=submit]")
        .await;
    let overdue: u64 = driver.text("#card-overdue").await.parse().expect("a count");
    assert!(overdue > 0, "the demo has no case overdue on 2025-03-01");
    driver.click("#card-overdue").await;
    wait_for_title(&driver, "Cases").await;
    driver.click("#cases tbody tr td a").await;
    assert!(wait_for_text(&driver, "#replay-note")
        .await
        .contains("March 1, 2025"));
    assert!(driver.text("#compliance").await.contains("overdue"));
    assert_eq!(
        driver.count("#not-yet").await,
        0,
        "an overdue case that did not exist yet"
    );
    assert!(!driver.text("#timeline").await.is_empty());
    driver.assert_accessible("replay-demo").await;
    driver.goto(&s.url("/staff/annual-report")).await;
    wait_for_title(&driver, "Annual").await;
    driver.assert_accessible("annual-report").await;
    driver.goto(&s.url("/staff/ledger")).await;
    wait_for_title(&driver, "Ledger").await;
    driver.assert_accessible("ledger").await;
    driver.goto(&s.url("/staff")).await;
    wait_for_title(&driver, "ashboard").await;
    driver.doc_shot("dashboard.png").await;

    driver.quit().await;
    s.stop().await;
}

// Driver steps the check-as-you-type test needs (kept apart from the Driver above).
impl Driver {
    /// How many elements match `css` now.
    async fn count(&self, css: &str) -> u64 {
        self.execute(
            "return document.querySelectorAll(arguments[0]).length;",
            json!([css]),
        )
        .await
        .as_u64()
        .unwrap_or(0)
    }

    /// Waits up to ten seconds for no element to match `css`.
    async fn wait_gone(&self, css: &str) {
        for _ in 0..100 {
            if self.count(css).await == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("wait_gone_failed.png").await;
        panic!("{css} never went away (screenshot in target/screenshots)");
    }
}
