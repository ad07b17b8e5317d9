//! The second clock of C.G.S. 29-7e(c): after the notification, a unit keeps sharing
//! information with the Task Force as the investigation goes on. While a case is open
//! with its unit, an update (a share from the unit to the Task Force) is due every N
//! days (the case's cadence, 30 by default) after the notification or the unit's last
//! update, and an update is due soon after an arrest and after the closure. Pure date
//! arithmetic, like the 14-day rule.

use jiff::civil::Date;
use jiff::Span;
use serde::{Deserialize, Serialize};

/// Days between updates when a case sets no cadence of its own.
pub const DEFAULT_CADENCE_DAYS: u32 = 30;
/// Longest cadence a case may set.
pub const MAX_CADENCE_DAYS: u32 = 365;

/// How the sharing clock runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingPolicy {
    /// Cadence of a case that set none.
    pub default_cadence_days: u32,
    /// Days after an arrest or the closure by which the unit's update is due.
    pub event_update_days: u32,
    /// "Due soon" when at most this many days remain.
    pub due_soon_days: u32,
}

impl Default for SharingPolicy {
    fn default() -> Self {
        Self {
            default_cadence_days: DEFAULT_CADENCE_DAYS,
            event_update_days: 3,
            due_soon_days: 3,
        }
    }
}

/// A cadence outside 1 to [`MAX_CADENCE_DAYS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "cadence_days must be 1 to {MAX_CADENCE_DAYS} (got {0}): an update every 0 days is no cadence"
)]
pub struct CadenceError(pub u32);

/// A checked cadence.
pub fn check_cadence(days: u32) -> Result<u32, CadenceError> {
    if days == 0 || days > MAX_CADENCE_DAYS {
        Err(CadenceError(days))
    } else {
        Ok(days)
    }
}

/// What one case's sharing clock needs, all Connecticut dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingClock {
    /// The notification was filed (the clock starts).
    pub notified_on: Date,
    /// The case's own cadence, if it set one.
    pub cadence_days: Option<u32>,
    /// Dates of the unit's shares to the Task Force, any order.
    pub unit_updates: Vec<Date>,
    /// Dates arrests were made.
    pub arrests: Vec<Date>,
    /// The case was closed (last closure, if reopened and closed again).
    pub closed_on: Option<Date>,
}

/// Why the next update is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueFor {
    Cadence,
    Arrest,
    Closure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SharingStatus {
    /// The next update is more than the due-soon window away.
    Current {
        due_in_days: u32,
    },
    /// Due within the window (0 = due today).
    DueSoon {
        due_in_days: u32,
    },
    Overdue {
        days: u32,
    },
    /// Closed, and the unit's update after the closure is in: nothing more is owed.
    Complete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingAssessment {
    pub cadence_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_for: Option<DueFor>,
    pub status: SharingStatus,
}

impl SharingAssessment {
    pub fn label(&self) -> String {
        match self.status {
            SharingStatus::Current { due_in_days } => {
                format!("current, next update in {due_in_days} day(s)")
            }
            SharingStatus::DueSoon { due_in_days: 0 } => "update due today".to_owned(),
            SharingStatus::DueSoon { due_in_days } => {
                format!("update due soon, in {due_in_days} day(s)")
            }
            SharingStatus::Overdue { days } => format!("update overdue by {days} day(s)"),
            SharingStatus::Complete => "closed, final update shared".to_owned(),
        }
    }
}

fn plus(d: Date, days: u32) -> Date {
    d.checked_add(Span::new().days(i64::from(days)))
        .unwrap_or(Date::MAX)
}

/// Where the sharing clock stands on `as_of`; `None` before the notification. Events
/// after `as_of` are not known yet, so a past date shows what was true then.
pub fn assess_sharing(
    clock: &SharingClock,
    as_of: Date,
    policy: &SharingPolicy,
) -> Option<SharingAssessment> {
    if clock.notified_on > as_of {
        return None;
    }
    let cadence = clock
        .cadence_days
        .unwrap_or(policy.default_cadence_days)
        .max(1);
    let last = clock
        .unit_updates
        .iter()
        .copied()
        .filter(|d| *d <= as_of)
        .max();
    let answered = |event: Date| last.is_some_and(|l| l >= event);
    let closed = clock.closed_on.filter(|d| *d <= as_of);
    let mut due: Vec<(Date, DueFor)> = Vec::new();
    match closed {
        Some(c) if answered(c) => {
            return Some(SharingAssessment {
                cadence_days: cadence,
                last_update_on: last,
                due_on: None,
                due_for: None,
                status: SharingStatus::Complete,
            })
        }
        Some(c) => due.push((plus(c, policy.event_update_days), DueFor::Closure)),
        None => {
            let since = last.map_or(clock.notified_on, |l| l.max(clock.notified_on));
            due.push((plus(since, cadence), DueFor::Cadence));
        }
    }
    for a in clock
        .arrests
        .iter()
        .copied()
        .filter(|a| *a <= as_of && !answered(*a))
    {
        due.push((plus(a, policy.event_update_days), DueFor::Arrest));
    }
    let (due_on, due_for) = due.into_iter().min()?;
    let left = super::deadline::days_between(as_of, due_on);
    let clamp = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
    let status = if left < 0 {
        SharingStatus::Overdue { days: clamp(-left) }
    } else if left <= i64::from(policy.due_soon_days) {
        SharingStatus::DueSoon {
            due_in_days: clamp(left),
        }
    } else {
        SharingStatus::Current {
            due_in_days: clamp(left),
        }
    };
    Some(SharingAssessment {
        cadence_days: cadence,
        last_update_on: last,
        due_on: Some(due_on),
        due_for: Some(due_for),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn clock() -> SharingClock {
        SharingClock {
            notified_on: date(2026, 1, 10),
            cadence_days: None,
            unit_updates: Vec::new(),
            arrests: Vec::new(),
            closed_on: None,
        }
    }

    fn status(c: &SharingClock, on: Date) -> SharingStatus {
        assess_sharing(c, on, &SharingPolicy::default())
            .unwrap()
            .status
    }

    #[test]
    fn every_thirty_days_at_the_edges() {
        let c = clock();
        assert!(assess_sharing(&c, date(2026, 1, 9), &SharingPolicy::default()).is_none());
        // Due 2026-02-09: current up to 4 days before, due soon from 3, overdue after.
        assert_eq!(
            status(&c, date(2026, 2, 5)),
            SharingStatus::Current { due_in_days: 4 }
        );
        assert_eq!(
            status(&c, date(2026, 2, 6)),
            SharingStatus::DueSoon { due_in_days: 3 }
        );
        assert_eq!(
            status(&c, date(2026, 2, 9)),
            SharingStatus::DueSoon { due_in_days: 0 }
        );
        assert_eq!(
            status(&c, date(2026, 2, 10)),
            SharingStatus::Overdue { days: 1 }
        );
        // An update restarts the cadence from its date; a later update is not known yet.
        let mut c = clock();
        c.unit_updates = vec![date(2026, 2, 9), date(2026, 3, 20)];
        assert_eq!(
            status(&c, date(2026, 2, 10)),
            SharingStatus::Current { due_in_days: 29 }
        );
        assert_eq!(
            status(&c, date(2026, 3, 12)),
            SharingStatus::Overdue { days: 1 }
        );
        // A case's own cadence.
        let mut c = clock();
        c.cadence_days = Some(7);
        assert_eq!(
            status(&c, date(2026, 1, 17)),
            SharingStatus::DueSoon { due_in_days: 0 }
        );
        assert_eq!(
            status(&c, date(2026, 1, 18)),
            SharingStatus::Overdue { days: 1 }
        );
    }

    #[test]
    fn arrest_and_closure_call_for_an_update() {
        let mut c = clock();
        c.arrests = vec![date(2026, 1, 20)];
        let a = assess_sharing(&c, date(2026, 1, 24), &SharingPolicy::default()).unwrap();
        assert_eq!(a.due_on, Some(date(2026, 1, 23)));
        assert_eq!(a.due_for, Some(DueFor::Arrest));
        assert_eq!(a.status, SharingStatus::Overdue { days: 1 });
        c.unit_updates = vec![date(2026, 1, 21)];
        let a = assess_sharing(&c, date(2026, 1, 24), &SharingPolicy::default()).unwrap();
        assert_eq!(
            (a.due_on, a.due_for),
            (Some(date(2026, 2, 20)), Some(DueFor::Cadence))
        );
        c.closed_on = Some(date(2026, 2, 1));
        let a = assess_sharing(&c, date(2026, 2, 4), &SharingPolicy::default()).unwrap();
        assert_eq!(
            (a.due_for, a.status),
            (
                Some(DueFor::Closure),
                SharingStatus::DueSoon { due_in_days: 0 }
            )
        );
        assert_eq!(
            status(&c, date(2026, 2, 5)),
            SharingStatus::Overdue { days: 1 }
        );
        c.unit_updates.push(date(2026, 2, 2));
        assert_eq!(status(&c, date(2026, 2, 5)), SharingStatus::Complete);
    }

    #[test]
    fn cadence_zero_is_refused() {
        assert_eq!(check_cadence(0), Err(CadenceError(0)));
        assert_eq!(check_cadence(366), Err(CadenceError(366)));
        assert_eq!(check_cadence(1), Ok(1));
    }
}
