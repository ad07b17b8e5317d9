//! Creating a unit or an operation: the id must be new. Both aggregates refuse a second
//! registration themselves; checking first answers it as the conflict it is (409, the
//! record exists) rather than as a refused transition.

use icac_aggregates::ids::{OperationId, Ori};
use icac_aggregates::operation::OperationCommand;
use icac_aggregates::services::UnitDirectory;
use icac_aggregates::units::UnitCommand;
use icac_format::record::StreamId;

use super::{Actor, CommandError, Commands};

/// Registers a unit under an ORI the directory does not hold yet.
pub async fn register_unit(
    commands: &Commands,
    ori: &Ori,
    command: UnitCommand,
    actor: &Actor,
) -> Result<(), CommandError> {
    debug_assert!(matches!(command, UnitCommand::Register(_)));
    if commands.directory().unit(ori).is_some() {
        return Err(CommandError::AlreadyExists(format!(
            "unit {ori} is already registered"
        )));
    }
    commands
        .execute(&commands.units, ori.as_str(), command, actor)
        .await
}

/// Plans an operation under an id no operation has.
pub async fn plan_operation(
    commands: &Commands,
    id: &OperationId,
    command: OperationCommand,
    actor: &Actor,
) -> Result<(), CommandError> {
    debug_assert!(matches!(command, OperationCommand::Plan(_)));
    let stream = StreamId::new("operation", id.as_str());
    if !commands.ledger().read_stream(&stream).await?.is_empty() {
        return Err(CommandError::AlreadyExists(format!(
            "operation {id} is already planned"
        )));
    }
    commands
        .execute(&commands.operations, id.as_str(), command, actor)
        .await
}
