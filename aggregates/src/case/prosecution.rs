//! What became of an arrest in court: charges filed, then a conviction, a dismissal
//! or a nolle. A nolle starts the erasure clock of C.G.S. 54-142a(c): the records of
//! a nolled charge are erased thirteen months after the nolle, so its date is
//! recorded and the date erasure becomes due is derived from it.

use jiff::civil::Date;
use jiff::{Span, Timestamp};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::CaseError;

/// Months after a nolle when erasure is due (C.G.S. 54-142a(c)).
pub const NOLLE_ERASURE_MONTHS: i64 = 13;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProsecutionOutcome {
    ChargesFiled,
    Convicted,
    Dismissed,
    Nolle,
}

impl ProsecutionOutcome {
    pub const ALL: [Self; 4] = [
        Self::ChargesFiled,
        Self::Convicted,
        Self::Dismissed,
        Self::Nolle,
    ];

    /// A conviction, dismissal or nolle ends the prosecution of that arrest.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::ChargesFiled)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordProsecutionOutcome {
    pub arrest_number: u32,
    pub outcome: ProsecutionOutcome,
    /// Connecticut date of the filing, verdict, dismissal or nolle.
    pub decided_on: Date,
    pub recorded_at: Timestamp,
}

/// One outcome as the case keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeEntry {
    pub outcome: ProsecutionOutcome,
    pub decided_on: Date,
}

/// When erasure of a nolled charge's records becomes due.
pub fn erasure_due_on(nolle_on: Date) -> Option<Date> {
    nolle_on
        .checked_add(Span::new().months(NOLLE_ERASURE_MONTHS))
        .ok()
}

/// `outcome` may follow `so_far` for an arrest made on `arrested_on`.
pub(super) fn check(
    arrested_on: Date,
    so_far: &[OutcomeEntry],
    c: &RecordProsecutionOutcome,
) -> Result<(), CaseError> {
    if c.decided_on < arrested_on {
        return Err(CaseError::OutcomeBeforeArrest {
            decided_on: c.decided_on,
            arrested_on,
        });
    }
    if let Some(last) = so_far.last() {
        if last.outcome.is_final() {
            return Err(CaseError::ProsecutionConcluded(c.arrest_number));
        }
        if c.decided_on < last.decided_on {
            return Err(CaseError::OutcomeBeforeEarlierOutcome {
                decided_on: c.decided_on,
                earlier: last.decided_on,
            });
        }
        if last.outcome == c.outcome {
            return Err(CaseError::OutcomeAlreadyRecorded(c.arrest_number));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn thirteen_months_after_a_nolle() {
        assert_eq!(erasure_due_on(date(2026, 1, 15)), Some(date(2027, 2, 15)));
        // The end of a short month clamps.
        assert_eq!(erasure_due_on(date(2026, 1, 31)), Some(date(2027, 2, 28)));
    }
}
