//! The role matrix: every route of `routes::ROUTES` against every role (and no token),
//! on SQLite and PostgreSQL. A role without the route's permission gets 403; a role
//! with it never gets 401/403 (its request may still be 4xx for the empty body); no
//! route answers 5xx; and every API route in the table is actually routed.

use crate::support::{common, http_support};

use common::{TestDb, KINDS};
use http_support::{form, start, HARTFORD};
use icac_ledger::access::auth::{Permission, Role};
use icac_ledger::http::routes::{Method, ROUTES};
use icac_ledger::http::ServerConfig;
use serde_json::json;

fn concrete(path: &str) -> String {
    path.replace("{case_id}", &format!("{HARTFORD}:24-001"))
        .replace("{ori}", HARTFORD)
        .replace("{number}", "1")
        .replace("{operation_id}", "op-none")
        .replace("{receipt}", "WEB-2025-NONE")
        .replace("{token_id}", "abcdef0123456789")
        .replace("{*path}", "0/000")
}

/// Publishes the ledger as it is now into `dir` (issue 16: receipts and `/tlog/` then
/// answer), with the real publisher and no witness policy. Returns the published size.
async fn publish(s: &http_support::Server, dir: &std::path::Path) -> u64 {
    use icac_ledger::tlog::publisher::{self, PublicationConfig};
    let storage = s.state.ledger.storage().clone();
    let id = s.state.ledger.id().clone();
    icac_ledger::audit::checkpointer::cut(&storage, &id, &s.state.key())
        .await
        .expect("checkpoint");
    let (_tx, rx) = tokio::sync::watch::channel(None);
    let config = PublicationConfig {
        dir: dir.to_path_buf(),
        policy: None,
        max_age: std::time::Duration::from_secs(3600),
        witness_timeout: std::time::Duration::from_secs(5),
        retry: std::time::Duration::from_secs(1),
    };
    let task = tokio::spawn(publisher::run(
        storage,
        id,
        config,
        s.state.publication.clone(),
        rx,
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let size = loop {
        if let Some(size) = s.state.publication.published_size() {
            break size;
        }
        assert!(std::time::Instant::now() < deadline, "not published");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    task.abort();
    size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_denies_the_wrong_role() {
    for kind in KINDS {
        let tlog = tempfile::tempdir().expect("tempdir");
        let config = ServerConfig {
            tlog_dir: Some(tlog.path().to_path_buf()),
            ..ServerConfig::default()
        };
        let s = start(TestDb::new(kind).await, config).await;
        let (st, b) = s
            .post(
                Role::UnitReporter,
                "/v1/notifications",
                form(HARTFORD, "24-001", "123123123"),
            )
            .await;
        assert_eq!(st, 201, "{b}");
        let published = publish(&s, tlog.path()).await;
        let mut checked = 0;
        for route in ROUTES {
            let path = concrete(route.path).replace("/0/000", &format!("/0/000.p/{published}"));
            let send = |token: Option<&str>| {
                let mut req = match route.method {
                    Method::Get => s.client.get(s.url(&path)),
                    Method::Post => s.client.post(s.url(&path)).json(&json!({})),
                    Method::Delete => s.client.delete(s.url(&path)),
                };
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                req.send()
            };
            let Some(permission) = route.permission else {
                let st = send(None).await.unwrap().status().as_u16();
                assert_eq!(st, route.success, "{route:?}");
                continue;
            };
            let st = send(None).await.unwrap().status().as_u16();
            assert_eq!(
                st,
                401,
                "no token: {} {}",
                route.method.as_str(),
                route.path
            );
            for role in Role::ALL {
                let r = send(Some(&s.tokens[&role])).await.unwrap();
                let st = r.status().as_u16();
                let ct = r
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_owned())
                    .unwrap_or_default();
                let body = r.text().await.unwrap_or_default();
                let allowed = permission == Permission::Authenticated || role.allows(permission);
                assert!(
                    st < 500,
                    "{kind:?} {role} {} {} → {st} {body}",
                    route.method.as_str(),
                    route.path
                );
                if allowed {
                    assert!(
                        st != 401 && st != 403,
                        "{kind:?} {role} should be allowed {} {} → {st} {body}",
                        route.method.as_str(),
                        route.path
                    );
                    assert!(
                        !(st == 404 && body.contains("no such route")),
                        "not routed: {} {}",
                        route.method.as_str(),
                        route.path
                    );
                } else {
                    assert_eq!(
                        st,
                        403,
                        "{kind:?} {role} should be denied {} {} → {body}",
                        route.method.as_str(),
                        route.path
                    );
                    assert!(ct.starts_with("application/problem+json"), "{ct}");
                }
                checked += 1;
            }
        }
        assert!(checked >= 6 * 40, "{checked}");
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_authors_and_auditors_never_see_case_details() {
    let s = start(
        TestDb::new(common::Kind::Sqlite).await,
        ServerConfig::default(),
    )
    .await;
    let (st, _) = s
        .post(
            Role::UnitReporter,
            "/v1/notifications",
            form(HARTFORD, "24-001", "123123124"),
        )
        .await;
    assert_eq!(st, 201);
    for role in [Role::ReportAuthor, Role::Auditor, Role::Admin] {
        for path in [
            "/v1/cases",
            "/v1/cases/CT0006400:24-001",
            "/v1/cases/CT0006400:24-001/history",
            "/v1/compliance",
        ] {
            let (st, _) = s.get(role, path).await;
            assert_eq!(st, 403, "{role} {path}");
        }
    }
    let (st, summary) = s.get(Role::ReportAuthor, "/v1/compliance/summary").await;
    assert_eq!(st, 200);
    assert!(!summary.to_string().contains("24-001"), "{summary}");
    s.stop().await;
}
