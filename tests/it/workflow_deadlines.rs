//! C.G.S. 1-4 as written, end to end: notifications due on a Friday that is a legal
//! holiday because the holiday itself falls on a Saturday (2026-07-03, 2027-06-18,
//! 2027-12-31, 2028-02-11), filed through the real command path on the Monday after,
//! are on time under the business-day policy; the policy comes from the server's
//! configuration or the request and is stated in every compliance answer and report.

use crate::support::{common, http_support};

use common::{TestDb, KINDS};
use http_support::{start, HARTFORD};
use icac_aggregates::compliance::DeadlinePolicy;
use icac_ledger::access::auth::Role;
use icac_ledger::commands::filing::file_notification;
use icac_ledger::commands::Actor;
use icac_ledger::http::ServerConfig;
use jiff::Timestamp;
use serde_json::{json, Value};

/// (received, the Monday after the Friday it is nominally due).
const CASES: [(&str, &str); 4] = [
    ("2026-06-19", "2026-07-06"),
    ("2027-06-04", "2027-06-21"),
    ("2027-12-17", "2028-01-03"),
    ("2028-01-28", "2028-02-14"),
];

fn form(case_number: &str, received: &str) -> Value {
    json!({
        "form_version": "1",
        "reporting_unit": HARTFORD,
        "officer": { "name": "Det. A. Rivera", "phone": "(860) 555-0100" },
        "unit_case_number": case_number,
        "received": { "date": received, "time": "09:30:00" },
        "source": { "kind": "school" },
        "incident": { "type": "online_enticement", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false },
        "medium": "chat_im",
        "suspected_statutes": [],
        "urgent": false,
        "subject_identifiers": [],
        "victim": { "identified": false, "age_band": "unknown" },
        "evidence": { "item_count": 0, "image_count": 0, "video_count": 0, "hashes": [] },
        "deconfliction_checked": true,
        "assistance_requested": { "undercover": false, "forensic": false, "technical": false },
        "attestation": { "name": "Det. A. Rivera", "statement_accepted": true }
    })
}

fn actor() -> Actor {
    Actor {
        principal: format!("unit-reporter:{HARTFORD}"),
        unit: Some(HARTFORD.to_owned()),
        request_id: format!("req-{}", common::rand_suffix()),
        correlation_id: None,
    }
}

fn statuses(body: &Value) -> Vec<String> {
    body["notifications"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| r["status"]["status"].as_str().unwrap_or("?").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn saturday_holidays_observed_on_friday_through_the_server() {
    for kind in KINDS {
        // The server's configuration turns rolling on; the observance is on by default.
        let config = ServerConfig {
            deadline_policy: DeadlinePolicy {
                roll_to_business_day: true,
                ..DeadlinePolicy::default()
            },
            ..ServerConfig::default()
        };
        let s = start(TestDb::new(kind).await, config).await;
        for (i, (received, monday)) in CASES.iter().enumerate() {
            // Filed at 10:00 EST/EDT on the Monday: 15:00Z is 10:00 or 11:00 local.
            let at: Timestamp = format!("{monday}T15:00:00Z").parse().unwrap();
            file_notification(
                &s.state.commands,
                &form(&format!("H-{i}"), received),
                &actor(),
                at,
            )
            .await
            .expect("filed");
        }
        let base = "/v1/compliance?as_of=2028-03-01";
        let (st, body) = s.get(Role::Supervisor, base).await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(statuses(&body), vec!["on_time"; 4], "{body}");
        assert_eq!(body["total"]["on_time"], json!(4), "{body}");
        assert_eq!(
            body["policy"]["observance"]["saturday_to_friday"],
            json!(true)
        );
        let said = body["policy_statement"].as_str().unwrap_or_default();
        assert!(said.contains("observed on the Friday before"), "{said}");
        assert!(said.contains("next business day"), "{said}");
        let dues: Vec<&str> = body["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["due_on"].as_str().unwrap())
            .collect();
        assert_eq!(dues, CASES.map(|c| c.1).to_vec(), "{body}");

        // A request may name its own policy: without the observance the four are late.
        let (st, body) = s
            .get(
                Role::Supervisor,
                &format!("{base}&saturday_to_friday=false"),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["total"]["late"], json!(4), "{body}");
        assert!(body["policy_statement"]
            .as_str()
            .unwrap()
            .contains("NOT observed"));
        // Calendar days only: due on the Friday, so filed late by three days.
        let (_, body) = s
            .get(
                Role::Supervisor,
                &format!("{base}&roll_to_business_day=false"),
            )
            .await;
        assert_eq!(body["total"]["late"], json!(4), "{body}");
        assert!(body["policy_statement"]
            .as_str()
            .unwrap()
            .contains("does not move"));

        // The counts-only summary states it too, and a bad window is refused by pointer.
        let (st, body) = s
            .get(
                Role::ReportAuthor,
                "/v1/compliance/summary?as_of=2028-03-01",
            )
            .await;
        assert_eq!(st, 200, "{body}");
        assert_eq!(body["total"]["on_time"], json!(4), "{body}");
        assert!(body["policy_statement"].is_string(), "{body}");
        let (st, body) = s
            .get(Role::Supervisor, &format!("{base}&due_soon_days=15"))
            .await;
        assert_eq!(st, 422, "{body}");
        assert_eq!(
            body["errors"][0]["pointer"],
            json!("/due_soon_days"),
            "{body}"
        );

        // The annual report says which policy its timeliness figures used.
        let (st, report) = s
            .get(
                // A draft (any dates): for roles that read the cases behind it.
                Role::Supervisor,
                "/v1/reports/annual?from=2027-03-01&to=2028-02-29",
            )
            .await;
        assert_eq!(st, 200, "{report}");
        assert_eq!(
            report["parameters"]["deadline_policy"]["roll_to_business_day"],
            json!(true)
        );
        let defs = report["definitions"].to_string();
        assert!(
            defs.contains("Deadline policy") && defs.contains("Friday before"),
            "{defs}"
        );
        s.stop().await;
    }
}
