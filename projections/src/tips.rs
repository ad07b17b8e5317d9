//! CyberTips at the Task Force, one view per tip: NCMEC's priority, where it was
//! disseminated and whether the receiving unit acknowledged it. "Unacknowledged
//! dissemination" is the status the dashboards count: a unit has the tip and has not
//! yet taken it on. No personal value (the location's city) is kept here.

use icac_aggregates::ids::{CaseId, CyberTipNumber, Ori};
use icac_aggregates::tip_intake::{FileAnnotation, NcmecIncidentType, NcmecPriority, TipEvent};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TipStatus {
    Received,
    Triaged,
    UnacknowledgedDissemination,
    Acknowledged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TipView {
    pub cybertip_number: CyberTipNumber,
    pub priority: NcmecPriority,
    pub incident_type: NcmecIncidentType,
    pub reporting_provider: String,
    pub made_available_on: Date,
    pub files: u32,
    pub generative_ai_files: u32,
    pub files_viewed_by_provider: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_country: Option<String>,
    pub status: TipStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disseminated_to: Option<Ori>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disseminated_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_on: Option<Date>,
    /// The unit's case the tip became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<CaseId>,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl TipView {
    pub fn open(event: &TipEvent) -> Option<Self> {
        let TipEvent::TipReceived { report, .. } = event else {
            return None;
        };
        Some(Self {
            cybertip_number: report.cybertip_number.clone(),
            priority: report.priority,
            incident_type: report.incident_type,
            reporting_provider: report.reporting_provider.clone(),
            made_available_on: report.made_available_on,
            files: count(report.files.len()),
            generative_ai_files: count(
                report
                    .files
                    .iter()
                    .filter(|f| f.annotations.contains(&FileAnnotation::GenerativeAi))
                    .count(),
            ),
            files_viewed_by_provider: count(
                report.files.iter().filter(|f| f.viewed_by_provider).count(),
            ),
            location_country: report.location.as_ref().map(|l| l.country.clone()),
            status: TipStatus::Received,
            disseminated_to: None,
            disseminated_on: None,
            acknowledged_on: None,
            case_id: None,
        })
    }

    pub fn apply(&mut self, event: &TipEvent) {
        match event {
            TipEvent::TipReceived { .. } => {}
            TipEvent::TipTriaged { priority, .. } => {
                self.priority = *priority;
                if self.status == TipStatus::Received {
                    self.status = TipStatus::Triaged;
                }
            }
            TipEvent::TipDisseminated {
                to_unit,
                disseminated_on,
                ..
            } => {
                self.disseminated_to = Some(to_unit.clone());
                self.disseminated_on = Some(*disseminated_on);
                self.acknowledged_on = None;
                self.status = TipStatus::UnacknowledgedDissemination;
            }
            TipEvent::TipAcknowledged {
                acknowledged_on,
                case_id,
                ..
            } => {
                self.acknowledged_on = Some(*acknowledged_on);
                self.case_id = Some(case_id.clone());
                self.status = TipStatus::Acknowledged;
            }
        }
    }
}

/// Folds tip events, each with its stream id (the tip number), in ledger order.
pub fn fold<'a>(events: impl IntoIterator<Item = (&'a str, &'a TipEvent)>) -> Vec<TipView> {
    let mut views: std::collections::BTreeMap<String, TipView> = Default::default();
    for (stream, e) in events {
        match views.get_mut(stream) {
            Some(v) => v.apply(e),
            None => {
                if let Some(v) = TipView::open(e) {
                    views.insert(stream.to_owned(), v);
                }
            }
        }
    }
    views.into_values().collect()
}
