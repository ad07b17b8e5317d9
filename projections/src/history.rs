//! Every event of one case in ledger order, with who recorded it and when,
//! corrections shown beside what they correct, and the case replayed as it
//! stood at any earlier moment.

use icac_aggregates::case::CaseEvent;
use icac_aggregates::ids::CaseId;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::case_view::{At, CaseView};
use crate::event::{DomainEvent, LedgerEvent};
use icac_format::chain::Hash32;

/// Where to stop replaying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cut", rename_all = "snake_case")]
pub enum Cut {
    /// Everything recorded so far.
    Head,
    /// Events the ledger recorded at or before this instant.
    AsOf { at: Timestamp },
    /// Events at or before this ledger position.
    AtPosition { position: u64 },
}

impl Cut {
    pub fn includes(&self, event: &LedgerEvent) -> bool {
        match self {
            Cut::Head => true,
            Cut::AsOf { at } => event.recorded_at <= *at,
            Cut::AtPosition { position } => event.position <= *position,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub position: u64,
    pub sequence: u64,
    pub hash: Hash32,
    pub event_type: String,
    pub recorded_at: Timestamp,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The event as recorded, with the victim's town removed.
    pub event: CaseEvent,
    /// For a correction: the position it corrects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<u64>,
    /// Later corrections (within the cut) of this event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrected_by: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseHistory {
    pub case_id: CaseId,
    pub cut: Cut,
    pub entries: Vec<HistoryEntry>,
    /// The case as it stood at the cut; `None` if it did not exist yet.
    pub view: Option<CaseView>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HistoryError {
    #[error("event at position {position} belongs to {found}, not to case {expected}")]
    OtherStream {
        position: u64,
        found: String,
        expected: String,
    },
    #[error("events are not in ledger order at position {0}")]
    OutOfOrder(u64),
}

fn event_name(event: &CaseEvent) -> &'static str {
    let index = match event {
        CaseEvent::ComplaintLogged { .. } => 0,
        CaseEvent::NotificationFiled { .. } => 1,
        CaseEvent::DuplicateNotificationLinked { .. } => 2,
        CaseEvent::CaseMerged { .. } => 3,
        CaseEvent::InformationShared { .. } => 4,
        CaseEvent::InvestigatorAssigned { .. } => 5,
        CaseEvent::StatusChanged { .. } => 6,
        CaseEvent::ArrestRecorded { .. } => 7,
        CaseEvent::ReferralRecorded { .. } => 8,
        CaseEvent::ReferralDecided { .. } => 9,
        CaseEvent::LinkedToOperation { .. } => 10,
        CaseEvent::UrgentFlagSet { .. } => 11,
        CaseEvent::CorrectionRecorded { .. } => 12,
        CaseEvent::PersonalDataErased { .. } => 13,
        CaseEvent::VictimAdded { .. } => 14,
        CaseEvent::VictimIdentified { .. } => 15,
        CaseEvent::ProsecutionOutcomeRecorded { .. } => 16,
        CaseEvent::SharingCadenceSet { .. } => 17,
    };
    CaseEvent::TYPES[index]
}

/// The victim's town is restricted: history is shown to people, so drop it.
fn redacted(event: &CaseEvent) -> CaseEvent {
    let mut event = event.clone();
    match &mut event {
        CaseEvent::NotificationFiled { form, .. }
        | CaseEvent::DuplicateNotificationLinked { form, .. } => {
            for v in form.victim.iter_mut().chain(form.victims.iter_mut()) {
                v.town = None;
            }
        }
        _ => {}
    }
    event
}

/// Replays the events of one case (any order-preserving selection of ledger
/// events; other streams are an error) up to `cut`.
pub fn replay(
    case_id: &CaseId,
    events: &[LedgerEvent],
    cut: Cut,
) -> Result<CaseHistory, HistoryError> {
    let mut entries: Vec<HistoryEntry> = Vec::new();
    let mut view: Option<CaseView> = None;
    let mut last = 0;
    for e in events {
        let DomainEvent::Case(event) = &e.event else {
            return Err(HistoryError::OtherStream {
                position: e.position,
                found: format!("{}/{}", e.aggregate_type(), e.aggregate_id),
                expected: case_id.to_string(),
            });
        };
        if e.aggregate_id != case_id.as_str() {
            return Err(HistoryError::OtherStream {
                position: e.position,
                found: format!("case/{}", e.aggregate_id),
                expected: case_id.to_string(),
            });
        }
        if e.position <= last {
            return Err(HistoryError::OutOfOrder(e.position));
        }
        last = e.position;
        if !cut.includes(e) {
            continue;
        }
        let at = At {
            position: e.position,
            sequence: e.sequence,
            hash: &e.hash,
        };
        match view.as_mut() {
            Some(v) => v.apply(event, at),
            None => view = CaseView::open(event, at),
        }
        let corrects = match event {
            CaseEvent::CorrectionRecorded { corrects, .. } => Some(corrects.get()),
            _ => None,
        };
        if let Some(target) = corrects {
            if let Some(original) = entries.iter_mut().find(|x| x.position == target) {
                original.corrected_by.push(e.position);
            }
        }
        entries.push(HistoryEntry {
            position: e.position,
            sequence: e.sequence,
            hash: e.hash,
            event_type: event_name(event).to_owned(),
            recorded_at: e.recorded_at,
            principal: e.principal.clone(),
            unit: e.unit.clone(),
            event: redacted(event),
            corrects,
            corrected_by: Vec::new(),
        });
    }
    Ok(CaseHistory {
        case_id: case_id.clone(),
        cut,
        entries,
        view,
    })
}
