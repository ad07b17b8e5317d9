//! Law enforcement units (C.G.S. 7-294a). Aggregate id = the unit's ORI.

pub mod import;

use cqrs_es::{Aggregate, DomainEvent};
use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ids::Ori;
use crate::text::{self, limits, TextError};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    MunicipalPolice,
    StatePoliceTroop,
    UniversityPolice,
    TribalPolice,
    OtherStateAgency,
    Other,
}

impl UnitKind {
    pub const ALL: [UnitKind; 6] = [
        Self::MunicipalPolice,
        Self::StatePoliceTroop,
        Self::UniversityPolice,
        Self::TribalPolice,
        Self::OtherStateAgency,
        Self::Other,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterUnit {
    pub ori: Ori,
    pub name: String,
    pub kind: UnitKind,
    pub town: String,
    pub recorded_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum UnitCommand {
    Register(RegisterUnit),
    Rename {
        name: String,
        recorded_at: Timestamp,
    },
    Deactivate {
        reason: String,
        recorded_at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnitEvent {
    UnitRegistered {
        ori: Ori,
        name: String,
        kind: UnitKind,
        town: String,
        recorded_at: Timestamp,
    },
    UnitRenamed {
        from: String,
        name: String,
        recorded_at: Timestamp,
    },
    UnitDeactivated {
        reason: String,
        recorded_at: Timestamp,
    },
}

impl crate::sealed::SealedEffects for UnitEvent {}

impl DomainEvent for UnitEvent {
    fn event_type(&self) -> String {
        match self {
            Self::UnitRegistered { .. } => "UnitRegistered",
            Self::UnitRenamed { .. } => "UnitRenamed",
            Self::UnitDeactivated { .. } => "UnitDeactivated",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        crate::EVENT_VERSION_1.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum UnitError {
    #[error("unit {0} is already registered")]
    AlreadyRegistered(Ori),
    #[error("unit is not registered")]
    NotRegistered,
    #[error("unit is deactivated")]
    Deactivated,
    #[error("unit already has the name {0:?}")]
    SameName(String),
    #[error("{field} {problem}")]
    InvalidText {
        field: &'static str,
        problem: TextError,
    },
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), UnitError> {
    text::check(value, max).map_err(|problem| UnitError::InvalidText { field, problem })
}

/// State of one unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub ori: Option<Ori>,
    pub name: String,
    pub kind: Option<UnitKind>,
    pub town: String,
    pub active: bool,
}

impl Unit {
    /// Pure decision: which events `command` produces from this state.
    pub fn decide(&self, command: UnitCommand) -> Result<Vec<UnitEvent>, UnitError> {
        match command {
            UnitCommand::Register(cmd) => {
                if let Some(ori) = &self.ori {
                    return Err(UnitError::AlreadyRegistered(ori.clone()));
                }
                check_text("name", &cmd.name, limits::NAME)?;
                check_text("town", &cmd.town, limits::SHORT)?;
                Ok(vec![UnitEvent::UnitRegistered {
                    ori: cmd.ori,
                    name: cmd.name.trim().to_string(),
                    kind: cmd.kind,
                    town: cmd.town.trim().to_string(),
                    recorded_at: cmd.recorded_at,
                }])
            }
            UnitCommand::Rename { name, recorded_at } => {
                self.require_active()?;
                check_text("name", &name, limits::NAME)?;
                let name = name.trim().to_string();
                if name == self.name {
                    return Err(UnitError::SameName(name));
                }
                Ok(vec![UnitEvent::UnitRenamed {
                    from: self.name.clone(),
                    name,
                    recorded_at,
                }])
            }
            UnitCommand::Deactivate {
                reason,
                recorded_at,
            } => {
                self.require_active()?;
                check_text("reason", &reason, limits::REASON)?;
                Ok(vec![UnitEvent::UnitDeactivated {
                    reason,
                    recorded_at,
                }])
            }
        }
    }

    fn require_active(&self) -> Result<(), UnitError> {
        if self.ori.is_none() {
            Err(UnitError::NotRegistered)
        } else if !self.active {
            Err(UnitError::Deactivated)
        } else {
            Ok(())
        }
    }
}

impl Aggregate for Unit {
    const TYPE: &'static str = "unit";
    type Command = UnitCommand;
    type Event = UnitEvent;
    type Error = UnitError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &Self::Services,
        sink: &cqrs_es::event_sink::EventSink<Self>,
    ) -> Result<(), Self::Error> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            UnitEvent::UnitRegistered {
                ori,
                name,
                kind,
                town,
                ..
            } => {
                self.ori = Some(ori);
                self.name = name;
                self.kind = Some(kind);
                self.town = town;
                self.active = true;
            }
            UnitEvent::UnitRenamed { name, .. } => self.name = name,
            UnitEvent::UnitDeactivated { .. } => self.active = false,
        }
    }
}

impl crate::text::BlamesField for UnitError {
    fn rule(&self) -> &'static str {
        self.into()
    }

    fn blamed_field(&self) -> Option<&'static str> {
        match self {
            UnitError::InvalidText { field, .. } => Some(field),
            _ => None,
        }
    }
}
