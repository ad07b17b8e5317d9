use icac_aggregates::compliance::{
    assess, due_date, ComplianceStatus, DeadlinePolicy, NotificationClock,
};
use icac_aggregates::local_time::ct_date;
use jiff::civil::date;

use crate::fixtures::ts;

#[test]
fn received_just_after_midnight_on_dst_start_counts_from_that_day() {
    // 00:15 EST on 2024-03-10 (clocks spring forward at 02:00).
    let received = ct_date(ts("2024-03-10T05:15:00Z"));
    assert_eq!(received, date(2024, 3, 10));
    assert_eq!(
        due_date(received, &DeadlinePolicy::default()).unwrap(),
        date(2024, 3, 24)
    );
}

#[test]
fn received_just_after_midnight_on_dst_end_counts_from_that_day() {
    // 00:15 EDT on 2024-11-03 (clocks fall back at 02:00).
    let received = ct_date(ts("2024-11-03T04:15:00Z"));
    assert_eq!(received, date(2024, 11, 3));
    assert_eq!(
        due_date(received, &DeadlinePolicy::default()).unwrap(),
        date(2024, 11, 17)
    );
}

#[test]
fn filed_late_at_night_utc_is_still_the_local_day() {
    // Due 2024-09-15; filed 23:30 EDT on the 15th = 03:30Z on the 16th.
    let filed = ct_date(ts("2024-09-16T03:30:00Z"));
    let clock = NotificationClock {
        received_on: date(2024, 9, 1),
        filed_on: Some(filed),
        opened_by_complaint: false,
    };
    assert_eq!(
        assess(&clock, date(2024, 10, 1), &DeadlinePolicy::default())
            .unwrap()
            .status,
        ComplianceStatus::OnTime
    );
}

#[test]
fn leap_year_and_year_end() {
    let p = DeadlinePolicy::default();
    assert_eq!(due_date(date(2024, 2, 15), &p).unwrap(), date(2024, 2, 29));
    assert_eq!(due_date(date(2025, 12, 25), &p).unwrap(), date(2026, 1, 8));
}

#[test]
fn holiday_policy_off_by_default() {
    // Received 2025-06-21 → due Saturday 2025-07-05; Independence Day is the 4th.
    let off = DeadlinePolicy::default();
    let on = DeadlinePolicy {
        roll_to_business_day: true,
        ..off
    };
    assert_eq!(due_date(date(2025, 6, 20), &off).unwrap(), date(2025, 7, 4));
    assert_eq!(due_date(date(2025, 6, 20), &on).unwrap(), date(2025, 7, 7));
}
