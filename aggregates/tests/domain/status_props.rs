//! Property: whatever commands arrive, in whatever order, a case only ever
//! moves along the transition table, and "closed" always comes with a
//! disposition.

use cqrs_es::Aggregate;
use icac_aggregates::case::status::{is_allowed, CaseStatus, Disposition};
use icac_aggregates::case::*;
use icac_aggregates::ids::StatuteCode;
use jiff::civil::date;
use proptest::prelude::*;

use crate::fixtures::*;

fn any_status() -> impl Strategy<Value = CaseStatus> {
    proptest::sample::select(CaseStatus::ALL.to_vec())
}

fn any_disposition() -> impl Strategy<Value = Option<Disposition>> {
    proptest::option::of(proptest::sample::select(Disposition::ALL.to_vec()))
}

fn any_command() -> impl Strategy<Value = CaseCommand> {
    prop_oneof![
        6 => (any_status(), any_disposition(), proptest::option::of(Just("because".to_string()))).prop_map(|(to, disposition, note)| {
            CaseCommand::ChangeStatus(ChangeStatus { to, disposition, note, recorded_at: now() })
        }),
        1 => Just(CaseCommand::RecordArrest(RecordArrest {
            arrested_on: date(2024, 9, 5),
            arresting_unit: ori(HARTFORD),
            charges: vec![Charge { statute: StatuteCode::parse("53a-90a").unwrap(), counts: 1 }],
            recorded_at: now(),
        })),
        1 => proptest::sample::select(vec![ReferralTarget::FederalProsecutors, ReferralTarget::OutOfStateAgency, ReferralTarget::FederalAgency])
            .prop_map(|target| CaseCommand::RecordReferral(RecordReferral {
                target,
                agency_name: "Agency".into(),
                referred_on: date(2024, 9, 6),
                recorded_at: now(),
            })),
        1 => (1u32..4, any::<bool>()).prop_map(|(n, accepted)| CaseCommand::DecideReferral(DecideReferral {
            referral_number: n,
            decision: if accepted { ReferralDecision::Accepted } else { ReferralDecision::Declined },
            decided_on: date(2024, 9, 8),
            note: None,
            recorded_at: now(),
        })),
        1 => Just(CaseCommand::MergeIntoCase(MergeIntoCase { primary_case_id: case_id("CT0009300:X"), recorded_at: now() })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn status_only_moves_along_the_table(start_with_complaint in any::<bool>(), file in any::<bool>(), commands in proptest::collection::vec(any_command(), 0..40)) {
        let services = services();
        let mut case = Case::default();
        if start_with_complaint {
            case.apply(CaseEvent::ComplaintLogged {
                case_id: hartford_case(),
                reporting_unit: ori(HARTFORD),
                unit_case_number: None,
                received_on: date(2024, 9, 1),
                received_time: None,
                received_offset: None,
                source: icac_aggregates::form::v1::Source::Parent,
                recorded_at: now(),
            });
        }
        if file {
            let mut f = form();
            f.source = icac_aggregates::form::v1::Source::Parent;
            case.apply(CaseEvent::NotificationFiled { case_id: hartford_case(), form: f, recorded_at: now() });
        }
        for command in commands {
            let before = case.status;
            if let Ok(events) = case.decide(command, &services) {
                for event in events {
                    if let CaseEvent::StatusChanged { from, to, .. } = &event {
                        prop_assert_eq!(Some(*from), before);
                        prop_assert!(is_allowed(*from, *to), "{:?} -> {:?}", from, to);
                    }
                    case.apply(event);
                }
            }
            prop_assert!(case.status.is_none() || CaseStatus::ALL.contains(&case.status.unwrap()));
            prop_assert_eq!(case.status == Some(CaseStatus::Closed), case.disposition.is_some());
            if case.notification.is_none() && case.merged_into.is_none() {
                prop_assert!(case.status.is_none());
            }
        }
    }
}

#[test]
fn every_status_can_reach_closed_and_closed_only_reopens() {
    use icac_aggregates::case::status::next_statuses;
    for s in CaseStatus::ALL {
        if s != CaseStatus::Closed {
            assert!(is_allowed(s, CaseStatus::Closed), "{s:?}");
        }
        assert!(!is_allowed(s, s));
    }
    assert_eq!(
        next_statuses(CaseStatus::Closed).collect::<Vec<_>>(),
        vec![CaseStatus::Investigating]
    );
}
