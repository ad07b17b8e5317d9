//! Deconfliction as a result: two units' cases that share a CyberTip number or a
//! suspect identifier are told of each other, and both stay open.
//!
//! Two kinds of stream, neither of which concurrent filings contend on:
//! * one per **case** (a keyed id of the case, computed by the command side): the
//!   case's keyed fingerprints (`FingerprintsRegistered`, an HMAC of each normalised
//!   value under a key this crate never sees) and its `deconfliction_checked: false`
//!   flag and follow-up. Only that case's own filing writes it, and the case stream
//!   already serialises those.
//! * one per **value and pair of units** (a keyed id of the fingerprint and the two
//!   ORIs): the `DeconflictionMatch` that tells both units of each other. At most one
//!   event is ever written there, so two filings racing for it conflict at most once.
//!
//! Matching happens after registration, over every registration committed so far
//! ([`Registry`], which the command side keeps from the ledger and the benchmark
//! generator keeps in memory): a filing registers, then brings its registry up to its
//! own registration, then records the matches [`Registry::plan`] finds missing. Of two
//! filings of one value at the same moment, the one whose registration committed later
//! sees the other's (it reads everything up to its own), so every pair of units holding
//! a value is matched however the filings interleave; a match both try to record lands
//! once. [`Registry::plan`] also repairs matches missing for any pair of units on the
//! value (a process that died between registering and matching), and
//! [`Registry::plan_all`] does so for every value.
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::form::v1::SubjectIdentifierKind;
use crate::ids::{CaseId, Ori};

/// Units a value is matched between at most: a value more than this many units hold (a
/// provider's relay address) says nothing about who should call whom. Later units still
/// register it; the Task Force sees the registrations.
pub const MAX_UNITS_PER_VALUE: usize = 50;

/// Values one case registers at most (the form's own limits keep it far below).
pub const MAX_VALUES_PER_CASE: usize = 256;

/// What two cases matched on. Part of the keyed hash's input, so values of different
/// kinds never match (an e-mail address equal to a screen name is not a match).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchBasis {
    CybertipNumber,
    ScreenName,
    Account,
    EmailAddress,
    PhoneNumber,
    IpAddress,
}

impl MatchBasis {
    pub fn of_subject(kind: SubjectIdentifierKind) -> Self {
        match kind {
            SubjectIdentifierKind::ScreenName => Self::ScreenName,
            SubjectIdentifierKind::Account => Self::Account,
            SubjectIdentifierKind::EmailAddress => Self::EmailAddress,
            SubjectIdentifierKind::PhoneNumber => Self::PhoneNumber,
            SubjectIdentifierKind::IpEvent => Self::IpAddress,
        }
    }

    /// The label hashed before the value (domain separation between kinds).
    pub fn label(self) -> &'static str {
        match self {
            Self::CybertipNumber => "cybertip_number",
            Self::ScreenName => "screen_name",
            Self::Account => "account",
            Self::EmailAddress => "email_address",
            Self::PhoneNumber => "phone_number",
            Self::IpAddress => "ip_address",
        }
    }
}

/// The normal form of a value before it is hashed, so that spellings of the same
/// identifier match: surrounding whitespace trimmed; screen names, accounts and e-mail
/// addresses lower-cased (platforms treat them case-insensitively); a phone number's
/// digits only; an IP address in canonical text (RFC 5952 for IPv6, an IPv4-mapped
/// IPv6 address as its IPv4 form). `None`: nothing left to compare.
pub fn normalise(basis: MatchBasis, value: &str) -> Option<String> {
    let trimmed = value.trim();
    let out = match basis {
        MatchBasis::CybertipNumber => trimmed.to_string(),
        MatchBasis::ScreenName | MatchBasis::Account | MatchBasis::EmailAddress => {
            trimmed.to_lowercase()
        }
        MatchBasis::PhoneNumber => trimmed.chars().filter(char::is_ascii_digit).collect(),
        MatchBasis::IpAddress => match trimmed.parse::<IpAddr>().ok()? {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => v6.to_string(),
            },
            v4 => v4.to_string(),
        },
    };
    (!out.is_empty()).then_some(out)
}

/// A keyed fingerprint: 64 lower-case hex digits (HMAC-SHA-256). It reveals nothing
/// without the server's key; it is also the stream id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint(String);

impl Fingerprint {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Fingerprint(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Fingerprint(s))
        } else {
            Err("a fingerprint is 64 lower-case hex digits".into())
        }
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.0
    }
}

/// A value of a case, as registered: its keyed fingerprint and its kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RegisteredValue {
    pub fingerprint: Fingerprint,
    pub basis: MatchBasis,
}

/// What the Task Force found when it followed up a case filed with
/// `deconfliction_checked: false`. A closed list: no free text, so no personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpOutcome {
    /// The unit checked after all, and found no other agency involved.
    UnitCheckedNoOtherAgency,
    /// Another agency is involved; the unit has been put in touch with it.
    OtherAgencyContacted,
    /// The Task Force's own check (the ledger's matches and its other sources) found
    /// no other agency involved.
    TaskForceFoundNone,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeconflictionCommand {
    /// On the case's stream: `case_id` of `unit` holds `values`. Idempotent: values the
    /// case already registered are left out; the first registration of a case is
    /// recorded even with no values, so every filed case has its stream.
    Register {
        case_id: CaseId,
        unit: Ori,
        values: Vec<RegisteredValue>,
        deconfliction_checked: bool,
        recorded_at: Timestamp,
    },
    /// On a value's stream for one pair of units: both units hold the value behind
    /// `fingerprint`. Idempotent: a second record of the pair writes nothing.
    RecordMatch(PlannedMatch),
    /// On the case's stream: the Task Force followed up a not-checked filing.
    FollowUp {
        case_id: CaseId,
        outcome: FollowUpOutcome,
        recorded_at: Timestamp,
    },
}

/// A match to record: `case_id` (of `unit`) and `other_case_id` (of `other_unit`) hold
/// the same value. `case_id` is the case whose filing found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedMatch {
    pub fingerprint: Fingerprint,
    pub basis: MatchBasis,
    pub case_id: CaseId,
    pub unit: Ori,
    pub other_case_id: CaseId,
    pub other_unit: Ori,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeconflictionEvent {
    FingerprintsRegistered {
        case_id: CaseId,
        unit: Ori,
        values: Vec<RegisteredValue>,
        recorded_at: Timestamp,
    },
    /// Two units' cases hold the same value. Task Force only: both case ids are here;
    /// each unit is shown only the other unit (see the command side's notices).
    DeconflictionMatch {
        fingerprint: Fingerprint,
        basis: MatchBasis,
        case_id: CaseId,
        unit: Ori,
        other_case_id: CaseId,
        other_unit: Ori,
        recorded_at: Timestamp,
    },
    /// A case filed saying its unit did not check for other agencies' involvement.
    DeconflictionNotChecked {
        case_id: CaseId,
        unit: Ori,
        recorded_at: Timestamp,
    },
    /// The Task Force followed that case up.
    DeconflictionFollowedUp {
        case_id: CaseId,
        unit: Ori,
        outcome: FollowUpOutcome,
        recorded_at: Timestamp,
    },
}

impl crate::sealed::SealedEffects for DeconflictionEvent {}

impl DomainEvent for DeconflictionEvent {
    fn event_type(&self) -> String {
        match self {
            Self::FingerprintsRegistered { .. } => "FingerprintsRegistered",
            Self::DeconflictionMatch { .. } => "DeconflictionMatch",
            Self::DeconflictionNotChecked { .. } => "DeconflictionNotChecked",
            Self::DeconflictionFollowedUp { .. } => "DeconflictionFollowedUp",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum DeconflictionError {
    #[error("this deconfliction record belongs to another case")]
    OtherCase,
    #[error("a case registers at most {MAX_VALUES_PER_CASE} values for deconfliction")]
    TooManyValues,
    #[error(
        "case {0} was not filed with deconfliction_checked false: there is nothing to follow up"
    )]
    NotFlagged(CaseId),
    #[error("case {0} has already been followed up")]
    AlreadyFollowedUp(CaseId),
    #[error("a match is between two units' cases, not cases of one unit")]
    SameUnit,
}

impl crate::text::BlamesField for DeconflictionError {
    fn rule(&self) -> &'static str {
        self.into()
    }

    fn blamed_field(&self) -> Option<&'static str> {
        match self {
            Self::NotFlagged(_) | Self::AlreadyFollowedUp(_) => Some("case_id"),
            _ => None,
        }
    }
}

/// One stream's state: a case's record, or a value's match for one pair of units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deconfliction {
    pub case: Option<(CaseId, Ori)>,
    pub values: Vec<RegisteredValue>,
    pub not_checked: bool,
    pub followed_up: bool,
    pub matched: bool,
}

impl Deconfliction {
    pub fn decide(
        &self,
        command: DeconflictionCommand,
    ) -> Result<Vec<DeconflictionEvent>, DeconflictionError> {
        match command {
            DeconflictionCommand::Register {
                case_id,
                unit,
                values,
                deconfliction_checked,
                recorded_at,
            } => self.register(case_id, unit, values, deconfliction_checked, recorded_at),
            DeconflictionCommand::RecordMatch(m) => {
                if m.unit == m.other_unit {
                    return Err(DeconflictionError::SameUnit);
                }
                if self.matched {
                    return Ok(vec![]);
                }
                Ok(vec![DeconflictionEvent::DeconflictionMatch {
                    fingerprint: m.fingerprint,
                    basis: m.basis,
                    case_id: m.case_id,
                    unit: m.unit,
                    other_case_id: m.other_case_id,
                    other_unit: m.other_unit,
                    recorded_at: m.recorded_at,
                }])
            }
            DeconflictionCommand::FollowUp {
                case_id,
                outcome,
                recorded_at,
            } => {
                let unit = match &self.case {
                    Some((c, unit)) if *c == case_id && self.not_checked => unit.clone(),
                    _ => return Err(DeconflictionError::NotFlagged(case_id)),
                };
                if self.followed_up {
                    return Err(DeconflictionError::AlreadyFollowedUp(case_id));
                }
                Ok(vec![DeconflictionEvent::DeconflictionFollowedUp {
                    case_id,
                    unit,
                    outcome,
                    recorded_at,
                }])
            }
        }
    }

    fn register(
        &self,
        case_id: CaseId,
        unit: Ori,
        values: Vec<RegisteredValue>,
        deconfliction_checked: bool,
        recorded_at: Timestamp,
    ) -> Result<Vec<DeconflictionEvent>, DeconflictionError> {
        if self.case.as_ref().is_some_and(|(c, _)| *c != case_id) {
            return Err(DeconflictionError::OtherCase);
        }
        let mut new: Vec<RegisteredValue> = Vec::new();
        for v in values {
            if !self.values.contains(&v) && !new.contains(&v) {
                new.push(v);
            }
        }
        if self.values.len() + new.len() > MAX_VALUES_PER_CASE {
            return Err(DeconflictionError::TooManyValues);
        }
        let mut events = Vec::new();
        if self.case.is_none() || !new.is_empty() {
            events.push(DeconflictionEvent::FingerprintsRegistered {
                case_id: case_id.clone(),
                unit: unit.clone(),
                values: new,
                recorded_at,
            });
        }
        if !deconfliction_checked && !self.not_checked {
            events.push(DeconflictionEvent::DeconflictionNotChecked {
                case_id,
                unit,
                recorded_at,
            });
        }
        Ok(events)
    }

    fn apply_event(&mut self, event: DeconflictionEvent) {
        match event {
            DeconflictionEvent::FingerprintsRegistered {
                case_id,
                unit,
                values,
                ..
            } => {
                self.case.get_or_insert((case_id, unit));
                self.values.extend(values);
            }
            DeconflictionEvent::DeconflictionNotChecked { case_id, unit, .. } => {
                self.case.get_or_insert((case_id, unit));
                self.not_checked = true;
            }
            DeconflictionEvent::DeconflictionFollowedUp { .. } => self.followed_up = true,
            DeconflictionEvent::DeconflictionMatch { .. } => self.matched = true,
        }
    }
}

impl Aggregate for Deconfliction {
    const TYPE: &'static str = "deconfliction";
    type Command = DeconflictionCommand;
    type Event = DeconflictionEvent;
    type Error = DeconflictionError;
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
        self.apply_event(event);
    }
}

/// One match as the Task Force sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    pub basis: MatchBasis,
    pub case_id: CaseId,
    pub unit: Ori,
    pub other_case_id: CaseId,
    pub other_unit: Ori,
    pub recorded_at: Timestamp,
}

/// A case filed with `deconfliction_checked: false`, for the Task Force to follow up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotChecked {
    pub case_id: CaseId,
    pub unit: Ori,
    pub recorded_at: Timestamp,
    /// Other units the ledger has matched this case with: where to start.
    pub units_matched: usize,
    pub follow_up: Option<FollowedUp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowedUp {
    pub outcome: FollowUpOutcome,
    pub recorded_at: Timestamp,
}

/// The units holding one value, in the order they first registered it, each with its
/// first case; and the matches recorded on it.
#[derive(Debug, Clone)]
struct Holders {
    basis: MatchBasis,
    units: Vec<(Ori, CaseId)>,
    /// Indexes into `Registry::matches`.
    matches: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
struct CaseEntry {
    unit: Option<Ori>,
    values: Vec<Fingerprint>,
    not_checked: Option<Timestamp>,
    follow_up: Option<FollowedUp>,
}

/// Every registration and match of a ledger, folded: what the matching decides from
/// and what the Task Force and the units read. Applying an event twice changes nothing
/// (the command side applies its own commits and also reads the ledger).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    values: HashMap<Fingerprint, Holders>,
    cases: HashMap<CaseId, CaseEntry>,
    matches: Vec<MatchRecord>,
    /// (value, unit, unit) with the two ORIs in order: recorded matches.
    matched: HashSet<(Fingerprint, Ori, Ori)>,
    /// Cases flagged not checked, in the order they were flagged.
    not_checked: Vec<CaseId>,
}

fn unit_pair(fingerprint: &Fingerprint, a: &Ori, b: &Ori) -> (Fingerprint, Ori, Ori) {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    (fingerprint.clone(), lo.clone(), hi.clone())
}

impl Registry {
    pub fn apply(&mut self, event: &DeconflictionEvent) {
        match event {
            DeconflictionEvent::FingerprintsRegistered {
                case_id,
                unit,
                values,
                ..
            } => self.register(case_id, unit, values),
            DeconflictionEvent::DeconflictionMatch {
                fingerprint,
                basis,
                case_id,
                unit,
                other_case_id,
                other_unit,
                recorded_at,
            } => {
                if !self
                    .matched
                    .insert(unit_pair(fingerprint, unit, other_unit))
                {
                    return;
                }
                let index = self.matches.len();
                self.matches.push(MatchRecord {
                    basis: *basis,
                    case_id: case_id.clone(),
                    unit: unit.clone(),
                    other_case_id: other_case_id.clone(),
                    other_unit: other_unit.clone(),
                    recorded_at: *recorded_at,
                });
                self.values
                    .entry(fingerprint.clone())
                    .or_insert_with(|| Holders {
                        basis: *basis,
                        units: Vec::new(),
                        matches: Vec::new(),
                    })
                    .matches
                    .push(index);
            }
            DeconflictionEvent::DeconflictionNotChecked {
                case_id,
                unit,
                recorded_at,
            } => {
                let entry = self.cases.entry(case_id.clone()).or_default();
                entry.unit.get_or_insert_with(|| unit.clone());
                if entry.not_checked.is_none() {
                    entry.not_checked = Some(*recorded_at);
                    self.not_checked.push(case_id.clone());
                }
            }
            DeconflictionEvent::DeconflictionFollowedUp {
                case_id,
                outcome,
                recorded_at,
                ..
            } => {
                let entry = self.cases.entry(case_id.clone()).or_default();
                entry.follow_up.get_or_insert(FollowedUp {
                    outcome: *outcome,
                    recorded_at: *recorded_at,
                });
            }
        }
    }

    fn register(&mut self, case_id: &CaseId, unit: &Ori, values: &[RegisteredValue]) {
        let entry = self.cases.entry(case_id.clone()).or_default();
        entry.unit.get_or_insert_with(|| unit.clone());
        for v in values {
            if entry.values.contains(&v.fingerprint) {
                continue;
            }
            entry.values.push(v.fingerprint.clone());
            let holders = self
                .values
                .entry(v.fingerprint.clone())
                .or_insert_with(|| Holders {
                    basis: v.basis,
                    units: Vec::new(),
                    matches: Vec::new(),
                });
            if !holders.units.iter().any(|(u, _)| u == unit) {
                holders.units.push((unit.clone(), case_id.clone()));
            }
        }
    }

    /// Whether `case_id` has registered (every filed case has, once its filing is done).
    pub fn is_registered(&self, case_id: &CaseId) -> bool {
        self.cases.get(case_id).is_some_and(|c| c.unit.is_some())
    }

    /// The matches missing on `fingerprint`: one per pair of units holding it with no
    /// match yet, among the first `MAX_UNITS_PER_VALUE` units to register it. A pair
    /// with `newcomer`'s unit names `newcomer` (the case whose filing found it);
    /// otherwise the later unit's first case. Deterministic for a given registry.
    pub fn plan(
        &self,
        fingerprint: &Fingerprint,
        newcomer: Option<&CaseId>,
        recorded_at: Timestamp,
    ) -> Vec<PlannedMatch> {
        let Some(holders) = self.values.get(fingerprint) else {
            return vec![];
        };
        let newcomer_unit = newcomer.and_then(|c| Some((c, self.cases.get(c)?.unit.as_ref()?)));
        let units = &holders.units[..holders.units.len().min(MAX_UNITS_PER_VALUE)];
        let mut out = Vec::new();
        for (j, (later, later_case)) in units.iter().enumerate() {
            for (earlier, earlier_case) in &units[..j] {
                if self
                    .matched
                    .contains(&unit_pair(fingerprint, earlier, later))
                {
                    continue;
                }
                let (case_id, unit, other_case_id, other_unit) = match newcomer_unit {
                    Some((c, u)) if u == earlier => (c, earlier, later_case, later),
                    Some((c, u)) if u == later => (c, later, earlier_case, earlier),
                    _ => (later_case, later, earlier_case, earlier),
                };
                out.push(PlannedMatch {
                    fingerprint: fingerprint.clone(),
                    basis: holders.basis,
                    case_id: case_id.clone(),
                    unit: unit.clone(),
                    other_case_id: other_case_id.clone(),
                    other_unit: other_unit.clone(),
                    recorded_at,
                });
            }
        }
        out
    }

    /// The values `case_id` registered, in its order.
    pub fn values_of(&self, case_id: &CaseId) -> Vec<Fingerprint> {
        self.cases
            .get(case_id)
            .map(|c| c.values.clone())
            .unwrap_or_default()
    }

    /// [`Registry::plan`] over every value, in fingerprint order.
    pub fn plan_all(&self, recorded_at: Timestamp) -> Vec<PlannedMatch> {
        let mut fingerprints: Vec<&Fingerprint> = self.values.keys().collect();
        fingerprints.sort();
        fingerprints
            .into_iter()
            .flat_map(|f| self.plan(f, None, recorded_at))
            .collect()
    }

    /// Every match, in the order recorded.
    pub fn matches(&self) -> &[MatchRecord] {
        &self.matches
    }

    /// For `case_id`: each other unit holding one of its values, with the kind of
    /// value and when the two units were matched; never the other unit's case.
    pub fn contacts(&self, case_id: &CaseId) -> Vec<(MatchBasis, Ori, Timestamp)> {
        let Some(entry) = self.cases.get(case_id) else {
            return vec![];
        };
        let Some(unit) = &entry.unit else {
            return vec![];
        };
        let mut out: Vec<(MatchBasis, Ori, Timestamp)> = Vec::new();
        for fingerprint in &entry.values {
            let Some(holders) = self.values.get(fingerprint) else {
                continue;
            };
            for m in holders.matches.iter().filter_map(|&i| self.matches.get(i)) {
                let other = if m.unit == *unit {
                    &m.other_unit
                } else if m.other_unit == *unit {
                    &m.unit
                } else {
                    continue;
                };
                if !out.iter().any(|(b, o, _)| *b == m.basis && o == other) {
                    out.push((m.basis, other.clone(), m.recorded_at));
                }
            }
        }
        out
    }

    /// Cases filed with `deconfliction_checked: false`, in the order flagged; with
    /// `open_only`, those not yet followed up.
    pub fn not_checked(&self, open_only: bool) -> Vec<NotChecked> {
        let mut out = Vec::new();
        for case_id in &self.not_checked {
            let Some(entry) = self.cases.get(case_id) else {
                continue;
            };
            let (Some(unit), Some(recorded_at)) = (&entry.unit, entry.not_checked) else {
                continue;
            };
            if open_only && entry.follow_up.is_some() {
                continue;
            }
            let mut units: Vec<Ori> = self.contacts(case_id).into_iter().map(|c| c.1).collect();
            units.sort();
            units.dedup();
            out.push(NotChecked {
                case_id: case_id.clone(),
                unit: unit.clone(),
                recorded_at,
                units_matched: units.len(),
                follow_up: entry.follow_up.clone(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        let n = |b, v| normalise(b, v);
        assert_eq!(
            n(MatchBasis::ScreenName, "  KidFinder99 \t"),
            Some("kidfinder99".into())
        );
        assert_eq!(
            n(MatchBasis::EmailAddress, "A@B.Org"),
            Some("a@b.org".into())
        );
        assert_eq!(
            n(MatchBasis::PhoneNumber, "(860) 555-0100"),
            Some("8605550100".into())
        );
        assert_eq!(
            n(MatchBasis::IpAddress, "::ffff:10.0.0.1"),
            Some("10.0.0.1".into())
        );
        assert_eq!(
            n(MatchBasis::IpAddress, "2001:DB8:0:0::1"),
            Some("2001:db8::1".into())
        );
        assert_eq!(n(MatchBasis::IpAddress, "not an ip"), None);
        assert_eq!(n(MatchBasis::ScreenName, "   "), None);
    }

    fn fp(n: u8) -> Fingerprint {
        Fingerprint::from_bytes([n; 32])
    }
    fn ori(s: &str) -> Ori {
        Ori::parse(s).unwrap()
    }
    fn case(s: &str) -> CaseId {
        CaseId::parse(s).unwrap()
    }
    fn at() -> Timestamp {
        Timestamp::from_second(1_750_000_000).unwrap()
    }
    fn registered(c: &str, unit: &str, values: &[u8]) -> DeconflictionEvent {
        DeconflictionEvent::FingerprintsRegistered {
            case_id: case(c),
            unit: ori(unit),
            values: values
                .iter()
                .map(|&n| RegisteredValue {
                    fingerprint: fp(n),
                    basis: MatchBasis::ScreenName,
                })
                .collect(),
            recorded_at: at(),
        }
    }
    fn recorded(m: &PlannedMatch) -> DeconflictionEvent {
        Deconfliction::default()
            .decide(DeconflictionCommand::RecordMatch(m.clone()))
            .unwrap()
            .remove(0)
    }

    const A: &str = "CT0006400";
    const B: &str = "CT0009300";
    const C: &str = "CT0015100";

    #[test]
    fn registration_is_idempotent_and_opens_the_case_record_even_without_values() {
        let mut d = Deconfliction::default();
        let register = |values: Vec<u8>, checked| DeconflictionCommand::Register {
            case_id: case("CT0006400:H1"),
            unit: ori(A),
            values: values
                .into_iter()
                .map(|n| RegisteredValue {
                    fingerprint: fp(n),
                    basis: MatchBasis::ScreenName,
                })
                .collect(),
            deconfliction_checked: checked,
            recorded_at: at(),
        };
        let first = d.decide(register(vec![], false)).unwrap();
        assert_eq!(first.len(), 2, "{first:?}");
        first.into_iter().for_each(|e| d.apply_event(e));
        assert_eq!(d.decide(register(vec![], false)).unwrap(), vec![]);
        let again = d.decide(register(vec![1, 1], false)).unwrap();
        assert_eq!(again.len(), 1);
        again.into_iter().for_each(|e| d.apply_event(e));
        assert_eq!(d.decide(register(vec![1], true)).unwrap(), vec![]);
        let other = DeconflictionCommand::Register {
            case_id: case("CT0006400:H2"),
            unit: ori(A),
            values: vec![],
            deconfliction_checked: true,
            recorded_at: at(),
        };
        assert_eq!(d.decide(other), Err(DeconflictionError::OtherCase));
    }

    #[test]
    fn follow_up_only_of_a_flagged_case_and_once() {
        let mut d = Deconfliction::default();
        let follow = DeconflictionCommand::FollowUp {
            case_id: case("CT0006400:H1"),
            outcome: FollowUpOutcome::TaskForceFoundNone,
            recorded_at: at(),
        };
        assert!(matches!(
            d.decide(follow.clone()),
            Err(DeconflictionError::NotFlagged(_))
        ));
        d.apply_event(DeconflictionEvent::DeconflictionNotChecked {
            case_id: case("CT0006400:H1"),
            unit: ori(A),
            recorded_at: at(),
        });
        let events = d.decide(follow.clone()).unwrap();
        events.into_iter().for_each(|e| d.apply_event(e));
        assert!(matches!(
            d.decide(follow),
            Err(DeconflictionError::AlreadyFollowedUp(_))
        ));
    }

    #[test]
    fn a_match_stream_takes_one_match() {
        let mut d = Deconfliction::default();
        let m = PlannedMatch {
            fingerprint: fp(1),
            basis: MatchBasis::ScreenName,
            case_id: case("CT0009300:N1"),
            unit: ori(B),
            other_case_id: case("CT0006400:H1"),
            other_unit: ori(A),
            recorded_at: at(),
        };
        let events = d
            .decide(DeconflictionCommand::RecordMatch(m.clone()))
            .unwrap();
        assert_eq!(events.len(), 1);
        events.into_iter().for_each(|e| d.apply_event(e));
        assert_eq!(
            d.decide(DeconflictionCommand::RecordMatch(m.clone()))
                .unwrap(),
            vec![]
        );
        let same_unit = PlannedMatch {
            other_unit: ori(B),
            ..m
        };
        assert_eq!(
            Deconfliction::default().decide(DeconflictionCommand::RecordMatch(same_unit)),
            Err(DeconflictionError::SameUnit)
        );
    }

    /// Two filings of one value whose registrations both committed before either
    /// planned (they raced): each plans the same pair, and it lands once. One that
    /// planned before the other registered plans nothing; the other then plans it.
    #[test]
    fn every_pair_of_units_is_matched_however_filings_interleave() {
        let mut both = Registry::default();
        both.apply(&registered("CT0006400:H1", A, &[1]));
        both.apply(&registered("CT0009300:N1", B, &[1]));
        let from_a = both.plan(&fp(1), Some(&case("CT0006400:H1")), at());
        let from_b = both.plan(&fp(1), Some(&case("CT0009300:N1")), at());
        assert_eq!((from_a.len(), from_b.len()), (1, 1));
        assert_eq!(from_a[0].case_id, case("CT0006400:H1"));
        assert_eq!(from_b[0].case_id, case("CT0009300:N1"));
        both.apply(&recorded(&from_b[0]));
        both.apply(&recorded(&from_a[0]));
        assert_eq!(both.matches().len(), 1, "one match per pair of units");
        assert!(both.plan(&fp(1), None, at()).is_empty());

        // Units A, B, C; B's second case learns of A and C without a new match.
        let mut r = Registry::default();
        r.apply(&registered("CT0006400:H1", A, &[1]));
        assert!(r.plan(&fp(1), Some(&case("CT0006400:H1")), at()).is_empty());
        r.apply(&registered("CT0009300:N1", B, &[1]));
        r.apply(&registered("CT0015100:W1", C, &[1, 2]));
        // B's filer stopped before matching: the pair A-B is missing.
        assert_eq!(r.plan_all(at()).len(), 3);
        let plan = r.plan(&fp(1), Some(&case("CT0015100:W1")), at());
        let pairs: Vec<(&str, &str, &str)> = plan
            .iter()
            .map(|m| (m.case_id.as_str(), m.unit.as_str(), m.other_unit.as_str()))
            .collect();
        // C's filing records its own two and repairs A-B (named by B's first case).
        assert_eq!(
            pairs,
            vec![
                ("CT0009300:N1", B, A),
                ("CT0015100:W1", C, A),
                ("CT0015100:W1", C, B)
            ]
        );
        for m in &plan {
            r.apply(&recorded(m));
        }
        assert!(r.plan_all(at()).is_empty());
        r.apply(&registered("CT0009300:N2", B, &[1]));
        assert!(r.plan(&fp(1), Some(&case("CT0009300:N2")), at()).is_empty());
        let mut contacts: Vec<String> = r
            .contacts(&case("CT0009300:N2"))
            .into_iter()
            .map(|(_, o, _)| o.as_str().to_string())
            .collect();
        contacts.sort();
        assert_eq!(contacts, vec![A.to_string(), C.to_string()]);
        assert!(r
            .contacts(&case("CT0006400:H1"))
            .iter()
            .all(|(_, o, _)| o.as_str() != A));
        assert_eq!(r.matches().len(), 3);
    }
}
