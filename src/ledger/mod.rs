//! The ledger: an append-only, hash-chained, signed sequence of events.
//!
//! It knows streams, positions, hashes and keys; it knows nothing about cases. Commands
//! reach it through `event_store` (the cqrs-es adapter); auditors read it through
//! `verify` and the export bundle. What the bytes mean (records, hashes, keys, proofs)
//! is `icac_format`; this module writes and reads them.

pub mod clock;
pub mod key_file;
pub mod sequencer;
pub mod signer;

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::storage::{Head, Storage, StorageError, StoredRow};
use clock::{ClockError, WriterClock};
use icac_format::chain;
use icac_format::key_events::CommitClock;
use icac_format::key_events::{self, ledger_stream, KeyEventError};
use icac_format::keys::{KeyId, Keyring, LedgerKey};
use icac_format::record::{EventRecord, LedgerId, RecordError, SealedEvent, StreamId};
use key_file::KeyFile;
use sequencer::{
    AppendError, AppendRequest, CommittedBatch, KeyStream, NewEvent, Outlets, RequestContext,
    SequencerHandle,
};
use signer::Signer;

pub use sequencer::SequencerStats;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("ledger {0} has no events; run `icac-ledger init` first")]
    NotInitialised(LedgerId),
    #[error("ledger {ledger}: the signing key {given} is not the active key {active}; use the key file that was last rotated in")]
    WrongKey {
        ledger: LedgerId,
        given: KeyId,
        active: KeyId,
    },
    #[error("ledger key history is invalid: {0}")]
    KeyHistory(#[from] KeyEventError),
    #[error(transparent)]
    Key(#[from] icac_format::keys::KeyError),
    #[error(transparent)]
    KeyFile(#[from] key_file::KeyFileError),
    #[error("stored event at position {position} cannot be read: {source}")]
    BadRow { position: u64, source: RecordError },
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Clock(#[from] ClockError),
}

/// A handle to one open ledger; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    id: LedgerId,
    storage: Storage,
    writer: SequencerHandle,
    committed: watch::Receiver<u64>,
    published: broadcast::Sender<CommittedBatch>,
    last_head: Arc<std::sync::Mutex<Option<Head>>>,
    stats: Arc<SequencerStats>,
    signer: Arc<Signer>,
    clock: WriterClock,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Ledger {
    /// Writes the genesis event if the ledger is empty. Idempotent.
    pub async fn initialise(
        storage: &Storage,
        id: &LedgerId,
        key: &LedgerKey,
    ) -> Result<Head, LedgerError> {
        Self::initialise_as(storage, id, key, "system:init").await
    }

    /// [`Ledger::initialise`], with `principal` recorded as the genesis event's author
    /// (a benchmark marks the ledgers it creates this way).
    pub async fn initialise_as(
        storage: &Storage,
        id: &LedgerId,
        key: &LedgerKey,
        principal: &str,
    ) -> Result<Head, LedgerError> {
        Self::initialise_with(storage, id, key, principal, WriterClock::system()).await
    }

    /// Writes the genesis of a demo ledger if the ledger is empty: its genesis declares
    /// the demo clock (`clock`), so the demo's story sets its commit times while it is
    /// loaded. Only the demo commands call this; a ledger already initialised keeps the
    /// clock its genesis declares.
    /// The genesis is committed at `story_start` (the story's first instant, so that
    /// the story's own commit times can follow it without going backwards).
    pub async fn initialise_demo(
        storage: &Storage,
        id: &LedgerId,
        key: &LedgerKey,
        story_start: jiff::Timestamp,
    ) -> Result<Head, LedgerError> {
        let clock = WriterClock::declared(CommitClock::Demo);
        clock.set_story_time(Some(story_start))?;
        Self::initialise_with(storage, id, key, "system:demo", clock).await
    }

    async fn initialise_with(
        storage: &Storage,
        id: &LedgerId,
        key: &LedgerKey,
        principal: &str,
        clock: WriterClock,
    ) -> Result<Head, LedgerError> {
        let head = storage.head(id).await?;
        if head.position > 0 {
            return Ok(head);
        }
        let request = AppendRequest {
            stream: ledger_stream(id),
            expected_sequence: 0,
            events: vec![NewEvent {
                event_type: key_events::LEDGER_INITIALIZED.into(),
                event_version: key_events::KEY_EVENT_VERSION.into(),
                payload: key_events::genesis_payload(
                    id,
                    key,
                    key_events::FORMAT_VERSION,
                    clock.commit_clock(),
                ),
                openings: Vec::new(),
                erases: Vec::new(),
            }],
            context: RequestContext {
                principal: principal.into(),
                unit: None,
                request_id: format!("init-{}", key.id()),
                correlation_id: None,
            },
        };
        let (committed, _rx) = watch::channel(0);
        let (published, _) = broadcast::channel(1);
        let outlets = Outlets {
            committed,
            published,
            head: Default::default(),
            stats: Arc::new(SequencerStats::default()),
        };
        let signer = Signer::new(LedgerKey::from_signing_key(key.signing_key().clone()), None);
        let keys = KeyStream {
            version: 0,
            active: key.id().clone(),
        };
        let (writer, task) = sequencer::spawn(
            storage.clone(),
            id.clone(),
            Arc::new(signer),
            keys,
            outlets,
            clock,
        );
        let result = writer.append_key_event(request).await;
        drop(writer);
        let _ = task.await;
        match result {
            Ok(_) => {}
            // Another process initialised it at the same moment: that is fine.
            Err(AppendError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(storage.head(id).await?)
    }

    /// Opens an initialised ledger for writing with `key`, which must be the active key.
    /// The writer cannot follow a rotation made by another process (it stops writing);
    /// `open_with_key_file` can.
    pub async fn open(storage: Storage, id: LedgerId, key: LedgerKey) -> Result<Self, LedgerError> {
        Self::open_with_signer(storage, id, Signer::new(key, None)).await
    }

    /// Opens the ledger with the key in `path`, which must be the active key. After a
    /// rotation by another process (`keys rotate` while this one runs) the writer reads
    /// `path` again and signs on once it holds the key rotated in (docs/OPERATIONS.md).
    pub async fn open_with_key_file(
        storage: Storage,
        id: LedgerId,
        path: &std::path::Path,
    ) -> Result<Self, LedgerError> {
        let key = LedgerKey::load(path)?;
        Self::open_with_signer(storage, id, Signer::new(key, Some(path))).await
    }

    async fn open_with_signer(
        storage: Storage,
        id: LedgerId,
        signer: Signer,
    ) -> Result<Self, LedgerError> {
        storage.check_schema().await?;
        let head = storage.head(&id).await?;
        if head.position == 0 {
            return Err(LedgerError::NotInitialised(id));
        }
        let records = key_records(&storage, &id).await?;
        let version = records.last().map_or(0, |r| r.sequence);
        let ring = key_events::keyring_from(&records)?;
        let clock = WriterClock::declared(genesis_clock(&records));
        let active = ring
            .active()
            .map(|e| e.key_id.clone())
            .ok_or(LedgerError::KeyHistory(KeyEventError::MissingGenesis))?;
        let key = signer.current();
        if &active != key.id() {
            return Err(LedgerError::WrongKey {
                ledger: id,
                given: key.id().clone(),
                active,
            });
        }
        let signer = Arc::new(signer);
        let keys = KeyStream { version, active };
        let stats = Arc::new(SequencerStats::default());
        let (committed, rx) = watch::channel(head.position);
        let (published, _) = broadcast::channel(sequencer::PUBLISHED_BATCHES);
        let head = Arc::new(std::sync::Mutex::new(None));
        let outlets = Outlets {
            committed,
            published: published.clone(),
            head: head.clone(),
            stats: stats.clone(),
        };
        let (writer, task) = sequencer::spawn(
            storage.clone(),
            id.clone(),
            signer.clone(),
            keys,
            outlets,
            clock.clone(),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                id,
                storage,
                writer,
                committed: rx,
                published,
                last_head: head,
                stats,
                signer,
                clock,
                task: std::sync::Mutex::new(Some(task)),
            }),
        })
    }

    /// The writer's clock: what the genesis declares, and on a demo ledger the story's
    /// instant (`clock`).
    pub fn clock(&self) -> &WriterClock {
        &self.inner.clock
    }

    pub fn id(&self) -> &LedgerId {
        &self.inner.id
    }

    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    pub fn stats(&self) -> &SequencerStats {
        &self.inner.stats
    }

    /// The key this process signs with (it follows rotations; see `signer`).
    pub fn signer(&self) -> &Arc<Signer> {
        &self.inner.signer
    }

    /// The key held now, for checkpoints, proofs and bundles. Signing code checks it is
    /// the key active for the tree it signs.
    pub fn signing_key(&self) -> Arc<LedgerKey> {
        self.inner.signer.current()
    }

    /// Follows the committed head position; projections wait on it to catch up.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.inner.committed.clone()
    }

    /// Every batch this process commits from now on, in order. A subscriber that falls
    /// more than `PUBLISHED_BATCHES` behind gets `Lagged` and must read the ledger; so
    /// must anyone who needs events other processes wrote.
    pub fn subscribe(&self) -> broadcast::Receiver<CommittedBatch> {
        self.inner.published.subscribe()
    }

    pub async fn append(&self, request: AppendRequest) -> Result<Vec<SealedEvent>, AppendError> {
        self.inner.writer.append(request).await
    }

    /// Records a `SigningKeyRotated` event signed by the current key, then signs with
    /// `next` from the following position on.
    pub async fn rotate_key(
        &self,
        current: &LedgerKey,
        next: LedgerKey,
        principal: &str,
    ) -> Result<SealedEvent, LedgerError> {
        let held = self.signing_key();
        if held.id() != current.id() {
            return Err(LedgerError::WrongKey {
                ledger: self.id().clone(),
                given: current.id().clone(),
                active: held.id().clone(),
            });
        }
        let stream = ledger_stream(self.id());
        let (ring, expected) = key_history(self.storage(), self.id()).await?;
        if ring.contains(next.id()) {
            return Err(icac_format::keys::KeyError::ReusedKey(next.id().clone()).into());
        }
        let request = AppendRequest {
            stream,
            expected_sequence: expected,
            events: vec![NewEvent {
                event_type: key_events::SIGNING_KEY_ROTATED.into(),
                event_version: key_events::KEY_EVENT_VERSION.into(),
                payload: key_events::rotated_payload(current, &next),
                openings: Vec::new(),
                erases: Vec::new(),
            }],
            context: RequestContext {
                principal: principal.into(),
                unit: None,
                request_id: format!("rotate-{}", next.id()),
                correlation_id: None,
            },
        };
        let mut sealed = self.inner.writer.rotate(request, next).await?;
        sealed.pop().ok_or(LedgerError::Append(AppendError::Closed))
    }

    /// Events of one stream, in sequence order, parsed from their canonical bytes.
    pub async fn read_stream(&self, stream: &StreamId) -> Result<Vec<SealedEvent>, LedgerError> {
        self.read_stream_after(stream, 0).await
    }

    /// Events of one stream with `sequence > after`, in sequence order.
    pub async fn read_stream_after(
        &self,
        stream: &StreamId,
        after: u64,
    ) -> Result<Vec<SealedEvent>, LedgerError> {
        let rows = self
            .storage()
            .read_stream_after(self.id(), stream, after)
            .await?;
        rows.into_iter().map(sealed_from_row).collect()
    }

    /// The head after the last batch this process committed, without a database read;
    /// `None` before its first commit. Other processes may have appended since.
    pub fn last_committed_head(&self) -> Option<Head> {
        self.inner.last_head.lock().ok().and_then(|h| h.clone())
    }

    pub async fn head(&self) -> Result<Head, LedgerError> {
        Ok(self.storage().head(self.id()).await?)
    }

    /// The head, if the ledger can be read and written. After a batch failed to commit
    /// (a full disk, say) reading is not enough: a small write to the database must
    /// succeed first, so readiness comes back by itself once space does, even when no
    /// command arrives to try.
    pub async fn ready(&self) -> Result<Head, LedgerError> {
        let head = self.head().await?;
        let stats = &self.inner.stats;
        if stats
            .write_failing
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            self.storage().probe_write().await?;
            stats
                .write_failing
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(head)
    }

    /// Stops accepting appends and waits for queued ones to commit.
    pub async fn shutdown(self) {
        let task = self.inner.task.lock().ok().and_then(|mut t| t.take());
        drop(self);
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The keyring defined by the ledger's own key events.
pub async fn keyring(storage: &Storage, id: &LedgerId) -> Result<Keyring, LedgerError> {
    Ok(key_history(storage, id).await?.0)
}

/// The keyring, and the key stream's last sequence (the writer's check that no rotation
/// happened since it read them).
pub async fn key_history(storage: &Storage, id: &LedgerId) -> Result<(Keyring, u64), LedgerError> {
    let records = key_records(storage, id).await?;
    let version = records.last().map_or(0, |r| r.sequence);
    Ok((key_events::keyring_from(&records)?, version))
}

/// The clock the ledger's genesis declares its commit times follow.
pub async fn commit_clock(storage: &Storage, id: &LedgerId) -> Result<CommitClock, LedgerError> {
    Ok(genesis_clock(&key_records(storage, id).await?))
}

fn genesis_clock(records: &[EventRecord]) -> CommitClock {
    records
        .first()
        .filter(|r| r.position == 1 && r.event_type == key_events::LEDGER_INITIALIZED)
        .map(|r| CommitClock::of_genesis(&r.payload))
        .unwrap_or_default()
}

async fn key_records(storage: &Storage, id: &LedgerId) -> Result<Vec<EventRecord>, LedgerError> {
    let rows = storage
        .read_type(id, key_events::LEDGER_AGGREGATE_TYPE)
        .await?;
    rows.into_iter()
        .map(|row| sealed_from_row(row).map(|s| s.record))
        .collect()
}

/// Parses a stored row into a sealed event, trusting the database. Verification, which
/// trusts nothing, lives in `verify`.
pub fn sealed_from_row(row: StoredRow) -> Result<SealedEvent, LedgerError> {
    let position = row.position;
    let bad = |source| LedgerError::BadRow { position, source };
    let record = EventRecord::from_stored(&row.canonical).map_err(bad)?;
    let hash =
        chain::Hash32::from_slice(&row.hash).map_err(|e| bad(RecordError::Shape(e.to_string())))?;
    let signature: [u8; 64] = row
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| bad(RecordError::Shape("signature is not 64 bytes".into())))?;
    Ok(SealedEvent {
        record,
        canonical: row.canonical,
        hash,
        signature,
    })
}
