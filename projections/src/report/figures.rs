//! Computes every figure of the annual report from the read models as they
//! stood at the attested position. Definitions are stated in
//! [`DEFINITIONS`] and repeated in the report itself.

use std::collections::{BTreeMap, BTreeSet};

use icac_aggregates::case::{
    CaseStatus, Disposition, ReferralDecision, ReferralTarget, ShareCategory,
};
use icac_aggregates::catalog::{Catalog, IncidentType, Medium, SourceKind};
use icac_aggregates::compliance::{assess, ComplianceStatus};
use icac_aggregates::form::v1::AgeBand;
use icac_aggregates::local_time::ct_date;
use icac_aggregates::public_report::{Channel, ReportStage};
use jiff::civil::Date;
use serde::Serialize;

use super::linked::{self, PublicTable};
use super::model::*;
use super::suppression;
use super::ReportError;
use crate::case_view::{CaseView, ShareWay};
use crate::read_models::ReadModels;
use icac_aggregates::release::{Period, Quarter};

pub const DEFINITIONS: [&str; 12] = [
    "Period: Connecticut calendar dates (America/New_York) from the first to the last day given, inclusive.",
    "Notifications: standardized initial notifications filed with the Task Force during the period (Connecticut date the ledger recorded the filing); duplicates of a CyberTip already held by another case are counted separately.",
    "Timeliness: every notification clock that started in the period (received date, as corrected), assessed on the last day of the period: on time = form filed within 14 calendar days; late = filed after; overdue = not filed and past due; not yet due = not filed, still inside the 14 days. Percent on time of those due = on time / (on time + late + overdue): every notification due by the last day of the period, an overdue one counted as not on time. Percent on time of those filed = on time / (on time + late). Median days to notify = median of (filing date - received date) over filed notifications.",
    "Investigations opened: cases first moved to 'investigating' during the period; proactive when the case came from undercover work (source proactive/undercover, or linked to an operation), reactive otherwise.",
    "Undercover operations: operations of the investigative unit conducted (start date) or concluded during the period; linked cases are cases linked to the operation; cases opened (linked cases moved to investigating) and arrests (arrests recorded in linked cases) come from the linked cases' own events, not from figures entered at the conclusion.",
    "Arrests: arrests with an arrest date in the period (as corrected); charges by statute count each arrest charging the statute once, and the counts charged.",
    "Referrals: referrals with a referral date in the period, by target, with the decision recorded so far.",
    "Outcomes without arrest: cases closed during the period with a disposition other than arrest.",
    "Information shares: shares recorded during the period, from units to the Task Force (29-7e(c)) and from the Task Force to units (29-7e(a)(3)); technical assistance and forensic results are share categories; units reached = distinct units that received at least one Task Force share.",
    "Child victims identified: children identified in the period, each counted once, in the quarter identified (a child a version 1 form reported identified counts in the quarter of the filing), statewide only, by age band and calendar quarter, never crossed with unit, town, platform, source or month; counts of 1 to the suppression threshold are suppressed, with further figures suppressed, jointly with every earlier release, so that no combination of published reports narrows a hidden figure below the protection width.",
    "Public reports: reports from the public received during the period, by channel, with their state at the attested position.",
    "All figures are computed from the ledger at the attested position only; events recorded later do not change this report.",
];

/// Longest period one report may cover (bounds the victim table).
pub const MAX_PERIOD_DAYS: i64 = 731;

fn key<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn in_period(p: &Parameters, d: Date) -> bool {
    p.from <= d && d <= p.to
}

fn rows<K: Ord + Serialize>(counts: &BTreeMap<K, u64>, label: impl Fn(&K) -> String) -> Vec<Row> {
    counts
        .iter()
        .map(|(k, n)| Row {
            key: key(k),
            label: label(k),
            count: *n,
        })
        .collect()
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, k: K) {
    *map.entry(k).or_insert(0) += 1;
}

fn percent(part: u64, whole: u64) -> Option<Tenths> {
    // Round half up in tenths of a percent, integers only.
    (whole > 0).then(|| Tenths((part * 2000 + whole) / (2 * whole)))
}

fn median_tenths(mut days: Vec<u64>) -> Option<Tenths> {
    if days.is_empty() {
        return None;
    }
    days.sort_unstable();
    let mid = days.len() / 2;
    Some(if days.len() % 2 == 1 {
        Tenths(days[mid] * 10)
    } else {
        Tenths((days[mid - 1] + days[mid]) * 5)
    })
}

fn quarters(p: &Parameters) -> Vec<Quarter> {
    let mut out = Vec::new();
    let mut d = p.from;
    while d <= p.to {
        let q = Quarter::of(d);
        if out.last() != Some(&q) {
            out.push(q);
        }
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    out
}

fn filed_on(case: &CaseView) -> Option<Date> {
    case.notified_at.map(ct_date)
}

fn unit_name(models: &ReadModels, ori: &str) -> String {
    models
        .units
        .values()
        .find(|u| u.ori.as_str() == ori)
        .map_or_else(|| ori.to_owned(), |u| u.name.clone())
}

fn labels<T: PartialEq + Copy>(list: &[icac_aggregates::catalog::Label<T>], code: T) -> String {
    list.iter()
        .find(|l| l.code == code)
        .map_or_else(String::new, |l| l.label.clone())
}

pub fn compute(
    models: &ReadModels,
    p: &Parameters,
    catalog: &Catalog,
) -> Result<Figures, ReportError> {
    compute_linked(models, p, catalog, &[])
}

/// The figures, the victim table suppressed jointly with `earlier` releases.
pub fn compute_linked(
    models: &ReadModels,
    p: &Parameters,
    catalog: &Catalog,
    earlier: &[PublicTable],
) -> Result<Figures, ReportError> {
    let cases: Vec<&CaseView> = models.cases.values().collect();
    let notifications = notifications(models, &cases, p, catalog);
    let timeliness = timeliness(models, &cases, p)?;
    let investigations = investigations(&cases, p);
    let operations = operations(models, &cases, p);
    let arrests = arrests(&cases, p, catalog);
    let referrals = referrals(&cases, p);
    let outcomes = outcomes_without_arrest(&cases, p);
    let information_shares = shares(&cases, p);
    // Victims identified: statewide, age band x quarter, suppressed.
    let victims = victims(models, p, earlier)?;
    let public_reports = public_reports(models, p);
    let units = UnitFigures {
        registered_active: models.units.values().filter(|u| u.active).count() as u64,
        filing_in_period: notifications.by_unit.len() as u64,
    };
    debug_assert_eq!(
        timeliness.received,
        timeliness.on_time + timeliness.late + timeliness.overdue + timeliness.not_yet_due
    );
    Ok(Figures {
        notifications,
        timeliness,
        investigations,
        operations,
        arrests,
        referrals,
        outcomes_without_arrest: outcomes,
        information_shares,
        victims_identified: victims,
        public_reports,
        units,
    })
}

/// Notifications filed in the period, by source, incident type, medium, unit and month.
fn notifications(
    models: &ReadModels,
    cases: &[&CaseView],
    p: &Parameters,
    catalog: &Catalog,
) -> NotificationFigures {
    let filed: Vec<&CaseView> = cases
        .iter()
        .copied()
        .filter(|c| filed_on(c).is_some_and(|d| in_period(p, d)))
        .collect();
    let mut by_source: BTreeMap<SourceKind, u64> = BTreeMap::new();
    let mut by_incident: BTreeMap<IncidentType, u64> = BTreeMap::new();
    let mut by_medium: BTreeMap<Medium, u64> = BTreeMap::new();
    let mut by_unit: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_month = months_of(p);
    let (mut urgent_tips, mut other_tips, mut sextortion, mut ai) = (0, 0, 0, 0);
    for c in &filed {
        bump(&mut by_source, c.source);
        bump(&mut by_unit, c.reporting_unit.to_string());
        if let Some(d) = filed_on(c) {
            bump(&mut by_month, format!("{:04}-{:02}", d.year(), d.month()));
        }
        if let Some(n) = &c.notification {
            bump(&mut by_incident, n.incident_type);
            bump(&mut by_medium, n.medium);
            sextortion += u64::from(n.sextortion);
            ai += u64::from(n.ai_generated_material);
        }
        if c.source == SourceKind::NcmecCybertip {
            if c.urgent {
                urgent_tips += 1;
            } else {
                other_tips += 1;
            }
        }
    }
    let duplicates_linked = cases
        .iter()
        .flat_map(|c| c.linked_notifications.iter())
        .filter(|l| in_period(p, ct_date(l.recorded_at)))
        .count() as u64;
    NotificationFigures {
        total: filed.len() as u64,
        by_source: rows(&by_source, |k| labels(&catalog.sources, *k)),
        by_incident_type: rows(&by_incident, |k| labels(&catalog.incident_types, *k)),
        by_medium: rows(&by_medium, |k| labels(&catalog.media, *k)),
        by_unit: by_unit
            .iter()
            .map(|(ori, n)| Row {
                key: ori.clone(),
                label: unit_name(models, ori),
                count: *n,
            })
            .collect(),
        duplicates_linked,
        cybertips_urgent: urgent_tips,
        cybertips_other: other_tips,
        sextortion,
        ai_generated_material: ai,
        by_month: by_month
            .iter()
            .map(|(m, n)| Row {
                key: m.clone(),
                label: m.clone(),
                count: *n,
            })
            .collect(),
    }
}

/// Every month of the period at zero, so the trend chart has no gaps.
fn months_of(p: &Parameters) -> BTreeMap<String, u64> {
    let mut by_month = BTreeMap::new();
    let mut month = p.from.first_of_month();
    while month <= p.to {
        by_month
            .entry(format!("{:04}-{:02}", month.year(), month.month()))
            .or_insert(0);
        month = match month.checked_add(jiff::Span::new().months(1)) {
            Ok(m) => m,
            Err(_) => break,
        };
    }
    by_month
}

/// Timeliness of clocks that started in the period, as of its last day.
fn timeliness(
    models: &ReadModels,
    cases: &[&CaseView],
    p: &Parameters,
) -> Result<TimelinessFigures, ReportError> {
    let mut t_units: BTreeMap<String, UnitTimeliness> = BTreeMap::new();
    let mut days_to_notify = Vec::new();
    let mut t = TimelinessFigures {
        received: 0,
        on_time: 0,
        late: 0,
        overdue: 0,
        not_yet_due: 0,
        incomplete_form: 0,
        percent_within_14_days: None,
        due: 0,
        percent_on_time_of_due: None,
        median_days_to_notify: None,
        by_unit: Vec::new(),
    };
    for c in cases {
        let clock = c.notification_clock();
        if !in_period(p, clock.received_on) {
            continue;
        }
        let a = assess(&clock, p.to, &p.deadline_policy)
            .map_err(|e| ReportError::Deadline(e.to_string()))?;
        let ori = c.reporting_unit.to_string();
        let u = t_units
            .entry(ori.clone())
            .or_insert_with(|| UnitTimeliness {
                name: unit_name(models, &ori),
                unit: ori,
                received: 0,
                on_time: 0,
                late: 0,
                overdue: 0,
                not_yet_due: 0,
            });
        count_status(&mut t, u, &a.status);
        t.incomplete_form += u64::from(a.incomplete_form);
        if let Some(f) = clock.filed_on.filter(|f| *f <= p.to) {
            let days = clock.received_on.until(f).map_or(0, |s| s.get_days());
            days_to_notify.push(u64::try_from(days.max(0)).unwrap_or(0));
        }
    }
    t.percent_within_14_days = percent(t.on_time, t.on_time + t.late);
    t.due = t.on_time + t.late + t.overdue;
    t.percent_on_time_of_due = percent(t.on_time, t.due);
    t.median_days_to_notify = median_tenths(days_to_notify);
    t.by_unit = t_units.into_values().collect();
    Ok(t)
}

/// One clock received, statewide and in its unit, under its status.
fn count_status(t: &mut TimelinessFigures, u: &mut UnitTimeliness, status: &ComplianceStatus) {
    t.received += 1;
    u.received += 1;
    match status {
        ComplianceStatus::OnTime => {
            t.on_time += 1;
            u.on_time += 1;
        }
        ComplianceStatus::Late { .. } => {
            t.late += 1;
            u.late += 1;
        }
        ComplianceStatus::Overdue { .. } => {
            t.overdue += 1;
            u.overdue += 1;
        }
        ComplianceStatus::Pending { .. } | ComplianceStatus::DueSoon { .. } => {
            t.not_yet_due += 1;
            u.not_yet_due += 1;
        }
    }
}

/// Investigations opened: cases first moved to investigating in the period.
fn investigations(cases: &[&CaseView], p: &Parameters) -> InvestigationFigures {
    let mut inv = InvestigationFigures {
        opened: 0,
        reactive: 0,
        proactive: 0,
    };
    for c in cases {
        let first = c
            .status_log
            .iter()
            .find(|s| s.to == CaseStatus::Investigating);
        if first.is_some_and(|s| in_period(p, ct_date(s.recorded_at))) {
            inv.opened += 1;
            if c.source == SourceKind::ProactiveUndercover || !c.operations.is_empty() {
                inv.proactive += 1;
            } else {
                inv.reactive += 1;
            }
        }
    }
    inv
}

/// Undercover operations conducted or concluded in the period.
fn operations(models: &ReadModels, cases: &[&CaseView], p: &Parameters) -> OperationFigures {
    let mut linked: BTreeMap<&str, u64> = BTreeMap::new();
    for c in cases {
        for op in &c.operations {
            *linked.entry(op.as_str()).or_insert(0) += 1;
        }
    }
    let mut ops = OperationFigures {
        conducted: 0,
        linked_cases: 0,
        cases_opened: 0,
        arrests: 0,
        operations: Vec::new(),
    };
    // Results come from the linked cases' own events, not from the conclusion.
    let results =
        crate::operation_results::results(models.operations.values(), cases.iter().copied());
    for o in models.operations.values() {
        let active = o.started_on.is_some_and(|d| in_period(p, d))
            || o.concluded_on.is_some_and(|d| in_period(p, d));
        if !active {
            continue;
        }
        let derived = results.get(&o.operation_id);
        let row = OperationRow {
            operation_id: o.operation_id.to_string(),
            name: o.name.clone(),
            lead_unit: o.lead_unit.to_string(),
            started_on: o.started_on,
            ended_on: o.ended_on,
            linked_cases: linked.get(o.operation_id.as_str()).copied().unwrap_or(0),
            cases_opened: derived.map_or(0, |r| r.cases_opened),
            arrests: derived.map_or(0, |r| r.arrests),
        };
        ops.conducted += 1;
        ops.linked_cases += row.linked_cases;
        ops.cases_opened += row.cases_opened;
        ops.arrests += row.arrests;
        ops.operations.push(row);
    }
    ops
}

/// Arrests dated in the period, and their charges by statute.
fn arrests(cases: &[&CaseView], p: &Parameters, catalog: &Catalog) -> ArrestFigures {
    let mut charge_rows: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut arrests, mut cases_with_arrest) = (0u64, 0u64);
    for c in cases {
        let mut any = false;
        for a in c.arrests.iter().filter(|a| in_period(p, a.arrested_on)) {
            arrests += 1;
            any = true;
            let mut seen = BTreeSet::new();
            for ch in &a.charges {
                let entry = charge_rows.entry(ch.statute.to_string()).or_insert((0, 0));
                if seen.insert(ch.statute.to_string()) {
                    entry.0 += 1;
                }
                entry.1 += u64::from(ch.counts);
            }
        }
        cases_with_arrest += u64::from(any);
    }
    ArrestFigures {
        arrests,
        cases_with_arrest,
        charges: charge_rows
            .into_iter()
            .map(|(code, (arrests, counts))| {
                let statute = catalog.statutes.iter().find(|s| s.code.as_str() == code);
                ChargeRow {
                    title: statute.map_or_else(String::new, |s| s.title.clone()),
                    proposed_nibrs: statute.map_or_else(String::new, |s| s.proposed_nibrs.clone()),
                    statute: code,
                    arrests,
                    counts,
                }
            })
            .collect(),
        nibrs_note: catalog.nibrs_note.clone(),
    }
}

/// Referrals dated in the period, by target, with their decisions so far.
fn referrals(cases: &[&CaseView], p: &Parameters) -> Vec<ReferralRow> {
    let mut referrals: BTreeMap<String, ReferralRow> = BTreeMap::new();
    for c in cases {
        for r in c.referrals.iter().filter(|r| in_period(p, r.referred_on)) {
            let row = referrals
                .entry(key(&r.target))
                .or_insert_with(|| ReferralRow {
                    target: key(&r.target),
                    label: referral_label(r.target).to_owned(),
                    referred: 0,
                    accepted: 0,
                    declined: 0,
                    undecided: 0,
                });
            row.referred += 1;
            match r.decision {
                Some(ReferralDecision::Accepted) => row.accepted += 1,
                Some(ReferralDecision::Declined) => row.declined += 1,
                None => row.undecided += 1,
            }
        }
    }
    referrals.into_values().collect()
}

/// Cases closed in the period with a disposition other than arrest.
fn outcomes_without_arrest(cases: &[&CaseView], p: &Parameters) -> Vec<Row> {
    let mut outcomes: BTreeMap<Disposition, u64> = BTreeMap::new();
    for c in cases {
        for s in &c.status_log {
            if s.to != CaseStatus::Closed || !in_period(p, ct_date(s.recorded_at)) {
                continue;
            }
            if let Some(d) = s.disposition.filter(|d| *d != Disposition::Arrest) {
                bump(&mut outcomes, d);
            }
        }
    }
    rows(&outcomes, |d| key(d).replace('_', " "))
}

/// Information shares recorded in the period, both ways.
fn shares(cases: &[&CaseView], p: &Parameters) -> ShareFigures {
    let mut shares = ShareFigures {
        unit_to_task_force: 0,
        task_force_to_units: 0,
        unit_recipients: 0,
        technical_assistance: 0,
        forensic_results: 0,
        by_category: Vec::new(),
    };
    let mut by_category: BTreeMap<String, u64> = BTreeMap::new();
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    for s in cases
        .iter()
        .flat_map(|c| c.shares.iter())
        .filter(|s| in_period(p, ct_date(s.recorded_at)))
    {
        match s.way {
            ShareWay::UnitToTaskForce => shares.unit_to_task_force += 1,
            ShareWay::TaskForceToUnits => {
                shares.task_force_to_units += 1;
                reached.extend(s.to_units.iter().map(String::as_str));
                match s.category {
                    ShareCategory::TechnicalAssistance => shares.technical_assistance += 1,
                    ShareCategory::ForensicResults => shares.forensic_results += 1,
                    _ => {}
                }
            }
        }
        bump(&mut by_category, key(&s.category));
    }
    shares.unit_recipients = reached.len() as u64;
    shares.by_category = by_category
        .into_iter()
        .map(|(k, n)| Row {
            label: k.replace('_', " "),
            key: k,
            count: n,
        })
        .collect();
    shares
}

/// Public reports received in the period, by channel, with their state now.
fn public_reports(models: &ReadModels, p: &Parameters) -> Vec<PublicReportRow> {
    let mut pr: BTreeMap<String, PublicReportRow> = BTreeMap::new();
    for r in models
        .public_reports
        .values()
        .filter(|r| in_period(p, ct_date(r.received_at)))
    {
        let row = pr
            .entry(key(&r.channel))
            .or_insert_with(|| PublicReportRow {
                channel: key(&r.channel),
                label: match r.channel {
                    Channel::WebSite => "Web site".to_owned(),
                    Channel::Hotline => "Telephone hotline".to_owned(),
                },
                received: 0,
                routed: 0,
                closed: 0,
                open: 0,
            });
        row.received += 1;
        match r.stage {
            ReportStage::Routed => row.routed += 1,
            ReportStage::Closed => row.closed += 1,
            ReportStage::Received | ReportStage::Triaged => row.open += 1,
        }
    }
    pr.into_values().collect()
}
fn referral_label(t: ReferralTarget) -> &'static str {
    match t {
        ReferralTarget::FederalProsecutors => "Federal prosecutors (U.S. Attorney)",
        ReferralTarget::FederalAgency => "Federal agency",
        ReferralTarget::OutOfStateAgency => "Out-of-state agency",
        ReferralTarget::OtherConnecticutAgency => "Other Connecticut agency",
    }
}

fn band_label(b: AgeBand) -> &'static str {
    match b {
        AgeBand::Age0To12 => "0-12",
        AgeBand::Age13To15 => "13-15",
        AgeBand::Age16To17 => "16-17",
        AgeBand::Unknown => "age not recorded",
    }
}

/// True counts of children identified in the period, per quarter of identification
/// and band: each child once, in the quarter it was identified (a child a version 1
/// form reported identified counts in the quarter of the filing), whenever its case was
/// filed (`victim_counts::identified_by_quarter`).
pub fn victim_truth(models: &ReadModels, p: &Parameters) -> Vec<(Quarter, Vec<u64>)> {
    victim_counts(models.cases.values(), p)
}

/// True counts of children identified per quarter of the period and band.
pub fn victim_counts<'a>(
    cases: impl IntoIterator<Item = &'a CaseView>,
    p: &Parameters,
) -> Vec<(Quarter, Vec<u64>)> {
    let bands = AgeBand::ALL;
    let mut table: Vec<(Quarter, Vec<u64>)> = quarters(p)
        .into_iter()
        .map(|q| (q, vec![0u64; bands.len()]))
        .collect();
    let identified = crate::victim_counts::identified_by_quarter(cases, p.from, p.to);
    for ((year, number, band), n) in identified {
        let quarter = u8::try_from(number)
            .ok()
            .map(|number| Quarter { year, number });
        let r = bands.iter().position(|b| *b == band);
        let q = table.iter().position(|(q, _)| Some(*q) == quarter);
        if let (Some(r), Some(q)) = (r, q) {
            table[q].1[r] += n;
        }
    }
    table
}

fn victims(
    models: &ReadModels,
    p: &Parameters,
    earlier: &[PublicTable],
) -> Result<VictimTable, ReportError> {
    let truth = victim_truth(models, p);
    let bands: Vec<String> = AgeBand::ALL
        .iter()
        .map(|b| band_label(*b).to_owned())
        .collect();
    victim_table(&truth, bands, &period_label(p), earlier, p)
}

/// `2025-Q1..2025-Q4` for whole quarters, else the dates.
pub fn period_label(p: &Parameters) -> String {
    match Period::from_days(p.from, p.to) {
        Ok(period) => period.to_string(),
        Err(_) => format!("{} to {}", p.from, p.to),
    }
}

/// Builds the published victim table from true counts, suppressed jointly
/// with every earlier public release.
pub fn victim_table(
    truth: &[(Quarter, Vec<u64>)],
    bands: Vec<String>,
    period_label: &str,
    earlier: &[PublicTable],
    p: &Parameters,
) -> Result<VictimTable, ReportError> {
    let protection = suppression::protection(p.suppression_threshold, p.protection_width)?;
    let (mut system, items) =
        linked::system_for(bands.clone(), earlier, period_label.to_owned(), truth)
            .map_err(suppression::SuppressionError::from)?;
    suppression::suppress(&mut system, &protection)?;
    let cell = |k: usize| system.items[k].shown.map_or(Cell::Suppressed, Cell::Count);
    let rows = bands.len();
    Ok(VictimTable {
        cells: (0..rows)
            .map(|b| items.cells.iter().map(|q| cell(q[b])).collect())
            .collect(),
        row_totals: items.band_totals.iter().map(|&k| cell(k)).collect(),
        column_totals: items.quarter_totals.iter().map(|&k| cell(k)).collect(),
        total: cell(items.total),
        columns: truth.iter().map(|(q, _)| q.to_string()).collect(),
        rows: bands,
    })
}
