//! Commands through cqrs-es into the real ledger (SQLite and PostgreSQL): filing,
//! validation errors that record nothing, CyberTip deconfliction, conflicts, demo.

use crate::support::common;

use common::{open_ledger, Kind, TestDb, KINDS};
use icac_aggregates::case::{CaseCommand, ShareCategory, ShareDirection, ShareInformation};
use icac_aggregates::ids::{CaseId, Ori};
use icac_aggregates::units::{RegisterUnit, UnitCommand, UnitKind};
use icac_format::keys::LedgerKey;
use icac_format::record::StreamId;
use icac_ledger::commands::filing::{file_notification, FilingReceipt};
use icac_ledger::commands::{demo, Actor, CommandError, Commands};
use icac_ledger::ledger::key_file::KeyFile;
use icac_ledger::ledger::Ledger;
use jiff::Timestamp;
use serde_json::{json, Value};

const HARTFORD: &str = "CT0006400";
const NEW_HAVEN: &str = "CT0009300";

fn at() -> Timestamp {
    "2024-09-10T14:00:00Z".parse().unwrap()
}

fn actor(who: &str) -> Actor {
    Actor {
        principal: format!("unit-reporter:{who}"),
        unit: Some(who.to_string()),
        request_id: format!("req-{}", common::rand_suffix()),
        correlation_id: None,
    }
}

fn form(unit: &str, case_number: &str, tip: &str) -> Value {
    json!({
        "form_version": "1",
        "reporting_unit": unit,
        "officer": { "name": "Det. A. Rivera", "badge": "1234", "phone": "(860) 555-0100", "email": "a.rivera@example.gov" },
        "unit_case_number": case_number,
        "received": { "date": "2024-09-01", "time": "09:30:00" },
        "source": { "kind": "ncmec_cybertip", "cybertip_number": tip },
        "incident": { "type": "csam_distribution", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false, "date_from": "2024-08-20", "date_to": "2024-08-25" },
        "medium": "chat_im",
        "platform": "Example Messenger",
        "suspected_statutes": ["53a-196d"],
        "urgent": false,
        "subject_identifiers": [ { "kind": "screen_name", "value": "suspect_handle_01", "platform": "Example Messenger" } ],
        "victim": { "identified": false, "age_band": "unknown" },
        "evidence": { "item_count": 2, "image_count": 2, "video_count": 0, "hashes": [] },
        "deconfliction_checked": true,
        "assistance_requested": { "undercover": false, "forensic": true, "technical": false },
        "attestation": { "name": "Det. A. Rivera", "statement_accepted": true }
    })
}

/// A fresh ledger on `kind` with its commands and the two units registered.
async fn with_units_on(kind: Kind) -> (TestDb, LedgerKey, Ledger, Commands) {
    let db = TestDb::new(kind).await;
    let key = LedgerKey::generate();
    let ledger = open_ledger(&db, &key).await;
    let commands = Commands::open(ledger.clone()).await.unwrap();
    with_units(&commands).await;
    (db, key, ledger, commands)
}

async fn with_units(commands: &Commands) {
    for (ori, name) in [
        (HARTFORD, "Hartford Police Department"),
        (NEW_HAVEN, "New Haven Police Department"),
    ] {
        let cmd = UnitCommand::Register(RegisterUnit {
            ori: Ori::parse(ori).unwrap(),
            name: name.into(),
            kind: UnitKind::MunicipalPolice,
            town: "Hartford".into(),
            recorded_at: "2024-07-01T12:00:00Z".parse().unwrap(),
        });
        commands
            .execute(
                &commands.units,
                ori,
                cmd,
                &Actor::system("test:admin", "reg"),
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filing_deconfliction_and_validation_through_cqrs() {
    for kind in KINDS {
        let (db, key, ledger, commands) = with_units_on(kind).await;

        // A valid form opens a case; metadata carries the principal.
        let receipt = file_notification(
            &commands,
            &form(HARTFORD, "24-001", "111222333"),
            &actor(HARTFORD),
            at(),
        )
        .await
        .unwrap();
        let FilingReceipt::Filed { case_id, .. } = receipt;
        let events = ledger
            .read_stream(&StreamId::new("case", case_id.as_str()))
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].record.event_type, "NotificationFiled");
        assert_eq!(
            events[0].record.metadata.principal,
            format!("unit-reporter:{HARTFORD}")
        );

        // The same CyberTip from another unit opens that unit's own case (both stay
        // open); the filer is told which unit to call, never the other case.
        let receipt = file_notification(
            &commands,
            &form(NEW_HAVEN, "NH-77", "111222333"),
            &actor(NEW_HAVEN),
            at(),
        )
        .await
        .unwrap();
        let nh_case =
            CaseId::for_unit_case(&Ori::parse(NEW_HAVEN).unwrap(), &"NH-77".parse().unwrap())
                .unwrap();
        let FilingReceipt::Filed {
            case_id: filed,
            deconfliction,
        } = receipt;
        assert_eq!(filed, nh_case, "{kind:?}");
        assert!(
            deconfliction
                .iter()
                .any(|m| m.contact_unit.as_str() == HARTFORD),
            "{deconfliction:?}"
        );
        let events = ledger
            .read_stream(&StreamId::new("case", case_id.as_str()))
            .await
            .unwrap();
        assert_eq!(
            events.last().unwrap().record.event_type,
            "NotificationFiled",
            "the first case is not touched"
        );
        let events = ledger
            .read_stream(&StreamId::new("case", nh_case.as_str()))
            .await
            .unwrap();
        assert_eq!(
            events.last().unwrap().record.event_type,
            "NotificationFiled"
        );

        // Every kind of error at once, with pointers; nothing recorded.
        let before = ledger.head().await.unwrap().position;
        let mut bad = form("CT9999999", "24-002", "");
        bad["received"]["date"] = json!("2031-02-30");
        bad["suspected_statutes"] = json!(["53a-196d", "99-999"]);
        bad["medium"] = json!(42);
        let Err(CommandError::Invalid(errors)) =
            file_notification(&commands, &bad, &actor(HARTFORD), at()).await
        else {
            panic!("expected validation errors")
        };
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        for p in [
            "/reporting_unit",
            "/received/date",
            "/suspected_statutes/1",
            "/medium",
            "/source/cybertip_number",
        ] {
            assert!(
                pointers.contains(&p),
                "{kind:?}: missing {p} in {pointers:?}"
            );
        }
        assert_eq!(
            ledger.head().await.unwrap().position,
            before,
            "{kind:?}: nothing recorded"
        );

        // A refused filing (same unit case filed again) records no claim either.
        let again = file_notification(
            &commands,
            &form(HARTFORD, "24-001", "999888777"),
            &actor(HARTFORD),
            at(),
        )
        .await;
        assert!(matches!(again, Err(CommandError::Rejected(_))), "{again:?}");
        assert_eq!(
            ledger.head().await.unwrap().position,
            before,
            "{kind:?}: nothing recorded"
        );

        // Two commands racing on one case: at most one conflict, never a fork.
        let share = |n: usize| {
            CaseCommand::ShareInformation(ShareInformation {
                direction: ShareDirection::UnitToTaskForce {
                    from_unit: Ori::parse(HARTFORD).unwrap(),
                },
                category: ShareCategory::CaseUpdate,
                summary: format!("update {n}"),
                recorded_at: at(),
            })
        };
        let mut handles = Vec::new();
        let commands = std::sync::Arc::new(commands);
        for n in 0..8 {
            let (c, id) = (commands.clone(), case_id.clone());
            handles.push(tokio::spawn(async move {
                c.execute_case(&id, share(n), &actor(HARTFORD)).await
            }));
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for h in handles {
            match h.await.unwrap() {
                Ok(()) => ok += 1,
                Err(CommandError::Conflict) => conflicts += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            ok >= 1 && ok + conflicts == 8,
            "{kind:?}: {ok} ok, {conflicts} conflicts"
        );
        let events = ledger
            .read_stream(&StreamId::new("case", case_id.as_str()))
            .await
            .unwrap();
        assert_eq!(
            events.len(),
            1 + ok,
            "{kind:?}: exactly the acknowledged shares are present"
        );

        // A second process on the same database writes to the case; this process's
        // cached state of the case is then behind. Its next command must neither fail
        // nor be decided on the stale state: it runs again on the state read afresh.
        let other_ledger = icac_ledger::ledger::Ledger::open(
            db.storage().await,
            common::ledger_id(),
            LedgerKey::from_signing_key(key.signing_key().clone()),
        )
        .await
        .unwrap();
        let other = Commands::open(other_ledger.clone()).await.unwrap();
        other
            .execute_case(&case_id, share(100), &actor(HARTFORD))
            .await
            .expect("the other process shares");
        commands
            .execute_case(&case_id, share(101), &actor(HARTFORD))
            .await
            .expect("a stale cache is not a conflict");
        let mut summaries: Vec<String> = Vec::new();
        for e in ledger
            .read_stream(&StreamId::new("case", case_id.as_str()))
            .await
            .unwrap()
        {
            // The summary is sealed: the chain holds its commitment, the store its text.
            let opened = common::opened(ledger.storage(), &e.record).await;
            if let Some(s) = opened
                .pointer("/InformationShared/summary")
                .and_then(|s| s.as_str())
            {
                summaries.push(s.to_owned());
            }
        }
        let n = summaries.len();
        assert!(
            n >= 2 && summaries[n - 2] == "update 100" && summaries[n - 1] == "update 101",
            "{kind:?}: both processes' shares are recorded, in order: {summaries:?}"
        );
        drop(other);
        other_ledger.shutdown().await;
    }
}

/// A filing that claimed a CyberTip and then failed (a database outage between its
/// two writes) leaves a claim no case filed on. Another unit filing the same tip is
/// refused as a conflict while that claim may still be in flight, and once it is older
/// than `STRANDED_AFTER` takes the tip over: the claim is released on the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranded_cybertip_claim_is_taken_over() {
    use icac_aggregates::cybertip::{CyberTipCommand, STRANDED_AFTER};
    for kind in KINDS {
        let (_db, _key, ledger, commands) = with_units_on(kind).await;
        let tip = "555666777";
        let stranded_case =
            CaseId::for_unit_case(&Ori::parse(HARTFORD).unwrap(), &"24-404".parse().unwrap())
                .unwrap();
        // What the failed filing left behind: the claim, and nothing on its case.
        let claim = CyberTipCommand::Claim {
            cybertip_number: tip.parse().unwrap(),
            case_id: stranded_case.clone(),
            claimed_by: Ori::parse(HARTFORD).unwrap(),
            recorded_at: at(),
        };
        commands
            .execute(&commands.cybertips, tip, claim, &actor(HARTFORD))
            .await
            .unwrap();
        let soon = at()
            .checked_add(jiff::SignedDuration::from_secs(60))
            .unwrap();
        let err = file_notification(
            &commands,
            &form(NEW_HAVEN, "NH-9", tip),
            &actor(NEW_HAVEN),
            soon,
        )
        .await
        .expect_err("a young claim may be a filing in flight");
        assert!(matches!(err, CommandError::Conflict), "{kind:?}: {err:?}");

        let later = at().checked_add(STRANDED_AFTER).unwrap();
        let receipt = file_notification(
            &commands,
            &form(NEW_HAVEN, "NH-9", tip),
            &actor(NEW_HAVEN),
            later,
        )
        .await
        .unwrap();
        let FilingReceipt::Filed { case_id, .. } = receipt;
        assert_ne!(case_id, stranded_case);
        let tip_events: Vec<String> = ledger
            .read_stream(&StreamId::new("cybertip", tip))
            .await
            .unwrap()
            .iter()
            .map(|e| e.record.event_type.clone())
            .collect();
        assert_eq!(
            tip_events,
            ["CyberTipClaimed", "CyberTipReleased", "CyberTipClaimed"],
            "{kind:?}"
        );
        assert_eq!(commands.tip_holder(&tip.parse().unwrap()), Some(case_id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_is_deterministic_across_fresh_stores() {
    let mut payloads = Vec::new();
    for kind in KINDS {
        let db = TestDb::new(kind).await;
        let ledger = open_ledger(&db, &LedgerKey::generate()).await;
        // One deconfliction key for both stores, so their fingerprints are the same.
        let key = icac_ledger::commands::deconfliction_key::DeconflictionKey::from_bytes([7; 32]);
        let commands = Commands::open_with_deconfliction_key(ledger.clone(), key)
            .await
            .unwrap();
        let summary = demo::run(&commands, 40, 7, |_, _| {}).await.unwrap();
        assert_eq!(
            summary.rejected, 0,
            "{kind:?}: the demo script is accepted in full"
        );
        let mut all = Vec::new();
        let mut from = 2; // skip the genesis event (its key differs per store)
        loop {
            let rows = ledger
                .storage()
                .read_page(ledger.id(), from, 1000)
                .await
                .unwrap();
            if rows.is_empty() {
                break;
            }
            for row in rows {
                from = row.position + 1;
                let e = icac_ledger::ledger::sealed_from_row(row).unwrap();
                let content = common::opened(ledger.storage(), &e.record).await;
                all.push((
                    e.record.aggregate_type,
                    e.record.aggregate_id,
                    e.record.event_type,
                    content,
                ));
            }
        }
        assert!(all.len() > 100, "{kind:?}: {} events", all.len());
        payloads.push(all);
    }
    assert_eq!(
        payloads[0], payloads[1],
        "same seed, same payloads on SQLite and PostgreSQL"
    );
}
