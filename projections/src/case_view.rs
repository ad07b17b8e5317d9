//! The current state of one case, with every correction applied, in a shape
//! safe to hand to investigators: the victim's town is never kept here.

use icac_aggregates::case::prosecution::{self, ProsecutionOutcome};
use icac_aggregates::case::{
    CaseEvent, CaseStatus, Charge, CorrectedValue, Disposition, Investigator, InvestigatorRole,
    ReferralDecision, ReferralTarget, ShareCategory, ShareDirection, UrgencyReason,
};
use icac_aggregates::catalog::{IncidentType, Medium, SourceKind};
use icac_aggregates::compliance::sharing::SharingClock;
use icac_aggregates::compliance::NotificationClock;
use icac_aggregates::form::v1::{AgeBand, AssistanceRequested, Source, Victim};
use icac_aggregates::form::NotificationForm;
use icac_aggregates::ids::{
    CaseId, CyberTipNumber, LedgerPosition, OperationId, Ori, StatuteCode, UnitCaseNumber,
};
use icac_aggregates::local_time::ct_date;
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use icac_format::chain::Hash32;

/// What the form said, minus anything restricted or bulky (subjects, hashes,
/// officer contact, the victim's town).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSummary {
    pub incident_type: IncidentType,
    pub sextortion: bool,
    pub ai_generated_material: bool,
    pub minor_to_minor: bool,
    pub medium: Medium,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    pub suspected_statutes: Vec<StatuteCode>,
    pub victim_identified: bool,
    pub victim_age_band: AgeBand,
    pub assistance_requested: AssistanceRequested,
    pub urgent: bool,
}

impl NotificationSummary {
    pub fn of(form: &NotificationForm) -> Self {
        Self {
            incident_type: form.incident.incident_type,
            sextortion: form.incident.sextortion,
            ai_generated_material: form.incident.ai_generated_material,
            minor_to_minor: form.incident.minor_to_minor,
            medium: form.medium,
            platform: form.platform.clone(),
            suspected_statutes: form.suspected_statutes.clone(),
            victim_identified: first_victim(form).is_some_and(|v| v.identified),
            victim_age_band: first_victim(form).map_or(AgeBand::Unknown, |v| v.age_band),
            assistance_requested: form.assistance_requested,
            urgent: form.urgent,
        }
    }
}

/// The first child of a form of either version (what the single-victim fields of
/// the summary and the corrections of "the victim" refer to).
fn first_victim(form: &NotificationForm) -> Option<&Victim> {
    form.victim.as_ref().or(form.victims.first())
}

/// The children a filed form lists, numbered from 1 in the form's order; an
/// identified child without a date counts from `filed_on`.
fn filed_victims(form: &NotificationForm, filed_on: Date) -> Vec<VictimView> {
    let listed = form.victim.iter().chain(form.victims.iter());
    listed
        .zip(1u32..)
        .map(|(v, n)| VictimView {
            victim_number: n,
            age_band: v.age_band,
            identified: v.identified,
            identified_on: v.identified_on,
            counted_on: v.identified.then(|| v.identified_on.unwrap_or(filed_on)),
        })
        .collect()
}

/// One child of the case, never more than its age band and when it was identified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VictimView {
    pub victim_number: u32,
    pub age_band: AgeBand,
    pub identified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified_on: Option<Date>,
    /// The date statistics count this child as identified: `identified_on`, or for a
    /// child a version 1 form reported identified (no date asked), the filing date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_on: Option<Date>,
}

/// One prosecution outcome of an arrest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeView {
    pub outcome: ProsecutionOutcome,
    pub decided_on: Date,
    /// For a nolle: when erasure of its records becomes due (C.G.S. 54-142a(c)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure_due_on: Option<Date>,
    pub position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentView {
    pub investigator: Investigator,
    pub role: InvestigatorRole,
    pub assigned_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrestView {
    pub arrest_number: u32,
    pub arrested_on: Date,
    pub arresting_unit: Ori,
    pub charges: Vec<Charge>,
    pub position: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<OutcomeView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralView {
    pub referral_number: u32,
    pub target: ReferralTarget,
    pub agency_name: String,
    pub referred_on: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<ReferralDecision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedNotificationView {
    pub reporting_unit: Ori,
    pub unit_case_number: UnitCaseNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_case_id: Option<CaseId>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareWay {
    UnitToTaskForce,
    TaskForceToUnits,
}

/// One information share (29-7e(a)(3) and (c)); the summary text stays in
/// the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareView {
    pub share_number: u32,
    pub way: ShareWay,
    pub category: ShareCategory,
    pub recipients: u32,
    /// The receiving units' ORIs (Task Force to units), so reports count
    /// distinct units reached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_units: Vec<String>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<CaseStatus>,
    pub to: CaseStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    pub recorded_at: Timestamp,
    pub position: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrectionApplied {
    pub position: u64,
    pub corrects: u64,
    pub fields: Vec<String>,
    pub reason: String,
    pub recorded_at: Timestamp,
}

/// A lawful erasure of the case's personal values: how many, why, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureView {
    pub position: u64,
    pub values: u32,
    pub reason: String,
    pub recorded_at: Timestamp,
}

/// A case as it stands after the events folded so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseView {
    pub case_id: CaseId,
    pub reporting_unit: Ori,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_case_number: Option<UnitCaseNumber>,
    pub received_on: Date,
    pub source: SourceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cybertip_number: Option<CyberTipNumber>,
    pub opened_by_complaint: bool,
    pub opened_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationSummary>,
    pub linked_notifications: Vec<LinkedNotificationView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<CaseId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CaseStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    pub status_log: Vec<StatusStep>,
    pub urgent: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urgency_reason: Option<UrgencyReason>,
    pub assignments: Vec<AssignmentView>,
    pub arrests: Vec<ArrestView>,
    pub referrals: Vec<ReferralView>,
    pub operations: Vec<OperationId>,
    pub shares: Vec<ShareView>,
    pub corrections: Vec<CorrectionApplied>,
    /// Erasures of personal values (C.G.S. 54-142a), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub erasures: Vec<ErasureView>,
    /// The children of the case, in the order the case learned of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub victims: Vec<VictimView>,
    /// The case's own update cadence for continued sharing (days), if it set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sharing_cadence_days: Option<u32>,
    /// Events folded into this view (the stream sequence of the last one).
    pub version: u64,
    pub last_position: u64,
    pub last_hash: Hash32,
}

/// Where one event sits in the ledger, as the fold needs it.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub position: u64,
    pub sequence: u64,
    pub hash: &'a Hash32,
}

impl CaseView {
    /// Starts a view from the event that opens a case. `None` for any other
    /// event (a stream that does not start with an opening is not a case).
    pub fn open(event: &CaseEvent, at: At<'_>) -> Option<Self> {
        let blank =
            |case_id: &CaseId, unit: &Ori, received_on, source: &Source, recorded_at| Self {
                case_id: case_id.clone(),
                reporting_unit: unit.clone(),
                unit_case_number: None,
                received_on,
                source: source.kind(),
                cybertip_number: source.cybertip().cloned(),
                opened_by_complaint: false,
                opened_at: recorded_at,
                notified_at: None,
                notification: None,
                linked_notifications: Vec::new(),
                merged_into: None,
                merged_at: None,
                status: None,
                disposition: None,
                status_log: Vec::new(),
                urgent: false,
                urgency_reason: None,
                assignments: Vec::new(),
                arrests: Vec::new(),
                referrals: Vec::new(),
                operations: Vec::new(),
                shares: Vec::new(),
                corrections: Vec::new(),
                erasures: Vec::new(),
                victims: Vec::new(),
                sharing_cadence_days: None,
                version: 0,
                last_position: 0,
                last_hash: *at.hash,
            };
        let mut view = match event {
            CaseEvent::ComplaintLogged {
                case_id,
                reporting_unit,
                received_on,
                source,
                recorded_at,
                ..
            } => blank(case_id, reporting_unit, *received_on, source, *recorded_at),
            CaseEvent::NotificationFiled {
                case_id,
                form,
                recorded_at,
            } => blank(
                case_id,
                &form.reporting_unit,
                form.received.date,
                &form.source,
                *recorded_at,
            ),
            _ => return None,
        };
        view.apply(event, at);
        Some(view)
    }

    /// Folds one event of this case's stream.
    pub fn apply(&mut self, event: &CaseEvent, at: At<'_>) {
        self.version = at.sequence;
        self.last_position = at.position;
        self.last_hash = *at.hash;
        match event {
            CaseEvent::ComplaintLogged {
                reporting_unit,
                unit_case_number,
                received_on,
                source,
                ..
            } => self.on_complaint_logged(reporting_unit, unit_case_number, *received_on, source),
            CaseEvent::NotificationFiled {
                form, recorded_at, ..
            } => self.on_notification_filed(form, *recorded_at, at),
            CaseEvent::DuplicateNotificationLinked {
                form,
                from_case_id,
                recorded_at,
            } => self.on_duplicate_notification_linked(form, from_case_id, *recorded_at),
            CaseEvent::CaseMerged {
                primary_case_id,
                recorded_at,
            } => self.on_case_merged(primary_case_id, *recorded_at, at),
            CaseEvent::InformationShared {
                share_number,
                direction,
                category,
                recorded_at,
                ..
            } => self.on_information_shared(*share_number, direction, *category, *recorded_at),
            CaseEvent::InvestigatorAssigned {
                investigator,
                role,
                recorded_at,
            } => self.on_investigator_assigned(investigator, *role, *recorded_at),
            CaseEvent::StatusChanged {
                from,
                to,
                disposition,
                recorded_at,
                ..
            } => self.on_status_changed(*from, *to, *disposition, *recorded_at, at),
            CaseEvent::ArrestRecorded {
                arrest_number,
                arrested_on,
                arresting_unit,
                charges,
                ..
            } => self.on_arrest_recorded(*arrest_number, *arrested_on, arresting_unit, charges, at),
            CaseEvent::ReferralRecorded {
                referral_number,
                target,
                agency_name,
                referred_on,
                ..
            } => self.on_referral_recorded(*referral_number, *target, agency_name, *referred_on),
            CaseEvent::ReferralDecided {
                referral_number,
                decision,
                decided_on,
                ..
            } => self.on_referral_decided(*referral_number, *decision, *decided_on),
            CaseEvent::LinkedToOperation { operation_id, .. } => {
                self.operations.push(operation_id.clone());
            }
            CaseEvent::UrgentFlagSet { reason, .. } => self.on_urgent_flag_set(*reason),
            CaseEvent::CorrectionRecorded {
                corrects,
                changes,
                reason,
                recorded_at,
            } => self.on_correction_recorded(*corrects, changes, reason, *recorded_at, at),
            CaseEvent::PersonalDataErased {
                erased,
                reason,
                recorded_at,
            } => self.on_personal_data_erased(erased.len(), reason, *recorded_at, at),
            CaseEvent::VictimAdded {
                victim_number,
                age_band,
                identified_on,
                ..
            } => self.on_victim_added(*victim_number, *age_band, *identified_on),
            CaseEvent::VictimIdentified {
                victim_number,
                identified_on,
                ..
            } => self.on_victim_identified(*victim_number, *identified_on),
            CaseEvent::SharingCadenceSet { cadence_days, .. } => {
                self.sharing_cadence_days = Some(*cadence_days);
            }
            CaseEvent::ProsecutionOutcomeRecorded {
                arrest_number,
                outcome,
                decided_on,
                ..
            } => self.on_prosecution_outcome_recorded(*arrest_number, *outcome, *decided_on, at),
        }
    }

    fn on_complaint_logged(
        &mut self,
        reporting_unit: &Ori,
        unit_case_number: &Option<UnitCaseNumber>,
        received_on: Date,
        source: &Source,
    ) {
        self.reporting_unit = reporting_unit.clone();
        self.unit_case_number = unit_case_number.clone();
        self.received_on = received_on;
        self.source = source.kind();
        self.cybertip_number = source.cybertip().cloned();
        self.opened_by_complaint = true;
    }

    fn on_notification_filed(
        &mut self,
        form: &NotificationForm,
        recorded_at: Timestamp,
        at: At<'_>,
    ) {
        self.reporting_unit = form.reporting_unit.clone();
        self.unit_case_number = Some(form.unit_case_number.clone());
        self.received_on = form.received.date;
        self.source = form.source.kind();
        self.cybertip_number = form.source.cybertip().cloned();
        self.urgent |= form.urgent;
        self.notification = Some(NotificationSummary::of(form));
        self.notified_at = Some(recorded_at);
        self.victims = filed_victims(form, ct_date(recorded_at));
        self.status = Some(CaseStatus::Received);
        self.status_log.push(StatusStep {
            from: None,
            to: CaseStatus::Received,
            disposition: None,
            recorded_at,
            position: at.position,
        });
    }

    fn on_duplicate_notification_linked(
        &mut self,
        form: &NotificationForm,
        from_case_id: &Option<CaseId>,
        recorded_at: Timestamp,
    ) {
        self.urgent |= form.urgent;
        self.linked_notifications.push(LinkedNotificationView {
            reporting_unit: form.reporting_unit.clone(),
            unit_case_number: form.unit_case_number.clone(),
            from_case_id: from_case_id.clone(),
            recorded_at,
        });
    }

    fn on_case_merged(&mut self, primary_case_id: &CaseId, recorded_at: Timestamp, at: At<'_>) {
        self.merged_into = Some(primary_case_id.clone());
        self.merged_at = Some(recorded_at);
        self.status_log.push(StatusStep {
            from: self.status,
            to: CaseStatus::Closed,
            disposition: Some(Disposition::Duplicate),
            recorded_at,
            position: at.position,
        });
        self.status = Some(CaseStatus::Closed);
        self.disposition = Some(Disposition::Duplicate);
    }

    fn on_information_shared(
        &mut self,
        share_number: u32,
        direction: &ShareDirection,
        category: ShareCategory,
        recorded_at: Timestamp,
    ) {
        let (way, recipients, to_units) = match direction {
            ShareDirection::UnitToTaskForce { .. } => (ShareWay::UnitToTaskForce, 1, Vec::new()),
            ShareDirection::TaskForceToUnits { to_units } => (
                ShareWay::TaskForceToUnits,
                u32::try_from(to_units.len()).unwrap_or(u32::MAX),
                to_units.iter().map(ToString::to_string).collect(),
            ),
        };
        self.shares.push(ShareView {
            share_number,
            way,
            category,
            recipients,
            to_units,
            recorded_at,
        });
    }

    fn on_investigator_assigned(
        &mut self,
        investigator: &Investigator,
        role: InvestigatorRole,
        recorded_at: Timestamp,
    ) {
        self.assignments.push(AssignmentView {
            investigator: investigator.clone(),
            role,
            assigned_at: recorded_at,
        });
    }

    fn on_status_changed(
        &mut self,
        from: CaseStatus,
        to: CaseStatus,
        disposition: Option<Disposition>,
        recorded_at: Timestamp,
        at: At<'_>,
    ) {
        self.status_log.push(StatusStep {
            from: Some(from),
            to,
            disposition,
            recorded_at,
            position: at.position,
        });
        self.status = Some(to);
        self.disposition = disposition;
    }

    fn on_arrest_recorded(
        &mut self,
        arrest_number: u32,
        arrested_on: Date,
        arresting_unit: &Ori,
        charges: &[Charge],
        at: At<'_>,
    ) {
        self.arrests.push(ArrestView {
            arrest_number,
            arrested_on,
            arresting_unit: arresting_unit.clone(),
            charges: charges.to_vec(),
            position: at.position,
            outcomes: Vec::new(),
        });
    }

    fn on_referral_recorded(
        &mut self,
        referral_number: u32,
        target: ReferralTarget,
        agency_name: &str,
        referred_on: Date,
    ) {
        self.referrals.push(ReferralView {
            referral_number,
            target,
            agency_name: agency_name.to_owned(),
            referred_on,
            decision: None,
            decided_on: None,
        });
    }

    fn on_referral_decided(
        &mut self,
        referral_number: u32,
        decision: ReferralDecision,
        decided_on: Date,
    ) {
        if let Some(r) = self
            .referrals
            .iter_mut()
            .find(|r| r.referral_number == referral_number)
        {
            r.decision = Some(decision);
            r.decided_on = Some(decided_on);
        }
    }

    fn on_urgent_flag_set(&mut self, reason: UrgencyReason) {
        self.urgent = true;
        self.urgency_reason = Some(reason);
    }

    fn on_correction_recorded(
        &mut self,
        corrects: LedgerPosition,
        changes: &[CorrectedValue],
        reason: &str,
        recorded_at: Timestamp,
        at: At<'_>,
    ) {
        for change in changes {
            self.apply_change(change);
        }
        self.corrections.push(CorrectionApplied {
            position: at.position,
            corrects: corrects.get(),
            fields: changes.iter().map(|c| c.field().to_owned()).collect(),
            reason: reason.to_owned(),
            recorded_at,
        });
    }

    fn on_personal_data_erased(
        &mut self,
        values: usize,
        reason: &str,
        recorded_at: Timestamp,
        at: At<'_>,
    ) {
        self.erasures.push(ErasureView {
            position: at.position,
            values: u32::try_from(values).unwrap_or(u32::MAX),
            reason: reason.to_owned(),
            recorded_at,
        });
    }

    fn on_victim_added(
        &mut self,
        victim_number: u32,
        age_band: AgeBand,
        identified_on: Option<Date>,
    ) {
        self.victims.push(VictimView {
            victim_number,
            age_band,
            identified: identified_on.is_some(),
            identified_on,
            counted_on: identified_on,
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
            v.counted_on = Some(identified_on);
        }
    }

    fn on_prosecution_outcome_recorded(
        &mut self,
        arrest_number: u32,
        outcome: ProsecutionOutcome,
        decided_on: Date,
        at: At<'_>,
    ) {
        if let Some(a) = self.arrest_mut(arrest_number) {
            a.outcomes.push(OutcomeView {
                outcome,
                decided_on,
                erasure_due_on: (outcome == ProsecutionOutcome::Nolle)
                    .then(|| prosecution::erasure_due_on(decided_on))
                    .flatten(),
                position: at.position,
            });
        }
    }

    /// The children identified, each once, with the date statistics count them on
    /// (see [`VictimView::counted_on`]): what the report counts per period.
    pub fn identified_victims(&self) -> impl Iterator<Item = (Date, AgeBand)> + '_ {
        self.victims
            .iter()
            .filter_map(|v| v.counted_on.map(|d| (d, v.age_band)))
    }

    // Same meaning as the aggregate's own correction rule: the newest value wins.
    fn apply_change(&mut self, change: &CorrectedValue) {
        let form = self.notification.as_mut();
        match change {
            CorrectedValue::ReceivedOn { date, .. } => self.received_on = *date,
            CorrectedValue::UnitCaseNumber { value } => self.unit_case_number = Some(value.clone()),
            CorrectedValue::IncidentType { incident_type } => {
                if let Some(f) = form {
                    f.incident_type = *incident_type;
                }
            }
            CorrectedValue::Medium { medium } => {
                if let Some(f) = form {
                    f.medium = *medium;
                }
            }
            CorrectedValue::VictimAgeBand { age_band } => {
                if let Some(f) = form {
                    f.victim_age_band = *age_band;
                }
                if let Some(v) = self.victims.first_mut() {
                    v.age_band = *age_band;
                }
            }
            CorrectedValue::VictimIdentified { identified } => {
                if let Some(f) = form {
                    f.victim_identified = *identified;
                }
                let filed_on = self.notified_at.map(ct_date);
                if let Some(v) = self.victims.first_mut() {
                    v.identified = *identified;
                    v.counted_on = if *identified {
                        v.identified_on.or(filed_on)
                    } else {
                        None
                    };
                }
            }
            CorrectedValue::SuspectedStatutes { statutes } => {
                if let Some(f) = form {
                    f.suspected_statutes = statutes.clone();
                }
            }
            CorrectedValue::ArrestDate {
                arrest_number,
                arrested_on,
            } => {
                if let Some(a) = self.arrest_mut(*arrest_number) {
                    a.arrested_on = *arrested_on;
                }
            }
            CorrectedValue::ArrestCharges {
                arrest_number,
                charges,
            } => {
                if let Some(a) = self.arrest_mut(*arrest_number) {
                    a.charges = charges.clone();
                }
            }
        }
    }

    fn arrest_mut(&mut self, number: u32) -> Option<&mut ArrestView> {
        self.arrests.iter_mut().find(|a| a.arrest_number == number)
    }

    /// Inputs of the 14-day assessment; the same rule as the aggregate's
    /// `Case::notification_clock` (a merged duplicate stops its clock on the
    /// merge date).
    pub fn notification_clock(&self) -> NotificationClock {
        NotificationClock {
            received_on: self.received_on,
            filed_on: self.notified_at.or(self.merged_at).map(ct_date),
            opened_by_complaint: self.opened_by_complaint,
        }
    }

    /// Inputs of the continued-sharing clock, once a notification is on file (a merged
    /// duplicate owes nothing: its case is the primary's).
    pub fn sharing_clock(&self) -> Option<SharingClock> {
        if self.merged_into.is_some() {
            return None;
        }
        let closed_on = match self.status {
            Some(CaseStatus::Closed) => self
                .status_log
                .iter()
                .rev()
                .find(|s| s.to == CaseStatus::Closed)
                .map(|s| ct_date(s.recorded_at)),
            _ => None,
        };
        Some(SharingClock {
            notified_on: ct_date(self.notified_at?),
            cadence_days: self.sharing_cadence_days,
            unit_updates: self
                .shares
                .iter()
                .filter(|s| s.way == ShareWay::UnitToTaskForce)
                .map(|s| ct_date(s.recorded_at))
                .collect(),
            arrests: self.arrests.iter().map(|a| a.arrested_on).collect(),
            closed_on,
        })
    }

    /// Positions of the events of this case that later corrections name.
    pub fn corrected_positions(&self) -> impl Iterator<Item = u64> + '_ {
        self.corrections.iter().map(|c| c.corrects)
    }
}
