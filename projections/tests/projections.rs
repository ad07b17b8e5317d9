//! Folds over hand-built ledger events: compliance edge dates, history cut
//! equals a replay cut, suppression cannot be undone, reports are stable.

use icac_aggregates::case::{CaseEvent, CorrectedValue};
use icac_aggregates::compliance::{ComplianceStatus, DeadlinePolicy};
use icac_aggregates::form::v1::Source;
use icac_aggregates::form::NotificationForm;
use icac_aggregates::ids::{CaseId, LedgerPosition, Ori};
use icac_format::chain::Hash32;
use icac_projections::compliance::compliance;
use icac_projections::history::{replay, Cut};
use icac_projections::report::render::{render, Format};
use icac_projections::report::suppression::{
    augment, published, suppress, witness, Hidden, Reader, Suppressed,
};
use icac_projections::report::{build, Attestation, Parameters};
use icac_projections::{DomainEvent, LedgerEvent, ReadModels};
use jiff::civil::{date, Date};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

const UNIT: &str = "CT0006400";

fn form(case_number: &str, received: Date, identified: bool, band: &str) -> NotificationForm {
    serde_json::from_value(json!({
        "form_version": "1",
        "reporting_unit": UNIT,
        "officer": { "name": "Det. A. Rivera", "email": "a.rivera@example.gov" },
        "unit_case_number": case_number,
        "received": { "date": received.to_string() },
        "source": { "kind": "parent" },
        "incident": { "type": "online_enticement", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false },
        "medium": "chat_im",
        "suspected_statutes": ["53a-90a"],
        "urgent": false,
        "subject_identifiers": [],
        "victim": { "identified": identified, "age_band": band, "town": "Hartford" },
        "evidence": { "item_count": 0, "image_count": 0, "video_count": 0, "hashes": [] },
        "deconfliction_checked": true,
        "assistance_requested": { "undercover": false, "forensic": false, "technical": false },
        "attestation": { "name": "Det. A. Rivera", "statement_accepted": true }
    }))
    .expect("fixture form")
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn hash(position: u64) -> Hash32 {
    Hash32::from_hex(&format!("{position:064x}")).expect("hash")
}

fn case_id(n: &str) -> CaseId {
    CaseId::parse(format!("{UNIT}:{n}")).expect("case id")
}

/// Appends case events with consecutive positions.
struct Script {
    events: Vec<LedgerEvent>,
    sequences: std::collections::BTreeMap<String, u64>,
}

impl Script {
    fn new() -> Self {
        Self {
            events: Vec::new(),
            sequences: Default::default(),
        }
    }
    fn case(&mut self, id: &CaseId, event: CaseEvent) -> u64 {
        let position = self.events.len() as u64 + 1;
        let seq = self.sequences.entry(id.to_string()).or_insert(0);
        *seq += 1;
        self.events.push(LedgerEvent {
            position,
            hash: hash(position),
            recorded_at: event.recorded_at(),
            principal: "user:test".into(),
            unit: Some(UNIT.into()),
            aggregate_id: id.to_string(),
            sequence: *seq,
            event: DomainEvent::Case(event),
        });
        position
    }
    fn models(&self) -> ReadModels {
        let mut m = ReadModels::new();
        m.apply_all(&self.events).expect("fold");
        m
    }
}

fn complaint(id: &CaseId, received: Date, at: &str) -> CaseEvent {
    CaseEvent::ComplaintLogged {
        case_id: id.clone(),
        reporting_unit: Ori::parse(UNIT).expect("ori"),
        unit_case_number: None,
        received_on: received,
        received_time: None,
        received_offset: None,
        source: Source::Parent,
        recorded_at: ts(at),
    }
}

fn filed(id: &CaseId, received: Date, at: &str) -> CaseEvent {
    CaseEvent::NotificationFiled {
        case_id: id.clone(),
        form: form(
            id.as_str().split(':').nth(1).unwrap_or("x"),
            received,
            false,
            "unknown",
        ),
        recorded_at: ts(at),
    }
}

fn status_of(
    s: &Script,
    id: &CaseId,
    as_of: Date,
    policy: &DeadlinePolicy,
) -> (ComplianceStatus, bool) {
    let m = s.models();
    let r = compliance(m.cases.values(), as_of, policy, None).expect("compliance");
    let row = r
        .notifications
        .iter()
        .find(|n| &n.case_id == id)
        .expect("row");
    (row.status, row.incomplete_form)
}

#[test]
fn filing_time_is_judged_by_the_connecticut_date_across_dst_changes() {
    let p = DeadlinePolicy::default();
    // Spring forward: received 2024-03-01, due 2024-03-15 (EDT from 03-10).
    let cases = [
        ("24-1", "2024-03-16T03:59:00Z", ComplianceStatus::OnTime), // 23:59 EDT on the 15th
        (
            "24-2",
            "2024-03-16T04:00:00Z",
            ComplianceStatus::Late { days: 1 },
        ), // 00:00 EDT on the 16th
    ];
    for (n, at, want) in cases {
        let mut s = Script::new();
        let id = case_id(n);
        s.case(
            &id,
            complaint(&id, date(2024, 3, 1), "2024-03-01T15:00:00Z"),
        );
        s.case(&id, filed(&id, date(2024, 3, 1), at));
        assert_eq!(status_of(&s, &id, date(2024, 4, 1), &p).0, want, "{at}");
    }
    // Fall back: received 2024-10-20, due 2024-11-03, the day clocks go back.
    let cases = [
        ("24-3", "2024-11-04T04:59:00Z", ComplianceStatus::OnTime), // 23:59 EST on the 3rd
        (
            "24-4",
            "2024-11-04T05:00:00Z",
            ComplianceStatus::Late { days: 1 },
        ),
    ];
    for (n, at, want) in cases {
        let mut s = Script::new();
        let id = case_id(n);
        s.case(&id, filed(&id, date(2024, 10, 20), at));
        assert_eq!(status_of(&s, &id, date(2024, 12, 1), &p).0, want, "{at}");
    }
}

#[test]
fn leap_day_due_date() {
    let p = DeadlinePolicy::default();
    let mut s = Script::new();
    let id = case_id("24-5");
    s.case(
        &id,
        complaint(&id, date(2024, 2, 15), "2024-02-15T15:00:00Z"),
    );
    assert_eq!(
        status_of(&s, &id, date(2024, 2, 28), &p),
        (ComplianceStatus::DueSoon { due_in_days: 1 }, true)
    );
    assert_eq!(
        status_of(&s, &id, date(2024, 2, 29), &p),
        (ComplianceStatus::DueSoon { due_in_days: 0 }, true)
    );
    assert_eq!(
        status_of(&s, &id, date(2024, 3, 1), &p),
        (ComplianceStatus::Overdue { days: 1 }, true)
    );
    s.case(&id, filed(&id, date(2024, 2, 15), "2024-02-29T20:00:00Z"));
    assert_eq!(
        status_of(&s, &id, date(2024, 3, 1), &p),
        (ComplianceStatus::OnTime, false)
    );
}

#[test]
fn due_date_across_the_year_end() {
    let p = DeadlinePolicy::default();
    let mut s = Script::new();
    let id = case_id("24-6");
    s.case(
        &id,
        complaint(&id, date(2024, 12, 20), "2024-12-20T15:00:00Z"),
    );
    assert_eq!(
        status_of(&s, &id, date(2024, 12, 30), &p),
        (ComplianceStatus::Pending { due_in_days: 4 }, true)
    );
    assert_eq!(
        status_of(&s, &id, date(2025, 1, 4), &p),
        (ComplianceStatus::Overdue { days: 1 }, true)
    );
    // Not received yet as of a date before the complaint: no clock at all.
    let m = s.models();
    assert!(compliance(m.cases.values(), date(2024, 12, 19), &p, None)
        .unwrap()
        .notifications
        .is_empty());
}

#[test]
fn holiday_on_the_due_date_with_the_policy_off_and_on() {
    // Received 2024-12-11: due Christmas Day; filed on the 26th.
    let mut s = Script::new();
    let id = case_id("24-7");
    s.case(&id, filed(&id, date(2024, 12, 11), "2024-12-26T15:00:00Z"));
    let off = DeadlinePolicy::default();
    let on = DeadlinePolicy {
        roll_to_business_day: true,
        ..off
    };
    assert_eq!(
        status_of(&s, &id, date(2025, 1, 5), &off).0,
        ComplianceStatus::Late { days: 1 }
    );
    assert_eq!(
        status_of(&s, &id, date(2025, 1, 5), &on).0,
        ComplianceStatus::OnTime
    );
}

fn corrected_script() -> (Script, CaseId) {
    let mut s = Script::new();
    let id = case_id("24-8");
    let other = case_id("24-9");
    s.case(
        &id,
        complaint(&id, date(2024, 9, 1), "2024-09-01T15:00:00Z"),
    );
    s.case(
        &other,
        complaint(&other, date(2024, 9, 2), "2024-09-02T15:00:00Z"),
    );
    let filed_at = s.case(&id, filed(&id, date(2024, 9, 1), "2024-09-10T15:00:00Z"));
    s.case(
        &id,
        CaseEvent::CorrectionRecorded {
            corrects: LedgerPosition::new(filed_at),
            changes: vec![CorrectedValue::VictimIdentified { identified: true }],
            reason: "victim identified by forensic review".into(),
            recorded_at: ts("2024-09-20T15:00:00Z"),
        },
    );
    (s, id)
}

#[test]
fn history_at_a_past_position_equals_a_replay_cut_there() {
    let (s, id) = corrected_script();
    let own: Vec<LedgerEvent> = s
        .events
        .iter()
        .filter(|e| e.aggregate_id == id.as_str())
        .cloned()
        .collect();
    for cut_at in 0..=s.events.len() as u64 {
        let h = replay(&id, &own, Cut::AtPosition { position: cut_at }).expect("replay");
        let mut m = ReadModels::new();
        m.apply_all(s.events.iter().filter(|e| e.position <= cut_at))
            .expect("fold");
        assert_eq!(h.view.as_ref(), m.cases.get(&id), "position {cut_at}");
        // The same moment named by time gives the same state.
        if let Some(last) = h.entries.last() {
            let by_time = replay(
                &id,
                &own,
                Cut::AsOf {
                    at: last.recorded_at,
                },
            )
            .expect("replay");
            assert_eq!(by_time.view, h.view);
        }
    }
    let full = replay(&id, &own, Cut::Head).expect("replay");
    let filed = full
        .entries
        .iter()
        .find(|e| e.event_type == "NotificationFiled")
        .expect("filed");
    assert_eq!(filed.corrected_by, vec![4]);
    assert!(full
        .view
        .as_ref()
        .and_then(|v| v.notification.as_ref())
        .is_some_and(|n| n.victim_identified));
    // The victim's town never leaves the ledger through history.
    assert!(!serde_json::to_string(&full).unwrap().contains("Hartford"));
}

fn report_inputs() -> (ReadModels, Parameters, Attestation) {
    let mut s = Script::new();
    let bands = ["age_0_to_12", "age_13_to_15", "age_16_to_17"];
    for i in 0..60u32 {
        let id = case_id(&format!("25-{i:03}"));
        let month = 1 + (i % 12) as i8;
        let received = date(2025, month, 3);
        let at = format!("2025-{month:02}-{:02}T15:00:00Z", 5 + (i % 20));
        let band = bands[(i as usize * 7) % 3];
        s.case(
            &id,
            CaseEvent::NotificationFiled {
                case_id: id.clone(),
                form: form(&format!("25-{i:03}"), received, i % 4 != 0, band),
                recorded_at: ts(&at),
            },
        );
    }
    let params = Parameters {
        from: date(2025, 1, 1),
        to: date(2025, 12, 31),
        suppression_threshold: 10,
        deadline_policy: DeadlinePolicy::default(),
    };
    let attestation = Attestation {
        ledger_id: "ct-icac".into(),
        position: s.events.len() as u64,
        head_hash: hash(60).to_string(),
        merkle_root: hash(1).to_string(),
        checkpoint: "icac-ledger/ct-icac\n60\n...\n".into(),
    };
    (s.models(), params, attestation)
}

#[test]
fn report_is_deterministic_and_hides_small_victim_counts() {
    let (m, p, a) = report_inputs();
    let one = build(&m, p.clone(), a.clone(), Some("Extend the unit.".into())).expect("report");
    let two = build(&m.clone(), p, a, Some("Extend the unit.".into())).expect("report");
    for f in [Format::Json, Format::Md, Format::Html, Format::Csv] {
        assert_eq!(render(&one, f).unwrap(), render(&two, f).unwrap());
    }
    assert_eq!(one.figures.notifications.total, 60);
    assert_eq!(
        one.figures.timeliness.on_time + one.figures.timeliness.late,
        60
    );
    let v = &one.figures.victims_identified;
    let json = render(&one, Format::Json).unwrap();
    assert!(json.contains("\"suppressed\""));
    assert!(!json.contains("Hartford"));
    // Every shown cell is 0 or above the threshold.
    for c in v
        .cells
        .iter()
        .flatten()
        .chain(&v.row_totals)
        .chain(&v.column_totals)
    {
        if let icac_projections::report::Cell::Count(n) = c {
            assert!(*n == 0 || *n > 10);
        }
    }
    let html = render(&one, Format::Html).unwrap();
    assert!(html.contains("<svg") && html.contains("Timeliness by unit"));
}

const READERS: [Reader; 2] = [Reader::Published, Reader::KnowsWhichAreSmall];

/// Checks that no hidden figure of `table` can be derived: from what is published
/// always, and, unless every non-zero figure had to be hidden, even by a reader who
/// knows which hidden figures are small.
fn check_non_derivable(table: &[Vec<u64>], threshold: u64) -> Suppressed {
    let s = suppress(table, threshold).expect("suppress");
    let shown = published(&s);
    let full = augment(table).expect("augment");
    let every_non_zero_hidden =
        (0..s.rows()).all(|r| (0..s.cols()).all(|c| full[r][c] == 0 || s.is_hidden(r, c)));
    if !every_non_zero_hidden {
        assert_eq!(s.protection, Reader::KnowsWhichAreSmall, "{table:?}");
    }
    for r in 0..s.rows() {
        for c in 0..s.cols() {
            let v = full[r][c];
            if (1..=threshold).contains(&v) {
                assert_eq!(s.hidden[r][c], Hidden::Primary);
            }
            if v == 0 {
                assert!(!s.is_hidden(r, c), "zeros are shown");
            }
            if !s.is_hidden(r, c) {
                continue;
            }
            for reader in READERS.into_iter().filter(|&x| x <= s.protection) {
                // An independent check of the witness: it must be a table whose own
                // totals are consistent, show every published figure, keep hidden
                // values possible for this reader, and differ in this cell.
                let w = witness(&s, r, c, reader).expect("every hidden cell has a witness");
                let inner: Vec<Vec<u64>> = w[..s.rows() - 1]
                    .iter()
                    .map(|row| row[..s.cols() - 1].to_vec())
                    .collect();
                assert_eq!(augment(&inner).unwrap(), w, "witness totals");
                for rr in 0..s.rows() {
                    for cc in 0..s.cols() {
                        match shown[rr][cc] {
                            Some(x) => assert_eq!(w[rr][cc], x),
                            None => assert!(w[rr][cc] >= 1),
                        }
                        if reader == Reader::KnowsWhichAreSmall
                            && s.hidden[rr][cc] == Hidden::Primary
                        {
                            assert!(w[rr][cc] <= threshold);
                        }
                    }
                }
                assert_ne!(w[r][c], v);
            }
        }
    }
    // A second, independent argument where it is cheap: enumerate tables.
    let hidden_inner = (0..s.rows() - 1)
        .flat_map(|r| (0..s.cols() - 1).map(move |c| (r, c)))
        .filter(|&(r, c)| s.is_hidden(r, c))
        .count();
    if hidden_inner <= 5 {
        for reader in READERS.into_iter().filter(|&x| x <= s.protection) {
            for (cell, values) in possible_values(&s, reader, 2) {
                assert!(
                    values.len() >= 2,
                    "{cell:?} pinned to {values:?} for {reader:?}"
                );
            }
        }
    }
    s
}

/// For each hidden figure of `s`, the values it takes over every table that shows
/// what `s` publishes and keeps what `reader` knows, enumerating each hidden inner
/// cell over its true value ± `spread` (at least 1). A search by enumeration, sharing
/// nothing with the cycle search in the crate.
fn possible_values(
    s: &Suppressed,
    reader: Reader,
    spread: u64,
) -> BTreeMap<(usize, usize), BTreeSet<u64>> {
    let (rows, cols) = (s.rows() - 1, s.cols() - 1);
    let shown = published(s);
    let truth: Vec<Vec<u64>> = (0..rows).map(|r| s.values[r][..cols].to_vec()).collect();
    let cells: Vec<(usize, usize)> = (0..rows)
        .flat_map(|r| (0..cols).map(move |c| (r, c)))
        .filter(|&(r, c)| s.is_hidden(r, c))
        .collect();
    let ranges: Vec<(u64, u64)> = cells
        .iter()
        .map(|&(r, c)| {
            let v = truth[r][c];
            (v.saturating_sub(spread).max(1), v + spread)
        })
        .collect();
    let mut trial = truth.clone();
    let mut at: Vec<u64> = ranges.iter().map(|r| r.0).collect();
    let mut seen: BTreeMap<(usize, usize), BTreeSet<u64>> = BTreeMap::new();
    loop {
        for (i, &(r, c)) in cells.iter().enumerate() {
            trial[r][c] = at[i];
        }
        let grid = augment(&trial).unwrap();
        let consistent = (0..=rows).all(|r| {
            (0..=cols).all(|c| match shown[r][c] {
                Some(x) => grid[r][c] == x,
                None => {
                    grid[r][c] >= 1
                        && !(reader == Reader::KnowsWhichAreSmall
                            && s.hidden[r][c] == Hidden::Primary
                            && grid[r][c] > s.threshold)
                }
            })
        });
        if consistent {
            for r in 0..=rows {
                for c in 0..=cols {
                    if shown[r][c].is_none() {
                        seen.entry((r, c)).or_default().insert(grid[r][c]);
                    }
                }
            }
        }
        // Next combination, odometer style.
        let mut i = 0;
        loop {
            if i == at.len() {
                return seen;
            }
            if at[i] < ranges[i].1 {
                at[i] += 1;
                break;
            }
            at[i] = ranges[i].0;
            i += 1;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn no_suppressed_cell_can_be_derived(
        rows in 1usize..5,
        cols in 1usize..6,
        threshold in 2u64..13,
        seed in proptest::collection::vec(prop_oneof![Just(0u64), 1u64..12, 11u64..60], 30),
    ) {
        let table: Vec<Vec<u64>> = (0..rows).map(|r| (0..cols).map(|c| seed[r * cols + c]).collect()).collect();
        check_non_derivable(&table, threshold);
    }
}

/// Found by the property test: two cells of 1 in one column, all else zero, threshold
/// 2. Every non-zero figure is hidden and nothing else can be; a reader who knew that
/// the column total is small (at most 2) would know both cells are 1, since a small
/// cell is at least 1, and no suppression can prevent that. What is published alone
/// does not pin them: the cells could be 2 and 1, or 5 and 7.
#[test]
fn every_figure_small_is_protected_from_what_is_published() {
    let s = check_non_derivable(&[vec![0, 0], vec![0, 0], vec![1, 0], vec![1, 0]], 2);
    assert_eq!(s.protection, Reader::Published);
    // The stronger protection is impossible here, not merely not found: enumerating
    // the small cells over all of 1..=threshold pins every one of them.
    let strict = possible_values(&s, Reader::KnowsWhichAreSmall, 2);
    assert!(!strict.is_empty());
    assert!(strict.values().all(|v| v.len() == 1), "{strict:?}");
    let published_only = possible_values(&s, Reader::Published, 2);
    assert!(published_only.values().all(|v| v.len() >= 2));
}

#[test]
fn classic_disclosure_cases() {
    check_non_derivable(&[vec![1, 1]], 10); // two small cells, total 2
    check_non_derivable(&[vec![3, 0, 0, 0]], 10); // the total would give it away
    check_non_derivable(&[vec![10, 10], vec![10, 10]], 10);
    check_non_derivable(&[vec![1]], 2);
}

/// Many cases, interleaved, with a correction: folded in any number of partitions and
/// merged, the models equal one fold over all events.
#[test]
fn partitioned_fold_merged_equals_one_fold() {
    let mut s = Script::new();
    let ids: Vec<CaseId> = (0..40)
        .map(|i| case_id(&format!("24-{}", 100 + i)))
        .collect();
    for (i, id) in ids.iter().enumerate() {
        let day = date(2024, 3, 1 + (i % 28) as i8);
        s.case(id, complaint(id, day, "2024-03-29T15:00:00Z"));
    }
    for id in ids.iter().step_by(3) {
        s.case(id, filed(id, date(2024, 3, 1), "2024-03-30T15:00:00Z"));
    }
    let (mut c, id) = corrected_script();
    for e in c.events.drain(..) {
        if let DomainEvent::Case(event) = e.event {
            s.case(&id, event);
        }
    }
    let whole = s.models();
    let head = s.events.len() as u64;
    for partitions in [1usize, 2, 3, 7] {
        let mut parts = vec![ReadModels::new(); partitions];
        for e in &s.events {
            parts[ReadModels::partition_of(e, partitions)]
                .apply(e)
                .expect("fold");
        }
        assert_eq!(
            ReadModels::merge(parts, head).expect("merge"),
            whole,
            "{partitions} partitions"
        );
    }
    // A view in two partitions is refused, not silently overwritten.
    let mut a = ReadModels::new();
    let mut b = ReadModels::new();
    a.apply(&s.events[0]).expect("fold");
    let mut again = s.events[0].clone();
    again.position = 2;
    b.apply(&again).expect("fold");
    assert!(ReadModels::merge([a, b], 2).is_err());
}
