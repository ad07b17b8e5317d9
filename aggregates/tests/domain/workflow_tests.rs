//! Issue 17 in the domain: form version 2 (victims, an explicit fall-back offset),
//! version 1 still accepted and upcast; children identified later; prosecution
//! outcomes and the nolle's erasure clock; one set of time rules for every clock.

use cqrs_es::Aggregate;
use icac_aggregates::case::*;
use icac_aggregates::form::v1::{AgeBand, FormVersion, Source};
use icac_aggregates::form::{parse_and_validate, FieldError};
use icac_aggregates::local_time::CtOffset;
use jiff::civil::{date, time};
use serde_json::{json, Value};

use crate::fixtures::*;

fn v2(edit: impl FnOnce(&mut Value)) -> Value {
    let mut f = form_json();
    f["form_version"] = json!("2");
    let m = f.as_object_mut().unwrap();
    m.remove("victim");
    m.insert(
        "victims".into(),
        json!([
            { "identified": true, "age_band": "age_13_to_15", "identified_on": "2024-09-02" },
            { "identified": false, "age_band": "unknown" }
        ]),
    );
    edit(&mut f);
    f
}

fn parse_at(
    raw: &Value,
    at: &str,
) -> Result<icac_aggregates::form::NotificationForm, Vec<FieldError>> {
    with_ctx(ts(at), |ctx| parse_and_validate(raw, ctx))
}

fn pointers(r: Result<icac_aggregates::form::NotificationForm, Vec<FieldError>>) -> Vec<String> {
    r.unwrap_err().into_iter().map(|e| e.pointer).collect()
}

#[test]
fn version_2_lists_victims_and_version_1_is_upcast() {
    let f = parse_at(&v2(|_| {}), "2024-09-10T14:00:00Z").unwrap();
    assert_eq!(f.form_version, FormVersion::V2);
    assert_eq!(f.victims.len(), 2);
    assert_eq!(f.victims[0].identified_on, Some(date(2024, 9, 2)));
    // No victims at all is a valid version 2 form.
    let none = parse_at(&v2(|f| f["victims"] = json!([])), "2024-09-10T14:00:00Z").unwrap();
    assert!(none.victims.is_empty() && none.victim.is_none());
    // Version 1 comes out as version 2 with one victim, and the upcast form passes the
    // rules again (the case aggregate re-validates what it records), identified or not.
    let mut identified = form_json();
    identified["victim"] = json!({ "identified": true, "age_band": "age_13_to_15" });
    let up = parse_at(&identified, "2024-09-10T14:00:00Z").unwrap();
    with_ctx(ts("2024-09-10T14:00:00Z"), |ctx| {
        icac_aggregates::form::validate(&up, ctx)
    })
    .unwrap();
    let old = parse_at(&form_json(), "2024-09-10T14:00:00Z").unwrap();
    assert_eq!(old.form_version, FormVersion::V2);
    assert_eq!(old.victims.len(), 1);
    assert!(old.victim.is_none());
}

#[test]
fn version_2_victim_rules_are_pointed() {
    let at = "2024-09-10T14:00:00Z";
    let p = pointers(parse_at(
        &v2(|f| {
            f["victims"][0]
                .as_object_mut()
                .unwrap()
                .remove("identified_on");
            f["victims"][1]["identified_on"] = json!("2024-09-03");
            f["victims"].as_array_mut().unwrap().push(json!({ "identified": true, "age_band": "age_18_plus", "identified_on": "2024-09-11" }));
            f["victim"] = json!({ "identified": false, "age_band": "unknown" });
        }),
        at,
    ));
    assert_eq!(
        p,
        vec![
            "/victim",
            "/victims/1/identified_on",
            "/victims/2/age_band",
            "/victims/2/identified_on",
        ]
    );
    // A version 1 form cannot use version 2 fields.
    let mut f = form_json();
    f["victims"] = json!([]);
    f["received"]["utc_offset"] = json!("-04:00");
    assert_eq!(
        pointers(parse_at(&f, at)),
        vec!["/received/utc_offset", "/victims"]
    );
}

#[test]
fn received_times_follow_one_set_of_rules() {
    let on = |d: &str, t: &str| {
        v2(|f| {
            f["received"] = json!({ "date": d, "time": t });
            f["incident"].as_object_mut().unwrap().remove("date_from");
            f["incident"].as_object_mut().unwrap().remove("date_to");
            f["victims"] = json!([]);
        })
    };
    let late = "2026-11-20T15:00:00Z";
    for bad in ["23:59:60", "00:10+00:00", "00:10Z", "2026-03-01T00:10"] {
        let e = parse_at(&on("2026-03-01", bad), late).unwrap_err();
        assert_eq!(e[0].pointer, "/received/time", "{bad}");
    }
    let e = parse_at(&on("2026-03-08", "02:30"), late).unwrap_err();
    assert!(e[0].message.contains("did not exist"), "{}", e[0].message);
    let e = parse_at(&on("2026-11-01", "01:45"), late).unwrap_err();
    assert!(e[0].message.contains("happened twice"), "{}", e[0].message);
    // With the offset it is explicit; a wrong offset is pointed at.
    let mut edt = on("2026-11-01", "01:45");
    edt["received"]["utc_offset"] = json!("-04:00");
    // Filed at 01:10 EST, after 01:45 EDT: the instants decide, not the wall clocks.
    let f = parse_at(&edt, "2026-11-01T06:10:00Z").unwrap();
    assert_eq!(f.received.utc_offset, Some(CtOffset::Edt));
    let mut est = on("2026-11-01", "01:45");
    est["received"]["utc_offset"] = json!("-05:00");
    let e = parse_at(&est, "2026-11-01T06:10:00Z").unwrap_err();
    assert_eq!(e[0].pointer, "/received/time");
    let mut wrong = on("2026-07-01", "12:00");
    wrong["received"]["utc_offset"] = json!("-05:00");
    assert_eq!(
        pointers(parse_at(&wrong, late)),
        vec!["/received/utc_offset"]
    );
    wrong["received"]["utc_offset"] = json!("+00:00");
    assert_eq!(
        pointers(parse_at(&wrong, late)),
        vec!["/received/utc_offset"]
    );
}

fn complaint_at(
    date_: jiff::civil::Date,
    t: jiff::civil::Time,
    offset: Option<CtOffset>,
    at: &str,
) -> CaseCommand {
    CaseCommand::LogComplaint(LogComplaint {
        case_id: hartford_case(),
        reporting_unit: ori(HARTFORD),
        unit_case_number: None,
        received_on: date_,
        received_time: Some(t),
        received_offset: offset,
        source: Source::Parent,
        recorded_at: ts(at),
    })
}

#[test]
fn a_complaint_takes_the_same_time_rules() {
    let case = Case::default();
    let s = services();
    let gap = case.decide(
        complaint_at(
            date(2026, 3, 8),
            time(2, 30, 0, 0),
            None,
            "2026-03-09T12:00:00Z",
        ),
        &s,
    );
    assert!(
        matches!(
            gap,
            Err(CaseError::InvalidReceivedTime {
                field: "received_time",
                ..
            })
        ),
        "{gap:?}"
    );
    let fold = case.decide(
        complaint_at(
            date(2026, 11, 1),
            time(1, 45, 0, 0),
            None,
            "2026-11-01T06:10:00Z",
        ),
        &s,
    );
    assert!(
        matches!(fold, Err(CaseError::InvalidReceivedTime { .. })),
        "{fold:?}"
    );
    let edt = case
        .decide(
            complaint_at(
                date(2026, 11, 1),
                time(1, 45, 0, 0),
                Some(CtOffset::Edt),
                "2026-11-01T06:10:00Z",
            ),
            &s,
        )
        .unwrap();
    assert!(matches!(
        &edt[0],
        CaseEvent::ComplaintLogged {
            received_offset: Some(CtOffset::Edt),
            ..
        }
    ));
    let est = case.decide(
        complaint_at(
            date(2026, 11, 1),
            time(1, 45, 0, 0),
            Some(CtOffset::Est),
            "2026-11-01T06:10:00Z",
        ),
        &s,
    );
    assert!(
        matches!(
            est,
            Err(CaseError::DateInFuture {
                field: "received_time",
                ..
            })
        ),
        "{est:?}"
    );
    let wrong = case.decide(
        complaint_at(
            date(2026, 7, 1),
            time(12, 0, 0, 0),
            Some(CtOffset::Est),
            "2026-07-02T12:00:00Z",
        ),
        &s,
    );
    assert!(
        matches!(
            wrong,
            Err(CaseError::InvalidReceivedTime {
                field: "received_offset",
                ..
            })
        ),
        "{wrong:?}"
    );
}

fn state(events: Vec<CaseEvent>) -> Case {
    let mut c = Case::default();
    for e in events {
        c.apply(e);
    }
    c
}

fn arrest() -> CaseEvent {
    CaseEvent::ArrestRecorded {
        arrest_number: 1,
        arrested_on: date(2024, 9, 5),
        arresting_unit: ori(HARTFORD),
        charges: vec![Charge {
            statute: icac_aggregates::ids::StatuteCode::parse("53a-196d").unwrap(),
            counts: 1,
        }],
        recorded_at: now(),
    }
}

#[test]
fn a_child_identified_later_is_an_event_and_only_once() {
    let s = services();
    let case = state(vec![filed()]);
    // The version 1 form's one child is victim 1, not identified.
    assert_eq!(case.victims.len(), 1);
    let later = ts("2024-10-01T14:00:00Z");
    let ev = case
        .decide(
            CaseCommand::IdentifyVictim(IdentifyVictim {
                victim_number: 1,
                identified_on: date(2024, 9, 30),
                recorded_at: later,
            }),
            &s,
        )
        .unwrap();
    let case2 = state(vec![filed(), ev[0].clone()]);
    assert_eq!(case2.victims[0].identified_on, Some(date(2024, 9, 30)));
    let twice = case2.decide(
        CaseCommand::IdentifyVictim(IdentifyVictim {
            victim_number: 1,
            identified_on: date(2024, 9, 30),
            recorded_at: later,
        }),
        &s,
    );
    assert_eq!(twice, Err(CaseError::VictimAlreadyIdentified(1)));
    let unknown = case2.decide(
        CaseCommand::IdentifyVictim(IdentifyVictim {
            victim_number: 9,
            identified_on: date(2024, 9, 30),
            recorded_at: later,
        }),
        &s,
    );
    assert_eq!(unknown, Err(CaseError::UnknownVictim(9)));
    let added = case2
        .decide(
            CaseCommand::AddVictim(AddVictim {
                age_band: AgeBand::Age0To12,
                identified_on: None,
                recorded_at: later,
            }),
            &s,
        )
        .unwrap();
    assert!(matches!(
        added[0],
        CaseEvent::VictimAdded {
            victim_number: 2,
            ..
        }
    ));
    let future = case2.decide(
        CaseCommand::AddVictim(AddVictim {
            age_band: AgeBand::Age0To12,
            identified_on: Some(date(2024, 10, 2)),
            recorded_at: later,
        }),
        &s,
    );
    assert!(
        matches!(
            future,
            Err(CaseError::DateInFuture {
                field: "identified_on",
                ..
            })
        ),
        "{future:?}"
    );
}

#[test]
fn prosecution_outcomes_follow_their_arrest() {
    let s = services();
    let case = state(vec![filed(), arrest()]);
    let at = ts("2024-12-01T14:00:00Z");
    let cmd = |outcome, d| {
        CaseCommand::RecordProsecutionOutcome(RecordProsecutionOutcome {
            arrest_number: 1,
            outcome,
            decided_on: d,
            recorded_at: at,
        })
    };
    assert_eq!(
        case.decide(cmd(ProsecutionOutcome::ChargesFiled, date(2024, 9, 4)), &s),
        Err(CaseError::OutcomeBeforeArrest {
            decided_on: date(2024, 9, 4),
            arrested_on: date(2024, 9, 5)
        })
    );
    let none = case.decide(
        CaseCommand::RecordProsecutionOutcome(RecordProsecutionOutcome {
            arrest_number: 2,
            outcome: ProsecutionOutcome::Nolle,
            decided_on: date(2024, 10, 1),
            recorded_at: at,
        }),
        &s,
    );
    assert_eq!(none, Err(CaseError::UnknownArrest(2)));
    let filed_ev = case
        .decide(cmd(ProsecutionOutcome::ChargesFiled, date(2024, 9, 6)), &s)
        .unwrap();
    let case = state(vec![filed(), arrest(), filed_ev[0].clone()]);
    let nolle = case
        .decide(cmd(ProsecutionOutcome::Nolle, date(2024, 11, 15)), &s)
        .unwrap();
    let case = state(vec![
        filed(),
        arrest(),
        filed_ev[0].clone(),
        nolle[0].clone(),
    ]);
    assert_eq!(
        case.decide(cmd(ProsecutionOutcome::Convicted, date(2024, 11, 20)), &s),
        Err(CaseError::ProsecutionConcluded(1))
    );
    assert_eq!(
        prosecution::erasure_due_on(date(2024, 11, 15)),
        Some(date(2025, 12, 15))
    );
}
