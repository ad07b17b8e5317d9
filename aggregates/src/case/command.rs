//! What can be asked of a case. Every command carries `recorded_at`, the
//! instant the app accepted it; the domain never reads a clock.

use jiff::civil::{Date, Time};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::correction::CorrectedValue;
use super::status::{CaseStatus, Disposition};
use crate::form::v1::Source;
use crate::form::NotificationForm;
use crate::ids::{CaseId, LedgerPosition, OperationId, Ori, StatuteCode, UnitCaseNumber};
use crate::text::{self, limits};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseCommand {
    /// The unit received a complaint; the form will follow. Starts the clock.
    LogComplaint(LogComplaint),
    /// The standardized notification (opens the case, or completes a logged complaint).
    FileNotification(FileNotification),
    /// Another unit filed a notification for this case's CyberTip.
    LinkDuplicateNotification(LinkDuplicateNotification),
    /// This (complaint-only) case turned out to be another case's CyberTip.
    MergeIntoCase(MergeIntoCase),
    ShareInformation(ShareInformation),
    AssignInvestigator(AssignInvestigator),
    ChangeStatus(ChangeStatus),
    RecordArrest(RecordArrest),
    RecordReferral(RecordReferral),
    DecideReferral(DecideReferral),
    LinkOperation(LinkOperation),
    SetUrgent(SetUrgent),
    RecordCorrection(RecordCorrection),
    /// Destroy the case's personal values under a legal reason (C.G.S. 54-142a).
    ErasePersonalData(super::erasure::ErasePersonalData),
    /// A child the case learned of after the filing.
    AddVictim(super::victims::AddVictim),
    /// A child of the case identified during the investigation.
    IdentifyVictim(super::victims::IdentifyVictim),
    /// Charges filed, conviction, dismissal or nolle on an arrest.
    RecordProsecutionOutcome(super::prosecution::RecordProsecutionOutcome),
    /// How often the unit owes the Task Force an update on this case (29-7e(c)).
    SetSharingCadence(SetSharingCadence),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSharingCadence {
    /// An update every this many days (1 to 365).
    pub cadence_days: u32,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogComplaint {
    pub case_id: CaseId,
    pub reporting_unit: Ori,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_case_number: Option<UnitCaseNumber>,
    /// CT local date the unit received it (for a routed public report: the routing date).
    pub received_on: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_time: Option<Time>,
    /// Connecticut's offset at `received_time`; needed only on the fall-back night.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_offset: Option<crate::local_time::CtOffset>,
    pub source: Source,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileNotification {
    pub case_id: CaseId,
    pub form: NotificationForm,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkDuplicateNotification {
    pub form: NotificationForm,
    /// The filing unit's own case stream, if it had logged a complaint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_case_id: Option<CaseId>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeIntoCase {
    pub primary_case_id: CaseId,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "direction", rename_all = "snake_case", deny_unknown_fields)]
pub enum ShareDirection {
    /// 29-7e(c): the unit keeps the Task Force informed.
    UnitToTaskForce { from_unit: Ori },
    /// 29-7e(a)(3): the Task Force shares with one or more units.
    TaskForceToUnits {
        #[schemars(length(min = 1, max = crate::case::bounds::SHARE_RECIPIENTS))]
        to_units: Vec<Ori>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareCategory {
    CaseUpdate,
    Intelligence,
    SubjectInformation,
    TechnicalAssistance,
    ForensicResults,
    Deconfliction,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareInformation {
    pub direction: ShareDirection,
    pub category: ShareCategory,
    /// What was shared, in a sentence. Never a child's name or details.
    pub summary: String,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Investigator {
    #[schemars(length(min = 1, max = limits::NAME), pattern(text::PATTERN))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = limits::SHORT), pattern(text::PATTERN))]
    pub badge: Option<String>,
    pub agency: Ori,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvestigatorRole {
    Lead,
    Support,
    Forensic,
    Undercover,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignInvestigator {
    pub investigator: Investigator,
    pub role: InvestigatorRole,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatus {
    pub to: CaseStatus,
    /// Required when closing, forbidden otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    /// Required when reopening a closed case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Charge {
    pub statute: StatuteCode,
    /// Number of counts (1 to 999).
    #[schemars(range(min = 1, max = crate::case::bounds::MAX_COUNTS))]
    pub counts: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordArrest {
    pub arrested_on: Date,
    pub arresting_unit: Ori,
    pub charges: Vec<Charge>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralTarget {
    FederalProsecutors,
    FederalAgency,
    OutOfStateAgency,
    OtherConnecticutAgency,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordReferral {
    pub target: ReferralTarget,
    /// e.g. "U.S. Attorney's Office, District of Connecticut".
    pub agency_name: String,
    pub referred_on: Date,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralDecision {
    Accepted,
    Declined,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecideReferral {
    /// 1-based number assigned when the referral was recorded.
    pub referral_number: u32,
    pub decision: ReferralDecision,
    pub decided_on: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOperation {
    pub operation_id: OperationId,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UrgencyReason {
    ChildIdentifiable,
    ChildInImminentDanger,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetUrgent {
    pub reason: UrgencyReason,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordCorrection {
    /// Ledger position of the event being corrected.
    pub corrects: LedgerPosition,
    pub changes: Vec<CorrectedValue>,
    pub reason: String,
    pub recorded_at: Timestamp,
}

impl CaseCommand {
    /// The instant the command was recorded.
    pub fn recorded_at(&self) -> Timestamp {
        match self {
            Self::LogComplaint(c) => c.recorded_at,
            Self::FileNotification(c) => c.recorded_at,
            Self::LinkDuplicateNotification(c) => c.recorded_at,
            Self::MergeIntoCase(c) => c.recorded_at,
            Self::ShareInformation(c) => c.recorded_at,
            Self::AssignInvestigator(c) => c.recorded_at,
            Self::ChangeStatus(c) => c.recorded_at,
            Self::RecordArrest(c) => c.recorded_at,
            Self::RecordReferral(c) => c.recorded_at,
            Self::DecideReferral(c) => c.recorded_at,
            Self::LinkOperation(c) => c.recorded_at,
            Self::SetUrgent(c) => c.recorded_at,
            Self::RecordCorrection(c) => c.recorded_at,
            Self::ErasePersonalData(c) => c.recorded_at,
            Self::AddVictim(c) => c.recorded_at,
            Self::IdentifyVictim(c) => c.recorded_at,
            Self::RecordProsecutionOutcome(c) => c.recorded_at,
            Self::SetSharingCadence(c) => c.recorded_at,
        }
    }
}
