//! Lawful erasure (C.G.S. 54-142a, 46b-146): finds what the sealed store still holds
//! for a case, asks the case aggregate to record the erasure (the domain refuses a
//! case that does not exist, a missing reason, or a value already erased), and the
//! ledger deletes the openings in the same transaction as the `PersonalDataErased`
//! event. The chain is untouched and keeps verifying.

use icac_aggregates::case::{CaseCommand, ErasePersonalData, ErasedValue};
use icac_aggregates::ids::{CaseId, LedgerPosition};
use icac_aggregates::sealed::Commitment;
use jiff::Timestamp;

use super::{Actor, CommandError, Commands};
use crate::storage::{StorageError, StoredOpening};
use icac_format::canonical::to_canonical_bytes;
use icac_format::record::StreamId;

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error("no case {0} is recorded")]
    UnknownCase(CaseId),
    #[error("case {0} holds no personal values any more: they were erased before")]
    NothingToErase(CaseId),
    #[error("no case holds the value given")]
    UnknownValue,
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What one erasure destroyed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub case_id: CaseId,
    /// How many values, and where they sat (field paths, never values).
    pub values: usize,
    pub paths: Vec<String>,
    /// Whether the store's files were compacted afterwards (`Storage::purge_erased`).
    pub compaction: Compaction,
}

/// The clean-up after an erasure: old copies of the deleted values cleared out of the
/// database files, or not, with the reason; the operator then repeats it
/// (docs/OPERATIONS.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Compaction {
    Done,
    Failed { error: String },
}

/// Erases every personal value of one case.
pub async fn erase_case(
    commands: &Commands,
    case_id: &CaseId,
    reason: &str,
    actor: &Actor,
) -> Result<Erased, ErasureError> {
    erase_in_case(commands, case_id, reason, actor, |_| true).await
}

/// Erases one identifier (e.g. a screen name) wherever it is sealed, case by case.
pub async fn erase_subject(
    commands: &Commands,
    value: &str,
    reason: &str,
    actor: &Actor,
) -> Result<Vec<Erased>, ErasureError> {
    let bytes = to_canonical_bytes(&serde_json::Value::String(value.to_owned()))
        .map_err(|e| CommandError::Internal(e.to_string()))?;
    let ledger = commands.ledger();
    let streams = ledger
        .storage()
        .streams_with_value(ledger.id(), &bytes)
        .await?;
    let cases: Vec<CaseId> = streams
        .iter()
        .filter(|s| s.aggregate_type == CASE_STREAM)
        .filter_map(|s| CaseId::parse(s.aggregate_id.clone()).ok())
        .collect();
    if cases.is_empty() {
        return Err(ErasureError::UnknownValue);
    }
    let mut done = Vec::with_capacity(cases.len());
    for case_id in &cases {
        done.push(
            erase_in_case(commands, case_id, reason, actor, |row| {
                row.opening.value == bytes
            })
            .await?,
        );
    }
    Ok(done)
}

const CASE_STREAM: &str = "case";

async fn erase_in_case(
    commands: &Commands,
    case_id: &CaseId,
    reason: &str,
    actor: &Actor,
    select: impl Fn(&StoredOpening) -> bool,
) -> Result<Erased, ErasureError> {
    let (sequence, _) = commands.load_case(case_id).await?;
    if sequence == 0 {
        return Err(ErasureError::UnknownCase(case_id.clone()));
    }
    let ledger = commands.ledger();
    let stream = StreamId::new(CASE_STREAM, case_id.as_str());
    let rows: Vec<StoredOpening> = ledger
        .storage()
        .sealed_of_stream(ledger.id(), &stream)
        .await?
        .into_iter()
        .filter(|r| select(r))
        .collect();
    if rows.is_empty() {
        return Err(ErasureError::NothingToErase(case_id.clone()));
    }
    let values: Vec<ErasedValue> = rows
        .iter()
        .map(|r| ErasedValue {
            position: LedgerPosition::new(r.position),
            path: r.opening.path.clone(),
            commitment: Commitment(r.opening.commitment.0),
        })
        .collect();
    let paths = values.iter().map(|v| v.path.clone()).collect();
    let command = CaseCommand::ErasePersonalData(ErasePersonalData {
        values,
        reason: reason.to_owned(),
        recorded_at: Timestamp::now(),
    });
    commands
        .execute(&commands.cases, case_id.as_str(), command, actor)
        .await?;
    // The erasure is committed; clearing old copies out of the files is a clean-up
    // that an operator can repeat (docs/OPERATIONS.md), so its failure is logged, not
    // returned.
    let compaction = match ledger.storage().purge_erased().await {
        Ok(()) => Compaction::Done,
        Err(e) => {
            tracing::warn!(error = %e, "erased values are deleted; compacting the store failed");
            Compaction::Failed {
                error: e.to_string(),
            }
        }
    };
    Ok(Erased {
        case_id: case_id.clone(),
        values: rows.len(),
        paths,
        compaction,
    })
}
