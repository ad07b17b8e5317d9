//! A realistic domain ledger, fast: the demo scenario (`icac_aggregates::demo`) decided
//! by the pure aggregates in memory, its events appended through `Ledger::append` with
//! thousands of requests in flight, so the sequencer commits full batches.
//!
//! `icac-ledger demo` runs each command through cqrs-es and waits for its commit before
//! the next (about 300 events/s). Here a command never waits for its own commit: the
//! aggregates, the unit directory and the CyberTip index live in this process, which is
//! the only writer, so every decision is made against exactly the state the ledger will
//! hold. The result is the same ledger `demo` writes for the same cases and seed: the
//! same streams, events, payloads and positions (tested), only `recorded_at`, hashes and
//! signatures differ, as they do between any two runs.
//!
//! Positions are predicted, because a correction names the position of the event it
//! corrects before that event may have committed. The requests reach the sequencer in
//! script order: one task first polls them in push order, each send finds room in the
//! queue and is exempt from tokio's cooperative budget, so it completes on that first
//! poll. Every committed position is checked against the prediction anyway.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use cqrs_es::{Aggregate, DomainEvent};
use futures::stream::{FuturesOrdered, StreamExt};
use icac_aggregates::case::{Case, CaseCommand};
use icac_aggregates::cybertip::{filing, ClaimOutcome, CyberTip, CyberTipCommand, CyberTipEvent};
use icac_aggregates::deconfliction::{Deconfliction, DeconflictionCommand, PlannedMatch, Registry};
use icac_aggregates::demo::{self, DemoCommand, ScriptedCommand};
use icac_aggregates::form::NotificationForm;
use icac_aggregates::ids::{CaseId, CyberTipNumber, LedgerPosition, Ori};
use icac_aggregates::operation::Operation;
use icac_aggregates::public_report::{PublicReport, PublicReportCommand};
use icac_aggregates::services::{
    CaseServices, InMemoryCyberTipIndex, InMemoryLedgerIndex, InMemoryUnitDirectory,
    LedgerEventRef, UnitDirectory,
};
use icac_aggregates::tip_intake::{Tip, TipCommand};
use icac_aggregates::units::Unit;
use jiff::Timestamp;

use crate::commands::deconfliction;
use crate::commands::deconfliction_key::DeconflictionKey;
use crate::commands::demo::DEMO_START;
use crate::ledger::sequencer::{AppendError, AppendRequest, RequestContext, QUEUE_DEPTH};
use crate::ledger::{Ledger, LedgerError};
use icac_format::key_events::LEDGER_AGGREGATE_TYPE;
use icac_format::record::{SealedEvent, StreamId};

/// Requests in flight by default: a little over two full sequencer batches of the
/// scenario's small commands, and well under the sequencer's queue depth, so a send
/// never waits for room (it could not reorder anyway: the queue is FIFO).
pub const DEFAULT_IN_FLIGHT: usize = 4_096;

/// The demo scenario yields about 10.1 events per case (20,152 for 2,000 cases, with
/// deconfliction and CyberTip intake); a
/// little less is assumed so a target is reached.
const EVENTS_PER_CASE_TENTHS: u64 = 100;

#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    pub cases: usize,
    pub seed: u64,
    /// Stop after the command that brings the ledger to this many events (the script
    /// is in time order, so the year ends early).
    pub max_events: Option<u64>,
    pub in_flight: usize,
    /// The deconfliction key's bytes; `None`: the ledger's own key file, as `demo`
    /// and `serve` use (`DeconflictionKey::for_ledger`).
    pub deconfliction_key: Option<[u8; 32]>,
}

impl GenerateOptions {
    /// Enough cases for `events` events; stops there.
    pub fn for_events(events: u64, seed: u64) -> Self {
        let cases =
            (events * 10 / EVENTS_PER_CASE_TENTHS + 100).min(demo::MAX_CASES as u64) as usize;
        Self {
            cases,
            seed,
            max_events: Some(events),
            in_flight: DEFAULT_IN_FLIGHT,
            deconfliction_key: None,
        }
    }
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct GenerateSummary {
    pub cases: usize,
    pub commands: usize,
    /// Commands the domain refused (the script is built to be accepted; `demo`
    /// counts the same ones).
    pub rejected: usize,
    pub events: u64,
    pub head: u64,
    pub seconds: f64,
    pub events_per_second: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(
        "the ledger already holds {0} events beyond its key events; generate into a fresh ledger"
    )]
    NotFresh(u64),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("append: {0}")]
    Append(#[from] AppendError),
    #[error("event at position {got} was predicted at {expected}: another writer is appending to this ledger")]
    Diverged { expected: u64, got: u64 },
    #[error(
        "demo correction refers to {event_type} #{occurrence} in {stream}, which does not exist"
    )]
    MissingCorrectionTarget {
        event_type: &'static str,
        occurrence: u32,
        stream: StreamId,
    },
    #[error("event cannot be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error(transparent)]
    Sealing(#[from] crate::event_store::SealingError),
    #[error("{0}")]
    Internal(String),
}

/// One aggregate instance as the ledger will hold it.
struct Entry<A> {
    sequence: u64,
    state: A,
    /// (event type, position) of each event, for corrections.
    events: Vec<(String, u64)>,
}

impl<A: Default> Default for Entry<A> {
    fn default() -> Self {
        Self {
            sequence: 0,
            state: A::default(),
            events: Vec::new(),
        }
    }
}

/// Why a command produced no request.
enum Refusal {
    /// The domain said no: counted, like `demo` does.
    Rejected,
    Fatal(GenerateError),
}

impl From<GenerateError> for Refusal {
    fn from(e: GenerateError) -> Self {
        Refusal::Fatal(e)
    }
}

/// The aggregates and the facts their rules read, kept in memory.
struct Domain {
    units: HashMap<String, Entry<Unit>>,
    cases: HashMap<String, Entry<Case>>,
    tips: HashMap<String, Entry<CyberTip>>,
    operations: HashMap<String, Entry<Operation>>,
    public_reports: HashMap<String, Entry<PublicReport>>,
    ncmec_tips: HashMap<String, Entry<Tip>>,
    deconfliction: HashMap<String, Entry<Deconfliction>>,
    /// `commands::deconfliction::MatchIndex`'s registry, always current here.
    registry: Registry,
    key: DeconflictionKey,
    directory: Arc<InMemoryUnitDirectory>,
    unit_directory: Arc<dyn UnitDirectory>,
    tip_index: Arc<InMemoryCyberTipIndex>,
    ledger_index: Arc<InMemoryLedgerIndex>,
    case_services: CaseServices,
    /// The position the next event will get.
    next_position: u64,
    /// Requests of the command being executed, in order.
    out: Vec<(u64, AppendRequest)>,
}

fn decide_and_record<A, E>(
    streams: &mut HashMap<String, Entry<A>>,
    id: &str,
    context: &RequestContext,
    next_position: &mut u64,
    out: &mut Vec<(u64, AppendRequest)>,
    decide: impl FnOnce(&A) -> Result<Vec<A::Event>, E>,
) -> Result<Vec<A::Event>, Refusal>
where
    A: Aggregate + Default,
    A::Event: icac_aggregates::sealed::SealedEffects,
{
    let entry = streams.entry(id.to_owned()).or_default();
    let events = decide(&entry.state).map_err(|_| Refusal::Rejected)?;
    if events.is_empty() {
        return Ok(events);
    }
    let first = *next_position;
    let mut new_events = Vec::with_capacity(events.len());
    for e in &events {
        new_events.push(crate::event_store::sealed_event(e).map_err(GenerateError::from)?);
        entry.events.push((e.event_type(), *next_position));
        *next_position += 1;
    }
    out.push((
        first,
        AppendRequest {
            stream: StreamId::new(A::TYPE, id),
            expected_sequence: entry.sequence,
            events: new_events,
            context: context.clone(),
        },
    ));
    entry.sequence += events.len() as u64;
    for e in &events {
        entry.state.apply(e.clone());
    }
    Ok(events)
}

impl Domain {
    fn new(next_position: u64, key: DeconflictionKey) -> Result<Self, GenerateError> {
        let directory = Arc::new(InMemoryUnitDirectory::default());
        let tip_index = Arc::new(InMemoryCyberTipIndex::default());
        let ledger_index = Arc::new(InMemoryLedgerIndex::default());
        let case_services =
            CaseServices::new(directory.clone(), tip_index.clone(), ledger_index.clone())
                .map_err(|e| GenerateError::Internal(e.to_string()))?;
        Ok(Self {
            units: HashMap::new(),
            cases: HashMap::new(),
            tips: HashMap::new(),
            operations: HashMap::new(),
            public_reports: HashMap::new(),
            ncmec_tips: HashMap::new(),
            deconfliction: HashMap::new(),
            registry: Registry::default(),
            key,
            unit_directory: directory.clone(),
            directory,
            tip_index,
            ledger_index,
            case_services,
            next_position,
            out: Vec::new(),
        })
    }

    /// Executes one scripted command exactly as `commands::demo` does; the requests
    /// it produced are left in `self.out`.
    fn execute(&mut self, step: ScriptedCommand, context: &RequestContext) -> Result<(), Refusal> {
        let step = self.resolve(step)?;
        let id = step.aggregate_id.as_str();
        match step.command {
            DemoCommand::Unit(c) => {
                let events = decide_and_record(
                    &mut self.units,
                    id,
                    context,
                    &mut self.next_position,
                    &mut self.out,
                    |u| u.decide(c),
                )?;
                if let Ok(ori) = Ori::parse(id) {
                    for e in &events {
                        self.directory.apply(&ori, e);
                    }
                }
                Ok(())
            }
            DemoCommand::Case(CaseCommand::FileNotification(f)) => {
                self.file_form(f.case_id, f.form, f.recorded_at, context)
            }
            DemoCommand::Case(c) => self.case(id, c, context),
            DemoCommand::Cybertip(c) => self.cybertip(id, c, context).map(|_| ()),
            DemoCommand::Operation(c) => {
                let units = self.unit_directory.clone();
                decide_and_record(
                    &mut self.operations,
                    id,
                    context,
                    &mut self.next_position,
                    &mut self.out,
                    |o| o.decide(c, units.as_ref()),
                )
                .map(|_| ())
            }
            DemoCommand::PublicReport(c) => self.public_report(id, c, context),
            DemoCommand::Tip(c) => {
                let units = self.unit_directory.clone();
                decide_and_record(
                    &mut self.ncmec_tips,
                    id,
                    context,
                    &mut self.next_position,
                    &mut self.out,
                    |t| t.decide(c, units.as_ref()),
                )
                .map(|_| ())
            }
            DemoCommand::AcknowledgeTip {
                cybertip_number,
                unit,
                unit_case_number,
            } => self.acknowledge_tip(&cybertip_number, unit, unit_case_number, step.at, context),
        }
    }

    /// Fills in the position a correction refers to (`commands::demo::resolve`) and
    /// tells the ledger index what sits there (`PrefetchedLedgerIndex::prefetch`).
    fn resolve(&mut self, step: ScriptedCommand) -> Result<ScriptedCommand, Refusal> {
        let Some(query) = step.resolve_position.clone() else {
            return Ok(step);
        };
        let events = match query.aggregate_type {
            "case" => self.cases.get(&query.aggregate_id).map(|e| &e.events),
            "unit" => self.units.get(&query.aggregate_id).map(|e| &e.events),
            "cybertip" => self.tips.get(&query.aggregate_id).map(|e| &e.events),
            "operation" => self.operations.get(&query.aggregate_id).map(|e| &e.events),
            "public_report" => self
                .public_reports
                .get(&query.aggregate_id)
                .map(|e| &e.events),
            "ncmec_tip" => self.ncmec_tips.get(&query.aggregate_id).map(|e| &e.events),

            _ => None,
        };
        let position = events.and_then(|events| {
            events
                .iter()
                .filter(|(t, _)| t == query.event_type)
                .nth(query.occurrence.saturating_sub(1) as usize)
                .map(|(_, p)| *p)
        });
        let Some(position) = position else {
            return Err(Refusal::Fatal(GenerateError::MissingCorrectionTarget {
                event_type: query.event_type,
                occurrence: query.occurrence,
                stream: StreamId::new(query.aggregate_type, &query.aggregate_id),
            }));
        };
        let at = LedgerPosition::new(position);
        self.ledger_index.insert(
            at,
            LedgerEventRef {
                aggregate_type: query.aggregate_type.to_owned(),
                aggregate_id: query.aggregate_id.clone(),
                event_type: query.event_type.to_owned(),
            },
        );
        Ok(step.with_position(at))
    }

    /// `commands::public_report::run`, decided in memory: routing also logs the
    /// complaint on the unit's case, as the report words it.
    fn public_report(
        &mut self,
        id: &str,
        c: PublicReportCommand,
        context: &RequestContext,
    ) -> Result<(), Refusal> {
        let routed_at = match &c {
            PublicReportCommand::RouteToUnit { recorded_at, .. } => Some(*recorded_at),
            _ => None,
        };
        let units = self.unit_directory.clone();
        decide_and_record(
            &mut self.public_reports,
            id,
            context,
            &mut self.next_position,
            &mut self.out,
            |r| r.decide(c, units.as_ref()),
        )?;
        let Some(at) = routed_at else { return Ok(()) };
        let complaint = self
            .public_reports
            .get(id)
            .and_then(|r| r.state.routing_complaint(at).ok().flatten());
        match complaint {
            Some(complaint) => {
                let case_id = complaint.case_id.to_string();
                self.case(&case_id, CaseCommand::LogComplaint(complaint), context)
            }
            None => Ok(()),
        }
    }

    fn case(&mut self, id: &str, c: CaseCommand, context: &RequestContext) -> Result<(), Refusal> {
        let services = self.case_services.clone();
        decide_and_record(
            &mut self.cases,
            id,
            context,
            &mut self.next_position,
            &mut self.out,
            |case| case.decide(c, &services),
        )
        .map(|_| ())
    }

    fn cybertip(
        &mut self,
        tip: &str,
        c: CyberTipCommand,
        context: &RequestContext,
    ) -> Result<Vec<CyberTipEvent>, Refusal> {
        let events = decide_and_record(
            &mut self.tips,
            tip,
            context,
            &mut self.next_position,
            &mut self.out,
            |t| t.decide(c),
        )?;
        // `commands::indexes::CyberTipIndexQuery`.
        for e in &events {
            match e {
                CyberTipEvent::CyberTipClaimed {
                    cybertip_number,
                    case_id,
                    ..
                } => self
                    .tip_index
                    .insert(cybertip_number.clone(), case_id.clone()),
                CyberTipEvent::CyberTipReleased { .. } => {
                    if let Ok(t) = CyberTipNumber::parse(tip) {
                        self.tip_index.remove(&t);
                    }
                }
            }
        }
        Ok(events)
    }

    /// `commands::filing::file_form`, decided in memory: the own case's filing (a tip
    /// another case holds is no reason to refuse), then deconfliction.
    fn file_form(
        &mut self,
        case_id: CaseId,
        form: NotificationForm,
        recorded_at: Timestamp,
        context: &RequestContext,
    ) -> Result<(), Refusal> {
        let own_filing = CaseCommand::FileNotification(icac_aggregates::case::FileNotification {
            case_id: case_id.clone(),
            form: form.clone(),
            recorded_at,
        });
        let accepted = match self.cases.get(case_id.as_str()) {
            Some(e) => e
                .state
                .decide(own_filing.clone(), &self.case_services)
                .is_ok(),
            None => Case::default()
                .decide(own_filing.clone(), &self.case_services)
                .is_ok(),
        };
        if !accepted {
            return Err(Refusal::Rejected);
        }
        let claim = filing::claim(&case_id, &form, recorded_at);
        let outcome = match &claim {
            None => ClaimOutcome::FileOnOwnCase,
            Some((tip, command)) => {
                let entry = self.tips.entry(tip.clone()).or_default();
                match entry.state.decide(command.clone()) {
                    Ok(_) => {
                        self.cybertip(tip, command.clone(), context)?;
                        ClaimOutcome::FileOnOwnCase
                    }
                    Err(e) => ClaimOutcome::from_result(Err(&e)).map_err(|_| Refusal::Rejected)?,
                }
            }
        };
        // Another case's claim is never stranded here (this process is the only writer
        // and releases a claim whose filing failed), so it stays that case's.
        let claimed_own = claim.is_some()
            && match outcome {
                ClaimOutcome::FileOnOwnCase => true,
                ClaimOutcome::LinkToExisting(holder) => holder == case_id,
            };
        match self.case(case_id.as_str(), own_filing, context) {
            Ok(()) => {}
            Err(Refusal::Rejected) => {
                if let (true, Some((tip, _))) = (claimed_own, &claim) {
                    let release = CyberTipCommand::Release {
                        case_id: case_id.clone(),
                        reason: "notification could not be filed".into(),
                        recorded_at,
                    };
                    match self.cybertip(tip, release, context) {
                        Ok(_) | Err(Refusal::Rejected) => {}
                        Err(fatal) => return Err(fatal),
                    }
                }
                return Err(Refusal::Rejected);
            }
            Err(fatal) => return Err(fatal),
        }
        self.deconflict(&case_id, &form, recorded_at, context)
    }

    /// `commands::tip_intake::acknowledge`, decided in memory: the tip records the
    /// acknowledgement, then the unit's case logs the complaint. A case already open
    /// is refused there as invalid input, which stops `demo`: here too.
    fn acknowledge_tip(
        &mut self,
        tip: &CyberTipNumber,
        unit: Ori,
        number: icac_aggregates::ids::UnitCaseNumber,
        at: Timestamp,
        context: &RequestContext,
    ) -> Result<(), Refusal> {
        let case_id = CaseId::for_unit_case(&unit, &number)
            .map_err(|e| GenerateError::Internal(e.to_string()))?;
        if self
            .cases
            .get(case_id.as_str())
            .is_some_and(|e| e.sequence > 0)
        {
            return Err(Refusal::Fatal(GenerateError::Internal(format!(
                "demo acknowledges tip {tip} as case {case_id}, which is already open"
            ))));
        }
        let units = self.unit_directory.clone();
        let command = TipCommand::Acknowledge {
            unit: unit.clone(),
            case_id: case_id.clone(),
            recorded_at: at,
        };
        decide_and_record(
            &mut self.ncmec_tips,
            tip.as_str(),
            context,
            &mut self.next_position,
            &mut self.out,
            |t| t.decide(command, units.as_ref()),
        )?;
        let complaint = CaseCommand::LogComplaint(icac_aggregates::case::LogComplaint {
            case_id: case_id.clone(),
            reporting_unit: unit,
            unit_case_number: Some(number),
            received_on: icac_aggregates::local_time::ct_date(at),
            received_time: None,
            received_offset: None,
            source: icac_aggregates::form::v1::Source::NcmecCybertip {
                cybertip_number: tip.clone(),
            },
            recorded_at: at,
        });
        self.case(case_id.as_str(), complaint, context)
    }

    /// `commands::deconfliction::register_filing`, decided in memory: the registry is
    /// always current here, so the plan is the one the demo's filing makes.
    fn deconflict(
        &mut self,
        case_id: &CaseId,
        form: &NotificationForm,
        recorded_at: Timestamp,
        context: &RequestContext,
    ) -> Result<(), Refusal> {
        let command = deconfliction::registration(&self.key, case_id, form, recorded_at);
        let stream = self.key.case_stream(case_id.as_str());
        let events = decide_and_record(
            &mut self.deconfliction,
            stream.as_str(),
            context,
            &mut self.next_position,
            &mut self.out,
            |d| d.decide(command),
        )?;
        events.iter().for_each(|e| self.registry.apply(e));
        let planned: Vec<PlannedMatch> = self
            .registry
            .values_of(case_id)
            .iter()
            .flat_map(|f| self.registry.plan(f, Some(case_id), recorded_at))
            .collect();
        for m in planned {
            let stream = self.key.pair_stream(&m.fingerprint, &m.unit, &m.other_unit);
            let events = decide_and_record(
                &mut self.deconfliction,
                stream.as_str(),
                context,
                &mut self.next_position,
                &mut self.out,
                |d| d.decide(DeconflictionCommand::RecordMatch(m)),
            )?;
            events.iter().for_each(|e| self.registry.apply(e));
        }
        Ok(())
    }
}

/// Checks that the sequencer placed a request where it was predicted.
fn check(
    expected: u64,
    result: Result<Vec<SealedEvent>, AppendError>,
) -> Result<u64, GenerateError> {
    let sealed = result?;
    if let Some(first) = sealed.first() {
        if first.record.position != expected {
            return Err(GenerateError::Diverged {
                expected,
                got: first.record.position,
            });
        }
    }
    Ok(sealed.len() as u64)
}

/// Appends the demo scenario for `options.cases` cases from `options.seed` to a fresh
/// ledger (nothing but its key events). `progress` is told the events committed so far,
/// about every 50,000.
pub async fn generate(
    ledger: &Ledger,
    options: GenerateOptions,
    mut progress: impl FnMut(u64),
) -> Result<GenerateSummary, GenerateError> {
    let started = Instant::now();
    let head = ledger.head().await?.position;
    let keys = ledger
        .storage()
        .read_type(ledger.id(), LEDGER_AGGREGATE_TYPE)
        .await
        .map_err(LedgerError::from)?
        .len() as u64;
    if head > keys {
        return Err(GenerateError::NotFresh(head - keys));
    }
    let script = demo::generate(options.cases, options.seed, DEMO_START);
    let key = match options.deconfliction_key {
        Some(bytes) => DeconflictionKey::from_bytes(bytes),
        None => DeconflictionKey::for_ledger(ledger)
            .map_err(|e| GenerateError::Internal(e.to_string()))?,
    };
    let mut domain = Domain::new(head + 1, key)?;
    let in_flight_limit = options.in_flight.clamp(1, QUEUE_DEPTH / 2);
    let mut in_flight = FuturesOrdered::new();
    let mut summary = GenerateSummary {
        cases: options.cases,
        commands: 0,
        rejected: 0,
        events: 0,
        head,
        seconds: 0.0,
        events_per_second: 0.0,
    };
    let mut reported = 0u64;
    for (i, step) in script.into_iter().enumerate() {
        if options
            .max_events
            .is_some_and(|max| domain.next_position - head > max)
        {
            break;
        }
        let context = RequestContext {
            principal: "demo:generator".into(),
            unit: None,
            request_id: format!("demo-{}-{i}", options.seed),
            correlation_id: None,
        };
        summary.commands += 1;
        match domain.execute(step, &context) {
            Ok(()) => {}
            Err(Refusal::Rejected) => summary.rejected += 1,
            Err(Refusal::Fatal(e)) => return Err(e),
        }
        for (first, request) in domain.out.drain(..) {
            // Outside tokio's cooperative budget: a budgeted send could be put back
            // behind later requests, and the positions would not be the predicted ones.
            in_flight.push_back(tokio::task::unconstrained(async move {
                (first, ledger.append(request).await)
            }));
            while in_flight.len() >= in_flight_limit {
                if let Some((first, result)) = in_flight.next().await {
                    summary.events += check(first, result)?;
                }
            }
        }
        if summary.events >= reported + 50_000 {
            reported = summary.events;
            progress(summary.events);
        }
    }
    while let Some((first, result)) = in_flight.next().await {
        summary.events += check(first, result)?;
    }
    progress(summary.events);
    summary.head = head + summary.events;
    summary.seconds = started.elapsed().as_secs_f64();
    summary.events_per_second = summary.events as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_cases_for_a_million_events() {
        let o = GenerateOptions::for_events(1_000_000, 7);
        assert!(o.cases as u64 * EVENTS_PER_CASE_TENTHS / 10 >= 1_000_000);
        assert_eq!(o.max_events, Some(1_000_000));
    }

    #[test]
    fn unit_directory_follows_unit_events() {
        let mut d = Domain::new(2, DeconflictionKey::ephemeral()).unwrap();
        let ori = Ori::parse("CT0006400").unwrap();
        let ctx = RequestContext {
            principal: "t".into(),
            unit: None,
            request_id: "r".into(),
            correlation_id: None,
        };
        let step = demo::generate(1, 1, DEMO_START)
            .into_iter()
            .find(|s| s.aggregate_id == ori.as_str())
            .unwrap();
        assert!(d.execute(step, &ctx).is_ok());
        assert!(d.directory.unit(&ori).is_some());
        assert_eq!(d.out.len(), 1);
        assert_eq!(d.out[0].0, 2);
        assert_eq!(d.next_position, 3);
    }
}
