//! The children of a case: zero or more, each with an age band and, once known, the
//! Connecticut date the child was identified. The form (version 2) lists the children
//! known at filing; a child learned of later is `VictimAdded`, and a child identified
//! during the investigation is `VictimIdentified`, so the report can count each child
//! once, in the period the child was identified.

use jiff::civil::Date;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::CaseError;
use crate::form::v1::{AgeBand, Victim};

/// Most children one case may hold.
pub const MAX_VICTIMS: usize = 100;

/// One child as the case state keeps it (never a name or a town).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseVictim {
    /// 1-based, in the order the case learned of the children.
    pub victim_number: u32,
    pub age_band: AgeBand,
    pub identified: bool,
    /// `None` with `identified` for a child a version 1 form reported identified (that
    /// form did not ask when).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddVictim {
    pub age_band: AgeBand,
    /// Given when the child is already identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified_on: Option<Date>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentifyVictim {
    pub victim_number: u32,
    pub identified_on: Date,
    pub recorded_at: Timestamp,
}

/// The children a filed form lists, numbered from 1.
pub(super) fn from_form(victims: &[Victim]) -> Vec<CaseVictim> {
    victims
        .iter()
        .zip(1u32..)
        .map(|(v, n)| CaseVictim {
            victim_number: n,
            age_band: v.age_band,
            identified: v.identified,
            identified_on: v.identified_on,
        })
        .collect()
}

/// The number the next child gets, if the case may hold one more.
pub(super) fn next_number(victims: &[CaseVictim]) -> Result<u32, CaseError> {
    if victims.len() >= MAX_VICTIMS {
        return Err(CaseError::TooMany {
            what: "victims",
            max: MAX_VICTIMS,
        });
    }
    u32::try_from(victims.len() + 1).map_err(|_| CaseError::LimitReached)
}

/// The child `number` may be identified now: it exists and is not identified yet.
pub(super) fn check_identify(victims: &[CaseVictim], number: u32) -> Result<(), CaseError> {
    match victims.iter().find(|v| v.victim_number == number) {
        None => Err(CaseError::UnknownVictim(number)),
        Some(v) if v.identified => Err(CaseError::VictimAlreadyIdentified(number)),
        Some(_) => Ok(()),
    }
}
