//! Who may do what: roles, the permissions they grant, and the authenticated
//! principal that every handler receives.

use std::fmt;
use std::str::FromStr;

use icac_aggregates::ids::{CaseId, Ori};
use serde::{Deserialize, Serialize};

use crate::commands::Actor;

/// A role a token carries. A unit reporter is bound to one unit (ORI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    UnitReporter,
    Investigator,
    Supervisor,
    Auditor,
    ReportAuthor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::UnitReporter,
        Role::Investigator,
        Role::Supervisor,
        Role::Auditor,
        Role::ReportAuthor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::UnitReporter => "unit_reporter",
            Role::Investigator => "investigator",
            Role::Supervisor => "supervisor",
            Role::Auditor => "auditor",
            Role::ReportAuthor => "report_author",
            Role::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::UnitReporter => "Unit reporter",
            Role::Investigator => "Task Force investigator",
            Role::Supervisor => "Task Force supervisor",
            Role::Auditor => "Auditor",
            Role::ReportAuthor => "Report author",
            Role::Admin => "Administrator",
        }
    }

    /// Least privilege: each role gets only what its work needs.
    pub fn allows(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Role::UnitReporter => matches!(
                p,
                P::FileForUnit
                    | P::ShareFromUnit
                    | P::ReadCases
                    | P::ReadCompliance
                    | P::ReadDirectory
            ),
            Role::Investigator => matches!(
                p,
                P::FileForUnit
                    | P::ShareFromUnit
                    | P::ManageCases
                    | P::ReadCases
                    | P::ReadCompliance
                    | P::ReadDirectory
                    | P::ManageOperations
                    | P::HandlePublicReports
                    | P::RevealPersonalData
                    | P::ReadDrafts
            ),
            Role::Supervisor => matches!(
                p,
                P::FileForUnit
                    | P::ShareFromUnit
                    | P::ManageCases
                    | P::ReadCases
                    | P::ReadCompliance
                    | P::ReadDirectory
                    | P::ManageOperations
                    | P::HandlePublicReports
                    | P::ReadAggregates
                    | P::PublishReleases
                    | P::ReadDrafts
                    | P::ReadLedgerStatus
                    | P::RevealPersonalData
                    | P::ErasePersonalData
                    | P::ReadAccessReview
                    | P::AcknowledgeAccessReview
            ),
            Role::Auditor => matches!(
                p,
                P::Audit | P::ReadLedgerStatus | P::ReadDirectory | P::ReadAccessReview
            ),
            Role::ReportAuthor => {
                matches!(p, P::ReadAggregates | P::PublishReleases | P::ReadDirectory)
            }
            Role::Admin => matches!(
                p,
                P::ManageUnits
                    | P::ManageTokens
                    | P::ManageAccounts
                    | P::ReadLedgerStatus
                    | P::ReadDirectory
            ),
        }
    }

    /// A role bound to one unit sees and acts only for that unit.
    pub fn is_unit_bound(self) -> bool {
        matches!(self, Role::UnitReporter)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown role {0:?}; expected one of unit_reporter, investigator, supervisor, auditor, report_author, admin")]
pub struct UnknownRole(String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.chars().take(40).collect()))
    }
}

/// What a route needs. Routes name a permission; roles grant permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Any authenticated principal (e.g. `whoami`).
    Authenticated,
    /// The unit directory (names and ORIs; nothing about cases).
    ReadDirectory,
    /// File notifications and log complaints (unit reporters: own unit only).
    FileForUnit,
    /// Share information from a unit to the Task Force (unit reporters: own unit only).
    ShareFromUnit,
    /// Every other case command: assignments, status, arrests, referrals, corrections.
    ManageCases,
    /// Case details (unit reporters: own unit only). Every read is access-logged.
    ReadCases,
    /// 14-day compliance per case (unit reporters: own unit only).
    ReadCompliance,
    /// Counts only: compliance summary, released annual reports.
    ReadAggregates,
    /// Publish a release of the annual report (audited; recorded in the ledger).
    PublishReleases,
    /// Drafts of the annual report (any dates or position, not audited against the
    /// releases): only roles that already read every case behind them.
    ReadDrafts,
    ManageOperations,
    HandlePublicReports,
    ManageUnits,
    ManageTokens,
    /// Create, change, disable, re-enable and release staff accounts.
    ManageAccounts,
    /// Verification, checkpoints, proofs, exports, the access log.
    Audit,
    /// See sealed personal values (suspect identifiers, officer contact, report
    /// content) where a case or report is read; every reveal is access-logged.
    RevealPersonalData,
    /// Erase a case's personal values under a legal reason (C.G.S. 54-142a).
    ErasePersonalData,
    /// Read the weekly review of the access log (CJIS AU-6).
    ReadAccessReview,
    /// Acknowledge a weekly review (supervisors; the acknowledgement is logged).
    AcknowledgeAccessReview,
    ReadLedgerStatus,
}

impl Permission {
    /// The permission's name as routes and docs/API.md spell it (`manage_cases`).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// The newtype of a token's public identifier (the part before the secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenId(pub String);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: TokenId,
    pub name: String,
    pub role: Role,
    pub unit: Option<Ori>,
    /// The staff account acting: signed in to it, or holding a token scoped to it.
    pub account: Option<String>,
    /// The client address the request came from (for logs and lockout), no port.
    pub source: String,
    pub request_id: String,
}

impl Principal {
    /// `role:token-id`, never the person's name: event metadata and logs stay free of
    /// personal data, and the token table maps ids to names for those allowed to know.
    pub fn id(&self) -> String {
        match &self.unit {
            Some(u) => format!("{}:{}:{}", self.role, u, self.token_id),
            None => format!("{}:{}", self.role, self.token_id),
        }
    }

    pub fn require(&self, p: Permission) -> Result<(), Denied> {
        if p == Permission::Authenticated || self.role.allows(p) {
            Ok(())
        } else {
            Err(Denied::Role {
                role: self.role,
                needs: p,
            })
        }
    }

    /// Unit-bound principals may act only for their own unit.
    pub fn require_unit(&self, unit: &Ori) -> Result<(), Denied> {
        match &self.unit {
            Some(own) if self.role.is_unit_bound() && own != unit => Err(Denied::OtherUnit {
                own: own.clone(),
                asked: unit.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// Unit-bound principals see only cases of their own unit (the case id's ORI).
    pub fn may_see_case(&self, case_id: &CaseId) -> bool {
        match (&self.unit, self.role.is_unit_bound()) {
            (Some(own), true) => case_unit(case_id).is_some_and(|u| u == own.as_str()),
            _ => true,
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            principal: self.id(),
            unit: self.unit.as_ref().map(std::string::ToString::to_string),
            request_id: self.request_id.clone(),
            correlation_id: None,
        }
    }
}

/// Why a principal may not do what it asked; HTTP answers it 403 (`problem.rs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("the {role} role may not do this (needs {})", needs.name())]
    Role { role: Role, needs: Permission },
    #[error("this token acts for unit {own} only, not {asked}")]
    OtherUnit { own: Ori, asked: Ori },
}

/// The ORI part of a case id (`CT0006400:24-00123` → `CT0006400`).
pub fn case_unit(case_id: &CaseId) -> Option<&str> {
    case_id.as_str().split_once(':').map(|(u, _)| u)
}
