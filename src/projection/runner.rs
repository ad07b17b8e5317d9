//! Keeps the read models current: the follower applies each batch this process
//! commits straight from memory (reading the ledger only for what it did not see,
//! such as other processes' writes), and writes the changed views behind, a few
//! times a second rather than once per batch.
//!
//! Write-behind is safe because views are derived data: each write stores the
//! position it reflects, and after a crash the runner reloads the views and
//! folds the ledger from that position on. Reads are served from memory.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use icac_aggregates::compliance::DeadlinePolicy;
use icac_aggregates::ids::{CaseId, Ori};
use icac_projections::case_view::CaseView;
use icac_projections::compliance::{compliance, ComplianceReport};
use icac_projections::{ReadModels, ViewKey};
use jiff::civil::Date;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Mutex, RwLock};

use super::{from_sealed, store, to_ledger_event, ProjectionError};
use crate::ledger::record::{LedgerId, SealedEvent};
use crate::ledger::Ledger;
use crate::storage::Storage;
use crate::storage::READ_PAGE;

/// Longest time a changed view waits in memory before it is written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// Changed views that trigger a write without waiting for the interval.
const FLUSH_VIEWS: usize = 4_096;

/// Cheap to clone; all clones share the models.
#[derive(Clone)]
pub struct ProjectionRunner {
    storage: Storage,
    ledger_id: LedgerId,
    models: Arc<RwLock<ReadModels>>,
    /// Views changed in memory and not yet written. Its lock is also the
    /// applier's lock: one fold at a time, so events are applied once, in order.
    unwritten: Arc<Mutex<Unwritten>>,
}

#[derive(Default)]
struct Unwritten {
    views: BTreeSet<ViewKey>,
    /// Position the view tables hold (all of them written up to here).
    stored: u64,
}

impl ProjectionRunner {
    /// Loads the persisted views (or starts empty).
    pub async fn open(storage: Storage, ledger_id: LedgerId) -> Result<Self, ProjectionError> {
        let models = store::load(&storage, &ledger_id).await?;
        let stored = models.position;
        Ok(Self {
            storage,
            ledger_id,
            models: Arc::new(RwLock::new(models)),
            unwritten: Arc::new(Mutex::new(Unwritten {
                views: BTreeSet::new(),
                stored,
            })),
        })
    }

    /// Applies every committed event not yet applied and writes every changed view;
    /// returns the position reached. For the CLI, tests and shutdown: when it returns,
    /// the view tables hold the head it saw.
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        let mut unwritten = self.unwritten.lock().await;
        self.read_ledger(&mut unwritten).await?;
        self.write(&mut unwritten).await?;
        Ok(self.models.read().await.position)
    }

    /// Brings the in-memory models to the ledger head (a read right after a write sees
    /// it) without waiting for the views to be written.
    pub async fn refresh(&self) -> Result<u64, ProjectionError> {
        let mut unwritten = self.unwritten.lock().await;
        self.read_ledger(&mut unwritten).await
    }

    /// Folds ledger rows after the models' position, page by page.
    async fn read_ledger(&self, unwritten: &mut Unwritten) -> Result<u64, ProjectionError> {
        loop {
            let from = self.models.read().await.position + 1;
            let rows = self
                .storage
                .read_page(&self.ledger_id, from, READ_PAGE)
                .await?;
            let count = rows.len();
            // Decode outside the models' lock: it is the expensive part.
            let mut events = Vec::with_capacity(count);
            for row in rows {
                let position = row.position;
                events.push((position, to_ledger_event(row)?));
            }
            self.apply(unwritten, &events).await?;
            if count < READ_PAGE as usize {
                return Ok(self.models.read().await.position);
            }
        }
    }

    /// Applies a batch this process committed; falls back to reading the ledger when
    /// the batch does not follow on from the models (events it never saw came first).
    async fn apply_committed(&self, batch: &[SealedEvent]) -> Result<(), ProjectionError> {
        let mut unwritten = self.unwritten.lock().await;
        let position = self.models.read().await.position;
        let fresh: Vec<&SealedEvent> = batch
            .iter()
            .filter(|e| e.record.position > position)
            .collect();
        match fresh.first() {
            None => Ok(()),
            Some(first) if first.record.position == position + 1 => {
                let mut events = Vec::with_capacity(fresh.len());
                for e in fresh {
                    events.push((e.record.position, from_sealed(e)?));
                }
                self.apply(&mut unwritten, &events).await
            }
            Some(_) => self.read_ledger(&mut unwritten).await.map(|_| ()),
        }
    }

    async fn apply(
        &self,
        unwritten: &mut Unwritten,
        events: &[(u64, Option<icac_projections::LedgerEvent>)],
    ) -> Result<(), ProjectionError> {
        let mut models = self.models.write().await;
        for (position, event) in events {
            match event {
                Some(e) => {
                    if let Some(key) = models.apply(e)? {
                        unwritten.views.insert(key);
                    }
                }
                None => models.skip(*position)?,
            }
        }
        Ok(())
    }

    /// Writes the changed views and the models' position in one transaction. On
    /// failure the views stay marked and the next write retries them.
    async fn write(&self, unwritten: &mut Unwritten) -> Result<(), ProjectionError> {
        let models = self.models.read().await;
        if unwritten.views.is_empty() && unwritten.stored == models.position {
            return Ok(());
        }
        store::persist(&self.storage, &self.ledger_id, &models, &unwritten.views).await?;
        unwritten.views.clear();
        unwritten.stored = models.position;
        Ok(())
    }

    async fn write_if_due(&self, force: bool) -> Result<(), ProjectionError> {
        let mut unwritten = self.unwritten.lock().await;
        if force || unwritten.views.len() >= FLUSH_VIEWS {
            self.write(&mut unwritten).await?;
        }
        Ok(())
    }

    /// Follows the ledger's commits until the ledger is dropped, then writes what is
    /// left. Errors are logged and retried: a view falling behind must never stop the
    /// ledger.
    pub fn spawn(&self, ledger: &Ledger) -> tokio::task::JoinHandle<()> {
        let runner = self.clone();
        let mut batches = ledger.subscribe();
        let mut committed = ledger.committed();
        tokio::spawn(async move {
            let report =
                |e: ProjectionError| tracing::error!(error = %e, "projection update failed");
            // Whatever was committed before we subscribed.
            if let Err(e) = runner.refresh().await {
                report(e);
            }
            let mut timer = tokio::time::interval(FLUSH_INTERVAL);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    batch = batches.recv() => match batch {
                        Ok(batch) => {
                            if let Err(e) = runner.apply_committed(&batch).await {
                                report(e);
                            }
                            if let Err(e) = runner.write_if_due(false).await {
                                report(e);
                            }
                        }
                        // Too far behind to be handed the batches: read them instead.
                        Err(RecvError::Lagged(_)) => {
                            if let Err(e) = runner.refresh().await {
                                report(e);
                            }
                        }
                        Err(RecvError::Closed) => break,
                    },
                    changed = committed.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                    // Also where failures are retried: a read that failed (the database
                    // was away) is tried again even if nothing more is committed.
                    _ = timer.tick() => {
                        let head = *committed.borrow();
                        if head > runner.position().await {
                            if let Err(e) = runner.refresh().await {
                                report(e);
                            }
                        }
                        if let Err(e) = runner.write_if_due(true).await {
                            report(e);
                        }
                    }
                }
            }
            if let Err(e) = runner.catch_up().await {
                report(e);
            }
        })
    }

    pub async fn position(&self) -> u64 {
        self.models.read().await.position
    }

    /// The read models as they stand, without copying them; hold it briefly (folding
    /// waits while it is held).
    pub async fn read(&self) -> tokio::sync::RwLockReadGuard<'_, ReadModels> {
        self.models.read().await
    }

    /// A copy of all read models.
    pub async fn snapshot(&self) -> ReadModels {
        self.models.read().await.clone()
    }

    pub async fn case_view(&self, case_id: &CaseId) -> Option<CaseView> {
        self.models.read().await.cases.get(case_id).cloned()
    }

    pub async fn compliance(
        &self,
        as_of: Date,
        unit: Option<&Ori>,
        policy: &DeadlinePolicy,
    ) -> Result<ComplianceReport, icac_aggregates::compliance::deadline::DeadlineError> {
        let models = self.models.read().await;
        compliance(models.cases.values(), as_of, policy, unit)
    }
}
