//! Case lifecycle: the closed set of statuses and the only moves allowed
//! between them. The table is data (not scattered `if`s) so the docs, the
//! aggregate and the property tests all read the same thing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// The notification is on file; the Task Force has not triaged it yet.
    Received,
    Triaged,
    Investigating,
    /// Handed to another agency or prosecutor, awaiting their decision.
    Referred,
    /// Paused (e.g. awaiting provider returns).
    Suspended,
    /// Closed with a [`Disposition`].
    Closed,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 6] = [
        Self::Received,
        Self::Triaged,
        Self::Investigating,
        Self::Referred,
        Self::Suspended,
        Self::Closed,
    ];
}

/// How a closed case ended.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Arrest,
    Unfounded,
    InsufficientInformation,
    ReferredToFederalProsecutors,
    ReferredOutOfState,
    ReferredToOtherAgency,
    ProsecutionDeclined,
    /// Merged into another case holding the same CyberTip.
    Duplicate,
    Other,
}

impl Disposition {
    pub const ALL: [Disposition; 9] = [
        Self::Arrest,
        Self::Unfounded,
        Self::InsufficientInformation,
        Self::ReferredToFederalProsecutors,
        Self::ReferredOutOfState,
        Self::ReferredToOtherAgency,
        Self::ProsecutionDeclined,
        Self::Duplicate,
        Self::Other,
    ];
}

/// Every allowed `(from, to)` move by `ChangeStatus`. Reopening a closed case
/// (`closed → investigating`) needs a note saying why.
pub const TRANSITIONS: &[(CaseStatus, CaseStatus)] = {
    use CaseStatus::*;
    &[
        (Received, Triaged),
        (Received, Closed),
        (Triaged, Investigating),
        (Triaged, Referred),
        (Triaged, Closed),
        (Investigating, Referred),
        (Investigating, Suspended),
        (Investigating, Closed),
        (Referred, Investigating),
        (Referred, Closed),
        (Suspended, Investigating),
        (Suspended, Closed),
        (Closed, Investigating),
    ]
};

pub fn is_allowed(from: CaseStatus, to: CaseStatus) -> bool {
    TRANSITIONS.contains(&(from, to))
}

/// The statuses reachable from `from` in one move.
pub fn next_statuses(from: CaseStatus) -> impl Iterator<Item = CaseStatus> {
    TRANSITIONS
        .iter()
        .filter(move |(f, _)| *f == from)
        .map(|(_, t)| *t)
}
