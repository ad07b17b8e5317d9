//! A rule across two aggregates: a case may be linked only to an operation the ledger
//! holds. The case cannot know it alone, so the command side reads the operation's
//! stream before the case decides.

use icac_aggregates::form::FieldError;
use icac_aggregates::ids::OperationId;
use icac_aggregates::operation::Operation;

use super::{CommandError, Commands};

/// Refuses, with a pointer to `operation_id`, a link to an operation never planned.
pub(super) async fn check_operation_exists(
    commands: &Commands,
    operation_id: &OperationId,
) -> Result<(), CommandError> {
    let (sequence, operation) = commands.load::<Operation>(operation_id.as_str()).await?;
    if sequence == 0 || operation.stage.is_none() {
        return Err(CommandError::Invalid(vec![FieldError {
            pointer: "/operation_id".to_owned(),
            message: format!(
                "no operation {operation_id} is planned; plan it before linking cases to it"
            ),
        }]));
    }
    Ok(())
}
