//! Continued sharing (29-7e(c), second sentence) across cases: which unit owes the Task
//! Force an update, as of a date, with counts per unit, the way the 14-day report does.

use std::collections::BTreeMap;

use icac_aggregates::compliance::sharing::{assess_sharing, DueFor, SharingPolicy, SharingStatus};
use icac_aggregates::ids::{CaseId, Ori};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::case_view::CaseView;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingRow {
    pub case_id: CaseId,
    pub unit: Ori,
    pub cadence_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_for: Option<DueFor>,
    pub status: SharingStatus,
    pub label: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingCounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Ori>,
    pub cases: u64,
    pub current: u64,
    pub due_soon: u64,
    pub overdue: u64,
    pub complete: u64,
}

impl SharingCounts {
    fn add(&mut self, s: &SharingStatus) {
        self.cases += 1;
        match s {
            SharingStatus::Current { .. } => self.current += 1,
            SharingStatus::DueSoon { .. } => self.due_soon += 1,
            SharingStatus::Overdue { .. } => self.overdue += 1,
            SharingStatus::Complete => self.complete += 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingReport {
    pub as_of: Date,
    pub policy: SharingPolicy,
    /// Rows, unit then case id (empty when only counts were asked for).
    pub cases: Vec<SharingRow>,
    pub units: Vec<SharingCounts>,
    pub total: SharingCounts,
}

/// One case's sharing standing as of `as_of`, `None` before its notification.
pub fn assess_case(case: &CaseView, as_of: Date, policy: &SharingPolicy) -> Option<SharingRow> {
    let a = assess_sharing(&case.sharing_clock()?, as_of, policy)?;
    Some(SharingRow {
        case_id: case.case_id.clone(),
        unit: case.reporting_unit.clone(),
        cadence_days: a.cadence_days,
        last_update_on: a.last_update_on,
        due_on: a.due_on,
        due_for: a.due_for,
        status: a.status,
        label: a.label(),
    })
}

/// A report built a case at a time (so a caller can stream the views).
#[derive(Debug, Default)]
pub struct SharingTally {
    keep_rows: bool,
    rows: Vec<SharingRow>,
    by_unit: BTreeMap<Ori, SharingCounts>,
    total: SharingCounts,
}

impl SharingTally {
    pub fn new(keep_rows: bool) -> Self {
        Self {
            keep_rows,
            ..Self::default()
        }
    }

    pub fn add(&mut self, row: SharingRow) {
        self.by_unit
            .entry(row.unit.clone())
            .or_insert_with(|| SharingCounts {
                unit: Some(row.unit.clone()),
                ..SharingCounts::default()
            })
            .add(&row.status);
        self.total.add(&row.status);
        if self.keep_rows {
            self.rows.push(row);
        }
    }

    pub fn finish(mut self, as_of: Date, policy: &SharingPolicy) -> SharingReport {
        self.rows
            .sort_by(|a, b| (&a.unit, &a.case_id).cmp(&(&b.unit, &b.case_id)));
        SharingReport {
            as_of,
            policy: *policy,
            cases: self.rows,
            units: self.by_unit.into_values().collect(),
            total: self.total,
        }
    }
}

/// Every case's sharing clock, optionally for one unit.
pub fn sharing<'a>(
    cases: impl IntoIterator<Item = &'a CaseView>,
    as_of: Date,
    policy: &SharingPolicy,
    unit: Option<&Ori>,
) -> SharingReport {
    let mut tally = SharingTally::new(true);
    for case in cases {
        if unit.is_some_and(|u| *u != case.reporting_unit) {
            continue;
        }
        if let Some(row) = assess_case(case, as_of, policy) {
            tally.add(row);
        }
    }
    tally.finish(as_of, policy)
}
