//! Upcasting: a hypothetical form version 2 replaces the three incident
//! booleans with a list of flags. Stored v1 `NotificationFiled` events must
//! load into the v2 shape without being rewritten.

use cqrs_es::persist::SerializedEvent;
use icac_aggregates::upcast::{map_variant, upcast, UpcastError, UpcastStep, Upcaster};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::fixtures::filed;

fn v1_to_v2(payload: Value) -> Result<Value, UpcastError> {
    map_variant(payload, "NotificationFiled", "1", |inner| {
        let form = inner
            .get_mut("form")
            .and_then(Value::as_object_mut)
            .ok_or("no form")?;
        form.insert("form_version".into(), json!("2"));
        let incident = form
            .get_mut("incident")
            .and_then(Value::as_object_mut)
            .ok_or("no incident")?;
        let mut flags = Vec::new();
        for name in ["sextortion", "ai_generated_material", "minor_to_minor"] {
            if incident
                .remove(name)
                .and_then(|v| v.as_bool())
                .ok_or(format!("no {name}"))?
            {
                flags.push(json!(name));
            }
        }
        incident.insert("flags".into(), Value::Array(flags));
        Ok(())
    })
}

fn step() -> UpcastStep {
    UpcastStep {
        aggregate_type: "case",
        event_type: "NotificationFiled",
        from_version: "1",
        to_version: "2",
        transform: v1_to_v2,
    }
}

#[derive(Debug, Deserialize)]
enum CaseEventV2 {
    NotificationFiled { form: FormV2 },
}

#[derive(Debug, Deserialize)]
struct FormV2 {
    form_version: String,
    incident: IncidentV2,
}

#[derive(Debug, Deserialize)]
struct IncidentV2 {
    flags: Vec<String>,
    #[serde(rename = "type")]
    incident_type: String,
}

fn v1_payload(sextortion: bool) -> Value {
    let mut v = serde_json::to_value(filed()).unwrap();
    v["NotificationFiled"]["form"]["incident"]["sextortion"] = json!(sextortion);
    v
}

#[test]
fn v2_code_loads_a_v1_event() {
    let upcaster = Upcaster::with_steps(vec![step()]);
    let (version, payload) = upcaster
        .upcast("case", "NotificationFiled", "1", v1_payload(true))
        .unwrap();
    assert_eq!(version, "2");
    let CaseEventV2::NotificationFiled { form } = serde_json::from_value(payload).unwrap();
    assert_eq!(form.form_version, "2");
    assert_eq!(form.incident.flags, vec!["sextortion"]);
    assert_eq!(form.incident.incident_type, "csam_distribution");
}

#[test]
fn other_events_and_current_versions_pass_through() {
    let upcaster = Upcaster::with_steps(vec![step()]);
    let v = json!({"StatusChanged": {"from": "received"}});
    assert_eq!(
        upcaster
            .upcast("case", "StatusChanged", "1", v.clone())
            .unwrap(),
        ("1".to_string(), v.clone())
    );
    let (version, _) = upcaster
        .upcast("case", "NotificationFiled", "2", v1_payload(false))
        .unwrap();
    assert_eq!(version, "2");
    // The production chain is empty today: everything is version 1.
    assert_eq!(
        upcast("case", "NotificationFiled", "1", v.clone()).unwrap(),
        ("1".to_string(), v)
    );
}

#[test]
fn malformed_old_payload_is_an_error_not_a_panic() {
    let upcaster = Upcaster::with_steps(vec![step()]);
    let err = upcaster
        .upcast(
            "case",
            "NotificationFiled",
            "1",
            json!({"NotificationFiled": {}}),
        )
        .unwrap_err();
    assert!(matches!(err, UpcastError::Shape { .. }));
}

#[test]
fn a_cycle_is_detected() {
    let back = UpcastStep {
        aggregate_type: "case",
        event_type: "NotificationFiled",
        from_version: "2",
        to_version: "1",
        transform: Ok,
    };
    let forward = UpcastStep {
        transform: Ok,
        ..step()
    };
    let err = Upcaster::with_steps(vec![forward, back])
        .upcast("case", "NotificationFiled", "1", json!({}))
        .unwrap_err();
    assert!(matches!(err, UpcastError::NoPath { .. }));
}

#[test]
fn works_as_a_cqrs_es_upcaster() {
    let upcasters = Upcaster::with_steps(vec![step()]).into_cqrs_upcasters();
    let stored = SerializedEvent::new(
        "CT0006400:24-00123".into(),
        1,
        "case".into(),
        "NotificationFiled".into(),
        "1".into(),
        v1_payload(false),
        json!({}),
    );
    let u = &upcasters[0];
    assert!(u.can_upcast("NotificationFiled", "1"));
    let out = u.upcast(stored);
    assert_eq!(out.event_version, "2");
    assert_eq!(
        out.payload["NotificationFiled"]["form"]["incident"]["flags"],
        json!([])
    );
}
