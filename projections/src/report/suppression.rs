//! Linked small-cell suppression of the victim figures, solved by an optimiser.
//!
//! The figures of the release being prepared join the [`System`] of every
//! figure already public. Counts of 1..=threshold are hidden (primary
//! suppression); zeros are shown, so a reader knows every hidden value is at
//! least 1. Then, while the [`audit`] finds a hidden figure (of this release
//! or an earlier one) that some reader narrows too far, a mixed integer
//! program chooses the further figures of this release to hide: the set of
//! least total value (the information lost) for which two tables exist that
//! reproduce every shown figure, keep every hidden one within what that
//! reader knows, and put the exposed figure at the two ends of an interval of
//! the required width. Each round's program proves its own choice enough for
//! that figure; the audit reruns over everything, and the loop ends when it
//! finds nothing. Figures already public are never changed: only this
//! release's are chosen.
//!
//! If no choice works, every non-zero figure of the release is hidden and
//! audited once more; if that fails too, the release is refused with the
//! figure and the reader that defeat it.

use good_lp::{
    constraint, microlp, variable, Expression, ProblemVariables, ResolutionError, Solution,
    SolverModel, Variable,
};

use super::audit::{self, AuditError, Finding, Protection, ReaderModel, OPEN};
use super::linked::{LinkError, Origin, System};

/// Smallest threshold: with 1, a reader who knew which hidden cells are small
/// would know each of them is exactly 1.
pub const MIN_THRESHOLD: u64 = 2;
pub const MAX_THRESHOLD: u64 = 1_000;
pub const DEFAULT_THRESHOLD: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuppressionError {
    #[error("suppression threshold must be {MIN_THRESHOLD} to {MAX_THRESHOLD}, got {0}")]
    Threshold(u64),
    #[error("protection width must be 2 to the threshold {threshold}, got {width}")]
    Width { width: u64, threshold: u64 },
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Even hiding every non-zero figure leaves one narrowed: refuse to publish.
    #[error("the disclosure audit fails for {0}")]
    Unprotected(Finding),
}

/// Checks a threshold and width pair.
pub fn protection(threshold: u64, width: u64) -> Result<Protection, SuppressionError> {
    if !(MIN_THRESHOLD..=MAX_THRESHOLD).contains(&threshold) {
        return Err(SuppressionError::Threshold(threshold));
    }
    if !(2..=threshold).contains(&width) {
        return Err(SuppressionError::Width { width, threshold });
    }
    Ok(Protection { threshold, width })
}

fn current_items(system: &System) -> Vec<usize> {
    (0..system.items.len())
        .filter(|&k| system.items[k].origin == Origin::Current)
        .collect()
}

/// Chooses which figures of the current release to show; on return every
/// current item's `shown` is set or left hidden, and the audit passes.
pub fn suppress(system: &mut System, p: &Protection) -> Result<(), SuppressionError> {
    let current = current_items(system);
    for &k in &current {
        let v = system.true_value(k);
        system.items[k].shown = if (1..=p.threshold).contains(&v) {
            None
        } else {
            Some(v)
        };
    }
    // Each round hides at least one more figure, so the rounds are bounded by
    // the release's figures.
    for _ in 0..=current.len() {
        let findings = audit::audit(system, p, audit::every_item(system))?;
        let Some(f) = findings.first() else {
            return Ok(());
        };
        let more = complements(system, p, f.item, f.model)?;
        if more.is_empty() {
            break;
        }
        for k in more {
            system.items[k].shown = None;
        }
    }
    for &k in &current {
        if system.true_value(k) >= 1 {
            system.items[k].shown = None;
        }
    }
    match audit::audit(system, p, audit::every_item(system))?
        .into_iter()
        .next()
    {
        None => Ok(()),
        Some(f) => Err(SuppressionError::Unprotected(f)),
    }
}

/// The least-value set of shown figures of the current release whose hiding
/// protects `target` from `model`; empty if none does.
fn complements(
    system: &System,
    p: &Protection,
    target: usize,
    model: ReaderModel,
) -> Result<Vec<usize>, SuppressionError> {
    let v = system.true_value(target);
    let (lo, hi) = p.bounds(model, v);
    let need = p.required(model) - 1;
    let down = need.min(v.saturating_sub(lo));
    let up = need - down;
    if v + up > hi {
        return Ok(Vec::new());
    }
    let total: u64 = system.truth.iter().sum();
    let big = (total + 2 * need + 2) as f64;
    let mut vars = ProblemVariables::new();
    let candidates: Vec<usize> = (0..system.items.len())
        .filter(|&k| {
            let it = &system.items[k];
            it.origin == Origin::Current && it.shown.is_some_and(|s| s >= 1)
        })
        .collect();
    let hide: Vec<Variable> = candidates
        .iter()
        .map(|_| vars.add(variable().binary()))
        .collect();
    let shift = |vars: &mut ProblemVariables| -> Vec<Variable> {
        system
            .truth
            .iter()
            .map(|&t| vars.add(variable().integer().min(-(t as f64)).max(big)))
            .collect()
    };
    let (raise, lower) = (shift(&mut vars), shift(&mut vars));
    let loss: Expression = candidates
        .iter()
        .zip(&hide)
        .map(|(&k, &y)| (system.true_value(k) + 1) as f64 * y)
        .sum();
    let mut problem = vars.minimise(loss).using(microlp);
    let choice = Choice {
        candidates: &candidates,
        hide: &hide,
        big,
        model,
        target,
    };
    for (delta, bound) in [(&raise, up as f64), (&lower, -(down as f64))] {
        problem = choice.keep(problem, system, p, delta, bound);
    }
    match problem.solve() {
        Ok(solution) => Ok(candidates
            .iter()
            .zip(&hide)
            .filter(|(_, &y)| solution.value(y) > 0.5)
            .map(|(&k, _)| k)
            .collect()),
        Err(ResolutionError::Infeasible) => Ok(Vec::new()),
        Err(e) => Err(AuditError::Solver(e.to_string()).into()),
    }
}

/// The variables one protection program shares between its two directions.
struct Choice<'a> {
    candidates: &'a [usize],
    hide: &'a [Variable],
    big: f64,
    model: ReaderModel,
    target: usize,
}

impl Choice<'_> {
    /// Constrains one shifted table `delta` (a change per base cell): shown
    /// figures stay, a candidate moves only if hidden, hidden figures stay
    /// within what the reader knows, and the target moves by `bound`.
    fn keep<M: SolverModel>(
        &self,
        mut problem: M,
        system: &System,
        p: &Protection,
        delta: &[Variable],
        bound: f64,
    ) -> M {
        let moved = |cells: &[usize]| -> Expression { cells.iter().map(|&b| delta[b]).sum() };
        for (k, it) in system.items.iter().enumerate() {
            let d = moved(&it.cells);
            let value = system.true_value(k) as f64;
            let (l, h) = p.bounds(self.model, system.true_value(k));
            let candidate = self.candidates.iter().position(|&c| c == k);
            match (it.shown, candidate) {
                (Some(_), None) => {
                    problem = problem.with(constraint!(d == 0));
                    continue;
                }
                (Some(_), Some(i)) => {
                    let y = self.hide[i];
                    problem = problem
                        .with(constraint!(d.clone() <= self.big * y))
                        .with(constraint!(d.clone() + self.big * y >= 0));
                }
                (None, _) if k == self.target => {
                    problem = if bound >= 0.0 {
                        problem.with(constraint!(d.clone() >= bound))
                    } else {
                        problem.with(constraint!(d.clone() <= bound))
                    };
                }
                (None, _) => {}
            }
            problem = problem.with(constraint!(d.clone() + value >= l as f64));
            if h < OPEN {
                problem = problem.with(constraint!(d + value <= h as f64));
            }
        }
        problem
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::audit::{every_item, READER_MODELS};
    use crate::report::linked::{system_for, PublicTable};
    use icac_aggregates::release::{PublishedVictims, Quarter, QuarterFigures};

    fn q(year: i16, number: u8) -> Quarter {
        Quarter { year, number }
    }

    fn bands() -> Vec<String> {
        vec!["a".into(), "b".into(), "c".into()]
    }

    /// What the suppressed system publishes for the current table.
    fn published(
        system: &System,
        items: &crate::report::linked::TableItems,
        quarters: &[Quarter],
    ) -> PublishedVictims {
        PublishedVictims {
            bands: bands(),
            quarters: quarters
                .iter()
                .enumerate()
                .map(|(i, quarter)| QuarterFigures {
                    quarter: *quarter,
                    victims: items.cells[i]
                        .iter()
                        .map(|&k| system.items[k].shown)
                        .collect(),
                    victims_total: system.items[items.quarter_totals[i]].shown,
                    notifications_by_month: vec![0, 0, 0],
                })
                .collect(),
            band_totals: items
                .band_totals
                .iter()
                .map(|&k| system.items[k].shown)
                .collect(),
            total: system.items[items.total].shown,
        }
    }

    #[test]
    fn a_lone_small_cell_gets_partners_and_the_audit_passes() {
        let p = protection(10, 10).unwrap();
        let truth = vec![
            (q(2025, 1), vec![3, 20, 40]),
            (q(2025, 2), vec![30, 50, 60]),
        ];
        let (mut s, items) = system_for(bands(), &[], "2025-Q1..2025-Q2".into(), &truth).unwrap();
        suppress(&mut s, &p).unwrap();
        let hidden = |k: usize| s.items[k].shown.is_none();
        assert!(hidden(items.cells[0][0]));
        assert!(items.cells[0].iter().filter(|&&k| hidden(k)).count() >= 2);
        assert!(audit::audit(&s, &p, every_item(&s)).unwrap().is_empty());
    }

    #[test]
    fn a_second_release_is_suppressed_against_the_first() {
        let p = protection(10, 10).unwrap();
        let fiscal = vec![
            (q(2024, 3), vec![4, 25, 30]),
            (q(2024, 4), vec![15, 2, 40]),
            (q(2025, 1), vec![3, 20, 40]),
            (q(2025, 2), vec![30, 6, 60]),
        ];
        let (mut s, items) = system_for(bands(), &[], "FY".into(), &fiscal).unwrap();
        suppress(&mut s, &p).unwrap();
        let first = PublicTable {
            number: 1,
            period_label: "FY".into(),
            victims: published(
                &s,
                &items,
                &fiscal.iter().map(|(q, _)| *q).collect::<Vec<_>>(),
            ),
            truth: fiscal.clone(),
        };
        let calendar = vec![
            (q(2025, 1), vec![3, 20, 40]),
            (q(2025, 2), vec![30, 6, 60]),
            (q(2025, 3), vec![12, 9, 33]),
            (q(2025, 4), vec![40, 41, 1]),
        ];
        let (mut s2, items2) = system_for(
            bands(),
            std::slice::from_ref(&first),
            "CY".into(),
            &calendar,
        )
        .unwrap();
        suppress(&mut s2, &p).unwrap();
        // The shared quarters publish exactly what the first release did.
        for i in 0..2 {
            for b in 0..3 {
                assert_eq!(
                    s2.items[items2.cells[i][b]].shown,
                    first.victims.quarters[i + 2].victims[b]
                );
            }
        }
        // Every hidden figure of both releases keeps its width against both together.
        assert!(audit::audit(&s2, &p, every_item(&s2)).unwrap().is_empty());
    }

    /// One quarter, bands a=3 (small), b=12, c=0: hidden a and b with the total
    /// of 15 shown. A reader told only that hidden figures are at least 1, or
    /// that small ones are at most 10, keeps a in 1..=14 or 1..=10; a reader told
    /// which are small knows b >= 11, so a is 1..=4: four values.
    fn weak_first_release(p: &Protection) -> PublicTable {
        let truth = vec![(q(2025, 1), vec![3, 12, 0])];
        let (mut s, items) = system_for(bands(), &[], "2025-Q1".into(), &truth).unwrap();
        suppress(&mut s, p).unwrap();
        let victims = published(&s, &items, &[q(2025, 1)]);
        assert_eq!(victims.quarters[0].victims, vec![None, None, Some(0)]);
        assert_eq!(victims.quarters[0].victims_total, Some(15));
        PublicTable {
            number: 1,
            period_label: "2025-Q1".into(),
            victims,
            truth,
        }
    }

    #[test]
    fn the_reader_who_knows_which_figures_are_small_is_held_to_half_the_width() {
        let p = protection(10, 10).unwrap();
        // Width 2: four values are enough for every reader, so it publishes.
        let first = weak_first_release(&protection(10, 2).unwrap());
        let (s, items) = system_for(
            bands(),
            std::slice::from_ref(&first),
            "2025-Q1".into(),
            &first.truth,
        )
        .unwrap();
        let a = items.cells[0][0];
        let width = |model| {
            let (lo, hi) = audit::interval(&s, &p, model, a).unwrap();
            hi - lo + 1
        };
        assert_eq!(width(ReaderModel::AtLeastOne), 14);
        assert_eq!(width(ReaderModel::SmallAtMostThreshold), 10);
        assert_eq!(width(ReaderModel::KnowsWhichAreSmall), 4);
        // At width 10 the third reader needs ceil(10 / 2) = 5 values: the audit
        // names that reader (the first two pass).
        let findings = audit::audit(&s, &p, every_item(&s)).unwrap();
        let f = findings
            .iter()
            .find(|f| f.item == a)
            .expect("a finding for a");
        assert_eq!(f.model, ReaderModel::KnowsWhichAreSmall);
        assert_eq!((f.values, f.required), (4, 5));
        assert!(f
            .to_string()
            .contains("knows which hidden figures are small"));
    }

    #[test]
    fn a_release_is_refused_when_the_third_reader_narrows_a_public_figure() {
        // The first release, at width 2, is public. A release of the same quarter
        // (or any period containing it) at width 10 cannot widen a figure already
        // published, so it is refused, naming the cell and the third reader.
        let first = weak_first_release(&protection(10, 2).unwrap());
        let p = protection(10, 10).unwrap();
        for (label, truth) in [
            ("2025-Q1", first.truth.clone()),
            (
                "2025-Q1..2025-Q2",
                vec![(q(2025, 1), vec![3, 12, 0]), (q(2025, 2), vec![30, 40, 50])],
            ),
        ] {
            let (mut s, _) =
                system_for(bands(), std::slice::from_ref(&first), label.into(), &truth).unwrap();
            match suppress(&mut s, &p) {
                Err(SuppressionError::Unprotected(f)) => {
                    assert_eq!(f.model, ReaderModel::KnowsWhichAreSmall, "{f}");
                    assert!(f.label.starts_with("2025-Q1, age "), "{f}");
                    assert!(f.values < f.required && f.values >= 2, "{f}");
                }
                other => panic!("{label}: expected a refusal, got {other:?}"),
            }
        }
        // The half year at width 2 is not refused: the refusal is the width.
        let half = vec![(q(2025, 1), vec![3, 12, 0]), (q(2025, 2), vec![30, 40, 50])];
        let (mut s, _) = system_for(
            bands(),
            std::slice::from_ref(&first),
            "2025-Q1..2025-Q2".into(),
            &half,
        )
        .unwrap();
        assert!(suppress(&mut s, &protection(10, 2).unwrap()).is_ok());
    }

    #[test]
    fn solving_the_strongest_reader_first_changes_no_verdict() {
        let mut seed = 7u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let values = [0, 1, 2, 3, 5, 8, 11, 14, 20, 40];
        let mut findings = 0;
        for round in 0..60 {
            let mut truth = Vec::new();
            for quarter in 1..=2 {
                let mut counts = Vec::new();
                for _ in 0..3 {
                    counts.push(values[next(values.len() as u64) as usize]);
                }
                truth.push((q(2025, quarter), counts));
            }
            let (mut s, _) = system_for(bands(), &[], "H1".into(), &truth).unwrap();
            let p = protection(10, [2, 6, 10][round % 3]).unwrap();
            // Hide each non-zero figure with probability one half.
            for k in 0..s.items.len() {
                let v = s.true_value(k);
                s.items[k].shown = if v > 0 && next(2) == 0 { None } else { Some(v) };
            }
            let fast = audit::audit(&s, &p, every_item(&s)).unwrap();
            let full = audit::audit_every_reader(&s, &p, every_item(&s)).unwrap();
            assert_eq!(fast, full, "round {round}: {truth:?}");
            findings += full.len();
        }
        // The random patterns do expose figures, to every kind of reader.
        assert!(findings > 10, "{findings}");
    }

    #[test]
    fn no_hidden_figure_may_be_a_single_value_for_any_reader() {
        for width in 2..=10 {
            let p = protection(10, width).unwrap();
            for model in READER_MODELS {
                assert!(p.required(model) >= 2, "{model} at width {width}");
            }
            assert_eq!(
                p.required(ReaderModel::KnowsWhichAreSmall),
                width.div_ceil(2).max(2)
            );
        }
    }

    #[test]
    fn a_table_that_cannot_be_protected_is_refused() {
        // Two 1s and a total of 2 at threshold 2: a reader told the total is small
        // knows both cells are 1, whatever is hidden.
        let p = protection(2, 2).unwrap();
        let truth = vec![(q(2025, 1), vec![1, 1, 0])];
        let (mut s, _) = system_for(bands(), &[], "2025-Q1".into(), &truth).unwrap();
        assert!(matches!(
            suppress(&mut s, &p),
            Err(SuppressionError::Unprotected(_))
        ));
    }

    #[test]
    fn threshold_and_width_bounds() {
        assert!(protection(1, 2).is_err());
        assert!(protection(10, 1).is_err());
        assert!(protection(10, 11).is_err());
        assert!(protection(10, 10).is_ok());
    }
}
