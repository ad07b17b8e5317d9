//! Group commit: one writer task per process turns concurrent append requests into one
//! database transaction per batch.
//!
//! A chain that locks its head and commits each event alone is bounded by one fsync per
//! event. Here requests queue on a channel while the previous batch commits; the writer
//! takes everything queued (up to the limits), checks each request's stream version,
//! seals the accepted events against the locked head, and commits them together. A
//! request whose stream moved fails alone; its batch-mates still commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::clock::WriterClock;
use super::signer::{Signer, SignerError};
use crate::storage::{Batch, BatchPlan, Head, SealedRef, Storage, StorageError, StoredOpening};
use icac_format::canonical::MAX_SAFE_INTEGER;
use icac_format::key_events::{self, ledger_stream};
use icac_format::keys::{KeyId, LedgerKey};
use icac_format::record::CURRENT_FORMAT_VERSION;
use icac_format::record::{
    check_name, format_recorded_at, EventMetadata, EventRecord, LedgerId, RecordError, SealedEvent,
    StreamId,
};
use icac_format::sealed::Opening;

/// Events one batch may hold; bounds transaction size and the time the head is locked.
pub const MAX_BATCH_EVENTS: usize = 4_096;
/// Events one command may produce.
pub const MAX_EVENTS_PER_REQUEST: usize = 256;
/// Requests waiting for the writer; beyond this, callers wait (backpressure).
pub const QUEUE_DEPTH: usize = 8_192;
const MAX_CONTEXT_LEN: usize = 256;

/// One event as the command produced it, before the ledger gives it a place.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub event_version: String,
    /// Holds commitments only: `sealed::seal_payload` has replaced every personal value.
    pub payload: Value,
    /// The values behind the payload's commitments, stored beside the event in the same
    /// transaction.
    pub openings: Vec<Opening>,
    /// Sealed values this event erases, destroyed in the same transaction.
    pub erases: Vec<SealedRef>,
}

impl NewEvent {
    /// An event with nothing sealed and nothing erased.
    pub fn plain(
        event_type: impl Into<String>,
        event_version: impl Into<String>,
        payload: Value,
    ) -> Self {
        Self {
            event_type: event_type.into(),
            event_version: event_version.into(),
            payload,
            openings: Vec::new(),
            erases: Vec::new(),
        }
    }
}

/// Who is acting and on whose behalf; copied into every event's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestContext {
    pub principal: String,
    pub unit: Option<String>,
    pub request_id: String,
    pub correlation_id: Option<String>,
}

/// The events of one command for one stream.
#[derive(Debug, Clone)]
pub struct AppendRequest {
    pub stream: StreamId,
    /// The stream's last sequence as the command saw it; 0 for a new stream.
    pub expected_sequence: u64,
    pub events: Vec<NewEvent>,
    pub context: RequestContext,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("stream {stream} has moved on: expected sequence {expected}, found {actual}")]
    Conflict {
        stream: StreamId,
        expected: u64,
        actual: u64,
    },
    #[error("invalid event: {0}")]
    Invalid(#[from] RecordError),
    #[error("append request has {0} events; the limit is {MAX_EVENTS_PER_REQUEST}")]
    TooManyEvents(usize),
    #[error("{field} is empty or longer than {MAX_CONTEXT_LEN} characters")]
    BadContext { field: &'static str },
    #[error("the batch was not committed: {0}")]
    Storage(Arc<StorageError>),
    /// The writer holds no key it may sign the next position with (a rotation made
    /// elsewhere retired it); nothing was written.
    #[error(transparent)]
    SigningKey(#[from] SignerError),
    #[error("the ledger's key history cannot be read: {0}")]
    KeyHistory(Arc<super::LedgerError>),
    #[error("the key history kept moving while the batch was sealed; nothing was written")]
    KeyHistoryMoving,
    #[error("a key event must name the key that signs it ({0}); the key changed meanwhile")]
    KeyEventSigner(KeyId),
    #[error("event {event_type} refused: the stream ledger/<ledger_id> and its key events are written only by the ledger itself")]
    KeyEventType { event_type: String },
    #[error("the ledger writer has stopped")]
    Closed,
}

enum Job {
    Append {
        request: AppendRequest,
        reply: oneshot::Sender<Result<Vec<SealedEvent>, AppendError>>,
    },
    /// Replaces the signing key; the rotation event is signed by the outgoing key.
    Rotate {
        request: AppendRequest,
        next: LedgerKey,
        reply: oneshot::Sender<Result<Vec<SealedEvent>, AppendError>>,
    },
}

/// Counters a metrics endpoint can read without locking.
#[derive(Debug, Default)]
pub struct SequencerStats {
    pub batches: AtomicU64,
    pub events: AtomicU64,
    pub conflicts: AtomicU64,
    pub failed_batches: AtomicU64,
    /// Batches the database refused because the writer's memory of the head was stale
    /// (another process wrote); each was retried under the lock.
    pub stale_retries: AtomicU64,
    pub largest_batch: AtomicU64,
    /// Set when a batch could not be written (a full disk, an I/O error, the database
    /// gone), cleared by the next batch that commits; `/readyz` reads it.
    pub write_failing: std::sync::atomic::AtomicBool,
}

#[derive(Clone)]
pub struct SequencerHandle {
    jobs: mpsc::Sender<Job>,
}

impl SequencerHandle {
    pub async fn append(&self, request: AppendRequest) -> Result<Vec<SealedEvent>, AppendError> {
        validate(&request)?;
        refuse_key_events(&request)?;
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Append { request, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        rx.await.map_err(|_| AppendError::Closed)?
    }

    /// Writes the genesis; only `Ledger::initialise` calls this.
    pub(super) async fn append_key_event(
        &self,
        request: AppendRequest,
    ) -> Result<Vec<SealedEvent>, AppendError> {
        validate(&request)?;
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Append { request, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        rx.await.map_err(|_| AppendError::Closed)?
    }

    pub async fn rotate(
        &self,
        request: AppendRequest,
        next: LedgerKey,
    ) -> Result<Vec<SealedEvent>, AppendError> {
        validate(&request)?;
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Rotate {
                request,
                next,
                reply,
            })
            .await
            .map_err(|_| AppendError::Closed)?;
        rx.await.map_err(|_| AppendError::Closed)?
    }
}

/// Key events go only through `Ledger::initialise` and `Ledger::rotate_key`, which know the
/// keys they name; an ordinary append may neither write one nor write to a `ledger` stream.
fn refuse_key_events(request: &AppendRequest) -> Result<(), AppendError> {
    let key_stream = request.stream.aggregate_type == key_events::LEDGER_AGGREGATE_TYPE;
    for event in &request.events {
        let key_type = event.event_type == key_events::LEDGER_INITIALIZED
            || event.event_type == key_events::SIGNING_KEY_ROTATED;
        if key_stream || key_type {
            return Err(AppendError::KeyEventType {
                event_type: event.event_type.clone(),
            });
        }
    }
    Ok(())
}

/// Checks everything about a request that does not depend on its place in the chain, on
/// the caller's task, so bad input never reaches the locked section.
fn validate(request: &AppendRequest) -> Result<(), AppendError> {
    check_name("aggregate_type", &request.stream.aggregate_type)?;
    check_name("aggregate_id", &request.stream.aggregate_id)?;
    if request.events.is_empty() || request.events.len() > MAX_EVENTS_PER_REQUEST {
        return Err(AppendError::TooManyEvents(request.events.len()));
    }
    for event in &request.events {
        check_name("event_type", &event.event_type)?;
        check_name("event_version", &event.event_version)?;
        // Fails early on floats, unsafe integers or excessive nesting in the payload.
        icac_format::canonical::to_canonical_bytes(&event.payload).map_err(RecordError::from)?;
    }
    let ctx = &request.context;
    let bounded = |s: &str| !s.is_empty() && s.chars().count() <= MAX_CONTEXT_LEN;
    if !bounded(&ctx.principal) {
        return Err(AppendError::BadContext { field: "principal" });
    }
    if !bounded(&ctx.request_id) {
        return Err(AppendError::BadContext {
            field: "request_id",
        });
    }
    if ctx.unit.as_deref().is_some_and(|u| !bounded(u)) {
        return Err(AppendError::BadContext { field: "unit" });
    }
    if ctx.correlation_id.as_deref().is_some_and(|c| !bounded(c)) {
        return Err(AppendError::BadContext {
            field: "correlation_id",
        });
    }
    if request.expected_sequence as i64 > MAX_SAFE_INTEGER {
        return Err(AppendError::BadContext {
            field: "expected_sequence",
        });
    }
    Ok(())
}

/// Committed batches kept for subscribers that have not read them yet; a subscriber
/// that falls further behind is told it lagged and reads the ledger instead.
pub const PUBLISHED_BATCHES: usize = 16;

/// A committed batch, shared by every subscriber.
pub type CommittedBatch = Arc<[SealedEvent]>;

/// Where the writer reports what it committed.
pub struct Outlets {
    /// The head position after each batch.
    pub committed: watch::Sender<u64>,
    /// Each batch's events, for in-process followers (projections), so they need not
    /// read back from the database what this process has just written.
    pub published: broadcast::Sender<CommittedBatch>,
    /// The head after the last batch this process committed.
    pub head: Arc<std::sync::Mutex<Option<Head>>>,
    pub stats: Arc<SequencerStats>,
}

/// The key stream as the writer last read it: its last sequence (0 before the genesis)
/// and the key it makes active.
#[derive(Debug, Clone)]
pub struct KeyStream {
    pub version: u64,
    pub active: KeyId,
}

/// Starts the writer task, signing with `signer`'s key while `keys` says it is active.
pub fn spawn(
    storage: Storage,
    ledger: LedgerId,
    signer: Arc<Signer>,
    keys: KeyStream,
    outlets: Outlets,
    clock: WriterClock,
) -> (SequencerHandle, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let key_stream = ledger_stream(&ledger);
    let writer = Writer {
        storage,
        ledger,
        key: signer.current(),
        signer,
        keys,
        key_stream,
        committed: outlets.committed,
        published: outlets.published,
        head: outlets.head,
        stats: outlets.stats,
        memory: None,
        clock,
    };
    let task = tokio::spawn(writer.run(rx));
    (SequencerHandle { jobs: tx }, task)
}

struct Writer {
    storage: Storage,
    ledger: LedgerId,
    /// The key sealing batches; always `keys.active` when a batch is sealed.
    key: Arc<LedgerKey>,
    signer: Arc<Signer>,
    keys: KeyStream,
    key_stream: StreamId,
    committed: watch::Sender<u64>,
    published: broadcast::Sender<CommittedBatch>,
    head: Arc<std::sync::Mutex<Option<Head>>>,
    stats: Arc<SequencerStats>,
    /// `None` until a locked read, and again after any failure.
    memory: Option<Memory>,
    /// Where commit times come from (`clock`).
    clock: WriterClock,
}

type Reply = oneshot::Sender<Result<Vec<SealedEvent>, AppendError>>;

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        // Runs until every handle is dropped and the queue is drained, so in-flight
        // requests finish during a graceful shutdown.
        while let Some(first) = rx.recv().await {
            let mut appends: Vec<(AppendRequest, Reply)> = Vec::new();
            let mut events = 0usize;
            let mut rotation = None;
            let mut next = Some(first);
            while let Some(job) = next.take() {
                match job {
                    Job::Append { request, reply } => {
                        events += request.events.len();
                        appends.push((request, reply));
                    }
                    // A rotation ends the batch: later events must be signed by the new key.
                    Job::Rotate {
                        request,
                        next,
                        reply,
                    } => {
                        rotation = Some((request, next, reply));
                        break;
                    }
                }
                if events >= MAX_BATCH_EVENTS {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if !appends.is_empty() {
                self.commit_batch(appends).await;
            }
            if let Some((request, next_key, reply)) = rotation {
                let version = request.expected_sequence + 1;
                let next_key = Arc::new(next_key);
                if self.commit_batch(vec![(request, reply)]).await {
                    self.keys = KeyStream {
                        version,
                        active: next_key.id().clone(),
                    };
                    self.signer.install(next_key.clone());
                    self.key = next_key;
                }
            }
        }
    }

    /// Commits one batch and answers every request in it. Returns whether anything
    /// committed.
    async fn commit_batch(&mut self, jobs: Vec<(AppendRequest, Reply)>) -> bool {
        let (requests, replies): (Vec<AppendRequest>, Vec<Reply>) = jobs.into_iter().unzip();
        let mut outcomes: Vec<Outcome> = (0..requests.len()).map(|_| Outcome::Pending).collect();

        let mut result = None;
        if self.key.id() != &self.keys.active {
            // Holding a retired key: read the key history and the key file again; until
            // one of them yields the active key, every batch fails here, unsigned.
            if let Err(e) = self.adopt_active_key().await {
                result = Some(Err(e));
            }
        }
        let fast = match result {
            None => self.memory.as_ref().and_then(|m| m.versions_for(&requests)),
            Some(_) => None,
        };
        if let Some(versions) = fast {
            let head = self.memory.as_ref().map_or(Head::EMPTY, |m| m.head.clone());
            let batch = seal_batch(
                &self.ledger,
                &self.key,
                self.clock.now(),
                &head,
                &versions,
                &requests,
                &mut outcomes,
            );
            let written = if batch.events.is_empty() {
                Ok(batch.events)
            } else {
                self.storage
                    .insert_batch(&self.ledger, &batch)
                    .await
                    .map(|()| batch.events)
            };
            // The fast path needs no key check: its batch lands only if nobody wrote since
            // this writer's last commit, so no rotation can have happened in between.
            match written {
                Err(err) if err.is_chain_conflict() => {
                    // Another process wrote since our last commit: what we remember is
                    // stale. Nothing was written; decide again from fresh reads.
                    self.stats.stale_retries.fetch_add(1, Ordering::Relaxed);
                    self.memory = None;
                    outcomes.iter_mut().for_each(|o| *o = Outcome::Pending);
                }
                other => {
                    result = Some(
                        other
                            .map(|sealed| (head, versions, sealed))
                            .map_err(|e| AppendError::Storage(Arc::new(e))),
                    );
                }
            }
        }
        let result = match result {
            Some(result) => result,
            None => self.write_locked(&requests, &mut outcomes).await,
        };

        let mut committed = Vec::new();
        let wrote = match result {
            Ok((head, versions, sealed)) => {
                let n = sealed.len() as u64;
                self.stats.write_failing.store(false, Ordering::Relaxed);
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats.events.fetch_add(n, Ordering::Relaxed);
                self.stats.largest_batch.fetch_max(n, Ordering::Relaxed);
                let mut memory = self.memory.take().unwrap_or_else(|| Memory::new(head));
                memory.learn(versions, &sealed);
                if !sealed.is_empty() {
                    if let Ok(mut last) = self.head.lock() {
                        *last = Some(memory.head.clone());
                    }
                }
                self.memory = Some(memory);
                if let Some(last) = sealed.last() {
                    // Published before the callers hear back, so a follower that reads
                    // its own writes never sees the watch move without the batch.
                    if self.published.receiver_count() > 0 {
                        let _ = self.published.send(Arc::from(sealed.as_slice()));
                    }
                    self.committed.send_replace(last.record.position);
                }
                committed = sealed;
                n > 0
            }
            Err(err) => {
                // The outcome is unknown (a lost connection may have committed or not):
                // forget what we remember and read it again next time.
                self.memory = None;
                self.stats.write_failing.store(true, Ordering::Relaxed);
                self.stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %err, ledger = %self.ledger, "batch commit failed");
                for outcome in &mut outcomes {
                    if matches!(outcome, Outcome::Accepted(_) | Outcome::Pending) {
                        *outcome = Outcome::Failed(err.clone());
                    }
                }
                false
            }
        };
        // Hand each request its own events, in batch order, without copying them.
        let mut events = committed.into_iter();
        for (outcome, reply) in outcomes.into_iter().zip(replies) {
            let answer = match outcome {
                Outcome::Accepted(n) => Ok(events.by_ref().take(n).collect()),
                Outcome::Failed(e) => {
                    if matches!(e, AppendError::Conflict { .. }) {
                        self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e)
                }
                Outcome::Pending => Err(AppendError::Closed),
            };
            // The caller may have gone away (request cancelled); the events stay committed.
            let _ = reply.send(answer);
        }
        wrote
    }

    /// The careful path: locks the head in the database, reads it and the batch's
    /// stream versions, then seals and inserts. Returns what it read and what it wrote.
    ///
    /// The key stream's version is read under the same lock: if it moved (a rotation by
    /// another process), nothing is sealed; the writer reads the key history, takes up
    /// the active key (or fails without writing) and tries again.
    async fn write_locked(
        &mut self,
        requests: &[AppendRequest],
        outcomes: &mut [Outcome],
    ) -> Result<(Head, HashMap<StreamId, u64>, Vec<SealedEvent>), AppendError> {
        let mut streams: Vec<StreamId> = requests.iter().map(|r| r.stream.clone()).collect();
        streams.push(self.key_stream.clone());
        streams.sort();
        streams.dedup();
        // A rotation between reading the key history and relocking is possible but rare;
        // a few rounds are plenty, and a failed round wrote nothing.
        for _ in 0..4 {
            let key = self.key.clone();
            let (ledger, key_stream, known) = (&self.ledger, &self.key_stream, self.keys.version);
            let clock = &self.clock;
            let mut seen = None;
            let seen_ref = &mut seen;
            let mut moved = false;
            let moved_ref = &mut moved;
            let outcomes_ref = &mut *outcomes;
            let plan: BatchPlan<'_> = Box::new(move |head, versions| {
                *seen_ref = Some((head.clone(), versions.clone()));
                if versions.get(key_stream).copied().unwrap_or(0) != known {
                    *moved_ref = true;
                    return Batch::default();
                }
                seal_batch(
                    ledger,
                    &key,
                    clock.now(),
                    head,
                    versions,
                    requests,
                    outcomes_ref,
                )
            });
            let batch = self
                .storage
                .write_batch(&self.ledger, &streams, plan)
                .await
                .map_err(|e| AppendError::Storage(Arc::new(e)))?;
            if !moved {
                let (head, versions) = seen.unwrap_or((Head::EMPTY, HashMap::new()));
                return Ok((head, versions, batch.events));
            }
            self.adopt_active_key().await?;
        }
        Err(AppendError::KeyHistoryMoving)
    }

    /// Reads the key history afresh and takes up its active key: the one held, or the
    /// key file's (`Signer::for_active`). Fails, writing nothing, when neither is active.
    async fn adopt_active_key(&mut self) -> Result<(), AppendError> {
        let (ring, version) = super::key_history(&self.storage, &self.ledger)
            .await
            .map_err(|e| AppendError::KeyHistory(Arc::new(e)))?;
        let active = ring.active().map(|e| e.key_id.clone()).ok_or_else(|| {
            AppendError::KeyHistory(Arc::new(super::LedgerError::KeyHistory(
                key_events::KeyEventError::MissingGenesis,
            )))
        })?;
        if self.keys.version != version {
            tracing::warn!(ledger = %self.ledger, active = %active, "the key history moved: a rotation by another process");
        }
        self.keys = KeyStream { version, active };
        self.memory = None;
        if self.key.id() != &self.keys.active {
            match self.signer.for_active(&self.keys.active) {
                Ok(key) => self.key = key,
                Err(e) => {
                    tracing::error!(error = %e, ledger = %self.ledger, "refusing to sign with a retired key");
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
}

/// Streams remembered at most; beyond this the memory of versions starts over (the
/// head is kept), and streams it forgot are trusted to the database's checks.
const REMEMBERED_STREAMS: usize = 100_000;

/// What the writer knows of the database from its own last commit: the chain head and
/// the last sequence of recently written streams. Lets a batch go to the database as a
/// single INSERT; the database's constraints refuse it if this memory is stale.
struct Memory {
    head: Head,
    versions: HashMap<StreamId, u64>,
}

impl Memory {
    fn new(head: Head) -> Self {
        Memory {
            head,
            versions: HashMap::new(),
        }
    }

    /// The stream versions to seal `requests` against, or `None` when a request
    /// expects a version other than the one remembered: that is a conflict or a stale
    /// memory, and only a locked read can tell which.
    fn versions_for(&self, requests: &[AppendRequest]) -> Option<HashMap<StreamId, u64>> {
        let mut versions = HashMap::with_capacity(requests.len());
        for request in requests {
            if versions.contains_key(&request.stream) {
                continue;
            }
            let known = self.versions.get(&request.stream).copied();
            if known.is_some_and(|v| v != request.expected_sequence) {
                return None;
            }
            // Unknown streams are taken at the request's word; the database checks it.
            if request.expected_sequence > 0 || known.is_some() {
                versions.insert(request.stream.clone(), request.expected_sequence);
            }
        }
        Some(versions)
    }

    /// Takes in a committed batch and the versions it was sealed against.
    fn learn(&mut self, versions: HashMap<StreamId, u64>, sealed: &[SealedEvent]) {
        if self.versions.len() + versions.len() + sealed.len() > REMEMBERED_STREAMS {
            self.versions.clear();
        }
        self.versions.extend(versions);
        for event in sealed {
            let r = &event.record;
            self.versions.insert(
                StreamId {
                    aggregate_type: r.aggregate_type.clone(),
                    aggregate_id: r.aggregate_id.clone(),
                },
                r.sequence,
            );
        }
        if let Some(last) = sealed.last() {
            self.head = Head {
                position: last.record.position,
                hash: last.hash,
                recorded_at: Some(last.record.metadata.recorded_at.clone()),
            };
        }
    }
}

/// What became of one request in a batch.
enum Outcome {
    Pending,
    /// Its events are the next `n` of the batch.
    Accepted(usize),
    Failed(AppendError),
}

/// Whether a key event in `request` names a key other than `key` as its signer: the
/// genesis's `key_id`, a rotation's `previous_key_id`. The writer may have taken up a
/// key rotated in by another process after the request was built.
fn names_another_signer(key: &LedgerKey, request: &AppendRequest) -> bool {
    request.events.iter().any(|e| {
        let field = match e.event_type.as_str() {
            key_events::LEDGER_INITIALIZED => "key_id",
            key_events::SIGNING_KEY_ROTATED => "previous_key_id",
            _ => return false,
        };
        e.payload.get(field).and_then(Value::as_str) != Some(key.id().0.as_str())
    })
}

/// Batches at least this large are signed on all cores.
const PARALLEL_SIGNING_MIN: usize = 16;

/// Runs with the head locked: accepts or rejects each request against the stream versions,
/// then seals accepted events in order, committed at `now` (the writer's clock, read
/// with the head locked; see `clock`).
///
/// Hashing is sequential (each hash covers the previous one), signing is not: events
/// are hashed in one pass and signed afterwards, in parallel for large batches, to keep
/// the time the chain head is locked short.
fn seal_batch(
    ledger: &LedgerId,
    key: &LedgerKey,
    now: jiff::Timestamp,
    head: &Head,
    versions: &HashMap<StreamId, u64>,
    requests: &[AppendRequest],
    outcomes: &mut [Outcome],
) -> Batch {
    // recorded_at never goes backwards, even if the system clock does.
    let now = format_recorded_at(now);
    let recorded_at = match &head.recorded_at {
        Some(last) if *last > now => last.clone(),
        _ => now,
    };
    let mut versions = versions.clone();
    let mut position = head.position;
    let mut prev_hash = head.hash;
    let mut batch: Vec<SealedEvent> = Vec::new();
    let mut openings: Vec<StoredOpening> = Vec::new();
    let mut erases: Vec<SealedRef> = Vec::new();

    for (request, outcome) in requests.iter().zip(outcomes.iter_mut()) {
        if names_another_signer(key, request) {
            *outcome = Outcome::Failed(AppendError::KeyEventSigner(key.id().clone()));
            continue;
        }
        let actual = versions.get(&request.stream).copied().unwrap_or(0);
        if actual != request.expected_sequence {
            *outcome = Outcome::Failed(AppendError::Conflict {
                stream: request.stream.clone(),
                expected: request.expected_sequence,
                actual,
            });
            continue;
        }
        let metadata = EventMetadata {
            principal: request.context.principal.clone(),
            unit: request.context.unit.clone(),
            recorded_at: recorded_at.clone(),
            request_id: request.context.request_id.clone(),
            correlation_id: request.context.correlation_id.clone(),
        };
        let start = batch.len();
        let (openings_start, erases_start) = (openings.len(), erases.len());
        let (mut pos, mut prev, mut seq) = (position, prev_hash, actual);
        let mut failure = None;
        for event in &request.events {
            pos += 1;
            seq += 1;
            let record = EventRecord {
                ledger_id: ledger.clone(),
                position: pos,
                aggregate_type: request.stream.aggregate_type.clone(),
                aggregate_id: request.stream.aggregate_id.clone(),
                sequence: seq,
                event_type: event.event_type.clone(),
                event_version: event.event_version.clone(),
                payload: event.payload.clone(),
                metadata: metadata.clone(),
                prev_hash: prev,
                key_id: key.id().clone(),
                format_version: Some(CURRENT_FORMAT_VERSION),
            };
            match record.hash_unsigned() {
                Ok(unsigned) => {
                    prev = unsigned.hash;
                    batch.push(unsigned);
                    openings.extend(event.openings.iter().map(|o| StoredOpening {
                        position: pos,
                        stream: request.stream.clone(),
                        opening: o.clone(),
                    }));
                    erases.extend_from_slice(&event.erases);
                }
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        match failure {
            // A request that cannot be sealed (too large once framed) fails alone; the
            // chain continues from the last accepted event.
            Some(err) => {
                batch.truncate(start);
                openings.truncate(openings_start);
                erases.truncate(erases_start);
                *outcome = Outcome::Failed(AppendError::Invalid(err));
            }
            None => {
                position = pos;
                prev_hash = prev;
                versions.insert(request.stream.clone(), seq);
                *outcome = Outcome::Accepted(batch.len() - start);
            }
        }
    }
    if batch.len() >= PARALLEL_SIGNING_MIN {
        use rayon::prelude::*;
        batch
            .par_iter_mut()
            .for_each(|e| e.signature = key.sign(&e.hash));
    } else {
        for e in &mut batch {
            e.signature = key.sign(&e.hash);
        }
    }
    Batch {
        events: batch,
        openings,
        erases,
    }
}
