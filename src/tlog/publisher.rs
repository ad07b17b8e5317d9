//! Publication under a witness policy (C2SP tlog-policy): each checkpoint the ledger
//! cuts is written as tiles, sent to the policy's witnesses, and published as
//! `<dir>/checkpoint` only once the cosignatures meet the quorum.
//!
//! Appends never wait for this: the publisher runs beside the writer and only ever works
//! on the newest checkpoint. A witness that is down or slow is asked again every
//! `retry`; a witness that refuses is a loud alert (logged as an error, counted, shown on
//! the status page) and is not asked about that checkpoint again.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::tiles::{self, TileSource};
use super::witness_client::{Answer, WitnessClient};
use crate::audit::checkpointer::SignedCheckpoint;
use crate::audit::AuditError;
use crate::storage::Storage;
use icac_format::checkpoint::Checkpoint;
use icac_format::cosignature::{split_note, verify_cosignatures};
use icac_format::merkle::consistency_proof_from;
use icac_format::policy::{Policy, PolicyWitness};
use icac_format::record::LedgerId;

/// How the server publishes.
#[derive(Debug, Clone)]
pub struct PublicationConfig {
    /// The tiles directory (also served under `/tlog/`).
    pub dir: PathBuf,
    /// `None`: publish each checkpoint as the ledger signed it (no witnesses).
    pub policy: Option<Policy>,
    /// Past this age of the last witnessed checkpoint, the alert is raised.
    pub max_age: Duration,
    pub witness_timeout: Duration,
    pub retry: Duration,
}

impl PublicationConfig {
    /// Refuses a policy that can never be met by the witnesses the ledger can reach.
    pub fn check(&self) -> Result<(), String> {
        match &self.policy {
            Some(p) if !p.meetable_by_reachable() => Err(format!(
                "the policy's quorum {:?} can never be met: too few of its witnesses have a URL \
                 the ledger can send checkpoints to",
                p.quorum_name()
            )),
            _ => Ok(()),
        }
    }
}

/// One witness as the status page shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct WitnessState {
    pub name: String,
    pub url: Option<String>,
    /// `ok`, `unreachable`, `refused` or `not asked`.
    pub state: &'static str,
    pub detail: Option<String>,
    /// The size of the last checkpoint it cosigned for us.
    pub cosigned_size: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    configured: bool,
    quorum: String,
    max_age: Duration,
    started: Option<SystemTime>,
    published_size: Option<u64>,
    published_at: Option<SystemTime>,
    latest_cut: Option<u64>,
    witnesses: Vec<WitnessState>,
    refusals: u64,
    last_error: Option<String>,
}

/// The publication status, shared by the publisher and the HTTP handlers.
#[derive(Debug, Clone, Default)]
pub struct Publication {
    inner: Arc<Mutex<Inner>>,
}

/// A point-in-time view of [`Publication`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicationSnapshot {
    pub configured: bool,
    pub quorum: String,
    pub published_size: Option<u64>,
    pub latest_checkpoint_size: Option<u64>,
    /// Seconds since the last checkpoint the quorum cosigned (since start, if none).
    pub seconds_since_witnessed: Option<u64>,
    pub max_age_seconds: u64,
    pub alert: bool,
    pub alert_reason: Option<String>,
    pub witness_refusals: u64,
    pub witnesses: Vec<WitnessState>,
}

impl Publication {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data: still readable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn published_size(&self) -> Option<u64> {
        self.lock().published_size
    }

    pub fn snapshot(&self, now: SystemTime) -> PublicationSnapshot {
        let g = self.lock();
        let age = g
            .published_at
            .or(g.started)
            .and_then(|t| now.duration_since(t).ok());
        let stale = g.configured && age.is_some_and(|a| a > g.max_age);
        let refused: Vec<&str> = g
            .witnesses
            .iter()
            .filter(|w| w.state == "refused")
            .map(|w| w.name.as_str())
            .collect();
        let alert_reason = if !refused.is_empty() {
            Some(format!(
                "witness refused the checkpoint: {}",
                refused.join(", ")
            ))
        } else if stale {
            Some(format!(
                "no witnessed checkpoint for {} s (limit {} s)",
                age.map_or(0, |a| a.as_secs()),
                g.max_age.as_secs()
            ))
        } else {
            None
        };
        PublicationSnapshot {
            configured: g.configured,
            quorum: g.quorum.clone(),
            published_size: g.published_size,
            latest_checkpoint_size: g.latest_cut,
            seconds_since_witnessed: age.map(|a| a.as_secs()),
            max_age_seconds: g.max_age.as_secs(),
            alert: alert_reason.is_some(),
            alert_reason,
            witness_refusals: g.refusals,
            witnesses: g.witnesses.clone(),
        }
    }

    fn set_witness(
        &self,
        name: &str,
        state: &'static str,
        detail: Option<String>,
        size: Option<u64>,
    ) {
        let mut g = self.lock();
        if let Some(w) = g.witnesses.iter_mut().find(|w| w.name == name) {
            w.state = state;
            w.detail = detail;
            if size.is_some() {
                w.cosigned_size = size;
            }
        }
    }
}

/// The publisher's memory between rounds.
struct Round {
    /// Size of the checkpoint being published and the cosignature lines it has so far.
    size: u64,
    lines: BTreeMap<String, String>,
    refused: Vec<String>,
    done: bool,
}

/// Runs until `cuts` closes (the checkpointer ended).
pub async fn run(
    storage: Storage,
    ledger: LedgerId,
    config: PublicationConfig,
    status: Publication,
    mut cuts: watch::Receiver<Option<SignedCheckpoint>>,
) -> Result<(), AuditError> {
    let client = WitnessClient::new(config.witness_timeout);
    init_status(&config, &status);
    let mut known: HashMap<String, u64> = HashMap::new();
    let initial = status.published_size().unwrap_or(0);
    let mut round: Option<Round> = None;
    // Publish what the database already holds before any new event arrives.
    if let Some(latest) = latest_stored(&storage, &ledger).await? {
        cuts_seed(&mut round, &latest);
        publish_round(
            &storage, &ledger, &config, &status, &client, &mut known, initial, &latest, &mut round,
        )
        .await;
    }
    loop {
        let retry_due = round.as_ref().is_some_and(|r| !r.done);
        tokio::select! {
            changed = cuts.changed() => if changed.is_err() { return Ok(()) },
            _ = tokio::time::sleep(config.retry), if retry_due => {},
        }
        let Some(signed) = cuts.borrow().clone() else {
            continue;
        };
        cuts_seed(&mut round, &signed);
        publish_round(
            &storage, &ledger, &config, &status, &client, &mut known, initial, &signed, &mut round,
        )
        .await;
    }
}

fn init_status(config: &PublicationConfig, status: &Publication) {
    let mut g = status.lock();
    g.configured = true;
    g.max_age = config.max_age;
    g.started = Some(SystemTime::now());
    g.quorum = config
        .policy
        .as_ref()
        .map_or_else(|| "none (no policy)".into(), Policy::quorum_name);
    g.witnesses = config
        .policy
        .iter()
        .flat_map(|p| p.witnesses.iter())
        .map(|w| WitnessState {
            name: w.name.clone(),
            url: w.url.clone(),
            state: "not asked",
            detail: None,
            cosigned_size: None,
        })
        .collect();
    // A directory already published into: its checkpoint is the last witnessed one.
    let note = config.dir.join("checkpoint");
    if let (Ok(meta), Ok(size)) = (std::fs::metadata(&note), tiles::written_size(&config.dir)) {
        if let (Ok(text), Ok(modified)) = (std::fs::read_to_string(&note), meta.modified()) {
            g.published_size = parse_published(&text).map(|c| c.size).or(Some(size));
            g.published_at = Some(modified);
        }
    }
}

fn parse_published(note: &str) -> Option<Checkpoint> {
    let (text, _) = split_note(note).ok()?;
    Checkpoint::parse_body(text).ok()
}

fn cuts_seed(round: &mut Option<Round>, signed: &SignedCheckpoint) {
    let size = signed.checkpoint.size;
    if round.as_ref().is_none_or(|r| r.size != size) {
        *round = Some(Round {
            size,
            lines: BTreeMap::new(),
            refused: Vec::new(),
            done: false,
        });
    }
}

async fn latest_stored(
    storage: &Storage,
    ledger: &LedgerId,
) -> Result<Option<SignedCheckpoint>, AuditError> {
    let Some(row) = storage.latest_checkpoint(ledger).await? else {
        return Ok(None);
    };
    Ok(
        parse_published(&row.note).map(|checkpoint| SignedCheckpoint {
            checkpoint,
            note: row.note,
        }),
    )
}

/// One attempt at publishing `signed`; never fails the loop (errors go to the status).
#[allow(clippy::too_many_arguments)]
async fn publish_round(
    storage: &Storage,
    ledger: &LedgerId,
    config: &PublicationConfig,
    status: &Publication,
    client: &WitnessClient,
    known: &mut HashMap<String, u64>,
    initial: u64,
    signed: &SignedCheckpoint,
    round: &mut Option<Round>,
) {
    let Some(r) = round.as_mut().filter(|r| !r.done) else {
        return;
    };
    status.lock().latest_cut = Some(r.size);
    if let Err(e) = tiles::write_tiles(storage, ledger, &config.dir, &signed.checkpoint).await {
        tracing::error!(error = %e, size = r.size, "writing tiles failed; will retry");
        status.lock().last_error = Some(e.to_string());
        return;
    }
    let Some(policy) = config.policy.as_ref().filter(|p| p.needs_witnesses()) else {
        finish(config, status, r, &signed.note);
        return;
    };
    let asks = policy.witnesses.iter().filter(|w| {
        w.url.is_some() && !r.lines.contains_key(&w.name) && !r.refused.contains(&w.name)
    });
    let answers = futures::future::join_all(asks.map(|w| {
        let old = known.get(&w.name).copied().unwrap_or(initial);
        ask(config, client, w, old, signed)
    }))
    .await;
    for (name, outcome) in answers {
        match outcome {
            Outcome::Cosigned(line, size) => {
                known.insert(name.clone(), size);
                status.set_witness(&name, "ok", None, Some(size));
                r.lines.insert(name, line);
            }
            Outcome::Refused(why, latest) => {
                if let Some(l) = latest {
                    known.insert(name.clone(), l);
                }
                tracing::error!(witness = %name, size = r.size, reason = %why, "ALERT: witness refused the checkpoint");
                status.lock().refusals += 1;
                status.set_witness(&name, "refused", Some(why), None);
                r.refused.push(name);
            }
            Outcome::Unreachable(why) => {
                tracing::warn!(witness = %name, reason = %why, "witness unreachable; will retry");
                status.set_witness(&name, "unreachable", Some(why), None);
            }
        }
    }
    let names: Vec<&String> = r.lines.keys().collect();
    if policy.quorum_met(&names) {
        let cosigned = format!(
            "{}{}",
            signed.note,
            r.lines.values().cloned().collect::<String>()
        );
        finish(config, status, r, &cosigned);
    }
}

fn finish(config: &PublicationConfig, status: &Publication, r: &mut Round, note: &str) {
    match tiles::write_checkpoint(&config.dir, note) {
        Ok(()) => {
            r.done = true;
            let mut g = status.lock();
            g.published_size = Some(r.size);
            g.published_at = Some(SystemTime::now());
            g.last_error = None;
            tracing::info!(size = r.size, "checkpoint published");
        }
        Err(e) => {
            tracing::error!(error = %e, "publishing the checkpoint failed; will retry");
            status.lock().last_error = Some(e.to_string());
        }
    }
}

enum Outcome {
    /// The cosignature line (verified) and the size it is for.
    Cosigned(String, u64),
    /// The witness refused; with the size it holds, when it said (409 past our tree).
    Refused(String, Option<u64>),
    Unreachable(String),
}

/// Asks one witness, following one 409 to the size it holds.
async fn ask(
    config: &PublicationConfig,
    client: &WitnessClient,
    w: &PolicyWitness,
    mut old: u64,
    signed: &SignedCheckpoint,
) -> (String, Outcome) {
    let name = w.name.clone();
    let Some(url) = &w.url else {
        return (name, Outcome::Unreachable("no URL".into()));
    };
    let size = signed.checkpoint.size;
    for _ in 0..2 {
        if old > size {
            return (
                name,
                Outcome::Refused(
                    format!("the witness holds a larger tree ({old}) than this ledger's {size}: a fork or a rollback"),
                    Some(old),
                ),
            );
        }
        let source = TileSource::new(&config.dir, size);
        let proof = match consistency_proof_from(&source, old, size) {
            Ok(p) => p,
            Err(e) => {
                return (
                    name,
                    Outcome::Unreachable(format!("consistency proof: {e}")),
                )
            }
        };
        match client.add_checkpoint(url, old, &proof, &signed.note).await {
            Err(e) => return (name, Outcome::Unreachable(e.reason)),
            Ok(Answer::Conflict(latest)) if latest != old => old = latest,
            Ok(Answer::Conflict(latest)) => {
                return (
                    name,
                    Outcome::Refused(format!("409 at the size it named ({latest})"), Some(latest)),
                )
            }
            Ok(Answer::Refused { status, body }) => {
                return (
                    name,
                    Outcome::Refused(format!("status {status}: {}", body.trim()), None),
                )
            }
            Ok(Answer::Cosigned(lines)) => {
                let cosigned = format!("{}{lines}", signed.note);
                return match verify_cosignatures(&cosigned, std::slice::from_ref(&w.key)) {
                    Ok(ok) if !ok.is_empty() => {
                        let line = lines
                            .lines()
                            .find(|l| l.starts_with(&format!("\u{2014} {} ", w.key.name())))
                            .map(|l| format!("{l}\n"))
                            .unwrap_or_default();
                        (name, Outcome::Cosigned(line, size))
                    }
                    Ok(_) => (
                        name,
                        Outcome::Refused(
                            "answered without a cosignature by its policy key".into(),
                            None,
                        ),
                    ),
                    Err(e) => (
                        name,
                        Outcome::Refused(format!("bad cosignature: {e}"), None),
                    ),
                };
            }
        }
    }
    (name, Outcome::Refused("409 twice".into(), None))
}
