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

/// Looks at the partitions of the fold as they stand at one stop position
/// (together they hold exactly the models of a fold to that position).
pub type Snapshot<T> = Box<dyn Fn(u64, &[ReadModels]) -> T + Send>;

/// Positions at which a replay hands its partitions to a [`Snapshot`] on the
/// way, so one pass answers questions about several earlier positions.
struct Stops<T> {
    /// Ascending, each at most the replay's end.
    positions: Vec<u64>,
    snapshot: Snapshot<T>,
    taken: Vec<(u64, T)>,
}

/// What the folding stage carries from page to page.
struct State<T> {
    parts: Vec<ReadModels>,
    stops: Option<Stops<T>>,
    /// The page being folded, decoded; reused from page to page.
    decoded: Vec<DecodedRow>,
    tree: Option<MerkleAccumulator>,
    position: u64,
    head: Hash32,
    recorded_at: String,
}

impl<T> State<T> {
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
        // The page is folded in segments that end at the stops inside it.
        let mut start = 0;
        while start < decoded.len() {
            let stop = self.stops.as_ref().and_then(|s| {
                s.positions
                    .iter()
                    .copied()
                    .find(|&p| p >= decoded[start].position && p <= last.position)
            });
            let end = match stop {
                Some(p) => start + (p - decoded[start].position) as usize + 1,
                None => decoded.len(),
            };
            fold(&mut self.parts, &decoded[start..end])?;
            if let (Some(p), Some(stops)) = (stop, self.stops.as_mut()) {
                let seen = (stops.snapshot)(p, &self.parts);
                stops.taken.push((p, seen));
                stops.positions.retain(|&q| q != p);
            }
            start = end;
        }
        Ok(())
    }
}

/// Folds consecutive rows into their partitions, on all cores.
fn fold(parts: &mut [ReadModels], rows: &[DecodedRow]) -> Result<(), ProjectionError> {
    let n = parts.len();
    // Events are large (a whole notification form inline): route references.
    let mut routed: Vec<Vec<&LedgerEvent>> = (0..n).map(|_| Vec::new()).collect();
    for e in rows.iter().filter_map(|r| r.event.as_ref()) {
        routed[ReadModels::partition_of(e, n)].push(e);
    }
    parts
        .par_iter_mut()
        .zip(routed.into_par_iter())
        .try_for_each(|(models, events)| {
            events
                .into_iter()
                .try_for_each(|e| models.apply(e).map(|_| ()))
        })?;
    Ok(())
}

/// Replays positions `1..=up_to` (`None`: to the head). `with_root` also folds the
/// Merkle tree. `progress` sees the position reached after each page.
pub async fn replay(
    storage: &Storage,
    ledger_id: &LedgerId,
    up_to: Option<u64>,
    with_root: bool,
    progress: impl FnMut(u64),
) -> Result<Replayed, ProjectionError> {
    let (replayed, _) =
        replay_with_stops::<()>(storage, ledger_id, up_to, with_root, None, progress).await?;
    Ok(replayed)
}

/// [`replay`], also handing the fold's partitions to `snapshot` at each of
/// `positions` (each at most `up_to`) on the way; returns what it saw, by
/// position ascending. The fold is the same: the partitions are only read.
pub async fn replay_with_stops<T: Send + 'static>(
    storage: &Storage,
    ledger_id: &LedgerId,
    up_to: Option<u64>,
    with_root: bool,
    stops: Option<(Vec<u64>, Snapshot<T>)>,
    mut progress: impl FnMut(u64),
) -> Result<(Replayed, Vec<(u64, T)>), ProjectionError> {
    let stops = stops.map(|(mut positions, snapshot)| {
        positions.sort_unstable();
        positions.dedup();
        Stops {
            positions,
            snapshot,
            taken: Vec::new(),
        }
    });
    if let (Some(s), Some(limit)) = (&stops, up_to) {
        if let Some(&p) = s.positions.iter().find(|&&p| p == 0 || p > limit) {
            return Err(ProjectionError::NoSuchPosition(p));
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<CanonicalRow>>(PAGES_AHEAD);
    let reader = {
        let storage = storage.clone();
        let ledger_id = ledger_id.clone();
        tokio::spawn(async move { scan::scan(&storage, &ledger_id, 1, up_to, PAGE, tx).await })
    };
    let partitions = rayon::current_num_threads().max(1);
    let mut state = State {
        parts: vec![ReadModels::new(); partitions],
        stops,
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
    let taken = match state.stops {
        Some(s) if !s.positions.is_empty() => {
            return Err(ProjectionError::NoSuchPosition(s.positions[0]));
        }
        Some(s) => s.taken,
        None => Vec::new(),
    };
    let root = state.tree.as_ref().map(MerkleAccumulator::root);
    let models = ReadModels::merge(state.parts, state.position)?;
    let replayed = Replayed {
        models,
        root,
        tree: state.tree,
        head: state.head,
        recorded_at: state.recorded_at,
    };
    Ok((replayed, taken))
}
