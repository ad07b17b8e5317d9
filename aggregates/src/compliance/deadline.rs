//! When the initial notification is due.
//!
//! Connecticut counts a statutory period by excluding the triggering day and
//! counting whole calendar days, so the due date is the received date plus
//! 14 days. No general statute moves a deadline off a weekend; one old case
//! accepted a filing on the next day when the last day was a legal holiday,
//! so rolling is a policy switch, off by default.

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
    fn days_between_counts_calendar_days_across_dst() {
        assert_eq!(days_between(date(2024, 3, 1), date(2024, 3, 15)), 14);
        assert_eq!(days_between(date(2024, 11, 1), date(2024, 11, 15)), 14);
        assert_eq!(days_between(date(2024, 3, 15), date(2024, 3, 1)), -14);
    }
}
