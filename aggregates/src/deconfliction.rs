//! Deconfliction as a result: two units' cases that share a CyberTip number or a
//! suspect identifier are told of each other, and both stay open.
//!
//! One stream per keyed fingerprint (an HMAC of the normalised value, computed by the
//! command side under a key this crate never sees). Registering a case on a stream
//! that other units' cases already hold records a `DeconflictionMatch` per other unit's
//! case. Per-stream optimistic concurrency makes two simultaneous filings of one
//! identifier produce exactly one match.

use std::net::IpAddr;

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::form::v1::SubjectIdentifierKind;
use crate::ids::{CaseId, Ori};

/// Cases one fingerprint stream keeps at most; beyond that an identifier is shared by so
/// many cases (a provider's relay address) that a match says nothing.
pub const MAX_HOLDERS: usize = 200;

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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeconflictionCommand {
    /// `case_id` of `unit` holds the value behind `fingerprint`. Idempotent per case.
    Register {
        fingerprint: Fingerprint,
        basis: MatchBasis,
        case_id: CaseId,
        unit: Ori,
        recorded_at: Timestamp,
    },
    /// `case_id` was filed with `deconfliction_checked: false`: the Task Force follows
    /// it up. On the case's own stream (a keyed id of the case). Idempotent.
    FlagNotChecked {
        case_id: CaseId,
        unit: Ori,
        recorded_at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeconflictionEvent {
    FingerprintRegistered {
        fingerprint: Fingerprint,
        basis: MatchBasis,
        case_id: CaseId,
        unit: Ori,
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
}

impl crate::sealed::SealedEffects for DeconflictionEvent {}

impl DomainEvent for DeconflictionEvent {
    fn event_type(&self) -> String {
        match self {
            Self::FingerprintRegistered { .. } => "FingerprintRegistered",
            Self::DeconflictionMatch { .. } => "DeconflictionMatch",
            Self::DeconflictionNotChecked { .. } => "DeconflictionNotChecked",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeconflictionError {
    #[error("the fingerprint is registered under another kind of value")]
    BasisMismatch,
}

impl crate::text::BlamesField for DeconflictionError {
    fn blamed_field(&self) -> Option<&'static str> {
        None
    }
}

/// The cases holding one fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deconfliction {
    pub basis: Option<MatchBasis>,
    pub holders: Vec<(CaseId, Ori)>,
    /// A not-checked stream: its case is flagged.
    #[serde(default)]
    pub not_checked: bool,
}

impl Deconfliction {
    pub fn decide(
        &self,
        command: DeconflictionCommand,
    ) -> Result<Vec<DeconflictionEvent>, DeconflictionError> {
        let (fingerprint, basis, case_id, unit, recorded_at) = match command {
            DeconflictionCommand::Register {
                fingerprint,
                basis,
                case_id,
                unit,
                recorded_at,
            } => (fingerprint, basis, case_id, unit, recorded_at),
            DeconflictionCommand::FlagNotChecked {
                case_id,
                unit,
                recorded_at,
            } => {
                if self.not_checked {
                    return Ok(vec![]);
                }
                return Ok(vec![DeconflictionEvent::DeconflictionNotChecked {
                    case_id,
                    unit,
                    recorded_at,
                }]);
            }
        };
        if self.basis.is_some_and(|b| b != basis) {
            return Err(DeconflictionError::BasisMismatch);
        }
        if self.holders.iter().any(|(c, _)| *c == case_id) || self.holders.len() >= MAX_HOLDERS {
            return Ok(vec![]);
        }
        // One match per other unit (its first case): a unit is told whom to call once.
        let mut others: Vec<&(CaseId, Ori)> = Vec::new();
        for holder in &self.holders {
            if holder.1 != unit && !others.iter().any(|o| o.1 == holder.1) {
                others.push(holder);
            }
        }
        let mut events = vec![DeconflictionEvent::FingerprintRegistered {
            fingerprint: fingerprint.clone(),
            basis,
            case_id: case_id.clone(),
            unit: unit.clone(),
            recorded_at,
        }];
        events.extend(others.into_iter().map(|(other_case_id, other_unit)| {
            DeconflictionEvent::DeconflictionMatch {
                fingerprint: fingerprint.clone(),
                basis,
                case_id: case_id.clone(),
                unit: unit.clone(),
                other_case_id: other_case_id.clone(),
                other_unit: other_unit.clone(),
                recorded_at,
            }
        }));
        Ok(events)
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
        match event {
            DeconflictionEvent::FingerprintRegistered {
                basis,
                case_id,
                unit,
                ..
            } => {
                self.basis = Some(basis);
                self.holders.push((case_id, unit));
            }
            DeconflictionEvent::DeconflictionNotChecked { .. } => self.not_checked = true,
            DeconflictionEvent::DeconflictionMatch { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_forms() {
        let n = |b, v| normalise(b, v);
        assert_eq!(n(MatchBasis::ScreenName, "  KidFinder99 \t"), Some("kidfinder99".into()));
        assert_eq!(n(MatchBasis::EmailAddress, "A@B.Org"), Some("a@b.org".into()));
        assert_eq!(n(MatchBasis::PhoneNumber, "(860) 555-0100"), Some("8605550100".into()));
        assert_eq!(n(MatchBasis::IpAddress, "::ffff:10.0.0.1"), Some("10.0.0.1".into()));
        assert_eq!(n(MatchBasis::IpAddress, "2001:DB8:0:0::1"), Some("2001:db8::1".into()));
        assert_eq!(n(MatchBasis::IpAddress, "not an ip"), None);
        assert_eq!(n(MatchBasis::ScreenName, "   "), None);
    }
}
