//! The access log: who read which case, logons that failed, tokens issued and revoked.
//! A hash chain of its own (CJIS 5.4: protect audit records from change):
//! `hash = SHA-256(prev_hash || canonical JSON of the entry)`, starting from 32 zero
//! bytes, so removing, editing or reordering an entry breaks every later hash.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use tokio::sync::{oneshot, Mutex};

use super::db::is_unique_violation;
use crate::storage::sql::{on_pool, on_write_tx};
use crate::storage::Storage;
use icac_format::canonical::to_canonical_bytes;
use icac_format::record::LedgerId;

const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const MAX_FIELD: usize = 200;
/// Entries returned by one listing.
pub const MAX_PAGE: u64 = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum AccessLogError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("access log entry cannot be encoded: {0}")]
    Encode(String),
    #[error("another writer kept extending the access log; giving up")]
    Contended,
    #[error("the access log did not accept the entry: {0}")]
    Unwritable(String),
    #[error("more than {MAX_WAITING} access log entries are waiting to be written")]
    Backlog,
}

/// One entry. Identities are principal ids (role:token), never names; the target is a
/// case id or token id, never content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    pub seq: u64,
    pub at: String,
    pub action: String,
    pub principal: String,
    pub source: String,
    pub target: String,
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

fn clip(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_FIELD)
        .collect()
}

impl AccessEntry {
    pub fn new(action: &str, principal: &str, source: &str, target: &str, outcome: &str) -> Self {
        AccessEntry {
            seq: 0,
            at: jiff::Timestamp::now().to_string(),
            action: clip(action),
            principal: clip(principal),
            source: clip(source),
            target: clip(target),
            outcome: clip(outcome),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(clip(&detail));
        self
    }
}

/// A stored entry with its chain hashes.
#[derive(Debug, Clone, Serialize)]
pub struct ChainedEntry {
    #[serde(flatten)]
    pub entry: AccessEntry,
    pub prev_hash: String,
    pub hash: String,
}

/// Links `entries` after the entry `seq` whose hash is `prev`: numbers them and hashes
/// each over its predecessor.
fn chain(
    mut seq: u64,
    mut prev: String,
    entries: &mut [AccessEntry],
) -> Result<Vec<ChainedEntry>, AccessLogError> {
    let mut stored = Vec::with_capacity(entries.len());
    for entry in entries.iter_mut() {
        seq += 1;
        entry.seq = seq;
        let hash = entry_hash(&prev, entry)?;
        stored.push(ChainedEntry {
            entry: entry.clone(),
            prev_hash: std::mem::replace(&mut prev, hash.clone()),
            hash,
        });
    }
    Ok(stored)
}

/// One INSERT of `rows` entries.
fn insert_statement(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let b = r * 5;
            format!(
                "(${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5
            )
        })
        .collect();
    format!(
        "INSERT INTO access_log (ledger_id, seq, entry, prev_hash, hash) VALUES {}",
        values.join(", ")
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct AccessLogReport {
    pub entries: u64,
    pub valid: bool,
    pub head: String,
    /// The first entry whose hash or link does not check, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_break: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub fn entry_hash(prev_hash_hex: &str, entry: &AccessEntry) -> Result<String, AccessLogError> {
    let value = serde_json::to_value(entry).map_err(|e| AccessLogError::Encode(e.to_string()))?;
    let canonical =
        to_canonical_bytes(&value).map_err(|e| AccessLogError::Encode(e.to_string()))?;
    let prev = hex::decode(prev_hash_hex).map_err(|e| AccessLogError::Encode(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(&prev);
    h.update(&canonical);
    Ok(hex::encode(h.finalize()))
}

/// Entries written in one transaction at most: a batch of 5 parameters each stays far
/// under both dialects' limits on bound parameters.
const MAX_BATCH: usize = 512;
/// Entries waiting for a writer at most. Past it a request fails (closed) instead of
/// queueing without bound behind a log that cannot keep up.
const MAX_WAITING: usize = 16_384;
/// Attempts of one batch against writers in other processes.
const ATTEMPTS: usize = 8;

/// An entry waiting to be written, and who waits for its outcome.
struct Waiting {
    entry: AccessEntry,
    done: oneshot::Sender<Result<ChainedEntry, AccessLogError>>,
}

/// Whether the log is accepting entries: what the status page, the metrics and the
/// alert report (CJIS AU-5). Set by every write, so it changes within one request of
/// the log failing or recovering.
#[derive(Debug, Default)]
struct Health {
    failures: AtomicU64,
    written: AtomicU64,
    failing: std::sync::Mutex<Option<Failing>>,
}

/// Since when the log has refused entries, and why (the database's words, no entry).
#[derive(Debug, Clone, Serialize)]
pub struct Failing {
    pub since: String,
    pub error: String,
}

/// The log's writability, for the status page and `/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct AccessLogHealth {
    pub writable: bool,
    pub write_failures: u64,
    pub entries_written: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<Failing>,
}

/// Entries younger than this are never purged (CJIS AU-11: at least a year).
pub const MIN_RETENTION_DAYS: i64 = 365;

/// What a purge removed: entries `first_seq..=through_seq`; verification continues
/// from `anchor_hash`, the last one's hash.
#[derive(Debug, Clone, Serialize)]
pub struct Purged {
    pub first_seq: u64,
    pub through_seq: u64,
    pub anchor_hash: String,
}

#[derive(Clone)]
pub struct AccessLog {
    storage: Storage,
    ledger: LedgerId,
    /// Entries no writer has taken yet. Every append adds its entry here, then takes
    /// the writer's turn and writes whatever is waiting: concurrent requests share one
    /// transaction (group commit), and no entry waits for more than the batch ahead.
    waiting: Arc<std::sync::Mutex<Vec<Waiting>>>,
    // One writer at a time in this process; other processes are caught by the unique
    // constraints and retried.
    turn: Arc<Mutex<()>>,
    health: Arc<Health>,
    /// What this process's last check of the chain found: status requests continue
    /// from there instead of rehashing a log that grows with every logged request.
    checked: Arc<Mutex<Option<AccessLogReport>>>,
}

impl AccessLog {
    pub fn new(storage: Storage, ledger: LedgerId) -> Self {
        AccessLog {
            storage,
            ledger,
            waiting: Arc::default(),
            turn: Arc::new(Mutex::new(())),
            health: Arc::default(),
            checked: Arc::new(Mutex::new(None)),
        }
    }

    /// Appends one entry and returns it as stored, once its transaction has committed.
    /// An error means the entry is not in the log, and the caller must not go on with
    /// what the entry records (fail closed).
    pub async fn append(&self, entry: AccessEntry) -> Result<ChainedEntry, AccessLogError> {
        let (done, outcome) = oneshot::channel();
        {
            let mut waiting = self
                .waiting
                .lock()
                .map_err(|_| AccessLogError::Unwritable("the queue's lock is poisoned".into()))?;
            if waiting.len() >= MAX_WAITING {
                return Err(AccessLogError::Backlog);
            }
            waiting.push(Waiting { entry, done });
        }
        // A task of its own: a request dropped while its batch is being written (the
        // client went away) must not roll back the entries of the others in it.
        let writer = self.clone();
        let _ = tokio::spawn(async move { writer.write_waiting().await }).await;
        outcome.await.unwrap_or_else(|_| {
            Err(AccessLogError::Unwritable(
                "the writer stopped before the entry was written".into(),
            ))
        })
    }

    /// Takes the writer's turn and writes what waits, a batch at a time, until nothing
    /// does. Whoever appended after the last batch started finds its entry taken.
    async fn write_waiting(&self) {
        let _turn = self.turn.lock().await;
        loop {
            let batch: Vec<Waiting> = match self.waiting.lock() {
                Ok(mut w) => {
                    let n = w.len().min(MAX_BATCH);
                    w.drain(..n).collect()
                }
                Err(_) => return,
            };
            if batch.is_empty() {
                return;
            }
            let (entries, waiters): (Vec<_>, Vec<_>) =
                batch.into_iter().map(|w| (w.entry, w.done)).unzip();
            match self.write_batch(entries).await {
                Ok(stored) => {
                    self.healthy(stored.len());
                    for (done, e) in waiters.into_iter().zip(stored) {
                        let _ = done.send(Ok(e));
                    }
                }
                Err(e) => {
                    let reason = e.to_string();
                    self.failed(&reason, waiters.len());
                    for done in waiters {
                        let _ = done.send(Err(AccessLogError::Unwritable(reason.clone())));
                    }
                }
            }
        }
    }

    /// Writes `entries` after the head in one transaction, retrying when another
    /// process extended the log first.
    async fn write_batch(
        &self,
        mut entries: Vec<AccessEntry>,
    ) -> Result<Vec<ChainedEntry>, AccessLogError> {
        assert!(!entries.is_empty() && entries.len() <= MAX_BATCH);
        for _ in 0..ATTEMPTS {
            match self.try_batch(&mut entries).await {
                Ok(stored) => return Ok(stored),
                Err(AccessLogError::Sql(e)) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(AccessLogError::Contended)
    }

    async fn try_batch(
        &self,
        entries: &mut [AccessEntry],
    ) -> Result<Vec<ChainedEntry>, AccessLogError> {
        on_write_tx!(&self.storage, |tx, sql| {
            let head = sqlx::query(&sql(
                "SELECT seq, hash FROM access_log WHERE ledger_id = $1 ORDER BY seq DESC LIMIT 1",
            ))
            .bind(self.ledger.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let (seq, prev) = match head {
                Some(r) => (
                    r.try_get::<i64, _>(0)?.max(0) as u64,
                    r.try_get::<String, _>(1)?,
                ),
                None => (0, ZERO_HASH.to_owned()),
            };
            let stored = chain(seq, prev, entries)?;
            let statement = sql(&insert_statement(stored.len()));
            let mut insert = sqlx::query(&statement);
            for e in &stored {
                let text = serde_json::to_string(&e.entry)
                    .map_err(|e| AccessLogError::Encode(e.to_string()))?;
                insert = insert
                    .bind(self.ledger.as_str())
                    .bind(e.entry.seq as i64)
                    .bind(text)
                    .bind(e.prev_hash.clone())
                    .bind(e.hash.clone());
            }
            insert.execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(stored)
        })
    }

    fn healthy(&self, written: usize) {
        self.health
            .written
            .fetch_add(written as u64, Ordering::Relaxed);
        let Ok(mut failing) = self.health.failing.lock() else {
            return;
        };
        if let Some(was) = failing.take() {
            tracing::warn!(
                target: "icac_ledger::alert",
                since = %was.since,
                "access log: accepting entries again"
            );
        }
    }

    /// Raises the alert (CJIS AU-5): an error-level line on every failed batch, the
    /// status page and `icac_access_log_writable` from the first one.
    fn failed(&self, reason: &str, entries: usize) {
        self.health.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            target: "icac_ledger::alert",
            error = %reason,
            refused_entries = entries,
            "ALERT access log: entries cannot be written; reads of case data are refused until it accepts them"
        );
        if let Ok(mut failing) = self.health.failing.lock() {
            failing.get_or_insert_with(|| Failing {
                since: jiff::Timestamp::now().to_string(),
                error: reason.chars().take(MAX_FIELD).collect(),
            });
        }
    }

    /// Probes the log every `period` until dropped (the server aborts it at shutdown),
    /// so a log that stops accepting entries raises the alert on an idle service too,
    /// and one that recovers clears it.
    pub async fn watch(self, period: std::time::Duration) {
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.recheck().await;
        }
    }

    /// Probes the log now (as `watch` does) and says whether it accepts entries.
    pub async fn recheck(&self) -> bool {
        let _turn = self.turn.lock().await;
        match self.probe().await {
            Ok(()) => {
                self.healthy(0);
                true
            }
            Err(e) => {
                self.failed(&e.to_string(), 0);
                false
            }
        }
    }

    /// Writes a row the way an entry is written and rolls it back (grants, triggers),
    /// then commits a write that changes nothing (space): the log accepts entries, and
    /// nothing is added to it.
    async fn probe(&self) -> Result<(), AccessLogError> {
        on_write_tx!(&self.storage, |tx, sql| {
            sqlx::query(&sql(
                "INSERT INTO access_log (ledger_id, seq, entry, prev_hash, hash) VALUES ($1, $2, $3, $4, $5)",
            ))
            .bind(self.ledger.as_str())
            .bind(i64::MAX)
            .bind("{}")
            .bind("probe")
            .bind("probe")
            .execute(&mut *tx)
            .await?;
            tx.rollback().await?;
        });
        // A rolled-back row needs no space: a commit is what a full volume refuses.
        self.storage
            .probe_write()
            .await
            .map_err(|e| AccessLogError::Unwritable(e.to_string()))
    }

    /// Whether the last write failed, and since when; counters since start-up.
    pub fn health(&self) -> AccessLogHealth {
        let failing = self.health.failing.lock().ok().and_then(|f| f.clone());
        AccessLogHealth {
            writable: failing.is_none(),
            write_failures: self.health.failures.load(Ordering::Relaxed),
            entries_written: self.health.written.load(Ordering::Relaxed),
            failing,
        }
    }

    /// Entries with `seq > after`, oldest first, at most `limit`.
    pub async fn page(&self, after: u64, limit: u64) -> Result<Vec<ChainedEntry>, AccessLogError> {
        let limit = limit.clamp(1, MAX_PAGE) as i64;
        let rows = on_pool!(&self.storage, |pool, sql| {
            let rows = sqlx::query(&sql(
                "SELECT entry, prev_hash, hash FROM access_log WHERE ledger_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            ))
            .bind(self.ledger.as_str())
            .bind(after.min(i64::MAX as u64) as i64)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok::<_, sqlx::Error>((
                        r.try_get::<String, _>(0)?,
                        r.try_get::<String, _>(1)?,
                        r.try_get::<String, _>(2)?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        rows.into_iter()
            .map(|(text, prev_hash, hash)| {
                let entry: AccessEntry = serde_json::from_str(&text)
                    .map_err(|e| AccessLogError::Encode(e.to_string()))?;
                Ok(ChainedEntry {
                    entry,
                    prev_hash,
                    hash,
                })
            })
            .collect()
    }

    /// Where the retained log starts: the last purged entry's sequence number and hash
    /// (schema 11's anchor), or the start of the chain if nothing was purged.
    pub async fn anchor(&self) -> Result<(u64, String), AccessLogError> {
        let row = on_pool!(&self.storage, |pool, sql| {
            let r = sqlx::query(&sql(
                "SELECT seq, hash FROM access_log_anchors WHERE ledger_id = $1",
            ))
            .bind(self.ledger.as_str())
            .fetch_optional(pool)
            .await?;
            match r {
                Some(r) => Some((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)),
                None => None,
            }
        });
        Ok(row.map_or((0, ZERO_HASH.to_owned()), |(s, h)| (s.max(0) as u64, h)))
    }

    /// Removes the entries recorded before `before`, keeping the chain verifiable: the
    /// purge is first recorded in the log itself (who, why, which entries), then one
    /// transaction moves the anchor to the last removed entry and deletes up to it.
    /// The caller enforces the retention period (at least [`MIN_RETENTION_DAYS`]).
    pub async fn purge_before(
        &self,
        before: jiff::Timestamp,
        by: &str,
        reason: &str,
    ) -> Result<Option<Purged>, AccessLogError> {
        let (from, _) = self.anchor().await?;
        let Some((through, hash)) = self.last_before(from, before).await? else {
            return Ok(None);
        };
        let purged = Purged {
            first_seq: from + 1,
            through_seq: through,
            anchor_hash: hash,
        };
        let detail = format!(
            "entries {}..{} recorded before {before} removed; anchor {}; reason: {reason}",
            purged.first_seq, purged.through_seq, purged.anchor_hash
        );
        self.append(
            AccessEntry::new("access_log_purged", by, "cli", "access_log", "ok")
                .with_detail(detail),
        )
        .await?;
        on_write_tx!(&self.storage, |tx, sql| {
            sqlx::query(&sql(
                "INSERT INTO access_log_anchors (ledger_id, seq, hash, purged_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (ledger_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, purged_at = excluded.purged_at",
            ))
            .bind(self.ledger.as_str())
            .bind(purged.through_seq as i64)
            .bind(&purged.anchor_hash)
            .bind(jiff::Timestamp::now().to_string())
            .execute(&mut *tx)
            .await?;
            sqlx::query(&sql(
                "DELETE FROM access_log WHERE ledger_id = $1 AND seq <= $2",
            ))
            .bind(self.ledger.as_str())
            .bind(purged.through_seq as i64)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        *self.checked.lock().await = None;
        Ok(Some(purged))
    }

    /// The last entry after `from` recorded before `before`: entries are numbered in
    /// the order they were written, so the scan stops at the first one that is not.
    async fn last_before(
        &self,
        mut from: u64,
        before: jiff::Timestamp,
    ) -> Result<Option<(u64, String)>, AccessLogError> {
        let mut last = None;
        loop {
            let page = self.page(from, MAX_PAGE).await?;
            let Some(end) = page.last().map(|e| e.entry.seq) else {
                return Ok(last);
            };
            for e in page {
                let at: jiff::Timestamp = e
                    .entry
                    .at
                    .parse()
                    .map_err(|err: jiff::Error| AccessLogError::Encode(err.to_string()))?;
                if at >= before {
                    return Ok(last);
                }
                last = Some((e.entry.seq, e.hash));
            }
            from = end;
        }
    }

    /// Recomputes every hash and link from the first retained entry.
    pub async fn verify(&self) -> Result<AccessLogReport, AccessLogError> {
        let (seq, hash) = self.anchor().await?;
        let report = self.verify_from(seq, hash).await?;
        *self.checked.lock().await = Some(report.clone());
        Ok(report)
    }

    /// Checks the entries appended since this process last checked the chain (all of
    /// them the first time), continuing from the head that check established; a break
    /// once found is reported from then on. For the status page, which is asked often:
    /// `verify` still rehashes everything, and catches rows rewritten after they were
    /// checked.
    pub async fn verify_appended(&self) -> Result<AccessLogReport, AccessLogError> {
        let mut checked = self.checked.lock().await;
        let report = match checked.as_ref() {
            Some(done) if !done.valid => return Ok(done.clone()),
            Some(done) => self.verify_from(done.entries, done.head.clone()).await?,
            None => {
                let (seq, hash) = self.anchor().await?;
                self.verify_from(seq, hash).await?
            }
        };
        *checked = Some(report.clone());
        Ok(report)
    }

    /// Checks entries after the first `count`, whose chain ends in `prev`.
    async fn verify_from(
        &self,
        mut count: u64,
        mut prev: String,
    ) -> Result<AccessLogReport, AccessLogError> {
        let mut expected_seq = count + 1;
        loop {
            let page = match self.page(expected_seq - 1, MAX_PAGE).await {
                Ok(p) => p,
                Err(AccessLogError::Encode(reason)) => {
                    return Ok(AccessLogReport {
                        entries: count,
                        valid: false,
                        head: prev,
                        first_break: Some(expected_seq),
                        reason: Some(format!("unreadable entry: {reason}")),
                    })
                }
                Err(e) => return Err(e),
            };
            if page.is_empty() {
                break;
            }
            for e in page {
                let broken = |reason: &str| AccessLogReport {
                    entries: count,
                    valid: false,
                    head: prev.clone(),
                    first_break: Some(e.entry.seq),
                    reason: Some(reason.to_owned()),
                };
                if e.entry.seq != expected_seq {
                    return Ok(broken("sequence gap"));
                }
                if e.prev_hash != prev {
                    return Ok(broken("does not link to the previous entry"));
                }
                if entry_hash(&prev, &e.entry)? != e.hash {
                    return Ok(broken("hash does not match the entry"));
                }
                prev = e.hash;
                expected_seq += 1;
                count += 1;
            }
        }
        Ok(AccessLogReport {
            entries: count,
            valid: true,
            head: prev,
            first_break: None,
            reason: None,
        })
    }
}
