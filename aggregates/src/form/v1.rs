//! The form, versions 1 and 2. Field names and enum values here are a public
//! contract (JSON Schema in `docs/forms/notification-v1.schema.json`,
//! `notification-v2.schema.json`) and are hashed into the ledger: change them
//! only through a new form version plus an upcaster (see `crate::upcast`).
//!
//! Version 2 adds `received.utc_offset` (an explicit fall-back time), a list of
//! `victims` (zero or more, each with the date identified) in place of the one
//! `victim`. The typed form holds either shape: a version 1 form recorded before
//! version 2 existed keeps its bytes in the ledger and is brought to the version 2
//! shape in memory by `crate::upcast::form_v1_to_v2`; a version 1 form filed now
//! is upcast before it is recorded.

use std::fmt;

use jiff::civil::{Date, Time};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::{IncidentType, Medium, SourceKind};
use crate::ids::{CyberTipNumber, OperationId, Ori, ReceiptNumber, StatuteCode, UnitCaseNumber};
use crate::sealed::Sealed;

/// The text a filer accepts by setting `attestation.statement_accepted`.
pub const ATTESTATION_STATEMENT: &str = "I attest that the information in this notification is accurate and complete to the best of my knowledge, and that it contains no child sexual abuse material.";

/// Collection bounds (also enforced by validation and published in the schema).
pub mod bounds {
    pub const STATUTES: usize = 20;
    pub const SUBJECT_IDENTIFIERS: usize = 100;
    pub const HASHES: usize = 500;
    pub const COUNT: u32 = 10_000_000;
    pub const VICTIMS: usize = 50;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum FormVersion {
    #[serde(rename = "1")]
    V1,
    #[serde(rename = "2")]
    V2,
}

/// Standardized initial notification to the ICAC Task Force, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Connecticut ICAC standardized initial notification, versions 1 and 2")]
pub struct NotificationForm {
    /// "2" (current) or "1" (still accepted, upcast to 2).
    pub form_version: FormVersion,
    /// ORI of the law enforcement unit filing the notification.
    pub reporting_unit: Ori,
    pub officer: OfficerContact,
    /// The unit's own case or incident number.
    pub unit_case_number: UnitCaseNumber,
    /// When the unit received the notification, information or complaint
    /// (Connecticut local date; this starts the 14-day clock).
    pub received: ReceivedWhen,
    pub source: Source,
    pub incident: Incident,
    pub medium: Medium,
    /// Platform, app or service name (e.g. a social network). No URLs to material.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 120))]
    pub platform: Option<String>,
    /// Suspected Connecticut statutes, from the catalog.
    #[schemars(length(max = 20))]
    pub suspected_statutes: Vec<StatuteCode>,
    /// A child can be identified or is in imminent danger: the Task Force
    /// gives such leads priority.
    pub urgent: bool,
    #[schemars(length(max = 100))]
    pub subject_identifiers: Vec<SubjectIdentifier>,
    /// Version 1 only: the one child. Version 2 uses `victims`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victim: Option<Victim>,
    /// Version 2: the children, zero or more (at most 50). A child identified
    /// later is a `VictimIdentified` event on the case, not a new form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub victims: Vec<Victim>,
    pub evidence: EvidenceSummary,
    /// The unit checked for other agencies' involvement before filing.
    pub deconfliction_checked: bool,
    pub assistance_requested: AssistanceRequested,
    pub attestation: Attestation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OfficerContact {
    /// Personal: sealed out of the chain.
    #[schemars(length(min = 1, max = 120))]
    pub name: Sealed<String>,
    /// Personal: sealed out of the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 60))]
    pub badge: Option<Sealed<String>>,
    /// At least one of phone and email is required. Personal: sealed out of the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 7, max = 25))]
    pub phone: Option<Sealed<String>>,
    /// Personal: sealed out of the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 254))]
    pub email: Option<Sealed<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedWhen {
    /// Connecticut local date (YYYY-MM-DD).
    pub date: Date,
    /// Connecticut local time, if known (HH:MM or HH:MM:SS, no offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// Version 2: Connecticut's UTC offset at `time`, "-04:00" (EDT) or "-05:00"
    /// (EST). Required only for a time on the fall-back night that happened twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset: Option<crate::local_time::CtOffset>,
}

/// Where the information came from, with its reference number where one exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    NcmecCybertip {
        cybertip_number: CyberTipNumber,
    },
    PublicReport {
        receipt_number: ReceiptNumber,
    },
    School,
    Parent,
    Dcf,
    OtherAgency {
        #[schemars(length(min = 1, max = 120))]
        agency_name: String,
    },
    OnlineServiceProvider {
        #[schemars(length(min = 1, max = 120))]
        provider_name: String,
    },
    ProactiveUndercover {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation_id: Option<OperationId>,
    },
}

impl Source {
    pub fn kind(&self) -> SourceKind {
        match self {
            Self::NcmecCybertip { .. } => SourceKind::NcmecCybertip,
            Self::PublicReport { .. } => SourceKind::PublicReport,
            Self::School => SourceKind::School,
            Self::Parent => SourceKind::Parent,
            Self::Dcf => SourceKind::Dcf,
            Self::OtherAgency { .. } => SourceKind::OtherAgency,
            Self::OnlineServiceProvider { .. } => SourceKind::OnlineServiceProvider,
            Self::ProactiveUndercover { .. } => SourceKind::ProactiveUndercover,
        }
    }

    pub fn cybertip(&self) -> Option<&CyberTipNumber> {
        match self {
            Self::NcmecCybertip { cybertip_number } => Some(cybertip_number),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    #[serde(rename = "type")]
    pub incident_type: IncidentType,
    pub sextortion: bool,
    pub ai_generated_material: bool,
    pub minor_to_minor: bool,
    /// First (or only) date of the incident, if known; not after `received.date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_from: Option<Date>,
    /// Last date of a range; requires `date_from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_to: Option<Date>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SubjectIdentifierKind {
    ScreenName,
    Account,
    EmailAddress,
    PhoneNumber,
    /// An IP address with the time it was observed.
    IpEvent,
}

/// An identifier of the suspect (never of the child).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectIdentifier {
    pub kind: SubjectIdentifierKind,
    /// Personal: sealed out of the chain.
    #[schemars(length(min = 1, max = 256))]
    pub value: Sealed<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 120))]
    pub platform: Option<String>,
    /// Required for `ip_event`: when the address was observed (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Timestamp>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AgeBand {
    #[serde(rename = "age_0_to_12")]
    Age0To12,
    #[serde(rename = "age_13_to_15")]
    Age13To15,
    #[serde(rename = "age_16_to_17")]
    Age16To17,
    Unknown,
}

impl AgeBand {
    pub const ALL: [AgeBand; 4] = [
        Self::Age0To12,
        Self::Age13To15,
        Self::Age16To17,
        Self::Unknown,
    ];
}

/// A Connecticut town name that must never appear in published figures or
/// logs: with a victim's age band it can identify a child. `Debug` is
/// redacted; projections must drop it from anything published.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct RestrictedTown(#[schemars(length(min = 1, max = 60))] pub String);

impl fmt::Debug for RestrictedTown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RestrictedTown(<restricted>)")
    }
}

/// The child: only what the Task Force needs for triage and statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Victim {
    pub identified: bool,
    pub age_band: AgeBand,
    /// Version 2: the Connecticut date the child was identified (only when
    /// `identified`; not after the filing). Left out, the child counts as identified on
    /// the filing date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified_on: Option<Date>,
    /// RESTRICTED: victim's town. Excluded from published figures; sealed out of the chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<Sealed<RestrictedTown>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HashAlgorithm {
    Sha256,
    Md5,
}

impl HashAlgorithm {
    pub fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Md5 => 32,
        }
    }
}

/// A hash of an evidence file: the material itself never enters the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceHash {
    pub algorithm: HashAlgorithm,
    /// Hex digits: 64 for sha256, 32 for md5. Sealed out of the chain: a known
    /// file's hash would link the case to that file in a public export.
    #[schemars(regex(pattern = "^[0-9a-fA-F]{32}([0-9a-fA-F]{32})?$"))]
    pub value: Sealed<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSummary {
    #[schemars(range(max = 10_000_000))]
    pub item_count: u32,
    #[schemars(range(max = 10_000_000))]
    pub image_count: u32,
    #[schemars(range(max = 10_000_000))]
    pub video_count: u32,
    #[schemars(length(max = 500))]
    pub hashes: Vec<EvidenceHash>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssistanceRequested {
    pub undercover: bool,
    pub forensic: bool,
    pub technical: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Personal: sealed out of the chain.
    #[schemars(length(min = 1, max = 120))]
    pub name: Sealed<String>,
    /// Must be true: the filer accepts [`ATTESTATION_STATEMENT`].
    pub statement_accepted: bool,
}
