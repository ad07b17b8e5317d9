//! `bench tiles`: the C2SP tiles of a ledger (issue 16). Writes them for the latest
//! stored checkpoint, then builds inclusion proofs from the tiles (O(log n) tile reads)
//! next to the baseline, `prove inclusion`'s proof from every event hash of the tree,
//! for the same positions; each pair of proofs must be equal.

use std::path::Path;
use std::time::Instant;

use crate::audit::{proofs, AuditError};
use crate::storage::Storage;
use crate::tlog::tiles::{self, TileSource};
use icac_format::checkpoint::Checkpoint;
use icac_format::cosignature::split_note;
use icac_format::merkle::inclusion_proof_from;
use icac_format::record::LedgerId;

/// The figures of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TilesBench {
    pub tree_size: u64,
    pub export_seconds: f64,
    pub export_events_per_second: f64,
    pub proofs: usize,
    pub tile_proof_us: f64,
    pub baseline_proof_us: f64,
    /// baseline / tiles: how many times faster a proof from tiles is.
    pub speedup: f64,
}

pub async fn run(
    storage: &Storage,
    ledger: &LedgerId,
    dir: &Path,
    proofs_wanted: usize,
) -> Result<TilesBench, AuditError> {
    let row = storage.latest_checkpoint(ledger).await?.ok_or_else(|| {
        AuditError::invalid("no stored checkpoint: run `icac-ledger checkpoint` first")
    })?;
    let (text, _) = split_note(&row.note).map_err(|e| AuditError::invalid(e.to_string()))?;
    let cp = Checkpoint::parse_body(text)?;
    let size = cp.size;
    let t0 = Instant::now();
    tiles::write_tiles(storage, ledger, dir, &cp).await?;
    let export = t0.elapsed().as_secs_f64();
    if size == 0 {
        return Err(AuditError::invalid("the checkpoint is of an empty ledger"));
    }
    let n = proofs_wanted.clamp(1, 1000) as u64;
    let step = (size - 1) / (n - 1).max(1);
    let positions: Vec<u64> = (0..n).map(|i| (1 + i * step).min(size)).collect();
    let source = TileSource::new(dir, size);
    let t1 = Instant::now();
    let from_tiles = positions
        .iter()
        .map(|p| inclusion_proof_from(&source, p - 1, size))
        .collect::<Result<Vec<_>, _>>()?;
    let tile_us = t1.elapsed().as_secs_f64() * 1e6 / n as f64;
    // The baseline reads the whole tree per proof: a few positions are enough.
    let sample: Vec<usize> = (0..positions.len())
        .step_by((positions.len() / 3).max(1))
        .take(3)
        .collect();
    let t2 = Instant::now();
    for &i in &sample {
        let p =
            proofs::prove_inclusion(storage, ledger, None, positions[i], Some(row.note.clone()))
                .await?;
        if p.proof != from_tiles[i] {
            return Err(AuditError::invalid(format!(
                "proofs differ at position {}",
                positions[i]
            )));
        }
    }
    let baseline_us = t2.elapsed().as_secs_f64() * 1e6 / sample.len() as f64;
    Ok(TilesBench {
        tree_size: size,
        export_seconds: export,
        export_events_per_second: size as f64 / export.max(1e-9),
        proofs: positions.len(),
        tile_proof_us: tile_us,
        baseline_proof_us: baseline_us,
        speedup: baseline_us / tile_us.max(1e-9),
    })
}
