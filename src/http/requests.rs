//! The JSON bodies the API accepts: one type per command route. Each handler
//! deserializes its body into the type here, then builds the domain command from it
//! with the fields the server decides (`recorded_at`, ids from the URL). The OpenAPI
//! document describes each body by the same type, through the same schemars generator
//! the domain crate uses for the notification form, so the two cannot drift.
//!
//! Free-text fields carry the domain's limits (`icac_aggregates::text`): non-blank, at
//! most so many characters, no control characters.

use icac_aggregates::case::{
    AssignInvestigator, ChangeStatus, CorrectedValue, DecideReferral, Investigator,
    InvestigatorRole, LinkOperation, RecordArrest, RecordCorrection, RecordReferral,
    ReferralDecision, ReferralTarget, SetUrgent, ShareCategory, ShareDirection, ShareInformation,
    UrgencyReason,
};
use icac_aggregates::case::{CaseCommand, CaseStatus, Charge, Disposition};
use icac_aggregates::catalog::{IncidentType, Medium};
use icac_aggregates::form::v1::Source;
use icac_aggregates::ids::{CaseId, LedgerPosition, OperationId, Ori, UnitCaseNumber};
use icac_aggregates::operation::{
    bounds as op_bounds, ConcludeOperation, OperationCommand, PlanOperation, RecordConduct,
};
use icac_aggregates::public_report::{Channel, CloseReason, PublicReportCommand, TriagePriority};
use icac_aggregates::text::{limits, PATTERN as TEXT};
use icac_aggregates::units::{RegisterUnit, UnitCommand, UnitKind};
use jiff::civil::{Date, Time};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::access::auth::Role;

/// `POST /v1/units`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterUnitBody {
    pub ori: Ori,
    #[schemars(length(min = 1, max = limits::NAME), pattern(TEXT))]
    pub name: String,
    pub kind: UnitKind,
    #[schemars(length(min = 1, max = limits::SHORT), pattern(TEXT))]
    pub town: String,
}

impl RegisterUnitBody {
    pub fn command(self, recorded_at: Timestamp) -> UnitCommand {
        UnitCommand::Register(RegisterUnit {
            ori: self.ori,
            name: self.name,
            kind: self.kind,
            town: self.town,
            recorded_at,
        })
    }
}

/// `POST /v1/units/{ori}/rename`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameUnitBody {
    #[schemars(length(min = 1, max = limits::NAME), pattern(TEXT))]
    pub name: String,
}

/// `POST /v1/units/{ori}/deactivate`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeactivateUnitBody {
    #[schemars(length(min = 1, max = limits::REASON), pattern(TEXT))]
    pub reason: String,
}

/// `POST /v1/complaints`: the case id derives from the unit and its own case number.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogComplaintBody {
    pub reporting_unit: Ori,
    pub unit_case_number: UnitCaseNumber,
    /// Connecticut date the unit received the complaint (YYYY-MM-DD only: the same
    /// rules as the form's `received.date`).
    #[serde(deserialize_with = "icac_aggregates::local_time::strict_date")]
    #[schemars(with = "Date")]
    pub received_on: Date,
    /// Connecticut local time, HH:MM or HH:MM:SS (no offset: see `received_offset`).
    #[serde(default, deserialize_with = "icac_aggregates::local_time::strict_time")]
    #[schemars(with = "Option<Time>")]
    pub received_time: Option<Time>,
    /// Connecticut's UTC offset at `received_time`, "-04:00" or "-05:00"; required only
    /// for a time that happened twice on the fall-back night.
    #[serde(default)]
    pub received_offset: Option<icac_aggregates::local_time::CtOffset>,
    pub source: Source,
}

/// `POST /v1/cases/{case_id}/shares`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareInformationBody {
    pub direction: ShareDirection,
    pub category: ShareCategory,
    /// What was shared, in a sentence. Never a child's name or details.
    #[schemars(length(min = 1, max = limits::SUMMARY), pattern(TEXT))]
    pub summary: String,
}

/// `POST /v1/cases/{case_id}/assignments`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInvestigatorBody {
    pub investigator: Investigator,
    pub role: InvestigatorRole,
}

/// `POST /v1/cases/{case_id}/status`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatusBody {
    pub to: CaseStatus,
    /// Required when closing, refused otherwise.
    #[serde(default)]
    pub disposition: Option<Disposition>,
    /// Required when reopening a closed case.
    #[serde(default)]
    #[schemars(length(min = 1, max = limits::REASON), pattern(TEXT))]
    pub note: Option<String>,
}

/// `POST /v1/cases/{case_id}/arrests`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordArrestBody {
    pub arrested_on: Date,
    pub arresting_unit: Ori,
    #[schemars(length(min = 1, max = icac_aggregates::case::bounds::CHARGES))]
    pub charges: Vec<Charge>,
}

/// `POST /v1/cases/{case_id}/referrals`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordReferralBody {
    pub target: ReferralTarget,
    /// e.g. "U.S. Attorney's Office, District of Connecticut".
    #[schemars(length(min = 1, max = limits::NAME), pattern(TEXT))]
    pub agency_name: String,
    pub referred_on: Date,
}

/// `POST /v1/cases/{case_id}/referrals/{number}/decision`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecideReferralBody {
    pub decision: ReferralDecision,
    pub decided_on: Date,
    #[serde(default)]
    #[schemars(length(min = 1, max = limits::REASON), pattern(TEXT))]
    pub note: Option<String>,
}

/// `POST /v1/cases/{case_id}/operations`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkOperationBody {
    pub operation_id: OperationId,
}

/// `POST /v1/cases/{case_id}/urgent`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetUrgentBody {
    pub reason: UrgencyReason,
}

/// `POST /v1/cases/{case_id}/corrections`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordCorrectionBody {
    /// Ledger position of the event being corrected.
    pub corrects: LedgerPosition,
    #[schemars(length(min = 1))]
    pub changes: Vec<CorrectedValue>,
    #[schemars(length(min = 1, max = limits::REASON), pattern(TEXT))]
    pub reason: String,
}

/// `POST /v1/cases/{case_id}/victims`: a child the case learned of after the filing.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddVictimBody {
    pub age_band: icac_aggregates::form::v1::AgeBand,
    /// Connecticut date the child was identified, if already identified.
    #[serde(default)]
    pub identified_on: Option<Date>,
}

/// `POST /v1/cases/{case_id}/victim-identifications`: a child of the case identified.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyVictimBody {
    #[schemars(range(min = 1))]
    pub victim_number: u32,
    pub identified_on: Date,
}

/// `POST /v1/cases/{case_id}/prosecution-outcomes`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordOutcomeBody {
    #[schemars(range(min = 1))]
    pub arrest_number: u32,
    pub outcome: icac_aggregates::case::ProsecutionOutcome,
    /// Connecticut date of the filing, verdict, dismissal or nolle (not before the arrest).
    pub decided_on: Date,
}

/// `POST /v1/tips`: a CyberTipline report NCMEC made available (docs/DOMAIN.md maps
/// each field to NCMEC's report structure).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveTipBody {
    pub cybertip_number: icac_aggregates::ids::CyberTipNumber,
    pub priority: icac_aggregates::tip_intake::NcmecPriority,
    pub incident_type: icac_aggregates::tip_intake::NcmecIncidentType,
    #[schemars(length(min = 1, max = limits::NAME), pattern(TEXT))]
    pub reporting_provider: String,
    pub made_available_on: Date,
    #[serde(default)]
    #[schemars(length(max = 1000))]
    pub files: Vec<icac_aggregates::tip_intake::TipFile>,
    #[serde(default)]
    pub location: Option<icac_aggregates::tip_intake::LocationEstimate>,
}

impl ReceiveTipBody {
    pub fn report(self) -> icac_aggregates::tip_intake::NcmecReport {
        icac_aggregates::tip_intake::NcmecReport {
            cybertip_number: self.cybertip_number,
            priority: self.priority,
            incident_type: self.incident_type,
            reporting_provider: self.reporting_provider,
            made_available_on: self.made_available_on,
            files: self.files,
            location: self.location,
        }
    }
}

/// `POST /v1/tips/{cybertip_number}/triage`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageTipBody {
    pub priority: icac_aggregates::tip_intake::NcmecPriority,
}

/// `POST /v1/tips/{cybertip_number}/disseminate`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisseminateTipBody {
    pub to_unit: Ori,
}

/// `POST /v1/tips/{cybertip_number}/acknowledge`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeTipBody {
    /// The receiving unit (a unit reporter's own).
    pub unit: Ori,
    /// The unit's own case number for the tip: its case opens under it.
    pub unit_case_number: UnitCaseNumber,
}

/// `POST /v1/deconfliction/unchecked/{case_id}/follow-up`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpBody {
    /// What the Task Force found (a closed list: no free text).
    pub outcome: icac_aggregates::deconfliction::FollowUpOutcome,
}

/// `POST /v1/cases/{case_id}/sharing-cadence`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSharingCadenceBody {
    /// An update from the unit every this many days (1 to 365).
    #[schemars(range(min = 1, max = 365))]
    pub cadence_days: u32,
}

impl CaseBody {
    pub fn command(self, recorded_at: Timestamp) -> CaseCommand {
        match self {
            CaseBody::SharingCadence(b) => {
                CaseCommand::SetSharingCadence(icac_aggregates::case::SetSharingCadence {
                    cadence_days: b.cadence_days,
                    recorded_at,
                })
            }
            CaseBody::AddVictim(b) => CaseCommand::AddVictim(icac_aggregates::case::AddVictim {
                age_band: b.age_band,
                identified_on: b.identified_on,
                recorded_at,
            }),
            CaseBody::IdentifyVictim(b) => {
                CaseCommand::IdentifyVictim(icac_aggregates::case::IdentifyVictim {
                    victim_number: b.victim_number,
                    identified_on: b.identified_on,
                    recorded_at,
                })
            }
            CaseBody::Outcome(b) => CaseCommand::RecordProsecutionOutcome(
                icac_aggregates::case::RecordProsecutionOutcome {
                    arrest_number: b.arrest_number,
                    outcome: b.outcome,
                    decided_on: b.decided_on,
                    recorded_at,
                },
            ),
            CaseBody::Share(b) => CaseCommand::ShareInformation(ShareInformation {
                direction: b.direction,
                category: b.category,
                summary: b.summary,
                recorded_at,
            }),
            CaseBody::Assign(b) => CaseCommand::AssignInvestigator(AssignInvestigator {
                investigator: b.investigator,
                role: b.role,
                recorded_at,
            }),
            CaseBody::ChangeStatus(b) => CaseCommand::ChangeStatus(ChangeStatus {
                to: b.to,
                disposition: b.disposition,
                note: b.note,
                recorded_at,
            }),
            CaseBody::Arrest(b) => CaseCommand::RecordArrest(RecordArrest {
                arrested_on: b.arrested_on,
                arresting_unit: b.arresting_unit,
                charges: b.charges,
                recorded_at,
            }),
            CaseBody::Referral(b) => CaseCommand::RecordReferral(RecordReferral {
                target: b.target,
                agency_name: b.agency_name,
                referred_on: b.referred_on,
                recorded_at,
            }),
            CaseBody::DecideReferral(b, referral_number) => {
                CaseCommand::DecideReferral(DecideReferral {
                    referral_number,
                    decision: b.decision,
                    decided_on: b.decided_on,
                    note: b.note,
                    recorded_at,
                })
            }
            CaseBody::LinkOperation(b) => CaseCommand::LinkOperation(LinkOperation {
                operation_id: b.operation_id,
                recorded_at,
            }),
            CaseBody::SetUrgent(b) => CaseCommand::SetUrgent(SetUrgent {
                reason: b.reason,
                recorded_at,
            }),
            CaseBody::Correction(b) => CaseCommand::RecordCorrection(RecordCorrection {
                corrects: b.corrects,
                changes: b.changes,
                reason: b.reason,
                recorded_at,
            }),
        }
    }
}

/// `POST /v1/operations`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanOperationBody {
    pub operation_id: OperationId,
    /// Code name only.
    #[schemars(length(min = 1, max = limits::SHORT), pattern(TEXT))]
    pub name: String,
    pub lead_unit: Ori,
    pub planned_start: Date,
    pub planned_end: Date,
}

impl PlanOperationBody {
    pub fn command(self, recorded_at: Timestamp) -> OperationCommand {
        OperationCommand::Plan(PlanOperation {
            operation_id: self.operation_id,
            name: self.name,
            lead_unit: self.lead_unit,
            planned_start: self.planned_start,
            planned_end: self.planned_end,
            recorded_at,
        })
    }
}

/// `POST /v1/operations/{operation_id}/conduct`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConductBody {
    pub started_on: Date,
    pub ended_on: Date,
    pub media: Vec<Medium>,
    /// Platform names (apps, sites).
    #[schemars(length(max = op_bounds::PLATFORMS), inner(length(min = 1, max = limits::PLATFORM), pattern(TEXT)))]
    pub platforms: Vec<String>,
    /// Persona handles used (never real identities).
    #[schemars(length(max = op_bounds::PERSONAS), inner(length(min = 1, max = limits::SHORT), pattern(TEXT)))]
    pub personas: Vec<String>,
}

/// `POST /v1/operations/{operation_id}/conclude`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcludeOperationBody {
    pub concluded_on: Date,
    #[schemars(length(max = op_bounds::CASES))]
    pub cases_opened: Vec<CaseId>,
    #[schemars(range(max = op_bounds::ARRESTS))]
    pub arrests: u32,
}

impl OperationBody {
    pub fn command(self, recorded_at: Timestamp) -> OperationCommand {
        match self {
            OperationBody::Conduct(b) => OperationCommand::RecordConduct(RecordConduct {
                started_on: b.started_on,
                ended_on: b.ended_on,
                media: b.media,
                platforms: b.platforms,
                personas: b.personas,
                recorded_at,
            }),
            OperationBody::Conclude(b) => OperationCommand::Conclude(ConcludeOperation {
                concluded_on: b.concluded_on,
                cases_opened: b.cases_opened,
                arrests: b.arrests,
                recorded_at,
            }),
        }
    }
}

/// `POST /v1/cases/{case_id}/erase`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasePersonalDataBody {
    /// The legal reason, recorded in the ledger (e.g. "C.G.S. 54-142a(a): dismissed").
    #[schemars(length(min = 1, max = 500))]
    pub reason: String,
}

/// `POST /v1/audit/reviews/{week}/acknowledgement`: the review read, by its digest.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeReviewBody {
    /// The review's `sha256` as read: an acknowledgement of a review that has changed
    /// since (entries of the week added after it was read) is refused.
    #[schemars(length(min = 64, max = 64))]
    pub sha256: String,
}

/// `POST /v1/public-reports`: a report taken by the hotline.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicReportIntakeBody {
    pub channel: Channel,
    #[serde(default)]
    pub category: Option<IncidentType>,
    /// What the caller reported: sealed out of the chain.
    #[serde(default)]
    pub content: Option<icac_aggregates::public_report::ReportContent>,
}

/// `POST /v1/public-reports/{receipt}/triage`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriagePublicReportBody {
    pub priority: TriagePriority,
    #[serde(default)]
    pub category: Option<IncidentType>,
}

/// `POST /v1/public-reports/{receipt}/route`: opens the unit's case and starts its clock.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutePublicReportBody {
    pub unit: Ori,
}

/// `POST /v1/public-reports/{receipt}/close`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosePublicReportBody {
    pub reason: CloseReason,
}

impl PublicReportBody {
    pub fn command(self, recorded_at: Timestamp) -> PublicReportCommand {
        match self {
            PublicReportBody::Triage(b) => PublicReportCommand::Triage {
                priority: b.priority,
                category: b.category,
                recorded_at,
            },
            PublicReportBody::Route(b) => PublicReportCommand::RouteToUnit {
                unit: b.unit,
                recorded_at,
            },
            PublicReportBody::Close(b) => PublicReportCommand::Close {
                reason: b.reason,
                recorded_at,
            },
        }
    }
}

/// `POST /v1/tokens`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueTokenBody {
    /// A service token's role; leave it out with `account`.
    #[serde(default)]
    pub role: Option<Role>,
    /// Scope the token to this account: it acts with the account's role and unit, and
    /// only while the account is enabled. Leave out `role` and `unit` with it.
    #[serde(default)]
    #[schemars(length(min = 2, max = 32), pattern("^[a-z][a-z0-9._-]{1,31}$"))]
    pub account: Option<String>,
    /// Required for a unit reporter service token, refused for every other role.
    #[serde(default)]
    pub unit: Option<Ori>,
    #[schemars(length(min = 1, max = crate::access::tokens::MAX_NAME_LEN), pattern(TEXT))]
    pub name: String,
    /// Days until the token expires (default 90, at most 366).
    #[serde(default)]
    #[schemars(range(min = 1, max = 366))]
    pub days: Option<i64>,
}

/// `POST /v1/accounts`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountBody {
    #[schemars(length(min = 2, max = 32), pattern("^[a-z][a-z0-9._-]{1,31}$"))]
    pub username: String,
    pub role: Role,
    /// Required for a unit reporter, refused for every other role.
    #[serde(default)]
    pub unit: Option<Ori>,
}

/// `POST /v1/accounts/{username}/role`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeAccountBody {
    pub role: Role,
    /// Required for a unit reporter, refused for every other role.
    #[serde(default)]
    pub unit: Option<Ori>,
}

/// `POST /v1/accounts/{username}/disable`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisableAccountBody {
    #[schemars(length(min = 1, max = 200), pattern(TEXT))]
    pub reason: String,
}

/// `POST /v1/reports/releases`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishReleaseBody {
    /// First day: the first day of a quarter.
    pub from: Date,
    /// Last day: the last day of a quarter.
    pub to: Date,
    /// The ledger position to compute at (default: the head).
    #[schemars(range(min = 1))]
    pub at_position: Option<u64>,
    /// Victim counts from 1 to this are suppressed (default 10).
    #[schemars(range(min = 2, max = 1000))]
    pub suppression_threshold: Option<u64>,
    /// Values every hidden figure must keep possible (default: the threshold).
    #[schemars(range(min = 2, max = 1000))]
    pub protection_width: Option<u64>,
    /// A declared revision of released quarters, and why.
    #[schemars(length(min = 1, max = 120))]
    pub revision: Option<String>,
}

impl UnitBody {
    pub fn command(self, recorded_at: Timestamp) -> UnitCommand {
        match self {
            UnitBody::Rename(b) => UnitCommand::Rename {
                name: b.name,
                recorded_at,
            },
            UnitBody::Deactivate(b) => UnitCommand::Deactivate {
                reason: b.reason,
                recorded_at,
            },
        }
    }
}

/// Each kind of target's commands as one enum of the routes' body types, with a `From`
/// per body, so one generic handler per kind of target
/// (`routes::commands::{case, unit, operation, public_report}`) serves every route.
/// Variants after `;` carry more than the body (from the URL) and have no `From`.
macro_rules! command_bodies {
    ($(#[$doc:meta])* $target:ident {
        $($variant:ident($body:ty)),+ $(,)?
        $(; $($extra:ident($($field:ty),+)),+ $(,)?)?
    }) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub enum $target {
            $($variant($body),)+
            $($($extra($($field),+),)+)?
        }

        $(impl From<$body> for $target {
            fn from(body: $body) -> Self {
                $target::$variant(body)
            }
        })+
    };
}

command_bodies!(
    /// The unit commands on a registered unit.
    UnitBody {
    Rename(RenameUnitBody),
    Deactivate(DeactivateUnitBody),
});

command_bodies!(
    /// The case commands a route can carry; a referral's number comes from the URL.
    CaseBody {
    SharingCadence(SetSharingCadenceBody),
    AddVictim(AddVictimBody),
    IdentifyVictim(IdentifyVictimBody),
    Outcome(RecordOutcomeBody),
    Share(ShareInformationBody),
    Assign(AssignInvestigatorBody),
    ChangeStatus(ChangeStatusBody),
    Arrest(RecordArrestBody),
    Referral(RecordReferralBody),
    LinkOperation(LinkOperationBody),
    SetUrgent(SetUrgentBody),
    Correction(RecordCorrectionBody);
    DecideReferral(DecideReferralBody, u32),
});

command_bodies!(
    /// The operation commands on an existing operation.
    OperationBody {
    Conduct(RecordConductBody),
    Conclude(ConcludeOperationBody),
});

command_bodies!(
    /// The commands on an existing public report.
    PublicReportBody {
    Triage(TriagePublicReportBody),
    Route(RoutePublicReportBody),
    Close(ClosePublicReportBody),
});
