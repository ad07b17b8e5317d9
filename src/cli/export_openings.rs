//! `export-openings --case ID --reason TEXT --out FILE`: the personal values of one
//! case with their salts (docs/LEDGER_FORMAT.md, section 12.6). The default export never
//! holds a value; this one is a separate, privileged action, written to the access log
//! (who, which case, why) before the file is.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use icac_aggregates::ids::CaseId;
use icac_format::canonical::to_canonical_bytes;
use icac_format::record::StreamId;
use serde_json::{json, Value};

use super::{CliError, EXIT_FAILED};
use crate::access::access_log::{AccessEntry, AccessLog};
use crate::config::LedgerArgs;

#[derive(Debug, Args)]
pub struct ExportOpeningsArgs {
    /// The case whose sealed values to export
    #[arg(long)]
    pub case: String,
    /// Why (recorded in the access log), e.g. a court order's number
    #[arg(long)]
    pub reason: String,
    /// The file to write (created with mode 0600; must not exist)
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub async fn run(args: &LedgerArgs, e: &ExportOpeningsArgs) -> Result<ExitCode, CliError> {
    let case_id = match CaseId::parse(e.case.as_str()) {
        Ok(id) => id,
        Err(err) => {
            eprintln!("error: {err}");
            return Ok(ExitCode::from(EXIT_FAILED));
        }
    };
    if icac_aggregates::text::check(&e.reason, icac_aggregates::text::limits::REASON).is_err() {
        eprintln!("error: --reason must be 1 to 500 characters of plain text");
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    let id = args.ledger_id()?;
    let storage = args.storage().await?;
    storage.check_schema().await?;
    let rows = storage
        .sealed_of_stream(&id, &StreamId::new("case", case_id.as_str()))
        .await?;
    if rows.is_empty() {
        eprintln!("error: the sealed store holds no value of case {case_id} (no such case, or all erased)");
        storage.close().await;
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    let log = AccessLog::new(storage.clone(), id.clone());
    let entry = AccessEntry::new(
        "personal_data_export",
        "cli:export-openings",
        "cli",
        case_id.as_str(),
        "ok",
    )
    .with_detail(format!("{} value(s): {}", rows.len(), e.reason));
    log.append(entry).await?;
    let mut lines = vec![json!({"icac_ledger_openings": {
        "format": "icac-ledger-openings", "format_version": 2,
        "ledger_id": id.as_str(), "case_id": case_id.as_str()}})];
    for r in &rows {
        let value: Value = serde_json::from_slice(&r.opening.value)?;
        lines.push(json!({
            "commitment": r.opening.commitment, "path": r.opening.path,
            "position": r.position.to_string(), "salt": hex::encode(r.opening.salt), "value": value,
        }));
    }
    write_private(&e.out, &lines)?;
    eprintln!(
        "exported {} sealed value(s) of case {case_id} to {}",
        rows.len(),
        e.out.display()
    );
    storage.close().await;
    Ok(ExitCode::SUCCESS)
}

fn write_private(path: &PathBuf, lines: &[Value]) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|err| format!("cannot create {}: {err}", path.display()))?;
    for line in lines {
        file.write_all(&to_canonical_bytes(line)?)?;
        file.write_all(b"\n")?;
    }
    file.sync_all()?;
    Ok(())
}
