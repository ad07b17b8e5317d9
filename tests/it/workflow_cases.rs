//! Issue 17 over real HTTP on SQLite and PostgreSQL: one set of time rules for the
//! complaint and the form, form version 2 with its victims, a child identified later,
//! prosecution outcomes with the nolle's erasure date, links only to operations the
//! ledger holds, and operation results derived from the linked cases. Every refusal
//! carries a JSON Pointer and records nothing.

use crate::support::{common, http_support};

use common::{TestDb, KINDS};
use http_support::{form, start, HARTFORD};
use icac_ledger::access::auth::Role;
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};

/// A refusal of `path` pointing at `pointer`, with nothing recorded.
async fn refused(s: &http_support::Server, path: &str, body: Value, pointer: &str) {
    let before = s.head().await;
    let (st, got) = s.post(Role::Supervisor, path, body.clone()).await;
    assert_eq!(st, 422, "{path} {body}: {got}");
    let pointers: Vec<&str> = got["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|x| x["pointer"].as_str()).collect())
        .unwrap_or_default();
    assert!(pointers.contains(&pointer), "{path} {body}: {got}");
    assert_eq!(
        s.head().await,
        before,
        "{path}: a refusal recorded something"
    );
}

fn complaint(number: &str, received: Value) -> Value {
    let mut body = json!({
        "reporting_unit": HARTFORD,
        "unit_case_number": number,
        "source": { "kind": "parent" }
    });
    for (k, v) in received.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn times_are_refused_alike_on_every_path_that_starts_a_clock() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let c = "/v1/complaints";
        for (received, pointer) in [
            (
                json!({ "received_on": "2026-03-01", "received_time": "00:10+00:00" }),
                "/received_time",
            ),
            (
                json!({ "received_on": "2026-03-01T00:10:00Z" }),
                "/received_on",
            ),
            (
                json!({ "received_on": "2026-03-01", "received_time": "23:59:60" }),
                "/received_time",
            ),
            (
                json!({ "received_on": "2026-03-08", "received_time": "02:30" }),
                "/received_time",
            ),
            (
                json!({ "received_on": "2026-11-01", "received_time": "01:45" }),
                "/received_time",
            ),
            (
                json!({ "received_on": "2026-07-01", "received_time": "12:00", "received_offset": "-05:00" }),
                "/received_offset",
            ),
            (
                json!({ "received_on": "2026-07-01", "received_offset": "-04:00" }),
                "/received_offset",
            ),
        ] {
            refused(&s, c, complaint("C-1", received), pointer).await;
        }
        let (st, body) = s
            .post(
                Role::Supervisor,
                c,
                complaint("C-1", json!({ "received_on": "2026-11-01", "received_time": "01:45", "received_offset": "-04:00" })),
            )
            .await;
        assert_eq!(st, 201, "{body}");

        // The form refuses the same things at the same places.
        let f = "/v1/notifications";
        for (time, pointer) in [
            ("00:10+00:00", "/received/time"),
            ("23:59:60", "/received/time"),
        ] {
            let mut bad = form(HARTFORD, "F-1", "444555666");
            bad["received"]["time"] = json!(time);
            refused(&s, f, bad, pointer).await;
        }
        let mut gap = form(HARTFORD, "F-1", "444555666");
        gap["received"] = json!({ "date": "2026-03-08", "time": "02:30" });
        gap["incident"] = json!({ "type": "csam_distribution", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false });
        refused(&s, f, gap.clone(), "/received/time").await;
        gap["received"] = json!({ "date": "2026-11-01", "time": "01:45" });
        refused(&s, f, gap.clone(), "/received/time").await;
        // Version 2 states the offset; version 1 has no such field.
        gap["received"]["utc_offset"] = json!("-05:00");
        refused(&s, f, gap.clone(), "/received/utc_offset").await;
        gap["form_version"] = json!("2");
        let v = gap.as_object_mut().unwrap().remove("victim").unwrap();
        gap["victims"] = json!([v]);
        let (st, body) = s.post(Role::Supervisor, f, gap).await;
        assert_eq!(st, 201, "{body}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn victims_outcomes_and_operations_from_the_ledger() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let mut f = form(HARTFORD, "V-1", "777888999");
        f["form_version"] = json!("2");
        f.as_object_mut().unwrap().remove("victim");
        let received = f["received"]["date"].clone();
        f["victims"] = json!([
            { "identified": true, "age_band": "age_13_to_15", "identified_on": received },
            { "identified": false, "age_band": "age_0_to_12" }
        ]);
        let (st, body) = s.post(Role::UnitReporter, "/v1/notifications", f).await;
        assert_eq!(st, 201, "{body}");
        let case = body["case_id"].as_str().unwrap().to_owned();
        let at = |p: &str| format!("/v1/cases/{case}/{p}");
        let today = icac_aggregates::local_time::ct_date(jiff::Timestamp::now());
        let received_on: jiff::civil::Date = received.as_str().unwrap().parse().unwrap();
        let day_before = received_on.yesterday().unwrap().to_string();
        let erasure = today
            .checked_add(jiff::Span::new().months(13))
            .unwrap()
            .to_string();
        let (today, received_s) = (today.to_string(), received_on.to_string());

        // A child identified later, once; a child learned of later.
        refused(
            &s,
            &at("victims"),
            json!({ "age_band": "age_18_plus" }),
            "/age_band",
        )
        .await;
        refused(
            &s,
            &at("victim-identifications"),
            json!({ "victim_number": 1, "identified_on": today }),
            "/victim_number",
        )
        .await;
        refused(
            &s,
            &at("victim-identifications"),
            json!({ "victim_number": 7, "identified_on": today }),
            "/victim_number",
        )
        .await;
        refused(
            &s,
            &at("victim-identifications"),
            json!({ "victim_number": 2, "identified_on": "2999-01-01" }),
            "/identified_on",
        )
        .await;
        let (st, body) = s
            .post(
                Role::Supervisor,
                &at("victim-identifications"),
                json!({ "victim_number": 2, "identified_on": today }),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        refused(
            &s,
            &at("victim-identifications"),
            json!({ "victim_number": 2, "identified_on": today }),
            "/victim_number",
        )
        .await;
        let (st, body) = s
            .post(
                Role::Supervisor,
                &at("victims"),
                json!({ "age_band": "age_16_to_17" }),
            )
            .await;
        assert_eq!(st, 201, "{body}");

        // An arrest and its outcomes; none before the arrest.
        for to in ["triaged", "investigating"] {
            let (st, body) = s
                .post(Role::Supervisor, &at("status"), json!({ "to": to }))
                .await;
            assert_eq!(st, 201, "{body}");
        }
        let (st, body) = s
            .post(
                Role::Supervisor,
                &at("arrests"),
                json!({ "arrested_on": received_s, "arresting_unit": HARTFORD, "charges": [ { "statute": "53a-196d", "counts": 1 } ] }),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        let outcome =
            |o: &str, d: &str| json!({ "arrest_number": 1, "outcome": o, "decided_on": d });
        refused(
            &s,
            &at("prosecution-outcomes"),
            outcome("charges_filed", &day_before),
            "/decided_on",
        )
        .await;
        refused(
            &s,
            &at("prosecution-outcomes"),
            json!({ "arrest_number": 2, "outcome": "nolle", "decided_on": today }),
            "/arrest_number",
        )
        .await;
        refused(
            &s,
            &at("prosecution-outcomes"),
            outcome("acquitted", &today),
            "/outcome",
        )
        .await;
        for (o, d) in [("charges_filed", &received_s), ("nolle", &today)] {
            let (st, body) = s
                .post(Role::Supervisor, &at("prosecution-outcomes"), outcome(o, d))
                .await;
            assert_eq!(st, 201, "{body}");
        }
        refused(
            &s,
            &at("prosecution-outcomes"),
            outcome("convicted", &today),
            "/arrest_number",
        )
        .await;

        // The case view: each child once with the date it counts on; the erasure date.
        let (st, view) = s.get(Role::Supervisor, &format!("/v1/cases/{case}")).await;
        assert_eq!(st, 200, "{view}");
        let victims = view["victims"].as_array().unwrap();
        assert_eq!(victims.len(), 3, "{view}");
        assert_eq!(victims[0]["counted_on"], received, "{view}");
        assert_eq!(victims[1]["counted_on"], json!(today), "{view}");
        assert!(victims[2].get("counted_on").is_none(), "{view}");
        let outcomes = &view["arrests"][0]["outcomes"];
        assert_eq!(outcomes[1]["outcome"], json!("nolle"), "{view}");
        assert_eq!(outcomes[1]["erasure_due_on"], json!(erasure), "{view}");

        // Operations: a link to one never planned is refused; results come from the case.
        refused(
            &s,
            &at("operations"),
            json!({ "operation_id": "OP-NOPE" }),
            "/operation_id",
        )
        .await;
        let (st, body) = s
            .post(
                Role::Supervisor,
                "/v1/operations",
                json!({ "operation_id": "OP-2026-01", "name": "Bluebird", "lead_unit": HARTFORD, "planned_start": received_s, "planned_end": today }),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        let (st, body) = s
            .post(
                Role::Supervisor,
                &at("operations"),
                json!({ "operation_id": "OP-2026-01" }),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        let (st, body) = s.get(Role::Supervisor, "/v1/operations").await;
        assert_eq!(st, 200, "{body}");
        let op = &body["operations"][0];
        assert_eq!(op["status"], json!("in_progress"), "{body}");
        assert_eq!(op["results"]["linked_cases"], json!([case]), "{body}");
        assert_eq!(op["results"]["arrests"], json!(1), "{body}");
        assert_eq!(op["results"]["cases_opened"], json!(1), "{body}");
        assert_eq!(op["results"]["outcomes"]["nolle"], json!(1), "{body}");
        s.stop().await;
    }
}
