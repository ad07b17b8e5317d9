use icac_aggregates::form::{parse_and_validate, validate, FieldError};
use serde_json::{json, Value};

use crate::fixtures::*;

fn errors(raw: &Value) -> Vec<FieldError> {
    with_ctx(now(), |ctx| parse_and_validate(raw, ctx)).unwrap_err()
}

fn pointers(raw: &Value) -> Vec<String> {
    errors(raw).into_iter().map(|e| e.pointer).collect()
}

fn with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut f = form_json();
    edit(&mut f);
    f
}

#[test]
fn a_complete_form_is_accepted() {
    let form = with_ctx(now(), |ctx| parse_and_validate(&form_json(), ctx)).unwrap();
    // A version 1 form is accepted and comes out in the version 2 shape.
    let mut expected = crate::fixtures::form();
    icac_aggregates::upcast::form_v1_to_v2(&mut expected);
    assert_eq!(form, expected);
    with_ctx(now(), |ctx| validate(&form, ctx)).unwrap();
}

#[test]
fn unknown_and_inactive_units() {
    let e = errors(&with(|f| f["reporting_unit"] = json!("CT9999999")));
    assert_eq!(e[0].pointer, "/reporting_unit");
    assert!(e[0].message.contains("no law enforcement unit"));
    let e = errors(&with(|f| f["reporting_unit"] = json!(CLOSED_UNIT)));
    assert!(e[0].message.contains("deactivated"));
    assert_eq!(
        pointers(&with(|f| f["reporting_unit"] = json!("hartford"))),
        vec!["/reporting_unit"]
    );
}

#[test]
fn received_date_in_the_future() {
    assert_eq!(
        pointers(&with(|f| f["received"]["date"] = json!("2024-09-11"))),
        vec!["/received/date"]
    );
    // Today, but later than the filing time (10:00 EDT).
    let e = errors(&with(|f| {
        f["received"] = json!({ "date": "2024-09-10", "time": "11:00:00" });
    }));
    assert_eq!(e[0].pointer, "/received/time");
    // Earlier today is fine.
    with_ctx(now(), |ctx| {
        parse_and_validate(
            &with(|f| f["received"] = json!({ "date": "2024-09-10", "time": "09:59" })),
            ctx,
        )
    })
    .unwrap();
}

#[test]
fn received_date_is_a_connecticut_date() {
    // Filed at 2024-09-11 01:00Z = 21:00 EDT on the 10th: the 11th is still future.
    let late_evening = ts("2024-09-11T01:00:00Z");
    let raw = with(|f| f["received"] = json!({ "date": "2024-09-11" }));
    let e = with_ctx(late_evening, |ctx| parse_and_validate(&raw, ctx)).unwrap_err();
    assert_eq!(e[0].pointer, "/received/date");
}

#[test]
fn malformed_dates_and_times() {
    assert_eq!(
        pointers(&with(|f| {
            f["received"] = json!({ "date": "2024-02-30", "time": "25:00" });
        })),
        vec!["/received/date", "/received/time"]
    );
    assert_eq!(
        pointers(&with(|f| f["received"]["date"] = json!("09/01/2024"))),
        vec!["/received/date"]
    );
    assert_eq!(
        pointers(&with(|f| f["received"]["date"] = json!("1989-12-31"))),
        vec!["/received/date"]
    );
}

#[test]
fn incident_dates_after_received_or_out_of_order() {
    assert_eq!(
        pointers(&with(|f| {
            f["incident"]["date_from"] = json!("2024-09-02");
            f["incident"]["date_to"] = json!("2024-09-03");
        })),
        vec!["/incident/date_from", "/incident/date_to"]
    );
    assert_eq!(
        pointers(&with(|f| f["incident"]["date_to"] = json!("2024-08-01"))),
        vec!["/incident/date_to"]
    );
    assert_eq!(
        pointers(&with(|f| {
            f["incident"].as_object_mut().unwrap().remove("date_from");
        })),
        vec!["/incident/date_from"]
    );
}

#[test]
fn cybertip_number_rules() {
    let e = errors(&with(|f| f["source"] = json!({ "kind": "ncmec_cybertip" })));
    assert_eq!(e[0].pointer, "/source/cybertip_number");
    assert!(e[0]
        .message
        .contains("required when the source is an NCMEC CyberTip"));
    assert_eq!(
        pointers(&with(|f| f["source"]["cybertip_number"] = json!("12-34"))),
        vec!["/source/cybertip_number"]
    );
    let e = errors(&with(|f| f["source"]["cybertip_number"] = json!(1234)));
    assert!(e[0].message.contains("quotes"));
    assert_eq!(
        pointers(&with(|f| f["source"]["receipt_number"] = json!("X"))),
        vec!["/source/receipt_number"]
    );
    // Other sources need no number.
    with_ctx(now(), |ctx| {
        parse_and_validate(&with(|f| f["source"] = json!({ "kind": "parent" })), ctx)
    })
    .unwrap();
    assert_eq!(
        pointers(&with(|f| f["source"] = json!({ "kind": "carrier_pigeon" }))),
        vec!["/source/kind"]
    );
}

#[test]
fn statutes_from_the_catalog_only() {
    let e = errors(&with(|f| {
        f["suspected_statutes"] = json!(["53a-196d", "53-21", "53a-999", "53-21", "nonsense"]);
    }));
    let got: Vec<&str> = e.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(
        got,
        vec![
            "/suspected_statutes/2",
            "/suspected_statutes/3",
            "/suspected_statutes/4"
        ]
    );
    assert!(e[0].message.contains("not in the statute catalog"));
    assert!(e[1].message.contains("more than once"));
    let many: Vec<&str> = std::iter::repeat_n("53-21", 21).collect();
    assert_eq!(
        pointers(&with(|f| f["suspected_statutes"] = json!(many))),
        vec!["/suspected_statutes"]
    );
}

#[test]
fn attestation_is_required() {
    assert_eq!(
        pointers(&with(
            |f| f["attestation"]["statement_accepted"] = json!(false)
        )),
        vec!["/attestation/statement_accepted"]
    );
    assert_eq!(
        pointers(&with(|f| f["attestation"]["name"] = json!(""))),
        vec!["/attestation/name"]
    );
    assert_eq!(
        pointers(&with(|f| {
            f.as_object_mut().unwrap().remove("attestation");
        })),
        vec!["/attestation"]
    );
}

#[test]
fn hashes_must_be_well_formed() {
    let e = errors(&with(|f| {
        f["evidence"]["hashes"] = json!([
            { "algorithm": "sha256", "value": "abc" },
            { "algorithm": "md5", "value": "zz8f6bcd4621d373cade4e832627b4f6" },
            { "algorithm": "sha1", "value": "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3" },
            { "algorithm": "md5", "value": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }
        ]);
    }));
    let got: Vec<&str> = e.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(
        got,
        vec![
            "/evidence/hashes/0/value",
            "/evidence/hashes/1/value",
            "/evidence/hashes/2/algorithm",
            "/evidence/hashes/3/value"
        ]
    );
    assert!(e[0].message.contains("64 hexadecimal digits"));
    assert!(e[3].message.contains("32 hexadecimal digits"));
}

#[test]
fn evidence_counts() {
    assert_eq!(
        pointers(&with(|f| f["evidence"]["item_count"] = json!(-1))),
        vec!["/evidence/item_count"]
    );
    assert_eq!(
        pointers(&with(|f| f["evidence"]["item_count"] = json!(1.5))),
        vec!["/evidence/item_count"]
    );
    assert_eq!(
        pointers(&with(|f| f["evidence"]["item_count"] = json!(20_000_000))),
        vec!["/evidence/item_count"]
    );
    assert_eq!(
        pointers(&with(|f| f["evidence"]["item_count"] = json!(3))),
        vec!["/evidence/item_count"]
    );
}

#[test]
fn text_fields_are_required_and_bounded() {
    assert_eq!(
        pointers(&with(|f| f["officer"]["name"] = json!("   "))),
        vec!["/officer/name"]
    );
    assert_eq!(
        pointers(&with(|f| f["platform"] = json!("p".repeat(121)))),
        vec!["/platform"]
    );
    assert_eq!(
        pointers(&with(|f| f["unit_case_number"] = json!("x".repeat(41)))),
        vec!["/unit_case_number"]
    );
    assert_eq!(
        pointers(&with(|f| f["victim"]["town"] = json!("a\u{0007}b"))),
        vec!["/victim/town"]
    );
    let e = errors(&with(|f| f["platform"] = json!("p".repeat(121))));
    assert!(e[0].message.contains("at most 120 characters"));
}

#[test]
fn officer_needs_a_way_to_be_reached() {
    assert_eq!(
        pointers(&with(|f| {
            let o = f["officer"].as_object_mut().unwrap();
            o.remove("phone");
            o.remove("email");
        })),
        vec!["/officer"]
    );
    assert_eq!(
        pointers(&with(|f| f["officer"]["email"] = json!("not-an-email"))),
        vec!["/officer/email"]
    );
    assert_eq!(
        pointers(&with(|f| f["officer"]["phone"] = json!("call me"))),
        vec!["/officer/phone"]
    );
}

#[test]
fn subject_identifiers() {
    let e = errors(&with(|f| {
        f["subject_identifiers"] = json!([
            { "kind": "ip_event", "value": "999.1.1.1" },
            { "kind": "email_address", "value": "nobody" },
            { "kind": "fingerprint", "value": "x" },
            { "kind": "screen_name", "value": "ok", "observed_at": "2030-01-01T00:00:00Z" }
        ]);
    }));
    let got: Vec<&str> = e.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(
        got,
        vec![
            "/subject_identifiers/0/value",
            "/subject_identifiers/0/observed_at",
            "/subject_identifiers/1/value",
            "/subject_identifiers/2/kind",
            "/subject_identifiers/3/observed_at"
        ]
    );
}

#[test]
fn wrong_types_unknown_values_and_unknown_fields_become_pointed_errors() {
    let e = errors(&with(|f| {
        f["urgent"] = json!("yes");
        f["medium"] = json!("fax");
        f["victim"]["age_band"] = json!("teen");
        f["incident"]["type"] = json!("child_pornography");
        f["extra"] = json!(1);
        f["victim"]["name"] = json!("should never be here");
        f["assistance_requested"] = json!([]);
        f.as_object_mut().unwrap().remove("deconfliction_checked");
        f["form_version"] = json!("3");
    }));
    let mut got: Vec<&str> = e.iter().map(|e| e.pointer.as_str()).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "/assistance_requested",
            "/deconfliction_checked",
            "/extra",
            "/form_version",
            "/incident/type",
            "/medium",
            "/urgent",
            "/victim/age_band",
            "/victim/name",
        ]
    );
    let medium = e.iter().find(|e| e.pointer == "/medium").unwrap();
    assert!(
        medium.message.contains("`fax` is not an accepted value"),
        "{}",
        medium.message
    );
    assert!(medium.message.contains("peer_to_peer"));
}

#[test]
fn not_an_object_at_all() {
    assert_eq!(pointers(&json!([1, 2])), vec![""]);
    assert_eq!(pointers(&json!({})).len(), 16);
}

#[test]
fn pointer_tokens_are_escaped() {
    assert_eq!(pointers(&with(|f| f["a/b~c"] = json!(1))), vec!["/a~1b~0c"]);
}

#[test]
fn many_problems_are_reported_together() {
    let e = errors(&with(|f| {
        f["reporting_unit"] = json!("CT9999999");
        f["received"]["date"] = json!("2024-12-01");
        f["source"] = json!({ "kind": "ncmec_cybertip" });
        f["suspected_statutes"] = json!(["53a-196d", "53-21", "99-9"]);
        f["attestation"]["statement_accepted"] = json!(false);
    }));
    let got: Vec<&str> = e.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(
        got,
        vec![
            "/reporting_unit",
            "/received/date",
            "/source/cybertip_number",
            "/suspected_statutes/2",
            "/attestation/statement_accepted"
        ]
    );
    for err in &e {
        assert!(!err.message.is_empty());
    }
}

#[test]
fn schema_is_generated() {
    let s = icac_aggregates::form::schema::notification_schema().unwrap();
    let v: Value = serde_json::from_str(&s).unwrap();
    assert!(v["properties"]["source"].is_object());
    assert!(s.contains("cybertip_number"));
}
