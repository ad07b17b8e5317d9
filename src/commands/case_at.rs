//! A case command decided on the page a person saw: it runs only if the case is still
//! at the version that page showed, so a stale page gets "this case changed, reload"
//! instead of an update made on facts that no longer hold.

use icac_aggregates::case::CaseCommand;
use icac_aggregates::ids::CaseId;

use super::{Actor, CommandError, Commands};

#[derive(Debug, thiserror::Error)]
pub enum CaseAtError {
    /// Someone recorded on the case since the page was loaded.
    #[error("this case changed since the page was loaded (it had {expected} events, it now has {current}); reload it and try again")]
    Stale { expected: u64, current: u64 },
    #[error(transparent)]
    Command(#[from] CommandError),
}

/// Runs `command` on `case_id` if the case's stream still has `expected` events. A
/// write that lands between this check and the command's own load is caught by the
/// store's optimistic concurrency (a `Conflict`), so nothing is ever decided on a
/// state older than the one checked.
pub async fn execute_case_at(
    commands: &Commands,
    case_id: &CaseId,
    expected: u64,
    command: CaseCommand,
    actor: &Actor,
) -> Result<(), CaseAtError> {
    let (current, _) = commands.load_case(case_id).await?;
    if current != expected {
        return Err(CaseAtError::Stale { expected, current });
    }
    commands.execute_case(case_id, command, actor).await?;
    Ok(())
}
