//! Deconfliction on the command side: after a filing, the form's CyberTip number and
//! suspect identifiers are normalised, keyed-hashed (`deconfliction_key`) before they are
//! sealed, and registered on one `deconfliction` stream per fingerprint. The domain
//! records a `DeconflictionMatch` when another unit's case holds the same value; the
//! index here answers both the Task Force (every match, both case ids) and each unit
//! (only the other unit's name: never its case id, number or identifiers).

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use cqrs_es::{EventEnvelope, Query};
use icac_aggregates::deconfliction::{
    normalise, Deconfliction, DeconflictionCommand, DeconflictionEvent, MatchBasis,
};
use icac_aggregates::form::NotificationForm;
use icac_aggregates::ids::{CaseId, Ori};
use icac_aggregates::services::UnitDirectory;
use jiff::Timestamp;
use serde::Serialize;

use super::{Actor, CommandError, Commands};
use crate::ledger::{sealed_from_row, Ledger, LedgerError};

/// One match as the Task Force sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchRecord {
    pub basis: MatchBasis,
    pub case_id: CaseId,
    pub unit: Ori,
    pub other_case_id: CaseId,
    pub other_unit: Ori,
    pub recorded_at: Timestamp,
}

/// What a unit is told about a match on its case: that it exists, on what kind of
/// value, and whom to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchNotice {
    pub basis: MatchBasis,
    pub contact_unit: Ori,
    pub contact_unit_name: String,
    pub recorded_at: Timestamp,
}

/// A case filed with `deconfliction_checked: false`, for the Task Force to follow up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotChecked {
    pub case_id: CaseId,
    pub unit: Ori,
    pub recorded_at: Timestamp,
}

/// Every match (and not-checked filing) this process has seen, in position order.
#[derive(Default)]
pub struct MatchIndex {
    matches: RwLock<Vec<MatchRecord>>,
    not_checked: RwLock<Vec<NotChecked>>,
}

impl MatchIndex {
    pub fn not_checked(&self) -> Vec<NotChecked> {
        self.not_checked.read().map(|m| m.clone()).unwrap_or_default()
    }

    fn apply(&self, event: &DeconflictionEvent) {
        if let DeconflictionEvent::DeconflictionNotChecked {
            case_id,
            unit,
            recorded_at,
        } = event
        {
            if let Ok(mut m) = self.not_checked.write() {
                m.push(NotChecked {
                    case_id: case_id.clone(),
                    unit: unit.clone(),
                    recorded_at: *recorded_at,
                });
            }
        }
        if let DeconflictionEvent::DeconflictionMatch {
            basis,
            case_id,
            unit,
            other_case_id,
            other_unit,
            recorded_at,
            ..
        } = event
        {
            if let Ok(mut m) = self.matches.write() {
                m.push(MatchRecord {
                    basis: *basis,
                    case_id: case_id.clone(),
                    unit: unit.clone(),
                    other_case_id: other_case_id.clone(),
                    other_unit: other_unit.clone(),
                    recorded_at: *recorded_at,
                });
            }
        }
    }

    pub fn all(&self) -> Vec<MatchRecord> {
        self.matches.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// The notices for `case_id`: the other side of each match, by unit only.
    pub fn notices(&self, case_id: &CaseId, units: &dyn UnitDirectory) -> Vec<MatchNotice> {
        let name = |ori: &Ori| units.unit(ori).map(|u| u.name).unwrap_or_default();
        let mut out: Vec<MatchNotice> = Vec::new();
        for m in self.all() {
            let other = if m.case_id == *case_id {
                &m.other_unit
            } else if m.other_case_id == *case_id {
                &m.unit
            } else {
                continue;
            };
            if !out.iter().any(|n| n.contact_unit == *other && n.basis == m.basis) {
                out.push(MatchNotice {
                    basis: m.basis,
                    contact_unit: other.clone(),
                    contact_unit_name: name(other),
                    recorded_at: m.recorded_at,
                });
            }
        }
        out
    }
}

/// Keeps the match index current from committed deconfliction events.
pub struct MatchIndexQuery(pub Arc<MatchIndex>);

#[async_trait]
impl Query<Deconfliction> for MatchIndexQuery {
    async fn dispatch(&self, _: &str, events: &[EventEnvelope<Deconfliction>]) {
        for e in events {
            self.0.apply(&e.payload);
        }
    }
}

/// Fills the match index from the ledger's deconfliction streams.
pub async fn warm(ledger: &Ledger, index: &MatchIndex) -> Result<(), LedgerError> {
    let rows = ledger
        .storage()
        .read_type(ledger.id(), <Deconfliction as cqrs_es::Aggregate>::TYPE)
        .await?;
    for row in rows {
        let record = sealed_from_row(row)?.record;
        if let Ok(event) = serde_json::from_value::<DeconflictionEvent>(record.payload) {
            index.apply(&event);
        }
    }
    Ok(())
}

/// The values of a form that are compared, normalised, each once.
pub fn comparable_values(form: &NotificationForm) -> Vec<(MatchBasis, String)> {
    let mut out: Vec<(MatchBasis, String)> = Vec::new();
    let tip = form.source.cybertip().map(|t| (MatchBasis::CybertipNumber, t.to_string()));
    let subjects = form.subject_identifiers.iter().filter_map(|s| {
        // A form on file holds values (a commitment is refused by validation).
        let value = s.value.value()?;
        Some((MatchBasis::of_subject(s.kind), value.clone()))
    });
    for (basis, raw) in tip.into_iter().chain(subjects) {
        if let Some(n) = normalise(basis, &raw) {
            if !out.iter().any(|(b, v)| *b == basis && *v == n) {
                out.push((basis, n));
            }
        }
    }
    out
}

/// Registers the filed case on every fingerprint of its form; returns what the filer
/// is told (the other units to call).
pub async fn register_filing(
    commands: &Commands,
    case_id: &CaseId,
    form: &NotificationForm,
    actor: &Actor,
    recorded_at: Timestamp,
) -> Result<Vec<MatchNotice>, CommandError> {
    if !form.deconfliction_checked {
        let stream = commands.deconfliction_key().case_stream(case_id.as_str());
        let flag = DeconflictionCommand::FlagNotChecked {
            case_id: case_id.clone(),
            unit: form.reporting_unit.clone(),
            recorded_at,
        };
        commands
            .execute(&commands.deconfliction, stream.as_str(), flag, actor)
            .await?;
    }
    for (basis, value) in comparable_values(form) {
        let fingerprint = commands.deconfliction_key().fingerprint(basis, &value);
        let command = DeconflictionCommand::Register {
            fingerprint: fingerprint.clone(),
            basis,
            case_id: case_id.clone(),
            unit: form.reporting_unit.clone(),
            recorded_at,
        };
        // Two filings of one value at once: one conflicts and, on the retry, sees the
        // other's registration (and records the match).
        let mut attempt = 0;
        loop {
            let result = commands
                .execute(&commands.deconfliction, fingerprint.as_str(), command.clone(), actor)
                .await;
            match result {
                Err(CommandError::Conflict) if attempt < 3 => attempt += 1,
                other => break other?,
            }
        }
    }
    Ok(commands
        .matches()
        .notices(case_id, commands.directory().as_ref()))
}

/// Index of matches, shared with the queries.
pub type SharedMatches = Arc<MatchIndex>;

