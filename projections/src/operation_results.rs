//! An operation's results as the ledger holds them: the cases linked to it and what
//! happened in those cases (arrests, referrals, prosecution outcomes), never numbers
//! typed in at its conclusion. An operation that has not concluded is in progress and
//! its results so far are shown as such.

use std::collections::BTreeMap;

use icac_aggregates::case::{CaseStatus, ProsecutionOutcome};
use icac_aggregates::ids::{CaseId, OperationId};
use icac_aggregates::operation::OperationStage;
use serde::{Deserialize, Serialize};

use crate::case_view::CaseView;
use crate::operations::OperationView;

/// Prosecution outcomes of the arrests in an operation's cases, each arrest counted
/// once under its latest outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub charges_filed: u64,
    pub convicted: u64,
    pub dismissed: u64,
    pub nolle: u64,
    /// Arrests with no outcome recorded yet.
    pub pending: u64,
}

impl OutcomeCounts {
    fn add(&mut self, latest: Option<ProsecutionOutcome>) {
        let slot = match latest {
            None => &mut self.pending,
            Some(ProsecutionOutcome::ChargesFiled) => &mut self.charges_filed,
            Some(ProsecutionOutcome::Convicted) => &mut self.convicted,
            Some(ProsecutionOutcome::Dismissed) => &mut self.dismissed,
            Some(ProsecutionOutcome::Nolle) => &mut self.nolle,
        };
        *slot += 1;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationResults {
    /// Concluded is "false" until the operation's conclusion is recorded: the figures
    /// are then the results so far.
    pub in_progress: bool,
    /// Cases linked to the operation, by id.
    pub linked_cases: Vec<CaseId>,
    /// Linked cases that were opened for investigation (reached "investigating").
    pub cases_opened: u64,
    pub arrests: u64,
    pub referrals: u64,
    pub outcomes: OutcomeCounts,
}

impl OperationResults {
    fn add_case(&mut self, case: &CaseView) {
        self.linked_cases.push(case.case_id.clone());
        if case
            .status_log
            .iter()
            .any(|s| s.to == CaseStatus::Investigating)
        {
            self.cases_opened += 1;
        }
        self.arrests += case.arrests.len() as u64;
        self.referrals += case.referrals.len() as u64;
        for a in &case.arrests {
            self.outcomes.add(a.outcomes.last().map(|o| o.outcome));
        }
    }
}

/// Every operation's results from the cases linked to it. A case linked to an
/// operation the ledger does not hold (only possible before links were checked) is
/// left out: results come from what both records agree on.
pub fn results<'a>(
    operations: impl IntoIterator<Item = &'a OperationView>,
    cases: impl IntoIterator<Item = &'a CaseView>,
) -> BTreeMap<OperationId, OperationResults> {
    let mut out: BTreeMap<OperationId, OperationResults> = operations
        .into_iter()
        .map(|o| {
            let r = OperationResults {
                in_progress: o.stage != OperationStage::Concluded,
                ..OperationResults::default()
            };
            (o.operation_id.clone(), r)
        })
        .collect();
    for case in cases {
        for op in &case.operations {
            if let Some(r) = out.get_mut(op) {
                r.add_case(case);
            }
        }
    }
    for r in out.values_mut() {
        r.linked_cases.sort();
        r.linked_cases.dedup();
    }
    out
}
