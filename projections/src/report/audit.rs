//! The disclosure audit: the attacker, as an integer program.
//!
//! For every hidden figure of the linked [`System`] and every [`ReaderModel`],
//! the audit minimises and maximises the figure over all non-negative integer
//! base counts that reproduce every shown figure of every release and keep
//! every hidden figure within what that reader knows of it. The result is the
//! figure's feasible interval, exactly what a reader who solves the same
//! program learns. A figure passes when its interval holds at least the
//! protection width of values (never a single value).

use good_lp::{
    constraint, microlp, variable, Expression, ProblemVariables, ResolutionError, Solution,
    SolverModel, Variable,
};
use serde::Serialize;

use super::linked::System;

/// What a reader is assumed to know about hidden figures besides what is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderModel {
    /// Every hidden figure is at least 1, because zeros are shown.
    AtLeastOne,
    /// Also that the small hidden figures are at most the threshold.
    SmallAtMostThreshold,
    /// Also which hidden figures are small, so the others exceed the
    /// threshold: more than any release says.
    KnowsWhichAreSmall,
}

pub const READER_MODELS: [ReaderModel; 3] = [
    ReaderModel::AtLeastOne,
    ReaderModel::SmallAtMostThreshold,
    ReaderModel::KnowsWhichAreSmall,
];

impl std::fmt::Display for ReaderModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReaderModel::AtLeastOne => "a reader who knows hidden figures are at least 1",
            ReaderModel::SmallAtMostThreshold => {
                "a reader who also knows small hidden figures are at most the threshold"
            }
            ReaderModel::KnowsWhichAreSmall => "a reader who knows which hidden figures are small",
        })
    }
}

/// Above this a bound counts as open: no count in the tables comes near it.
pub const OPEN: u64 = 1_000_000;

/// How wide a hidden figure's feasible interval must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Protection {
    pub threshold: u64,
    /// Values the interval must hold for [`ReaderModel::AtLeastOne`].
    pub width: u64,
}

impl Protection {
    /// Values required under `model`. A reader told which figures are small
    /// already confines each small one to 1..=threshold, and a small total
    /// confines its parts further, so the stronger readers are held to half
    /// the width (never fewer than 2 values: no figure may be pinned).
    pub fn required(&self, model: ReaderModel) -> u64 {
        match model {
            ReaderModel::AtLeastOne => self.width.max(2),
            _ => self.width.div_ceil(2).max(2),
        }
    }

    /// The bounds `model` puts on a hidden figure whose true value is `value`.
    pub fn bounds(&self, model: ReaderModel, value: u64) -> (u64, u64) {
        let small = value <= self.threshold;
        match (model, small) {
            (ReaderModel::AtLeastOne, _) => (1, OPEN),
            (ReaderModel::SmallAtMostThreshold, true) => (1, self.threshold),
            (ReaderModel::SmallAtMostThreshold, false) => (1, OPEN),
            (ReaderModel::KnowsWhichAreSmall, true) => (1, self.threshold),
            (ReaderModel::KnowsWhichAreSmall, false) => (self.threshold + 1, OPEN),
        }
    }
}

/// A hidden figure the attacker narrows too far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub item: usize,
    pub label: String,
    pub model: ReaderModel,
    /// Values the reader cannot rule out (`OPEN` or more: unbounded).
    pub values: u64,
    pub required: u64,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.values <= 1 {
            write!(f, "{}: {} can derive it exactly", self.label, self.model)
        } else {
            write!(
                f,
                "{}: {} narrows it to {} possible values (at least {} required)",
                self.label, self.model, self.values, self.required
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    #[error("the published figures contradict each other ({0}): no table reproduces them")]
    Infeasible(String),
    #[error("the integer program solver failed: {0}")]
    Solver(String),
}

/// The feasible interval of one hidden item under one reader model.
pub fn interval(
    system: &System,
    p: &Protection,
    model: ReaderModel,
    item: usize,
) -> Result<(u64, u64), AuditError> {
    let lo = optimise(system, p, model, item, false)?;
    let hi = optimise(system, p, model, item, true)?;
    Ok((lo, hi))
}

fn optimise(
    system: &System,
    p: &Protection,
    model: ReaderModel,
    item: usize,
    maximise: bool,
) -> Result<u64, AuditError> {
    let mut vars = ProblemVariables::new();
    let x: Vec<Variable> = system
        .base
        .iter()
        .map(|_| vars.add(variable().integer().min(0).max(OPEN as f64)))
        .collect();
    let sum = |cells: &[usize]| -> Expression { cells.iter().map(|&b| x[b]).sum() };
    let objective = sum(&system.items[item].cells);
    let unsolved = if maximise {
        vars.maximise(objective.clone())
    } else {
        vars.minimise(objective.clone())
    };
    let mut problem = unsolved.using(microlp);
    for (k, it) in system.items.iter().enumerate() {
        let s = sum(&it.cells);
        match it.shown {
            Some(v) => problem = problem.with(constraint!(s == v as f64)),
            None => {
                let (lo, hi) = p.bounds(model, system.true_value(k));
                problem = problem.with(constraint!(s.clone() >= lo as f64));
                if hi < OPEN {
                    problem = problem.with(constraint!(s <= hi as f64));
                }
            }
        }
    }
    match problem.solve() {
        Ok(solution) => {
            let v = solution.eval(&objective).round();
            Ok(if v <= 0.0 { 0 } else { v as u64 })
        }
        Err(ResolutionError::Unbounded) => Ok(OPEN),
        Err(ResolutionError::Infeasible) => {
            Err(AuditError::Infeasible(system.items[item].label.clone()))
        }
        Err(e) => Err(AuditError::Solver(e.to_string())),
    }
}

/// Every hidden figure of `items` that some reader narrows below the
/// protection; empty when the release may be published.
///
/// The readers' feasible tables are nested: each reader knows everything the one
/// before it knows (the bounds of [`Protection::bounds`] only tighten from
/// [`ReaderModel::AtLeastOne`] to [`ReaderModel::KnowsWhichAreSmall`]), so a
/// figure's interval for a stronger reader lies inside its interval for a weaker
/// one. The strongest reader's interval is solved first: when it already holds the
/// weakest reader's (largest) requirement, every reader's does and the figure
/// passes on two programs instead of six. Otherwise the readers are checked in
/// order and the first that fails is named, exactly as checking all of them.
pub fn audit(
    system: &System,
    p: &Protection,
    items: impl IntoIterator<Item = usize>,
) -> Result<Vec<Finding>, AuditError> {
    let mut findings = Vec::new();
    for item in items {
        if system.items[item].shown.is_some() {
            continue;
        }
        let values = |model| -> Result<u64, AuditError> {
            let (lo, hi) = interval(system, p, model, item)?;
            Ok(hi.saturating_sub(lo).saturating_add(1))
        };
        // Figures that contradict what the strongest reader is told (only
        // possible for files edited by hand) get the checks in order, as before.
        let strongest = match values(ReaderModel::KnowsWhichAreSmall) {
            Ok(v) => Some(v),
            Err(AuditError::Infeasible(_)) => None,
            Err(e) => return Err(e),
        };
        if strongest.is_some_and(|v| v >= p.required(ReaderModel::AtLeastOne)) {
            continue;
        }
        for model in READER_MODELS {
            let required = p.required(model);
            // A weaker reader's interval holds at least the strongest one's values.
            if strongest.is_some_and(|v| v >= required) {
                continue;
            }
            let got = match (model, strongest) {
                (ReaderModel::KnowsWhichAreSmall, Some(v)) => v,
                _ => values(model)?,
            };
            if got < required {
                findings.push(Finding {
                    item,
                    label: system.items[item].label.clone(),
                    model,
                    values: got,
                    required,
                });
                break;
            }
        }
    }
    Ok(findings)
}

/// [`audit`] without the shortcut: every reader's interval solved for every
/// hidden figure (for tests that the shortcut changes no verdict).
pub fn audit_every_reader(
    system: &System,
    p: &Protection,
    items: impl IntoIterator<Item = usize>,
) -> Result<Vec<Finding>, AuditError> {
    let mut findings = Vec::new();
    for item in items {
        if system.items[item].shown.is_some() {
            continue;
        }
        for model in READER_MODELS {
            let (lo, hi) = interval(system, p, model, item)?;
            let values = hi.saturating_sub(lo).saturating_add(1);
            let required = p.required(model);
            if values < required {
                findings.push(Finding {
                    item,
                    label: system.items[item].label.clone(),
                    model,
                    values,
                    required,
                });
                break;
            }
        }
    }
    Ok(findings)
}

/// Every item's index, for auditing the whole system.
pub fn every_item(system: &System) -> std::ops::Range<usize> {
    0..system.items.len()
}
