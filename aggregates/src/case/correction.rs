//! Corrections: nothing recorded is ever edited. A `CorrectionRecorded` event
//! names the ledger position it corrects and carries the new values; both
//! events stay in the ledger, and the case state shows the corrected values.

use jiff::civil::{Date, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::command::Charge;
use crate::catalog::{IncidentType, Medium};
use crate::form::v1::AgeBand;
use crate::ids::{StatuteCode, UnitCaseNumber};

/// One corrected field and its new value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "field", rename_all = "snake_case", deny_unknown_fields)]
pub enum CorrectedValue {
    ReceivedOn {
        date: Date,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<Time>,
    },
    UnitCaseNumber {
        value: UnitCaseNumber,
    },
    IncidentType {
        incident_type: IncidentType,
    },
    Medium {
        medium: Medium,
    },
    VictimAgeBand {
        age_band: AgeBand,
    },
    VictimIdentified {
        identified: bool,
    },
    SuspectedStatutes {
        statutes: Vec<StatuteCode>,
    },
    ArrestDate {
        arrest_number: u32,
        arrested_on: Date,
    },
    ArrestCharges {
        arrest_number: u32,
        charges: Vec<Charge>,
    },
}

impl CorrectedValue {
    /// Stable name of the corrected field (for messages and projections).
    pub fn field(&self) -> &'static str {
        match self {
            Self::ReceivedOn { .. } => "received_on",
            Self::UnitCaseNumber { .. } => "unit_case_number",
            Self::IncidentType { .. } => "incident_type",
            Self::Medium { .. } => "medium",
            Self::VictimAgeBand { .. } => "victim_age_band",
            Self::VictimIdentified { .. } => "victim_identified",
            Self::SuspectedStatutes { .. } => "suspected_statutes",
            Self::ArrestDate { .. } => "arrest_date",
            Self::ArrestCharges { .. } => "arrest_charges",
        }
    }

    /// Event types whose content this field comes from: a correction must
    /// name one of them.
    pub fn corrects_event_types(&self) -> &'static [&'static str] {
        match self {
            Self::ReceivedOn { .. } | Self::UnitCaseNumber { .. } => {
                &["ComplaintLogged", "NotificationFiled"]
            }
            Self::IncidentType { .. }
            | Self::Medium { .. }
            | Self::VictimAgeBand { .. }
            | Self::VictimIdentified { .. }
            | Self::SuspectedStatutes { .. } => &["NotificationFiled"],
            Self::ArrestDate { .. } | Self::ArrestCharges { .. } => &["ArrestRecorded"],
        }
    }
}

/// Most changes one correction may carry.
pub const MAX_CHANGES: usize = 10;
