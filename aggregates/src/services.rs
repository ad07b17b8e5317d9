//! Outside facts the rules need, supplied by the app. All lookups are
//! synchronous over a snapshot the app keeps; the event store's per-stream
//! optimistic concurrency (not these lookups) is what makes the rules that
//! matter race-safe (see `cybertip`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::catalog::{Catalog, CatalogError};
use crate::ids::{CaseId, CyberTipNumber, LedgerPosition, Ori};
use crate::units::{UnitEvent, UnitKind};

/// What the domain needs to know about a law enforcement unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitInfo {
    pub ori: Ori,
    pub name: String,
    pub kind: UnitKind,
    pub town: String,
    pub active: bool,
}

/// Registered law enforcement units.
pub trait UnitDirectory: Send + Sync {
    fn unit(&self, ori: &Ori) -> Option<UnitInfo>;
}

/// Which case currently holds a CyberTip number (a read model of the
/// `cybertip` streams). Used as a defensive check only.
pub trait CyberTipIndex: Send + Sync {
    fn case_for(&self, tip: &CyberTipNumber) -> Option<CaseId>;
}

/// What sits at a ledger position, so a correction cannot name an event of
/// another stream or of an unrelated type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEventRef {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub event_type: String,
}

pub trait LedgerIndex: Send + Sync {
    fn event_at(&self, position: LedgerPosition) -> Option<LedgerEventRef>;
}

/// Services for the `case` aggregate.
#[derive(Clone)]
pub struct CaseServices {
    pub units: Arc<dyn UnitDirectory>,
    pub cybertips: Arc<dyn CyberTipIndex>,
    pub ledger: Arc<dyn LedgerIndex>,
    pub catalog: &'static Catalog,
}

impl CaseServices {
    /// Uses the built-in catalog.
    pub fn new(
        units: Arc<dyn UnitDirectory>,
        cybertips: Arc<dyn CyberTipIndex>,
        ledger: Arc<dyn LedgerIndex>,
    ) -> Result<Self, CatalogError> {
        Ok(Self {
            units,
            cybertips,
            ledger,
            catalog: Catalog::builtin()?,
        })
    }
}

/// An in-memory unit directory the app can keep current by feeding it unit
/// events (and tests can fill directly).
#[derive(Debug, Default)]
pub struct InMemoryUnitDirectory {
    units: RwLock<HashMap<Ori, UnitInfo>>,
}

impl InMemoryUnitDirectory {
    pub fn insert(&self, info: UnitInfo) {
        if let Ok(mut units) = self.units.write() {
            units.insert(info.ori.clone(), info);
        }
    }

    /// Folds one unit event (from the stream whose id is `ori`).
    pub fn apply(&self, ori: &Ori, event: &UnitEvent) {
        let Ok(mut units) = self.units.write() else {
            return;
        };
        match event {
            UnitEvent::UnitRegistered {
                ori,
                name,
                kind,
                town,
                ..
            } => {
                units.insert(
                    ori.clone(),
                    UnitInfo {
                        ori: ori.clone(),
                        name: name.clone(),
                        kind: *kind,
                        town: town.clone(),
                        active: true,
                    },
                );
            }
            UnitEvent::UnitRenamed { name, .. } => {
                if let Some(u) = units.get_mut(ori) {
                    u.name = name.clone();
                }
            }
            UnitEvent::UnitDeactivated { .. } => {
                if let Some(u) = units.get_mut(ori) {
                    u.active = false;
                }
            }
        }
    }
}

impl UnitDirectory for InMemoryUnitDirectory {
    fn unit(&self, ori: &Ori) -> Option<UnitInfo> {
        self.units.read().ok()?.get(ori).cloned()
    }
}

#[derive(Debug, Default)]
pub struct InMemoryCyberTipIndex {
    tips: RwLock<HashMap<CyberTipNumber, CaseId>>,
}

impl InMemoryCyberTipIndex {
    pub fn insert(&self, tip: CyberTipNumber, case: CaseId) {
        if let Ok(mut tips) = self.tips.write() {
            tips.insert(tip, case);
        }
    }
    pub fn remove(&self, tip: &CyberTipNumber) {
        if let Ok(mut tips) = self.tips.write() {
            tips.remove(tip);
        }
    }
}

impl CyberTipIndex for InMemoryCyberTipIndex {
    fn case_for(&self, tip: &CyberTipNumber) -> Option<CaseId> {
        self.tips.read().ok()?.get(tip).cloned()
    }
}

#[derive(Debug, Default)]
pub struct InMemoryLedgerIndex {
    events: RwLock<HashMap<LedgerPosition, LedgerEventRef>>,
}

impl InMemoryLedgerIndex {
    pub fn insert(&self, position: LedgerPosition, event: LedgerEventRef) {
        if let Ok(mut events) = self.events.write() {
            events.insert(position, event);
        }
    }
}

impl LedgerIndex for InMemoryLedgerIndex {
    fn event_at(&self, position: LedgerPosition) -> Option<LedgerEventRef> {
        self.events.read().ok()?.get(&position).cloned()
    }
}
