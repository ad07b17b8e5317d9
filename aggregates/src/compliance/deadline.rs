//! When the initial notification is due.
//!
//! Connecticut counts a statutory period by excluding the triggering day and
//! counting whole calendar days, so the due date is the received date plus
//! 14 days. No general statute moves a deadline off a weekend; one old case
//! accepted a filing on the next day when the last day was a legal holiday,
//! so rolling is a policy switch, off by default. When it is on, the legal
//! holidays are those of C.G.S. 1-4 as written, Saturday holidays observed on
//! the Friday before.

use jiff::civil::Date;
use jiff::Span;
use serde::{Deserialize, Serialize};

use super::holidays::{is_business_day, ObservanceRules};

/// Calendar days a unit has to notify the Task Force (29-7e(c)).
pub const NOTIFICATION_DAYS: i32 = 14;

/// How the due date is computed and when "due soon" begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlinePolicy {
    /// Move a due date that falls on a weekend or CT legal holiday to the
    /// next business day.
    pub roll_to_business_day: bool,
    pub observance: ObservanceRules,
    /// An open notification is "due soon" when at most this many days remain.
    pub due_soon_days: u32,
}

impl Default for DeadlinePolicy {
    fn default() -> Self {
        Self {
            roll_to_business_day: false,
            observance: ObservanceRules::default(),
            due_soon_days: 3,
        }
    }
}

/// Largest "due soon" window a policy may set: the whole 14-day period.
pub const MAX_DUE_SOON_DAYS: u32 = NOTIFICATION_DAYS as u32;

/// A policy that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("due_soon_days must be 0 to {MAX_DUE_SOON_DAYS} (got {0})")]
    DueSoonDays(u32),
}

impl DeadlinePolicy {
    /// The policy, checked at the boundary where it comes in (CLI, API, config).
    pub fn new(
        roll_to_business_day: bool,
        saturday_to_friday: bool,
        due_soon_days: u32,
    ) -> Result<Self, PolicyError> {
        if due_soon_days > MAX_DUE_SOON_DAYS {
            return Err(PolicyError::DueSoonDays(due_soon_days));
        }
        Ok(Self {
            roll_to_business_day,
            observance: ObservanceRules {
                saturday_to_friday,
                ..ObservanceRules::default()
            },
            due_soon_days,
        })
    }

    /// The policy in one sentence, stated beside every answer computed under it
    /// so that a reader knows which due dates the figures assume.
    pub fn statement(&self) -> String {
        let roll = if self.roll_to_business_day {
            "a due date on a weekend or a Connecticut legal holiday (C.G.S. 1-4) moves to the next business day"
        } else {
            "a due date on a weekend or holiday does not move"
        };
        let saturday = if self.observance.saturday_to_friday {
            "a Saturday holiday is observed on the Friday before (C.G.S. 1-4)"
        } else {
            "a Saturday holiday is NOT observed on the Friday before (departs from C.G.S. 1-4)"
        };
        let sunday = if self.observance.sunday_to_monday {
            "a Sunday holiday on the Monday after"
        } else {
            "a Sunday holiday is not observed on the Monday after"
        };
        format!(
            "Deadline policy: due = received date + {NOTIFICATION_DAYS} calendar days; {roll}; {saturday}, {sunday}; \"due soon\" = {} day(s) or fewer left.",
            self.due_soon_days
        )
    }
}

/// Error for dates at the very edge of the supported calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no due date can be computed for received date {received}: out of calendar range")]
pub struct DeadlineError {
    pub received: Date,
}

/// The due date for a notification received on `received`.
pub fn due_date(received: Date, policy: &DeadlinePolicy) -> Result<Date, DeadlineError> {
    let err = || DeadlineError { received };
    let mut due = received
        .checked_add(Span::new().days(NOTIFICATION_DAYS))
        .map_err(|_| err())?;
    if policy.roll_to_business_day {
        // Bounded: no run of non-business days is longer than a few days.
        for _ in 0..14 {
            if is_business_day(due, policy.observance) {
                break;
            }
            due = due.tomorrow().map_err(|_| err())?;
        }
    }
    Ok(due)
}

/// Whole days from `from` to `to` (negative if `to` is earlier).
pub fn days_between(from: Date, to: Date) -> i64 {
    from.duration_until(to).as_secs() / 86_400
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn plain_fourteen_days() {
        let p = DeadlinePolicy::default();
        assert_eq!(due_date(date(2024, 7, 1), &p).unwrap(), date(2024, 7, 15));
    }

    #[test]
    fn leap_day() {
        let p = DeadlinePolicy::default();
        assert_eq!(due_date(date(2024, 2, 15), &p).unwrap(), date(2024, 2, 29));
        assert_eq!(due_date(date(2023, 2, 15), &p).unwrap(), date(2023, 3, 1));
    }

    #[test]
    fn crossing_the_year_end() {
        let p = DeadlinePolicy::default();
        assert_eq!(due_date(date(2024, 12, 20), &p).unwrap(), date(2025, 1, 3));
    }

    #[test]
    fn holiday_on_due_date_with_policy_off_and_on() {
        // Received 2024-12-11 → due Wednesday 2024-12-25 (Christmas).
        let off = DeadlinePolicy::default();
        assert_eq!(
            due_date(date(2024, 12, 11), &off).unwrap(),
            date(2024, 12, 25)
        );
        let on = DeadlinePolicy {
            roll_to_business_day: true,
            ..off
        };
        assert_eq!(
            due_date(date(2024, 12, 11), &on).unwrap(),
            date(2024, 12, 26)
        );
        // Good Friday 2024-03-29 → rolls over the weekend to Monday 04-01.
        assert_eq!(due_date(date(2024, 3, 15), &on).unwrap(), date(2024, 4, 1));
        // A Saturday due date rolls to Monday only with the policy on.
        assert_eq!(due_date(date(2024, 8, 3), &off).unwrap(), date(2024, 8, 17));
        assert_eq!(due_date(date(2024, 8, 3), &on).unwrap(), date(2024, 8, 19));
    }

    #[test]
    fn saturday_holidays_roll_a_friday_due_date_with_the_policy_on() {
        let on = DeadlinePolicy {
            roll_to_business_day: true,
            ..DeadlinePolicy::default()
        };
        // (received, nominal due Friday, due under C.G.S. 1-4)
        for (received, friday, due) in [
            (date(2026, 6, 19), date(2026, 7, 3), date(2026, 7, 6)),
            (date(2027, 6, 4), date(2027, 6, 18), date(2027, 6, 21)),
            // Friday Dec 31 (New Year's Day 2028 observed), Saturday Jan 1 itself.
            (date(2027, 12, 17), date(2027, 12, 31), date(2028, 1, 3)),
            (date(2027, 12, 10), date(2027, 12, 24), date(2027, 12, 27)),
            (date(2028, 1, 28), date(2028, 2, 11), date(2028, 2, 14)),
        ] {
            assert_eq!(
                due_date(received, &DeadlinePolicy::default()).unwrap(),
                friday
            );
            assert_eq!(due_date(received, &on).unwrap(), due, "{received}");
        }
        // Switching the observance off reproduces the old, wrong answer.
        let old = DeadlinePolicy::new(true, false, 3).unwrap();
        assert_eq!(due_date(date(2026, 6, 19), &old).unwrap(), date(2026, 7, 3));
    }

    #[test]
    fn policy_bounds_and_statement() {
        assert_eq!(
            DeadlinePolicy::new(false, true, 15),
            Err(PolicyError::DueSoonDays(15))
        );
        let p = DeadlinePolicy::new(true, true, 3).unwrap();
        assert_eq!(
            p,
            DeadlinePolicy {
                roll_to_business_day: true,
                ..DeadlinePolicy::default()
            }
        );
        let s = p.statement();
        assert!(s.contains("moves to the next business day"), "{s}");
        assert!(s.contains("observed on the Friday before"), "{s}");
        let s = DeadlinePolicy::new(false, false, 3).unwrap().statement();
        assert!(
            s.contains("does not move") && s.contains("NOT observed"),
            "{s}"
        );
    }

    #[test]
    fn days_between_counts_calendar_days_across_dst() {
        assert_eq!(days_between(date(2024, 3, 1), date(2024, 3, 15)), 14);
        assert_eq!(days_between(date(2024, 11, 1), date(2024, 11, 15)), 14);
        assert_eq!(days_between(date(2024, 3, 15), date(2024, 3, 1)), -14);
    }
}
