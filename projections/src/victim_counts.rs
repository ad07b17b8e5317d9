//! Children identified, counted once each in the period they were identified: the
//! data the report's victim table is built from. A child reported identified on a
//! version 1 form (which did not ask when) counts on the filing date; a child
//! identified later counts on the date of its `VictimIdentified` event, not again at
//! filing.

use std::collections::BTreeMap;

use icac_aggregates::form::v1::AgeBand;
use jiff::civil::Date;

use crate::case_view::CaseView;

/// Calendar quarter (1 to 4) of a date.
pub fn quarter(d: Date) -> i8 {
    (d.month() - 1) / 3 + 1
}

/// Children identified from `from` to `to` inclusive, by (year, quarter, age band).
pub fn identified_by_quarter<'a>(
    cases: impl IntoIterator<Item = &'a CaseView>,
    from: Date,
    to: Date,
) -> BTreeMap<(i16, i8, AgeBand), u64> {
    let mut out = BTreeMap::new();
    for case in cases {
        // A merged duplicate's children are the primary case's.
        if case.merged_into.is_some() {
            continue;
        }
        for (on, band) in case.identified_victims() {
            if on >= from && on <= to {
                *out.entry((on.year(), quarter(on), band)).or_insert(0) += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case_view::At;
    use icac_aggregates::case::CaseEvent;
    use icac_aggregates::ids::CaseId;
    use icac_format::chain::Hash32;
    use jiff::civil::date;
    use serde_json::json;

    fn form() -> icac_aggregates::form::NotificationForm {
        serde_json::from_value(json!({
            "form_version": "2",
            "reporting_unit": "CT0006400",
            "officer": { "name": "Det. A", "phone": "(860) 555-0100" },
            "unit_case_number": "24-1",
            "received": { "date": "2024-03-20" },
            "source": { "kind": "school" },
            "incident": { "type": "online_enticement", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false },
            "medium": "chat_im",
            "suspected_statutes": [],
            "urgent": false,
            "subject_identifiers": [],
            "victims": [
                { "identified": true, "age_band": "age_13_to_15", "identified_on": "2024-03-25" },
                { "identified": false, "age_band": "age_0_to_12" }
            ],
            "evidence": { "item_count": 0, "image_count": 0, "video_count": 0, "hashes": [] },
            "deconfliction_checked": true,
            "assistance_requested": { "undercover": false, "forensic": false, "technical": false },
            "attestation": { "name": "Det. A", "statement_accepted": true }
        }))
        .unwrap()
    }

    #[test]
    fn each_child_once_in_the_quarter_identified() {
        let at = |n| At {
            position: n,
            sequence: n,
            hash: &Hash32::ZERO,
        };
        let ts = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        let filed = CaseEvent::NotificationFiled {
            case_id: CaseId::parse("CT0006400:24-1").unwrap(),
            form: form(),
            recorded_at: ts("2024-03-28T14:00:00Z"),
        };
        let mut view = CaseView::open(&filed, at(1)).unwrap();
        view.apply(
            &CaseEvent::VictimIdentified {
                victim_number: 2,
                identified_on: date(2024, 5, 2),
                recorded_at: ts("2024-05-02T14:00:00Z"),
            },
            at(2),
        );
        view.apply(
            &CaseEvent::VictimAdded {
                victim_number: 3,
                age_band: AgeBand::Age16To17,
                identified_on: None,
                recorded_at: ts("2024-05-03T14:00:00Z"),
            },
            at(3),
        );
        let year = identified_by_quarter([&view], date(2024, 1, 1), date(2024, 12, 31));
        assert_eq!(year.get(&(2024, 1, AgeBand::Age13To15)), Some(&1));
        assert_eq!(year.get(&(2024, 2, AgeBand::Age0To12)), Some(&1));
        assert_eq!(year.values().sum::<u64>(), 2);
        // A period holding only the filing quarter counts the later child not at all.
        let q1 = identified_by_quarter([&view], date(2024, 1, 1), date(2024, 3, 31));
        assert_eq!(q1.values().sum::<u64>(), 1);
    }
}
