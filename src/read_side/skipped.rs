//! Events the read models skip because this build does not know their type.
//!
//! A ledger is append-only: an event written by a newer icac-ledger, or by a benchmark
//! pointed at the wrong database, stays in it forever. Failing every projection on it
//! would put the ledger out of service for good, so the read models skip it; they say
//! so (a warning per event type in the log, a note at the end of a CLI command), and
//! `verify` still checks its hash, link and signature like any other.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Per (aggregate type, event type): how many were skipped and the first position.
static SKIPPED: Mutex<BTreeMap<(String, String), (u64, u64)>> = Mutex::new(BTreeMap::new());

/// Notes one skipped event; the first of its type is logged.
pub fn record(position: u64, aggregate_type: &str, event_type: &str) {
    let Ok(mut skipped) = SKIPPED.lock() else {
        return;
    };
    let key = (aggregate_type.to_owned(), event_type.to_owned());
    let entry = skipped.entry(key).or_insert_with(|| {
        tracing::warn!(
            position,
            aggregate_type,
            event_type,
            "skipping events of a type this build does not know"
        );
        (0, position)
    });
    entry.0 += 1;
    entry.1 = entry.1.min(position);
}

/// One line for the operator, if anything was skipped in this process.
pub fn note() -> Option<String> {
    let skipped = SKIPPED.lock().ok()?;
    if skipped.is_empty() {
        return None;
    }
    let total: u64 = skipped.values().map(|(n, _)| n).sum();
    let types: Vec<String> = skipped
        .iter()
        .map(|((a, e), (n, first))| format!("{a}/{e} x{n} (first at position {first})"))
        .collect();
    Some(format!(
        "skipped {total} event(s) of types this build does not know: {}; `verify` still checks them",
        types.join(", ")
    ))
}
