//! The case timeline in plain English: each event's business date first ("Notification
//! filed — received July 4, 2024, filed 13 days later"), the ledger position and commit
//! instant as secondary detail, and a correction shown beside the event it corrects.

use icac_aggregates::case::{
    CaseEvent, CaseStatus, Charge, CorrectedValue, Disposition, ErasedValue, Investigator,
    InvestigatorRole, ProsecutionOutcome, ReferralDecision, ReferralTarget, ShareCategory,
    ShareDirection,
};
use icac_aggregates::form::v1::{AgeBand, Source};
use icac_aggregates::form::NotificationForm;
use icac_aggregates::ids::{CaseId, LedgerPosition, OperationId, Ori};
use icac_aggregates::local_time::ct_date;
use icac_projections::history::HistoryEntry;
use jiff::civil::Date;
use jiff::Timestamp;

use super::labels::{date, statute, words};

/// One line of the timeline as the template shows it.
pub struct TimelineEntry {
    pub position: u64,
    pub title: String,
    /// The business facts, dates first.
    pub detail: String,
    /// When the ledger recorded it (UTC instant) and by whom.
    pub recorded: String,
    /// Corrections of this event: (position, what it changed), shown beside it.
    pub corrected_by: Vec<(u64, String)>,
    /// For a correction: the position it corrects.
    pub corrects: Option<u64>,
}

fn unit_list(units: &[Ori], name: &dyn Fn(&Ori) -> String) -> String {
    units.iter().map(name).collect::<Vec<_>>().join(", ")
}

/// Title and detail of one event. `name` gives a unit's name for its code.
pub fn describe(event: &CaseEvent, name: &dyn Fn(&Ori) -> String) -> (String, String) {
    use CaseEvent as E;
    match event {
        E::ComplaintLogged {
            reporting_unit,
            received_on,
            source,
            ..
        } => complaint_logged(*received_on, &name(reporting_unit), source),
        E::NotificationFiled {
            form, recorded_at, ..
        } => notification_filed(form, *recorded_at, name),
        E::DuplicateNotificationLinked {
            form, from_case_id, ..
        } => duplicate_linked(form, from_case_id.as_ref(), name),
        E::CaseMerged {
            primary_case_id, ..
        } => case_merged(primary_case_id),
        E::InformationShared {
            share_number,
            direction,
            category,
            ..
        } => information_shared(*share_number, direction, category, name),
        E::InvestigatorAssigned {
            investigator, role, ..
        } => investigator_assigned(investigator, role, name),
        E::StatusChanged {
            from,
            to,
            disposition,
            ..
        } => status_changed(from, to, disposition.as_ref()),
        E::ArrestRecorded {
            arrest_number,
            arrested_on,
            arresting_unit,
            charges,
            ..
        } => arrest_recorded(*arrest_number, *arrested_on, &name(arresting_unit), charges),
        E::ReferralRecorded {
            referral_number,
            target,
            agency_name,
            referred_on,
            ..
        } => referral_recorded(*referral_number, target, agency_name, *referred_on),
        E::ReferralDecided {
            referral_number,
            decision,
            decided_on,
            ..
        } => referral_decided(*referral_number, decision, *decided_on),
        E::LinkedToOperation { operation_id, .. } => linked_to_operation(operation_id),
        E::UrgentFlagSet { reason, .. } => ("Marked urgent".into(), format!("{}.", words(reason))),
        E::CorrectionRecorded {
            corrects,
            changes,
            reason,
            ..
        } => correction_recorded(corrects, changes, reason),
        E::PersonalDataErased { erased, reason, .. } => personal_data_erased(erased, reason),
        E::VictimAdded {
            victim_number,
            age_band,
            identified_on,
            ..
        } => victim_added(*victim_number, age_band, *identified_on),
        E::VictimIdentified {
            victim_number,
            identified_on,
            ..
        } => victim_identified(*victim_number, *identified_on),
        E::ProsecutionOutcomeRecorded {
            arrest_number,
            outcome,
            decided_on,
            ..
        } => prosecution_outcome(*arrest_number, outcome, *decided_on),
        E::SharingCadenceSet { cadence_days, .. } => sharing_cadence_set(*cadence_days),
    }
}

// The case is opened and filed.

fn complaint_logged(received_on: Date, unit: &str, source: &Source) -> (String, String) {
    (
        "Complaint logged".into(),
        format!(
            "Received {} by {unit}; source: {}. The 14-day clock started that day.",
            date(received_on),
            words(source)
        ),
    )
}

fn notification_filed(
    form: &NotificationForm,
    recorded_at: Timestamp,
    name: &dyn Fn(&Ori) -> String,
) -> (String, String) {
    let filed = ct_date(recorded_at);
    let days = (filed - form.received.date).get_days();
    (
        "Notification filed".into(),
        format!(
            "Received {}, filed {} ({} day{} after receipt) by {}; {}, {}.",
            date(form.received.date),
            date(filed),
            days,
            if days == 1 { "" } else { "s" },
            name(&form.reporting_unit),
            words(&form.incident.incident_type),
            words(&form.source)
        ),
    )
}

fn duplicate_linked(
    form: &NotificationForm,
    from_case_id: Option<&CaseId>,
    name: &dyn Fn(&Ori) -> String,
) -> (String, String) {
    (
        "Another unit's notification linked".into(),
        format!(
            "{} filed on the same CyberTip (received {}){}.",
            name(&form.reporting_unit),
            date(form.received.date),
            from_case_id
                .map(|c| format!(", from case {c}"))
                .unwrap_or_default()
        ),
    )
}

fn case_merged(primary_case_id: &CaseId) -> (String, String) {
    (
        "Merged into another case".into(),
        format!("This case continues as case {primary_case_id}."),
    )
}

// The work on the case.

fn information_shared(
    share_number: u32,
    direction: &ShareDirection,
    category: &ShareCategory,
    name: &dyn Fn(&Ori) -> String,
) -> (String, String) {
    let detail = match direction {
        ShareDirection::UnitToTaskForce { from_unit } => {
            format!(
                "Share {share_number}: from {} to the Task Force.",
                name(from_unit)
            )
        }
        ShareDirection::TaskForceToUnits { to_units } => format!(
            "Share {share_number}: from the Task Force to {}.",
            unit_list(to_units, name)
        ),
    };
    (
        format!("Information shared ({})", words(category).to_lowercase()),
        detail,
    )
}

fn investigator_assigned(
    investigator: &Investigator,
    role: &InvestigatorRole,
    name: &dyn Fn(&Ori) -> String,
) -> (String, String) {
    (
        "Investigator assigned".into(),
        format!(
            "{} ({}), {} investigator.",
            investigator.name,
            name(&investigator.agency),
            words(role).to_lowercase()
        ),
    )
}

fn status_changed(
    from: &CaseStatus,
    to: &CaseStatus,
    disposition: Option<&Disposition>,
) -> (String, String) {
    (
        format!("Status changed to {}", words(to).to_lowercase()),
        format!(
            "Was {}{}.",
            words(from).to_lowercase(),
            disposition
                .map(|d| format!("; outcome: {}", words(d).to_lowercase()))
                .unwrap_or_default()
        ),
    )
}

fn linked_to_operation(operation_id: &OperationId) -> (String, String) {
    (
        "Linked to an undercover operation".into(),
        format!("Operation {operation_id}."),
    )
}

fn sharing_cadence_set(cadence_days: u32) -> (String, String) {
    (
        "Update schedule set".into(),
        format!("The unit owes the Task Force an update every {cadence_days} days."),
    )
}

// What came of it: arrests, referrals and prosecutions.

fn arrest_recorded(
    arrest_number: u32,
    arrested_on: Date,
    unit: &str,
    charges: &[Charge],
) -> (String, String) {
    (
        "Arrest recorded".into(),
        format!(
            "Arrest {arrest_number} on {} by {unit}; charges: {}.",
            date(arrested_on),
            charges
                .iter()
                .map(|c| format!("{} × {}", statute(&c.statute), c.counts))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
}

fn referral_recorded(
    referral_number: u32,
    target: &ReferralTarget,
    agency_name: &str,
    referred_on: Date,
) -> (String, String) {
    (
        "Referral recorded".into(),
        format!(
            "Referral {referral_number} on {} to {agency_name} ({}).",
            date(referred_on),
            words(target).to_lowercase()
        ),
    )
}

fn referral_decided(
    referral_number: u32,
    decision: &ReferralDecision,
    decided_on: Date,
) -> (String, String) {
    (
        format!("Referral {}", words(decision).to_lowercase()),
        format!(
            "Referral {referral_number} decided on {}.",
            date(decided_on)
        ),
    )
}

fn prosecution_outcome(
    arrest_number: u32,
    outcome: &ProsecutionOutcome,
    decided_on: Date,
) -> (String, String) {
    (
        format!("Prosecution: {}", words(outcome).to_lowercase()),
        format!("On arrest {arrest_number}, decided {}.", date(decided_on)),
    )
}

// The record itself, and the children.

fn correction_recorded(
    corrects: &LedgerPosition,
    changes: &[CorrectedValue],
    reason: &str,
) -> (String, String) {
    (
        format!("Correction of the event at ledger position {corrects}"),
        format!(
            "{}. Reason: {reason}",
            changes
                .iter()
                .map(correction_text)
                .collect::<Vec<_>>()
                .join("; ")
        ),
    )
}

fn personal_data_erased(erased: &[ErasedValue], reason: &str) -> (String, String) {
    (
        "Personal data erased".into(),
        format!("{} value(s) destroyed. Reason: {reason}", erased.len()),
    )
}

fn victim_added(
    victim_number: u32,
    age_band: &AgeBand,
    identified_on: Option<Date>,
) -> (String, String) {
    (
        "Child added to the case".into(),
        format!(
            "Child {victim_number}, {}{}.",
            words(age_band).to_lowercase(),
            identified_on
                .map(|d| format!(", identified {}", date(d)))
                .unwrap_or_default()
        ),
    )
}

fn victim_identified(victim_number: u32, identified_on: Date) -> (String, String) {
    (
        "Child identified".into(),
        format!(
            "Child {victim_number} identified on {}.",
            date(identified_on)
        ),
    )
}

/// One corrected value in words: "Incident type → Online enticement".
pub fn correction_text(c: &CorrectedValue) -> String {
    let value = serde_json::to_value(c).unwrap_or_default();
    let field = value
        .get("field")
        .and_then(|f| f.as_str())
        .map(super::labels::spell)
        .unwrap_or_default();
    let shown: Vec<String> = value
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "field")
        .map(|(_, v)| match v {
            serde_json::Value::String(s) => super::labels::spell(s),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        })
        .collect();
    format!("{field} → {}", shown.join(" "))
}

pub fn entry(e: &HistoryEntry, name: &dyn Fn(&Ori) -> String) -> TimelineEntry {
    let (title, detail) = describe(&e.event, name);
    TimelineEntry {
        position: e.position,
        title,
        detail,
        recorded: format!(
            "recorded {} UTC",
            e.recorded_at.strftime("%Y-%m-%d %H:%M:%S")
        ),
        corrected_by: Vec::new(),
        corrects: e.corrects,
    }
}

/// The whole timeline, each corrected event with its corrections beside it.
pub fn timeline(entries: &[HistoryEntry], name: &dyn Fn(&Ori) -> String) -> Vec<TimelineEntry> {
    let mut lines: Vec<TimelineEntry> = entries.iter().map(|e| entry(e, name)).collect();
    for (i, e) in entries.iter().enumerate() {
        for later in &e.corrected_by {
            if let Some(c) = lines.iter().find(|l| l.position == *later) {
                let text = c.detail.clone();
                lines[i].corrected_by.push((*later, text));
            }
        }
    }
    lines
}
