//! End-to-end over real HTTP on loopback, against SQLite and PostgreSQL: filing,
//! sharing, status changes, conflicts, validation errors with pointers, malformed and
//! oversized bodies that record nothing, unit-bound least privilege, lockout, tokens,
//! the access log chain.

use crate::support::{common, http_support};

use common::{Kind, TestDb, KINDS};
use http_support::{form, start, HARTFORD, NEW_HAVEN};
use icac_ledger::access::auth::Role;
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};

fn assert_problem(status: u16, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["status"], json!(want), "{body}");
    assert!(
        body["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filing_sharing_status_and_errors_over_http() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;

        // Filing by the unit's own reporter opens the case.
        let (st, body) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(HARTFORD, "24-001", "111222333"),
            )
            .await;
        assert_eq!(st, 201, "{kind:?} {body}");
        assert_eq!(body["outcome"], "filed");
        let case_id = body["case_id"].as_str().unwrap().to_owned();
        assert_eq!(case_id, format!("{HARTFORD}:24-001"));

        // The same CyberTip from another unit opens its own case; it is told whom to
        // call (deconfliction), never the first unit's case.
        let (st, body) = s
            .post(
                Role::Investigator,
                "/v1/notifications",
                form(NEW_HAVEN, "NH-1", "111222333"),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        assert_eq!(body["outcome"], "filed");
        assert_eq!(body["case_id"], json!(format!("{NEW_HAVEN}:NH-1")));
        assert_eq!(body["deconfliction"][0]["contact_unit"], HARTFORD, "{body}");
        assert!(!body.to_string().contains(&case_id), "{body}");

        // A unit reporter may not file for another unit.
        let before = s.head().await;
        let (st, body) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(NEW_HAVEN, "NH-2", "999"),
            )
            .await;
        assert_problem(st, &body, 403);
        assert_eq!(s.head().await, before);

        // Sharing: the unit to the Task Force; the Task Force to units.
        let share = json!({ "direction": { "direction": "unit_to_task_force", "from_unit": HARTFORD }, "category": "case_update", "summary": "Search warrant served." });
        let (st, body) = s
            .post(
                Role::UnitReporter,
                &format!("/v1/cases/{case_id}/shares"),
                share,
            )
            .await;
        assert_eq!(st, 201, "{body}");
        let down = json!({ "direction": { "direction": "task_force_to_units", "to_units": [HARTFORD, NEW_HAVEN] }, "category": "intelligence", "summary": "Related accounts found." });
        let (st, body) = s
            .post(
                Role::UnitReporter,
                &format!("/v1/cases/{case_id}/shares"),
                down.clone(),
            )
            .await;
        assert_problem(st, &body, 403);
        let (st, body) = s
            .post(
                Role::Investigator,
                &format!("/v1/cases/{case_id}/shares"),
                down,
            )
            .await;
        assert_eq!(st, 201, "{body}");

        // Status changes along the table; a forbidden move is refused by the rules (422).
        for to in ["triaged", "investigating"] {
            let (st, body) = s
                .post(
                    Role::Investigator,
                    &format!("/v1/cases/{case_id}/status"),
                    json!({ "to": to }),
                )
                .await;
            assert_eq!(st, 201, "{to}: {body}");
        }
        let before = s.head().await;
        let (st, body) = s
            .post(
                Role::Investigator,
                &format!("/v1/cases/{case_id}/status"),
                json!({ "to": "triaged" }),
            )
            .await;
        assert_problem(st, &body, 422);
        // The rule is named for clients to branch on; the words are for people.
        assert!(
            body["type"].as_str().unwrap().ends_with("rejected-by-rule"),
            "{body}"
        );
        assert_eq!(body["kind"], "transition_not_allowed", "{body}");
        assert_eq!(s.head().await, before);

        // A second filing of the same case is refused; the head does not move.
        let (st, body) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(HARTFORD, "24-001", "444555666"),
            )
            .await;
        assert!(st == 422 || st == 409, "{st} {body}");
        assert_eq!(s.head().await, before);

        // Concurrent commands on one case: each either lands or gets 409/422, never 5xx.
        let mut tasks = Vec::new();
        for i in 0..6 {
            let client = s.client.clone();
            let url = s.url(&format!("/v1/cases/{case_id}/assignments"));
            let token = s.tokens[&Role::Investigator].clone();
            tasks.push(tokio::spawn(async move {
                let body = json!({ "investigator": { "name": format!("Investigator {i}"), "agency": HARTFORD }, "role": "support" });
                client.post(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16()
            }));
        }
        let mut codes = Vec::new();
        for t in tasks {
            codes.push(t.await.unwrap());
        }
        assert!(codes.iter().all(|c| [201, 409].contains(c)), "{codes:?}");
        assert!(codes.contains(&201), "{codes:?}");

        // Validation: every problem at once, each with its JSON Pointer; nothing recorded.
        let before = s.head().await;
        let mut bad = form("CT9999999", "24-002", "");
        bad["received"]["date"] = json!("2031-02-30");
        bad["unknown_field"] = json!(1);
        bad["victim"]["age_band"] = json!("adult");
        let (st, body) = s.post(Role::Investigator, "/v1/notifications", bad).await;
        assert_problem(st, &body, 422);
        let pointers: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["pointer"].as_str().unwrap())
            .collect();
        for p in [
            "/reporting_unit",
            "/received/date",
            "/unknown_field",
            "/victim/age_band",
            "/source/cybertip_number",
        ] {
            assert!(pointers.contains(&p), "{p} missing from {pointers:?}");
        }
        // Command bodies: wrong types, unknown and server-set fields name their pointer.
        let (st, body) = s
            .post(
                Role::Investigator,
                &format!("/v1/cases/{case_id}/status"),
                json!({ "to": 5 }),
            )
            .await;
        assert_problem(st, &body, 422);
        assert_eq!(body["errors"][0]["pointer"], "/to", "{body}");
        let (st, body) = s
            .post(
                Role::Investigator,
                &format!("/v1/cases/{case_id}/status"),
                json!({ "to": "closed", "colour": "red" }),
            )
            .await;
        assert_problem(st, &body, 422);
        let (st, body) = s
            .post(
                Role::Investigator,
                &format!("/v1/cases/{case_id}/status"),
                json!({ "to": "closed", "recorded_at": "2020-01-01T00:00:00Z" }),
            )
            .await;
        assert_problem(st, &body, 422);
        assert_eq!(body["errors"][0]["pointer"], "/recorded_at");
        let (st, body) = s
            .post(
                Role::Investigator,
                &format!("/v1/cases/{case_id}/status"),
                json!([1, 2]),
            )
            .await;
        assert_problem(st, &body, 422);

        // Malformed JSON, wrong content type, oversized body: 4xx problem+json.
        let token = s.tokens[&Role::Investigator].clone();
        for (ct, payload, want) in [
            ("application/json", b"{\"form_version\": ".to_vec(), 400u16),
            ("application/json", b"\xff\xfe".to_vec(), 400),
            ("text/plain", b"{}".to_vec(), 415),
            ("application/json", vec![b' '; 300 * 1024], 413),
        ] {
            let r = s
                .client
                .post(s.url("/v1/notifications"))
                .bearer_auth(&token)
                .header("content-type", ct)
                .body(payload)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert_eq!(
                r.headers()["content-type"],
                "application/problem+json",
                "{want}"
            );
            let body: Value = r.json().await.unwrap();
            assert_problem(status, &body, want);
        }
        assert_eq!(
            s.head().await,
            before,
            "{kind:?}: bad input recorded something"
        );

        // Unknown things are 404.
        let (st, body) = s.get(Role::Investigator, "/v1/cases/CT0006400:nope").await;
        assert_problem(st, &body, 404);
        let (st, body) = s
            .post(
                Role::Investigator,
                "/v1/cases/CT0006400:nope/status",
                json!({ "to": "received" }),
            )
            .await;
        assert_problem(st, &body, 404);
        let (st, body) = s.get(Role::Investigator, "/v1/no-such-route").await;
        assert_problem(st, &body, 404);

        // Reads: the case view, its history as of a moment, compliance for the own unit.
        let (st, view) = s
            .get(Role::UnitReporter, &format!("/v1/cases/{case_id}"))
            .await;
        assert_eq!(st, 200, "{view}");
        assert_eq!(view["case_id"], json!(case_id));
        let (st, hist) = s
            .get(
                Role::Investigator,
                &format!("/v1/cases/{case_id}/history?as_of=2000-01-01"),
            )
            .await;
        assert_eq!(st, 200, "{hist}");
        assert!(hist["view"].is_null(), "{hist}");
        let (st, comp) = s
            .get(
                Role::UnitReporter,
                &format!("/v1/compliance?unit={NEW_HAVEN}"),
            )
            .await;
        assert_eq!(st, 200);
        assert!(
            comp["notifications"]
                .as_array()
                .unwrap()
                .iter()
                .all(|n| n["unit"] == HARTFORD),
            "{comp}"
        );
        // A unit reporter does not see another unit's case.
        let (st, _) = s
            .post(
                Role::Investigator,
                "/v1/notifications",
                form(NEW_HAVEN, "NH-9", "777888999"),
            )
            .await;
        assert_eq!(st, 201);
        let (st, body) = s
            .get(Role::UnitReporter, &format!("/v1/cases/{NEW_HAVEN}:NH-9"))
            .await;
        assert_problem(st, &body, 404);
        let (_, list) = s.get(Role::UnitReporter, "/v1/cases").await;
        assert!(
            list["cases"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["reporting_unit"] == HARTFORD),
            "{list}"
        );

        // The principal is in the event metadata.
        let events = s
            .state
            .ledger
            .read_stream(&icac_format::record::StreamId::new("case", &case_id))
            .await
            .unwrap();
        assert!(
            events[0]
                .record
                .metadata
                .principal
                .starts_with("unit_reporter:CT0006400:"),
            "{:?}",
            events[0].record.metadata.principal
        );

        // Case reads are in the access log, whose chain verifies.
        let (st, log) = s
            .get(Role::Auditor, "/v1/audit/access-log?limit=1000")
            .await;
        assert_eq!(st, 200);
        assert!(
            log["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "GET /v1/cases/{case_id}"
                    && e["target"] == json!(format!("/v1/cases/{case_id}"))
                    && e["outcome"] == "ok"
                    && e["principal"]
                        .as_str()
                        .unwrap()
                        .starts_with("unit_reporter:")),
            "{log}"
        );
        let (st, v) = s.get(Role::Auditor, "/v1/audit/access-log/verify").await;
        assert_eq!(st, 200);
        assert_eq!(v["valid"], true, "{v}");
        let (st, v) = s.post(Role::Auditor, "/v1/audit/verify", json!({})).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["intact"], true, "{v}");

        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_with_the_access_log_is_detected() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let (st, _) = s.get(Role::Investigator, "/v1/cases").await;
        assert_eq!(st, 200);
        // The status endpoint checks only what was appended since its last look.
        let (st, status) = s.get(Role::Auditor, "/v1/ledger/status").await;
        assert_eq!(st, 200, "{status}");
        assert_eq!(status["access_log"]["valid"], true, "{status}");
        let before = status["access_log"]["entries"].as_u64().unwrap();
        let (st, _) = s.get(Role::Investigator, "/v1/cases").await;
        assert_eq!(st, 200);
        let (_, status) = s.get(Role::Auditor, "/v1/ledger/status").await;
        assert_eq!(status["access_log"]["valid"], true, "{status}");
        assert!(
            status["access_log"]["entries"].as_u64().unwrap() > before,
            "{status}"
        );
        let (_, v) = s.get(Role::Auditor, "/v1/audit/access-log/verify").await;
        assert_eq!(v["valid"], true, "{v}");
        // As someone with the database's owner rights would: past the triggers first.
        let unguard = match kind {
            Kind::Sqlite => "DROP TRIGGER access_log_no_update",
            Kind::Postgres => "ALTER TABLE access_log DISABLE TRIGGER access_log_guard",
        };
        s.db.exec(unguard).await.unwrap();
        s.db.exec("UPDATE access_log SET entry = replace(entry, '/v1/cases', '/v1/casex')")
            .await
            .unwrap();
        let (_, v) = s.get(Role::Auditor, "/v1/audit/access-log/verify").await;
        assert_eq!(v["valid"], false, "{kind:?} {v}");
        // Once the full check found the break, the status says so too.
        let (_, status) = s.get(Role::Auditor, "/v1/ledger/status").await;
        assert_eq!(status["access_log"]["valid"], false, "{kind:?} {status}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_lock_the_source_out_and_tokens_can_be_revoked() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        // Issue through the API; the secret is shown once, then revoke it.
        let (st, issued) = s
            .post(
                Role::Admin,
                "/v1/tokens",
                json!({ "role": "investigator", "name": "Det. B" }),
            )
            .await;
        assert_eq!(st, 201, "{issued}");
        let token = issued["token"].as_str().unwrap().to_owned();
        let r = s
            .client
            .get(s.url("/v1/whoami"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (st, list) = s.get(Role::Admin, "/v1/tokens").await;
        assert_eq!(st, 200);
        assert!(
            !list.to_string().contains(token.split('_').nth(2).unwrap()),
            "secret listed"
        );
        let r = s
            .client
            .delete(s.url(&format!(
                "/v1/tokens/{}",
                issued["token_id"].as_str().unwrap()
            )))
            .bearer_auth(&s.tokens[&Role::Admin])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = s
            .client
            .get(s.url("/v1/whoami"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "revoked token still works");

        // Four more bad tokens (five failures in all) lock this address out for invalid
        // attempts; a valid token from the same address still works (issue 14).
        for i in 0..4 {
            let r = s
                .client
                .get(s.url("/v1/whoami"))
                .bearer_auth(format!("icac_00_{i}"))
                .send()
                .await
                .unwrap();
            let st = r.status().as_u16();
            assert!(st == 401 || (i == 3 && st == 429), "{i}: {st}");
        }
        let r = s
            .client
            .get(s.url("/v1/whoami"))
            .bearer_auth("icac_01_nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429, "{kind:?}");
        assert!(r.headers().contains_key("retry-after"));
        let body: Value = r.json().await.unwrap();
        assert_problem(429, &body, 429);
        let r = s
            .client
            .get(s.url("/v1/whoami"))
            .bearer_auth(&s.tokens[&Role::Admin])
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "a valid token was locked out by other failures"
        );
        // Issue and revoke are in the access log.
        let entries = s.state.access_log.page(0, 1000).await.unwrap();
        assert!(entries.iter().any(|e| e.entry.action == "token_issued"));
        assert!(entries.iter().any(|e| e.entry.action == "token_revoked"));
        assert!(entries.iter().any(|e| e.entry.action == "auth_failed"));
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_form_rate_limit_and_honeypot() {
    for kind in KINDS {
        let config = ServerConfig {
            public_reports_per_window: 3,
            ..ServerConfig::default()
        };
        let s = start(TestDb::new(kind).await, config).await;
        let page = s.client.get(s.url("/")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(
            html.contains("29-7e(b)(3)")
                && html.contains("1-800-843-5678")
                && html.contains("<fieldset"),
            "{html}"
        );

        // Missing answers: the error summary, nothing recorded.
        let before = s.head().await;
        let r = s
            .client
            .post(s.url("/report"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("website=")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("There is a problem") && html.contains("href=\"#category-0\""),
            "{html}"
        );
        assert_eq!(s.head().await, before);

        // The honeypot: looks accepted, records nothing.
        let r = s
            .client
            .post(s.url("/report"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("category=online_enticement&good_faith=yes&website=http%3A%2F%2Fspam")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(s.head().await, before);

        // A real report: a receipt number, and a PublicReportReceived event.
        let r = s
            .client
            .post(s.url("/report"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("category=online_enticement&good_faith=yes&website=&description=An+adult+asked+my+niece+for+photos&links=zq7_reported_account&contact_phone=203-555-0177")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let html = r.text().await.unwrap();
        let receipt = html
            .split("id=\"receipt\">")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .unwrap()
            .to_owned();
        assert!(receipt.starts_with("WEB-"), "{receipt}");
        assert_eq!(s.head().await, before + 1);
        // Another visitor's page never shows it.
        let other = s
            .client
            .get(s.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!other.contains(&receipt));
        // Staff see it in the intake queue and can route it, which opens the unit's case.
        let (st, q) = s.get(Role::Investigator, "/v1/public-reports").await;
        assert_eq!(st, 200);
        assert!(q.to_string().contains(&receipt), "{q}");
        // What the person typed reaches intake staff, and only them: sealed in the chain.
        assert!(
            q.to_string().contains("An adult asked my niece for photos"),
            "{q}"
        );
        assert!(q.to_string().contains("zq7_reported_account"), "{q}");
        let rows = s
            .state
            .ledger
            .storage()
            .read_page(s.state.ledger.id(), 1, 10_000)
            .await
            .unwrap();
        assert!(rows
            .iter()
            .all(|r| !String::from_utf8_lossy(&r.canonical).contains("niece")));
        let (st, b) = s
            .post(
                Role::Investigator,
                &format!("/v1/public-reports/{receipt}/triage"),
                json!({ "priority": "urgent" }),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        let (st, b) = s
            .post(
                Role::Investigator,
                &format!("/v1/public-reports/{receipt}/route"),
                json!({ "unit": HARTFORD }),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        assert_eq!(b["case_id"], json!(format!("{HARTFORD}:PR-{receipt}")));

        // Rate limit: 3 per window from this address. The honeypot and the report
        // counted; the form sent back with errors did not, so one more report is taken.
        let report = "category=other&good_faith=yes&description=Someone+sent+my+son+threats";
        let post = |body: &'static str| {
            s.client
                .post(s.url("/report"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
        };
        assert_eq!(post(report).await.unwrap().status(), 201);
        let r = post(report).await.unwrap();
        assert_eq!(r.status(), 429);
        let html = r.text().await.unwrap();
        // The refusal lists the hotlines and promises no form it does not show.
        assert!(html.contains("1-800-843-5678"), "{html}");
        assert!(
            !html.contains("Or report here") && !html.contains("<form"),
            "{html}"
        );
        // Past the limit, a form with errors still gets its errors, not the 429.
        assert_eq!(post("category=other").await.unwrap().status(), 422);
        s.stop().await;
    }
}

/// What the schema-driven fuzz run (scripts/schemathesis.sh) found, kept as regressions:
/// each was a 500 or a malformed request answered as if it were well-formed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzzer_findings_get_a_specific_4xx_and_record_nothing() {
    let s = start(
        TestDb::new(common::Kind::Sqlite).await,
        ServerConfig::default(),
    )
    .await;
    let (st, b) = s
        .post(
            Role::UnitReporter,
            "/v1/notifications",
            form(HARTFORD, "24-001", "123123125"),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let head = s.head().await;
    for (role, path, pointer) in [
        // A report period over two years made the report builder fail: 500.
        (
            Role::Supervisor,
            "/v1/reports/annual?from=2000-01-01",
            "/from",
        ),
        // A threshold below the minimum made suppression fail: 500.
        (
            Role::Supervisor,
            "/v1/reports/annual?suppression_threshold=0",
            "/suppression_threshold",
        ),
        (
            Role::Supervisor,
            "/v1/reports/annual?suppression_threshold=1",
            "/suppression_threshold",
        ),
        // A malformed unit was ignored for a unit reporter: 200.
        (Role::UnitReporter, "/v1/compliance?unit=null", "/unit"),
        (Role::UnitReporter, "/v1/cases?unit=null", "/unit"),
        // Empty parameters were taken as absent: 200.
        (Role::Supervisor, "/v1/compliance/summary?as_of=", "/as_of"),
        (Role::Supervisor, "/v1/reports/annual?to=", "/to"),
        (
            Role::Investigator,
            "/v1/cases/CT0006400:24-001/history?at_position=",
            "/at_position",
        ),
        (Role::Investigator, "/v1/cases?compliance=", "/compliance"),
    ] {
        let (st, body) = s.get(role, path).await;
        assert_problem(st, &body, 422);
        assert_eq!(body["errors"][0]["pointer"], pointer, "{path}: {body}");
    }
    // The same requests, well-formed, succeed.
    for (role, path) in [
        (
            Role::Supervisor,
            "/v1/reports/annual?suppression_threshold=2",
        ),
        (Role::UnitReporter, "/v1/compliance?unit=CT0009300"),
        (Role::Supervisor, "/v1/compliance/summary?as_of=2025-01-01"),
    ] {
        let (st, body) = s.get(role, path).await;
        assert_eq!(st, 200, "{path}: {body}");
    }
    // A revoked token revoked again is a conflict (documented as 409).
    let (st, issued) = s
        .post(
            Role::Admin,
            "/v1/tokens",
            json!({ "role": "auditor", "name": "twice" }),
        )
        .await;
    assert_eq!(st, 201, "{issued}");
    let url = s.url(&format!(
        "/v1/tokens/{}",
        issued["token_id"].as_str().unwrap()
    ));
    for want in [200, 409] {
        let r = s
            .client
            .delete(&url)
            .bearer_auth(&s.tokens[&Role::Admin])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want);
    }
    assert_eq!(s.head().await, head, "a refused request changed the ledger");
    s.stop().await;
}

/// Makes the database refuse new access-log rows, as a full or read-only volume would.
fn refuse_access_log(kind: Kind) -> &'static str {
    match kind {
        Kind::Sqlite => {
            "CREATE TRIGGER refuse_access_log BEFORE INSERT ON access_log
             BEGIN SELECT RAISE(ABORT, 'access log volume refused the write'); END;"
        }
        Kind::Postgres => {
            "CREATE FUNCTION refuse_access_log() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'access log volume refused the write'; END $$;
             CREATE TRIGGER refuse_access_log BEFORE INSERT ON access_log
               FOR EACH ROW EXECUTE FUNCTION refuse_access_log();"
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_access_log_refuses_case_reads_and_raises_the_alert() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let (st, filed) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(HARTFORD, "AL-1", "7001001"),
            )
            .await;
        assert_eq!(st, 201, "{filed}");
        let case_path = format!("/v1/cases/{}", filed["case_id"].as_str().unwrap());
        let (st, _) = s.get(Role::Investigator, &case_path).await;
        assert_eq!(st, 200);
        let (_, before) = s
            .get(Role::Auditor, "/v1/audit/access-log?limit=1000")
            .await;
        let logged_before = before["entries"].as_array().unwrap().len();

        s.db.exec(refuse_access_log(kind)).await.unwrap();
        let events_before = s.head().await;
        let r = s
            .client
            .get(s.url(&case_path))
            .bearer_auth(&s.tokens[&Role::Investigator])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 503, "{kind:?}");
        let problem: Value = r.json().await.unwrap();
        assert!(
            problem["type"]
                .as_str()
                .unwrap()
                .ends_with("access-log-unavailable"),
            "{problem}"
        );
        assert!(problem.get("case_id").is_none(), "{problem}");
        // Writes are refused before they run while the log is known to fail.
        let (st, refused) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(HARTFORD, "AL-2", "7001002"),
            )
            .await;
        assert_eq!(st, 503, "{kind:?} {refused}");
        assert_eq!(s.head().await, events_before, "{kind:?}");

        // The alert: the status page and the metrics say so, though they too go unlogged.
        let (st, status) = s.get(Role::Auditor, "/v1/ledger/status").await;
        assert_eq!(st, 200, "{status}");
        assert_eq!(status["access_log_health"]["writable"], false, "{status}");
        assert!(
            status["access_log_health"]["failing"]["error"]
                .as_str()
                .unwrap()
                .contains("refused the write"),
            "{status}"
        );
        let metrics = s
            .client
            .get(s.url("/metrics"))
            .bearer_auth(&s.tokens[&Role::Auditor])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("\nicac_access_log_writable 0\n"),
            "{metrics}"
        );

        // Once the volume takes writes again, the next request clears the alert.
        let drop = match kind {
            Kind::Sqlite => "DROP TRIGGER refuse_access_log",
            Kind::Postgres => "DROP TRIGGER refuse_access_log ON access_log",
        };
        s.db.exec(drop).await.unwrap();
        let (st, _) = s.get(Role::Investigator, &case_path).await;
        assert_eq!(st, 200, "{kind:?}");
        let (_, status) = s.get(Role::Auditor, "/v1/ledger/status").await;
        assert_eq!(status["access_log_health"]["writable"], true, "{status}");
        let (_, after) = s
            .get(Role::Auditor, "/v1/audit/access-log?limit=1000")
            .await;
        let entries = after["entries"].as_array().unwrap();
        // The refused requests left nothing; the recheck and the read after it did.
        assert!(entries.len() >= logged_before + 2, "{after}");
        assert!(
            entries
                .iter()
                .all(|e| e["outcome"] != "refused" || e["detail"] != "HTTP 503"),
            "{after}"
        );
        let (_, v) = s.get(Role::Auditor, "/v1/audit/access-log/verify").await;
        assert_eq!(v["valid"], true, "{v}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weeks_activity_yields_a_review_whose_counts_match_the_access_log() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let (st, filed) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(HARTFORD, "RV-1", "7002001"),
            )
            .await;
        assert_eq!(st, 201, "{filed}");
        let case_id = filed["case_id"].as_str().unwrap().to_owned();
        // Three failed logons, a reveal, a refused request, an export, a token, an erasure.
        for _ in 0..3 {
            let r = s
                .client
                .get(s.url("/v1/cases"))
                .bearer_auth("icac_nosuch_0000000000000000")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401);
        }
        let (st, _) = s
            .get(Role::Investigator, &format!("/v1/cases/{case_id}/history"))
            .await;
        assert_eq!(st, 200);
        let (st, _) = s.get(Role::UnitReporter, "/v1/audit/access-log").await;
        assert_eq!(st, 403);
        let r = s
            .client
            .get(s.url("/v1/audit/export"))
            .bearer_auth(&s.tokens[&Role::Auditor])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (st, _) = s
            .post(
                Role::Admin,
                "/v1/tokens",
                json!({ "role": "auditor", "name": "Review test" }),
            )
            .await;
        assert_eq!(st, 201);
        let (st, erased) = s
            .post(
                Role::Supervisor,
                &format!("/v1/cases/{case_id}/erase"),
                json!({ "reason": "C.G.S. 54-142a(a): dismissed" }),
            )
            .await;
        assert_eq!(st, 201, "{erased}");

        let week = icac_ledger::http::access_review::IsoWeek::of(jiff::Timestamp::now());
        let path = format!("/v1/audit/reviews/{week}");
        let (st, review) = s.get(Role::Supervisor, &path).await;
        assert_eq!(st, 200, "{review}");
        let (_, log) = s
            .get(Role::Auditor, "/v1/audit/access-log?limit=1000")
            .await;
        let entries = log["entries"].as_array().unwrap();
        let count = |f: &dyn Fn(&Value) -> bool| entries.iter().filter(|e| f(e)).count() as u64;
        let failed = count(&|e| e["action"] == "auth_failed");
        let reveals = count(&|e| e["action"] == "personal_data_reveal");
        let tokens = count(&|e| e["action"] == "token_issued" || e["action"] == "token_revoked");
        let units = count(&|e| e["action"] == "POST /v1/units" && e["outcome"] == "ok");
        let exports = count(&|e| e["action"] == "GET /v1/audit/export" && e["outcome"] == "ok");
        let erasures =
            count(&|e| e["action"] == "POST /v1/cases/{case_id}/erase" && e["outcome"] == "ok");
        let denied = count(&|e| e["detail"] == "HTTP 403");
        assert_eq!(failed, 3, "{log}");
        assert_eq!(
            (reveals > 0, tokens > 0, exports, erasures, denied > 0),
            (true, true, 1, 1, true),
            "{log}"
        );
        assert_eq!(review["week"], json!(week.to_string()));
        assert_eq!(review["failed_logons"]["count"], failed, "{review}");
        assert_eq!(review["reveals"]["count"], reveals, "{review}");
        assert_eq!(
            review["privileged_actions"]["count"],
            tokens + units,
            "{review}"
        );
        assert_eq!(review["exports"]["count"], exports, "{review}");
        assert_eq!(review["erasures"]["count"], erasures, "{review}");
        assert_eq!(review["denied_requests"]["count"], denied, "{review}");
        // Every entry listed is the log's own, by sequence number.
        let seqs: Vec<&Value> = entries.iter().map(|e| &e["seq"]).collect();
        for line in review["failed_logons"]["entries"].as_array().unwrap() {
            assert!(seqs.contains(&&line["seq"]), "{line}");
        }

        // Only a supervisor acknowledges, and only the review as it is now.
        let ack = format!("{path}/acknowledgement");
        let (st, _) = s
            .post(Role::Auditor, &ack, json!({ "sha256": review["sha256"] }))
            .await;
        assert_eq!(st, 403);
        // That refusal is new activity of the week: the review read before is stale.
        let (st, stale) = s
            .post(
                Role::Supervisor,
                &ack,
                json!({ "sha256": review["sha256"] }),
            )
            .await;
        assert_eq!(st, 409, "{stale}");
        let (_, review) = s.get(Role::Supervisor, &path).await;
        assert_eq!(review["denied_requests"]["count"], denied + 1, "{review}");
        let (st, done) = s
            .post(
                Role::Supervisor,
                &ack,
                json!({ "sha256": review["sha256"] }),
            )
            .await;
        assert_eq!(st, 201, "{done}");
        let (_, again) = s.get(Role::Auditor, &path).await;
        assert_eq!(
            again["sha256"], review["sha256"],
            "reading the review changes it"
        );
        let acks = again["acknowledgements"].as_array().unwrap();
        assert_eq!(acks.len(), 1, "{again}");
        assert_eq!(acks[0]["review_sha256"], review["sha256"]);
        assert!(acks[0]["by"].as_str().unwrap().starts_with("supervisor:"));
        let (st, bad) = s.get(Role::Supervisor, "/v1/audit/reviews/2026-W60").await;
        assert_eq!(st, 422, "{bad}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_purge_keeps_the_access_log_verifiable_and_nothing_else_removes_entries() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        for _ in 0..3 {
            let (st, _) = s.get(Role::Investigator, "/v1/cases").await;
            assert_eq!(st, 200);
        }
        // Neither the service nor anyone short of dropping the triggers edits or deletes.
        assert!(s
            .db
            .exec("UPDATE access_log SET entry = entry")
            .await
            .is_err());
        assert!(s.db.exec("DELETE FROM access_log").await.is_err());
        let log = &s.state.access_log;
        let before = log.verify().await.unwrap();
        let cut = jiff::Timestamp::now();
        let purged = log
            .purge_before(cut, "test:purge", "records schedule item 7")
            .await
            .unwrap()
            .expect("entries older than the cut");
        assert_eq!(purged.first_seq, 1);
        assert!(purged.through_seq >= 3 && purged.through_seq <= before.entries);
        let (st, _) = s.get(Role::Investigator, "/v1/cases").await;
        assert_eq!(st, 200);
        let after = log.verify().await.unwrap();
        assert!(after.valid, "{kind:?} {after:?}");
        let page = log.page(0, 1000).await.unwrap();
        assert_eq!(page[0].entry.seq, purged.through_seq + 1);
        assert_eq!(page[0].prev_hash, purged.anchor_hash);
        assert_eq!(page[0].entry.action, "access_log_purged");
        // The anchor cannot be moved back, and what follows it cannot be deleted.
        assert!(s.db.exec("DELETE FROM access_log").await.is_err());
        assert!(s
            .db
            .exec("UPDATE access_log_anchors SET seq = 1")
            .await
            .is_err());
        s.stop().await;
    }
}
