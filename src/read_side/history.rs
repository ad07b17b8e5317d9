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
    #[error("position {position} is beyond the ledger's head ({head} events)")]
    BeyondHead { position: u64, head: u64 },
}

/// Why an `as_of` / `at_position` pair does not name a moment of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CutError {
    #[error("give as_of or at_position, not both")]
    Both,
    #[error("at_position must be a ledger position (digits)")]
    Position,
    #[error("as_of must be an RFC 3339 instant or a date YYYY-MM-DD")]
    Moment,
    #[error("as_of is out of range")]
    OutOfRange,
}

impl CutError {
    /// The parameter at fault.
    pub fn field(&self) -> &'static str {
        match self {
            CutError::Position => "at_position",
            CutError::Both | CutError::Moment | CutError::OutOfRange => "as_of",
        }
    }
}

/// The moment a history is replayed to, as the CLI, the API and the staff pages all
/// read it: an RFC 3339 instant, or a plain date meaning the end of that day in
/// Connecticut; or a ledger position; or, given neither, the head.
pub fn parse_cut(as_of: Option<&str>, at_position: Option<&str>) -> Result<Cut, CutError> {
    match (
        as_of.filter(|s| !s.is_empty()),
        at_position.filter(|s| !s.is_empty()),
    ) {
        (Some(_), Some(_)) => Err(CutError::Both),
        (None, Some(p)) => p
            .parse::<u64>()
            .map(|position| Cut::AtPosition { position })
            .map_err(|_| CutError::Position),
        (Some(s), None) => {
            if let Ok(at) = s.parse::<jiff::Timestamp>() {
                return Ok(Cut::AsOf { at });
            }
            let date: jiff::civil::Date = s.parse().map_err(|_| CutError::Moment)?;
            let end = date
                .tomorrow()
                .ok()
                .and_then(|d| {
                    d.to_zoned(jiff::tz::TimeZone::get("America/New_York").ok()?)
                        .ok()
                })
                .map(|z| z.timestamp() - jiff::SignedDuration::from_nanos(1))
                .ok_or(CutError::OutOfRange)?;
            Ok(Cut::AsOf { at: end })
        }
        (None, None) => Ok(Cut::Head),
    }
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
    if let Cut::AtPosition { position } = cut {
        // A position the ledger has not reached names no moment yet: refused rather than
        // answered with the head, which would claim a state the ledger never attested.
        let head = storage
            .head(ledger_id)
            .await
            .map_err(ProjectionError::from)?
            .position;
        if position > head {
            return Err(CaseHistoryError::BeyondHead { position, head });
        }
    }
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(e) = to_ledger_event(row)? {
            events.push(e);
        }
    }
    Ok(replay(case_id, &events, cut)?)
}
