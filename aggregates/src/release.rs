//! Releases of the annual report: a period of whole calendar quarters,
//! published at a stated ledger position, recorded in the ledger.
//!
//! Once a quarter is released it is frozen: a later release that covers it
//! must publish exactly the same victim figures and monthly notification
//! counts for it (same values, same cells hidden), or be a declared revision.
//! A revision is only accepted by the command side after the disclosure audit
//! has passed against every earlier release (`src/commands/release.rs`); the
//! rule here is that it must say why and which releases it revises.
//!
//! All releases live in one stream ([`STREAM`]), so the frozen-period check
//! sees every earlier release and two concurrent releases cannot both pass it.

use std::fmt;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::text::{self, limits, TextError};

/// The one stream that holds every release.
pub const STREAM: &str = "annual-report";
/// Longest period a release may cover (three years of quarters).
pub const MAX_QUARTERS: usize = 12;
/// Most releases the stream accepts (each one is read by every later one).
pub const MAX_RELEASES: usize = 1_000;
/// Most published tables a release lists digests for.
pub const MAX_TABLES: usize = 64;

/// A calendar quarter, written `2025-Q1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i16,
    /// 1 to 4.
    pub number: u8,
}

impl Quarter {
    pub fn of(day: Date) -> Quarter {
        Quarter {
            year: day.year(),
            number: (day.month() as u8 - 1) / 3 + 1,
        }
    }
    fn first_month(self) -> i8 {
        (self.number as i8 - 1) * 3 + 1
    }
    pub fn first_day(self) -> Date {
        jiff::civil::date(self.year, self.first_month(), 1)
    }
    pub fn last_day(self) -> Date {
        jiff::civil::date(self.year, self.first_month() + 2, 1).last_of_month()
    }
    pub fn next(self) -> Quarter {
        if self.number == 4 {
            Quarter {
                year: self.year + 1,
                number: 1,
            }
        } else {
            Quarter {
                year: self.year,
                number: self.number + 1,
            }
        }
    }
    /// The three months, as `YYYY-MM`.
    pub fn months(self) -> [String; 3] {
        let m = self.first_month();
        [0, 1, 2].map(|i| format!("{:04}-{:02}", self.year, m + i))
    }
}

impl fmt::Display for Quarter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-Q{}", self.year, self.number)
    }
}

impl std::str::FromStr for Quarter {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, PeriodError> {
        let bad = || PeriodError::QuarterSyntax(s.chars().take(20).collect());
        let (y, q) = s.split_once("-Q").ok_or_else(bad)?;
        let year: i16 = y.parse().map_err(|_| bad())?;
        let number: u8 = q.parse().map_err(|_| bad())?;
        if !(1..=4).contains(&number) || !(1900..=9998).contains(&year) || y.len() != 4 {
            return Err(bad());
        }
        Ok(Quarter { year, number })
    }
}

impl Serialize for Quarter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quarter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("a period starts on the first day of a quarter: {day} is inside {quarter} (which starts {start})")]
    NotQuarterStart {
        day: Date,
        quarter: Quarter,
        start: Date,
    },
    #[error(
        "a period ends on the last day of a quarter: {day} is inside {quarter} (which ends {end})"
    )]
    NotQuarterEnd {
        day: Date,
        quarter: Quarter,
        end: Date,
    },
    #[error("the period's first day {from} is after its last day {to}")]
    Order { from: Date, to: Date },
    #[error("a release covers at most {MAX_QUARTERS} quarters, {first} to {last} is {count}")]
    TooLong {
        first: Quarter,
        last: Quarter,
        count: usize,
    },
    #[error("{0:?} is not a quarter (write e.g. 2025-Q1)")]
    QuarterSyntax(String),
}

/// Whole calendar quarters, `first` to `last` inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub first: Quarter,
    pub last: Quarter,
}

impl Period {
    /// The period of the days `from..=to`, which must be whole quarters.
    pub fn from_days(from: Date, to: Date) -> Result<Period, PeriodError> {
        if from > to {
            return Err(PeriodError::Order { from, to });
        }
        let first = Quarter::of(from);
        if first.first_day() != from {
            return Err(PeriodError::NotQuarterStart {
                day: from,
                quarter: first,
                start: first.first_day(),
            });
        }
        let last = Quarter::of(to);
        if last.last_day() != to {
            return Err(PeriodError::NotQuarterEnd {
                day: to,
                quarter: last,
                end: last.last_day(),
            });
        }
        let period = Period { first, last };
        let count = period.quarters().len();
        if count > MAX_QUARTERS {
            return Err(PeriodError::TooLong { first, last, count });
        }
        Ok(period)
    }
    pub fn from_day(&self) -> Date {
        self.first.first_day()
    }
    pub fn to_day(&self) -> Date {
        self.last.last_day()
    }
    /// Every quarter of the period, in order (bounded by the years it spans).
    pub fn quarters(&self) -> Vec<Quarter> {
        let mut out = Vec::new();
        let mut q = self.first;
        while q <= self.last && out.len() <= MAX_QUARTERS * 100 {
            out.push(q);
            q = q.next();
        }
        out
    }
    pub fn contains(&self, q: Quarter) -> bool {
        self.first <= q && q <= self.last
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..{}", self.first, self.last)
        }
    }
}

/// What a release publishes of one quarter that a later release covering the
/// same quarter must reproduce. `None` is a hidden (suppressed) figure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarterFigures {
    pub quarter: Quarter,
    /// Identified child victims by age band, in the order of
    /// [`PublishedVictims::bands`].
    pub victims: Vec<Option<u64>>,
    /// All ages.
    pub victims_total: Option<u64>,
    /// Notifications filed in each of the quarter's three months.
    pub notifications_by_month: Vec<u64>,
}

/// The published victim table of a release: statewide, age band by quarter,
/// with its margins; `None` where suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedVictims {
    pub bands: Vec<String>,
    pub quarters: Vec<QuarterFigures>,
    /// Each band over the whole period.
    pub band_totals: Vec<Option<u64>>,
    pub total: Option<u64>,
}

/// SHA-256 (hex) of one published table's canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDigest {
    pub table: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revision {
    /// Why published figures change (a correction, late filings).
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRelease {
    pub period: Period,
    /// The ledger position the figures were computed at.
    pub position: u64,
    pub suppression_threshold: u64,
    pub protection_width: u64,
    pub tables: Vec<TableDigest>,
    pub victims: PublishedVictims,
    pub revision: Option<Revision>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseCommand {
    Publish(PublishRelease),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseEvent {
    ReleasePublished {
        /// 1, 2, ... in the order released.
        number: u32,
        period: Period,
        position: u64,
        suppression_threshold: u64,
        protection_width: u64,
        tables: Vec<TableDigest>,
        victims: PublishedVictims,
        /// Earlier releases whose figures this one changes (empty: none).
        revises: Vec<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        recorded_at: Timestamp,
    },
}

impl crate::sealed::SealedEffects for ReleaseEvent {}

impl DomainEvent for ReleaseEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ReleasePublished { .. } => "ReleasePublished".to_owned(),
        }
    }
    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ReleaseError {
    #[error("{quarter} was released in release {release} with {what} = {published}; this release has {stated}. A released quarter is frozen: reproduce it, or declare a revision")]
    Frozen {
        quarter: Quarter,
        release: u32,
        what: String,
        published: String,
        stated: String,
    },
    #[error("{period} at position {position} is already release {release}")]
    AlreadyReleased {
        period: Period,
        position: u64,
        release: u32,
    },
    #[error("a revision must change a released quarter; nothing published for {period} differs")]
    NothingRevised { period: Period },
    #[error("the victim table does not match the period {period}: {problem}")]
    Shape { period: Period, problem: String },
    #[error("position must be at least 1")]
    Position,
    #[error("at most {MAX_TABLES} table digests, each a table name and 64 hex digits")]
    Tables,
    #[error("at most {MAX_RELEASES} releases")]
    TooMany,
    #[error("revision reason: {0}")]
    Reason(TextError),
}

impl crate::text::BlamesField for ReleaseError {
    fn rule(&self) -> &'static str {
        self.into()
    }
}

/// One release as the stream holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub number: u32,
    pub period: Period,
    pub position: u64,
    pub victims: PublishedVictims,
    pub revises: Vec<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub releases: Vec<ReleaseRecord>,
}

fn show(v: Option<u64>) -> String {
    v.map_or_else(|| "suppressed".to_owned(), |n| n.to_string())
}

impl Release {
    /// The latest published figures of `quarter` and the release that published them.
    pub fn frozen(&self, quarter: Quarter) -> Option<(u32, &QuarterFigures)> {
        self.releases.iter().rev().find_map(|r| {
            r.victims
                .quarters
                .iter()
                .find(|q| q.quarter == quarter)
                .map(|q| (r.number, q))
        })
    }

    pub fn decide(&self, command: ReleaseCommand) -> Result<Vec<ReleaseEvent>, ReleaseError> {
        let ReleaseCommand::Publish(c) = command;
        check_shape(&c)?;
        if self.releases.len() >= MAX_RELEASES {
            return Err(ReleaseError::TooMany);
        }
        if let Some(r) = self
            .releases
            .iter()
            .find(|r| r.period == c.period && r.position == c.position)
        {
            return Err(ReleaseError::AlreadyReleased {
                period: c.period,
                position: c.position,
                release: r.number,
            });
        }
        let mut revises = Vec::new();
        for stated in &c.victims.quarters {
            let Some((release, published)) = self.frozen(stated.quarter) else {
                continue;
            };
            if let Some((what, was, now)) = first_difference(&c.victims.bands, published, stated) {
                if c.revision.is_none() {
                    return Err(ReleaseError::Frozen {
                        quarter: stated.quarter,
                        release,
                        what,
                        published: was,
                        stated: now,
                    });
                }
                if !revises.contains(&release) {
                    revises.push(release);
                }
            }
        }
        let reason = match c.revision {
            Some(r) => {
                if revises.is_empty() {
                    return Err(ReleaseError::NothingRevised { period: c.period });
                }
                text::check(&r.reason, limits::SHORT).map_err(ReleaseError::Reason)?;
                Some(r.reason)
            }
            None => None,
        };
        Ok(vec![ReleaseEvent::ReleasePublished {
            number: u32::try_from(self.releases.len() + 1).unwrap_or(u32::MAX),
            period: c.period,
            position: c.position,
            suppression_threshold: c.suppression_threshold,
            protection_width: c.protection_width,
            tables: c.tables,
            victims: c.victims,
            revises,
            reason,
            recorded_at: c.recorded_at,
        }])
    }
}

/// The first figure of a quarter that differs between two releases.
fn first_difference(
    bands: &[String],
    was: &QuarterFigures,
    now: &QuarterFigures,
) -> Option<(String, String, String)> {
    for (i, band) in bands.iter().enumerate() {
        let (a, b) = (
            was.victims.get(i).copied().flatten(),
            now.victims.get(i).copied().flatten(),
        );
        if a != b || was.victims.get(i).is_none() {
            return Some((format!("victims aged {band}"), show(a), show(b)));
        }
    }
    if was.victims_total != now.victims_total {
        return Some((
            "victims, all ages".to_owned(),
            show(was.victims_total),
            show(now.victims_total),
        ));
    }
    if was.notifications_by_month != now.notifications_by_month {
        return Some((
            "notifications by month".to_owned(),
            format!("{:?}", was.notifications_by_month),
            format!("{:?}", now.notifications_by_month),
        ));
    }
    None
}

fn check_shape(c: &PublishRelease) -> Result<(), ReleaseError> {
    let shape = |problem: &str| ReleaseError::Shape {
        period: c.period,
        problem: problem.to_owned(),
    };
    if c.position == 0 {
        return Err(ReleaseError::Position);
    }
    let quarters = c.period.quarters();
    if quarters.is_empty() || quarters.len() > MAX_QUARTERS {
        return Err(shape("a release covers 1 to 12 quarters"));
    }
    let v = &c.victims;
    if v.quarters
        .iter()
        .map(|q| q.quarter)
        .ne(quarters.iter().copied())
    {
        return Err(shape("one column per quarter of the period, in order"));
    }
    let bands = v.bands.len();
    if bands == 0 || bands > 16 || v.band_totals.len() != bands {
        return Err(shape("1 to 16 age bands, each with its total"));
    }
    if v.quarters
        .iter()
        .any(|q| q.victims.len() != bands || q.notifications_by_month.len() != 3)
    {
        return Err(shape("each quarter has a figure per band and three months"));
    }
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if c.tables.len() > MAX_TABLES
        || c.tables
            .iter()
            .any(|t| !hex(&t.sha256) || t.table.is_empty() || t.table.len() > 64)
    {
        return Err(ReleaseError::Tables);
    }
    Ok(())
}

impl Aggregate for Release {
    const TYPE: &'static str = "release";
    type Command = ReleaseCommand;
    type Event = ReleaseEvent;
    type Error = ReleaseError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        let ReleaseEvent::ReleasePublished {
            number,
            period,
            position,
            victims,
            revises,
            ..
        } = event;
        self.releases.push(ReleaseRecord {
            number,
            period,
            position,
            victims,
            revises,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn figures(q: &str, first: Option<u64>) -> QuarterFigures {
        QuarterFigures {
            quarter: q.parse().unwrap(),
            victims: vec![first, Some(20)],
            victims_total: None,
            notifications_by_month: vec![5, 6, 7],
        }
    }

    fn publish(first: &str, last: &str, position: u64, q1: Option<u64>) -> PublishRelease {
        let period = Period {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
        };
        let quarters = period
            .quarters()
            .iter()
            .map(|q| figures(&q.to_string(), q1))
            .collect();
        PublishRelease {
            period,
            position,
            suppression_threshold: 10,
            protection_width: 10,
            tables: vec![],
            victims: PublishedVictims {
                bands: vec!["0-12".into(), "13-15".into()],
                quarters,
                band_totals: vec![None, None],
                total: None,
            },
            revision: None,
            recorded_at: Timestamp::UNIX_EPOCH,
        }
    }

    fn apply_all(r: &mut Release, events: Vec<ReleaseEvent>) {
        for e in events {
            r.apply(e);
        }
    }

    #[test]
    fn periods_are_whole_quarters() {
        let p = Period::from_days(d("2024-07-01"), d("2025-06-30")).unwrap();
        assert_eq!(p.quarters().len(), 4);
        assert_eq!(p.to_string(), "2024-Q3..2025-Q2");
        let e = Period::from_days(d("2025-01-01"), d("2025-05-31")).unwrap_err();
        assert!(e.to_string().contains("2025-Q2"), "{e}");
        assert!(matches!(
            Period::from_days(d("2025-02-01"), d("2025-03-31")),
            Err(PeriodError::NotQuarterStart { .. })
        ));
        assert!(matches!(
            Period::from_days(d("2020-01-01"), d("2025-12-31")),
            Err(PeriodError::TooLong { .. })
        ));
    }

    #[test]
    fn a_released_quarter_is_frozen_unless_revised() {
        let mut r = Release::default();
        let events = r
            .decide(ReleaseCommand::Publish(publish(
                "2025-Q1", "2025-Q4", 100, None,
            )))
            .unwrap();
        apply_all(&mut r, events);
        // The fiscal year overlapping it reproduces the two quarters: accepted.
        let events = r
            .decide(ReleaseCommand::Publish(publish(
                "2024-Q3", "2025-Q2", 120, None,
            )))
            .unwrap();
        apply_all(&mut r, events);
        // A different figure in 2025-Q1 is refused, naming the quarter.
        let e = r
            .decide(ReleaseCommand::Publish(publish(
                "2025-Q1",
                "2025-Q1",
                130,
                Some(12),
            )))
            .unwrap_err();
        assert!(e.to_string().contains("2025-Q1"), "{e}");
        let mut revision = publish("2025-Q1", "2025-Q1", 130, Some(12));
        revision.revision = Some(Revision {
            reason: "late filings".into(),
        });
        let events = r.decide(ReleaseCommand::Publish(revision)).unwrap();
        let ReleaseEvent::ReleasePublished {
            revises, number, ..
        } = &events[0];
        assert_eq!((revises.as_slice(), *number), ([2u32].as_slice(), 3));
        // The same period and position twice is refused.
        assert!(matches!(
            r.decide(ReleaseCommand::Publish(publish(
                "2025-Q1", "2025-Q4", 100, None
            ))),
            Err(ReleaseError::AlreadyReleased { release: 1, .. })
        ));
    }
}
