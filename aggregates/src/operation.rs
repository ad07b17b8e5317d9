//! Undercover operations of the sting unit (29-7e(a)(1)): planned, conducted,
//! concluded. Personas are recorded by handle only; nothing that could expose
//! an undercover officer or a child belongs here.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::Medium;
use crate::form::validation::EARLIEST_DATE;
use crate::ids::{CaseId, OperationId, Ori};
use crate::local_time::ct_date;
use crate::sealed::Sealed;
use crate::services::UnitDirectory;
use crate::text::{self, limits, TextError};

pub mod bounds {
    pub const PLATFORMS: usize = 20;
    pub const PERSONAS: usize = 50;
    pub const CASES: usize = 500;
    pub const ARRESTS: u32 = 10_000;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanOperation {
    pub operation_id: OperationId,
    /// Code name only.
    pub name: String,
    pub lead_unit: Ori,
    pub planned_start: Date,
    pub planned_end: Date,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordConduct {
    pub started_on: Date,
    pub ended_on: Date,
    pub media: Vec<Medium>,
    /// Platform names (apps, sites).
    pub platforms: Vec<String>,
    /// Persona handles used (never real identities).
    pub personas: Vec<String>,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcludeOperation {
    pub concluded_on: Date,
    pub cases_opened: Vec<CaseId>,
    pub arrests: u32,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationCommand {
    Plan(PlanOperation),
    RecordConduct(RecordConduct),
    Conclude(ConcludeOperation),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationEvent {
    OperationPlanned {
        operation_id: OperationId,
        name: String,
        lead_unit: Ori,
        planned_start: Date,
        planned_end: Date,
        recorded_at: Timestamp,
    },
    OperationConducted {
        started_on: Date,
        ended_on: Date,
        media: Vec<Medium>,
        platforms: Vec<String>,
        /// Undercover persona handles: sealed out of the chain, since a published
        /// handle would burn the persona.
        personas: Vec<Sealed<String>>,
        recorded_at: Timestamp,
    },
    OperationConcluded {
        concluded_on: Date,
        cases_opened: Vec<CaseId>,
        arrests: u32,
        recorded_at: Timestamp,
    },
}

impl crate::sealed::SealedEffects for OperationEvent {}

impl DomainEvent for OperationEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OperationPlanned { .. } => "OperationPlanned",
            Self::OperationConducted { .. } => "OperationConducted",
            Self::OperationConcluded { .. } => "OperationConcluded",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum OperationError {
    #[error("operation is already planned")]
    AlreadyPlanned,
    #[error("operation has not been planned")]
    NotPlanned,
    #[error("operation conduct is already recorded")]
    AlreadyConducted,
    #[error("operation must be conducted before it is concluded")]
    NotConducted,
    #[error("operation is concluded")]
    Concluded,
    #[error("unit {0} is unknown or inactive")]
    InactiveUnit(Ori),
    #[error("{field} {problem}")]
    InvalidText {
        field: &'static str,
        problem: TextError,
    },
    #[error("{what}: at most {max} allowed")]
    TooMany { what: &'static str, max: usize },
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{later} ({later_date}) is before {earlier} ({earlier_date})")]
    DateOrder {
        earlier: &'static str,
        earlier_date: Date,
        later: &'static str,
        later_date: Date,
    },
    #[error("{field} {date} is in the future or implausibly old")]
    DateOutOfRange { field: &'static str, date: Date },
}

fn order(
    earlier: &'static str,
    a: Date,
    later: &'static str,
    b: Date,
) -> Result<(), OperationError> {
    if b < a {
        Err(OperationError::DateOrder {
            earlier,
            earlier_date: a,
            later,
            later_date: b,
        })
    } else {
        Ok(())
    }
}

fn past(field: &'static str, date: Date, at: Timestamp) -> Result<(), OperationError> {
    if date > ct_date(at) || date < EARLIEST_DATE {
        Err(OperationError::DateOutOfRange { field, date })
    } else {
        Ok(())
    }
}

fn texts(
    field: &'static str,
    values: &[String],
    max_items: usize,
    max_len: usize,
) -> Result<(), OperationError> {
    if values.len() > max_items {
        return Err(OperationError::TooMany {
            what: field,
            max: max_items,
        });
    }
    for v in values {
        text::check(v, max_len)
            .map_err(|problem| OperationError::InvalidText { field, problem })?;
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationStage {
    Planned,
    Conducted,
    Concluded,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    pub operation_id: Option<OperationId>,
    pub lead_unit: Option<Ori>,
    pub stage: Option<OperationStage>,
    pub started_on: Option<Date>,
    pub arrests: u32,
    pub cases_opened: Vec<CaseId>,
}

impl Operation {
    pub fn decide(
        &self,
        command: OperationCommand,
        units: &dyn UnitDirectory,
    ) -> Result<Vec<OperationEvent>, OperationError> {
        match command {
            OperationCommand::Plan(c) => self.plan(c, units),
            OperationCommand::RecordConduct(c) => self.record_conduct(c),
            OperationCommand::Conclude(c) => self.conclude(c),
        }
    }

    fn plan(
        &self,
        c: PlanOperation,
        units: &dyn UnitDirectory,
    ) -> Result<Vec<OperationEvent>, OperationError> {
        if self.stage.is_some() {
            return Err(OperationError::AlreadyPlanned);
        }
        text::check(&c.name, limits::SHORT).map_err(|problem| OperationError::InvalidText {
            field: "name",
            problem,
        })?;
        if !units.unit(&c.lead_unit).is_some_and(|u| u.active) {
            return Err(OperationError::InactiveUnit(c.lead_unit));
        }
        order(
            "planned_start",
            c.planned_start,
            "planned_end",
            c.planned_end,
        )?;
        Ok(vec![OperationEvent::OperationPlanned {
            operation_id: c.operation_id,
            name: c.name,
            lead_unit: c.lead_unit,
            planned_start: c.planned_start,
            planned_end: c.planned_end,
            recorded_at: c.recorded_at,
        }])
    }

    fn record_conduct(&self, c: RecordConduct) -> Result<Vec<OperationEvent>, OperationError> {
        match self.stage {
            None => return Err(OperationError::NotPlanned),
            Some(OperationStage::Conducted) => return Err(OperationError::AlreadyConducted),
            Some(OperationStage::Concluded) => return Err(OperationError::Concluded),
            Some(OperationStage::Planned) => {}
        }
        order("started_on", c.started_on, "ended_on", c.ended_on)?;
        past("ended_on", c.ended_on, c.recorded_at)?;
        past("started_on", c.started_on, c.recorded_at)?;
        if c.media.is_empty() {
            return Err(OperationError::Empty { field: "media" });
        }
        if c.media.len() > Medium::ALL.len() {
            return Err(OperationError::TooMany {
                what: "media",
                max: Medium::ALL.len(),
            });
        }
        if c.personas.is_empty() {
            return Err(OperationError::Empty { field: "personas" });
        }
        texts(
            "platforms",
            &c.platforms,
            bounds::PLATFORMS,
            limits::PLATFORM,
        )?;
        texts("personas", &c.personas, bounds::PERSONAS, limits::SHORT)?;
        Ok(vec![OperationEvent::OperationConducted {
            started_on: c.started_on,
            ended_on: c.ended_on,
            media: c.media,
            platforms: c.platforms,
            personas: c.personas.into_iter().map(Sealed::Open).collect(),
            recorded_at: c.recorded_at,
        }])
    }

    fn conclude(&self, c: ConcludeOperation) -> Result<Vec<OperationEvent>, OperationError> {
        match self.stage {
            None => return Err(OperationError::NotPlanned),
            Some(OperationStage::Planned) => return Err(OperationError::NotConducted),
            Some(OperationStage::Concluded) => return Err(OperationError::Concluded),
            Some(OperationStage::Conducted) => {}
        }
        past("concluded_on", c.concluded_on, c.recorded_at)?;
        if let Some(start) = self.started_on {
            order("started_on", start, "concluded_on", c.concluded_on)?;
        }
        if c.cases_opened.len() > bounds::CASES {
            return Err(OperationError::TooMany {
                what: "cases_opened",
                max: bounds::CASES,
            });
        }
        if c.arrests > bounds::ARRESTS {
            return Err(OperationError::TooMany {
                what: "arrests",
                max: bounds::ARRESTS as usize,
            });
        }
        Ok(vec![OperationEvent::OperationConcluded {
            concluded_on: c.concluded_on,
            cases_opened: c.cases_opened,
            arrests: c.arrests,
            recorded_at: c.recorded_at,
        }])
    }
}

impl Aggregate for Operation {
    const TYPE: &'static str = "operation";
    type Command = OperationCommand;
    type Event = OperationEvent;
    type Error = OperationError;
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
            OperationEvent::OperationPlanned {
                operation_id,
                lead_unit,
                ..
            } => {
                self.operation_id = Some(operation_id);
                self.lead_unit = Some(lead_unit);
                self.stage = Some(OperationStage::Planned);
            }
            OperationEvent::OperationConducted { started_on, .. } => {
                self.started_on = Some(started_on);
                self.stage = Some(OperationStage::Conducted);
            }
            OperationEvent::OperationConcluded {
                cases_opened,
                arrests,
                ..
            } => {
                self.cases_opened = cases_opened;
                self.arrests = arrests;
                self.stage = Some(OperationStage::Concluded);
            }
        }
    }
}

impl crate::text::BlamesField for OperationError {
    fn rule(&self) -> &'static str {
        self.into()
    }

    fn blamed_field(&self) -> Option<&'static str> {
        match self {
            OperationError::InvalidText { field, .. } => Some(field),
            _ => None,
        }
    }
}
