//! Continued sharing as a second clock (29-7e(c), second sentence), through the real
//! command path and the server: an update every 30 days, or the case's own cadence,
//! plus one after an arrest; statuses at the edge dates; cadence 0 refused.

use crate::support::{common, http_support};

use common::{TestDb, KINDS};
use http_support::{start, HARTFORD};
use icac_aggregates::case::{
    CaseCommand, Charge, RecordArrest, ShareCategory, ShareDirection, ShareInformation,
};
use icac_aggregates::ids::{CaseId, Ori, StatuteCode};
use icac_ledger::access::auth::Role;
use icac_ledger::commands::filing::file_notification;
use icac_ledger::commands::Actor;
use icac_ledger::http::ServerConfig;
use jiff::Timestamp;
use serde_json::{json, Value};

fn actor() -> Actor {
    Actor {
        principal: format!("unit-reporter:{HARTFORD}"),
        unit: Some(HARTFORD.to_owned()),
        request_id: format!("req-{}", common::rand_suffix()),
        correlation_id: None,
    }
}

fn form(number: &str, received: &str) -> Value {
    json!({
        "form_version": "2",
        "reporting_unit": HARTFORD,
        "officer": { "name": "Det. A. Rivera", "phone": "(860) 555-0100" },
        "unit_case_number": number,
        "received": { "date": received },
        "source": { "kind": "school" },
        "incident": { "type": "online_enticement", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false },
        "medium": "chat_im",
        "suspected_statutes": [],
        "urgent": false,
        "subject_identifiers": [],
        "evidence": { "item_count": 0, "image_count": 0, "video_count": 0, "hashes": [] },
        "deconfliction_checked": true,
        "assistance_requested": { "undercover": false, "forensic": false, "technical": false },
        "attestation": { "name": "Det. A. Rivera", "statement_accepted": true }
    })
}

fn at(day: &str) -> Timestamp {
    format!("{day}T15:00:00Z").parse().unwrap()
}

fn row<'a>(body: &'a Value, case: &str) -> &'a Value {
    body["cases"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["case_id"] == json!(case)))
        .unwrap_or_else(|| panic!("no row for {case}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sharing_clock_at_its_edges() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        let c = &s.state.commands;
        for (n, day) in [("S-1", "2026-01-10"), ("S-2", "2026-01-10")] {
            file_notification(c, &form(n, day), &actor(), at(day))
                .await
                .expect("filed");
        }
        let one = CaseId::parse(format!("{HARTFORD}:S-1")).unwrap();
        let two = CaseId::parse(format!("{HARTFORD}:S-2")).unwrap();
        let share = |day: &str| {
            CaseCommand::ShareInformation(ShareInformation {
                direction: ShareDirection::UnitToTaskForce {
                    from_unit: Ori::parse(HARTFORD).unwrap(),
                },
                category: ShareCategory::CaseUpdate,
                summary: "Update on the investigation".into(),
                recorded_at: at(day),
            })
        };
        c.execute_case(&one, share("2026-02-09"), &actor())
            .await
            .unwrap();
        c.execute_case(
            &one,
            CaseCommand::RecordArrest(RecordArrest {
                arrested_on: "2026-02-20".parse().unwrap(),
                arresting_unit: Ori::parse(HARTFORD).unwrap(),
                charges: vec![Charge {
                    statute: StatuteCode::parse("53a-196d").unwrap(),
                    counts: 1,
                }],
                recorded_at: at("2026-02-20"),
            }),
            &actor(),
        )
        .await
        .unwrap();

        let get = |as_of: &'static str| {
            let s = &s;
            async move {
                let (st, body) = s
                    .get(
                        Role::Supervisor,
                        &format!("/v1/compliance/sharing?as_of={as_of}"),
                    )
                    .await;
                assert_eq!(st, 200, "{body}");
                body
            }
        };
        // Case 2: no update since the notification on 01-10, due 02-09.
        for (as_of, status) in [
            (
                "2026-02-05",
                json!({ "status": "current", "due_in_days": 4 }),
            ),
            (
                "2026-02-06",
                json!({ "status": "due_soon", "due_in_days": 3 }),
            ),
            (
                "2026-02-09",
                json!({ "status": "due_soon", "due_in_days": 0 }),
            ),
            ("2026-02-10", json!({ "status": "overdue", "days": 1 })),
        ] {
            let body = get(as_of).await;
            assert_eq!(
                row(&body, two.as_str())["status"],
                status,
                "{as_of}: {body}"
            );
            assert_eq!(row(&body, two.as_str())["due_on"], json!("2026-02-09"));
        }
        // Case 1: the update of 02-09 restarts the cadence; the arrest of 02-20 calls for
        // one within three days.
        let body = get("2026-02-10").await;
        assert_eq!(
            row(&body, one.as_str())["status"],
            json!({ "status": "current", "due_in_days": 29 })
        );
        let body = get("2026-02-23").await;
        let r = row(&body, one.as_str());
        assert_eq!(
            (r["due_on"].clone(), r["due_for"].clone()),
            (json!("2026-02-23"), json!("arrest")),
            "{body}"
        );
        let body = get("2026-02-24").await;
        assert_eq!(
            row(&body, one.as_str())["status"],
            json!({ "status": "overdue", "days": 1 })
        );
        assert_eq!(body["total"]["overdue"], json!(2), "{body}");

        // A case's own cadence; 0 is refused with a pointer and records nothing.
        let before = s.head().await;
        let (st, body) = s
            .post(
                Role::Supervisor,
                &format!("/v1/cases/{two}/sharing-cadence"),
                json!({ "cadence_days": 0 }),
            )
            .await;
        assert_eq!(st, 422, "{body}");
        assert_eq!(
            body["errors"][0]["pointer"],
            json!("/cadence_days"),
            "{body}"
        );
        assert_eq!(s.head().await, before);
        let (st, body) = s
            .post(
                Role::Supervisor,
                &format!("/v1/cases/{two}/sharing-cadence"),
                json!({ "cadence_days": 60 }),
            )
            .await;
        assert_eq!(st, 201, "{body}");
        let body = get("2026-02-10").await;
        assert_eq!(
            row(&body, two.as_str())["due_on"],
            json!("2026-03-11"),
            "{body}"
        );
        let (st, body) = s
            .get(
                Role::Supervisor,
                "/v1/compliance/sharing?as_of=2026-02-10&cadence_days=0",
            )
            .await;
        assert_eq!(st, 422, "{body}");
        s.stop().await;
    }
}
