//! Keeps the view tables current: the follower applies each batch this process
//! commits straight from memory (reading the ledger only for what it did not see,
//! such as other processes' writes), and writes the changed views behind, a few
//! times a second rather than once per batch.
//!
//! The views live in their tables; the runner holds a bounded working set of them
//! ([`CacheLimits`]): the views changed and not yet written, and the most recently
//! changed ones. Before a batch is folded, the views it touches that the working set
//! lacks are read from their tables; after views are written, the least recently
//! changed clean ones are let go beyond the bound. The fold itself is the pure
//! `ReadModels::apply` over that partial set. Reads go to the tables (`views`), or to
//! the working set for one view.
//!
//! Write-behind is safe because views are derived data: each write stores the
//! position it reflects, and after a crash the runner folds the ledger from that
//! position on. A view is let go only once written, so its table row is current
//! whenever the runner does not hold it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use icac_aggregates::compliance::DeadlinePolicy;
use icac_aggregates::ids::{CaseId, Ori};
use icac_projections::case_view::CaseView;
use icac_projections::compliance::ComplianceReport;
use icac_projections::{LedgerEvent, ReadModels, ViewKey};
use jiff::civil::Date;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{Mutex, RwLock};

use super::views::{self, CaseListQuery, CasePage, IntakePage, ViewQueryError};
use super::{from_sealed, store, to_ledger_event, ProjectionError};
use crate::ledger::Ledger;
use crate::storage::Storage;
use crate::storage::READ_PAGE;
use icac_format::record::{LedgerId, SealedEvent};

/// Longest time a changed view waits in memory before it is written.
const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// Changed views that trigger a write without waiting for the interval.
const FLUSH_VIEWS: usize = 4_096;

/// Most views the runner holds at once. Room for a full write-behind buffer
/// (`FLUSH_VIEWS` changed views) plus one fold step, and as many again of recently
/// changed views: work clusters on recent cases (a filing is followed by its shares
/// and status changes), so those are the views the next batches touch. A case view
/// the soak writes is about 1.2 KB of JSON and takes roughly twice that in memory
/// (docs/PERFORMANCE.md, "Soak"), so the count bound is about 20 MiB.
pub const MAX_CACHED_VIEWS: usize = 8_192;
/// Most bytes of views (as serialized JSON) the runner holds, whatever their count:
/// a few cases with thousands of shares must not take the memory 8,192 ordinary
/// ones would. 16 MiB of JSON is about the count bound's worth of ordinary views.
pub const MAX_CACHED_BYTES: usize = 16 << 20;
/// Events folded per step: the views a step touches are read in one query per table
/// before it, and must fit in the working set beside the unwritten ones.
const APPLY_CHUNK: usize = 1_024;

const _: () = assert!(MAX_CACHED_VIEWS >= FLUSH_VIEWS + APPLY_CHUNK);

/// The bounds of the runner's working set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheLimits {
    pub views: usize,
    pub bytes: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            views: MAX_CACHED_VIEWS,
            bytes: MAX_CACHED_BYTES,
        }
    }
}

impl CacheLimits {
    /// Events per fold step: at most half the views bound, so a step's views fit
    /// once the unwritten ones are written.
    fn chunk(&self) -> usize {
        APPLY_CHUNK.min(self.views / 2).max(1)
    }
}

/// What the working set holds now, and the most it has held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub views: usize,
    /// Serialized size of the held views, as last written or read (a view changed
    /// since counts at that size until it is written; a new one at 0).
    pub bytes: usize,
    pub unwritten: usize,
    pub peak_views: usize,
    /// Views read from their tables to fold a batch, since the runner opened.
    pub loaded: u64,
    /// Views let go, since the runner opened.
    pub evicted: u64,
}

/// Cheap to clone; all clones share the working set.
#[derive(Clone)]
pub struct ProjectionRunner {
    storage: Storage,
    ledger_id: LedgerId,
    /// The working set, at the position folded so far.
    models: Arc<RwLock<ReadModels>>,
    /// Its lock is also the applier's lock: one fold at a time, so events are applied
    /// once, in order.
    working: Arc<Mutex<Working>>,
    limits: CacheLimits,
}

#[derive(Default)]
struct Working {
    /// Views changed in memory and not yet written.
    unwritten: BTreeSet<ViewKey>,
    /// Position the view tables hold (all of them written up to here).
    stored: u64,
    /// Every view the models hold: when it was last folded into, and its size.
    held: BTreeMap<ViewKey, Held>,
    bytes: usize,
    tick: u64,
    peak: usize,
    loaded: u64,
    evicted: u64,
}

#[derive(Debug, Clone, Copy)]
struct Held {
    used: u64,
    bytes: usize,
}

impl Working {
    fn hold(&mut self, key: ViewKey, bytes: Option<usize>) {
        self.tick += 1;
        let used = self.tick;
        let held = self.held.entry(key).or_insert(Held { used, bytes: 0 });
        held.used = used;
        if let Some(b) = bytes {
            self.bytes = self.bytes - held.bytes + b;
            held.bytes = b;
        }
        self.peak = self.peak.max(self.held.len());
    }

    fn release(&mut self, key: &ViewKey) {
        if let Some(h) = self.held.remove(key) {
            self.bytes -= h.bytes;
            self.evicted += 1;
        }
    }
}

impl ProjectionRunner {
    /// Opens at the position the view tables hold, holding no views yet.
    pub async fn open(storage: Storage, ledger_id: LedgerId) -> Result<Self, ProjectionError> {
        Self::open_with_limits(storage, ledger_id, CacheLimits::default()).await
    }

    /// [`open`](Self::open) with other bounds on the working set (at least 2 views).
    pub async fn open_with_limits(
        storage: Storage,
        ledger_id: LedgerId,
        limits: CacheLimits,
    ) -> Result<Self, ProjectionError> {
        let stored = store::position(&storage, &ledger_id).await?;
        let models = ReadModels {
            position: stored,
            ..ReadModels::new()
        };
        Ok(Self {
            storage,
            ledger_id,
            models: Arc::new(RwLock::new(models)),
            working: Arc::new(Mutex::new(Working {
                stored,
                ..Working::default()
            })),
            limits: CacheLimits {
                views: limits.views.max(2),
                bytes: limits.bytes,
            },
        })
    }

    /// Applies every committed event not yet applied and writes every changed view;
    /// returns the position reached. When it returns, the view tables hold the head it
    /// saw: reads of the tables see every write acknowledged before the call.
    pub async fn catch_up(&self) -> Result<u64, ProjectionError> {
        let mut working = self.working.lock().await;
        self.read_ledger(&mut working).await?;
        self.write(&mut working).await?;
        self.evict(&mut working, 0, &BTreeSet::new()).await;
        Ok(self.models.read().await.position)
    }

    /// Brings the working set to the ledger head (a read of one view right after a
    /// write sees it) without waiting for the views to be written.
    pub async fn refresh(&self) -> Result<u64, ProjectionError> {
        let mut working = self.working.lock().await;
        self.read_ledger(&mut working).await
    }

    /// Folds ledger rows after the models' position, page by page, writing the changed
    /// views whenever `FLUSH_VIEWS` of them are waiting (a long catch-up stays within
    /// the working set's bounds).
    async fn read_ledger(&self, working: &mut Working) -> Result<u64, ProjectionError> {
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
            self.apply(working, &events).await?;
            if working.unwritten.len() >= FLUSH_VIEWS {
                self.write(working).await?;
                self.evict(working, 0, &BTreeSet::new()).await;
            }
            if count < READ_PAGE as usize {
                return Ok(self.models.read().await.position);
            }
        }
    }

    /// Applies a batch this process committed; falls back to reading the ledger when
    /// the batch does not follow on from the models (events it never saw came first).
    async fn apply_committed(&self, batch: &[SealedEvent]) -> Result<(), ProjectionError> {
        let mut working = self.working.lock().await;
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
                self.apply(&mut working, &events).await
            }
            Some(_) => self.read_ledger(&mut working).await.map(|_| ()),
        }
    }

    /// Folds `events` a step at a time: makes room, reads from the tables the views the
    /// step touches that are not held, then applies the step under the models' lock.
    async fn apply(
        &self,
        working: &mut Working,
        events: &[(u64, Option<LedgerEvent>)],
    ) -> Result<(), ProjectionError> {
        for step in events.chunks(self.limits.chunk()) {
            let needed: BTreeSet<ViewKey> = step
                .iter()
                .filter_map(|(_, e)| e.as_ref().and_then(ViewKey::of))
                .collect();
            let missing: BTreeSet<ViewKey> = {
                let models = self.models.read().await;
                needed
                    .iter()
                    .filter(|k| !models.contains(k))
                    .cloned()
                    .collect()
            };
            self.make_room(working, missing.len(), &needed).await?;
            let (loaded, sizes) = if missing.is_empty() {
                (ReadModels::new(), Vec::new())
            } else {
                store::load_views(&self.storage, &self.ledger_id, &missing).await?
            };
            let mut models = self.models.write().await;
            models.cases.extend(loaded.cases);
            models.operations.extend(loaded.operations);
            models.public_reports.extend(loaded.public_reports);
            models.units.extend(loaded.units);
            working.loaded += sizes.len() as u64;
            for (key, bytes) in sizes {
                working.hold(key, Some(bytes));
            }
            for (position, event) in step {
                let Some(e) = event else {
                    models.skip(*position)?;
                    continue;
                };
                // A view read from its table may already hold this event: another
                // process folding the same ledger (a CLI catch-up) wrote it first.
                let key = ViewKey::of(e);
                if key
                    .as_ref()
                    .and_then(|k| models.version(k))
                    .is_some_and(|v| v >= e.sequence)
                {
                    models.skip(*position)?;
                    continue;
                }
                if let Some(k) = models.apply(e)? {
                    working.unwritten.insert(k.clone());
                    working.hold(k, None);
                }
            }
        }
        Ok(())
    }

    /// Lets go of clean views other than `keep` (the ones the next step folds into) so
    /// that `incoming` more fit within the bounds; writes the unwritten ones first if
    /// they leave no room.
    async fn make_room(
        &self,
        working: &mut Working,
        incoming: usize,
        keep: &BTreeSet<ViewKey>,
    ) -> Result<(), ProjectionError> {
        let fits = |w: &Working| {
            w.held.len() + incoming <= self.limits.views && w.bytes <= self.limits.bytes
        };
        if fits(working) {
            return Ok(());
        }
        self.evict(working, incoming, keep).await;
        if !fits(working) {
            self.write(working).await?;
            self.evict(working, incoming, keep).await;
        }
        Ok(())
    }

    /// Lets go of the least recently changed clean views (except `keep`) while the
    /// working set, with room for `incoming` more, is over its bounds; then down to 7/8
    /// of them, so this runs once per many steps rather than at every one.
    async fn evict(&self, working: &mut Working, incoming: usize, keep: &BTreeSet<ViewKey>) {
        let views = self.limits.views.saturating_sub(incoming);
        if working.held.len() <= views && working.bytes <= self.limits.bytes {
            return;
        }
        let (views, bytes) = (views - views / 8, self.limits.bytes - self.limits.bytes / 8);
        let mut clean: Vec<(u64, ViewKey)> = working
            .held
            .iter()
            .filter(|(k, _)| !working.unwritten.contains(*k) && !keep.contains(*k))
            .map(|(k, h)| (h.used, k.clone()))
            .collect();
        clean.sort_unstable();
        let mut models = self.models.write().await;
        for (_, key) in clean {
            if working.held.len() <= views && working.bytes <= bytes {
                break;
            }
            models.remove(&key);
            working.release(&key);
        }
    }

    /// Writes the changed views and the models' position in one transaction. On
    /// failure the views stay marked and the next write retries them.
    async fn write(&self, working: &mut Working) -> Result<(), ProjectionError> {
        let (rows, sizes, position) = {
            let models = self.models.read().await;
            if working.unwritten.is_empty() && working.stored == models.position {
                return Ok(());
            }
            let mut rows = Vec::with_capacity(working.unwritten.len());
            let mut sizes = Vec::with_capacity(working.unwritten.len());
            for key in &working.unwritten {
                if let Some(r) = store::view_row(&models, key)? {
                    sizes.push((key.clone(), r.payload.len()));
                    rows.push(r);
                }
            }
            (rows, sizes, models.position)
        };
        store::write_rows(&self.storage, &self.ledger_id, &rows, position).await?;
        for (key, bytes) in sizes {
            if let Some(h) = working.held.get_mut(&key) {
                working.bytes = working.bytes - h.bytes + bytes;
                h.bytes = bytes;
            }
        }
        working.unwritten.clear();
        working.stored = position;
        Ok(())
    }

    async fn write_if_due(&self, force: bool) -> Result<(), ProjectionError> {
        let mut working = self.working.lock().await;
        if force || working.unwritten.len() >= FLUSH_VIEWS {
            self.write(&mut working).await?;
            self.evict(&mut working, 0, &BTreeSet::new()).await;
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

    pub async fn cache_stats(&self) -> CacheStats {
        let working = self.working.lock().await;
        CacheStats {
            views: working.held.len(),
            bytes: working.bytes,
            unwritten: working.unwritten.len(),
            peak_views: working.peak,
            loaded: working.loaded,
            evicted: working.evicted,
        }
    }

    pub fn limits(&self) -> CacheLimits {
        self.limits
    }

    /// One case's view: from the working set if held (it may not be written yet),
    /// else from its table (which is current for every view not held).
    pub async fn case_view(&self, case_id: &CaseId) -> Result<Option<CaseView>, ProjectionError> {
        if let Some(v) = self.models.read().await.cases.get(case_id) {
            return Ok(Some(v.clone()));
        }
        views::case_view(&self.storage, &self.ledger_id, case_id).await
    }

    // The reads below query the tables: call `catch_up` first to see the head.

    pub async fn case_page(&self, q: &CaseListQuery) -> Result<CasePage, ViewQueryError> {
        views::case_page(&self.storage, &self.ledger_id, q).await
    }

    /// 14-day compliance with a row per notification.
    pub async fn compliance(
        &self,
        as_of: Date,
        unit: Option<&Ori>,
        policy: &DeadlinePolicy,
    ) -> Result<ComplianceReport, ViewQueryError> {
        views::compliance(&self.storage, &self.ledger_id, as_of, unit, policy, true).await
    }

    /// 14-day compliance counts only (`notifications` empty), in bounded memory.
    pub async fn compliance_counts(
        &self,
        as_of: Date,
        unit: Option<&Ori>,
        policy: &DeadlinePolicy,
    ) -> Result<ComplianceReport, ViewQueryError> {
        views::compliance(&self.storage, &self.ledger_id, as_of, unit, policy, false).await
    }

    pub async fn units(
        &self,
    ) -> Result<Vec<icac_projections::unit_directory::UnitView>, ProjectionError> {
        views::units(&self.storage, &self.ledger_id).await
    }

    pub async fn operations(
        &self,
    ) -> Result<Vec<icac_projections::operations::OperationView>, ProjectionError> {
        views::operations(&self.storage, &self.ledger_id).await
    }

    /// The continued-sharing clock of every case (or one unit's).
    pub async fn sharing(
        &self,
        as_of: jiff::civil::Date,
        unit: Option<&icac_aggregates::ids::Ori>,
        policy: &icac_aggregates::compliance::sharing::SharingPolicy,
        rows: bool,
    ) -> Result<icac_projections::sharing::SharingReport, ProjectionError> {
        views::sharing(&self.storage, &self.ledger_id, as_of, unit, policy, rows).await
    }

    /// CyberTips at the Task Force, with their dissemination status.
    pub async fn tips(&self) -> Result<Vec<icac_projections::tips::TipView>, ProjectionError> {
        views::tips(&self.storage, &self.ledger_id).await
    }

    /// Operations with the results their linked cases hold.
    pub async fn operation_results(
        &self,
    ) -> Result<
        Vec<(
            icac_projections::operations::OperationView,
            icac_projections::operation_results::OperationResults,
        )>,
        ProjectionError,
    > {
        views::operation_results(&self.storage, &self.ledger_id).await
    }

    pub async fn intake_page(
        &self,
        offset: usize,
        limit: usize,
    ) -> Result<IntakePage, ProjectionError> {
        views::intake_page(&self.storage, &self.ledger_id, offset, limit).await
    }
}
