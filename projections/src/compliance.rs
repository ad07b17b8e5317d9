//! The 14-day rule (29-7e(c)) per notification and per unit, as of a date.
//! The arithmetic is `icac_aggregates::compliance`; this module only decides
//! which clocks exist and groups the verdicts.

use std::collections::BTreeMap;

use icac_aggregates::compliance::deadline::DeadlineError;
use icac_aggregates::compliance::{
    assess, Compliance, ComplianceStatus, DeadlinePolicy, NotificationClock,
};
use icac_aggregates::ids::{CaseId, Ori};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::case_view::CaseView;

/// One notification's standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationCompliance {
    pub case_id: CaseId,
    pub unit: Ori,
    pub received_on: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed_on: Option<Date>,
    pub due_on: Date,
    pub status: ComplianceStatus,
    pub incomplete_form: bool,
    pub label: String,
}

/// Counts per unit; every notification lands in exactly one of the five
/// status counts, and `incomplete_form` counts across them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitCompliance {
    pub unit: Option<Ori>,
    pub notifications: u64,
    pub on_time: u64,
    pub late: u64,
    pub pending: u64,
    pub due_soon: u64,
    pub overdue: u64,
    pub incomplete_form: u64,
}

impl UnitCompliance {
    fn add(&mut self, c: &NotificationCompliance) {
        self.notifications += 1;
        match c.status {
            ComplianceStatus::OnTime => self.on_time += 1,
            ComplianceStatus::Late { .. } => self.late += 1,
            ComplianceStatus::Pending { .. } => self.pending += 1,
            ComplianceStatus::DueSoon { .. } => self.due_soon += 1,
            ComplianceStatus::Overdue { .. } => self.overdue += 1,
        }
        if c.incomplete_form {
            self.incomplete_form += 1;
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplianceReport {
    pub as_of: Date,
    pub policy: DeadlinePolicy,
    /// [`DeadlinePolicy::statement`]: the policy in words, in every answer.
    #[serde(default)]
    pub policy_statement: String,
    pub notifications: Vec<NotificationCompliance>,
    pub units: Vec<UnitCompliance>,
    pub total: UnitCompliance,
}

/// Assesses one case as of `as_of`, or `None` when the case had not been
/// received by then (a clock that has not started yet).
pub fn assess_case(
    case: &CaseView,
    as_of: Date,
    policy: &DeadlinePolicy,
) -> Result<Option<NotificationCompliance>, DeadlineError> {
    assess_clock(
        &case.case_id,
        &case.reporting_unit,
        &case.notification_clock(),
        as_of,
        policy,
    )
}

/// [`assess_case`] from the clock alone (what a view table keeps in columns).
pub fn assess_clock(
    case_id: &CaseId,
    unit: &Ori,
    clock: &NotificationClock,
    as_of: Date,
    policy: &DeadlinePolicy,
) -> Result<Option<NotificationCompliance>, DeadlineError> {
    if clock.received_on > as_of {
        return Ok(None);
    }
    let assessed: Compliance = assess(clock, as_of, policy)?;
    Ok(Some(NotificationCompliance {
        case_id: case_id.clone(),
        unit: unit.clone(),
        received_on: assessed.received_on,
        filed_on: clock.filed_on.filter(|f| *f <= as_of),
        due_on: assessed.due_on,
        status: assessed.status,
        incomplete_form: assessed.incomplete_form,
        label: assessed.label(),
    }))
}

/// Every notification clock among `cases` as of `as_of`, optionally for one
/// unit, ordered by unit then case id; with per-unit and overall counts.
pub fn compliance<'a>(
    cases: impl IntoIterator<Item = &'a CaseView>,
    as_of: Date,
    policy: &DeadlinePolicy,
    unit: Option<&Ori>,
) -> Result<ComplianceReport, DeadlineError> {
    let mut tally = ComplianceTally::new(true);
    for case in cases {
        if unit.is_some_and(|u| *u != case.reporting_unit) {
            continue;
        }
        if let Some(row) = assess_case(case, as_of, policy)? {
            tally.add(row);
        }
    }
    Ok(tally.finish(as_of, policy))
}

/// A [`ComplianceReport`] built one notification at a time, in any order, so a
/// caller can stream the cases rather than hold them. Without rows it keeps only
/// the counts (one entry per unit).
#[derive(Debug, Clone, Default)]
pub struct ComplianceTally {
    keep_rows: bool,
    rows: Vec<NotificationCompliance>,
    by_unit: BTreeMap<Ori, UnitCompliance>,
    total: UnitCompliance,
}

impl ComplianceTally {
    pub fn new(keep_rows: bool) -> Self {
        Self {
            keep_rows,
            ..Self::default()
        }
    }

    pub fn add(&mut self, row: NotificationCompliance) {
        self.by_unit
            .entry(row.unit.clone())
            .or_insert_with(|| UnitCompliance {
                unit: Some(row.unit.clone()),
                ..UnitCompliance::default()
            })
            .add(&row);
        self.total.add(&row);
        if self.keep_rows {
            self.rows.push(row);
        }
    }

    /// The report: rows (if kept) ordered by unit then case id, units by ORI.
    pub fn finish(mut self, as_of: Date, policy: &DeadlinePolicy) -> ComplianceReport {
        self.rows
            .sort_by(|a, b| (&a.unit, &a.case_id).cmp(&(&b.unit, &b.case_id)));
        ComplianceReport {
            as_of,
            policy: *policy,
            policy_statement: policy.statement(),
            notifications: self.rows,
            units: self.by_unit.into_values().collect(),
            total: self.total,
        }
    }
}
