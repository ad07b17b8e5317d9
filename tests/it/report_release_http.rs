//! Report releases over real HTTP on loopback, against SQLite and PostgreSQL: drafts only
//! for roles that read every case, releases published by the report role, refused
//! releases as 422 problem+json naming the quarter with nothing recorded.

use crate::support::{common, http_support};

use common::{TestDb, KINDS};
use http_support::{form, start, HARTFORD};
use icac_aggregates::release::Quarter;
use icac_ledger::access::auth::Role;
use icac_ledger::http::ServerConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn releases_and_drafts_over_http() {
    for kind in KINDS {
        let s = start(TestDb::new(kind).await, ServerConfig::default()).await;
        for (i, tip) in ["123123001", "123123002", "123123003"].iter().enumerate() {
            let mut f = form(HARTFORD, &format!("26-{i}"), tip);
            f["victim"] = json!({ "identified": true, "age_band": "age_13_to_15" });
            let (st, b) = s.post(Role::UnitReporter, "/v1/notifications", f).await;
            assert_eq!(st, 201, "{kind:?} {b}");
        }
        // The filings are dated today in Connecticut: release today's quarter.
        let today = icac_aggregates::local_time::ct_date(jiff::Timestamp::now());
        let q = Quarter::of(today);
        let (from, to) = (q.first_day().to_string(), q.last_day().to_string());

        // Drafts: not for the report role, nor for a unit-bound one; for a supervisor.
        for role in [Role::ReportAuthor, Role::UnitReporter] {
            let (st, b) = s.get(role, "/v1/reports/annual").await;
            assert_eq!(st, 403, "{role:?} {b}");
        }
        let (st, draft) = s.get(Role::Supervisor, "/v1/reports/annual").await;
        assert_eq!(st, 200, "{draft}");
        assert!(draft.get("release").is_none(), "{draft}");

        // A period not made of whole quarters: 422 naming the quarter, nothing written.
        let head = s.head().await;
        let short = q.last_day().yesterday().unwrap().to_string();
        let (st, b) = s
            .post(
                Role::ReportAuthor,
                "/v1/reports/releases",
                json!({ "from": from, "to": short }),
            )
            .await;
        assert_eq!(st, 422, "{b}");
        assert!(
            b["detail"].as_str().unwrap().contains(&q.to_string()),
            "{b}"
        );
        assert_eq!(s.head().await, head);

        // A unit reporter may not publish.
        let (st, _) = s
            .post(
                Role::UnitReporter,
                "/v1/reports/releases",
                json!({ "from": from, "to": to }),
            )
            .await;
        assert_eq!(st, 403);

        // The release: recorded, with the event's inclusion proof; the victims hidden.
        let (st, r) = s
            .post(
                Role::ReportAuthor,
                "/v1/reports/releases",
                json!({ "from": from, "to": to }),
            )
            .await;
        assert_eq!(st, 201, "{kind:?} {r}");
        assert_eq!(r["release"]["number"], 1);
        assert_eq!(
            r["release"]["inclusion_proof"]["position"],
            r["release"]["event_position"]
        );
        assert_eq!(r["figures"]["victims_identified"]["total"], "suppressed");
        assert_eq!(s.head().await, head + 1);
        let (st, list) = s.get(Role::ReportAuthor, "/v1/reports/releases").await;
        assert_eq!(st, 200);
        assert_eq!(list["releases"].as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list["releases"][0]["period"], q.to_string());

        // The same quarter at a position where its counts differ (before the last
        // filing; its deconfliction registration follows it): 422, nothing written.
        let rows = s
            .state
            .ledger
            .storage()
            .read_page(s.state.ledger.id(), 1, 10_000)
            .await
            .unwrap();
        let last_filing = rows
            .iter()
            .filter(|r| r.event_type == "NotificationFiled")
            .map(|r| r.position)
            .max()
            .unwrap();
        let (st, b) = s
            .post(
                Role::ReportAuthor,
                "/v1/reports/releases",
                json!({ "from": from, "to": to, "at_position": last_filing - 1 }),
            )
            .await;
        assert_eq!(st, 422, "{b}");
        assert!(b["detail"].as_str().unwrap().contains("frozen"), "{b}");
        assert_eq!(s.head().await, head + 1);
        s.stop().await;
    }
}
