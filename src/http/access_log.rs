//! The access log: who read which case, logons that failed, tokens issued and revoked.
//! A hash chain of its own (CJIS 5.4: protect audit records from change):
//! `hash = SHA-256(prev_hash || canonical JSON of the entry)`, starting from 32 zero
//! bytes, so removing, editing or reordering an entry breaks every later hash.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use tokio::sync::Mutex;

use super::db::{is_unique_violation, on_pool};
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

#[derive(Clone)]
pub struct AccessLog {
    storage: Storage,
    ledger: LedgerId,
    // Appends in this process take turns; other processes are caught by the unique
    // constraints and retried.
    turn: Arc<Mutex<()>>,
    /// What this process's last check of the chain found: status requests continue
    /// from there instead of rehashing a log that grows with every logged request.
    checked: Arc<Mutex<Option<AccessLogReport>>>,
}

impl AccessLog {
    pub fn new(storage: Storage, ledger: LedgerId) -> Self {
        AccessLog {
            storage,
            ledger,
            turn: Arc::new(Mutex::new(())),
            checked: Arc::new(Mutex::new(None)),
        }
    }

    async fn head(&self) -> Result<(u64, String), AccessLogError> {
        let row = on_pool!(&self.storage, |pool, sql| {
            let r = sqlx::query(&sql(
                "SELECT seq, hash FROM access_log WHERE ledger_id = $1 ORDER BY seq DESC LIMIT 1",
            ))
            .bind(self.ledger.as_str())
            .fetch_optional(pool)
            .await?;
            match r {
                Some(r) => Some((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)),
                None => None,
            }
        });
        Ok(row
            .map(|(s, h)| (s.max(0) as u64, h))
            .unwrap_or((0, ZERO_HASH.to_owned())))
    }

    pub async fn append(&self, mut entry: AccessEntry) -> Result<ChainedEntry, AccessLogError> {
        let _turn = self.turn.lock().await;
        for _ in 0..8 {
            let (seq, prev_hash) = self.head().await?;
            entry.seq = seq + 1;
            let hash = entry_hash(&prev_hash, &entry)?;
            let text =
                serde_json::to_string(&entry).map_err(|e| AccessLogError::Encode(e.to_string()))?;
            let result = on_pool!(&self.storage, |pool, sql| {
                sqlx::query(&sql(
                    "INSERT INTO access_log (ledger_id, seq, entry, prev_hash, hash) VALUES ($1, $2, $3, $4, $5)",
                ))
                .bind(self.ledger.as_str())
                .bind(entry.seq as i64)
                .bind(&text)
                .bind(&prev_hash)
                .bind(&hash)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            });
            match result {
                Ok(_) => {
                    return Ok(ChainedEntry {
                        entry,
                        prev_hash,
                        hash,
                    })
                }
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccessLogError::Contended)
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

    /// Recomputes every hash and link from the first entry.
    pub async fn verify(&self) -> Result<AccessLogReport, AccessLogError> {
        let report = self.verify_from(0, ZERO_HASH.to_owned()).await?;
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
            None => self.verify_from(0, ZERO_HASH.to_owned()).await?,
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
