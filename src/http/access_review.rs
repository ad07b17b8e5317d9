//! The weekly review of the access log (CJIS AU-6): what a supervisor reads each week,
//! computed from the log alone. Failed logons, lockouts, privileged actions, exports,
//! reveals and erasures are listed entry by entry (with their sequence numbers, so each
//! line can be found in the log); a supervisor's acknowledgement is itself an entry,
//! which pins the review it acknowledges by the SHA-256 of its canonical JSON.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::routes::{Method, ROUTES};
use crate::access::access_log::{AccessEntry, AccessLog, AccessLogError, MAX_PAGE};
use crate::access::auth::Permission;
use icac_format::canonical::to_canonical_bytes;

/// Lines listed per category at most; the count is always complete.
pub const MAX_LINES: usize = 1_000;

/// The action of an acknowledgement entry.
pub const ACKNOWLEDGED: &str = "access_review_acknowledged";

/// An ISO 8601 week (`2026-W49`), Monday 00:00 UTC to the next Monday 00:00 UTC: the
/// log's own times are UTC (CJIS AU-3), so a week of entries is a range of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoWeek(jiff::civil::ISOWeekDate);

#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not an ISO week such as 2026-W49 (year, \"-W\", week 01 to 53)")]
pub struct BadWeek(String);

impl FromStr for IsoWeek {
    type Err = BadWeek;
    fn from_str(s: &str) -> Result<Self, BadWeek> {
        let bad = || BadWeek(s.chars().take(20).collect());
        let (year, week) = s.split_once("-W").ok_or_else(bad)?;
        if year.len() != 4 || week.len() != 2 {
            return Err(bad());
        }
        let year: i16 = year.parse().map_err(|_| bad())?;
        let week: i8 = week.parse().map_err(|_| bad())?;
        jiff::civil::ISOWeekDate::new(year, week, jiff::civil::Weekday::Monday)
            .map(IsoWeek)
            .map_err(|_| bad())
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.0.year(), self.0.week())
    }
}

impl IsoWeek {
    /// The week holding `at` (in UTC).
    pub fn of(at: jiff::Timestamp) -> IsoWeek {
        let date = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        let w = date.iso_week_date();
        // Monday of that week.
        match jiff::civil::ISOWeekDate::new(w.year(), w.week(), jiff::civil::Weekday::Monday) {
            Ok(monday) => IsoWeek(monday),
            Err(_) => IsoWeek(w),
        }
    }

    fn bounds(&self) -> Result<(jiff::Timestamp, jiff::Timestamp), AccessLogError> {
        let encode = |e: jiff::Error| AccessLogError::Encode(e.to_string());
        let start = self
            .0
            .date()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(encode)?;
        let end = start
            .checked_add(jiff::Span::new().weeks(1))
            .map_err(encode)?;
        Ok((start.timestamp(), end.timestamp()))
    }
}

/// One line of the review: an entry as the log holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub seq: u64,
    pub at: String,
    pub action: String,
    pub principal: String,
    pub source: String,
    pub target: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<&AccessEntry> for Line {
    fn from(e: &AccessEntry) -> Line {
        Line {
            seq: e.seq,
            at: e.at.clone(),
            action: e.action.clone(),
            principal: e.principal.clone(),
            source: e.source.clone(),
            target: e.target.clone(),
            outcome: e.outcome.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// A category's count and (up to [`MAX_LINES`]) its entries.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Section {
    pub count: u64,
    pub entries: Vec<Line>,
}

impl Section {
    fn add(&mut self, e: &AccessEntry) {
        self.count += 1;
        if self.entries.len() < MAX_LINES {
            self.entries.push(Line::from(e));
        }
    }
}

/// What the review lists, one category per entry at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    FailedLogon,
    Lockout,
    Privileged,
    Export,
    Reveal,
    Erasure,
    /// Requests refused for lack of permission (403): a sign of probing.
    Denied,
}

/// Named actions (entries written by a component, not by the request layer).
const NAMED: &[(&str, Category)] = &[
    ("auth_failed", Category::FailedLogon),
    ("logon_failed", Category::FailedLogon),
    ("second_factor_failed", Category::FailedLogon),
    ("account_locked", Category::Lockout),
    ("token_issued", Category::Privileged),
    ("token_revoked", Category::Privileged),
    ("account_created", Category::Privileged),
    ("account_changed", Category::Privileged),
    ("account_disabled", Category::Privileged),
    ("account_enabled", Category::Privileged),
    ("account_released", Category::Privileged),
    ("account_disabled_inactive", Category::Privileged),
    ("account_password_reset", Category::Privileged),
    ("account_password_changed", Category::Privileged),
    ("totp_enrolled", Category::Privileged),
    ("passkey_registered", Category::Privileged),
    ("access_log_purged", Category::Privileged),
    ("personal_data_export", Category::Export),
    ("personal_data_reveal", Category::Reveal),
    ("personal_data_erased", Category::Erasure),
];

/// Which category an entry belongs to, if any. Request-layer entries (`METHOD /route`)
/// are classed by the permission the route table gives their route.
pub fn category(e: &AccessEntry) -> Option<Category> {
    if let Some((_, c)) = NAMED.iter().find(|(a, _)| *a == e.action) {
        return Some(*c);
    }
    let (method, path) = e.action.split_once(' ')?;
    let route = ROUTES
        .iter()
        .find(|r| r.method.as_str() == method && r.path == path);
    let detail = e.detail.as_deref().unwrap_or("");
    if detail == "HTTP 403" {
        return Some(Category::Denied);
    }
    if e.outcome != "ok" {
        return None;
    }
    match (route?.method, route?.permission?) {
        (_, Permission::ErasePersonalData) => Some(Category::Erasure),
        (Method::Get, Permission::Audit) if path.contains("export") => Some(Category::Export),
        // Token issue and revoke are logged by the token store (for the CLI too).
        (Method::Post | Method::Delete, Permission::ManageUnits | Permission::PublishReleases) => {
            Some(Category::Privileged)
        }
        _ => None,
    }
}

/// An acknowledgement found in the log.
#[derive(Debug, Clone, Serialize)]
pub struct Acknowledgement {
    pub seq: u64,
    pub at: String,
    pub by: String,
    /// The SHA-256 of the review acknowledged (it may predate later entries of the week).
    pub review_sha256: String,
}

/// The weekly review report.
#[derive(Debug, Clone, Serialize)]
pub struct WeeklyReview {
    pub week: String,
    pub from: String,
    pub until: String,
    /// Entries recorded in the week, and the range of their sequence numbers.
    pub entries: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub failed_logons: Section,
    pub lockouts: Section,
    pub privileged_actions: Section,
    pub exports: Section,
    pub reveals: Section,
    pub erasures: Section,
    pub denied_requests: Section,
    /// Enabled accounts the inactivity sweep disables within [`INACTIVITY_WARNING_DAYS`]
    /// of when the review was made (from the accounts, not the log: not in the digest).
    pub accounts_near_inactivity: Vec<NearInactivity>,
    /// Acknowledgements of this week's review, oldest first (not part of the digest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub acknowledgements: Vec<Acknowledgement>,
    /// SHA-256 of the canonical JSON of the week and its seven sections (`seal`).
    pub sha256: String,
}

impl WeeklyReview {
    fn empty(week: IsoWeek, from: jiff::Timestamp, until: jiff::Timestamp) -> Self {
        WeeklyReview {
            week: week.to_string(),
            from: from.to_string(),
            until: until.to_string(),
            entries: 0,
            first_seq: None,
            last_seq: None,
            failed_logons: Section::default(),
            lockouts: Section::default(),
            privileged_actions: Section::default(),
            exports: Section::default(),
            reveals: Section::default(),
            erasures: Section::default(),
            denied_requests: Section::default(),
            accounts_near_inactivity: Vec::new(),
            acknowledgements: Vec::new(),
            sha256: String::new(),
        }
    }

    fn add(&mut self, e: &AccessEntry) {
        self.entries += 1;
        self.first_seq.get_or_insert(e.seq);
        self.last_seq = Some(e.seq);
        let section = match category(e) {
            Some(Category::FailedLogon) => &mut self.failed_logons,
            Some(Category::Lockout) => &mut self.lockouts,
            Some(Category::Privileged) => &mut self.privileged_actions,
            Some(Category::Export) => &mut self.exports,
            Some(Category::Reveal) => &mut self.reveals,
            Some(Category::Erasure) => &mut self.erasures,
            Some(Category::Denied) => &mut self.denied_requests,
            None => return,
        };
        section.add(e);
    }

    /// The digest covers the week and its listed entries, not the counts of all
    /// entries: reading the review is itself logged, and must not change what a
    /// supervisor acknowledges.
    fn seal(&mut self) -> Result<(), AccessLogError> {
        let listed = serde_json::json!({
            "week": self.week,
            "failed_logons": self.failed_logons,
            "lockouts": self.lockouts,
            "privileged_actions": self.privileged_actions,
            "exports": self.exports,
            "reveals": self.reveals,
            "erasures": self.erasures,
            "denied_requests": self.denied_requests,
        });
        let bytes =
            to_canonical_bytes(&listed).map_err(|e| AccessLogError::Encode(e.to_string()))?;
        self.sha256 = hex::encode(Sha256::digest(bytes));
        Ok(())
    }
}

/// Days before the 90-day inactivity sweep an account is listed in the review.
pub const INACTIVITY_WARNING_DAYS: i64 = 14;

/// An enabled account close to being disabled for inactivity (CJIS AC-2(3)).
#[derive(Debug, Clone, Serialize)]
pub struct NearInactivity {
    pub username: String,
    pub role: crate::access::auth::Role,
    pub last_used_at: String,
    /// When the sweep disables it if it stays unused.
    pub disabled_from: String,
}

/// The accounts of `accounts` the sweep disables within the warning period of `now`.
pub fn near_inactivity(
    accounts: &[crate::access::accounts::AccountInfo],
    now: jiff::Timestamp,
) -> Vec<NearInactivity> {
    let warn_from = now.as_second() + INACTIVITY_WARNING_DAYS * 24 * 60 * 60;
    accounts
        .iter()
        .filter(|a| a.status == crate::access::accounts::AccountStatus::Enabled)
        .filter_map(|a| {
            let used: jiff::Timestamp = a.last_used_at.parse().ok()?;
            let disabled = used.as_second() + crate::access::accounts::INACTIVITY_SECS;
            (disabled <= warn_from).then(|| NearInactivity {
                username: a.username.clone(),
                role: a.role,
                last_used_at: a.last_used_at.clone(),
                disabled_from: jiff::Timestamp::from_second(disabled)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Log(#[from] AccessLogError),
    #[error(transparent)]
    Accounts(#[from] crate::access::accounts::AccountError),
}

/// The weekly review as a supervisor reads it: the log's week and the accounts close
/// to the inactivity sweep as of `now`.
pub async fn weekly(
    log: &AccessLog,
    accounts: &crate::access::accounts::AccountStore,
    week: IsoWeek,
    now: jiff::Timestamp,
) -> Result<WeeklyReview, ReviewError> {
    let mut r = review(log, week).await?;
    r.accounts_near_inactivity = near_inactivity(&accounts.list().await?, now);
    Ok(r)
}

/// Computes the review of `week` from the retained log. Acknowledgements are found in
/// the whole log after the week (they are written later), by their target.
pub async fn review(log: &AccessLog, week: IsoWeek) -> Result<WeeklyReview, AccessLogError> {
    let (from, until) = week.bounds()?;
    let mut review = WeeklyReview::empty(week, from, until);
    let mut acks = Vec::new();
    let (mut after, _) = log.anchor().await?;
    loop {
        let page = log.page(after, MAX_PAGE).await?;
        let Some(last) = page.last().map(|e| e.entry.seq) else {
            break;
        };
        for stored in &page {
            let e = &stored.entry;
            if e.action == ACKNOWLEDGED && e.target == review.week {
                acks.push(Acknowledgement {
                    seq: e.seq,
                    at: e.at.clone(),
                    by: e.principal.clone(),
                    review_sha256: e.detail.clone().unwrap_or_default(),
                });
            }
            let at: jiff::Timestamp =
                e.at.parse()
                    .map_err(|err: jiff::Error| AccessLogError::Encode(err.to_string()))?;
            if at >= from && at < until {
                review.add(e);
            }
        }
        after = last;
    }
    review.seal()?;
    review.acknowledgements = acks;
    Ok(review)
}

#[derive(Debug, thiserror::Error)]
pub enum AcknowledgeError {
    #[error("the review of {week} now has digest {current}, not {presented}: it changed after it was read (or the digest is wrong); read it again")]
    Changed {
        week: String,
        current: String,
        presented: String,
    },
    #[error(transparent)]
    Log(#[from] AccessLogError),
}

/// Records that `by` read the review of `week` whose digest is `presented`, which must
/// be the review's digest now: what is acknowledged is exactly what was read.
pub async fn acknowledge(
    log: &AccessLog,
    week: IsoWeek,
    presented: &str,
    by: &str,
    source: &str,
) -> Result<WeeklyReview, AcknowledgeError> {
    let mut current = review(log, week).await?;
    if current.sha256 != presented.to_ascii_lowercase() {
        return Err(AcknowledgeError::Changed {
            week: week.to_string(),
            current: current.sha256,
            presented: presented.chars().take(64).collect(),
        });
    }
    let stored = log
        .append(
            AccessEntry::new(ACKNOWLEDGED, by, source, &week.to_string(), "ok")
                .with_detail(current.sha256.clone()),
        )
        .await?;
    current.acknowledgements.push(Acknowledgement {
        seq: stored.entry.seq,
        at: stored.entry.at,
        by: stored.entry.principal,
        review_sha256: current.sha256.clone(),
    });
    Ok(current)
}
