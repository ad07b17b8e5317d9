//! Law enforcement units (C.G.S. 7-294a(8)) known to the ledger.

use icac_aggregates::ids::Ori;
use icac_aggregates::units::{UnitEvent, UnitKind};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitView {
    pub ori: Ori,
    pub name: String,
    pub kind: UnitKind,
    pub town: String,
    pub active: bool,
    pub registered_at: Timestamp,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub former_names: Vec<String>,
    pub version: u64,
    pub last_position: u64,
}

impl UnitView {
    pub fn open(event: &UnitEvent, sequence: u64, position: u64) -> Option<Self> {
        let UnitEvent::UnitRegistered {
            ori,
            name,
            kind,
            town,
            recorded_at,
        } = event
        else {
            return None;
        };
        Some(Self {
            ori: ori.clone(),
            name: name.clone(),
            kind: *kind,
            town: town.clone(),
            active: true,
            registered_at: *recorded_at,
            former_names: Vec::new(),
            version: sequence,
            last_position: position,
        })
    }

    pub fn apply(&mut self, event: &UnitEvent, sequence: u64, position: u64) {
        self.version = sequence;
        self.last_position = position;
        match event {
            UnitEvent::UnitRegistered { .. } => {}
            UnitEvent::UnitRenamed { from, name, .. } => {
                self.former_names.push(from.clone());
                self.name = name.clone();
            }
            UnitEvent::UnitDeactivated { .. } => self.active = false,
        }
    }
}
