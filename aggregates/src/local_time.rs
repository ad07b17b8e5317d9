//! Connecticut business dates. The statute counts calendar days in the
//! unit's local time, so every instant is converted with the bundled tzdb
//! (never the host's), which makes results identical on every machine.

use jiff::civil::{Date, Time};
use jiff::tz::{AmbiguousOffset, Offset, TimeZone};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

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

/// A UTC offset Connecticut keeps: the only two a received time can carry. It makes
/// a fall-back time explicit (01:00 to 01:59 happen twice that night).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CtOffset {
    /// Eastern Standard Time (the second 01:xx on the fall-back night).
    #[serde(rename = "-05:00")]
    Est,
    /// Eastern Daylight Time (the first 01:xx on the fall-back night).
    #[serde(rename = "-04:00")]
    Edt,
}

impl CtOffset {
    fn offset(self) -> Offset {
        match self {
            Self::Est => jiff::tz::offset(-5),
            Self::Edt => jiff::tz::offset(-4),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Est => "-05:00 (EST)",
            Self::Edt => "-04:00 (EDT)",
        }
    }
}

/// Connecticut's offset at an instant.
pub fn ct_offset(at: Timestamp) -> CtOffset {
    if at.to_zoned(connecticut()).offset() == jiff::tz::offset(-4) {
        CtOffset::Edt
    } else {
        CtOffset::Est
    }
}

/// Why a Connecticut date or time of day was refused. Every path that starts a 14-day
/// clock (the form, its JSONL import, `POST /v1/complaints`) uses these rules: a date
/// is `YYYY-MM-DD` and nothing more, a time `HH:MM` or `HH:MM:SS` and nothing more
/// (no offset, no date, no fraction, no leap second); an offset, when needed, is its
/// own field and must be Connecticut's at that moment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalTimeError {
    #[error("`{0}` is not a calendar date in the form YYYY-MM-DD (a Connecticut date: no time, no offset)")]
    DateShape(String),
    #[error("`{0}` is not a time of day in the form HH:MM or HH:MM:SS (Connecticut local time: no offset, no date, seconds 00 to 59)")]
    TimeShape(String),
    #[error("{time} did not exist on {date} in Connecticut: clocks moved forward from 02:00 EST to 03:00 EDT")]
    Nonexistent { date: Date, time: Time },
    #[error("{time} on {date} happened twice in Connecticut (clocks moved back from 02:00 EDT to 01:00 EST): give utc_offset -04:00 for the first (EDT) or -05:00 for the second (EST)")]
    Ambiguous { date: Date, time: Time },
    #[error("{time} on {date} in Connecticut was not at UTC offset {offset}")]
    WrongOffset {
        date: Date,
        time: Time,
        offset: &'static str,
    },
}

/// A Connecticut calendar date, exactly `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<Date, LocalTimeError> {
    let shaped = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    match s.parse::<Date>() {
        Ok(d) if shaped => Ok(d),
        _ => Err(LocalTimeError::DateShape(s.to_owned())),
    }
}

/// A Connecticut time of day, exactly `HH:MM` or `HH:MM:SS`. Parsed by hand: jiff
/// would accept (and drop) an offset and read second 60 as 59.
pub fn parse_time(s: &str) -> Result<Time, LocalTimeError> {
    let bad = || LocalTimeError::TimeShape(s.to_owned());
    let b = s.as_bytes();
    if !(b.len() == 5 || b.len() == 8) {
        return Err(bad());
    }
    let two = |i: usize| -> Option<i8> {
        let (h, l) = (*b.get(i)?, *b.get(i + 1)?);
        (h.is_ascii_digit() && l.is_ascii_digit())
            .then(|| i8::try_from((h - b'0') * 10 + (l - b'0')).ok())
            .flatten()
    };
    let hour = two(0).ok_or_else(bad)?;
    let minute = two(3).ok_or_else(bad)?;
    let second = if b.len() == 8 {
        if b[5] != b':' {
            return Err(bad());
        }
        two(6).ok_or_else(bad)?
    } else {
        0
    };
    if b[2] != b':' || hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    Time::new(hour, minute, second, 0).map_err(|_| bad())
}

/// The instant a Connecticut wall-clock time names. A time in the spring-forward gap
/// is refused; one in the fall-back fold needs `offset`; an offset Connecticut did not
/// keep at that moment is refused.
pub fn resolve(
    date: Date,
    time: Time,
    offset: Option<CtOffset>,
) -> Result<Timestamp, LocalTimeError> {
    let ambiguous = connecticut().to_ambiguous_timestamp(date.to_datetime(time));
    let chosen = match (ambiguous.offset(), offset) {
        (AmbiguousOffset::Gap { .. }, _) => return Err(LocalTimeError::Nonexistent { date, time }),
        (AmbiguousOffset::Fold { .. }, None) => {
            return Err(LocalTimeError::Ambiguous { date, time })
        }
        (AmbiguousOffset::Unambiguous { offset: kept }, None) => kept,
        (AmbiguousOffset::Unambiguous { offset: kept }, Some(o)) if kept == o.offset() => kept,
        (AmbiguousOffset::Fold { before, after }, Some(o))
            if before == o.offset() || after == o.offset() =>
        {
            o.offset()
        }
        (_, Some(o)) => {
            return Err(LocalTimeError::WrongOffset {
                date,
                time,
                offset: o.name(),
            })
        }
    };
    chosen
        .to_timestamp(date.to_datetime(time))
        .map_err(|_| LocalTimeError::DateShape(date.to_string()))
}

/// serde: a [`parse_date`] date (for request bodies that start a clock).
pub fn strict_date<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
    let s = String::deserialize(d)?;
    parse_date(&s).map_err(serde::de::Error::custom)
}

/// serde: an optional [`parse_time`] time.
pub fn strict_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Time>, D::Error> {
    match Option::<String>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_time(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::{date, time};

    #[test]
    fn strict_shapes() {
        assert_eq!(parse_time("09:30"), Ok(time(9, 30, 0, 0)));
        assert_eq!(parse_time("23:59:59"), Ok(time(23, 59, 59, 0)));
        for bad in [
            "23:59:60",
            "24:00",
            "00:10+00:00",
            "00:10Z",
            "9:30",
            "09:30:00.5",
            "2026-03-08T02:30",
            "09-30",
            "",
            "0a:30",
        ] {
            assert!(
                matches!(parse_time(bad), Err(LocalTimeError::TimeShape(_))),
                "{bad}"
            );
        }
        assert_eq!(parse_date("2026-03-08"), Ok(date(2026, 3, 8)));
        for bad in ["2026-03-08T00:10:00Z", "2026-3-8", "2026-02-30", "20260308"] {
            assert!(
                matches!(parse_date(bad), Err(LocalTimeError::DateShape(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn gaps_folds_and_offsets() {
        // Spring forward 2026-03-08: 02:30 never happened.
        assert_eq!(
            resolve(date(2026, 3, 8), time(2, 30, 0, 0), None),
            Err(LocalTimeError::Nonexistent {
                date: date(2026, 3, 8),
                time: time(2, 30, 0, 0)
            })
        );
        assert!(resolve(date(2026, 3, 8), time(2, 30, 0, 0), Some(CtOffset::Est)).is_err());
        // Fall back 2026-11-01: 01:45 happened twice.
        let d = date(2026, 11, 1);
        let t = time(1, 45, 0, 0);
        assert_eq!(
            resolve(d, t, None),
            Err(LocalTimeError::Ambiguous { date: d, time: t })
        );
        let edt = resolve(d, t, Some(CtOffset::Edt)).unwrap();
        let est = resolve(d, t, Some(CtOffset::Est)).unwrap();
        assert_eq!(edt.to_string(), "2026-11-01T05:45:00Z");
        assert_eq!(est.to_string(), "2026-11-01T06:45:00Z");
        // An ordinary time needs no offset, and a wrong one is refused.
        let noon = resolve(d, time(12, 0, 0, 0), None).unwrap();
        assert_eq!(noon.to_string(), "2026-11-01T17:00:00Z");
        assert!(resolve(d, time(12, 0, 0, 0), Some(CtOffset::Est)).is_ok());
        assert!(matches!(
            resolve(d, time(12, 0, 0, 0), Some(CtOffset::Edt)),
            Err(LocalTimeError::WrongOffset { .. })
        ));
    }

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
