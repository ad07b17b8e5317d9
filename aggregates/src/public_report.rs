//! Reports from the public through the web site or hotline (29-7e(b)(3)):
//! received, triaged, then routed to a unit or closed. Routing starts that
//! unit's 14-day clock: the app then logs a complaint on the unit's case
//! with `received_on` = the routing date (see `PublicReport::routing_complaint`).
//!
//! What the person saw, the links or screen names they give and their contact
//! details ([`ReportContent`]) are personal: each is [`Sealed`], so the chain
//! holds only commitments and intake staff read the values from the sealed
//! store.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use jiff::civil::Date;
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::case::LogComplaint;
use crate::catalog::IncidentType;
use crate::form::v1::Source;
use crate::ids::{CaseId, IdError, Ori, ReceiptNumber};
use crate::local_time::ct_date;
use crate::sealed::Sealed;
use crate::services::UnitDirectory;
use crate::text::{self, TextError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    WebSite,
    Hotline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriagePriority {
    Urgent,
    Standard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    NotActionable,
    OutsideJurisdiction,
    DuplicateReport,
    ReferredToNcmec,
    InsufficientInformation,
}

/// Limits on what a member of the public may send (characters, items).
pub mod content_bounds {
    pub const DESCRIPTION: usize = 4_000;
    pub const LINKS: usize = 20;
    pub const LINK: usize = 500;
    pub const NAME: usize = 120;
    pub const PHONE: usize = 25;
    pub const EMAIL: usize = 254;
}

/// What a member of the public reports, all of it personal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportContent {
    /// What the person saw, in their words.
    pub description: Sealed<String>,
    /// Links, screen names or account names they give.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Sealed<String>>,
    /// How to reach them, if they want to be reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<ReporterContact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReporterContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Sealed<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Sealed<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Sealed<String>>,
}

impl ReportContent {
    /// Checks every value a member of the public typed; names the field that fails.
    pub fn check(&self) -> Result<(), PublicReportError> {
        use content_bounds as b;
        open_text("description", &self.description, b::DESCRIPTION)?;
        if self.links.len() > b::LINKS {
            return Err(PublicReportError::TooManyLinks { max: b::LINKS });
        }
        for link in &self.links {
            open_text("links", link, b::LINK)?;
        }
        if let Some(c) = &self.contact {
            for (field, value, max) in [
                ("contact.name", &c.name, b::NAME),
                ("contact.phone", &c.phone, b::PHONE),
                ("contact.email", &c.email, b::EMAIL),
            ] {
                if let Some(v) = value {
                    open_text(field, v, max)?;
                }
            }
        }
        Ok(())
    }
}

/// A value from outside must be a value (never a commitment someone typed in)
/// and bounded text.
fn open_text(
    field: &'static str,
    value: &Sealed<String>,
    max: usize,
) -> Result<(), PublicReportError> {
    let Some(v) = value.value() else {
        return Err(PublicReportError::NotAValue { field });
    };
    text::check(v, max).map_err(|error| PublicReportError::Text { field, error })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PublicReportCommand {
    Receive {
        receipt_number: ReceiptNumber,
        channel: Channel,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<IncidentType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ReportContent>,
        recorded_at: Timestamp,
    },
    Triage {
        priority: TriagePriority,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<IncidentType>,
        recorded_at: Timestamp,
    },
    RouteToUnit {
        unit: Ori,
        recorded_at: Timestamp,
    },
    Close {
        reason: CloseReason,
        recorded_at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublicReportEvent {
    PublicReportReceived {
        receipt_number: ReceiptNumber,
        channel: Channel,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<IncidentType>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ReportContent>,
        recorded_at: Timestamp,
    },
    PublicReportTriaged {
        priority: TriagePriority,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<IncidentType>,
        recorded_at: Timestamp,
    },
    PublicReportRouted {
        unit: Ori,
        /// CT date of routing: the unit's "received" date for 29-7e(c).
        routed_on: Date,
        recorded_at: Timestamp,
    },
    PublicReportClosed {
        reason: CloseReason,
        recorded_at: Timestamp,
    },
}

impl crate::sealed::SealedEffects for PublicReportEvent {}

impl DomainEvent for PublicReportEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PublicReportReceived { .. } => "PublicReportReceived",
            Self::PublicReportTriaged { .. } => "PublicReportTriaged",
            Self::PublicReportRouted { .. } => "PublicReportRouted",
            Self::PublicReportClosed { .. } => "PublicReportClosed",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum PublicReportError {
    #[error("report {0} is already received")]
    AlreadyReceived(ReceiptNumber),
    #[error("no report has been received on this stream")]
    NotReceived,
    #[error("the report is already triaged")]
    AlreadyTriaged,
    #[error("the report must be triaged before it is routed")]
    NotTriaged,
    #[error("the report was already routed to a unit")]
    AlreadyRouted,
    #[error("the report is closed")]
    Closed,
    #[error("unit {0} is unknown or inactive")]
    InactiveUnit(Ori),
    #[error("{field}: {error}")]
    Text {
        field: &'static str,
        error: TextError,
    },
    #[error("{field} must be the value itself, not a commitment")]
    NotAValue { field: &'static str },
    #[error("at most {max} links or screen names")]
    TooManyLinks { max: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStage {
    Received,
    Triaged,
    Routed,
    Closed,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicReport {
    pub receipt_number: Option<ReceiptNumber>,
    pub channel: Option<Channel>,
    pub stage: Option<ReportStage>,
    pub priority: Option<TriagePriority>,
    pub routed_to: Option<Ori>,
    pub routed_on: Option<Date>,
}

impl PublicReport {
    pub fn decide(
        &self,
        command: PublicReportCommand,
        units: &dyn UnitDirectory,
    ) -> Result<Vec<PublicReportEvent>, PublicReportError> {
        use PublicReportError as E;
        match command {
            PublicReportCommand::Receive {
                receipt_number,
                channel,
                category,
                content,
                recorded_at,
            } => {
                if let Some(r) = &self.receipt_number {
                    return Err(E::AlreadyReceived(r.clone()));
                }
                if let Some(c) = &content {
                    c.check()?;
                }
                Ok(vec![PublicReportEvent::PublicReportReceived {
                    receipt_number,
                    channel,
                    category,
                    content,
                    recorded_at,
                }])
            }
            PublicReportCommand::Triage {
                priority,
                category,
                recorded_at,
            } => match self.stage {
                None => Err(E::NotReceived),
                Some(ReportStage::Received) => Ok(vec![PublicReportEvent::PublicReportTriaged {
                    priority,
                    category,
                    recorded_at,
                }]),
                Some(ReportStage::Closed) => Err(E::Closed),
                Some(_) => Err(E::AlreadyTriaged),
            },
            PublicReportCommand::RouteToUnit { unit, recorded_at } => {
                match self.stage {
                    None => return Err(E::NotReceived),
                    Some(ReportStage::Received) => return Err(E::NotTriaged),
                    Some(ReportStage::Closed) => return Err(E::Closed),
                    Some(ReportStage::Routed) => return Err(E::AlreadyRouted),
                    Some(ReportStage::Triaged) => {}
                }
                if !units.unit(&unit).is_some_and(|u| u.active) {
                    return Err(E::InactiveUnit(unit));
                }
                Ok(vec![PublicReportEvent::PublicReportRouted {
                    unit,
                    routed_on: ct_date(recorded_at),
                    recorded_at,
                }])
            }
            PublicReportCommand::Close {
                reason,
                recorded_at,
            } => match self.stage {
                None => Err(E::NotReceived),
                Some(ReportStage::Closed) => Err(E::Closed),
                Some(ReportStage::Routed) => Err(E::AlreadyRouted),
                Some(_) => Ok(vec![PublicReportEvent::PublicReportClosed {
                    reason,
                    recorded_at,
                }]),
            },
        }
    }

    /// After routing: the complaint the app logs on the unit's new case so the
    /// unit's 14-day clock starts on the routing date.
    pub fn routing_complaint(
        &self,
        recorded_at: Timestamp,
    ) -> Result<Option<LogComplaint>, IdError> {
        let (Some(receipt), Some(unit), Some(routed_on)) =
            (&self.receipt_number, &self.routed_to, self.routed_on)
        else {
            return Ok(None);
        };
        Ok(Some(LogComplaint {
            case_id: CaseId::for_public_report(unit, receipt)?,
            reporting_unit: unit.clone(),
            unit_case_number: None,
            received_on: routed_on,
            received_time: None,
            received_offset: None,
            source: Source::PublicReport {
                receipt_number: receipt.clone(),
            },
            recorded_at,
        }))
    }
}

impl Aggregate for PublicReport {
    const TYPE: &'static str = "public_report";
    type Command = PublicReportCommand;
    type Event = PublicReportEvent;
    type Error = PublicReportError;
    type Services = std::sync::Arc<dyn UnitDirectory>;

    async fn handle(
        &mut self,
        command: Self::Command,
        units: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command, units.as_ref())? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            PublicReportEvent::PublicReportReceived {
                receipt_number,
                channel,
                ..
            } => {
                self.receipt_number = Some(receipt_number);
                self.channel = Some(channel);
                self.stage = Some(ReportStage::Received);
            }
            PublicReportEvent::PublicReportTriaged { priority, .. } => {
                self.priority = Some(priority);
                self.stage = Some(ReportStage::Triaged);
            }
            PublicReportEvent::PublicReportRouted {
                unit, routed_on, ..
            } => {
                self.routed_to = Some(unit);
                self.routed_on = Some(routed_on);
                self.stage = Some(ReportStage::Routed);
            }
            PublicReportEvent::PublicReportClosed { .. } => self.stage = Some(ReportStage::Closed),
        }
    }
}

impl crate::text::BlamesField for PublicReportError {
    fn rule(&self) -> &'static str {
        self.into()
    }
}
