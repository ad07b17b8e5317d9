//! cqrs-es adapter: lets `CqrsFramework` load and commit aggregates through the ledger.
//!
//! cqrs-es's own persisted store applies events twice when snapshotting and replays by
//! per-stream sequence; this adapter loads one stream by sequence (all an aggregate
//! needs), applies each event once, and surfaces every database error. Global replays
//! (projections, verification) go by position through the ledger, never through here.

use std::collections::{HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::Mutex;

use cqrs_es::{
    Aggregate, AggregateContext, AggregateError, DomainEvent, EventEnvelope, EventStore,
};
use serde_json::Value;

use crate::ledger::sequencer::{AppendError, AppendRequest, NewEvent, RequestContext};
use crate::ledger::Ledger;
use crate::storage::SealedRef;
use icac_aggregates::sealed::SealedEffects;
use icac_format::chain::Hash32;
use icac_format::record::{SealedEvent, StreamId};
use icac_format::sealed::{seal_payload, SealError};

/// Metadata keys a command passes to `execute_with_metadata`.
pub const META_PRINCIPAL: &str = "principal";
pub const META_UNIT: &str = "unit";
pub const META_REQUEST_ID: &str = "request_id";
pub const META_CORRELATION_ID: &str = "correlation_id";
/// Metadata keys the store adds to committed envelopes, so queries know where an event sits.
pub const META_POSITION: &str = "position";
pub const META_HASH: &str = "hash";
pub const META_RECORDED_AT: &str = "recorded_at";

/// Rewrites a stored payload written under an older `event_version` into the current
/// shape before it is deserialized. Every store is given one: a store that skipped it
/// would read old events as if they were current.
pub type Upcaster = fn(
    aggregate_type: &str,
    event_type: &str,
    event_version: &str,
    payload: Value,
) -> Result<Value, String>;

/// Most aggregates kept in memory per store. Measured (a counting allocator over the
/// soak's filings): a case aggregate holding a typical notification form takes about
/// 1.5 KB, so the 20,000 this used to be was ~30 MiB for cases alone and most of the
/// soak's memory growth; 4,096 is ~6 MiB and still covers the cases worked on at once.
const CACHE_LIMIT: usize = 4_096;
/// Most bytes of events (canonical form) behind the cached aggregates per store: a
/// form may be up to 64 KiB, so a count alone does not bound the memory. A state takes
/// about 1.3 times its events' canonical bytes in memory (a filed case: ~1.1 KB of
/// canonical event, ~1.5 KB of aggregate).
const CACHE_BYTES: usize = 8 << 20;

/// Recently used aggregate states in two generations: hits and commits go to the young
/// one; when it is full (half of either bound) the old one is dropped and the young
/// one ages. An approximation of least-recently-used that never holds more than the
/// bounds and never empties all at once.
struct AggregateCache<A> {
    young: HashMap<String, Cached<A>>,
    old: HashMap<String, Cached<A>>,
    young_bytes: usize,
}

#[derive(Clone)]
struct Cached<A> {
    sequence: u64,
    aggregate: A,
    /// Canonical bytes of the events this state folds.
    bytes: usize,
}

impl<A> AggregateCache<A> {
    fn new() -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            young_bytes: 0,
        }
    }
}

impl<A: Clone> AggregateCache<A> {
    fn get(&mut self, id: &str) -> Option<Cached<A>> {
        if let Some(c) = self.young.get(id) {
            return Some(c.clone());
        }
        let c = self.old.remove(id)?;
        self.insert(id.to_owned(), c.clone());
        Some(c)
    }

    fn sequence(&self, id: &str) -> Option<u64> {
        self.young
            .get(id)
            .or_else(|| self.old.get(id))
            .map(|c| c.sequence)
    }

    fn insert(&mut self, id: String, cached: Cached<A>) {
        self.old.remove(&id);
        self.young_bytes += cached.bytes;
        if let Some(previous) = self.young.insert(id, cached) {
            self.young_bytes -= previous.bytes;
        }
        if self.young.len() >= CACHE_LIMIT / 2 || self.young_bytes >= CACHE_BYTES / 2 {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
    }

    fn remove(&mut self, id: &str) {
        if let Some(c) = self.young.remove(id) {
            self.young_bytes -= c.bytes;
        }
        self.old.remove(id);
    }
}

/// Aggregates whose last commit failed only because this process's cached state was
/// behind another process's writes; shared by the stores of one `Commands`.
#[derive(Debug, Default)]
pub struct StaleLoads(Mutex<HashSet<(&'static str, String)>>);

impl StaleLoads {
    fn mark(&self, aggregate_type: &'static str, aggregate_id: &str) {
        if let Ok(mut set) = self.0.lock() {
            set.insert((aggregate_type, aggregate_id.to_owned()));
        }
    }

    /// Whether the last conflict on this aggregate came from a stale cache (and forgets it).
    pub fn take(&self, aggregate_type: &'static str, aggregate_id: &str) -> bool {
        self.0
            .lock()
            .is_ok_and(|mut set| set.remove(&(aggregate_type, aggregate_id.to_owned())))
    }
}

pub struct LedgerEventStore<A> {
    ledger: Ledger,
    upcast: Upcaster,
    stale: std::sync::Arc<StaleLoads>,
    /// Last committed state of recently used aggregates, with the sequence it reflects.
    /// Events are immutable, so a cached state is never wrong, only possibly behind: a
    /// load reads just the events after it (usually none) instead of the whole stream.
    cache: Mutex<AggregateCache<A>>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A> LedgerEventStore<A> {
    pub fn new(ledger: Ledger, upcast: Upcaster) -> Self {
        Self {
            ledger,
            upcast,
            stale: Default::default(),
            cache: Mutex::new(AggregateCache::new()),
            _aggregate: PhantomData,
        }
    }

    /// Where this store notes conflicts caused by a stale cache.
    pub fn with_stale_loads(mut self, stale: std::sync::Arc<StaleLoads>) -> Self {
        self.stale = stale;
        self
    }
}

pub struct LedgerAggregateContext<A> {
    aggregate_id: String,
    aggregate: A,
    sequence: u64,
    /// Served from the cache without reading the database.
    cached: bool,
    /// Canonical bytes of the events folded into `aggregate`.
    bytes: usize,
}

impl<A: Aggregate> AggregateContext<A> for LedgerAggregateContext<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.aggregate
    }
}

impl<A: Aggregate> LedgerAggregateContext<A> {
    pub fn sequence(&self) -> u64 {
        self.sequence
    }
}

fn unexpected<E: std::error::Error>(
    e: impl std::error::Error + Send + Sync + 'static,
) -> AggregateError<E> {
    AggregateError::UnexpectedError(Box::new(e))
}

#[derive(Debug, thiserror::Error)]
#[error("event {position} ({event_type} v{event_version}) cannot be loaded: {reason}")]
pub struct LoadError {
    position: u64,
    event_type: String,
    event_version: String,
    reason: String,
}

/// The request context a command's metadata describes.
pub fn context_from_metadata(metadata: &HashMap<String, String>) -> RequestContext {
    RequestContext {
        principal: metadata.get(META_PRINCIPAL).cloned().unwrap_or_default(),
        unit: metadata.get(META_UNIT).cloned(),
        request_id: metadata.get(META_REQUEST_ID).cloned().unwrap_or_default(),
        correlation_id: metadata.get(META_CORRELATION_ID).cloned(),
    }
}

/// Metadata of an envelope built from a sealed event.
pub fn envelope_metadata(event: &SealedEvent) -> HashMap<String, String> {
    let m = &event.record.metadata;
    let mut map = HashMap::with_capacity(7);
    map.insert(META_PRINCIPAL.into(), m.principal.clone());
    if let Some(unit) = &m.unit {
        map.insert(META_UNIT.into(), unit.clone());
    }
    map.insert(META_REQUEST_ID.into(), m.request_id.clone());
    if let Some(c) = &m.correlation_id {
        map.insert(META_CORRELATION_ID.into(), c.clone());
    }
    map.insert(META_RECORDED_AT.into(), m.recorded_at.clone());
    map.insert(META_POSITION.into(), event.record.position.to_string());
    map.insert(META_HASH.into(), event.hash.to_hex());
    map
}

impl<A: Aggregate> LedgerEventStore<A> {
    fn envelope(&self, event: &SealedEvent) -> Result<EventEnvelope<A>, LoadError> {
        let r = &event.record;
        let fail = |reason: String| LoadError {
            position: r.position,
            event_type: r.event_type.clone(),
            event_version: r.event_version.clone(),
            reason,
        };
        let payload = (self.upcast)(
            &r.aggregate_type,
            &r.event_type,
            &r.event_version,
            r.payload.clone(),
        )
        .map_err(fail)?;
        let payload: A::Event = serde_json::from_value(payload).map_err(|e| fail(e.to_string()))?;
        Ok(EventEnvelope {
            aggregate_id: r.aggregate_id.clone(),
            sequence: usize::try_from(r.sequence).map_err(|e| fail(e.to_string()))?,
            payload,
            metadata: envelope_metadata(event),
        })
    }
}

impl<A> EventStore<A> for LedgerEventStore<A>
where
    A: Aggregate + Clone + 'static,
    A::Event: SealedEffects,
{
    type AC = LedgerAggregateContext<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let stream = StreamId::new(A::TYPE, aggregate_id);
        let events = self.ledger.read_stream(&stream).await.map_err(unexpected)?;
        events
            .iter()
            .map(|e| {
                self.envelope(e)
                    .map_err(|e| AggregateError::DeserializationError(Box::new(e)))
            })
            .collect()
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<LedgerAggregateContext<A>, AggregateError<A::Error>> {
        let cached = self.cache.lock().ok().and_then(|mut c| c.get(aggregate_id));
        if let Some(c) = cached {
            return Ok(LedgerAggregateContext {
                aggregate_id: aggregate_id.to_owned(),
                aggregate: c.aggregate,
                sequence: c.sequence,
                cached: true,
                bytes: c.bytes,
            });
        }
        let (mut sequence, mut aggregate) = (0, A::default());
        let stream = StreamId::new(A::TYPE, aggregate_id);
        let events = self
            .ledger
            .read_stream_after(&stream, sequence)
            .await
            .map_err(unexpected)?;
        let mut bytes = 0;
        for event in &events {
            let envelope = self
                .envelope(event)
                .map_err(|e| AggregateError::DeserializationError(Box::new(e)))?;
            sequence = envelope.sequence as u64;
            bytes += event.canonical.len();
            aggregate.apply(envelope.payload);
        }
        Ok(LedgerAggregateContext {
            aggregate_id: aggregate_id.to_owned(),
            aggregate,
            sequence,
            cached: false,
            bytes,
        })
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: LedgerAggregateContext<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut new_events = Vec::with_capacity(events.len());
        for event in &events {
            new_events.push(sealed_event(event).map_err(unexpected)?);
        }
        let erases = new_events.iter().any(|e| !e.erases.is_empty());
        let request = AppendRequest {
            stream: StreamId::new(A::TYPE, &context.aggregate_id),
            expected_sequence: context.sequence,
            events: new_events,
            context: context_from_metadata(&metadata),
        };
        let sealed = match self.ledger.append(request).await {
            Ok(sealed) => sealed,
            Err(AppendError::Conflict { expected, .. }) => {
                if let Ok(mut cache) = self.cache.lock() {
                    // Still at the sequence this command started from: no commit of this
                    // process overtook it, so the state was behind another process's.
                    let overtaken = cache
                        .sequence(&context.aggregate_id)
                        .is_some_and(|seq| seq != expected);
                    if context.cached && !overtaken {
                        self.stale.mark(A::TYPE, &context.aggregate_id);
                    }
                    // The next load reads the stream afresh.
                    cache.remove(&context.aggregate_id);
                }
                return Err(AggregateError::AggregateConflict);
            }
            Err(e) => return Err(unexpected(e)),
        };
        if erases {
            // The cached state applied the events with their values open (the rules never
            // read them, so it decides as the committed state would). An erasure drops it:
            // the next load folds the committed events, which hold commitments only, so an
            // erased value does not outlive its erasure even in memory.
            if let Ok(mut cache) = self.cache.lock() {
                cache.remove(&context.aggregate_id);
            }
        } else if let (Some(last), Ok(mut cache)) = (sealed.last(), self.cache.lock()) {
            // The context's aggregate already has these events applied (EventSink did it).
            let bytes = context.bytes + sealed.iter().map(|e| e.canonical.len()).sum::<usize>();
            cache.insert(
                context.aggregate_id.clone(),
                Cached {
                    sequence: last.record.sequence,
                    aggregate: context.aggregate.clone(),
                    bytes,
                },
            );
        }
        Ok(sealed
            .iter()
            .zip(events)
            .map(|(s, payload)| EventEnvelope {
                aggregate_id: context.aggregate_id.clone(),
                sequence: s.record.sequence as usize,
                payload,
                metadata: envelope_metadata(s),
            })
            .collect())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("event cannot be serialized: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// The event as the ledger stores it: every personal value (a `Sealed` field, found
/// by its `{"unsealed": …}` marker) replaced by a commitment under fresh OS salt, with
/// the openings and erasures that go into the same transaction.
pub fn sealed_event<E>(event: &E) -> Result<NewEvent, SealingError>
where
    E: DomainEvent + SealedEffects,
{
    let mut payload = serde_json::to_value(event)?;
    let openings = seal_payload(&mut payload, &mut fresh_salt)?;
    Ok(NewEvent {
        event_type: event.event_type(),
        event_version: event.event_version(),
        payload,
        openings,
        erases: event
            .erases()
            .into_iter()
            .map(|(position, c)| SealedRef {
                position: position.get(),
                commitment: Hash32(c.0),
            })
            .collect(),
    })
}

fn fresh_salt() -> [u8; 32] {
    use rand_core::RngCore;
    let mut salt = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut salt);
    salt
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    fn entry(sequence: u64, bytes: usize) -> Cached<u64> {
        Cached {
            sequence,
            aggregate: sequence,
            bytes,
        }
    }

    fn held(c: &AggregateCache<u64>) -> usize {
        c.young.len() + c.old.len()
    }

    #[test]
    fn never_holds_more_than_its_bounds_and_keeps_what_is_used() {
        let mut c = AggregateCache::new();
        for i in 0..(CACHE_LIMIT * 5) {
            c.insert(format!("a{i}"), entry(i as u64, 100));
            // The first aggregate is used all along: it survives every rotation.
            assert_eq!(c.get("a0").map(|e| e.aggregate), Some(0), "after {i}");
            assert!(held(&c) <= CACHE_LIMIT, "{} after {i}", held(&c));
        }
        let mut c = AggregateCache::new();
        for i in 0..1_000 {
            c.insert(format!("big{i}"), entry(1, 64 * 1024));
            let bytes: usize = c
                .young
                .values()
                .chain(c.old.values())
                .map(|e| e.bytes)
                .sum();
            assert!(bytes <= CACHE_BYTES + 64 * 1024, "{bytes} after {i}");
        }
        c.insert("x".into(), entry(3, 10));
        assert_eq!(c.sequence("x"), Some(3));
        c.remove("x");
        assert_eq!(c.sequence("x"), None);
    }
}
