//! Folds over hand-built ledger events: compliance edge dates, history cut
//! equals a replay cut, suppression cannot be undone, reports are stable.

// A test fails by panicking; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

use icac_aggregates::case::{CaseEvent, CorrectedValue};
use icac_aggregates::compliance::{ComplianceStatus, DeadlinePolicy};
use icac_aggregates::form::v1::Source;
use icac_aggregates::form::NotificationForm;
use icac_aggregates::ids::{CaseId, LedgerPosition, Ori};
use icac_aggregates::release::Quarter;
use icac_format::chain::Hash32;
use icac_projections::compliance::compliance;
use icac_projections::history::{replay, Cut};
use icac_projections::report::figures::victim_table;
use icac_projections::report::render::{render, Format};
use icac_projections::report::suppression::SuppressionError;
use icac_projections::report::{build, Attestation, Cell, Parameters, ReportError, VictimTable};
use icac_projections::{DomainEvent, LedgerEvent, ReadModels};
use jiff::civil::{date, Date};
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::json;
use std::collections::BTreeSet;

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
        protection_width: 10,
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

type Grid = Vec<(Quarter, Vec<u64>)>;

fn quarter(n: usize) -> Quarter {
    Quarter {
        year: 2025,
        number: u8::try_from(n % 4 + 1).unwrap(),
    }
}

fn params(threshold: u64, width: u64) -> Parameters {
    Parameters {
        from: date(2025, 1, 1),
        to: date(2025, 12, 31),
        suppression_threshold: threshold,
        protection_width: width,
        deadline_policy: DeadlinePolicy::default(),
    }
}

/// Every figure of a published table as (band cells, quarter indexes), shown value.
fn figures_of(t: &VictimTable) -> Vec<(Vec<(usize, usize)>, Cell)> {
    let (bands, quarters) = (t.rows.len(), t.columns.len());
    let mut out = Vec::new();
    for b in 0..bands {
        for q in 0..quarters {
            out.push((vec![(b, q)], t.cells[b][q]));
        }
        out.push(((0..quarters).map(|q| (b, q)).collect(), t.row_totals[b]));
    }
    for q in 0..quarters {
        out.push(((0..bands).map(|b| (b, q)).collect(), t.column_totals[q]));
    }
    let all = (0..bands)
        .flat_map(|b| (0..quarters).map(move |q| (b, q)))
        .collect();
    out.push((all, t.total));
    out
}

/// The values each hidden figure takes over every table within `spread` of the
/// truth that shows what `t` shows and keeps hidden figures at least 1:
/// enumeration, sharing nothing with the crate's integer programs.
fn possible_values(t: &VictimTable, truth: &Grid, spread: u64) -> Vec<BTreeSet<u64>> {
    let figures = figures_of(t);
    let free: Vec<(usize, usize)> = (0..t.rows.len())
        .flat_map(|b| (0..t.columns.len()).map(move |q| (b, q)))
        .filter(|&(b, q)| t.cells[b][q] == Cell::Suppressed)
        .collect();
    let value = |trial: &Grid, cells: &[(usize, usize)]| -> u64 {
        cells.iter().map(|&(b, q)| trial[q].1[b]).sum()
    };
    let ranges: Vec<(u64, u64)> = free
        .iter()
        .map(|&(b, q)| {
            let v = truth[q].1[b];
            (v.saturating_sub(spread).max(1), v + spread)
        })
        .collect();
    let mut seen = vec![BTreeSet::new(); figures.len()];
    let mut at: Vec<u64> = ranges.iter().map(|r| r.0).collect();
    let mut trial = truth.clone();
    loop {
        for (i, &(b, q)) in free.iter().enumerate() {
            trial[q].1[b] = at[i];
        }
        let consistent = figures.iter().all(|(cells, shown)| match shown {
            Cell::Count(x) => value(&trial, cells) == *x,
            Cell::Suppressed => value(&trial, cells) >= 1,
        });
        if consistent {
            for (i, (cells, shown)) in figures.iter().enumerate() {
                if *shown == Cell::Suppressed {
                    seen[i].insert(value(&trial, cells));
                }
            }
        }
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

/// Suppresses `truth` and checks the published table: small figures hidden,
/// zeros shown, and (where enumeration is cheap) every hidden figure able to
/// take at least `width` values for a reader who knows only what is shown.
fn check_non_derivable(truth: &Grid, threshold: u64, width: u64) -> Option<VictimTable> {
    let bands: Vec<String> = (0..truth[0].1.len()).map(|b| format!("b{b}")).collect();
    let t = match victim_table(truth, bands, "2025", &[], &params(threshold, width)) {
        Ok(t) => t,
        // Refusing to publish is allowed; publishing a derivable figure is not.
        Err(ReportError::Suppression(SuppressionError::Unprotected(_))) => {
            eprintln!("REFUSED {truth:?}");
            return None;
        }
        Err(e) => panic!("{e}"),
    };
    let true_figures = {
        let full: Vec<Vec<u64>> = (0..t.rows.len())
            .map(|b| truth.iter().map(|(_, c)| c[b]).collect())
            .collect();
        figures_of(&t)
            .into_iter()
            .map(|(cells, _)| cells.iter().map(|&(b, q)| full[b][q]).sum::<u64>())
            .collect::<Vec<u64>>()
    };
    for ((_, shown), v) in figures_of(&t).iter().zip(&true_figures) {
        match shown {
            Cell::Count(x) => {
                assert_eq!(x, v);
                assert!(*x == 0 || *x > threshold, "small figure shown: {truth:?}");
            }
            Cell::Suppressed => assert!(*v >= 1, "a zero hidden: {truth:?}"),
        }
    }
    let hidden_cells = t
        .cells
        .iter()
        .flatten()
        .filter(|c| **c == Cell::Suppressed)
        .count();
    if hidden_cells <= 5 {
        for (i, values) in possible_values(&t, truth, width).iter().enumerate() {
            if matches!(figures_of(&t)[i].1, Cell::Suppressed) {
                assert!(
                    values.len() as u64 >= width,
                    "figure {i} narrowed to {values:?} in {truth:?} -> {t:?}"
                );
            }
        }
    }
    Some(t)
}

fn grid(rows: &[&[u64]]) -> Grid {
    rows.iter()
        .enumerate()
        .map(|(q, bands)| (quarter(q), bands.to_vec()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(60))]
    #[test]
    fn no_suppressed_cell_can_be_derived(
        quarters in 1usize..4,
        bands in 1usize..4,
        threshold in 2u64..6,
        seed in proptest::collection::vec(prop_oneof![Just(0u64), 1u64..6, 6u64..40], 12),
    ) {
        let truth: Grid = (0..quarters)
            .map(|q| (quarter(q), (0..bands).map(|b| seed[q * bands + b]).collect()))
            .collect();
        check_non_derivable(&truth, threshold, threshold);
    }
}

#[test]
fn classic_disclosure_cases() {
    assert!(check_non_derivable(&grid(&[&[1, 1]]), 10, 10).is_some()); // two small cells, total 2
    assert!(check_non_derivable(&grid(&[&[3, 0, 0, 0]]), 10, 10).is_some()); // the total would give it away
    check_non_derivable(&grid(&[&[10, 10], &[10, 10]]), 10, 10);
    check_non_derivable(&grid(&[&[3, 20, 40], &[30, 50, 60]]), 10, 10);
    check_non_derivable(&grid(&[&[7, 3, 5, 0], &[12, 25, 4, 1]]), 10, 10);
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
