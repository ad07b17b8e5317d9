//! Prometheus text exposition: commands by outcome, ledger append counters from the
//! sequencer, verification results, and 14-day compliance counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Counters the handlers bump; read without locks except the last-verify record.
#[derive(Debug, Default)]
pub struct Metrics {
    pub commands_ok: AtomicU64,
    pub commands_rejected: AtomicU64,
    pub commands_invalid: AtomicU64,
    pub commands_conflict: AtomicU64,
    pub commands_failed: AtomicU64,
    pub public_reports: AtomicU64,
    pub public_rate_limited: AtomicU64,
    pub auth_failures: AtomicU64,
    pub verify_runs: AtomicU64,
    pub verify_broken: AtomicU64,
    pub last_verify: Mutex<Option<LastVerify>>,
}

/// The outcome of the most recent verification run through the API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LastVerify {
    pub at: String,
    pub intact: bool,
    pub events: u64,
}

impl Metrics {
    pub fn command(&self, result: &Result<(), &crate::http::problem::Problem>) {
        let c = match result {
            Ok(()) => &self.commands_ok,
            Err(p) => match p.status {
                409 => &self.commands_conflict,
                422 if !p.errors.is_empty() => &self.commands_invalid,
                422 => &self.commands_rejected,
                400..=499 => &self.commands_invalid,
                _ => &self.commands_failed,
            },
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_verify(&self, intact: bool, events: u64) {
        self.verify_runs.fetch_add(1, Ordering::Relaxed);
        if !intact {
            self.verify_broken.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut last) = self.last_verify.lock() {
            *last = Some(LastVerify {
                at: jiff::Timestamp::now().to_string(),
                intact,
                events,
            });
        }
    }

    pub fn last_verify(&self) -> Option<LastVerify> {
        self.last_verify.lock().ok().and_then(|l| l.clone())
    }
}

/// Writes one metric family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(&str, u64)]) {
    out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    for (labels, value) in samples {
        if labels.is_empty() {
            out.push_str(&format!("{name} {value}\n"));
        } else {
            out.push_str(&format!("{name}{{{labels}}} {value}\n"));
        }
    }
}
