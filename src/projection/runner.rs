//! Keeps the view tables current: after every commit the runner reads the
//! new events by position, folds them and writes the views they changed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use icac_aggregates::compliance::DeadlinePolicy;
use icac_aggregates::ids::{CaseId, Ori};
use icac_projections::case_view::CaseView;
use icac_projections::compliance::{compliance, ComplianceReport};
use icac_projections::ReadModels;
use jiff::civil::Date;
use tokio::sync::{Mutex, RwLock};

use std::collections::BTreeSet;

use super::{store, to_ledger_event, ProjectionError};
use crate::ledger::record::LedgerId;
use crate::ledger::Ledger;
use crate::storage::Storage;
use crate::storage::READ_PAGE;

/// Pause before retrying a failed catch-up.
const RETRY_AFTER_ERROR: Duration = Duration::from_millis(500);

/// Cheap to clone; all clones share the models.
#[derive(Clone)]
pub struct ProjectionRunner {
    storage: Storage,
    ledger_id: LedgerId,
    models: Arc<RwLock<ReadModels>>,
    // One catch-up at a time, so two callers never write the same views.
    writer: Arc<Mutex<()>>,
    // Set when a write failed and the models could not be reloaded either (the database
    // was gone): memory may be ahead of the tables, so the next catch-up reloads first.
    stale: Arc<AtomicBool>,
}

impl ProjectionRunner {
    /// Loads the persisted views (or starts empty).
    pub async fn open(storage: Storage, ledger_id: LedgerId) -> Result<Self, ProjectionError> {
        let models = store::load(&storage, &ledger_id).await?;
        Ok(Self {
            storage,
            ledger_id,
            models: Arc::new(RwLock::new(models)),
            writer: Arc::new(Mutex::new(())),
            stale: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Applies every committed event not yet applied; returns the position reached.
    /// Views are written page by page, each page with its position in one
    /// transaction; if a write fails the in-memory models are reloaded from
    /// the tables so memory never runs ahead of what is stored.
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        let _guard = self.writer.lock().await;
        if self.stale.load(Ordering::Acquire) {
            self.reload().await?;
        }
        loop {
            let from = self.models.read().await.position + 1;
            let rows = self
                .storage
                .read_page(&self.ledger_id, from, READ_PAGE)
                .await?;
            let count = rows.len();
            if count == 0 {
                break;
            }
            // Decode outside the lock: it is the expensive part.
            let mut events = Vec::with_capacity(count);
            for row in rows {
                let position = row.position;
                events.push((position, to_ledger_event(row)?));
            }
            let result = self.apply_and_persist(&events).await;
            if let Err(e) = result {
                self.stale.store(true, Ordering::Release);
                self.reload().await?;
                return Err(e);
            }
            if count < READ_PAGE as usize {
                break;
            }
        }
        Ok(self.models.read().await.position)
    }

    /// Replaces the in-memory models with what the tables hold.
    async fn reload(&self) -> Result<(), ProjectionError> {
        let reloaded = store::load(&self.storage, &self.ledger_id).await?;
        *self.models.write().await = reloaded;
        self.stale.store(false, Ordering::Release);
        Ok(())
    }

    async fn apply_and_persist(
        &self,
        events: &[(u64, Option<icac_projections::LedgerEvent>)],
    ) -> Result<(), ProjectionError> {
        let mut changed = BTreeSet::new();
        {
            let mut models = self.models.write().await;
            for (position, event) in events {
                match event {
                    Some(e) => {
                        if let Some(key) = models.apply(e)? {
                            changed.insert(key);
                        }
                    }
                    None => models.skip(*position)?,
                }
            }
        }
        let models = self.models.read().await;
        store::persist(&self.storage, &self.ledger_id, &models, &changed).await
    }

    /// Follows the ledger's commits until the ledger is dropped. Errors are
    /// logged and retried after a pause, without waiting for another commit (the
    /// database may come back while nothing is written): a view falling behind must
    /// never stop the ledger.
    pub fn spawn(&self, ledger: &Ledger) -> tokio::task::JoinHandle<()> {
        let runner = self.clone();
        let mut committed = ledger.committed();
        tokio::spawn(async move {
            loop {
                if let Err(e) = runner.catch_up().await {
                    tracing::error!(error = %e, "projection catch-up failed; retrying");
                    tokio::time::sleep(RETRY_AFTER_ERROR).await;
                    if committed.has_changed().is_err() {
                        break;
                    }
                    continue;
                }
                if committed.changed().await.is_err() {
                    break;
                }
            }
        })
    }

    pub async fn position(&self) -> u64 {
        self.models.read().await.position
    }

    /// A snapshot of all read models.
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
