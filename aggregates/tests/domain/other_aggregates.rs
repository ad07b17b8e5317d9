use std::sync::Arc;

use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;
use icac_aggregates::catalog::Medium;
use icac_aggregates::cybertip::*;
use icac_aggregates::form::v1::Source;
use icac_aggregates::ids::{CaseId, CyberTipNumber, OperationId, ReceiptNumber};
use icac_aggregates::operation::*;
use icac_aggregates::public_report::*;
use icac_aggregates::services::UnitDirectory;
use icac_aggregates::units::*;
use jiff::civil::date;

use crate::fixtures::*;

// ---- units ----

fn register() -> UnitCommand {
    UnitCommand::Register(RegisterUnit {
        ori: ori(HARTFORD),
        name: "Hartford Police Department".into(),
        kind: UnitKind::MunicipalPolice,
        town: "Hartford".into(),
        recorded_at: now(),
    })
}

fn registered() -> UnitEvent {
    UnitEvent::UnitRegistered {
        ori: ori(HARTFORD),
        name: "Hartford Police Department".into(),
        kind: UnitKind::MunicipalPolice,
        town: "Hartford".into(),
        recorded_at: now(),
    }
}

#[tokio::test]
async fn unit_lifecycle() {
    let f = || TestFramework::<Unit>::with(());
    f().given_no_previous_events()
        .when_async(register())
        .await
        .then_expect_events(vec![registered()]);
    f().given(vec![registered()])
        .when_async(register())
        .await
        .then_expect_error(UnitError::AlreadyRegistered(ori(HARTFORD)));
    let rename = UnitCommand::Rename {
        name: "Hartford PD".into(),
        recorded_at: now(),
    };
    f().given(vec![registered()])
        .when_async(rename.clone())
        .await
        .then_expect_events(vec![UnitEvent::UnitRenamed {
            from: "Hartford Police Department".into(),
            name: "Hartford PD".into(),
            recorded_at: now(),
        }]);
    f().given_no_previous_events()
        .when_async(rename)
        .await
        .then_expect_error(UnitError::NotRegistered);
    f().given(vec![registered()])
        .when_async(UnitCommand::Rename {
            name: "Hartford Police Department".into(),
            recorded_at: now(),
        })
        .await
        .then_expect_error(UnitError::SameName("Hartford Police Department".into()));
    let deactivate = UnitCommand::Deactivate {
        reason: "Consolidated".into(),
        recorded_at: now(),
    };
    let deactivated = UnitEvent::UnitDeactivated {
        reason: "Consolidated".into(),
        recorded_at: now(),
    };
    f().given(vec![registered()])
        .when_async(deactivate.clone())
        .await
        .then_expect_events(vec![deactivated.clone()]);
    f().given(vec![registered(), deactivated])
        .when_async(deactivate)
        .await
        .then_expect_error(UnitError::Deactivated);
    let r = f()
        .given_no_previous_events()
        .when_async(UnitCommand::Register(RegisterUnit {
            ori: ori(HARTFORD),
            name: "".into(),
            kind: UnitKind::Other,
            town: "Hartford".into(),
            recorded_at: now(),
        }))
        .await
        .inspect_result();
    assert!(matches!(
        r,
        Err(UnitError::InvalidText { field: "name", .. })
    ));
}

#[test]
fn directory_follows_unit_events() {
    let dir = icac_aggregates::services::InMemoryUnitDirectory::default();
    dir.apply(&ori(HARTFORD), &registered());
    assert!(dir.unit(&ori(HARTFORD)).unwrap().active);
    dir.apply(
        &ori(HARTFORD),
        &UnitEvent::UnitDeactivated {
            reason: "x".into(),
            recorded_at: now(),
        },
    );
    assert!(!dir.unit(&ori(HARTFORD)).unwrap().active);
}

// ---- CyberTip deconfliction ----

fn tip() -> CyberTipNumber {
    CyberTipNumber::parse(TIP).unwrap()
}

fn claim(case: &str) -> CyberTipCommand {
    CyberTipCommand::Claim {
        cybertip_number: tip(),
        case_id: case_id(case),
        claimed_by: ori(HARTFORD),
        recorded_at: now(),
    }
}

fn claimed(case: &str) -> CyberTipEvent {
    CyberTipEvent::CyberTipClaimed {
        cybertip_number: tip(),
        case_id: case_id(case),
        claimed_by: ori(HARTFORD),
        recorded_at: now(),
    }
}

#[test]
fn a_claim_is_stranded_only_when_old_and_its_case_never_filed() {
    let mut tip_state = CyberTip::default();
    assert!(!tip_state.is_stranded(false, now()), "nothing claimed");
    tip_state.apply(claimed("HPD-1"));
    let later = |secs: i64| {
        now()
            .checked_add(jiff::SignedDuration::from_secs(secs))
            .unwrap()
    };
    let limit = STRANDED_AFTER.as_secs();
    assert!(
        !tip_state.is_stranded(false, later(limit - 1)),
        "a filing in flight"
    );
    assert!(tip_state.is_stranded(false, later(limit)));
    assert!(
        !tip_state.is_stranded(true, later(10 * limit)),
        "the case filed"
    );
    tip_state.apply(CyberTipEvent::CyberTipReleased {
        case_id: case_id("HPD-1"),
        reason: "stranded".into(),
        recorded_at: later(limit),
    });
    assert!(!tip_state.is_stranded(false, later(10 * limit)), "released");
}

#[tokio::test]
async fn a_tip_is_claimed_once() {
    let f = || TestFramework::<CyberTip>::with(());
    f().given_no_previous_events()
        .when_async(claim("A"))
        .await
        .then_expect_events(vec![claimed("A")]);
    // Retrying the same claim is harmless.
    f().given(vec![claimed("A")])
        .when_async(claim("A"))
        .await
        .then_expect_events(vec![]);
    // The second unit is told which case holds it.
    f().given(vec![claimed("A")])
        .when_async(claim("B"))
        .await
        .then_expect_error(CyberTipError::AlreadyClaimed {
            cybertip_number: tip(),
            case_id: case_id("A"),
        });
}

#[tokio::test]
async fn release_rules() {
    let f = || TestFramework::<CyberTip>::with(());
    let release = |c: &str| CyberTipCommand::Release {
        case_id: case_id(c),
        reason: "Filing withdrawn".into(),
        recorded_at: now(),
    };
    f().given(vec![claimed("A")])
        .when_async(release("A"))
        .await
        .then_expect_events(vec![CyberTipEvent::CyberTipReleased {
            case_id: case_id("A"),
            reason: "Filing withdrawn".into(),
            recorded_at: now(),
        }]);
    f().given_no_previous_events()
        .when_async(release("A"))
        .await
        .then_expect_error(CyberTipError::NotClaimed);
    f().given(vec![claimed("A")])
        .when_async(release("B"))
        .await
        .then_expect_error(CyberTipError::HeldByOtherCase {
            holder: case_id("A"),
            requested: case_id("B"),
        });
}

#[test]
fn filing_orchestration_helpers() {
    let form = form();
    let (stream, cmd) = filing::claim(&hartford_case(), &form, now()).unwrap();
    assert_eq!(stream, TIP);
    assert_eq!(cmd, claim(hartford_case().as_str()));
    let own = filing::case_commands(
        hartford_case(),
        form.clone(),
        now(),
        ClaimOutcome::FileOnOwnCase,
        false,
    );
    assert_eq!(own.len(), 1);
    let linked = filing::case_commands(
        hartford_case(),
        form.clone(),
        now(),
        ClaimOutcome::LinkToExisting(case_id("P")),
        true,
    );
    assert_eq!(
        linked.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        vec!["P", hartford_case().as_str()]
    );
    let mut no_tip = form;
    no_tip.source = Source::Parent;
    assert!(filing::claim(&hartford_case(), &no_tip, now()).is_none());
    let err = CyberTipError::AlreadyClaimed {
        cybertip_number: tip(),
        case_id: case_id("P"),
    };
    assert_eq!(
        ClaimOutcome::from_result(Err(&err)).unwrap(),
        ClaimOutcome::LinkToExisting(case_id("P"))
    );
}

#[tokio::test]
async fn concurrent_claims_yield_one_case() {
    // Two units race on the same tip through an in-memory store with
    // optimistic concurrency: one claim wins, the other is told to link.
    use cqrs_es::mem_store::MemStore;
    use cqrs_es::{AggregateError, CqrsFramework};
    let store = MemStore::<CyberTip>::default();
    let cqrs = Arc::new(CqrsFramework::new(store, vec![], ()));
    let a = {
        let cqrs = cqrs.clone();
        tokio::spawn(async move { cqrs.execute(TIP, claim("A")).await })
    };
    let b = {
        let cqrs = cqrs.clone();
        tokio::spawn(async move { cqrs.execute(TIP, claim("B")).await })
    };
    let results = [a.await.unwrap(), b.await.unwrap()];
    let mut outcomes = Vec::new();
    for (r, me) in results.into_iter().zip(["A", "B"]) {
        let r = match r {
            Err(AggregateError::AggregateConflict) => cqrs.execute(TIP, claim(me)).await,
            other => other,
        };
        match r {
            Ok(()) => outcomes.push(format!("{me} files")),
            Err(AggregateError::UserError(CyberTipError::AlreadyClaimed { case_id, .. })) => {
                outcomes.push(format!("{me} links to {case_id}"));
            }
            Err(e) => panic!("{e}"),
        }
    }
    outcomes.sort();
    assert!(
        outcomes == ["A files", "B links to A"] || outcomes == ["A links to B", "B files"],
        "{outcomes:?}"
    );
}

// ---- operations ----

fn op_id() -> OperationId {
    OperationId::parse("OP-2024-01").unwrap()
}

fn plan() -> OperationCommand {
    OperationCommand::Plan(PlanOperation {
        operation_id: op_id(),
        name: "Operation Harbor".into(),
        lead_unit: ori(TASK_FORCE),
        planned_start: date(2024, 8, 1),
        planned_end: date(2024, 8, 10),
        recorded_at: now(),
    })
}

fn planned() -> OperationEvent {
    OperationEvent::OperationPlanned {
        operation_id: op_id(),
        name: "Operation Harbor".into(),
        lead_unit: ori(TASK_FORCE),
        planned_start: date(2024, 8, 1),
        planned_end: date(2024, 8, 10),
        recorded_at: now(),
    }
}

fn conduct(personas: Vec<String>) -> OperationCommand {
    OperationCommand::RecordConduct(RecordConduct {
        started_on: date(2024, 8, 1),
        ended_on: date(2024, 8, 9),
        media: vec![Medium::ChatIm],
        platforms: vec!["Example Chat".into()],
        personas,
        recorded_at: now(),
    })
}

#[tokio::test]
async fn operation_lifecycle() {
    let dir: Arc<dyn UnitDirectory> = units();
    let f = || TestFramework::<Operation>::with(dir.clone());
    f().given_no_previous_events()
        .when_async(plan())
        .await
        .then_expect_events(vec![planned()]);
    f().given(vec![planned()])
        .when_async(plan())
        .await
        .then_expect_error(OperationError::AlreadyPlanned);
    let conducted = OperationEvent::OperationConducted {
        started_on: date(2024, 8, 1),
        ended_on: date(2024, 8, 9),
        media: vec![Medium::ChatIm],
        platforms: vec!["Example Chat".into()],
        personas: vec!["soccerkid13".into()],
        recorded_at: now(),
    };
    f().given(vec![planned()])
        .when_async(conduct(vec!["soccerkid13".into()]))
        .await
        .then_expect_events(vec![conducted.clone()]);
    f().given(vec![planned()])
        .when_async(conduct(vec![]))
        .await
        .then_expect_error(OperationError::Empty { field: "personas" });
    f().given_no_previous_events()
        .when_async(conduct(vec!["x".into()]))
        .await
        .then_expect_error(OperationError::NotPlanned);
    let conclude = OperationCommand::Conclude(ConcludeOperation {
        concluded_on: date(2024, 9, 1),
        cases_opened: vec![CaseId::parse("CT0000100:OP-1").unwrap()],
        arrests: 2,
        recorded_at: now(),
    });
    f().given(vec![planned()])
        .when_async(conclude.clone())
        .await
        .then_expect_error(OperationError::NotConducted);
    f().given(vec![planned(), conducted.clone()])
        .when_async(conclude)
        .await
        .inspect_result()
        .unwrap();
    let mut bad = plan();
    if let OperationCommand::Plan(p) = &mut bad {
        p.lead_unit = ori(CLOSED_UNIT);
    }
    f().given_no_previous_events()
        .when_async(bad)
        .await
        .then_expect_error(OperationError::InactiveUnit(ori(CLOSED_UNIT)));
}

// ---- public reports ----

fn receipt() -> ReceiptNumber {
    ReceiptNumber::parse("WEB-2024-000001").unwrap()
}

fn received() -> PublicReportEvent {
    PublicReportEvent::PublicReportReceived {
        receipt_number: receipt(),
        channel: Channel::WebSite,
        category: None,
        content: None,
        recorded_at: now(),
    }
}

fn triaged() -> PublicReportEvent {
    PublicReportEvent::PublicReportTriaged {
        priority: TriagePriority::Standard,
        category: None,
        recorded_at: now(),
    }
}

#[tokio::test]
async fn public_report_lifecycle() {
    let dir: Arc<dyn UnitDirectory> = units();
    let f = || TestFramework::<PublicReport>::with(dir.clone());
    let route = |u: &str| PublicReportCommand::RouteToUnit {
        unit: ori(u),
        recorded_at: now(),
    };
    let routed = PublicReportEvent::PublicReportRouted {
        unit: ori(HARTFORD),
        routed_on: date(2024, 9, 10),
        recorded_at: now(),
    };
    f().given_no_previous_events()
        .when_async(PublicReportCommand::Receive {
            receipt_number: receipt(),
            channel: Channel::WebSite,
            category: None,
            content: None,
            recorded_at: now(),
        })
        .await
        .then_expect_events(vec![received()]);
    f().given(vec![received()])
        .when_async(route(HARTFORD))
        .await
        .then_expect_error(PublicReportError::NotTriaged);
    f().given(vec![received(), triaged()])
        .when_async(route(HARTFORD))
        .await
        .then_expect_events(vec![routed.clone()]);
    f().given(vec![received(), triaged()])
        .when_async(route(CLOSED_UNIT))
        .await
        .then_expect_error(PublicReportError::InactiveUnit(ori(CLOSED_UNIT)));
    f().given(vec![received(), triaged(), routed.clone()])
        .when_async(route(NEW_HAVEN))
        .await
        .then_expect_error(PublicReportError::AlreadyRouted);
    let close = PublicReportCommand::Close {
        reason: CloseReason::NotActionable,
        recorded_at: now(),
    };
    f().given(vec![received()])
        .when_async(close.clone())
        .await
        .inspect_result()
        .unwrap();
    f().given(vec![received(), triaged(), routed.clone()])
        .when_async(close)
        .await
        .then_expect_error(PublicReportError::AlreadyRouted);
    f().given(vec![received(), triaged()])
        .when_async(PublicReportCommand::Triage {
            priority: TriagePriority::Urgent,
            category: None,
            recorded_at: now(),
        })
        .await
        .then_expect_error(PublicReportError::AlreadyTriaged);

    // Routing starts the unit's clock on the routing date.
    let mut report = PublicReport::default();
    for e in [received(), triaged(), routed] {
        cqrs_es::Aggregate::apply(&mut report, e);
    }
    let complaint = report.routing_complaint(now()).unwrap().unwrap();
    assert_eq!(complaint.received_on, date(2024, 9, 10));
    assert_eq!(complaint.case_id.as_str(), "CT0006400:PR-WEB-2024-000001");
    assert_eq!(
        complaint.source,
        Source::PublicReport {
            receipt_number: receipt()
        }
    );
}

#[tokio::test]
async fn a_public_report_carries_what_the_person_saw_sealed() {
    use icac_aggregates::public_report::{ReportContent, ReporterContact};
    use icac_aggregates::sealed::{Commitment, Sealed};
    let dir: Arc<dyn UnitDirectory> = units();
    let content = |description: Sealed<String>| ReportContent {
        description,
        links: vec!["instagram.com/some_account".into()],
        contact: Some(ReporterContact {
            name: None,
            phone: Some("203-555-0188".into()),
            email: None,
        }),
    };
    let receive = |c: ReportContent| PublicReportCommand::Receive {
        receipt_number: receipt(),
        channel: Channel::WebSite,
        category: None,
        content: Some(c),
        recorded_at: now(),
    };
    let seen = content("He asked my daughter for photos".into());
    TestFramework::<PublicReport>::with(dir.clone())
        .given_no_previous_events()
        .when_async(receive(seen.clone()))
        .await
        .then_expect_events(vec![PublicReportEvent::PublicReportReceived {
            receipt_number: receipt(),
            channel: Channel::WebSite,
            category: None,
            content: Some(seen),
            recorded_at: now(),
        }]);
    // A commitment typed in by the public is not a description.
    TestFramework::<PublicReport>::with(dir.clone())
        .given_no_previous_events()
        .when_async(receive(content(Sealed::Committed(Commitment([7; 32])))))
        .await
        .then_expect_error(PublicReportError::NotAValue {
            field: "description",
        });
    TestFramework::<PublicReport>::with(dir)
        .given_no_previous_events()
        .when_async(receive(content("x".repeat(4_001).into())))
        .await
        .then_expect_error_message("description: must be at most 4000 characters (got 4001)");
}
