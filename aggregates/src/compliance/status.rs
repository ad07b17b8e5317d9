//! Where one notification stands against its deadline on a given date.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::deadline::{days_between, due_date, DeadlineError, DeadlinePolicy};

/// What is known about one notification's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationClock {
    /// CT date the unit received the complaint (the routing date for a public
    /// report routed to the unit).
    pub received_on: Date,
    /// CT date the standardized form was filed (or linked to an existing case).
    pub filed_on: Option<Date>,
    /// The case was opened by a logged complaint (or routed public report)
    /// rather than by the form itself.
    pub opened_by_complaint: bool,
}

/// Deadline status as of a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ComplianceStatus {
    /// Filed on or before the due date.
    OnTime,
    /// Filed after the due date.
    Late { days: u32 },
    /// Not filed yet; more than the due-soon threshold remains.
    Pending { due_in_days: u32 },
    /// Not filed yet; the due date is within the threshold (0 = due today).
    DueSoon { due_in_days: u32 },
    /// Not filed and past the due date.
    Overdue { days: u32 },
}

/// The full assessment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compliance {
    pub received_on: Date,
    pub due_on: Date,
    pub status: ComplianceStatus,
    /// "Incomplete form": a complaint is on record but no form has been filed
    /// as of the date asked about. Combined with `status` this says whether
    /// the unit is still inside the deadline or past it.
    pub incomplete_form: bool,
}

impl Compliance {
    /// A short plain-language label for tables.
    pub fn label(&self) -> String {
        let clock = match self.status {
            ComplianceStatus::OnTime => "on time".to_string(),
            ComplianceStatus::Late { days } => format!("late by {days} day(s)"),
            ComplianceStatus::Pending { due_in_days } => {
                format!("pending, due in {due_in_days} day(s)")
            }
            ComplianceStatus::DueSoon { due_in_days: 0 } => "due today".to_string(),
            ComplianceStatus::DueSoon { due_in_days } => {
                format!("due soon, in {due_in_days} day(s)")
            }
            ComplianceStatus::Overdue { days } => format!("overdue by {days} day(s)"),
        };
        if self.incomplete_form {
            format!("incomplete form ({clock})")
        } else {
            clock
        }
    }
}

fn clamp(days: i64) -> u32 {
    u32::try_from(days.max(0)).unwrap_or(u32::MAX)
}

/// Assesses one notification as of `as_of` (a CT date). A form filed after
/// `as_of` counts as not yet filed, so historical snapshots are honest.
pub fn assess(
    clock: &NotificationClock,
    as_of: Date,
    policy: &DeadlinePolicy,
) -> Result<Compliance, DeadlineError> {
    let due_on = due_date(clock.received_on, policy)?;
    let filed = clock.filed_on.filter(|f| *f <= as_of);
    let status = match filed {
        Some(filed_on) if filed_on <= due_on => ComplianceStatus::OnTime,
        Some(filed_on) => ComplianceStatus::Late {
            days: clamp(days_between(due_on, filed_on)),
        },
        None => {
            let remaining = days_between(as_of, due_on);
            if remaining < 0 {
                ComplianceStatus::Overdue {
                    days: clamp(-remaining),
                }
            } else if remaining <= i64::from(policy.due_soon_days) {
                ComplianceStatus::DueSoon {
                    due_in_days: clamp(remaining),
                }
            } else {
                ComplianceStatus::Pending {
                    due_in_days: clamp(remaining),
                }
            }
        }
    };
    Ok(Compliance {
        received_on: clock.received_on,
        due_on,
        status,
        incomplete_form: clock.opened_by_complaint && filed.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn clock(received: Date, filed: Option<Date>, complaint: bool) -> NotificationClock {
        NotificationClock {
            received_on: received,
            filed_on: filed,
            opened_by_complaint: complaint,
        }
    }

    #[test]
    fn each_status() {
        let p = DeadlinePolicy::default();
        let r = date(2024, 9, 1); // due 2024-09-15
        let a = |c: NotificationClock, as_of| assess(&c, as_of, &p).unwrap();
        assert_eq!(
            a(clock(r, Some(date(2024, 9, 15)), false), date(2024, 12, 1)).status,
            ComplianceStatus::OnTime
        );
        assert_eq!(
            a(clock(r, Some(date(2024, 9, 18)), false), date(2024, 12, 1)).status,
            ComplianceStatus::Late { days: 3 }
        );
        assert_eq!(
            a(clock(r, None, true), date(2024, 9, 5)).status,
            ComplianceStatus::Pending { due_in_days: 10 }
        );
        assert_eq!(
            a(clock(r, None, true), date(2024, 9, 12)).status,
            ComplianceStatus::DueSoon { due_in_days: 3 }
        );
        assert_eq!(
            a(clock(r, None, true), date(2024, 9, 15)).status,
            ComplianceStatus::DueSoon { due_in_days: 0 }
        );
        assert_eq!(
            a(clock(r, None, true), date(2024, 9, 20)).status,
            ComplianceStatus::Overdue { days: 5 }
        );
    }

    #[test]
    fn incomplete_form_inside_and_past_the_deadline() {
        let p = DeadlinePolicy::default();
        let c = clock(date(2024, 9, 1), Some(date(2024, 9, 25)), true);
        let inside = assess(&c, date(2024, 9, 10), &p).unwrap();
        assert!(inside.incomplete_form);
        assert_eq!(inside.label(), "incomplete form (pending, due in 5 day(s))");
        let past = assess(&c, date(2024, 9, 20), &p).unwrap();
        assert!(past.incomplete_form);
        assert_eq!(past.status, ComplianceStatus::Overdue { days: 5 });
        let later = assess(&c, date(2024, 10, 1), &p).unwrap();
        assert!(!later.incomplete_form);
        assert_eq!(later.status, ComplianceStatus::Late { days: 10 });
    }

    #[test]
    fn due_soon_threshold_is_configurable() {
        let p = DeadlinePolicy {
            due_soon_days: 7,
            ..DeadlinePolicy::default()
        };
        let c = clock(date(2024, 9, 1), None, false);
        assert_eq!(
            assess(&c, date(2024, 9, 8), &p).unwrap().status,
            ComplianceStatus::DueSoon { due_in_days: 7 }
        );
    }

    #[test]
    fn rolled_due_date_changes_on_time_verdict() {
        // Received 2024-12-11, due Christmas; filed 12-26.
        let c = clock(date(2024, 12, 11), Some(date(2024, 12, 26)), false);
        let off = DeadlinePolicy::default();
        let on = DeadlinePolicy {
            roll_to_business_day: true,
            ..off
        };
        assert_eq!(
            assess(&c, date(2025, 1, 5), &off).unwrap().status,
            ComplianceStatus::Late { days: 1 }
        );
        assert_eq!(
            assess(&c, date(2025, 1, 5), &on).unwrap().status,
            ComplianceStatus::OnTime
        );
    }
}
