//! Why a case command was refused. Messages name the rule, never a child.

use jiff::civil::Date;

use super::command::ReferralTarget;
use super::status::{CaseStatus, Disposition};
use crate::form::FieldError;
use crate::ids::{CaseId, CyberTipNumber, LedgerPosition, Ori, StatuteCode};
use crate::text::TextError;

/// Every problem found in a form, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormErrors(pub Vec<FieldError>);

impl std::fmt::Display for FormErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "{}", parts.join("; "))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum CaseError {
    #[error("the notification form has {count} problem(s): {errors}", count = .0.0.len(), errors = .0)]
    InvalidForm(FormErrors),
    #[error("the source is invalid: {0}")]
    InvalidSource(FormErrors),
    #[error("case {0} is already open")]
    AlreadyOpened(CaseId),
    #[error("this case has not been opened (no complaint or notification on file)")]
    NotOpened,
    #[error("command names case {got} but this stream is case {expected}")]
    CaseIdMismatch { expected: CaseId, got: CaseId },
    #[error("a notification is already on file for this case")]
    NotificationAlreadyFiled,
    #[error("this needs the notification form to be on file first")]
    NotificationRequired,
    #[error("this case was merged into case {0}")]
    Merged(CaseId),
    #[error("no law enforcement unit with ORI {0} is registered")]
    UnknownUnit(Ori),
    #[error("unit {0} is deactivated")]
    InactiveUnit(Ori),
    #[error("the complaint was logged by unit {logged} but the form is from unit {form}")]
    UnitMismatch { logged: Ori, form: Ori },
    #[error("the complaint was logged as received on {logged} but the form says {form}; record a correction first")]
    ReceivedDateMismatch { logged: Date, form: Date },
    #[error(
        "CyberTip {tip} is held by case {case_id}; link this notification to that case instead"
    )]
    CyberTipHeldByOtherCase {
        tip: CyberTipNumber,
        case_id: CaseId,
    },
    #[error("this case has no CyberTip, so no duplicate notification can be linked to it")]
    NoCyberTip,
    #[error("the form's CyberTip ({form}) is not this case's CyberTip ({case})")]
    DifferentCyberTip {
        case: CyberTipNumber,
        form: CyberTipNumber,
    },
    #[error("a case cannot be merged into itself")]
    SelfMerge,
    #[error("{field} {problem}")]
    InvalidText {
        field: &'static str,
        problem: TextError,
    },
    #[error("nothing left to erase: the case's personal values are already erased")]
    NothingToErase,
    #[error("the value with commitment {0} is already erased")]
    AlreadyErased(crate::sealed::Commitment),
    #[error("{what}: at most {max} allowed")]
    TooMany { what: &'static str, max: usize },
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("{field} {date} is in the future (today in Connecticut is {today})")]
    DateInFuture {
        field: &'static str,
        date: Date,
        today: Date,
    },
    #[error("{field} {date} is before {earliest}")]
    DateTooEarly {
        field: &'static str,
        date: Date,
        earliest: Date,
    },
    #[error("status cannot change from {} to {}", crate::text::spoken(.from), crate::text::spoken(.to))]
    TransitionNotAllowed { from: CaseStatus, to: CaseStatus },
    #[error("closing a case requires a disposition")]
    DispositionRequired,
    #[error("a disposition is only recorded when closing a case")]
    DispositionNotAllowed,
    #[error("disposition arrest requires an arrest to be recorded first")]
    DispositionNeedsArrest,
    #[error("the outcome \"{}\" needs a referral to {} recorded first", crate::text::spoken(.disposition), crate::text::spoken(.target))]
    DispositionNeedsReferral {
        disposition: Disposition,
        target: ReferralTarget,
    },
    #[error("status referred requires an undecided referral to be recorded first")]
    ReferralRequired,
    #[error("reopening a closed case requires a note saying why")]
    ReopenNeedsNote,
    #[error("the case is closed")]
    Closed,
    #[error("statute {0} is not in the catalog")]
    UnknownStatute(StatuteCode),
    #[error("statute {0} is listed more than once")]
    DuplicateStatute(StatuteCode),
    #[error("counts for {0} must be 1 to 999")]
    InvalidCounts(StatuteCode),
    #[error("this investigator already has this role on the case")]
    AlreadyAssigned,
    #[error("unit {0} is listed more than once")]
    DuplicateUnit(Ori),
    #[error("the case is already linked to this operation")]
    AlreadyLinkedToOperation,
    #[error("the case is already flagged urgent")]
    AlreadyUrgent,
    #[error("no referral number {0} on this case")]
    UnknownReferral(u32),
    #[error("referral {0} has already been decided")]
    ReferralAlreadyDecided(u32),
    #[error("decision date {decided_on} is before the referral date {referred_on}")]
    DecisionBeforeReferral { decided_on: Date, referred_on: Date },
    #[error("no arrest number {0} on this case")]
    UnknownArrest(u32),
    #[error("ledger position {0} holds no event")]
    UnknownPosition(LedgerPosition),
    #[error("ledger position {0} is not an event of this case")]
    PositionNotInCase(LedgerPosition),
    #[error("field {field} cannot be corrected through a {event_type} event")]
    CorrectionDoesNotApply {
        field: &'static str,
        event_type: String,
    },
    #[error("the correction of {0} does not change its current value")]
    NothingToCorrect(&'static str),
    #[error("the case holds more events of this kind than the ledger allows")]
    LimitReached,
    #[error("{field}: {problem}")]
    InvalidReceivedTime {
        field: &'static str,
        problem: crate::local_time::LocalTimeError,
    },
    #[error("received_offset is given only with received_time")]
    OffsetWithoutTime,
    #[error(transparent)]
    InvalidCadence(#[from] crate::compliance::sharing::CadenceError),
    #[error("no victim number {0} on this case")]
    UnknownVictim(u32),
    #[error("victim {0} is already identified")]
    VictimAlreadyIdentified(u32),
    #[error("decided_on {decided_on} is before the arrest on {arrested_on}")]
    OutcomeBeforeArrest { decided_on: Date, arrested_on: Date },
    #[error("decided_on {decided_on} is before the outcome already recorded on {earlier}")]
    OutcomeBeforeEarlierOutcome { decided_on: Date, earlier: Date },
    #[error("the prosecution of arrest {0} has concluded; record a correction instead")]
    ProsecutionConcluded(u32),
    #[error("this outcome is already recorded for arrest {0}")]
    OutcomeAlreadyRecorded(u32),
}

impl crate::text::BlamesField for CaseError {
    fn rule(&self) -> &'static str {
        self.into()
    }

    fn blamed_field(&self) -> Option<&'static str> {
        match self {
            CaseError::InvalidText { field, .. } => Some(field),
            CaseError::InvalidReceivedTime { field, .. } => Some(field),
            CaseError::OffsetWithoutTime => Some("received_offset"),
            CaseError::InvalidCadence(_) => Some("cadence_days"),
            CaseError::UnknownVictim(_) | CaseError::VictimAlreadyIdentified(_) => {
                Some("victim_number")
            }
            CaseError::UnknownArrest(_)
            | CaseError::ProsecutionConcluded(_)
            | CaseError::OutcomeAlreadyRecorded(_) => Some("arrest_number"),
            CaseError::OutcomeBeforeArrest { .. }
            | CaseError::OutcomeBeforeEarlierOutcome { .. } => Some("decided_on"),
            CaseError::DateInFuture { field, .. } | CaseError::DateTooEarly { field, .. } => {
                Some(field)
            }
            _ => None,
        }
    }
}
