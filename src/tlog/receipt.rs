//! Filing receipts (C2SP tlog-proof): an event's inclusion under the latest published
//! checkpoint, built from the tiles in O(log n) reads.

use std::path::Path;

use super::tiles::TileSource;
use crate::audit::AuditError;
use crate::storage::Storage;
use icac_format::chain::Hash32;
use icac_format::checkpoint::Checkpoint;
use icac_format::cosignature::split_note;
use icac_format::merkle::inclusion_proof_from;
use icac_format::receipt::Receipt;
use icac_format::record::LedgerId;

/// Why no receipt can be given now.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("receipts are not served: the server has no --tlog-dir")]
    NotConfigured,
    #[error("position {position} is not yet under a published (witnessed) checkpoint; the latest covers {published} events, try again after the next publication")]
    NotYetWitnessed { position: u64, published: u64 },
    #[error("the case has no filed notification")]
    NoFiling,
    #[error("position {0} is not in the ledger")]
    NoSuchPosition(u64),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// The published checkpoint note in `dir`, and its body.
pub fn published(dir: &Path) -> Result<Option<(String, Checkpoint)>, AuditError> {
    let path = dir.join("checkpoint");
    let note = match std::fs::read_to_string(&path) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(AuditError::Read {
                path: path.display().to_string(),
                source,
            })
        }
    };
    let (text, _) = split_note(&note).map_err(|e| AuditError::invalid(e.to_string()))?;
    let cp = Checkpoint::parse_body(text)?;
    Ok(Some((note, cp)))
}

/// The receipt for the event at `position`, as tlog-proof text.
pub async fn receipt(
    storage: &Storage,
    ledger: &LedgerId,
    dir: &Path,
    position: u64,
) -> Result<String, ReceiptError> {
    if position == 0 {
        return Err(ReceiptError::NoSuchPosition(0));
    }
    let (note, cp) = published(dir)?.ok_or(ReceiptError::NotYetWitnessed {
        position,
        published: 0,
    })?;
    if position > cp.size {
        return Err(ReceiptError::NotYetWitnessed {
            position,
            published: cp.size,
        });
    }
    let row = storage
        .read_page(ledger, position, 1)
        .await
        .map_err(AuditError::from)?
        .into_iter()
        .next()
        .filter(|r| r.position == position)
        .ok_or(ReceiptError::NoSuchPosition(position))?;
    let prev_hash = Hash32::from_slice(&row.prev_hash)
        .map_err(|e| AuditError::invalid(format!("position {position}: {e}")))?;
    let source = TileSource::new(dir, cp.size);
    let proof = inclusion_proof_from(&source, position - 1, cp.size).map_err(AuditError::from)?;
    Ok(Receipt {
        index: position - 1,
        proof,
        prev_hash,
        canonical: row.canonical,
        checkpoint_note: note,
    }
    .encode())
}

/// The event type a filing receipt proves.
pub const FILING_EVENT: &str = "NotificationFiled";

/// The receipt for a case's filing: its latest `NotificationFiled` event.
pub async fn case_receipt(
    storage: &Storage,
    ledger: &LedgerId,
    dir: Option<&Path>,
    case_id: &str,
) -> Result<String, ReceiptError> {
    let dir = dir.ok_or(ReceiptError::NotConfigured)?;
    let stream = icac_format::record::StreamId::new("case", case_id);
    let position = storage
        .read_stream(ledger, &stream)
        .await
        .map_err(AuditError::from)?
        .iter()
        .rev()
        .find(|r| r.event_type == FILING_EVENT)
        .map(|r| r.position)
        .ok_or(ReceiptError::NoFiling)?;
    receipt(storage, ledger, dir, position).await
}
