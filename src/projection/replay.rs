//! Replays the ledger into fresh read models on all cores: for `projections rebuild`,
//! the annual report and its check, and models as of a past position.
//!
//! Every view is changed only by the events of its own aggregate, so the fold splits
//! by aggregate id into one partition per core (`ReadModels::partition_of`); each
//! partition folds its events in position order and the partitions are merged at the
//! end (`ReadModels::merge`), which gives exactly the models of one sequential fold.
//! Per page of rows: decode on all cores, route, then fold the partitions on all cores
//! (and, for a report, push the page's hashes into the Merkle tree meanwhile). The
//! reader streams the next pages from the database all the while (one COPY on
//! PostgreSQL, see `storage::scan`).

use icac_projections::{LedgerEvent, ReadModels};
use rayon::prelude::*;

use super::decode::stored_hash;
use super::{decode_page, DecodedRow, ProjectionError};
use crate::storage::{scan, CanonicalRow, Storage};
use icac_format::chain::Hash32;
use icac_format::merkle::MerkleAccumulator;
use icac_format::record::LedgerId;

/// Rows per page handed from the reader to the folding stage.
const PAGE: usize = 4096;

/// Pages the reader may run ahead of the fold: memory is about this many pages of
/// canonical bytes (≈ 4 MiB each for 1 KiB events) on top of the models.
const PAGES_AHEAD: usize = 2;

/// The ledger replayed up to a position.
pub struct Replayed {
    pub models: ReadModels,
    /// The RFC 6962 root over the hashes read, when asked for.
    pub root: Option<Hash32>,
    /// The tree's frontier behind that root (a release proves its own event from it).
    pub tree: Option<MerkleAccumulator>,
    /// The hash and recorded time of the last event read (zero and empty if none).
    pub head: Hash32,
    pub recorded_at: String,
}

/// What the folding stage carries from page to page.
struct State {
    parts: Vec<ReadModels>,
    /// The page being folded, decoded; reused from page to page.
    decoded: Vec<DecodedRow>,
    tree: Option<MerkleAccumulator>,
    position: u64,
    head: Hash32,
    recorded_at: String,
}

impl State {
    fn apply_page(&mut self, mut rows: Vec<CanonicalRow>) -> Result<(), ProjectionError> {
        // The Merkle tree takes the hashes as stored, so it grows while the page is
        // decoded: decoding splits into many small tasks that balance around it, where
        // beside the fold (one task per partition) it left a core idle.
        let hashes = match self.tree {
            Some(_) => rows
                .iter()
                .map(stored_hash)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let tree = &mut self.tree;
        let decoded = &mut self.decoded;
        let (decoding, pushed) = rayon::join(
            || decode_page(&mut rows, decoded),
            || -> Result<(), ProjectionError> {
                if let Some(tree) = tree.as_mut() {
                    for h in &hashes {
                        tree.push(h)?;
                    }
                }
                Ok(())
            },
        );
        decoding?;
        pushed?;
        drop(rows);
        let decoded = &self.decoded;
        let Some(last) = decoded.last() else {
            return Ok(());
        };
        if let Some(first) = decoded.first() {
            // The database hands rows in order; a replay that skipped or repeated a
            // position would be wrong without any fold noticing.
            if first.position != self.position + 1
                || last.position != self.position + decoded.len() as u64
            {
                return Err(ProjectionError::Fold(
                    icac_projections::read_models::FoldError::OutOfOrder {
                        last: self.position,
                        got: first.position,
                    },
                ));
            }
        }
        self.position = last.position;
        self.head = last.hash;
        self.recorded_at.clone_from(&last.recorded_at);
        let n = self.parts.len();
        // Events are large (a whole notification form inline): route references.
        let mut routed: Vec<Vec<&LedgerEvent>> = (0..n).map(|_| Vec::new()).collect();
        for e in decoded.iter().filter_map(|r| r.event.as_ref()) {
            routed[ReadModels::partition_of(e, n)].push(e);
        }
        self.parts
            .par_iter_mut()
            .zip(routed.into_par_iter())
            .try_for_each(|(models, events)| {
                events
                    .into_iter()
                    .try_for_each(|e| models.apply(e).map(|_| ()))
            })?;
        Ok(())
    }
}

/// Replays positions `1..=up_to` (`None`: to the head). `with_root` also folds the
/// Merkle tree. `progress` sees the position reached after each page.
pub async fn replay(
    storage: &Storage,
    ledger_id: &LedgerId,
    up_to: Option<u64>,
    with_root: bool,
    mut progress: impl FnMut(u64),
) -> Result<Replayed, ProjectionError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<CanonicalRow>>(PAGES_AHEAD);
    let reader = {
        let storage = storage.clone();
        let ledger_id = ledger_id.clone();
        tokio::spawn(async move { scan::scan(&storage, &ledger_id, 1, up_to, PAGE, tx).await })
    };
    let partitions = rayon::current_num_threads().max(1);
    let mut state = State {
        parts: vec![ReadModels::new(); partitions],
        decoded: Vec::with_capacity(PAGE),
        tree: with_root.then(MerkleAccumulator::new),
        position: 0,
        head: Hash32::ZERO,
        recorded_at: String::new(),
    };
    let mut failed = None;
    while let Some(rows) = rx.recv().await {
        // The fold runs on the blocking pool (it uses every core through rayon); the
        // state moves there and back, a few pointers.
        let mut moved = state;
        let result = tokio::task::spawn_blocking(move || {
            let r = moved.apply_page(rows);
            (moved, r)
        })
        .await;
        match result {
            Ok((back, r)) => {
                state = back;
                if let Err(e) = r {
                    failed = Some(e);
                    break;
                }
                progress(state.position);
            }
            Err(join) => {
                drop(rx);
                let _ = reader.await;
                return Err(ProjectionError::Worker(join.to_string()));
            }
        }
    }
    drop(rx);
    let read = reader
        .await
        .map_err(|e| ProjectionError::Worker(e.to_string()))?;
    if let Some(e) = failed {
        return Err(e);
    }
    read?;
    if let Some(limit) = up_to {
        if state.position != limit {
            return Err(ProjectionError::NoSuchPosition(limit));
        }
    }
    let root = state.tree.as_ref().map(MerkleAccumulator::root);
    let models = ReadModels::merge(state.parts, state.position)?;
    Ok(Replayed {
        models,
        root,
        tree: state.tree,
        head: state.head,
        recorded_at: state.recorded_at,
    })
}
