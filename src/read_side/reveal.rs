//! Reveal: the privileged read of sealed values. A view, a history or an event holds
//! commitments only (`{"sealed": "<hex>"}`); for a role allowed to see personal data
//! (investigators, supervisors), the caller logs the access and then fills each
//! commitment from the sealed store. Every other role, and every export, sees the
//! commitment alone.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::storage::{Storage, StorageError};
use icac_format::chain::Hash32;
use icac_format::record::LedgerId;
use icac_format::sealed::{self, erased_in, SEALED_MEMBER};

/// Most sealed values one reveal reads (a case with every form field and many shares
/// stays far below this).
pub const MAX_REVEALED: usize = 10_000;

/// What a reveal found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RevealCount {
    pub revealed: usize,
    pub erased: usize,
    pub unavailable: usize,
}

/// Fills `doc`'s sealed values: each `{"sealed": c}` becomes `{"sealed": c, "value": v}`
/// when the store holds `c`, `{"sealed": c, "erased": true}` when an erasure named it,
/// and `{"sealed": c, "unavailable": true}` otherwise (a missing or corrupted row: the
/// chain is intact, the value is not at hand).
/// `doc` is made of the streams `aggregate_type`/`ids` (a case, or a page of public
/// reports): the store finds values by the positions of those streams' events.
pub async fn reveal(
    storage: &Storage,
    ledger: &LedgerId,
    (aggregate_type, ids): (&str, &[String]),
    doc: &mut Value,
) -> Result<RevealCount, StorageError> {
    let wanted: HashSet<Hash32> = sealed::commitments(doc)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, c)| c)
        .take(MAX_REVEALED)
        .collect();
    if wanted.is_empty() {
        return Ok(RevealCount::default());
    }
    let erased: HashSet<Hash32> = erased_in(doc).into_iter().map(|r| r.commitment).collect();
    let rows = storage
        .sealed_of_streams(ledger, aggregate_type, ids)
        .await?;
    let values: HashMap<Hash32, Value> = rows
        .into_iter()
        .filter(|r| wanted.contains(&r.opening.commitment) && r.opening.is_valid())
        .filter_map(|r| {
            let v = serde_json::from_slice(&r.opening.value).ok()?;
            Some((r.opening.commitment, v))
        })
        .collect();
    let mut count = RevealCount::default();
    fill(doc, &values, &erased, &mut count);
    Ok(count)
}

fn fill(
    value: &mut Value,
    values: &HashMap<Hash32, Value>,
    erased: &HashSet<Hash32>,
    count: &mut RevealCount,
) {
    match value {
        Value::Object(map) => {
            if let Some(c) = commitment_of(map) {
                let (key, v) = match values.get(&c) {
                    Some(v) => {
                        count.revealed += 1;
                        ("value", v.clone())
                    }
                    None if erased.contains(&c) => {
                        count.erased += 1;
                        ("erased", Value::Bool(true))
                    }
                    None => {
                        count.unavailable += 1;
                        ("unavailable", Value::Bool(true))
                    }
                };
                map.insert(key.to_owned(), v);
                return;
            }
            for child in map.values_mut() {
                fill(child, values, erased, count);
            }
        }
        Value::Array(items) => {
            for child in items {
                fill(child, values, erased, count);
            }
        }
        _ => {}
    }
}

fn commitment_of(map: &Map<String, Value>) -> Option<Hash32> {
    if map.len() != 1 {
        return None;
    }
    map.get(SEALED_MEMBER)?
        .as_str()
        .and_then(|h| Hash32::from_hex(h).ok())
}
