//! The report's section on the investigative (sting) unit of 29-7e(a)(1), for the
//! question 29-7e(d) asks: should the unit be extended? Its activity and results by
//! calendar quarter since it was created (operations conducted, and in the cases linked
//! to its operations: cases opened, arrests, referrals, prosecution outcomes), every
//! figure from the ledger's events, with the recommendation beside them.

use std::collections::BTreeMap;

use icac_aggregates::case::{CaseStatus, ProsecutionOutcome};
use icac_aggregates::local_time::ct_date;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::case_view::CaseView;
use crate::operation_results;
use crate::operations::OperationView;
use crate::read_models::ReadModels;
use crate::victim_counts::quarter;

/// When the unit was created: the effective date of the act that created it, unless
/// the report is told otherwise.
pub const DEFAULT_CREATED_ON: Date = jiff::civil::date(2024, 7, 1);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarterActivity {
    pub year: i16,
    pub quarter: i8,
    /// Operations whose conduct started in the quarter.
    pub operations_conducted: u64,
    /// Linked cases first moved to "investigating" in the quarter.
    pub cases_opened: u64,
    /// Arrests in linked cases with an arrest date in the quarter.
    pub arrests: u64,
    /// Referrals from linked cases dated in the quarter.
    pub referrals: u64,
    pub charges_filed: u64,
    pub convictions: u64,
    pub dismissals: u64,
    pub nolles: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StingUnitSection {
    pub created_on: Date,
    pub through: Date,
    /// Every quarter from the creation to `through`, oldest first (quarters with no
    /// activity included: a quiet quarter is a result too).
    pub quarters: Vec<QuarterActivity>,
    pub totals: QuarterActivity,
    /// Operations not concluded by `through`: their results are results so far.
    pub operations_in_progress: u64,
    /// The recommendation on extending the unit, beside the figures that support it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<String>,
    /// Set when the report was published without a recommendation, which needs an
    /// explicit choice (`report annual --without-recommendation`).
    pub published_without_recommendation: bool,
}

fn key(d: Date) -> (i16, i8) {
    (d.year(), quarter(d))
}

fn add(q: &mut QuarterActivity, other: &QuarterActivity) {
    q.operations_conducted += other.operations_conducted;
    q.cases_opened += other.cases_opened;
    q.arrests += other.arrests;
    q.referrals += other.referrals;
    q.charges_filed += other.charges_filed;
    q.convictions += other.convictions;
    q.dismissals += other.dismissals;
    q.nolles += other.nolles;
}

/// The quarters of the section, each reachable by a date inside the covered span.
struct Quarters {
    by: BTreeMap<(i16, i8), QuarterActivity>,
    created_on: Date,
    through: Date,
}

impl Quarters {
    /// Every quarter from `created_on` through `through`, each empty, the quarter of
    /// `through` included even when the three-month steps skip past it.
    fn new(created_on: Date, through: Date) -> Self {
        let mut by: BTreeMap<(i16, i8), QuarterActivity> = BTreeMap::new();
        let mut d = created_on;
        while d <= through {
            by.insert(
                key(d),
                QuarterActivity {
                    year: d.year(),
                    quarter: quarter(d),
                    ..Default::default()
                },
            );
            d = match d.checked_add(jiff::Span::new().months(3)) {
                Ok(n) => n,
                Err(_) => break,
            };
        }
        by.entry(key(through)).or_insert(QuarterActivity {
            year: through.year(),
            quarter: quarter(through),
            ..Default::default()
        });
        Self {
            by,
            created_on,
            through,
        }
    }

    fn slot(&mut self, d: Date) -> Option<&mut QuarterActivity> {
        if d < self.created_on || d > self.through {
            return None;
        }
        self.by.get_mut(&key(d))
    }

    /// Counts each operation in the quarter its conduct started; returns how many
    /// were planned to start by `through` and not concluded by then.
    fn count_operations<'a>(&mut self, operations: impl Iterator<Item = &'a OperationView>) -> u64 {
        let through = self.through;
        let mut in_progress = 0;
        for o in operations {
            if let Some(started) = o.started_on {
                if let Some(row) = self.slot(started) {
                    row.operations_conducted += 1;
                }
            }
            if o.concluded_on.is_none_or(|c| c > through) && o.planned_start <= through {
                in_progress += 1;
            }
        }
        in_progress
    }

    /// One case linked to an operation: when it was first investigated, its arrests
    /// and their outcomes, its referrals, each in the quarter of its own date.
    fn count_linked_case(&mut self, case: &CaseView) {
        if let Some(s) = case
            .status_log
            .iter()
            .find(|s| s.to == CaseStatus::Investigating)
        {
            if let Some(row) = self.slot(ct_date(s.recorded_at)) {
                row.cases_opened += 1;
            }
        }
        for a in &case.arrests {
            if let Some(row) = self.slot(a.arrested_on) {
                row.arrests += 1;
            }
            for o in &a.outcomes {
                if let Some(row) = self.slot(o.decided_on) {
                    match o.outcome {
                        ProsecutionOutcome::ChargesFiled => row.charges_filed += 1,
                        ProsecutionOutcome::Convicted => row.convictions += 1,
                        ProsecutionOutcome::Dismissed => row.dismissals += 1,
                        ProsecutionOutcome::Nolle => row.nolles += 1,
                    }
                }
            }
        }
        for r in &case.referrals {
            if let Some(row) = self.slot(r.referred_on) {
                row.referrals += 1;
            }
        }
    }
}

/// The section from models folded to the report's position.
pub fn compute(
    models: &ReadModels,
    created_on: Date,
    through: Date,
    recommendation: Option<String>,
) -> StingUnitSection {
    let mut q = Quarters::new(created_on, through);
    let in_progress = q.count_operations(models.operations.values());
    let results = operation_results::results(models.operations.values(), models.cases.values());
    let linked: std::collections::BTreeSet<_> = results
        .values()
        .flat_map(|r| r.linked_cases.iter().cloned())
        .collect();
    for case in linked.iter().filter_map(|id| models.cases.get(id)) {
        q.count_linked_case(case);
    }
    let quarters: Vec<QuarterActivity> = q.by.into_values().collect();
    let mut totals = QuarterActivity::default();
    for row in &quarters {
        add(&mut totals, row);
    }
    StingUnitSection {
        created_on,
        through,
        quarters,
        totals,
        operations_in_progress: in_progress,
        published_without_recommendation: recommendation.is_none(),
        recommendation,
    }
}
