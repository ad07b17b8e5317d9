//! The public-report intake queue (29-7e(b)(3)): reports from the hotline
//! and web site, from receipt through triage to routing or closing.

use icac_aggregates::catalog::IncidentType;
use icac_aggregates::ids::{Ori, ReceiptNumber};
use icac_aggregates::public_report::{
    Channel, CloseReason, PublicReportEvent, ReportContent, ReportStage, TriagePriority,
};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicReportView {
    pub receipt_number: ReceiptNumber,
    pub channel: Channel,
    pub stage: ReportStage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<IncidentType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<TriagePriority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_to: Option<Ori>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routed_on: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_reason: Option<CloseReason>,
    /// What the person reported: commitments only (the values are in the sealed
    /// store, revealed to intake staff by the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ReportContent>,
    pub received_at: Timestamp,
    pub version: u64,
    pub last_position: u64,
}

impl PublicReportView {
    pub fn open(event: &PublicReportEvent, sequence: u64, position: u64) -> Option<Self> {
        let PublicReportEvent::PublicReportReceived {
            receipt_number,
            channel,
            category,
            content,
            recorded_at,
        } = event
        else {
            return None;
        };
        Some(Self {
            receipt_number: receipt_number.clone(),
            channel: *channel,
            stage: ReportStage::Received,
            category: *category,
            priority: None,
            routed_to: None,
            routed_on: None,
            close_reason: None,
            content: content.clone(),
            received_at: *recorded_at,
            version: sequence,
            last_position: position,
        })
    }

    pub fn apply(&mut self, event: &PublicReportEvent, sequence: u64, position: u64) {
        self.version = sequence;
        self.last_position = position;
        match event {
            PublicReportEvent::PublicReportReceived { .. } => {}
            PublicReportEvent::PublicReportTriaged {
                priority, category, ..
            } => {
                self.stage = ReportStage::Triaged;
                self.priority = Some(*priority);
                if category.is_some() {
                    self.category = *category;
                }
            }
            PublicReportEvent::PublicReportRouted {
                unit, routed_on, ..
            } => {
                self.stage = ReportStage::Routed;
                self.routed_to = Some(unit.clone());
                self.routed_on = Some(*routed_on);
            }
            PublicReportEvent::PublicReportClosed { reason, .. } => {
                self.stage = ReportStage::Closed;
                self.close_reason = Some(*reason);
            }
        }
    }

    /// Still waiting for the Task Force to act (the intake queue proper).
    pub fn is_open(&self) -> bool {
        matches!(self.stage, ReportStage::Received | ReportStage::Triaged)
    }
}
