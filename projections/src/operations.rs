//! Undercover (sting) operations of the investigative unit (29-7e(a)(1)).

use icac_aggregates::catalog::Medium;
use icac_aggregates::ids::{CaseId, OperationId, Ori};
use icac_aggregates::operation::{OperationEvent, OperationStage};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationView {
    pub operation_id: OperationId,
    /// Code name only.
    pub name: String,
    pub lead_unit: Ori,
    pub stage: OperationStage,
    pub planned_start: Date,
    pub planned_end: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_on: Option<Date>,
    pub media: Vec<Medium>,
    pub platform_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concluded_on: Option<Date>,
    pub cases_opened: Vec<CaseId>,
    pub arrests: u32,
    pub planned_at: Timestamp,
    pub version: u64,
    pub last_position: u64,
}

impl OperationView {
    pub fn open(event: &OperationEvent, sequence: u64, position: u64) -> Option<Self> {
        let OperationEvent::OperationPlanned {
            operation_id,
            name,
            lead_unit,
            planned_start,
            planned_end,
            recorded_at,
        } = event
        else {
            return None;
        };
        Some(Self {
            operation_id: operation_id.clone(),
            name: name.clone(),
            lead_unit: lead_unit.clone(),
            stage: OperationStage::Planned,
            planned_start: *planned_start,
            planned_end: *planned_end,
            started_on: None,
            ended_on: None,
            media: Vec::new(),
            platform_count: 0,
            concluded_on: None,
            cases_opened: Vec::new(),
            arrests: 0,
            planned_at: *recorded_at,
            version: sequence,
            last_position: position,
        })
    }

    pub fn apply(&mut self, event: &OperationEvent, sequence: u64, position: u64) {
        self.version = sequence;
        self.last_position = position;
        match event {
            OperationEvent::OperationPlanned { .. } => {}
            OperationEvent::OperationConducted {
                started_on,
                ended_on,
                media,
                platforms,
                ..
            } => {
                self.stage = OperationStage::Conducted;
                self.started_on = Some(*started_on);
                self.ended_on = Some(*ended_on);
                self.media = media.clone();
                self.platform_count = u32::try_from(platforms.len()).unwrap_or(u32::MAX);
            }
            OperationEvent::OperationConcluded {
                concluded_on,
                cases_opened,
                arrests,
                ..
            } => {
                self.stage = OperationStage::Concluded;
                self.concluded_on = Some(*concluded_on);
                self.cases_opened = cases_opened.clone();
                self.arrests = *arrests;
            }
        }
    }
}
