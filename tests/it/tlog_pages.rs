//! Issue 16 on the staff pages: the ledger page shows the age of the last witnessed
//! checkpoint and raises the alert past the configured age; the case page offers the
//! filing receipt once a checkpoint is published, and its link downloads it.

use crate::support::{common, http_support};

use std::time::{Duration, Instant};

use common::{TestDb, KINDS};
use http_support::{form, sign_in, start, Server, HARTFORD};
use icac_ledger::access::auth::Role;
use icac_ledger::http::ServerConfig;
use icac_ledger::tlog::publisher::{self, PublicationConfig};

fn spawn_publisher(
    s: &Server,
    dir: &std::path::Path,
    policy: Option<icac_format::policy::Policy>,
) -> tokio::task::JoinHandle<()> {
    let (_tx, rx) = tokio::sync::watch::channel(None);
    let config = PublicationConfig {
        dir: dir.to_path_buf(),
        policy,
        max_age: Duration::from_secs(1),
        witness_timeout: Duration::from_millis(500),
        retry: Duration::from_millis(200),
    };
    let (storage, id, status) = (
        s.state.ledger.storage().clone(),
        s.state.ledger.id().clone(),
        s.state.publication.clone(),
    );
    tokio::spawn(async move {
        let _tx = _tx;
        let _ = publisher::run(storage, id, config, status, rx).await;
    })
}

async fn page(s: &Server, session: &str, path: &str) -> (u16, String) {
    let r = s
        .client
        .get(s.url(path))
        .header("cookie", format!("icac_session={session}"))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_page_alerts_and_case_page_offers_the_receipt() {
    for kind in KINDS {
        let tlog = tempfile::tempdir().unwrap();
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
        let case = b["case_id"].as_str().unwrap().to_owned();
        let storage = s.state.ledger.storage().clone();
        icac_ledger::audit::checkpointer::cut(&storage, s.state.ledger.id(), &s.state.key())
            .await
            .unwrap();

        // A witness that is down: after the configured age the ledger page alerts.
        let key = s.state.key();
        let log = icac_format::checkpoint::verifier_key_string(
            s.state.ledger.id().as_str(),
            &key.public(),
        )
        .unwrap();
        let w = icac_format::cosignature::CosignerKey::new(
            "w.example/1",
            ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key(),
        )
        .unwrap()
        .to_vkey();
        let policy = icac_format::policy::Policy::parse(&format!(
            "log {log}\nwitness W {w} http://127.0.0.1:9\nquorum W\n"
        ))
        .unwrap();
        let down = spawn_publisher(&s, tlog.path(), Some(policy));
        let (session, _) = sign_in(&s, &s.tokens[&Role::Supervisor]).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (st, html) = page(&s, &session, "/staff/ledger").await;
        assert_eq!(st, 200);
        assert!(
            html.contains("Last witnessed checkpoint"),
            "{kind:?}: {html}"
        );
        assert!(
            html.contains("id=\"witness-alert\"") && html.contains("no witnessed checkpoint"),
            "{kind:?}: {html}"
        );
        let (_, html) = page(&s, &session, &format!("/staff/cases/{case}")).await;
        assert!(
            html.contains("awaiting the first witnessed checkpoint"),
            "{kind:?}"
        );
        down.abort();

        // Published (no policy: the ledger's own signature): the link downloads it.
        let publishing = spawn_publisher(&s, tlog.path(), None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while s.state.publication.published_size().is_none() {
            assert!(Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        publishing.abort();
        let (_, html) = page(&s, &session, "/staff/ledger").await;
        assert!(!html.contains("witness-alert"), "{kind:?}: {html}");
        let (_, html) = page(&s, &session, &format!("/staff/cases/{case}")).await;
        let link = format!("/staff/cases/{case}/receipt");
        assert!(html.contains(&link), "{kind:?}: {html}");
        let (st, receipt) = page(&s, &session, &link).await;
        assert_eq!(st, 200);
        assert!(receipt.starts_with("c2sp.org/tlog-proof@v1\n"), "{receipt}");
        let none =
            icac_format::policy::Policy::parse(&format!("log {log}\nquorum none\n")).unwrap();
        let facts = icac_format::receipt::Receipt::parse(&receipt)
            .unwrap()
            .verify(&none)
            .unwrap();
        assert_eq!(facts.event_type, "NotificationFiled");
        s.stop().await;
    }
}
