use std::sync::Arc;

use icac_aggregates::case::{CaseEvent, CaseServices};
use icac_aggregates::catalog::Catalog;
use icac_aggregates::form::{NotificationForm, ValidationContext};
use icac_aggregates::ids::{CaseId, Ori};
use icac_aggregates::services::{
    InMemoryCyberTipIndex, InMemoryLedgerIndex, InMemoryUnitDirectory, UnitInfo,
};
use icac_aggregates::units::UnitKind;
use jiff::Timestamp;
use serde_json::{json, Value};

pub const HARTFORD: &str = "CT0006400";
pub const NEW_HAVEN: &str = "CT0009300";
pub const CLOSED_UNIT: &str = "CT0001700";
pub const TASK_FORCE: &str = "CTCSP0000";
pub const TIP: &str = "198765432";

pub fn ori(s: &str) -> Ori {
    Ori::parse(s).unwrap()
}

pub fn case_id(s: &str) -> CaseId {
    CaseId::parse(s).unwrap()
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Filing instant used by most tests: 2024-09-10 10:00 EDT.
pub fn now() -> Timestamp {
    ts("2024-09-10T14:00:00Z")
}

pub fn units() -> Arc<InMemoryUnitDirectory> {
    let dir = InMemoryUnitDirectory::default();
    for (o, name, active) in [
        (HARTFORD, "Hartford Police Department", true),
        (NEW_HAVEN, "New Haven Police Department", true),
        (CLOSED_UNIT, "Former Police Department", false),
        (TASK_FORCE, "Connecticut ICAC Task Force", true),
    ] {
        dir.insert(UnitInfo {
            ori: ori(o),
            name: name.into(),
            kind: UnitKind::MunicipalPolice,
            town: "Hartford".into(),
            active,
        });
    }
    Arc::new(dir)
}

pub struct World {
    pub units: Arc<InMemoryUnitDirectory>,
    pub tips: Arc<InMemoryCyberTipIndex>,
    pub ledger: Arc<InMemoryLedgerIndex>,
}

impl World {
    pub fn new() -> Self {
        Self {
            units: units(),
            tips: Arc::new(InMemoryCyberTipIndex::default()),
            ledger: Arc::new(InMemoryLedgerIndex::default()),
        }
    }

    pub fn services(&self) -> CaseServices {
        CaseServices::new(self.units.clone(), self.tips.clone(), self.ledger.clone()).unwrap()
    }
}

pub fn services() -> CaseServices {
    World::new().services()
}

pub fn with_ctx<R>(recorded_at: Timestamp, f: impl FnOnce(&ValidationContext<'_>) -> R) -> R {
    let units = units();
    let ctx = ValidationContext {
        recorded_at,
        units: units.as_ref(),
        catalog: Catalog::builtin().unwrap(),
    };
    f(&ctx)
}

/// A complete, valid form as raw JSON (CyberTip source).
pub fn form_json() -> Value {
    json!({
        "form_version": "1",
        "reporting_unit": HARTFORD,
        "officer": { "name": "Det. A. Rivera", "badge": "1234", "phone": "(860) 555-0100", "email": "a.rivera@example.gov" },
        "unit_case_number": "24-00123",
        "received": { "date": "2024-09-01", "time": "09:30:00" },
        "source": { "kind": "ncmec_cybertip", "cybertip_number": TIP },
        "incident": { "type": "csam_distribution", "sextortion": false, "ai_generated_material": false, "minor_to_minor": false, "date_from": "2024-08-20", "date_to": "2024-08-25" },
        "medium": "chat_im",
        "platform": "Example Messenger",
        "suspected_statutes": ["53a-196d", "53a-196c"],
        "urgent": false,
        "subject_identifiers": [
            { "kind": "screen_name", "value": "suspect_handle_01", "platform": "Example Messenger" },
            { "kind": "ip_event", "value": "203.0.113.7", "observed_at": "2024-08-21T03:12:00Z" }
        ],
        "victim": { "identified": false, "age_band": "unknown" },
        "evidence": { "item_count": 12, "image_count": 10, "video_count": 2, "hashes": [
            { "algorithm": "sha256", "value": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" },
            { "algorithm": "md5", "value": "098f6bcd4621d373cade4e832627b4f6" }
        ] },
        "deconfliction_checked": true,
        "assistance_requested": { "undercover": false, "forensic": true, "technical": false },
        "attestation": { "name": "Det. A. Rivera", "statement_accepted": true }
    })
}

pub fn form() -> NotificationForm {
    serde_json::from_value(form_json()).unwrap()
}

pub fn form_from(unit: &str, case_number: &str) -> NotificationForm {
    let mut f = form_json();
    f["reporting_unit"] = json!(unit);
    f["unit_case_number"] = json!(case_number);
    serde_json::from_value(f).unwrap()
}

pub fn hartford_case() -> CaseId {
    case_id("CT0006400:24-00123")
}

pub fn filed() -> CaseEvent {
    CaseEvent::NotificationFiled {
        case_id: hartford_case(),
        form: form(),
        recorded_at: now(),
    }
}
