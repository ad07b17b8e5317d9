//! Deconfliction on the command side: after a filing, the form's CyberTip number and
//! suspect identifiers are normalised and keyed-hashed (`deconfliction_key`) before they
//! are sealed, and registered on the case's own `deconfliction` stream. The filing then
//! brings the match index up to (at least) its own registration and records the
//! `DeconflictionMatch`es the domain's `Registry::plan` finds missing, each on the
//! stream of its value and pair of units. The index answers both the Task Force (every
//! match, both case ids) and each unit (only the other unit's name: never its case id,
//! number or identifiers).
//!
//! Why no filing can starve: a registration writes only its own case's stream, and a
//! match stream only ever takes one event, so a race for it costs one retry that reads
//! the winner's event and writes nothing. Why no pair of units is missed: the index is
//! brought up to date from the ledger (every committed position, whichever process
//! wrote it) after the filing's registration committed, so of two filings of one
//! value, the later-committed one sees the earlier one (see `icac_aggregates::
//! deconfliction`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use cqrs_es::{EventEnvelope, Query};
use icac_aggregates::deconfliction::{
    normalise, Deconfliction, DeconflictionCommand, DeconflictionEvent, FollowUpOutcome,
    MatchBasis, MatchRecord, NotChecked, PlannedMatch, RegisteredValue, Registry,
};
use icac_aggregates::form::NotificationForm;
use icac_aggregates::ids::CaseId;
use icac_aggregates::sealed::Sealed;
use icac_aggregates::services::UnitDirectory;
use icac_format::record::StreamId;
use jiff::Timestamp;
use serde::Serialize;

use super::deconfliction_key::DeconflictionKey;
use super::{Actor, CommandError, Commands};
use crate::ledger::{sealed_from_row, Ledger, LedgerError};

const AGGREGATE_TYPE: &str = <Deconfliction as cqrs_es::Aggregate>::TYPE;

/// Rows read per query when the index catches up with the ledger.
const CATCH_UP_PAGE: u32 = 2_000;

/// A race for a match stream is lost at most once (the winner's event is then read);
/// a third conflict would mean the stream is not what this module writes.
const MATCH_ATTEMPTS: usize = 3;

/// What a unit is told about a match on its case: that it exists, on what kind of
/// value, and whom to call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchNotice {
    pub basis: MatchBasis,
    pub contact_unit: icac_aggregates::ids::Ori,
    pub contact_unit_name: String,
    pub recorded_at: Timestamp,
}

/// The ledger's registrations and matches, folded (`Registry`), and how far this
/// process has read the ledger for them.
#[derive(Default)]
pub struct MatchIndex {
    registry: RwLock<Registry>,
    /// Every position up to this one has been read from the ledger and applied. Held
    /// across a catch-up, so concurrent filings read each row once between them.
    read_through: tokio::sync::Mutex<u64>,
}

impl MatchIndex {
    fn apply(&self, event: &DeconflictionEvent) {
        if let Ok(mut r) = self.registry.write() {
            r.apply(event);
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Registry) -> T) -> Option<T> {
        self.registry.read().ok().map(|r| f(&r))
    }

    /// Applies every deconfliction event committed to the ledger since the last
    /// catch-up, by any process. Stops at a gap (a position not yet visible), so no
    /// position is ever skipped.
    pub async fn catch_up(&self, ledger: &Ledger) -> Result<(), LedgerError> {
        let mut through = self.read_through.lock().await;
        loop {
            let rows = ledger
                .storage()
                .read_page(ledger.id(), *through + 1, CATCH_UP_PAGE)
                .await?;
            let full = rows.len() == CATCH_UP_PAGE as usize;
            for row in rows {
                if row.position != *through + 1 {
                    return Ok(());
                }
                *through = row.position;
                if row.aggregate_type != AGGREGATE_TYPE {
                    continue;
                }
                let record = sealed_from_row(row)?.record;
                if let Ok(event) = serde_json::from_value::<DeconflictionEvent>(record.payload) {
                    self.apply(&event);
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Every match, in the order recorded.
    pub fn all(&self) -> Vec<MatchRecord> {
        self.read(|r| r.matches().to_vec()).unwrap_or_default()
    }

    /// Cases filed with `deconfliction_checked: false`; `open_only`: not followed up.
    pub fn not_checked(&self, open_only: bool) -> Vec<NotChecked> {
        self.read(|r| r.not_checked(open_only)).unwrap_or_default()
    }

    /// The notices for `case_id`: each other unit holding one of its values.
    pub fn notices(&self, case_id: &CaseId, units: &dyn UnitDirectory) -> Vec<MatchNotice> {
        let contacts = self.read(|r| r.contacts(case_id)).unwrap_or_default();
        contacts
            .into_iter()
            .map(|(basis, unit, recorded_at)| MatchNotice {
                basis,
                contact_unit_name: units.unit(&unit).map(|u| u.name).unwrap_or_default(),
                contact_unit: unit,
                recorded_at,
            })
            .collect()
    }
}

/// Keeps the match index current from this process's own deconfliction commits (the
/// catch-up reads them again, harmlessly: applying is idempotent).
pub struct MatchIndexQuery(pub Arc<MatchIndex>);

#[async_trait]
impl Query<Deconfliction> for MatchIndexQuery {
    async fn dispatch(&self, _: &str, events: &[EventEnvelope<Deconfliction>]) {
        for e in events {
            self.0.apply(&e.payload);
        }
    }
}

/// Fills the match index from the ledger at start-up: every deconfliction event, then
/// everything up to the head read before them.
pub async fn warm(ledger: &Ledger, index: &MatchIndex) -> Result<(), LedgerError> {
    let head = ledger.storage().head(ledger.id()).await?.position;
    let rows = ledger
        .storage()
        .read_type(ledger.id(), AGGREGATE_TYPE)
        .await?;
    for row in rows {
        let record = sealed_from_row(row)?.record;
        if let Ok(event) = serde_json::from_value::<DeconflictionEvent>(record.payload) {
            index.apply(&event);
        }
    }
    *index.read_through.lock().await = head;
    Ok(())
}

/// The values of a form that are compared, normalised, each once.
pub fn comparable_values(form: &NotificationForm) -> Vec<(MatchBasis, String)> {
    let mut out: Vec<(MatchBasis, String)> = Vec::new();
    let tip = form
        .source
        .cybertip()
        .map(|t| (MatchBasis::CybertipNumber, t.to_string()));
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

/// The `Register` command for a filed form, under `key` (also what the benchmark
/// generator decides with).
pub fn registration(
    key: &DeconflictionKey,
    case_id: &CaseId,
    form: &NotificationForm,
    recorded_at: Timestamp,
) -> DeconflictionCommand {
    let values = comparable_values(form)
        .into_iter()
        .map(|(basis, value)| RegisteredValue {
            fingerprint: key.fingerprint(basis, &value),
            basis,
        })
        .collect();
    DeconflictionCommand::Register {
        case_id: case_id.clone(),
        unit: form.reporting_unit.clone(),
        values,
        deconfliction_checked: form.deconfliction_checked,
        recorded_at,
    }
}

/// Registers the filed case's values, records the matches they complete, and returns
/// what the filer is told (the other units to call).
pub async fn register_filing(
    commands: &Commands,
    case_id: &CaseId,
    form: &NotificationForm,
    actor: &Actor,
    recorded_at: Timestamp,
) -> Result<Vec<MatchNotice>, CommandError> {
    register_and_match(commands, case_id, form, actor, recorded_at).await?;
    Ok(commands
        .matches()
        .notices(case_id, commands.directory().as_ref()))
}

/// Registers `case_id`'s values and records the matches they complete; returns how
/// many matches it recorded (or found recorded by a racing filing).
async fn register_and_match(
    commands: &Commands,
    case_id: &CaseId,
    form: &NotificationForm,
    actor: &Actor,
    recorded_at: Timestamp,
) -> Result<usize, CommandError> {
    let key = commands.deconfliction_key();
    let stream = key.case_stream(case_id.as_str());
    let command = registration(key, case_id, form, recorded_at);
    commands
        .execute(&commands.deconfliction, stream.as_str(), command, actor)
        .await?;
    let index = commands.matches();
    index.catch_up(commands.ledger()).await?;
    let values = index.read(|r| r.values_of(case_id)).unwrap_or_default();
    let planned: Vec<PlannedMatch> = index
        .read(|r| {
            values
                .iter()
                .flat_map(|f| r.plan(f, Some(case_id), recorded_at))
                .collect()
        })
        .unwrap_or_default();
    record_matches(commands, planned, actor).await
}

/// Records planned matches, each on its value's stream for its pair of units.
async fn record_matches(
    commands: &Commands,
    planned: Vec<PlannedMatch>,
    actor: &Actor,
) -> Result<usize, CommandError> {
    let mut lost_race = false;
    let count = planned.len();
    for m in planned {
        let stream =
            commands
                .deconfliction_key()
                .pair_stream(&m.fingerprint, &m.unit, &m.other_unit);
        let command = DeconflictionCommand::RecordMatch(m);
        let mut attempt = 1;
        loop {
            let result = commands
                .execute(
                    &commands.deconfliction,
                    stream.as_str(),
                    command.clone(),
                    actor,
                )
                .await;
            match result {
                Err(CommandError::Conflict) if attempt < MATCH_ATTEMPTS => {
                    lost_race = true;
                    attempt += 1;
                }
                other => break other?,
            }
        }
    }
    if lost_race {
        // The winner's match came from another request: read it before answering.
        commands.matches().catch_up(commands.ledger()).await?;
    }
    Ok(count)
}

/// What [`reconcile`] recorded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// Filed cases that had no registration, registered now.
    pub registered: usize,
    /// Matches that were missing, recorded now.
    pub matches: usize,
}

/// Repairs what a process that stopped mid-filing left undone: registers every filed
/// case that has no registration (it stopped between the case's commit and the
/// registration, or the ledger was written before deconfliction), then records every
/// match missing on the ledger (it stopped between a registration and its matches).
/// `serve` runs it at start-up.
pub async fn reconcile(commands: &Commands, actor: &Actor) -> Result<Reconciled, CommandError> {
    let index = commands.matches();
    index.catch_up(commands.ledger()).await?;
    let filed = commands
        .ledger()
        .storage()
        .streams_with_event(commands.ledger().id(), "case", "NotificationFiled")
        .await
        .map_err(LedgerError::from)?;
    let mut done = Reconciled::default();
    for raw in filed {
        let Ok(case_id) = CaseId::parse(raw) else {
            continue;
        };
        if index.read(|r| r.is_registered(&case_id)).unwrap_or(true) {
            continue;
        }
        let (_, case) = commands.load_case(&case_id).await?;
        if let Some(mut form) = case.notification {
            open_subject_identifiers(commands, &case_id, &mut form).await?;
            done.matches +=
                register_and_match(commands, &case_id, &form, actor, Timestamp::now()).await?;
            done.registered += 1;
        }
    }
    let planned = index
        .read(|r| r.plan_all(Timestamp::now()))
        .unwrap_or_default();
    done.matches += record_matches(commands, planned, actor).await?;
    Ok(done)
}

/// A case loaded from the ledger holds commitments, not values: its suspect
/// identifiers are opened from the sealed store (an erased value stays closed, and is
/// not compared).
async fn open_subject_identifiers(
    commands: &Commands,
    case_id: &CaseId,
    form: &mut NotificationForm,
) -> Result<(), CommandError> {
    if form
        .subject_identifiers
        .iter()
        .all(|s| s.value.value().is_some())
    {
        return Ok(());
    }
    let ledger = commands.ledger();
    let stream = StreamId::new("case", case_id.as_str());
    let rows = ledger
        .storage()
        .sealed_of_stream(ledger.id(), &stream)
        .await
        .map_err(LedgerError::from)?;
    let openings: HashMap<[u8; 32], String> = rows
        .into_iter()
        .filter(|r| r.opening.is_valid())
        .filter_map(|r| {
            let value = serde_json::from_slice::<String>(&r.opening.value).ok()?;
            Some((r.opening.commitment.0, value))
        })
        .collect();
    for subject in &mut form.subject_identifiers {
        let value = subject.value.commitment().and_then(|c| openings.get(&c.0));
        if let Some(value) = value {
            subject.value = Sealed::Open(value.clone());
        }
    }
    Ok(())
}

/// The Task Force's follow-up of a case filed with `deconfliction_checked: false`.
pub async fn follow_up(
    commands: &Commands,
    case_id: &CaseId,
    outcome: FollowUpOutcome,
    actor: &Actor,
    recorded_at: Timestamp,
) -> Result<(), CommandError> {
    let stream = commands.deconfliction_key().case_stream(case_id.as_str());
    let command = DeconflictionCommand::FollowUp {
        case_id: case_id.clone(),
        outcome,
        recorded_at,
    };
    commands
        .execute(&commands.deconfliction, stream.as_str(), command, actor)
        .await
}
