//! The deconfliction key (issue 17): created on first use next to the signing key, mode
//! 0600, the same key after a restart (so a match is found across restarts), and never
//! in the ledger nor in the logs, on SQLite and PostgreSQL.

use crate::support::common;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{ledger_id, TestDb, KINDS};
use icac_aggregates::ids::Ori;
use icac_aggregates::units::{RegisterUnit, UnitCommand, UnitKind};
use icac_format::keys::LedgerKey;
use icac_ledger::commands::deconfliction_key::path_for;
use icac_ledger::commands::filing::{file_notification, FilingReceipt};
use icac_ledger::commands::{Actor, Commands};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::ledger::Ledger;
use serde_json::{json, Value};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;

/// Whether the test is running. Its subscriber has to be process-wide (the only way to
/// see the logs of every runtime thread), and the harness's other tests share the
/// process: outside the test the subscriber lets nothing through, so it neither slows
/// them down nor keeps their logs.
static CAPTURING: AtomicBool = AtomicBool::new(false);

/// Ends the capture when the test ends, passing or failing.
struct Capturing;

impl Drop for Capturing {
    fn drop(&mut self) {
        CAPTURING.store(false, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn form(unit: &str, case_number: &str, tip: &str, screen_name: &str) -> Value {
    json!({
        "form_version": "1",
        "reporting_unit": unit,
        "officer": { "name": "Det. A. Rivera", "phone": "(860) 555-0100" },
        "unit_case_number": case_number,
        "received": { "date": "2024-09-01", "time": "09:30:00" },
        "source": { "kind": "ncmec_cybertip", "cybertip_number": tip },
        "incident": { "type": "csam_distribution", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false },
        "medium": "chat_im",
        "suspected_statutes": ["53a-196d"],
        "urgent": false,
        "subject_identifiers": [ { "kind": "screen_name", "value": screen_name } ],
        "victim": { "identified": false, "age_band": "unknown" },
        "evidence": { "item_count": 1, "image_count": 1, "video_count": 0, "hashes": [] },
        "deconfliction_checked": true,
        "assistance_requested": { "undercover": false, "forensic": false, "technical": false },
        "attestation": { "name": "Det. A. Rivera", "statement_accepted": true }
    })
}

async fn open(db: &TestDb, path: &std::path::Path) -> (Ledger, Commands) {
    let ledger = Ledger::open_with_key_file(db.storage().await, ledger_id(), path)
        .await
        .expect("open");
    let commands = Commands::open(ledger.clone()).await.expect("commands");
    (ledger, commands)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_private_stable_and_never_recorded_or_logged() {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish()
        .with(filter_fn(|_| CAPTURING.load(Ordering::SeqCst)));
    CAPTURING.store(true, Ordering::SeqCst);
    let _capturing = Capturing;
    tracing::subscriber::set_global_default(subscriber).expect("subscriber");
    let at: jiff::Timestamp = "2024-09-02T12:00:00Z".parse().expect("time");
    for kind in KINDS {
        let dir = tempfile::tempdir().expect("dir");
        let signing = dir.path().join("ledger.pem");
        let key = LedgerKey::generate();
        key.save_new(&signing).expect("save");
        let db = TestDb::new(kind).await;
        Ledger::initialise(&db.storage().await, &ledger_id(), &key)
            .await
            .expect("init");

        let (ledger, commands) = open(&db, &signing).await;
        let key_path = path_for(&signing);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&key_path)
                .expect("key created")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{kind:?}");
        let secret = std::fs::read_to_string(&key_path)
            .expect("read")
            .trim()
            .to_string();
        assert_eq!(secret.len(), 64);
        assert!(!format!("{:?}", commands.deconfliction_key()).contains(&secret));
        for (ori, name) in [("CT0006400", "Hartford PD"), ("CT0009300", "New Haven PD")] {
            let cmd = UnitCommand::Register(RegisterUnit {
                ori: Ori::parse(ori).expect("ori"),
                name: name.into(),
                kind: UnitKind::MunicipalPolice,
                town: "Hartford".into(),
                recorded_at: at,
            });
            commands
                .execute(&commands.units, ori, cmd, &Actor::system("test", "u"))
                .await
                .expect("unit");
        }
        let actor = Actor::system("test", "f1");
        file_notification(
            &commands,
            &form("CT0006400", "H-1", "810000001", "Quiet_Owl"),
            &actor,
            at,
        )
        .await
        .expect("file");
        drop(commands);
        ledger.shutdown().await;

        // After a restart the same key: the second unit's filing still matches.
        let (ledger, commands) = open(&db, &signing).await;
        let secret_again = std::fs::read_to_string(&key_path)
            .expect("read")
            .trim()
            .to_string();
        assert_eq!(secret, secret_again);
        let receipt = file_notification(
            &commands,
            &form("CT0009300", "NH-1", "810000002", " quiet_owl "),
            &Actor::system("test", "f2"),
            at,
        )
        .await
        .expect("file");
        let FilingReceipt::Filed { deconfliction, .. } = receipt;
        assert_eq!(deconfliction.len(), 1, "{kind:?}: match across a restart");
        assert_eq!(commands.matches().all().len(), 1);

        let rows = ledger
            .storage()
            .read_page(ledger.id(), 1, 10_000)
            .await
            .expect("rows");
        let secret_bytes = hex::decode(&secret).expect("hex");
        for r in &rows {
            let text = String::from_utf8_lossy(&r.canonical).to_lowercase();
            assert!(!text.contains(&secret), "{kind:?}: key in the chain");
            assert!(!r
                .canonical
                .windows(32)
                .any(|w| w == secret_bytes.as_slice()));
        }
        drop(commands);
        ledger.shutdown().await;
        let logged = String::from_utf8_lossy(&logs.0.lock().expect("lock")).to_lowercase();
        assert!(!logged.contains(&secret), "{kind:?}: key in the logs");
        assert!(
            !logged.contains("quiet_owl"),
            "{kind:?}: identifier in the logs"
        );
    }
}
