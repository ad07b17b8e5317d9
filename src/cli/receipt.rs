//! `receipt verify`: check a filing receipt (C2SP tlog-proof) offline, with the public
//! keys of a tlog-policy file only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{CliError, EXIT_FAILED};
use icac_format::receipt::{Receipt, MAX_RECEIPT_BYTES};

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Verify a receipt: checkpoint signed by a policy log and cosigned by its quorum,
    /// record included at its index
    Verify {
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: ReceiptCommand) -> Result<ExitCode, CliError> {
    let ReceiptCommand::Verify { file, policy, json } = cmd;
    let policy = crate::tlog::read_policy(&policy)?;
    let meta =
        std::fs::metadata(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    if meta.len() > MAX_RECEIPT_BYTES as u64 {
        return Err(format!("{} is larger than a receipt may be", file.display()).into());
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let verdict = Receipt::parse(&text).and_then(|r| r.verify(&policy));
    match verdict {
        Ok(f) => {
            if json {
                outln!(
                    "{}",
                    serde_json::json!({"valid": true, "position": f.position, "event_hash": f.event_hash,
                        "recorded_at": f.recorded_at, "ledger_id": f.ledger_id,
                        "aggregate_type": f.aggregate_type, "aggregate_id": f.aggregate_id,
                        "event_type": f.event_type, "checkpoint_size": f.checkpoint_size,
                        "checkpoint_time": f.checkpoint_time, "witnesses": f.witnesses})
                );
            } else {
                outln!(
                    "receipt valid: {} on {} {}, position {} of ledger {}, recorded_at {}, hash {}",
                    f.event_type,
                    f.aggregate_type,
                    f.aggregate_id,
                    f.position,
                    f.ledger_id,
                    f.recorded_at,
                    f.event_hash
                );
                outln!(
                    "  under checkpoint of size {} ({}), cosigned by {}",
                    f.checkpoint_size,
                    f.checkpoint_time,
                    if f.witnesses.is_empty() {
                        "no witness (quorum none)".into()
                    } else {
                        f.witnesses.join(", ")
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if json {
                outln!(
                    "{}",
                    serde_json::json!({"valid": false, "error": e.to_string()})
                );
            } else {
                eprintln!("receipt INVALID: {e}");
            }
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}
