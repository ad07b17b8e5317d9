//! Connecticut business dates. The statute counts calendar days in the
//! unit's local time, so every instant is converted with the bundled tzdb
//! (never the host's), which makes results identical on every machine.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// IANA zone for Connecticut.
pub const CONNECTICUT_TZ: &str = "America/New_York";

/// Connecticut's time zone from the bundled database.
///
/// Falls back to a fixed UTC-5 offset only if the bundle lacks the zone,
/// which the `tzdb-bundle-always` feature rules out; a test asserts it.
pub fn connecticut() -> TimeZone {
    TimeZone::get(CONNECTICUT_TZ).unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(-5)))
}

/// The Connecticut calendar date of an instant.
pub fn ct_date(at: Timestamp) -> Date {
    at.to_zoned(connecticut()).date()
}

/// The Connecticut wall-clock time of an instant.
pub fn ct_time(at: Timestamp) -> Time {
    at.to_zoned(connecticut()).time()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_zone_is_present() {
        assert!(TimeZone::get(CONNECTICUT_TZ).is_ok());
    }

    #[test]
    fn just_after_midnight_on_dst_days() {
        // 2024-03-10: clocks go forward at 02:00 EST. 00:30 EST = 05:30Z.
        let ts: Timestamp = "2024-03-10T05:30:00Z".parse().unwrap();
        assert_eq!(ct_date(ts), jiff::civil::date(2024, 3, 10));
        // 23:30 EST the evening before is still the 9th.
        let ts: Timestamp = "2024-03-10T04:30:00Z".parse().unwrap();
        assert_eq!(ct_date(ts), jiff::civil::date(2024, 3, 9));
        // 2024-11-03: clocks go back at 02:00 EDT. 00:30 EDT = 04:30Z.
        let ts: Timestamp = "2024-11-03T04:30:00Z".parse().unwrap();
        assert_eq!(ct_date(ts), jiff::civil::date(2024, 11, 3));
        let ts: Timestamp = "2024-11-03T03:59:00Z".parse().unwrap();
        assert_eq!(ct_date(ts), jiff::civil::date(2024, 11, 2));
    }
}
