//! Lawful erasure (C.G.S. 54-142a, 46b-146): the personal values of a case are
//! destroyed in the sealed store, and a `PersonalDataErased` event records
//! what was erased (where it sat and its commitment, never the value) and why.
//! The chain is untouched, so it keeps verifying.

use std::collections::BTreeSet;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::CaseError;
use crate::ids::LedgerPosition;
use crate::sealed::Commitment;
use crate::text::{self, limits};

/// Most values one erasure may name (a case with many forms and shares stays
/// well below this; it bounds one event's size).
pub const MAX_ERASED: usize = 1_000;

/// One destroyed value: the event that held it, where in that event's payload,
/// and the commitment the chain keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasedValue {
    pub position: LedgerPosition,
    /// JSON Pointer (RFC 6901) into that event's payload.
    pub path: String,
    pub commitment: Commitment,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErasePersonalData {
    /// What to erase: the case's values still held in the sealed store, as the
    /// command side found them there.
    pub values: Vec<ErasedValue>,
    /// The legal reason (e.g. "C.G.S. 54-142a(a): dismissed 2026-03-02").
    pub reason: String,
    pub recorded_at: Timestamp,
}

/// The erasures a case has seen, as its state keeps them.
pub(super) fn decide(
    erased: &BTreeSet<Commitment>,
    c: &ErasePersonalData,
) -> Result<(), CaseError> {
    text::check(&c.reason, limits::REASON).map_err(|problem| CaseError::InvalidText {
        field: "reason",
        problem,
    })?;
    if c.values.is_empty() {
        return Err(CaseError::NothingToErase);
    }
    if c.values.len() > MAX_ERASED {
        return Err(CaseError::TooMany {
            what: "erased values",
            max: MAX_ERASED,
        });
    }
    let mut seen = BTreeSet::new();
    for v in &c.values {
        if erased.contains(&v.commitment) || !seen.insert(v.commitment) {
            return Err(CaseError::AlreadyErased(v.commitment));
        }
    }
    Ok(())
}
