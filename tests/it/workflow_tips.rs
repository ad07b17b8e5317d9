//! CyberTip intake at the Task Force, over HTTP on SQLite and PostgreSQL: NCMEC's
//! report received (API and JSON Lines), triaged, disseminated to a unit, acknowledged
//! by it, and traced through to the unit's case and its notification. Refusals carry a
//! pointer and record nothing: an inactive unit, a second acknowledgement.

use crate::support::{common, http_support};

use common::{TestDb, KINDS};
use http_support::{form, start, HARTFORD, NEW_HAVEN};
use icac_ledger::access::auth::Role;
use icac_ledger::commands::tip_intake::{import_tips, TipLineOutcome};
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};

const TIP: &str = "246813579";

fn report(tip: &str, available: &str) -> Value {
    json!({
        "cybertip_number": tip,
        "priority": "1",
        "incident_type": "child_pornography",
        "reporting_provider": "Example Messenger, Inc.",
        "made_available_on": available,
        "files": [
            { "annotations": ["generativeAi"], "viewed_by_provider": true },
            { "annotations": [], "viewed_by_provider": false }
        ],
        "location": { "country": "US", "region": "CT", "city": "Secretville" }
    })
}

async fn refused(s: &http_support::Server, role: Role, path: &str, body: Value, pointer: &str) {
    let before = s.head().await;
    let (st, got) = s.post(role, path, body.clone()).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tip_from_ncmec_to_the_units_case() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let today = icac_aggregates::local_time::ct_date(jiff::Timestamp::now());
        let yesterday = today.yesterday().unwrap().to_string();
        let tf = Role::Supervisor;

        let mut bad = report(TIP, &yesterday);
        bad["priority"] = json!("4");
        refused(&s, tf, "/v1/tips", bad, "/priority").await;
        refused(
            &s,
            tf,
            "/v1/tips",
            report(TIP, "2999-01-01"),
            "/made_available_on",
        )
        .await;
        let (st, body) = s.post(tf, "/v1/tips", report(TIP, &yesterday)).await;
        assert_eq!(st, 201, "{body}");
        refused(
            &s,
            tf,
            "/v1/tips",
            report(TIP, &yesterday),
            "/cybertip_number",
        )
        .await;
        let (st, body) = s
            .post(
                tf,
                &format!("/v1/tips/{TIP}/triage"),
                json!({ "priority": "2" }),
            )
            .await;
        assert_eq!(st, 201, "{body}");

        // An inactive unit cannot receive it.
        let (st, body) = s
            .post(
                Role::Admin,
                &format!("/v1/units/{NEW_HAVEN}/deactivate"),
                json!({ "reason": "merged into regional unit" }),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        let d = format!("/v1/tips/{TIP}/disseminate");
        refused(&s, tf, &d, json!({ "to_unit": NEW_HAVEN }), "/to_unit").await;
        let (st, body) = s.post(tf, &d, json!({ "to_unit": HARTFORD })).await;
        assert_eq!(st, 201, "{body}");
        refused(&s, tf, &d, json!({ "to_unit": HARTFORD }), "/to_unit").await;
        let (st, list) = s.get(tf, "/v1/tips").await;
        assert_eq!(st, 200, "{list}");
        assert_eq!(list["unacknowledged_disseminations"], json!(1), "{list}");
        let t = &list["tips"][0];
        assert_eq!(t["status"], json!("unacknowledged_dissemination"));
        assert_eq!(
            (
                t["priority"].clone(),
                t["generative_ai_files"].clone(),
                t["files_viewed_by_provider"].clone()
            ),
            (json!("2"), json!(1), json!(1))
        );
        assert!(
            !list.to_string().contains("Secretville"),
            "the city is sealed: {list}"
        );

        // The receiving unit acknowledges: its case opens, received today; only once.
        let a = format!("/v1/tips/{TIP}/acknowledge");
        refused(
            &s,
            Role::UnitReporter,
            &a,
            json!({ "unit": HARTFORD, "unit_case_number": "bad/№" }),
            "/unit_case_number",
        )
        .await;
        let (st, body) = s
            .post(
                Role::UnitReporter,
                &a,
                json!({ "unit": HARTFORD, "unit_case_number": "T-1" }),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        let case = body["case_id"].as_str().unwrap().to_owned();
        refused(
            &s,
            Role::UnitReporter,
            &a,
            json!({ "unit": HARTFORD, "unit_case_number": "T-2" }),
            "/unit",
        )
        .await;
        let (_, list) = s.get(Role::UnitReporter, "/v1/tips").await;
        assert_eq!(list["tips"][0]["status"], json!("acknowledged"), "{list}");
        assert_eq!(list["tips"][0]["case_id"], json!(case), "{list}");
        assert_eq!(list["unacknowledged_disseminations"], json!(0));
        let (st, view) = s
            .get(Role::UnitReporter, &format!("/v1/cases/{case}"))
            .await;
        assert_eq!(st, 200, "{view}");
        assert_eq!(view["cybertip_number"], json!(TIP), "{view}");
        assert_eq!(view["received_on"], json!(today.to_string()), "{view}");
        assert_eq!(view["opened_by_complaint"], json!(true), "{view}");

        // The unit's notification for the tip completes that very case.
        let mut f = form(HARTFORD, "T-1", TIP);
        f["received"] = json!({ "date": today.to_string() });
        f["incident"] = json!({ "type": "csam_distribution", "sextortion": false, "ai_generated_material": true, "minor_to_minor": false });
        let (st, body) = s.post(Role::UnitReporter, "/v1/notifications", f).await;
        assert_eq!(st, 201, "{body}");
        assert_eq!(body["case_id"], json!(case), "{body}");
        let (_, view) = s
            .get(Role::UnitReporter, &format!("/v1/cases/{case}"))
            .await;
        assert_eq!(view["status"], json!("received"), "{view}");

        // JSON Lines import: each line on its own, with pointers.
        let lines = format!(
            "{}\n{}\nnot json\n",
            report("135792468", &yesterday),
            json!({ "cybertip_number": "135792469", "priority": "1" })
        );
        let out = import_tips(
            &s.state.commands,
            lines.as_bytes(),
            "test:import",
            jiff::Timestamp::now,
        )
        .await
        .unwrap();
        assert!(matches!(out[0], TipLineOutcome::Received { .. }), "{out:?}");
        assert!(matches!(out[1], TipLineOutcome::Rejected { .. }), "{out:?}");
        assert!(matches!(out[2], TipLineOutcome::Rejected { .. }), "{out:?}");
        let (_, list) = s.get(tf, "/v1/tips").await;
        assert_eq!(list["total"], json!(2), "{list}");
        s.stop().await;
    }
}
