//! A case: opened by a unit's standardized notification (29-7e(c)) or first
//! by a logged complaint, then shared, assigned, moved through its status
//! table, and closed with a disposition.

pub mod command;
pub mod correction;
pub mod erasure;
pub mod error;
pub mod event;
pub mod prosecution;
pub mod status;
pub mod victims;

use std::collections::{BTreeSet, HashSet};

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use jiff::civil::{Date, Time};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use command::*;
pub use correction::CorrectedValue;
pub use erasure::{ErasePersonalData, ErasedValue};
pub use error::{CaseError, FormErrors};
pub use event::CaseEvent;
pub use prosecution::{OutcomeEntry, ProsecutionOutcome, RecordProsecutionOutcome};
pub use status::{CaseStatus, Disposition};
pub use victims::{AddVictim, CaseVictim, IdentifyVictim};

use crate::compliance::NotificationClock;
use crate::form::v1::{AgeBand, Source};
use crate::form::validation::EARLIEST_DATE;
use crate::form::{self, NotificationForm, ValidationContext};
use crate::ids::{CaseId, CyberTipNumber, OperationId, Ori, StatuteCode, UnitCaseNumber};
use crate::local_time::{self, ct_date};
use crate::sealed::{Commitment, Sealed};
pub use crate::services::CaseServices;
use crate::text::{self, limits};

/// Bounds on what one case can accumulate.
pub mod bounds {
    pub const INVESTIGATORS: usize = 50;
    pub const ARRESTS: usize = 50;
    pub const CHARGES: usize = 25;
    pub const REFERRALS: usize = 20;
    pub const OPERATIONS: usize = 20;
    pub const LINKED_NOTIFICATIONS: usize = 50;
    pub const SHARE_RECIPIENTS: usize = 20;
    pub const SHARES: u32 = 10_000;
    pub const CORRECTIONS: u32 = 1_000;
    pub const MAX_COUNTS: u16 = 999;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub investigator: Investigator,
    pub role: InvestigatorRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arrest {
    pub arrest_number: u32,
    pub arrested_on: Date,
    pub arresting_unit: Ori,
    pub charges: Vec<Charge>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<OutcomeEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    pub referral_number: u32,
    pub target: ReferralTarget,
    pub agency_name: String,
    pub referred_on: Date,
    pub decision: Option<ReferralDecision>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedNotification {
    pub reporting_unit: Ori,
    pub unit_case_number: UnitCaseNumber,
    pub from_case_id: Option<CaseId>,
    pub recorded_at: Timestamp,
}

/// State of one case, with every correction applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub case_id: Option<CaseId>,
    pub reporting_unit: Option<Ori>,
    pub unit_case_number: Option<UnitCaseNumber>,
    pub received_on: Option<Date>,
    pub received_time: Option<Time>,
    pub source: Option<Source>,
    pub opened_by_complaint: bool,
    pub notification: Option<NotificationForm>,
    pub notified_at: Option<Timestamp>,
    pub merged_into: Option<CaseId>,
    pub merged_at: Option<Timestamp>,
    pub status: Option<CaseStatus>,
    pub disposition: Option<Disposition>,
    pub urgent: bool,
    pub investigators: Vec<Assignment>,
    pub arrests: Vec<Arrest>,
    pub referrals: Vec<Referral>,
    pub operations: Vec<OperationId>,
    pub linked_notifications: Vec<LinkedNotification>,
    pub shares: u32,
    pub corrections: u32,
    /// Commitments whose values were lawfully erased.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub erased: BTreeSet<Commitment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub victims: Vec<CaseVictim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing_cadence_days: Option<u32>,
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), CaseError> {
    text::check(value, max).map_err(|problem| CaseError::InvalidText { field, problem })
}

fn check_optional_text(
    field: &'static str,
    value: Option<&String>,
    max: usize,
) -> Result<(), CaseError> {
    value.map_or(Ok(()), |v| check_text(field, v, max))
}

fn check_past_date(
    field: &'static str,
    date: Date,
    recorded_at: Timestamp,
) -> Result<(), CaseError> {
    let today = ct_date(recorded_at);
    if date > today {
        return Err(CaseError::DateInFuture { field, date, today });
    }
    if date < EARLIEST_DATE {
        return Err(CaseError::DateTooEarly {
            field,
            date,
            earliest: EARLIEST_DATE,
        });
    }
    Ok(())
}

fn check_on_or_after(
    field: &'static str,
    date: Date,
    earliest: Option<Date>,
) -> Result<(), CaseError> {
    match earliest {
        Some(e) if date < e => Err(CaseError::DateTooEarly {
            field,
            date,
            earliest: e,
        }),
        _ => Ok(()),
    }
}

fn check_active_unit(services: &CaseServices, ori: &Ori) -> Result<(), CaseError> {
    match services.units.unit(ori) {
        None => Err(CaseError::UnknownUnit(ori.clone())),
        Some(u) if !u.active => Err(CaseError::InactiveUnit(ori.clone())),
        Some(_) => Ok(()),
    }
}

fn check_statutes<'a>(
    services: &CaseServices,
    codes: impl Iterator<Item = &'a StatuteCode>,
) -> Result<(), CaseError> {
    let mut seen = HashSet::new();
    for code in codes {
        if !services.catalog.contains(code) {
            return Err(CaseError::UnknownStatute(code.clone()));
        }
        if !seen.insert(code) {
            return Err(CaseError::DuplicateStatute(code.clone()));
        }
    }
    Ok(())
}

fn check_charges(services: &CaseServices, charges: &[Charge]) -> Result<(), CaseError> {
    if charges.is_empty() {
        return Err(CaseError::Empty { what: "charges" });
    }
    if charges.len() > bounds::CHARGES {
        return Err(CaseError::TooMany {
            what: "charges",
            max: bounds::CHARGES,
        });
    }
    check_statutes(services, charges.iter().map(|c| &c.statute))?;
    if let Some(c) = charges
        .iter()
        .find(|c| c.counts == 0 || c.counts > bounds::MAX_COUNTS)
    {
        return Err(CaseError::InvalidCounts(c.statute.clone()));
    }
    Ok(())
}

fn next_number(len: usize) -> Result<u32, CaseError> {
    u32::try_from(len + 1).map_err(|_| CaseError::LimitReached)
}

impl Case {
    /// The CyberTip this case holds, if its notification came from one.
    pub fn cybertip(&self) -> Option<&CyberTipNumber> {
        self.notification.as_ref().and_then(|f| f.source.cybertip())
    }

    /// The inputs of the 14-day assessment (see `compliance::assess`).
    pub fn notification_clock(&self) -> Option<NotificationClock> {
        Some(NotificationClock {
            received_on: self.received_on?,
            filed_on: self.notified_at.or(self.merged_at).map(ct_date),
            opened_by_complaint: self.opened_by_complaint,
        })
    }

    fn is_opened(&self) -> bool {
        self.case_id.is_some()
    }

    fn require_open(&self) -> Result<(), CaseError> {
        if !self.is_opened() {
            return Err(CaseError::NotOpened);
        }
        if let Some(primary) = &self.merged_into {
            return Err(CaseError::Merged(primary.clone()));
        }
        Ok(())
    }

    /// Open, notified, and not closed.
    fn require_active_notified(&self) -> Result<CaseStatus, CaseError> {
        self.require_open()?;
        match self.status {
            None => Err(CaseError::NotificationRequired),
            Some(CaseStatus::Closed) => Err(CaseError::Closed),
            Some(s) => Ok(s),
        }
    }

    fn validation_context<'a>(
        services: &'a CaseServices,
        recorded_at: Timestamp,
    ) -> ValidationContext<'a> {
        ValidationContext {
            recorded_at,
            units: services.units.as_ref(),
            catalog: services.catalog,
        }
    }

    /// Pure decision: the events `command` produces, or why it is refused.
    pub fn decide(
        &self,
        command: CaseCommand,
        services: &CaseServices,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        match command {
            CaseCommand::LogComplaint(c) => self.log_complaint(c, services),
            CaseCommand::FileNotification(c) => self.file_notification(c, services),
            CaseCommand::LinkDuplicateNotification(c) => self.link_duplicate(c, services),
            CaseCommand::MergeIntoCase(c) => self.merge(c),
            CaseCommand::ShareInformation(c) => self.share(c, services),
            CaseCommand::AssignInvestigator(c) => self.assign(c, services),
            CaseCommand::ChangeStatus(c) => self.change_status(c),
            CaseCommand::RecordArrest(c) => self.record_arrest(c, services),
            CaseCommand::RecordReferral(c) => self.record_referral(c),
            CaseCommand::DecideReferral(c) => self.decide_referral(c),
            CaseCommand::LinkOperation(c) => self.link_operation(c),
            CaseCommand::SetUrgent(c) => self.set_urgent(c),
            CaseCommand::RecordCorrection(c) => self.record_correction(c, services),
            CaseCommand::ErasePersonalData(c) => self.erase(c),
            CaseCommand::AddVictim(c) => self.add_victim(c),
            CaseCommand::IdentifyVictim(c) => self.identify_victim(c),
            CaseCommand::RecordProsecutionOutcome(c) => self.record_outcome(c),
            CaseCommand::SetSharingCadence(c) => {
                self.require_active_notified()?;
                let cadence_days = crate::compliance::sharing::check_cadence(c.cadence_days)?;
                if self.sharing_cadence_days == Some(cadence_days) {
                    return Err(CaseError::NothingToCorrect("cadence_days"));
                }
                Ok(vec![CaseEvent::SharingCadenceSet {
                    cadence_days,
                    recorded_at: c.recorded_at,
                }])
            }
        }
    }

    fn add_victim(&self, c: AddVictim) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_active_notified()?;
        let victim_number = victims::next_number(&self.victims)?;
        if let Some(d) = c.identified_on {
            check_past_date("identified_on", d, c.recorded_at)?;
        }
        Ok(vec![CaseEvent::VictimAdded {
            victim_number,
            age_band: c.age_band,
            identified_on: c.identified_on,
            recorded_at: c.recorded_at,
        }])
    }

    fn identify_victim(&self, c: IdentifyVictim) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        if self.status.is_none() {
            return Err(CaseError::NotificationRequired);
        }
        victims::check_identify(&self.victims, c.victim_number)?;
        check_past_date("identified_on", c.identified_on, c.recorded_at)?;
        Ok(vec![CaseEvent::VictimIdentified {
            victim_number: c.victim_number,
            identified_on: c.identified_on,
            recorded_at: c.recorded_at,
        }])
    }

    fn record_outcome(&self, c: RecordProsecutionOutcome) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        let arrest = self.arrest(c.arrest_number)?;
        check_past_date("decided_on", c.decided_on, c.recorded_at)?;
        prosecution::check(arrest.arrested_on, &arrest.outcomes, &c)?;
        Ok(vec![CaseEvent::ProsecutionOutcomeRecorded {
            arrest_number: c.arrest_number,
            outcome: c.outcome,
            decided_on: c.decided_on,
            recorded_at: c.recorded_at,
        }])
    }

    fn erase(&self, c: ErasePersonalData) -> Result<Vec<CaseEvent>, CaseError> {
        if self.case_id.is_none() {
            return Err(CaseError::NotOpened);
        }
        erasure::decide(&self.erased, &c)?;
        Ok(vec![CaseEvent::PersonalDataErased {
            erased: c.values,
            reason: c.reason,
            recorded_at: c.recorded_at,
        }])
    }

    fn log_complaint(
        &self,
        c: LogComplaint,
        services: &CaseServices,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        if let Some(id) = &self.case_id {
            return Err(CaseError::AlreadyOpened(id.clone()));
        }
        check_active_unit(services, &c.reporting_unit)?;
        check_past_date("received_on", c.received_on, c.recorded_at)?;
        if let Some(t) = c.received_time {
            let at = local_time::resolve(c.received_on, t, c.received_offset).map_err(|e| {
                let field = match e {
                    local_time::LocalTimeError::WrongOffset { .. } => "received_offset",
                    _ => "received_time",
                };
                CaseError::InvalidReceivedTime { field, problem: e }
            })?;
            // The instant, not the wall clock: 01:45 EDT comes before 01:10 EST.
            if at > c.recorded_at {
                return Err(CaseError::DateInFuture {
                    field: "received_time",
                    date: c.received_on,
                    today: ct_date(c.recorded_at),
                });
            }
        } else if c.received_offset.is_some() {
            return Err(CaseError::OffsetWithoutTime);
        }
        form::validation::validate_source(&c.source)
            .map_err(|e| CaseError::InvalidSource(FormErrors(e)))?;
        Ok(vec![CaseEvent::ComplaintLogged {
            case_id: c.case_id,
            reporting_unit: c.reporting_unit,
            unit_case_number: c.unit_case_number,
            received_on: c.received_on,
            received_time: c.received_time,
            received_offset: c.received_offset,
            source: c.source,
            recorded_at: c.recorded_at,
        }])
    }

    fn file_notification(
        &self,
        c: FileNotification,
        services: &CaseServices,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        if let Some(expected) = &self.case_id {
            if *expected != c.case_id {
                return Err(CaseError::CaseIdMismatch {
                    expected: expected.clone(),
                    got: c.case_id,
                });
            }
        }
        if let Some(primary) = &self.merged_into {
            return Err(CaseError::Merged(primary.clone()));
        }
        if self.notification.is_some() {
            return Err(CaseError::NotificationAlreadyFiled);
        }
        form::validate(&c.form, &Self::validation_context(services, c.recorded_at))
            .map_err(|e| CaseError::InvalidForm(FormErrors(e)))?;
        if let Some(logged) = &self.reporting_unit {
            if *logged != c.form.reporting_unit {
                return Err(CaseError::UnitMismatch {
                    logged: logged.clone(),
                    form: c.form.reporting_unit.clone(),
                });
            }
        }
        if let Some(logged) = self.received_on {
            if logged != c.form.received.date {
                return Err(CaseError::ReceivedDateMismatch {
                    logged,
                    form: c.form.received.date,
                });
            }
        }
        // A CyberTip another unit's case holds is no reason to refuse: both cases stay
        // open and both units are told of each other (`deconfliction`, issue 17).
        Ok(vec![CaseEvent::NotificationFiled {
            case_id: c.case_id,
            form: c.form,
            recorded_at: c.recorded_at,
        }])
    }

    fn link_duplicate(
        &self,
        c: LinkDuplicateNotification,
        services: &CaseServices,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        let Some(tip) = self.cybertip() else {
            return Err(CaseError::NoCyberTip);
        };
        match c.form.source.cybertip() {
            Some(form_tip) if form_tip == tip => {}
            Some(form_tip) => {
                return Err(CaseError::DifferentCyberTip {
                    case: tip.clone(),
                    form: form_tip.clone(),
                })
            }
            None => return Err(CaseError::NoCyberTip),
        }
        if self.linked_notifications.len() >= bounds::LINKED_NOTIFICATIONS {
            return Err(CaseError::TooMany {
                what: "linked notifications",
                max: bounds::LINKED_NOTIFICATIONS,
            });
        }
        if c.from_case_id.as_ref() == self.case_id.as_ref() {
            return Err(CaseError::SelfMerge);
        }
        form::validate(&c.form, &Self::validation_context(services, c.recorded_at))
            .map_err(|e| CaseError::InvalidForm(FormErrors(e)))?;
        Ok(vec![CaseEvent::DuplicateNotificationLinked {
            form: c.form,
            from_case_id: c.from_case_id,
            recorded_at: c.recorded_at,
        }])
    }

    fn merge(&self, c: MergeIntoCase) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        if self.notification.is_some() {
            return Err(CaseError::NotificationAlreadyFiled);
        }
        if self.case_id.as_ref() == Some(&c.primary_case_id) {
            return Err(CaseError::SelfMerge);
        }
        Ok(vec![CaseEvent::CaseMerged {
            primary_case_id: c.primary_case_id,
            recorded_at: c.recorded_at,
        }])
    }

    fn share(
        &self,
        c: ShareInformation,
        services: &CaseServices,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        check_text("summary", &c.summary, limits::SUMMARY)?;
        match &c.direction {
            ShareDirection::UnitToTaskForce { from_unit } => {
                check_active_unit(services, from_unit)?;
            }
            ShareDirection::TaskForceToUnits { to_units } => {
                if to_units.is_empty() {
                    return Err(CaseError::Empty { what: "to_units" });
                }
                if to_units.len() > bounds::SHARE_RECIPIENTS {
                    return Err(CaseError::TooMany {
                        what: "to_units",
                        max: bounds::SHARE_RECIPIENTS,
                    });
                }
                let mut seen = HashSet::new();
                for ori in to_units {
                    if !seen.insert(ori) {
                        return Err(CaseError::DuplicateUnit(ori.clone()));
                    }
                    check_active_unit(services, ori)?;
                }
            }
        }
        if self.shares >= bounds::SHARES {
            return Err(CaseError::LimitReached);
        }
        Ok(vec![CaseEvent::InformationShared {
            share_number: self.shares + 1,
            direction: c.direction,
            category: c.category,
            summary: Sealed::Open(c.summary),
            recorded_at: c.recorded_at,
        }])
    }

    fn assign(
        &self,
        c: AssignInvestigator,
        services: &CaseServices,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_active_notified()?;
        check_text("investigator.name", &c.investigator.name, limits::NAME)?;
        check_optional_text(
            "investigator.badge",
            c.investigator.badge.as_ref(),
            limits::SHORT,
        )?;
        check_active_unit(services, &c.investigator.agency)?;
        if self.investigators.iter().any(|a| {
            a.role == c.role
                && a.investigator.name == c.investigator.name
                && a.investigator.agency == c.investigator.agency
        }) {
            return Err(CaseError::AlreadyAssigned);
        }
        if self.investigators.len() >= bounds::INVESTIGATORS {
            return Err(CaseError::TooMany {
                what: "investigators",
                max: bounds::INVESTIGATORS,
            });
        }
        Ok(vec![CaseEvent::InvestigatorAssigned {
            investigator: c.investigator,
            role: c.role,
            recorded_at: c.recorded_at,
        }])
    }

    fn change_status(&self, c: ChangeStatus) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        let Some(from) = self.status else {
            return Err(CaseError::NotificationRequired);
        };
        if !status::is_allowed(from, c.to) {
            return Err(CaseError::TransitionNotAllowed { from, to: c.to });
        }
        check_optional_text("note", c.note.as_ref(), limits::REASON)?;
        match (c.to, c.disposition) {
            (CaseStatus::Closed, None) => return Err(CaseError::DispositionRequired),
            (CaseStatus::Closed, Some(d)) => self.check_disposition(d)?,
            (_, Some(_)) => return Err(CaseError::DispositionNotAllowed),
            (_, None) => {}
        }
        if c.to == CaseStatus::Referred && !self.referrals.iter().any(|r| r.decision.is_none()) {
            return Err(CaseError::ReferralRequired);
        }
        if from == CaseStatus::Closed && c.note.is_none() {
            return Err(CaseError::ReopenNeedsNote);
        }
        Ok(vec![CaseEvent::StatusChanged {
            from,
            to: c.to,
            disposition: c.disposition,
            note: c.note.map(Sealed::Open),
            recorded_at: c.recorded_at,
        }])
    }

    fn check_disposition(&self, d: Disposition) -> Result<(), CaseError> {
        let needs_referral = |target: ReferralTarget| {
            if self.referrals.iter().any(|r| r.target == target) {
                Ok(())
            } else {
                Err(CaseError::DispositionNeedsReferral {
                    disposition: d,
                    target,
                })
            }
        };
        match d {
            Disposition::Arrest if self.arrests.is_empty() => {
                Err(CaseError::DispositionNeedsArrest)
            }
            Disposition::ReferredToFederalProsecutors => {
                needs_referral(ReferralTarget::FederalProsecutors)
            }
            Disposition::ReferredOutOfState => needs_referral(ReferralTarget::OutOfStateAgency),
            _ => Ok(()),
        }
    }

    fn record_arrest(
        &self,
        c: RecordArrest,
        services: &CaseServices,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_active_notified()?;
        check_past_date("arrested_on", c.arrested_on, c.recorded_at)?;
        check_on_or_after("arrested_on", c.arrested_on, self.received_on)?;
        check_active_unit(services, &c.arresting_unit)?;
        check_charges(services, &c.charges)?;
        if self.arrests.len() >= bounds::ARRESTS {
            return Err(CaseError::TooMany {
                what: "arrests",
                max: bounds::ARRESTS,
            });
        }
        Ok(vec![CaseEvent::ArrestRecorded {
            arrest_number: next_number(self.arrests.len())?,
            arrested_on: c.arrested_on,
            arresting_unit: c.arresting_unit,
            charges: c.charges,
            recorded_at: c.recorded_at,
        }])
    }

    fn record_referral(&self, c: RecordReferral) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_active_notified()?;
        check_text("agency_name", &c.agency_name, limits::NAME)?;
        check_past_date("referred_on", c.referred_on, c.recorded_at)?;
        check_on_or_after("referred_on", c.referred_on, self.received_on)?;
        if self.referrals.len() >= bounds::REFERRALS {
            return Err(CaseError::TooMany {
                what: "referrals",
                max: bounds::REFERRALS,
            });
        }
        Ok(vec![CaseEvent::ReferralRecorded {
            referral_number: next_number(self.referrals.len())?,
            target: c.target,
            agency_name: c.agency_name,
            referred_on: c.referred_on,
            recorded_at: c.recorded_at,
        }])
    }

    fn decide_referral(&self, c: DecideReferral) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        let Some(referral) = self
            .referrals
            .iter()
            .find(|r| r.referral_number == c.referral_number)
        else {
            return Err(CaseError::UnknownReferral(c.referral_number));
        };
        if referral.decision.is_some() {
            return Err(CaseError::ReferralAlreadyDecided(c.referral_number));
        }
        check_past_date("decided_on", c.decided_on, c.recorded_at)?;
        if c.decided_on < referral.referred_on {
            return Err(CaseError::DecisionBeforeReferral {
                decided_on: c.decided_on,
                referred_on: referral.referred_on,
            });
        }
        check_optional_text("note", c.note.as_ref(), limits::REASON)?;
        Ok(vec![CaseEvent::ReferralDecided {
            referral_number: c.referral_number,
            decision: c.decision,
            decided_on: c.decided_on,
            note: c.note.map(Sealed::Open),
            recorded_at: c.recorded_at,
        }])
    }

    fn link_operation(&self, c: LinkOperation) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        if self.operations.contains(&c.operation_id) {
            return Err(CaseError::AlreadyLinkedToOperation);
        }
        if self.operations.len() >= bounds::OPERATIONS {
            return Err(CaseError::TooMany {
                what: "operations",
                max: bounds::OPERATIONS,
            });
        }
        Ok(vec![CaseEvent::LinkedToOperation {
            operation_id: c.operation_id,
            recorded_at: c.recorded_at,
        }])
    }

    fn set_urgent(&self, c: SetUrgent) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        if self.status == Some(CaseStatus::Closed) {
            return Err(CaseError::Closed);
        }
        if self.urgent {
            return Err(CaseError::AlreadyUrgent);
        }
        Ok(vec![CaseEvent::UrgentFlagSet {
            reason: c.reason,
            recorded_at: c.recorded_at,
        }])
    }

    fn record_correction(
        &self,
        c: RecordCorrection,
        services: &CaseServices,
    ) -> Result<Vec<CaseEvent>, CaseError> {
        self.require_open()?;
        check_text("reason", &c.reason, limits::REASON)?;
        if c.changes.is_empty() {
            return Err(CaseError::Empty { what: "changes" });
        }
        if c.changes.len() > correction::MAX_CHANGES {
            return Err(CaseError::TooMany {
                what: "changes",
                max: correction::MAX_CHANGES,
            });
        }
        if self.corrections >= bounds::CORRECTIONS {
            return Err(CaseError::LimitReached);
        }
        let target = services
            .ledger
            .event_at(c.corrects)
            .ok_or(CaseError::UnknownPosition(c.corrects))?;
        let ours = target.aggregate_type == <Case as Aggregate>::TYPE
            && self.case_id.as_ref().map(CaseId::as_str) == Some(target.aggregate_id.as_str());
        if !ours {
            return Err(CaseError::PositionNotInCase(c.corrects));
        }
        for change in &c.changes {
            if !change
                .corrects_event_types()
                .contains(&target.event_type.as_str())
            {
                return Err(CaseError::CorrectionDoesNotApply {
                    field: change.field(),
                    event_type: target.event_type.clone(),
                });
            }
            self.check_change(change, c.recorded_at, services)?;
        }
        Ok(vec![CaseEvent::CorrectionRecorded {
            corrects: c.corrects,
            changes: c.changes,
            reason: c.reason,
            recorded_at: c.recorded_at,
        }])
    }

    fn check_change(
        &self,
        change: &CorrectedValue,
        recorded_at: Timestamp,
        services: &CaseServices,
    ) -> Result<(), CaseError> {
        let form = self.notification.as_ref();
        let unchanged = match change {
            CorrectedValue::ReceivedOn { date, time } => {
                check_past_date("received_on", *date, recorded_at)?;
                self.received_on == Some(*date) && self.received_time == *time
            }
            CorrectedValue::UnitCaseNumber { value } => {
                self.unit_case_number.as_ref() == Some(value)
            }
            CorrectedValue::IncidentType { incident_type } => {
                form.is_some_and(|f| f.incident.incident_type == *incident_type)
            }
            CorrectedValue::Medium { medium } => form.is_some_and(|f| f.medium == *medium),
            // A correction of the victim is of the form's first child (a version 1
            // form had exactly one).
            CorrectedValue::VictimAgeBand { age_band } => {
                self.victims.first().is_none_or(|v| v.age_band == *age_band)
            }
            CorrectedValue::VictimIdentified { identified } => self
                .victims
                .first()
                .is_none_or(|v| v.identified == *identified),
            CorrectedValue::SuspectedStatutes { statutes } => {
                if statutes.len() > crate::form::v1::bounds::STATUTES {
                    return Err(CaseError::TooMany {
                        what: "statutes",
                        max: crate::form::v1::bounds::STATUTES,
                    });
                }
                check_statutes(services, statutes.iter())?;
                form.is_some_and(|f| f.suspected_statutes == *statutes)
            }
            CorrectedValue::ArrestDate {
                arrest_number,
                arrested_on,
            } => {
                let arrest = self.arrest(*arrest_number)?;
                check_past_date("arrested_on", *arrested_on, recorded_at)?;
                arrest.arrested_on == *arrested_on
            }
            CorrectedValue::ArrestCharges {
                arrest_number,
                charges,
            } => {
                let arrest = self.arrest(*arrest_number)?;
                check_charges(services, charges)?;
                arrest.charges == *charges
            }
        };
        if unchanged {
            Err(CaseError::NothingToCorrect(change.field()))
        } else {
            Ok(())
        }
    }

    fn arrest(&self, number: u32) -> Result<&Arrest, CaseError> {
        self.arrests
            .iter()
            .find(|a| a.arrest_number == number)
            .ok_or(CaseError::UnknownArrest(number))
    }

    fn apply_change(&mut self, change: CorrectedValue) {
        let form = self.notification.as_mut();
        match change {
            CorrectedValue::ReceivedOn { date, time } => {
                self.received_on = Some(date);
                self.received_time = time;
                if let Some(f) = form {
                    f.received.date = date;
                    f.received.time = time;
                }
            }
            CorrectedValue::UnitCaseNumber { value } => {
                if let Some(f) = form {
                    f.unit_case_number = value.clone();
                }
                self.unit_case_number = Some(value);
            }
            CorrectedValue::IncidentType { incident_type } => {
                if let Some(f) = form {
                    f.incident.incident_type = incident_type;
                }
            }
            CorrectedValue::Medium { medium } => {
                if let Some(f) = form {
                    f.medium = medium;
                }
            }
            CorrectedValue::VictimAgeBand { age_band } => {
                if let Some(f) = form.and_then(|f| f.victims.first_mut()) {
                    f.age_band = age_band;
                }
                if let Some(v) = self.victims.first_mut() {
                    v.age_band = age_band;
                }
            }
            CorrectedValue::VictimIdentified { identified } => {
                if let Some(f) = form.and_then(|f| f.victims.first_mut()) {
                    f.identified = identified;
                }
                if let Some(v) = self.victims.first_mut() {
                    v.identified = identified;
                }
            }
            CorrectedValue::SuspectedStatutes { statutes } => {
                if let Some(f) = form {
                    f.suspected_statutes = statutes;
                }
            }
            CorrectedValue::ArrestDate {
                arrest_number,
                arrested_on,
            } => {
                if let Some(a) = self
                    .arrests
                    .iter_mut()
                    .find(|a| a.arrest_number == arrest_number)
                {
                    a.arrested_on = arrested_on;
                }
            }
            CorrectedValue::ArrestCharges {
                arrest_number,
                charges,
            } => {
                if let Some(a) = self
                    .arrests
                    .iter_mut()
                    .find(|a| a.arrest_number == arrest_number)
                {
                    a.charges = charges;
                }
            }
        }
    }
}

/// The event fold, one method per event kind; `Aggregate::apply` dispatches.
impl Case {
    fn on_complaint_logged(
        &mut self,
        case_id: CaseId,
        reporting_unit: Ori,
        unit_case_number: Option<UnitCaseNumber>,
        received_on: Date,
        received_time: Option<Time>,
        source: Source,
    ) {
        self.case_id = Some(case_id);
        self.reporting_unit = Some(reporting_unit);
        self.unit_case_number = unit_case_number;
        self.received_on = Some(received_on);
        self.received_time = received_time;
        self.source = Some(source);
        self.opened_by_complaint = true;
    }

    fn on_notification_filed(
        &mut self,
        case_id: CaseId,
        mut form: NotificationForm,
        recorded_at: Timestamp,
    ) {
        crate::upcast::form_v1_to_v2(&mut form);
        self.victims = victims::from_form(&form.victims);
        self.case_id = Some(case_id);
        self.reporting_unit = Some(form.reporting_unit.clone());
        self.unit_case_number = Some(form.unit_case_number.clone());
        self.received_on = Some(form.received.date);
        self.received_time = form.received.time;
        self.source = Some(form.source.clone());
        self.urgent |= form.urgent;
        self.notification = Some(form);
        self.notified_at = Some(recorded_at);
        self.status = Some(CaseStatus::Received);
    }

    fn on_duplicate_notification_linked(
        &mut self,
        form: NotificationForm,
        from_case_id: Option<CaseId>,
        recorded_at: Timestamp,
    ) {
        self.urgent |= form.urgent;
        self.linked_notifications.push(LinkedNotification {
            reporting_unit: form.reporting_unit,
            unit_case_number: form.unit_case_number,
            from_case_id,
            recorded_at,
        });
    }

    fn on_case_merged(&mut self, primary_case_id: CaseId, recorded_at: Timestamp) {
        self.merged_into = Some(primary_case_id);
        self.merged_at = Some(recorded_at);
        self.status = Some(CaseStatus::Closed);
        self.disposition = Some(Disposition::Duplicate);
    }

    fn on_status_changed(&mut self, to: CaseStatus, disposition: Option<Disposition>) {
        self.status = Some(to);
        self.disposition = disposition;
    }

    fn on_arrest_recorded(
        &mut self,
        arrest_number: u32,
        arrested_on: Date,
        arresting_unit: Ori,
        charges: Vec<Charge>,
    ) {
        self.arrests.push(Arrest {
            arrest_number,
            arrested_on,
            arresting_unit,
            charges,
            outcomes: Vec::new(),
        });
    }

    fn on_referral_recorded(
        &mut self,
        referral_number: u32,
        target: ReferralTarget,
        agency_name: String,
        referred_on: Date,
    ) {
        self.referrals.push(Referral {
            referral_number,
            target,
            agency_name,
            referred_on,
            decision: None,
        });
    }

    fn on_referral_decided(&mut self, referral_number: u32, decision: ReferralDecision) {
        if let Some(r) = self
            .referrals
            .iter_mut()
            .find(|r| r.referral_number == referral_number)
        {
            r.decision = Some(decision);
        }
    }

    fn on_correction_recorded(&mut self, changes: Vec<CorrectedValue>) {
        self.corrections += 1;
        for change in changes {
            self.apply_change(change);
        }
    }

    fn on_victim_added(
        &mut self,
        victim_number: u32,
        age_band: AgeBand,
        identified_on: Option<Date>,
    ) {
        self.victims.push(CaseVictim {
            victim_number,
            age_band,
            identified: identified_on.is_some(),
            identified_on,
        });
    }

    fn on_victim_identified(&mut self, victim_number: u32, identified_on: Date) {
        if let Some(v) = self
            .victims
            .iter_mut()
            .find(|v| v.victim_number == victim_number)
        {
            v.identified = true;
            v.identified_on = Some(identified_on);
        }
    }

    fn on_prosecution_outcome_recorded(
        &mut self,
        arrest_number: u32,
        outcome: ProsecutionOutcome,
        decided_on: Date,
    ) {
        if let Some(a) = self
            .arrests
            .iter_mut()
            .find(|a| a.arrest_number == arrest_number)
        {
            a.outcomes.push(OutcomeEntry {
                outcome,
                decided_on,
            });
        }
    }
}

impl Aggregate for Case {
    const TYPE: &'static str = "case";
    type Command = CaseCommand;
    type Event = CaseEvent;
    type Error = CaseError;
    type Services = CaseServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        services: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, services)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            CaseEvent::ComplaintLogged {
                case_id,
                reporting_unit,
                unit_case_number,
                received_on,
                received_time,
                source,
                ..
            } => self.on_complaint_logged(
                case_id,
                reporting_unit,
                unit_case_number,
                received_on,
                received_time,
                source,
            ),
            CaseEvent::NotificationFiled {
                case_id,
                form,
                recorded_at,
            } => self.on_notification_filed(case_id, form, recorded_at),
            CaseEvent::DuplicateNotificationLinked {
                form,
                from_case_id,
                recorded_at,
            } => self.on_duplicate_notification_linked(form, from_case_id, recorded_at),
            CaseEvent::CaseMerged {
                primary_case_id,
                recorded_at,
            } => self.on_case_merged(primary_case_id, recorded_at),
            CaseEvent::InformationShared { share_number, .. } => self.shares = share_number,
            CaseEvent::InvestigatorAssigned {
                investigator, role, ..
            } => {
                self.investigators.push(Assignment { investigator, role });
            }
            CaseEvent::StatusChanged {
                to, disposition, ..
            } => self.on_status_changed(to, disposition),
            CaseEvent::ArrestRecorded {
                arrest_number,
                arrested_on,
                arresting_unit,
                charges,
                ..
            } => self.on_arrest_recorded(arrest_number, arrested_on, arresting_unit, charges),
            CaseEvent::ReferralRecorded {
                referral_number,
                target,
                agency_name,
                referred_on,
                ..
            } => self.on_referral_recorded(referral_number, target, agency_name, referred_on),
            CaseEvent::ReferralDecided {
                referral_number,
                decision,
                ..
            } => self.on_referral_decided(referral_number, decision),
            CaseEvent::LinkedToOperation { operation_id, .. } => self.operations.push(operation_id),
            CaseEvent::UrgentFlagSet { .. } => self.urgent = true,
            CaseEvent::CorrectionRecorded { changes, .. } => self.on_correction_recorded(changes),
            CaseEvent::PersonalDataErased { erased, .. } => {
                self.erased.extend(erased.into_iter().map(|v| v.commitment));
            }
            CaseEvent::VictimAdded {
                victim_number,
                age_band,
                identified_on,
                ..
            } => self.on_victim_added(victim_number, age_band, identified_on),
            CaseEvent::VictimIdentified {
                victim_number,
                identified_on,
                ..
            } => self.on_victim_identified(victim_number, identified_on),
            CaseEvent::SharingCadenceSet { cadence_days, .. } => {
                self.sharing_cadence_days = Some(cadence_days);
            }
            CaseEvent::ProsecutionOutcomeRecorded {
                arrest_number,
                outcome,
                decided_on,
                ..
            } => self.on_prosecution_outcome_recorded(arrest_number, outcome, decided_on),
        }
    }
}
