//! The staff pages over real HTTP on both stores (issue 18): the case list pages with
//! an honest count and refuses an unknown filter; search by case id, unit case number
//! and CyberTip number; CSV downloads of the tables; the timeline in plain English; the
//! report page opens on the last complete year.

use crate::support::{common, http_support};

use common::{TestDb, KINDS};
use http_support::{form, sign_in, start, Server, HARTFORD};
use icac_ledger::access::auth::Role;
use icac_ledger::http::ServerConfig;

pub async fn page(s: &Server, session: &str, path: &str) -> (u16, String, String) {
    let r = s
        .client
        .get(s.url(path))
        .header("cookie", format!("icac_session={session}"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .or_else(|| r.headers().get("content-type"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_list_pages_searches_downloads_and_reads_in_plain_english() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        for (n, tip) in [
            ("24-101", "9001001"),
            ("24-102", "9001002"),
            ("24-103", "9001003"),
        ] {
            let (st, b) = s
                .post(
                    Role::UnitReporter,
                    "/v1/notifications",
                    form(HARTFORD, n, tip),
                )
                .await;
            assert_eq!(st, 201, "{b}");
        }
        let (session, _) = sign_in(&s, &s.tokens[&Role::Supervisor]).await;

        // Paging: an honest count, and the next page really is the next page.
        let (st, _, html) = page(&s, &session, "/staff/cases?limit=2").await;
        assert_eq!(st, 200);
        assert!(html.contains("Showing 1–2 of 3 cases"), "{kind:?}: {html}");
        assert!(html.contains("id=\"next-page\""), "{html}");
        let (_, _, html) = page(&s, &session, "/staff/cases?limit=2&offset=2").await;
        assert!(html.contains("Showing 3–3 of 3 cases"), "{html}");
        assert_eq!(
            html.matches("<tr><td><a href=\"/staff/cases/").count(),
            1,
            "{html}"
        );
        // The unit's name, with its code as secondary text.
        assert!(html.contains("secondary-text\">CT0006400</span>"), "{html}");

        // An unknown filter is refused, not silently ignored.
        let (st, _, html) = page(&s, &session, "/staff/cases?compliance=late_ish").await;
        assert_eq!(st, 400);
        assert!(html.contains("There is no 14-day status called"), "{html}");

        // Search: by unit case number, CyberTip number and case id; one match opens it.
        for (q, case) in [
            ("24-101", "24-101"),
            ("9001002", "24-102"),
            ("CT0006400:24-103", "24-103"),
        ] {
            let (st, location, _) = page(&s, &session, &format!("/staff/cases?q={q}")).await;
            assert_eq!(st, 303, "{q}");
            assert_eq!(location, format!("/staff/cases/{HARTFORD}:{case}"), "{q}");
        }
        let (st, _, html) = page(&s, &session, "/staff/cases?q=99-999").await;
        assert_eq!(st, 200);
        assert!(html.contains("No case you may see matches"), "{html}");

        // Downloads: every case of the filter, and the dashboard's table by unit.
        let (st, ct, csv) = page(&s, &session, "/staff/cases?limit=1&format=csv").await;
        assert_eq!((st, ct.as_str()), (200, "text/csv; charset=utf-8"));
        assert_eq!(csv.lines().count(), 4, "{csv}");
        assert!(
            csv.starts_with("case_id,unit,unit_ori,received_on,status"),
            "{csv}"
        );
        let (st, _, csv) = page(&s, &session, "/staff?format=csv").await;
        assert_eq!(st, 200);
        assert!(csv.starts_with("unit,ori,notifications"), "{csv}");
        assert!(csv.contains(",CT0006400,3,"), "{csv}");

        // The timeline speaks: the business date first, no Rust names.
        let (st, _, html) = page(&s, &session, &format!("/staff/cases/{HARTFORD}:24-101")).await;
        assert_eq!(st, 200);
        assert!(
            html.contains("<strong>Notification filed</strong>"),
            "{html}"
        );
        assert!(html.contains("2 days after receipt"), "{html}");
        for leak in [
            "NotificationFiled",
            "CsamDistribution",
            "NcmecCybertip",
            "..=",
        ] {
            assert!(!html.contains(leak), "{leak} in {html}");
        }

        // The report page opens on a complete year, its dates filled in.
        let (st, _, html) = page(&s, &session, "/staff/annual-report").await;
        assert_eq!(st, 200);
        let year = icac_aggregates::local_time::ct_date(jiff::Timestamp::now()).year() - 1;
        assert!(html.contains(&format!("value=\"{year}-01-01\"")), "{html}");
        assert!(html.contains(&format!("value=\"{year}-12-31\"")), "{html}");
        s.stop().await;
    }
}

/// Posts a staff form with the session cookie and this site's origin.
pub async fn post_form(
    s: &Server,
    session: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String, String) {
    let r = s
        .client
        .post(s.url(path))
        .header("cookie", format!("icac_session={session}"))
        .header("origin", &s.base)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, location, r.text().await.unwrap())
}

fn hidden(html: &str, name: &str) -> String {
    html.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        .to_owned()
}

/// The web form's fields for a valid notification received two days ago.
fn filled(received: &str, csrf: &str, submission: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", csrf.into()),
        ("submission", submission.into()),
        ("action", "file".into()),
        ("/unit_case_number", "WEB-1".into()),
        ("/received/date", received.into()),
        ("/officer/name", "Det. Maria Lopez".into()),
        ("/officer/phone", "(860) 555-0134".into()),
        ("/source/kind", "ncmec_cybertip".into()),
        ("/source/cybertip_number", "77001234".into()),
        ("/incident/type", "online_enticement".into()),
        ("/medium", "chat_im".into()),
        ("/suspected_statutes", "53a-90a".into()),
        ("rows/subject_identifiers", "1".into()),
        ("/subject_identifiers/0/kind", "screen_name".into()),
        ("/subject_identifiers/0/value", "web_suspect_77".into()),
        ("rows/victims", "1".into()),
        ("/victims/0/age_band", "age_13_to_15".into()),
        ("/evidence/item_count", "3".into()),
        ("/evidence/image_count", "3".into()),
        ("/evidence/video_count", "0".into()),
        ("rows/evidence/hashes", "1".into()),
        ("/deconfliction_checked", "yes".into()),
        ("/attestation/name", "Det. Maria Lopez".into()),
        ("/attestation/statement_accepted", "yes".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notification_form_validates_drafts_and_files_once() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let (session, csrf) = sign_in(&s, &s.tokens[&Role::UnitReporter]).await;
        let (st, _, html) = page(&s, &session, "/staff/notifications/new").await;
        assert_eq!(st, 200, "{html}");
        assert!(
            html.contains("name=\"/officer/name\"") && html.contains("This form attaches nothing"),
            "{html}"
        );
        let submission = hidden(&html, "submission");
        let received = icac_aggregates::local_time::ct_date(jiff::Timestamp::now())
            .checked_sub(jiff::Span::new().days(2))
            .unwrap()
            .to_string();
        let before = s.head().await;

        // No CSRF token: refused, nothing recorded.
        let mut fields = filled(&received, "not-the-token", &submission);
        let as_ref = |f: &Vec<(&'static str, String)>| {
            f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>()
        };
        let borrowed = as_ref(&fields);
        let pairs: Vec<(&str, &str)> = borrowed.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (st, _, _) = post_form(&s, &session, "/staff/notifications", &pairs).await;
        assert_eq!(st, 403);

        // Errors: each beside its field, by the API's pointer and message; nothing filed.
        fields = filled(&received, &csrf, &submission);
        fields.retain(|(k, _)| !matches!(*k, "/officer/name" | "/officer/phone"));
        fields.push(("/evidence/item_count", "three".into()));
        fields.retain(|(k, v)| !(*k == "/evidence/item_count" && v == "3"));
        let borrowed = as_ref(&fields);
        let pairs: Vec<(&str, &str)> = borrowed.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (st, _, html) = post_form(&s, &session, "/staff/notifications", &pairs).await;
        assert_eq!(st, 422, "{html}");
        assert!(html.contains("id=\"f-officer-name-error\""), "{html}");
        assert!(
            html.contains("id=\"f-evidence-item-count-error\""),
            "{html}"
        );
        assert!(html.contains("href=\"#f-officer-name\""), "{html}");
        // What was typed stays in the form.
        assert!(html.contains("value=\"web_suspect_77\""), "{html}");
        assert_eq!(s.head().await, before);

        // Checked as it is typed (the page's script): the same errors at the same
        // pointers in the same words, as problem+json; nothing recorded.
        let r = s
            .client
            .post(s.url("/staff/notifications/check"))
            .header("cookie", format!("icac_session={session}"))
            .header("origin", &s.base)
            .form(&pairs)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 422);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let problem: serde_json::Value = r.json().await.unwrap();
        let errors = problem["errors"].as_array().expect("errors");
        for pointer in ["/officer/name", "/evidence/item_count"] {
            let e = errors
                .iter()
                .find(|e| e["pointer"] == pointer)
                .unwrap_or_else(|| panic!("no {pointer} in {problem}"));
            let message = e["message"].as_str().unwrap();
            assert!(
                html.contains(&format!("-error\">Error: {message}</p>")),
                "{pointer}: {message:?} is not what the page said: {html}"
            );
        }
        // Pointer by pointer the same as the API's own check of the same form.
        let typed = [
            ("csrf", csrf.as_str()),
            ("/officer/name", "Det. Maria Lopez"),
            ("/officer/email", "maria@"),
            ("/evidence/item_count", "three"),
        ];
        let (st, _, page_said) =
            post_form(&s, &session, "/staff/notifications/check", &typed).await;
        assert_eq!(st, 422, "{page_said}");
        let page_said: serde_json::Value = serde_json::from_str(&page_said).unwrap();
        let (st, api_said) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications/check",
                serde_json::json!({ "form_version": "2", "officer": { "name": "Det. Maria Lopez", "email": "maria@" }, "evidence": { "item_count": "three" } }),
            )
            .await;
        assert_eq!(st, 422, "{api_said}");
        for pointer in [
            "/officer/email",
            "/evidence/item_count",
            "/unit_case_number",
        ] {
            let at = |v: &serde_json::Value| {
                v["errors"]
                    .as_array()
                    .and_then(|e| e.iter().find(|e| e["pointer"] == pointer))
                    .map(|e| e["message"].clone())
            };
            assert!(at(&page_said).is_some(), "{pointer}: {page_said}");
            assert_eq!(at(&page_said), at(&api_said), "{pointer}");
        }
        let filled_ok = filled(&received, &csrf, &submission);
        let ok: Vec<(&str, &str)> = filled_ok.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (st, _, body) = post_form(&s, &session, "/staff/notifications/check", &ok).await;
        assert_eq!(st, 204, "{body}");
        let mut forged = ok.clone();
        forged.retain(|(k, _)| *k != "csrf");
        let (st, _, _) = post_form(&s, &session, "/staff/notifications/check", &forged).await;
        assert_eq!(st, 403);
        assert_eq!(s.head().await, before, "a check recorded something");
        // Bounded per token: past the minute's allowance a check is refused (429, with
        // when to retry) and filing is untouched.
        let mut refused = None;
        for _ in 0..=icac_ledger::http::FORM_CHECKS_PER_MINUTE {
            let r = s
                .client
                .post(s.url("/staff/notifications/check"))
                .header("cookie", format!("icac_session={session}"))
                .header("origin", &s.base)
                .form(&ok)
                .send()
                .await
                .unwrap();
            if r.status() == 429 {
                refused = Some(r.headers().contains_key("retry-after"));
                break;
            }
            assert_eq!(r.status(), 204);
        }
        assert_eq!(refused, Some(true), "the check is not rate limited");
        // The script is ours, served from this origin, and the form's page may run it.
        let r = s
            .client
            .get(s.url("/assets/notification.js"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        assert!(r.text().await.unwrap().contains("notification-form"));
        let r = s
            .client
            .get(s.url("/staff/notifications/new"))
            .header("cookie", format!("icac_session={session}"))
            .send()
            .await
            .unwrap();
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline'; script")
                && !csp.contains("'unsafe-eval'"),
            "{csp}"
        );
        let html = r.text().await.unwrap();
        assert!(
            html.contains("<script src=\"/assets/notification.js\" defer></script>"),
            "{html}"
        );
        assert!(
            !html.contains(" onclick=") && !html.contains(" oninput="),
            "{html}"
        );

        // A draft: kept outside the ledger, shown again on the next visit.
        let mut draft = pairs.clone();
        draft.retain(|(k, _)| *k != "action");
        draft.push(("action", "save"));
        let (st, _, html) = post_form(&s, &session, "/staff/notifications", &draft).await;
        assert_eq!(st, 200);
        assert!(html.contains("Draft saved"), "{html}");
        let (_, _, html) = page(&s, &session, "/staff/notifications/new").await;
        assert!(
            html.contains("value=\"web_suspect_77\"") && html.contains("saved draft"),
            "{html}"
        );
        assert_eq!(s.head().await, before);

        // Filed: the case page with its 14-day status; the draft is gone.
        let fields = filled(&received, &csrf, &submission);
        let borrowed = as_ref(&fields);
        let pairs: Vec<(&str, &str)> = borrowed.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (st, location, _) = post_form(&s, &session, "/staff/notifications", &pairs).await;
        assert_eq!(st, 303);
        assert_eq!(location, format!("/staff/cases/{HARTFORD}:WEB-1?filed=1"));
        let filed = s.head().await;
        assert!(filed > before);
        let (st, _, html) = page(&s, &session, &location).await;
        assert_eq!(st, 200);
        assert!(
            html.contains("Notification filed.") && html.contains("14-day rule"),
            "{html}"
        );
        let (_, _, html) = page(&s, &session, "/staff/notifications/new").await;
        assert!(
            !html.contains("web_suspect_77"),
            "the draft outlived the filing: {html}"
        );

        // The same form sent again files nothing more.
        let (st, location, _) = post_form(&s, &session, "/staff/notifications", &pairs).await;
        assert_eq!(st, 303);
        assert_eq!(
            location,
            format!("/staff/cases/{HARTFORD}:WEB-1?filed=again")
        );
        assert_eq!(s.head().await, filed);
        let (st, b) = s
            .get(Role::Investigator, &format!("/v1/cases/{HARTFORD}:WEB-1"))
            .await;
        assert_eq!(st, 200, "{b}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_actions_keep_the_version_and_intake_routes_a_report() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let (st, b) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(HARTFORD, "24-500", "9005001"),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        let case = format!("/staff/cases/{HARTFORD}:24-500");
        let (session, _) = sign_in(&s, &s.tokens[&Role::Investigator]).await;
        let (st, _, html) = page(&s, &session, &case).await;
        assert_eq!(st, 200);
        let version = hidden(&html, "version");
        let csrf = hidden(&html, "csrf");
        // Only the moves valid now: from received, triage or close.
        let offered = html
            .split("id=\"status-to\"")
            .nth(1)
            .unwrap()
            .split("</select>")
            .next()
            .unwrap();
        assert!(
            offered.contains("value=\"triaged\"") && offered.contains("value=\"closed\""),
            "{offered}"
        );
        assert!(!offered.contains("value=\"investigating\""), "{offered}");

        // Share to a unit, then triage, each with the version the page showed.
        let share = [
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("direction", "to_units"),
            ("to_units", HARTFORD),
            ("category", "intelligence"),
            ("summary", "Subscriber records came back"),
        ];
        let (st, location, html) =
            post_form(&s, &session, &format!("{case}/actions/share"), &share).await;
        assert_eq!(st, 303, "{html}");
        assert_eq!(location, format!("{case}?done=share"));
        let before = s.head().await;

        // The same page again (its version is now stale): told to reload, nothing lost.
        let triage = [
            ("csrf", csrf.as_str()),
            ("version", version.as_str()),
            ("to", "triaged"),
        ];
        let (st, _, html) =
            post_form(&s, &session, &format!("{case}/actions/status"), &triage).await;
        assert_eq!(st, 409, "{html}");
        assert!(
            html.contains("This case changed since you loaded the page"),
            "{html}"
        );
        assert_eq!(s.head().await, before);
        let fresh = hidden(&html, "version");
        let triage = [
            ("csrf", csrf.as_str()),
            ("version", fresh.as_str()),
            ("to", "triaged"),
        ];
        let (st, _, _) = post_form(&s, &session, &format!("{case}/actions/status"), &triage).await;
        assert_eq!(st, 303);

        // A refused move says why, beside its form, in words.
        let (_, _, html) = page(&s, &session, &case).await;
        let v = hidden(&html, "version");
        let close = [
            ("csrf", csrf.as_str()),
            ("version", v.as_str()),
            ("to", "closed"),
        ];
        let (st, _, html) =
            post_form(&s, &session, &format!("{case}/actions/status"), &close).await;
        assert_eq!(st, 422, "{html}");
        assert!(
            html.contains("closing a case requires a disposition"),
            "{html}"
        );
        let close = [
            ("csrf", csrf.as_str()),
            ("version", v.as_str()),
            ("to", "closed"),
            ("disposition", "unfounded"),
        ];
        let (st, _, _) = post_form(&s, &session, &format!("{case}/actions/status"), &close).await;
        assert_eq!(st, 303);

        // A correction, shown beside the event it corrects.
        let (_, _, html) = page(&s, &session, &case).await;
        let v = hidden(&html, "version");
        let filed_at = html
            .split("id=\"event-")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let fix = [
            ("csrf", csrf.as_str()),
            ("version", v.as_str()),
            ("corrects", filed_at.as_str()),
            ("field", "medium"),
            ("new_value", "gaming"),
            ("reason", "Typed in the wrong box"),
        ];
        let (st, _, html) =
            post_form(&s, &session, &format!("{case}/actions/correction"), &fix).await;
        assert_eq!(st, 303, "{html}");
        let (_, _, html) = page(&s, &session, &case).await;
        assert!(html.contains("Corrected by <a href=\"#event-"), "{html}");
        assert!(html.contains("Status changed to closed"), "{html}");
        let (st, b) = s
            .get(Role::Investigator, &format!("/v1/cases/{HARTFORD}:24-500"))
            .await;
        assert_eq!(st, 200);
        assert_eq!(b["status"], "closed", "{b}");

        // Intake: a public report, routed from the page, opens the unit's case.
        let r = s
            .client
            .post(s.url("/report"))
            .form(&[
                ("category", "online_enticement"),
                ("good_faith", "yes"),
                ("description", "A stranger keeps messaging my daughter"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let (st, _, html) = page(&s, &session, "/staff/intake").await;
        assert_eq!(st, 200, "{html}");
        assert!(
            html.contains("A stranger keeps messaging my daughter") && html.contains("minute"),
            "{html}"
        );
        let receipt = html
            .split("<td class=\"mono\">")
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        // Routing before triage is refused by the domain, and the page says so.
        let route = [("csrf", csrf.as_str()), ("unit", HARTFORD)];
        let (st, _, html) = post_form(
            &s,
            &session,
            &format!("/staff/intake/{receipt}/route"),
            &route,
        )
        .await;
        assert_eq!(st, 422);
        assert!(
            html.contains("must be triaged before it is routed"),
            "{html}"
        );
        let triage = [("csrf", csrf.as_str()), ("priority", "urgent")];
        let (st, location, _) = post_form(
            &s,
            &session,
            &format!("/staff/intake/{receipt}/triage"),
            &triage,
        )
        .await;
        assert_eq!((st, location.as_str()), (303, "/staff/intake?done=triage"));
        let (st, location, html) = post_form(
            &s,
            &session,
            &format!("/staff/intake/{receipt}/route"),
            &route,
        )
        .await;
        assert_eq!(st, 303, "{html}");
        assert_eq!(location, "/staff/intake?done=route");
        let (st, b) = s
            .get(
                Role::Investigator,
                &format!("/v1/cases/{HARTFORD}:PR-{receipt}"),
            )
            .await;
        assert_eq!(st, 200, "{b}");
        let (_, _, html) = page(&s, &session, "/staff/intake").await;
        assert!(
            !html.contains(&format!("<td class=\"mono\">{receipt}<")),
            "{html}"
        );
        s.stop().await;
    }
}

/// Issue 18's demo clock: on a demo ledger the commit times follow the story, so a case
/// the dashboard shows overdue as of a past date opens at that date in as-of replay
/// (before, every event was stamped when the demo was loaded and the case "did not
/// exist yet"). A real ledger refuses a story time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_case_overdue_as_of_a_past_date_replays_at_that_date() {
    use icac_format::key_events::{ledger_stream, CommitClock};
    let s = http_support::start_demo(TestDb::new(common::Kind::Sqlite).await, 120).await;
    let genesis = s
        .state
        .ledger
        .read_stream(&ledger_stream(s.state.ledger.id()))
        .await
        .unwrap();
    assert_eq!(genesis[0].record.payload["clock"], "demo");
    assert_eq!(s.state.ledger.clock().commit_clock(), CommitClock::Demo);
    let (session, _) = sign_in(&s, &s.tokens[&Role::Supervisor]).await;

    let as_of = "2025-03-01";
    let (st, _, html) = page(&s, &session, &format!("/staff?as_of={as_of}")).await;
    assert_eq!(st, 200, "{html}");
    let (st, _, csv) = page(
        &s,
        &session,
        &format!("/staff/cases?compliance=overdue&as_of={as_of}&format=csv"),
    )
    .await;
    assert_eq!(st, 200, "{csv}");
    let overdue: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert!(!overdue.is_empty(), "no case overdue as of {as_of}: {csv}");
    // Each opens at that date overdue, as the dashboard said: the cases whose complaint
    // was logged on receipt with their details as they stood that day (with the old
    // load-time stamps none did); the ones the ledger first heard of later (filed late,
    // nothing logged on receipt) say so, with the day it first recorded them.
    let mut replayed = 0;
    for case in &overdue {
        let (st, _, html) = page(&s, &session, &format!("/staff/cases/{case}?as_of={as_of}")).await;
        assert_eq!(st, 200, "{html}");
        assert!(html.contains("id=\"replay-note\""), "{html}");
        let rule = html
            .split("14-day rule: <strong>")
            .nth(1)
            .and_then(|t| t.split("</strong>").next())
            .unwrap_or_default();
        assert!(
            rule.contains("overdue by"),
            "{case} is overdue on the dashboard as of {as_of}, not on its page ({rule:?}): {html}"
        );
        if html.contains("id=\"details\"") {
            replayed += 1;
            continue;
        }
        let first: jiff::civil::Date = html
            .split("The ledger first recorded it on <time datetime=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("{case}: an empty replay that does not say why: {html}"));
        assert!(
            first > as_of.parse().unwrap(),
            "{case}: first recorded {first}, yet not there on {as_of}"
        );
    }
    assert!(
        replayed > 0,
        "no overdue case opened at {as_of}: the demo's commit times do not follow its story"
    );

    // Commit times never go backwards, and none is after the story's year.
    let head = s.head().await;
    let last = s.state.ledger.head().await.unwrap();
    assert!(head > 100);
    let last_at: jiff::Timestamp = last.recorded_at.expect("recorded_at").parse().unwrap();
    assert!(
        last_at < "2025-07-02T00:00:00Z".parse().unwrap(),
        "{last_at}"
    );
    // After the story the demo ledger writes at the real time again.
    let (st, b) = s
        .post(
            Role::Admin,
            "/v1/units",
            serde_json::json!({ "ori": "CT0099900", "name": "Test Unit", "kind": "municipal_police", "town": "Hartford" }),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let now_at: jiff::Timestamp = s
        .state
        .ledger
        .head()
        .await
        .unwrap()
        .recorded_at
        .expect("recorded_at")
        .parse()
        .unwrap();
    assert!(now_at > jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3600));
    // The verifier says what kind of ledger it is, and the chain holds.
    let report = icac_ledger::audit::verify::verify_storage(
        s.state.ledger.storage(),
        s.state.ledger.id(),
        Default::default(),
    )
    .await
    .unwrap();
    assert!(report.intact, "{}", report.to_text());
    assert_eq!(report.commit_clock, Some(CommitClock::Demo));
    assert!(report.to_text().contains("DEMO ledger"));
    s.stop().await;

    // A real ledger's writer refuses a story time.
    let s = start(
        TestDb::new(common::Kind::Sqlite).await,
        ServerConfig::default(),
    )
    .await;
    assert_eq!(s.state.ledger.clock().commit_clock(), CommitClock::System);
    assert!(s
        .state
        .ledger
        .clock()
        .set_story_time(Some("2025-01-01T00:00:00Z".parse().unwrap()))
        .is_err());
    s.stop().await;
}
