//! The annual report to the General Assembly (29-7e(d)) as data. Every
//! renderer reads this; `report verify` recomputes `figures` and compares.

use std::fmt;

use icac_aggregates::compliance::DeadlinePolicy;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Identifies the JSON layout; bump when fields change meaning.
pub const REPORT_FORMAT: &str = "icac-ledger/annual-report/1";

pub const ADDRESSEES: [&str; 3] = [
    "Joint Standing Committee on Children",
    "Joint Standing Committee on Public Safety and Security",
    "Joint Standing Committee on Judiciary",
];

pub const DELIVERY_NOTE: &str = "Submitted under C.G.S. 29-7e(d) in accordance with C.G.S. 11-4a: delivered electronically to the clerks of the House and the Senate and to the Office of Legislative Research, with a copy to the State Librarian.";

/// A count with one decimal (percentages, medians), kept as tenths so no
/// float ever enters the figures; serialized as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tenths(pub u64);

impl fmt::Display for Tenths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0 / 10, self.0 % 10)
    }
}

impl Serialize for Tenths {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Tenths {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bad = || serde::de::Error::custom("expected a decimal with one digit, e.g. 87.5");
        let (whole, frac) = text.split_once('.').ok_or_else(bad)?;
        if frac.len() != 1 || whole.is_empty() || whole.len() > 15 {
            return Err(bad());
        }
        let whole: u64 = whole.parse().map_err(|_| bad())?;
        let frac: u64 = frac.parse().map_err(|_| bad())?;
        Ok(Tenths(whole * 10 + frac))
    }
}

/// A published cell: a count, or hidden to protect a child's privacy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Count(u64),
    Suppressed,
}

pub const SUPPRESSED_MARK: &str = "suppressed";

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Count(n) => s.serialize_u64(*n),
            Cell::Suppressed => s.serialize_str(SUPPRESSED_MARK),
        }
    }
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(Cell::Count)
                .ok_or_else(|| serde::de::Error::custom("a count must be a whole number")),
            serde_json::Value::String(s) if s == SUPPRESSED_MARK => Ok(Cell::Suppressed),
            _ => Err(serde::de::Error::custom(
                "a cell is a count or \"suppressed\"",
            )),
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Count(n) => write!(f, "{n}"),
            Cell::Suppressed => f.write_str("*"),
        }
    }
}

/// One labelled count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub key: String,
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationFigures {
    pub total: u64,
    pub by_source: Vec<Row>,
    pub by_incident_type: Vec<Row>,
    pub by_medium: Vec<Row>,
    pub by_unit: Vec<Row>,
    pub duplicates_linked: u64,
    pub cybertips_urgent: u64,
    pub cybertips_other: u64,
    pub sextortion: u64,
    pub ai_generated_material: u64,
    pub by_month: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitTimeliness {
    pub unit: String,
    pub name: String,
    pub received: u64,
    pub on_time: u64,
    pub late: u64,
    pub overdue: u64,
    pub not_yet_due: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelinessFigures {
    /// Notification clocks that started in the period.
    pub received: u64,
    pub on_time: u64,
    pub late: u64,
    pub overdue: u64,
    pub not_yet_due: u64,
    pub incomplete_form: u64,
    /// on_time / (on_time + late), in percent; absent when nothing was filed.
    pub percent_within_14_days: Option<Tenths>,
    /// Notifications due by the period's last day: on time + late + overdue.
    #[serde(default)]
    pub due: u64,
    /// on_time / due, in percent (overdue counts as not on time); absent when
    /// nothing fell due.
    #[serde(default)]
    pub percent_on_time_of_due: Option<Tenths>,
    pub median_days_to_notify: Option<Tenths>,
    pub by_unit: Vec<UnitTimeliness>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvestigationFigures {
    pub opened: u64,
    pub reactive: u64,
    pub proactive: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationRow {
    pub operation_id: String,
    pub name: String,
    pub lead_unit: String,
    pub started_on: Option<Date>,
    pub ended_on: Option<Date>,
    pub linked_cases: u64,
    pub cases_opened: u64,
    pub arrests: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationFigures {
    pub conducted: u64,
    pub linked_cases: u64,
    pub cases_opened: u64,
    pub arrests: u64,
    pub operations: Vec<OperationRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeRow {
    pub statute: String,
    pub title: String,
    pub proposed_nibrs: String,
    pub arrests: u64,
    pub counts: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrestFigures {
    pub arrests: u64,
    pub cases_with_arrest: u64,
    pub charges: Vec<ChargeRow>,
    pub nibrs_note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralRow {
    pub target: String,
    pub label: String,
    pub referred: u64,
    pub accepted: u64,
    pub declined: u64,
    pub undecided: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareFigures {
    pub unit_to_task_force: u64,
    pub task_force_to_units: u64,
    pub unit_recipients: u64,
    pub technical_assistance: u64,
    pub forensic_results: u64,
    pub by_category: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicReportRow {
    pub channel: String,
    pub label: String,
    pub received: u64,
    pub routed: u64,
    pub closed: u64,
    pub open: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitFigures {
    pub registered_active: u64,
    pub filing_in_period: u64,
}

/// Identified child victims: statewide, by age band and quarter, with
/// small counts suppressed. `cells[r][c]`, `row_totals[r]`,
/// `column_totals[c]`, `total`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VictimTable {
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    pub cells: Vec<Vec<Cell>>,
    pub row_totals: Vec<Cell>,
    pub column_totals: Vec<Cell>,
    pub total: Cell,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub notifications: NotificationFigures,
    pub timeliness: TimelinessFigures,
    pub investigations: InvestigationFigures,
    pub operations: OperationFigures,
    pub arrests: ArrestFigures,
    pub referrals: Vec<ReferralRow>,
    pub outcomes_without_arrest: Vec<Row>,
    pub information_shares: ShareFigures,
    pub victims_identified: VictimTable,
    pub public_reports: Vec<PublicReportRow>,
    pub units: UnitFigures,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    pub from: Date,
    pub to: Date,
    pub suppression_threshold: u64,
    /// Values every hidden victim figure's feasible interval must hold
    /// (`report::audit`); reports before releases existed used the threshold.
    #[serde(default = "default_width")]
    pub protection_width: u64,
    pub deadline_policy: DeadlinePolicy,
}

/// What ties the figures to the ledger: the position they were computed
/// at and a checkpoint signed by the ledger key for exactly that size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub ledger_id: String,
    pub position: u64,
    pub head_hash: String,
    pub merkle_root: String,
    /// C2SP signed note; verify with the ledger's published keyring.
    pub checkpoint: String,
}

fn default_width() -> u64 {
    super::suppression::DEFAULT_THRESHOLD
}

/// Marks every edition of a report that is not a release.
pub const DRAFT_WATERMARK: &str = "DRAFT - not a release: an ad-hoc preview for staff who may read the cases; not for publication";

/// What makes a report a release: the ledger event that recorded it, with
/// the proof that the event is in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseStamp {
    pub number: u32,
    /// Whole quarters, e.g. `2024-Q3..2025-Q2`.
    pub period: String,
    /// Ledger position of the `ReleasePublished` event.
    pub event_position: u64,
    /// Earlier releases whose figures this one revises (empty: none).
    #[serde(default)]
    pub revises: Vec<u32>,
    /// The event's RFC 6962 inclusion proof with a signed checkpoint
    /// (`icac-ledger/inclusion-proof`, docs/LEDGER_FORMAT.md).
    pub inclusion_proof: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnualReport {
    pub format: String,
    pub title: String,
    pub addressed_to: Vec<String>,
    pub delivery: String,
    pub parameters: Parameters,
    pub attestation: Attestation,
    pub figures: Figures,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<String>,
    /// The sting unit's activity and results by quarter, with the recommendation
    /// (issue 17; `report::sting_unit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sting_unit: Option<super::sting_unit::StingUnitSection>,
    pub definitions: Vec<String>,
    /// `None`: a draft, watermarked as such in every format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseStamp>,
}

impl AnnualReport {
    pub fn is_draft(&self) -> bool {
        self.release.is_none()
    }
}
