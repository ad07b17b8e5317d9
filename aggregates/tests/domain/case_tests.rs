use cqrs_es::test::TestFramework;
use icac_aggregates::case::*;
use icac_aggregates::compliance::{assess, ComplianceStatus, DeadlinePolicy};
use icac_aggregates::form::v1::{AgeBand, Source};
use icac_aggregates::form::FieldError;
use icac_aggregates::ids::{CyberTipNumber, LedgerPosition, OperationId, StatuteCode};
use icac_aggregates::services::LedgerEventRef;
use jiff::civil::date;

use crate::fixtures::*;

type F = TestFramework<Case>;

fn given(events: Vec<CaseEvent>) -> cqrs_es::test::AggregateTestExecutor<Case> {
    F::with(services()).given(events)
}

fn complaint() -> CaseEvent {
    CaseEvent::ComplaintLogged {
        case_id: hartford_case(),
        reporting_unit: ori(HARTFORD),
        unit_case_number: None,
        received_on: date(2024, 9, 1),
        received_time: None,
        received_offset: None,
        source: Source::NcmecCybertip {
            cybertip_number: CyberTipNumber::parse(TIP).unwrap(),
        },
        recorded_at: ts("2024-09-01T15:00:00Z"),
    }
}

fn log_complaint() -> CaseCommand {
    CaseCommand::LogComplaint(LogComplaint {
        case_id: hartford_case(),
        reporting_unit: ori(HARTFORD),
        unit_case_number: None,
        received_on: date(2024, 9, 1),
        received_time: None,
        received_offset: None,
        source: Source::NcmecCybertip {
            cybertip_number: CyberTipNumber::parse(TIP).unwrap(),
        },
        recorded_at: ts("2024-09-01T15:00:00Z"),
    })
}

fn file_cmd() -> CaseCommand {
    CaseCommand::FileNotification(FileNotification {
        case_id: hartford_case(),
        form: form(),
        recorded_at: now(),
    })
}

fn status(to: CaseStatus, disposition: Option<Disposition>, note: Option<&str>) -> CaseCommand {
    CaseCommand::ChangeStatus(ChangeStatus {
        to,
        disposition,
        note: note.map(str::to_string),
        recorded_at: now(),
    })
}

fn moved(from: CaseStatus, to: CaseStatus) -> CaseEvent {
    CaseEvent::StatusChanged {
        from,
        to,
        disposition: None,
        note: None,
        recorded_at: now(),
    }
}

fn charge(code: &str, counts: u16) -> Charge {
    Charge {
        statute: StatuteCode::parse(code).unwrap(),
        counts,
    }
}

fn arrest_cmd(on: jiff::civil::Date, charges: Vec<Charge>) -> CaseCommand {
    CaseCommand::RecordArrest(RecordArrest {
        arrested_on: on,
        arresting_unit: ori(HARTFORD),
        charges,
        recorded_at: now(),
    })
}

fn arrested() -> CaseEvent {
    CaseEvent::ArrestRecorded {
        arrest_number: 1,
        arrested_on: date(2024, 9, 5),
        arresting_unit: ori(HARTFORD),
        charges: vec![charge("53a-196d", 1)],
        recorded_at: now(),
    }
}

fn referral(target: ReferralTarget) -> CaseEvent {
    CaseEvent::ReferralRecorded {
        referral_number: 1,
        target,
        agency_name: "U.S. Attorney's Office, District of Connecticut".into(),
        referred_on: date(2024, 9, 6),
        recorded_at: now(),
    }
}

fn err(events: Vec<CaseEvent>, cmd: CaseCommand) -> CaseError {
    let mut case = Case::default();
    for e in events {
        cqrs_es::Aggregate::apply(&mut case, e);
    }
    case.decide(cmd, &services()).unwrap_err()
}

// ---- opening ----

#[tokio::test]
async fn notification_opens_a_case() {
    given(vec![])
        .when_async(file_cmd())
        .await
        .then_expect_events(vec![filed()]);
}

#[tokio::test]
async fn second_notification_on_same_case_is_refused() {
    given(vec![filed()])
        .when_async(file_cmd())
        .await
        .then_expect_error(CaseError::NotificationAlreadyFiled);
}

#[tokio::test]
async fn invalid_form_is_refused_with_pointers_and_records_nothing() {
    let mut f = form();
    f.reporting_unit = ori("CT9999999");
    f.attestation.statement_accepted = false;
    let result = given(vec![])
        .when_async(CaseCommand::FileNotification(FileNotification {
            case_id: hartford_case(),
            form: f,
            recorded_at: now(),
        }))
        .await
        .inspect_result();
    let Err(CaseError::InvalidForm(FormErrors(errors))) = result else {
        panic!("expected invalid form, got {result:?}")
    };
    let pointers: Vec<&str> = errors
        .iter()
        .map(|e: &FieldError| e.pointer.as_str())
        .collect();
    assert_eq!(
        pointers,
        vec!["/reporting_unit", "/attestation/statement_accepted"]
    );
}

#[tokio::test]
async fn complaint_is_logged() {
    given(vec![])
        .when_async(log_complaint())
        .await
        .then_expect_events(vec![complaint()]);
}

#[tokio::test]
async fn complaint_twice_is_refused() {
    given(vec![complaint()])
        .when_async(log_complaint())
        .await
        .then_expect_error(CaseError::AlreadyOpened(hartford_case()));
}

#[tokio::test]
async fn complaint_from_unknown_or_inactive_unit_is_refused() {
    let mut c = log_complaint();
    if let CaseCommand::LogComplaint(l) = &mut c {
        l.reporting_unit = ori("CT9999999");
    }
    given(vec![])
        .when_async(c.clone())
        .await
        .then_expect_error(CaseError::UnknownUnit(ori("CT9999999")));
    if let CaseCommand::LogComplaint(l) = &mut c {
        l.reporting_unit = ori(CLOSED_UNIT);
    }
    given(vec![])
        .when_async(c)
        .await
        .then_expect_error(CaseError::InactiveUnit(ori(CLOSED_UNIT)));
}

#[tokio::test]
async fn complaint_received_in_the_future_is_refused() {
    let mut c = log_complaint();
    if let CaseCommand::LogComplaint(l) = &mut c {
        l.received_on = date(2024, 9, 2);
    }
    given(vec![])
        .when_async(c)
        .await
        .then_expect_error(CaseError::DateInFuture {
            field: "received_on",
            date: date(2024, 9, 2),
            today: date(2024, 9, 1),
        });
}

#[tokio::test]
async fn complaint_with_invalid_source_is_refused() {
    let mut c = log_complaint();
    if let CaseCommand::LogComplaint(l) = &mut c {
        l.source = Source::OtherAgency {
            agency_name: "  ".into(),
        };
    }
    let r = given(vec![]).when_async(c).await.inspect_result();
    let Err(CaseError::InvalidSource(FormErrors(e))) = r else {
        panic!("{r:?}")
    };
    assert_eq!(e[0].pointer, "/source/agency_name");
}

#[tokio::test]
async fn notification_completes_a_logged_complaint() {
    given(vec![complaint()])
        .when_async(file_cmd())
        .await
        .then_expect_events(vec![filed()]);
}

#[tokio::test]
async fn notification_from_another_unit_cannot_complete_the_complaint() {
    let cmd = CaseCommand::FileNotification(FileNotification {
        case_id: hartford_case(),
        form: form_from(NEW_HAVEN, "NH-1"),
        recorded_at: now(),
    });
    given(vec![complaint()])
        .when_async(cmd)
        .await
        .then_expect_error(CaseError::UnitMismatch {
            logged: ori(HARTFORD),
            form: ori(NEW_HAVEN),
        });
}

#[tokio::test]
async fn notification_with_a_different_received_date_is_refused() {
    let mut f = form();
    f.received.date = date(2024, 9, 2);
    let cmd = CaseCommand::FileNotification(FileNotification {
        case_id: hartford_case(),
        form: f,
        recorded_at: now(),
    });
    given(vec![complaint()])
        .when_async(cmd)
        .await
        .then_expect_error(CaseError::ReceivedDateMismatch {
            logged: date(2024, 9, 1),
            form: date(2024, 9, 2),
        });
}

#[tokio::test]
async fn notification_for_another_stream_id_is_refused() {
    let cmd = CaseCommand::FileNotification(FileNotification {
        case_id: case_id("OTHER"),
        form: form(),
        recorded_at: now(),
    });
    given(vec![complaint()])
        .when_async(cmd)
        .await
        .then_expect_error(CaseError::CaseIdMismatch {
            expected: hartford_case(),
            got: case_id("OTHER"),
        });
}

#[tokio::test]
async fn notification_for_a_tip_held_elsewhere_opens_its_own_case() {
    // Issue 17: a tip another unit's case holds is filed on this case too; both stay
    // open and deconfliction tells both units of each other.
    let world = World::new();
    world.tips.insert(
        CyberTipNumber::parse(TIP).unwrap(),
        case_id("CT0009300:NH-1"),
    );
    let services = world.services();
    let events = Case::default()
        .decide(file_cmd(), &services)
        .expect("accepted");
    assert!(matches!(
        events.as_slice(),
        [CaseEvent::NotificationFiled { .. }]
    ));
}

#[tokio::test]
async fn notification_for_a_tip_held_by_this_case_is_accepted() {
    let world = World::new();
    world
        .tips
        .insert(CyberTipNumber::parse(TIP).unwrap(), hartford_case());
    F::with(world.services())
        .given_no_previous_events()
        .when_async(file_cmd())
        .await
        .then_expect_events(vec![filed()]);
}

// ---- deconfliction on the case side ----

fn link_cmd(unit: &str, number: &str) -> CaseCommand {
    CaseCommand::LinkDuplicateNotification(LinkDuplicateNotification {
        form: form_from(unit, number),
        from_case_id: Some(case_id("CT0009300:NH-1")),
        recorded_at: now(),
    })
}

#[tokio::test]
async fn duplicate_notification_is_linked() {
    given(vec![filed()])
        .when_async(link_cmd(NEW_HAVEN, "NH-1"))
        .await
        .then_expect_events(vec![CaseEvent::DuplicateNotificationLinked {
            form: form_from(NEW_HAVEN, "NH-1"),
            from_case_id: Some(case_id("CT0009300:NH-1")),
            recorded_at: now(),
        }]);
}

#[tokio::test]
async fn duplicate_with_another_tip_is_refused() {
    let mut f = form_from(NEW_HAVEN, "NH-1");
    f.source = Source::NcmecCybertip {
        cybertip_number: CyberTipNumber::parse("111").unwrap(),
    };
    let cmd = CaseCommand::LinkDuplicateNotification(LinkDuplicateNotification {
        form: f,
        from_case_id: None,
        recorded_at: now(),
    });
    given(vec![filed()])
        .when_async(cmd)
        .await
        .then_expect_error(CaseError::DifferentCyberTip {
            case: CyberTipNumber::parse(TIP).unwrap(),
            form: CyberTipNumber::parse("111").unwrap(),
        });
}

#[tokio::test]
async fn duplicate_on_a_case_without_tip_is_refused() {
    given(vec![complaint()])
        .when_async(link_cmd(NEW_HAVEN, "NH-1"))
        .await
        .then_expect_error(CaseError::NoCyberTip);
}

#[tokio::test]
async fn complaint_case_is_merged_into_the_tip_holder() {
    let cmd = CaseCommand::MergeIntoCase(MergeIntoCase {
        primary_case_id: case_id("CT0009300:NH-1"),
        recorded_at: now(),
    });
    given(vec![complaint()])
        .when_async(cmd.clone())
        .await
        .then_expect_events(vec![CaseEvent::CaseMerged {
            primary_case_id: case_id("CT0009300:NH-1"),
            recorded_at: now(),
        }]);
    given(vec![filed()])
        .when_async(cmd)
        .await
        .then_expect_error(CaseError::NotificationAlreadyFiled);
    let self_merge = CaseCommand::MergeIntoCase(MergeIntoCase {
        primary_case_id: hartford_case(),
        recorded_at: now(),
    });
    given(vec![complaint()])
        .when_async(self_merge)
        .await
        .then_expect_error(CaseError::SelfMerge);
}

#[tokio::test]
async fn merged_case_refuses_further_work() {
    let merged = CaseEvent::CaseMerged {
        primary_case_id: case_id("CT0009300:NH-1"),
        recorded_at: now(),
    };
    given(vec![complaint(), merged])
        .when_async(file_cmd())
        .await
        .then_expect_error(CaseError::Merged(case_id("CT0009300:NH-1")));
}

// ---- sharing ----

fn share(direction: ShareDirection, summary: &str) -> CaseCommand {
    CaseCommand::ShareInformation(ShareInformation {
        direction,
        category: ShareCategory::CaseUpdate,
        summary: summary.into(),
        recorded_at: now(),
    })
}

#[tokio::test]
async fn information_is_shared_both_ways() {
    let up = ShareDirection::UnitToTaskForce {
        from_unit: ori(HARTFORD),
    };
    given(vec![filed()])
        .when_async(share(up.clone(), "Search warrant returns received"))
        .await
        .then_expect_events(vec![CaseEvent::InformationShared {
            share_number: 1,
            direction: up,
            category: ShareCategory::CaseUpdate,
            summary: "Search warrant returns received".into(),
            recorded_at: now(),
        }]);
    let down = ShareDirection::TaskForceToUnits {
        to_units: vec![ori(HARTFORD), ori(NEW_HAVEN)],
    };
    let r = given(vec![complaint()])
        .when_async(share(down, "Subscriber information"))
        .await
        .inspect_result()
        .unwrap();
    assert_eq!(r.len(), 1);
}

#[tokio::test]
async fn share_rules() {
    given(vec![])
        .when_async(share(
            ShareDirection::UnitToTaskForce {
                from_unit: ori(HARTFORD),
            },
            "x",
        ))
        .await
        .then_expect_error(CaseError::NotOpened);
    given(vec![filed()])
        .when_async(share(
            ShareDirection::TaskForceToUnits { to_units: vec![] },
            "x",
        ))
        .await
        .then_expect_error(CaseError::Empty { what: "to_units" });
    given(vec![filed()])
        .when_async(share(
            ShareDirection::TaskForceToUnits {
                to_units: vec![ori(HARTFORD), ori(HARTFORD)],
            },
            "x",
        ))
        .await
        .then_expect_error(CaseError::DuplicateUnit(ori(HARTFORD)));
    given(vec![filed()])
        .when_async(share(
            ShareDirection::TaskForceToUnits {
                to_units: vec![ori(CLOSED_UNIT)],
            },
            "x",
        ))
        .await
        .then_expect_error(CaseError::InactiveUnit(ori(CLOSED_UNIT)));
    let r = given(vec![filed()])
        .when_async(share(
            ShareDirection::UnitToTaskForce {
                from_unit: ori(HARTFORD),
            },
            &"x".repeat(1001),
        ))
        .await
        .inspect_result();
    assert!(matches!(
        r,
        Err(CaseError::InvalidText {
            field: "summary",
            ..
        })
    ));
    let r = given(vec![filed()])
        .when_async(share(
            ShareDirection::UnitToTaskForce {
                from_unit: ori(HARTFORD),
            },
            "line\nbreak",
        ))
        .await
        .inspect_result();
    assert!(matches!(
        r,
        Err(CaseError::InvalidText {
            field: "summary",
            ..
        })
    ));
}

// ---- assignment ----

fn assign(name: &str) -> CaseCommand {
    CaseCommand::AssignInvestigator(AssignInvestigator {
        investigator: Investigator {
            name: name.into(),
            badge: None,
            agency: ori(TASK_FORCE),
        },
        role: InvestigatorRole::Lead,
        recorded_at: now(),
    })
}

#[tokio::test]
async fn investigator_assignment() {
    given(vec![filed()])
        .when_async(assign("Tpr. B. Chen"))
        .await
        .then_expect_events(vec![CaseEvent::InvestigatorAssigned {
            investigator: Investigator {
                name: "Tpr. B. Chen".into(),
                badge: None,
                agency: ori(TASK_FORCE),
            },
            role: InvestigatorRole::Lead,
            recorded_at: now(),
        }]);
    let assigned = CaseEvent::InvestigatorAssigned {
        investigator: Investigator {
            name: "Tpr. B. Chen".into(),
            badge: None,
            agency: ori(TASK_FORCE),
        },
        role: InvestigatorRole::Lead,
        recorded_at: now(),
    };
    given(vec![filed(), assigned])
        .when_async(assign("Tpr. B. Chen"))
        .await
        .then_expect_error(CaseError::AlreadyAssigned);
    given(vec![complaint()])
        .when_async(assign("Tpr. B. Chen"))
        .await
        .then_expect_error(CaseError::NotificationRequired);
    let closed = CaseEvent::StatusChanged {
        from: CaseStatus::Received,
        to: CaseStatus::Closed,
        disposition: Some(Disposition::Unfounded),
        note: None,
        recorded_at: now(),
    };
    given(vec![filed(), closed])
        .when_async(assign("Tpr. B. Chen"))
        .await
        .then_expect_error(CaseError::Closed);
    let r = given(vec![filed()])
        .when_async(assign(""))
        .await
        .inspect_result();
    assert!(matches!(
        r,
        Err(CaseError::InvalidText {
            field: "investigator.name",
            ..
        })
    ));
}

// ---- status ----

#[tokio::test]
async fn allowed_transition() {
    given(vec![filed()])
        .when_async(status(CaseStatus::Triaged, None, None))
        .await
        .then_expect_events(vec![moved(CaseStatus::Received, CaseStatus::Triaged)]);
}

#[tokio::test]
async fn disallowed_transition() {
    given(vec![filed()])
        .when_async(status(CaseStatus::Suspended, None, None))
        .await
        .then_expect_error(CaseError::TransitionNotAllowed {
            from: CaseStatus::Received,
            to: CaseStatus::Suspended,
        });
    given(vec![filed()])
        .when_async(status(CaseStatus::Received, None, None))
        .await
        .then_expect_error(CaseError::TransitionNotAllowed {
            from: CaseStatus::Received,
            to: CaseStatus::Received,
        });
}

#[tokio::test]
async fn status_needs_a_notification() {
    given(vec![complaint()])
        .when_async(status(CaseStatus::Triaged, None, None))
        .await
        .then_expect_error(CaseError::NotificationRequired);
    given(vec![])
        .when_async(status(CaseStatus::Triaged, None, None))
        .await
        .then_expect_error(CaseError::NotOpened);
}

#[tokio::test]
async fn closing_requires_a_fitting_disposition() {
    given(vec![filed()])
        .when_async(status(CaseStatus::Closed, None, None))
        .await
        .then_expect_error(CaseError::DispositionRequired);
    let triaged = moved(CaseStatus::Received, CaseStatus::Triaged);
    given(vec![filed()])
        .when_async(status(
            CaseStatus::Triaged,
            Some(Disposition::Unfounded),
            None,
        ))
        .await
        .then_expect_error(CaseError::DispositionNotAllowed);
    given(vec![filed(), triaged.clone()])
        .when_async(status(CaseStatus::Closed, Some(Disposition::Arrest), None))
        .await
        .then_expect_error(CaseError::DispositionNeedsArrest);
    given(vec![filed(), triaged.clone()])
        .when_async(status(
            CaseStatus::Closed,
            Some(Disposition::ReferredToFederalProsecutors),
            None,
        ))
        .await
        .then_expect_error(CaseError::DispositionNeedsReferral {
            disposition: Disposition::ReferredToFederalProsecutors,
            target: ReferralTarget::FederalProsecutors,
        });
    given(vec![
        filed(),
        triaged.clone(),
        referral(ReferralTarget::FederalAgency),
    ])
    .when_async(status(
        CaseStatus::Closed,
        Some(Disposition::ReferredOutOfState),
        None,
    ))
    .await
    .then_expect_error(CaseError::DispositionNeedsReferral {
        disposition: Disposition::ReferredOutOfState,
        target: ReferralTarget::OutOfStateAgency,
    });
    given(vec![filed(), triaged.clone(), arrested()])
        .when_async(status(CaseStatus::Closed, Some(Disposition::Arrest), None))
        .await
        .then_expect_events(vec![CaseEvent::StatusChanged {
            from: CaseStatus::Triaged,
            to: CaseStatus::Closed,
            disposition: Some(Disposition::Arrest),
            note: None,
            recorded_at: now(),
        }]);
    given(vec![
        filed(),
        triaged,
        referral(ReferralTarget::FederalProsecutors),
    ])
    .when_async(status(
        CaseStatus::Closed,
        Some(Disposition::ReferredToFederalProsecutors),
        None,
    ))
    .await
    .inspect_result()
    .unwrap();
}

#[tokio::test]
async fn referred_status_needs_an_open_referral() {
    let triaged = moved(CaseStatus::Received, CaseStatus::Triaged);
    given(vec![filed(), triaged.clone()])
        .when_async(status(CaseStatus::Referred, None, None))
        .await
        .then_expect_error(CaseError::ReferralRequired);
    given(vec![
        filed(),
        triaged,
        referral(ReferralTarget::FederalProsecutors),
    ])
    .when_async(status(CaseStatus::Referred, None, None))
    .await
    .then_expect_events(vec![moved(CaseStatus::Triaged, CaseStatus::Referred)]);
}

#[tokio::test]
async fn reopening_needs_a_note() {
    let closed = CaseEvent::StatusChanged {
        from: CaseStatus::Received,
        to: CaseStatus::Closed,
        disposition: Some(Disposition::Unfounded),
        note: None,
        recorded_at: now(),
    };
    given(vec![filed(), closed.clone()])
        .when_async(status(CaseStatus::Investigating, None, None))
        .await
        .then_expect_error(CaseError::ReopenNeedsNote);
    given(vec![filed(), closed])
        .when_async(status(
            CaseStatus::Investigating,
            None,
            Some("New provider return"),
        ))
        .await
        .then_expect_events(vec![CaseEvent::StatusChanged {
            from: CaseStatus::Closed,
            to: CaseStatus::Investigating,
            disposition: None,
            note: Some("New provider return".into()),
            recorded_at: now(),
        }]);
}

// ---- arrests and charges ----

#[tokio::test]
async fn arrest_is_recorded_with_catalog_charges() {
    given(vec![filed()])
        .when_async(arrest_cmd(date(2024, 9, 5), vec![charge("53a-196d", 1)]))
        .await
        .then_expect_events(vec![arrested()]);
}

#[tokio::test]
async fn arrest_rules() {
    let s = |code: &str| StatuteCode::parse(code).unwrap();
    given(vec![filed()])
        .when_async(arrest_cmd(date(2024, 9, 5), vec![charge("53a-999", 1)]))
        .await
        .then_expect_error(CaseError::UnknownStatute(s("53a-999")));
    given(vec![filed()])
        .when_async(arrest_cmd(date(2024, 9, 5), vec![]))
        .await
        .then_expect_error(CaseError::Empty { what: "charges" });
    given(vec![filed()])
        .when_async(arrest_cmd(date(2024, 9, 5), vec![charge("53-21", 0)]))
        .await
        .then_expect_error(CaseError::InvalidCounts(s("53-21")));
    given(vec![filed()])
        .when_async(arrest_cmd(
            date(2024, 9, 5),
            vec![charge("53-21", 1), charge("53-21", 2)],
        ))
        .await
        .then_expect_error(CaseError::DuplicateStatute(s("53-21")));
    given(vec![filed()])
        .when_async(arrest_cmd(date(2024, 9, 11), vec![charge("53-21", 1)]))
        .await
        .then_expect_error(CaseError::DateInFuture {
            field: "arrested_on",
            date: date(2024, 9, 11),
            today: date(2024, 9, 10),
        });
    given(vec![filed()])
        .when_async(arrest_cmd(date(2024, 8, 31), vec![charge("53-21", 1)]))
        .await
        .then_expect_error(CaseError::DateTooEarly {
            field: "arrested_on",
            date: date(2024, 8, 31),
            earliest: date(2024, 9, 1),
        });
    given(vec![complaint()])
        .when_async(arrest_cmd(date(2024, 9, 5), vec![charge("53-21", 1)]))
        .await
        .then_expect_error(CaseError::NotificationRequired);
}

// ---- referrals ----

#[tokio::test]
async fn referral_recorded_and_decided() {
    let cmd = CaseCommand::RecordReferral(RecordReferral {
        target: ReferralTarget::FederalProsecutors,
        agency_name: "U.S. Attorney's Office, District of Connecticut".into(),
        referred_on: date(2024, 9, 6),
        recorded_at: now(),
    });
    given(vec![filed()])
        .when_async(cmd)
        .await
        .then_expect_events(vec![referral(ReferralTarget::FederalProsecutors)]);
    let decide = |n: u32, on| {
        CaseCommand::DecideReferral(DecideReferral {
            referral_number: n,
            decision: ReferralDecision::Declined,
            decided_on: on,
            note: None,
            recorded_at: now(),
        })
    };
    given(vec![filed(), referral(ReferralTarget::FederalProsecutors)])
        .when_async(decide(1, date(2024, 9, 9)))
        .await
        .then_expect_events(vec![CaseEvent::ReferralDecided {
            referral_number: 1,
            decision: ReferralDecision::Declined,
            decided_on: date(2024, 9, 9),
            note: None,
            recorded_at: now(),
        }]);
    given(vec![filed()])
        .when_async(decide(1, date(2024, 9, 9)))
        .await
        .then_expect_error(CaseError::UnknownReferral(1));
    let decided = CaseEvent::ReferralDecided {
        referral_number: 1,
        decision: ReferralDecision::Accepted,
        decided_on: date(2024, 9, 9),
        note: None,
        recorded_at: now(),
    };
    given(vec![
        filed(),
        referral(ReferralTarget::FederalProsecutors),
        decided,
    ])
    .when_async(decide(1, date(2024, 9, 9)))
    .await
    .then_expect_error(CaseError::ReferralAlreadyDecided(1));
    given(vec![filed(), referral(ReferralTarget::FederalProsecutors)])
        .when_async(decide(1, date(2024, 9, 5)))
        .await
        .then_expect_error(CaseError::DecisionBeforeReferral {
            decided_on: date(2024, 9, 5),
            referred_on: date(2024, 9, 6),
        });
}

// ---- operations, urgency ----

#[tokio::test]
async fn link_to_operation_once() {
    let op = OperationId::parse("OP-2024-03").unwrap();
    let cmd = CaseCommand::LinkOperation(LinkOperation {
        operation_id: op.clone(),
        recorded_at: now(),
    });
    let linked = CaseEvent::LinkedToOperation {
        operation_id: op,
        recorded_at: now(),
    };
    given(vec![filed()])
        .when_async(cmd.clone())
        .await
        .then_expect_events(vec![linked.clone()]);
    given(vec![filed(), linked])
        .when_async(cmd)
        .await
        .then_expect_error(CaseError::AlreadyLinkedToOperation);
}

#[tokio::test]
async fn urgent_flag() {
    let cmd = CaseCommand::SetUrgent(SetUrgent {
        reason: UrgencyReason::ChildInImminentDanger,
        recorded_at: now(),
    });
    let set = CaseEvent::UrgentFlagSet {
        reason: UrgencyReason::ChildInImminentDanger,
        recorded_at: now(),
    };
    given(vec![complaint()])
        .when_async(cmd.clone())
        .await
        .then_expect_events(vec![set.clone()]);
    given(vec![filed(), set])
        .when_async(cmd.clone())
        .await
        .then_expect_error(CaseError::AlreadyUrgent);
    given(vec![])
        .when_async(cmd)
        .await
        .then_expect_error(CaseError::NotOpened);
}

// ---- corrections ----

fn correction_world(event_type: &str, aggregate_id: &str) -> World {
    let w = World::new();
    w.ledger.insert(
        LedgerPosition::new(41),
        LedgerEventRef {
            aggregate_type: "case".into(),
            aggregate_id: aggregate_id.into(),
            event_type: event_type.into(),
        },
    );
    w
}

fn correct(changes: Vec<CorrectedValue>) -> CaseCommand {
    CaseCommand::RecordCorrection(RecordCorrection {
        corrects: LedgerPosition::new(41),
        changes,
        reason: "Typo in the original filing".into(),
        recorded_at: now(),
    })
}

#[tokio::test]
async fn correction_is_recorded_and_applied() {
    let change = CorrectedValue::VictimAgeBand {
        age_band: AgeBand::Age13To15,
    };
    let w = correction_world("NotificationFiled", hartford_case().as_str());
    let events = F::with(w.services())
        .given(vec![filed()])
        .when_async(correct(vec![change.clone()]))
        .await
        .inspect_result()
        .unwrap();
    assert_eq!(
        events,
        vec![CaseEvent::CorrectionRecorded {
            corrects: LedgerPosition::new(41),
            changes: vec![change],
            reason: "Typo in the original filing".into(),
            recorded_at: now(),
        }]
    );
    let mut case = Case::default();
    for e in [filed()].into_iter().chain(events) {
        cqrs_es::Aggregate::apply(&mut case, e);
    }
    assert_eq!(
        case.notification.unwrap().victims[0].age_band,
        AgeBand::Age13To15
    );
    assert_eq!(case.corrections, 1);
}

#[tokio::test]
async fn received_date_correction_moves_the_clock() {
    let w = correction_world("ComplaintLogged", hartford_case().as_str());
    let change = CorrectedValue::ReceivedOn {
        date: date(2024, 8, 30),
        time: None,
    };
    let events = F::with(w.services())
        .given(vec![complaint()])
        .when_async(correct(vec![change]))
        .await
        .inspect_result()
        .unwrap();
    let mut case = Case::default();
    for e in [complaint()].into_iter().chain(events) {
        cqrs_es::Aggregate::apply(&mut case, e);
    }
    let c = assess(
        &case.notification_clock().unwrap(),
        date(2024, 9, 14),
        &DeadlinePolicy::default(),
    )
    .unwrap();
    assert_eq!(c.due_on, date(2024, 9, 13));
    assert_eq!(c.status, ComplianceStatus::Overdue { days: 1 });
    assert!(c.incomplete_form);
}

#[tokio::test]
async fn correction_rules() {
    let change = CorrectedValue::VictimAgeBand {
        age_band: AgeBand::Age13To15,
    };
    // Unknown position.
    F::with(services())
        .given(vec![filed()])
        .when_async(correct(vec![change.clone()]))
        .await
        .then_expect_error(CaseError::UnknownPosition(LedgerPosition::new(41)));
    // Position of another case.
    let w = correction_world("NotificationFiled", "CT0009300:NH-1");
    F::with(w.services())
        .given(vec![filed()])
        .when_async(correct(vec![change.clone()]))
        .await
        .then_expect_error(CaseError::PositionNotInCase(LedgerPosition::new(41)));
    // Field not carried by that event type.
    let w = correction_world("ComplaintLogged", hartford_case().as_str());
    F::with(w.services())
        .given(vec![complaint(), filed()])
        .when_async(correct(vec![change]))
        .await
        .then_expect_error(CaseError::CorrectionDoesNotApply {
            field: "victim_age_band",
            event_type: "ComplaintLogged".into(),
        });
    // Same value as now.
    let w = correction_world("NotificationFiled", hartford_case().as_str());
    F::with(w.services())
        .given(vec![filed()])
        .when_async(correct(vec![CorrectedValue::VictimAgeBand {
            age_band: AgeBand::Unknown,
        }]))
        .await
        .then_expect_error(CaseError::NothingToCorrect("victim_age_band"));
    // No changes.
    let w = correction_world("NotificationFiled", hartford_case().as_str());
    F::with(w.services())
        .given(vec![filed()])
        .when_async(correct(vec![]))
        .await
        .then_expect_error(CaseError::Empty { what: "changes" });
    // Unknown arrest.
    let w = correction_world("ArrestRecorded", hartford_case().as_str());
    F::with(w.services())
        .given(vec![filed()])
        .when_async(correct(vec![CorrectedValue::ArrestDate {
            arrest_number: 3,
            arrested_on: date(2024, 9, 4),
        }]))
        .await
        .then_expect_error(CaseError::UnknownArrest(3));
    // Statute outside the catalog.
    let w = correction_world("NotificationFiled", hartford_case().as_str());
    F::with(w.services())
        .given(vec![filed()])
        .when_async(correct(vec![CorrectedValue::SuspectedStatutes {
            statutes: vec![StatuteCode::parse("1-1").unwrap()],
        }]))
        .await
        .then_expect_error(CaseError::UnknownStatute(
            StatuteCode::parse("1-1").unwrap(),
        ));
}

#[test]
fn arrest_date_correction_applies() {
    let w = correction_world("ArrestRecorded", hartford_case().as_str());
    let mut case = Case::default();
    for e in [filed(), arrested()] {
        cqrs_es::Aggregate::apply(&mut case, e);
    }
    let events = case
        .decide(
            correct(vec![CorrectedValue::ArrestDate {
                arrest_number: 1,
                arrested_on: date(2024, 9, 4),
            }]),
            &w.services(),
        )
        .unwrap();
    for e in events {
        cqrs_es::Aggregate::apply(&mut case, e);
    }
    assert_eq!(case.arrests[0].arrested_on, date(2024, 9, 4));
}

#[test]
fn errors_name_no_child() {
    // The error text for a form problem carries pointers and rule text only.
    let e = err(
        vec![],
        CaseCommand::FileNotification(FileNotification {
            case_id: hartford_case(),
            form: {
                let mut f = form();
                f.urgent = true;
                f.reporting_unit = ori("CT9999999");
                f
            },
            recorded_at: now(),
        }),
    );
    assert!(e
        .to_string()
        .starts_with("the notification form has 1 problem(s): /reporting_unit:"));
}

#[test]
fn clock_of_a_notified_case() {
    let mut case = Case::default();
    for e in [complaint(), filed()] {
        cqrs_es::Aggregate::apply(&mut case, e);
    }
    let c = assess(
        &case.notification_clock().unwrap(),
        date(2024, 12, 1),
        &DeadlinePolicy::default(),
    )
    .unwrap();
    assert_eq!(c.status, ComplianceStatus::OnTime);
    assert!(!c.incomplete_form);
}

#[test]
fn event_json_follows_the_ledger_rules() {
    use cqrs_es::DomainEvent;
    let e = filed();
    assert_eq!(e.event_type(), "NotificationFiled");
    assert_eq!(e.event_version(), "1");
    let v = serde_json::to_value(&e).unwrap();
    let inner = &v["NotificationFiled"];
    assert_eq!(inner["recorded_at"], "2024-09-10T14:00:00Z");
    assert_eq!(inner["form"]["received"]["date"], "2024-09-01");
    assert_eq!(inner["form"]["source"]["cybertip_number"], TIP);
    fn no_floats(v: &serde_json::Value) {
        match v {
            serde_json::Value::Number(n) => {
                assert!(n.is_u64() || n.is_i64(), "float in payload: {n}");
                assert!(n.as_u64().is_none_or(|x| x < (1u64 << 53)));
            }
            serde_json::Value::Array(a) => a.iter().for_each(no_floats),
            serde_json::Value::Object(o) => o.values().for_each(no_floats),
            _ => {}
        }
    }
    no_floats(&v);
    let town = icac_aggregates::form::v1::RestrictedTown("Hartford".into());
    assert_eq!(format!("{town:?}"), "RestrictedTown(<restricted>)");
}

// ---- lawful erasure ----

fn commitment(byte: u8) -> icac_aggregates::sealed::Commitment {
    icac_aggregates::sealed::Commitment([byte; 32])
}

fn erase(values: &[u8], reason: &str) -> CaseCommand {
    CaseCommand::ErasePersonalData(ErasePersonalData {
        values: values
            .iter()
            .map(|b| ErasedValue {
                position: LedgerPosition::new(2),
                path: format!("/NotificationFiled/form/officer/x{b}"),
                commitment: commitment(*b),
            })
            .collect(),
        reason: reason.to_string(),
        recorded_at: now(),
    })
}

fn erased(values: &[u8], reason: &str) -> CaseEvent {
    let CaseCommand::ErasePersonalData(c) = erase(values, reason) else {
        unreachable!()
    };
    CaseEvent::PersonalDataErased {
        erased: c.values,
        reason: c.reason,
        recorded_at: c.recorded_at,
    }
}

const REASON: &str = "C.G.S. 54-142a(a): charge dismissed";

#[test]
fn erasure_records_what_was_erased_and_why() {
    given(vec![filed()])
        .when(erase(&[1, 2], REASON))
        .then_expect_events(vec![erased(&[1, 2], REASON)]);
}

#[test]
fn erasure_is_refused_without_a_case_a_reason_or_anything_left() {
    F::with(services())
        .given_no_previous_events()
        .when(erase(&[1], REASON))
        .then_expect_error(CaseError::NotOpened);
    given(vec![filed()])
        .when(erase(&[1], "  "))
        .then_expect_error_message("reason must not be empty");
    given(vec![filed()])
        .when(erase(&[], REASON))
        .then_expect_error(CaseError::NothingToErase);
    given(vec![filed()])
        .when(erase(&[3, 3], REASON))
        .then_expect_error(CaseError::AlreadyErased(commitment(3)));
}

#[test]
fn erasing_twice_is_refused() {
    given(vec![filed(), erased(&[1, 2], REASON)])
        .when(erase(&[2], REASON))
        .then_expect_error(CaseError::AlreadyErased(commitment(2)));
    // A case whose values are all erased stays a case: other work goes on.
    given(vec![filed(), erased(&[1, 2], REASON)])
        .when(status(CaseStatus::Triaged, None, None))
        .then_expect_events(vec![CaseEvent::StatusChanged {
            from: CaseStatus::Received,
            to: CaseStatus::Triaged,
            disposition: None,
            note: None,
            recorded_at: now(),
        }]);
}
