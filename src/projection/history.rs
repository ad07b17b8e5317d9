//! One case's history read straight from its stream (no view needed), so
//! investigators can replay it to any earlier moment.

use icac_aggregates::ids::CaseId;
use icac_projections::history::{replay, CaseHistory, Cut, HistoryError};

use super::{to_ledger_event, ProjectionError};
use crate::storage::Storage;
use icac_format::record::{LedgerId, StreamId};

#[derive(Debug, thiserror::Error)]
pub enum CaseHistoryError {
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    History(#[from] HistoryError),
    #[error("no case {0} in the ledger")]
    NotFound(CaseId),
}

pub async fn case_history(
    storage: &Storage,
    ledger_id: &LedgerId,
    case_id: &CaseId,
    cut: Cut,
) -> Result<CaseHistory, CaseHistoryError> {
    let rows = storage
        .read_stream(ledger_id, &StreamId::new("case", case_id.as_str()))
        .await
        .map_err(ProjectionError::from)?;
    if rows.is_empty() {
        return Err(CaseHistoryError::NotFound(case_id.clone()));
    }
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(e) = to_ledger_event(row)? {
            events.push(e);
        }
    }
    Ok(replay(case_id, &events, cut)?)
}
