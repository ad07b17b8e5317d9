//! What happened to a case. Payloads follow the ledger's JSON rules: no
//! floats, identifiers and positions as strings, RFC 3339 UTC timestamps,
//! `YYYY-MM-DD` dates, snake_case enum values. `victim.town` inside a form is
//! restricted (see `RestrictedTown`).

use cqrs_es::DomainEvent;
use jiff::civil::{Date, Time};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::command::{
    Charge, Investigator, InvestigatorRole, ReferralDecision, ReferralTarget, ShareCategory,
    ShareDirection, UrgencyReason,
};
use super::correction::CorrectedValue;
use super::prosecution::ProsecutionOutcome;
use super::status::{CaseStatus, Disposition};
use crate::form::v1::{AgeBand, Source};
use crate::form::NotificationForm;
use crate::ids::{CaseId, LedgerPosition, OperationId, Ori, UnitCaseNumber};
use crate::sealed::Sealed;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaseEvent {
    ComplaintLogged {
        case_id: CaseId,
        reporting_unit: Ori,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit_case_number: Option<UnitCaseNumber>,
        received_on: Date,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received_time: Option<Time>,
        /// Absent in every event recorded before it existed, and whenever the time
        /// was unambiguous: present only on the fall-back night.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        received_offset: Option<crate::local_time::CtOffset>,
        source: Source,
        recorded_at: Timestamp,
    },
    NotificationFiled {
        case_id: CaseId,
        form: NotificationForm,
        recorded_at: Timestamp,
    },
    DuplicateNotificationLinked {
        form: NotificationForm,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from_case_id: Option<CaseId>,
        recorded_at: Timestamp,
    },
    CaseMerged {
        primary_case_id: CaseId,
        recorded_at: Timestamp,
    },
    InformationShared {
        share_number: u32,
        direction: ShareDirection,
        category: ShareCategory,
        /// Free text that may name anyone: sealed out of the chain.
        summary: Sealed<String>,
        recorded_at: Timestamp,
    },
    InvestigatorAssigned {
        investigator: Investigator,
        role: InvestigatorRole,
        recorded_at: Timestamp,
    },
    StatusChanged {
        from: CaseStatus,
        to: CaseStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disposition: Option<Disposition>,
        /// Free text: sealed out of the chain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Sealed<String>>,
        recorded_at: Timestamp,
    },
    ArrestRecorded {
        arrest_number: u32,
        arrested_on: Date,
        arresting_unit: Ori,
        charges: Vec<Charge>,
        recorded_at: Timestamp,
    },
    ReferralRecorded {
        referral_number: u32,
        target: ReferralTarget,
        agency_name: String,
        referred_on: Date,
        recorded_at: Timestamp,
    },
    ReferralDecided {
        referral_number: u32,
        decision: ReferralDecision,
        decided_on: Date,
        /// Free text: sealed out of the chain.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Sealed<String>>,
        recorded_at: Timestamp,
    },
    LinkedToOperation {
        operation_id: OperationId,
        recorded_at: Timestamp,
    },
    UrgentFlagSet {
        reason: UrgencyReason,
        recorded_at: Timestamp,
    },
    CorrectionRecorded {
        corrects: LedgerPosition,
        changes: Vec<CorrectedValue>,
        reason: String,
        recorded_at: Timestamp,
    },
    /// Personal values destroyed in the sealed store; names them by position,
    /// path and commitment, never by value.
    PersonalDataErased {
        erased: Vec<super::erasure::ErasedValue>,
        reason: String,
        recorded_at: Timestamp,
    },
    VictimAdded {
        victim_number: u32,
        age_band: AgeBand,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identified_on: Option<Date>,
        recorded_at: Timestamp,
    },
    VictimIdentified {
        victim_number: u32,
        identified_on: Date,
        recorded_at: Timestamp,
    },
    ProsecutionOutcomeRecorded {
        arrest_number: u32,
        outcome: ProsecutionOutcome,
        decided_on: Date,
        recorded_at: Timestamp,
    },
    SharingCadenceSet {
        cadence_days: u32,
        recorded_at: Timestamp,
    },
}

impl CaseEvent {
    pub const TYPES: [&'static str; 18] = [
        "ComplaintLogged",
        "NotificationFiled",
        "DuplicateNotificationLinked",
        "CaseMerged",
        "InformationShared",
        "InvestigatorAssigned",
        "StatusChanged",
        "ArrestRecorded",
        "ReferralRecorded",
        "ReferralDecided",
        "LinkedToOperation",
        "UrgentFlagSet",
        "CorrectionRecorded",
        "PersonalDataErased",
        "VictimAdded",
        "VictimIdentified",
        "ProsecutionOutcomeRecorded",
        "SharingCadenceSet",
    ];

    pub fn recorded_at(&self) -> Timestamp {
        match self {
            Self::ComplaintLogged { recorded_at, .. }
            | Self::NotificationFiled { recorded_at, .. }
            | Self::DuplicateNotificationLinked { recorded_at, .. }
            | Self::CaseMerged { recorded_at, .. }
            | Self::InformationShared { recorded_at, .. }
            | Self::InvestigatorAssigned { recorded_at, .. }
            | Self::StatusChanged { recorded_at, .. }
            | Self::ArrestRecorded { recorded_at, .. }
            | Self::ReferralRecorded { recorded_at, .. }
            | Self::ReferralDecided { recorded_at, .. }
            | Self::LinkedToOperation { recorded_at, .. }
            | Self::UrgentFlagSet { recorded_at, .. }
            | Self::CorrectionRecorded { recorded_at, .. }
            | Self::PersonalDataErased { recorded_at, .. }
            | Self::VictimAdded { recorded_at, .. }
            | Self::VictimIdentified { recorded_at, .. }
            | Self::ProsecutionOutcomeRecorded { recorded_at, .. }
            | Self::SharingCadenceSet { recorded_at, .. } => *recorded_at,
        }
    }
}

impl crate::sealed::SealedEffects for CaseEvent {
    fn erases(&self) -> Vec<(crate::ids::LedgerPosition, crate::sealed::Commitment)> {
        match self {
            Self::PersonalDataErased { erased, .. } => {
                erased.iter().map(|v| (v.position, v.commitment)).collect()
            }
            _ => Vec::new(),
        }
    }
}

impl DomainEvent for CaseEvent {
    fn event_type(&self) -> String {
        let name = match self {
            Self::ComplaintLogged { .. } => "ComplaintLogged",
            Self::NotificationFiled { .. } => "NotificationFiled",
            Self::DuplicateNotificationLinked { .. } => "DuplicateNotificationLinked",
            Self::CaseMerged { .. } => "CaseMerged",
            Self::InformationShared { .. } => "InformationShared",
            Self::InvestigatorAssigned { .. } => "InvestigatorAssigned",
            Self::StatusChanged { .. } => "StatusChanged",
            Self::ArrestRecorded { .. } => "ArrestRecorded",
            Self::ReferralRecorded { .. } => "ReferralRecorded",
            Self::ReferralDecided { .. } => "ReferralDecided",
            Self::LinkedToOperation { .. } => "LinkedToOperation",
            Self::UrgentFlagSet { .. } => "UrgentFlagSet",
            Self::CorrectionRecorded { .. } => "CorrectionRecorded",
            Self::PersonalDataErased { .. } => "PersonalDataErased",
            Self::VictimAdded { .. } => "VictimAdded",
            Self::VictimIdentified { .. } => "VictimIdentified",
            Self::ProsecutionOutcomeRecorded { .. } => "ProsecutionOutcomeRecorded",
            Self::SharingCadenceSet { .. } => "SharingCadenceSet",
        };
        name.to_string()
    }

    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}
