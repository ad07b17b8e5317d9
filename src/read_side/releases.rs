//! What earlier report releases published, read back from the release stream: the
//! releases, the ones a new release links to through shared quarters, and each one's
//! true counts at its own position. Publishing a release (`commands::release`) and
//! checking an attested report (`annual::verify…`) both need it; it is a read.

use std::collections::BTreeMap;

use cqrs_es::Aggregate;
use icac_aggregates::release::{Period, Release, ReleaseEvent, ReleaseRecord, STREAM};
use icac_format::record::{LedgerId, StreamId};
use icac_projections::report::linked::PublicTable;
use icac_projections::report::{figures, Parameters};
use icac_projections::ReadModels;

use super::annual::{self, AnnualError};
use super::replay::{replay_with_stops, Snapshot};
use crate::ledger::sealed_from_row;
use crate::storage::Storage;

/// Every release recorded so far, folded from the release stream.
pub async fn releases(
    storage: &Storage,
    ledger_id: &LedgerId,
) -> Result<Vec<(ReleaseRecord, u64)>, AnnualError> {
    let stream = StreamId::new(<Release as Aggregate>::TYPE, STREAM);
    let rows = storage
        .read_stream(ledger_id, &stream)
        .await
        .map_err(|e| AnnualError::Release(e.to_string()))?;
    let mut state = Release::default();
    let mut positions = Vec::with_capacity(rows.len());
    for row in rows {
        let event = sealed_from_row(row).map_err(|e| AnnualError::Release(e.to_string()))?;
        positions.push(event.record.position);
        let e: ReleaseEvent = serde_json::from_value(event.record.payload)
            .map_err(|e| AnnualError::Release(format!("release event: {e}")))?;
        state.apply(e);
    }
    Ok(state.releases.into_iter().zip(positions).collect())
}

/// The earlier releases a release links to, with their true counts, for
/// recomputing it (`report verify`) or auditing it (`report audit`).
pub async fn public_before(
    storage: &Storage,
    ledger_id: &LedgerId,
    release: u32,
    period: &Period,
    base: &Parameters,
    current: (u64, &ReadModels),
) -> Result<Vec<PublicTable>, AnnualError> {
    let earlier: Vec<ReleaseRecord> = releases(storage, ledger_id)
        .await?
        .into_iter()
        .map(|(r, _)| r)
        .filter(|r| r.number < release)
        .collect();
    let chosen = linked(period, &earlier);
    let (here, elsewhere): (Vec<Wanted>, Vec<Wanted>) = wanted(&chosen, base)
        .into_iter()
        .partition(|w| w.position == current.0);
    let mut truths = truths_only(storage, ledger_id, elsewhere).await?;
    for w in here {
        truths.insert(w.key, figures::victim_truth(current.1, &w.parameters));
    }
    public_tables(&chosen, truths)
}

pub type Truth = Vec<(icac_aggregates::release::Quarter, Vec<u64>)>;

/// A table whose true counts a fold must find: over its period, at its position.
#[derive(Clone)]
pub struct Wanted {
    /// The release number (or, for the audit, the report's place in the list).
    pub key: u32,
    pub position: u64,
    pub parameters: Parameters,
}

fn parameters_for(base: &Parameters, period: &Period) -> Parameters {
    Parameters {
        from: period.from_day(),
        to: period.to_day(),
        ..base.clone()
    }
}

pub fn wanted(chosen: &[&ReleaseRecord], base: &Parameters) -> Vec<Wanted> {
    chosen
        .iter()
        .map(|r| Wanted {
            key: r.number,
            position: r.position,
            parameters: parameters_for(base, &r.period),
        })
        .collect()
}

/// Takes, from the partitions of a fold standing at `position`, the true
/// counts of each wanted table cut there. The counts are sums over cases, so
/// summing over the partitions gives exactly the counts of the merged models.
fn truths_snapshot(wanted: Vec<Wanted>) -> Snapshot<Vec<(u32, Truth)>> {
    Box::new(move |position, parts: &[ReadModels]| {
        wanted
            .iter()
            .filter(|w| w.position == position)
            .map(|w| {
                let cases = parts.iter().flat_map(|m| m.cases.values());
                (w.key, figures::victim_counts(cases, &w.parameters))
            })
            .collect()
    })
}

/// One fold to `position` (the report's), taking on the way the true counts
/// of each wanted table cut at an earlier position; tables cut later take
/// one more pass, to the latest of them.
pub async fn fold_with_truths(
    storage: &Storage,
    ledger_id: &LedgerId,
    position: u64,
    wanted: Vec<Wanted>,
) -> Result<(annual::LedgerAt, BTreeMap<u32, Truth>), AnnualError> {
    let (earlier, rest): (Vec<Wanted>, Vec<Wanted>) =
        wanted.into_iter().partition(|w| w.position < position);
    let (here, later): (Vec<Wanted>, Vec<Wanted>) =
        rest.into_iter().partition(|w| w.position == position);
    let stops = earlier.iter().map(|w| w.position).collect();
    let (at, taken) = annual::ledger_at_with_stops(
        storage,
        ledger_id,
        position,
        Some((stops, truths_snapshot(earlier))),
    )
    .await?;
    let mut truths: BTreeMap<u32, Truth> = taken.into_iter().flat_map(|(_, t)| t).collect();
    for w in here {
        truths.insert(w.key, figures::victim_truth(&at.models, &w.parameters));
    }
    truths.extend(truths_only(storage, ledger_id, later).await?);
    Ok((at, truths))
}

/// The true counts of each wanted table at its own position, from one pass
/// to the latest of them (no Merkle tree).
pub async fn truths_only(
    storage: &Storage,
    ledger_id: &LedgerId,
    wanted: Vec<Wanted>,
) -> Result<BTreeMap<u32, Truth>, AnnualError> {
    let Some(end) = wanted.iter().map(|w| w.position).max() else {
        return Ok(BTreeMap::new());
    };
    let stops = wanted.iter().map(|w| w.position).collect();
    let (replayed, taken) = replay_with_stops(
        storage,
        ledger_id,
        Some(end),
        false,
        Some((stops, truths_snapshot(wanted))),
        |_| {},
    )
    .await?;
    // About 160k views at 1M events: freed on the pool, nobody waits for it.
    rayon::spawn(move || drop(replayed));
    Ok(taken.into_iter().flat_map(|(_, t)| t).collect())
}

/// The earlier releases the new one links to (through shared quarters, also
/// indirectly), in release order.
pub fn linked<'a>(period: &Period, earlier: &'a [ReleaseRecord]) -> Vec<&'a ReleaseRecord> {
    let mut quarters: Vec<_> = period.quarters();
    let mut chosen: Vec<&ReleaseRecord> = Vec::new();
    // Grow the set until no release shares a quarter with it.
    loop {
        let before = chosen.len();
        for r in earlier {
            let shares = r.period.quarters().iter().any(|q| quarters.contains(q));
            if shares && !chosen.iter().any(|c| c.number == r.number) {
                chosen.push(r);
                quarters.extend(r.period.quarters());
            }
        }
        if chosen.len() == before {
            break;
        }
    }
    chosen.sort_by_key(|r| r.number);
    chosen
}

/// The linked releases as the suppression takes them, each with its true
/// counts at its own position.
pub fn public_tables(
    chosen: &[&ReleaseRecord],
    mut truths: BTreeMap<u32, Truth>,
) -> Result<Vec<PublicTable>, AnnualError> {
    chosen
        .iter()
        .map(|r| {
            let truth = truths.remove(&r.number).ok_or_else(|| {
                AnnualError::Release(format!("release {} was not folded", r.number))
            })?;
            Ok(PublicTable {
                number: r.number,
                period_label: r.period.to_string(),
                victims: r.victims.clone(),
                truth,
            })
        })
        .collect()
}
