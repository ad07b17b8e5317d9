//! Connecticut legal holidays (C.G.S. 1-4), computed rather than listed so
//! any year works without a data update.

use jiff::civil::{date, Date, Weekday};

/// Which observance rules to apply on top of the fixed dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObservanceRules {
    /// C.G.S. 1-4: a fixed-date holiday falling on a Sunday is observed on the
    /// following Monday.
    pub sunday_to_monday: bool,
    /// C.G.S. 1-4: when a holiday falls on a Saturday, "the Friday
    /// immediately preceding such day shall be a legal holiday". On by
    /// default because the statute says so; the switch exists only to
    /// reproduce answers computed before this rule was applied.
    pub saturday_to_friday: bool,
}

impl Default for ObservanceRules {
    fn default() -> Self {
        Self {
            sunday_to_monday: true,
            saturday_to_friday: true,
        }
    }
}

/// Western Easter Sunday (anonymous Gregorian algorithm).
fn easter(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

fn nth(year: i16, month: i8, n: i8, weekday: Weekday) -> Option<Date> {
    date(year, month, 1).nth_weekday_of_month(n, weekday).ok()
}

/// The named holidays of a year on their nominal dates.
fn nominal(year: i16) -> Vec<(Date, bool)> {
    // bool: is a fixed calendar date (eligible for weekend observance).
    let mut days = vec![
        (date(year, 1, 1), true),   // New Year's Day
        (date(year, 2, 12), true),  // Lincoln's Birthday
        (date(year, 6, 19), true),  // Juneteenth
        (date(year, 7, 4), true),   // Independence Day
        (date(year, 11, 11), true), // Veterans' Day
        (date(year, 12, 25), true), // Christmas
    ];
    let computed = [
        nth(year, 1, 3, Weekday::Monday),    // Martin Luther King Jr. Day
        nth(year, 2, 3, Weekday::Monday),    // Washington's Birthday
        nth(year, 5, -1, Weekday::Monday),   // Memorial Day
        nth(year, 9, 1, Weekday::Monday),    // Labor Day
        nth(year, 10, 2, Weekday::Monday),   // Columbus Day
        nth(year, 11, 4, Weekday::Thursday), // Thanksgiving
        easter(year).and_then(|e| e.checked_sub(jiff::Span::new().days(2)).ok()), // Good Friday
    ];
    days.extend(computed.into_iter().flatten().map(|d| (d, false)));
    days
}

/// Whether `day` is a Connecticut legal holiday (including observed days).
pub fn is_legal_holiday(day: Date, rules: ObservanceRules) -> bool {
    // A Saturday Jan 1 is observed on Dec 31 of the previous year, so look at
    // both neighbouring years.
    [day.year() - 1, day.year(), day.year() + 1]
        .into_iter()
        .flat_map(nominal)
        .any(|(nominal_day, fixed)| {
            if nominal_day == day {
                return true;
            }
            if !fixed {
                return false;
            }
            let observed = match nominal_day.weekday() {
                Weekday::Sunday if rules.sunday_to_monday => nominal_day.tomorrow().ok(),
                Weekday::Saturday if rules.saturday_to_friday => nominal_day.yesterday().ok(),
                _ => None,
            };
            observed == Some(day)
        })
}

/// Whether `day` is a weekday that is not a legal holiday.
pub fn is_business_day(day: Date, rules: ObservanceRules) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) && !is_legal_holiday(day, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_2024_and_2025_holidays() {
        let r = ObservanceRules::default();
        for d in [
            date(2024, 1, 15),  // MLK
            date(2024, 2, 12),  // Lincoln
            date(2024, 2, 19),  // Washington
            date(2024, 3, 29),  // Good Friday
            date(2024, 5, 27),  // Memorial
            date(2024, 6, 19),  // Juneteenth
            date(2024, 10, 14), // Columbus
            date(2024, 11, 28), // Thanksgiving
            date(2025, 4, 18),  // Good Friday 2025
            date(2023, 12, 25),
            date(2022, 12, 26), // Christmas 2022 was a Sunday
        ] {
            assert!(is_legal_holiday(d, r), "{d}");
        }
        assert!(!is_legal_holiday(date(2024, 3, 28), r));
        assert!(!is_business_day(date(2024, 3, 30), r)); // Saturday
        assert!(is_business_day(date(2024, 4, 1), r));
    }

    #[test]
    fn saturday_holidays_are_observed_on_the_friday_before_by_default() {
        let on = ObservanceRules::default();
        let off = ObservanceRules {
            saturday_to_friday: false,
            ..on
        };
        // Independence Day 2026, Juneteenth 2027, New Year's Day 2028 (observed
        // in the previous year), Christmas 2027, Lincoln's Birthday 2028: all
        // Saturdays.
        for friday in [
            date(2026, 7, 3),
            date(2027, 6, 18),
            date(2027, 12, 31),
            date(2027, 12, 24),
            date(2028, 2, 11),
        ] {
            assert_eq!(friday.weekday(), Weekday::Friday, "{friday}");
            assert!(is_legal_holiday(friday, on), "{friday}");
            assert!(!is_business_day(friday, on), "{friday}");
            assert!(!is_legal_holiday(friday, off), "{friday}");
        }
        // The Thursday before is an ordinary day.
        assert!(is_business_day(date(2026, 7, 2), on));
        // A Saturday that is not a holiday moves nothing.
        assert!(is_business_day(date(2026, 7, 10), on));
    }
}
