//! The command side of the application: a command from HTTP or the CLI reaches an
//! aggregate through cqrs-es (`execute_with_metadata`), and its events reach the ledger
//! through `event_store::LedgerEventStore`.

pub mod case_at;
pub mod deconfliction;
pub mod deconfliction_key;
pub mod demo;
pub mod erasure;
pub mod filing;
pub mod import;
pub mod indexes;
mod operation_links;
pub mod public_report;
pub mod registration;
pub mod release;
pub mod setup;
pub mod tip_intake;

use icac_aggregates::text::BlamesField;
use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::{Aggregate, AggregateError, CqrsFramework};
use icac_aggregates::case::{Case, CaseCommand};
use icac_aggregates::cybertip::CyberTip;
use icac_aggregates::ids::CaseId;
use icac_aggregates::operation::Operation;
use icac_aggregates::public_report::PublicReport;
use icac_aggregates::services::{
    CaseServices, InMemoryCyberTipIndex, InMemoryUnitDirectory, UnitDirectory,
};
use icac_aggregates::units::Unit;

use crate::event_store::{
    LedgerEventStore, StaleLoads, META_CORRELATION_ID, META_PRINCIPAL, META_REQUEST_ID, META_UNIT,
};
use crate::ledger::{Ledger, LedgerError};
use indexes::{CyberTipIndexQuery, PrefetchedLedgerIndex, UnitDirectoryQuery};

/// Who issues a command; recorded in every event's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// e.g. `unit-reporter:CT0006400:jdoe`, `investigator:icac-2`, `cli:import`.
    pub principal: String,
    /// The acting principal's unit (ORI), if bound to one.
    pub unit: Option<String>,
    pub request_id: String,
    pub correlation_id: Option<String>,
}

impl Actor {
    pub fn system(principal: &str, request_id: impl Into<String>) -> Self {
        Actor {
            principal: principal.into(),
            unit: None,
            request_id: request_id.into(),
            correlation_id: None,
        }
    }

    pub(crate) fn metadata(&self) -> HashMap<String, String> {
        let mut m = HashMap::with_capacity(4);
        m.insert(META_PRINCIPAL.into(), self.principal.clone());
        m.insert(META_REQUEST_ID.into(), self.request_id.clone());
        if let Some(u) = &self.unit {
            m.insert(META_UNIT.into(), u.clone());
        }
        if let Some(c) = &self.correlation_id {
            m.insert(META_CORRELATION_ID.into(), c.clone());
        }
        m
    }
}

/// A refusal by a rule: its stable name (problem+json's `kind`; the domain error's
/// variant, or the orchestration's own rule) and its words for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub rule: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(rule: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            rule,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The domain refused the command (a rule of the statute or the state of the case).
    #[error("{0}")]
    Rejected(Refusal),
    /// The form or input did not validate; every problem with its JSON Pointer.
    #[error("{} problem(s) with the input", .0.len())]
    Invalid(Vec<icac_aggregates::form::FieldError>),
    /// The record the command would create exists already (a unit, an operation).
    #[error("{0}")]
    AlreadyExists(String),
    /// Someone else changed the same record first; retry on the new state.
    #[error("the record was changed by someone else at the same time; reload and retry")]
    Conflict,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The ledger holds no key it may sign with (a rotation retired it); nothing was
    /// written, and writes resume once the operator installs the new key.
    #[error(transparent)]
    SigningKey(crate::ledger::signer::SignerError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl<E: std::error::Error + BlamesField> From<AggregateError<E>> for CommandError {
    fn from(e: AggregateError<E>) -> Self {
        match e {
            // Bad input in one field is a validation problem with a pointer to it.
            AggregateError::UserError(e) => match e.blamed_field() {
                Some(field) => CommandError::Invalid(vec![icac_aggregates::form::FieldError {
                    pointer: format!("/{}", field.replace('.', "/")),
                    message: e.to_string(),
                }]),
                None => CommandError::Rejected(Refusal::new(e.rule(), e.to_string())),
            },
            AggregateError::AggregateConflict => CommandError::Conflict,
            AggregateError::UnexpectedError(e) => {
                match e.downcast_ref::<crate::ledger::sequencer::AppendError>() {
                    Some(crate::ledger::sequencer::AppendError::SigningKey(k)) => {
                        CommandError::SigningKey(k.clone())
                    }
                    _ => CommandError::Internal(e.to_string()),
                }
            }
            AggregateError::DatabaseConnectionError(e)
            | AggregateError::DeserializationError(e) => CommandError::Internal(e.to_string()),
        }
    }
}

type Framework<A> = CqrsFramework<A, LedgerEventStore<A>>;

/// Every aggregate's cqrs-es framework over one ledger, plus the snapshots the rules read.
pub struct Commands {
    ledger: Ledger,
    pub units: Framework<Unit>,
    pub cases: Framework<Case>,
    pub cybertips: Framework<CyberTip>,
    pub operations: Framework<Operation>,
    pub public_reports: Framework<PublicReport>,
    pub ncmec_tips: Framework<icac_aggregates::tip_intake::Tip>,
    pub deconfliction: Framework<icac_aggregates::deconfliction::Deconfliction>,
    deconfliction_key: deconfliction_key::DeconflictionKey,
    matches: Arc<deconfliction::MatchIndex>,
    directory: Arc<InMemoryUnitDirectory>,
    ledger_index: Arc<PrefetchedLedgerIndex>,
    tips: Arc<InMemoryCyberTipIndex>,
    case_services: CaseServices,
    stale: Arc<StaleLoads>,
}

impl Commands {
    /// Builds the frameworks and warms the indexes from the ledger. The deconfliction
    /// key is the file next to the signing key (created on first use); a ledger opened
    /// without a key file gets a key for this process only.
    pub async fn open(ledger: Ledger) -> Result<Self, CommandError> {
        let key = deconfliction_key::DeconflictionKey::for_ledger(&ledger)
            .map_err(|e| CommandError::Internal(e.to_string()))?;
        Self::open_with_deconfliction_key(ledger, key).await
    }

    /// As `open`, comparing identifiers under `deconfliction_key`.
    pub async fn open_with_deconfliction_key(
        ledger: Ledger,
        deconfliction_key: deconfliction_key::DeconflictionKey,
    ) -> Result<Self, CommandError> {
        let directory = Arc::new(InMemoryUnitDirectory::default());
        let tips = Arc::new(InMemoryCyberTipIndex::default());
        let ledger_index = Arc::new(PrefetchedLedgerIndex::default());
        let tip_query = CyberTipIndexQuery(tips.clone());
        indexes::warm(&ledger, &directory, &tip_query).await?;
        let matches = Arc::new(deconfliction::MatchIndex::default());
        deconfliction::warm(&ledger, &matches).await?;

        let case_services =
            CaseServices::new(directory.clone(), tips.clone(), ledger_index.clone())
                .map_err(|e| CommandError::Internal(e.to_string()))?;
        let unit_dir: Arc<dyn UnitDirectory> = directory.clone();
        let stale = Arc::new(StaleLoads::default());
        Ok(Commands {
            units: CqrsFramework::new(
                store(&ledger, &stale),
                vec![Box::new(UnitDirectoryQuery(directory.clone()))],
                (),
            ),
            cases: CqrsFramework::new(store(&ledger, &stale), vec![], case_services.clone()),
            cybertips: CqrsFramework::new(store(&ledger, &stale), vec![Box::new(tip_query)], ()),
            operations: CqrsFramework::new(store(&ledger, &stale), vec![], unit_dir.clone()),
            public_reports: CqrsFramework::new(store(&ledger, &stale), vec![], unit_dir.clone()),
            ncmec_tips: CqrsFramework::new(store(&ledger, &stale), vec![], unit_dir),
            deconfliction: CqrsFramework::new(
                store(&ledger, &stale),
                vec![Box::new(deconfliction::MatchIndexQuery(matches.clone()))],
                (),
            ),
            deconfliction_key,
            matches,
            stale,
            ledger,
            directory,
            ledger_index,
            tips,
            case_services,
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The key subject identifiers are compared under (never logged, never stored).
    pub fn deconfliction_key(&self) -> &deconfliction_key::DeconflictionKey {
        &self.deconfliction_key
    }

    /// Every deconfliction match this process knows of.
    pub fn matches(&self) -> &deconfliction::MatchIndex {
        &self.matches
    }

    pub fn directory(&self) -> &Arc<InMemoryUnitDirectory> {
        &self.directory
    }

    /// The case currently holding a CyberTip, as far as this process has seen.
    pub fn tip_holder(&self, tip: &icac_aggregates::ids::CyberTipNumber) -> Option<CaseId> {
        icac_aggregates::services::CyberTipIndex::case_for(self.tips.as_ref(), tip)
    }

    /// Runs one command on one aggregate instance. If it conflicted only because this
    /// process's cached state was behind another process's writes, it runs once more on
    /// the state read afresh, as it would have had the cache not existed.
    pub async fn execute<A>(
        &self,
        framework: &Framework<A>,
        aggregate_id: &str,
        command: A::Command,
        actor: &Actor,
    ) -> Result<(), CommandError>
    where
        A: Aggregate + Clone + 'static,
        A::Error: BlamesField,
        A::Command: Clone,
        A::Event: icac_aggregates::sealed::SealedEffects,
    {
        let first = framework
            .execute_with_metadata(aggregate_id, command.clone(), actor.metadata())
            .await;
        match first {
            Err(AggregateError::AggregateConflict) if self.stale.take(A::TYPE, aggregate_id) => {
                framework
                    .execute_with_metadata(aggregate_id, command, actor.metadata())
                    .await
            }
            other => other,
        }
        .map_err(CommandError::from)
    }

    /// A case as currently recorded, with the sequence of its last event (0: no events).
    pub async fn load_case(&self, case_id: &CaseId) -> Result<(u64, Case), CommandError> {
        self.load::<Case>(case_id.as_str()).await
    }

    /// One aggregate's state read afresh from the ledger, with its stream's length.
    pub async fn load<A>(&self, aggregate_id: &str) -> Result<(u64, A), CommandError>
    where
        A: Aggregate + Clone + 'static,
        A::Event: icac_aggregates::sealed::SealedEffects,
        A::Error: BlamesField,
    {
        let store = LedgerEventStore::<A>::new(self.ledger.clone(), upcast_payload);
        let mut context = cqrs_es::EventStore::<A>::load_aggregate(&store, aggregate_id).await?;
        let sequence = context.sequence();
        Ok((
            sequence,
            std::mem::take(cqrs_es::AggregateContext::aggregate(&mut context)),
        ))
    }

    /// Asks `case` whether it would accept `command`, without recording anything.
    pub fn would_accept(&self, case: &Case, command: CaseCommand) -> Result<(), CommandError> {
        case.decide(command, &self.case_services)
            .map(|_| ())
            .map_err(|e| CommandError::Rejected(Refusal::new(e.rule(), e.to_string())))
    }

    /// Runs a case command; a correction first learns what event its position names.
    pub async fn execute_case(
        &self,
        case_id: &CaseId,
        command: CaseCommand,
        actor: &Actor,
    ) -> Result<(), CommandError> {
        match &command {
            CaseCommand::RecordCorrection(c) => {
                self.ledger_index.prefetch(&self.ledger, c.corrects).await?;
            }
            CaseCommand::LinkOperation(c) => {
                operation_links::check_operation_exists(self, &c.operation_id).await?;
            }
            _ => {}
        }
        self.execute(&self.cases, case_id.as_str(), command, actor)
            .await
    }
}

/// The domain's upcaster in the shape the event store wants.
pub(crate) fn upcast_payload(
    aggregate_type: &str,
    event_type: &str,
    event_version: &str,
    payload: serde_json::Value,
) -> Result<serde_json::Value, String> {
    icac_aggregates::upcast::upcast(aggregate_type, event_type, event_version, payload)
        .map(|(_, value)| value)
        .map_err(|e| e.to_string())
}

pub(crate) fn store<A>(ledger: &Ledger, stale: &Arc<StaleLoads>) -> LedgerEventStore<A> {
    LedgerEventStore::new(ledger.clone(), upcast_payload).with_stale_loads(stale.clone())
}
