//! The annual legislative report: figures, privacy suppression, renderers.

pub mod audit;
pub mod figures;
pub mod linked;
pub mod model;
pub mod render;
pub mod sting_unit;
pub mod suppression;

use icac_aggregates::catalog::Catalog;
use serde_json::Value;

pub use model::*;

use crate::read_models::ReadModels;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("report period: --from {from} is after --to {to}")]
    PeriodOrder {
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    },
    #[error("report period is longer than {} days", figures::MAX_PERIOD_DAYS)]
    PeriodTooLong,
    #[error(transparent)]
    Suppression(#[from] suppression::SuppressionError),
    #[error(transparent)]
    Period(#[from] icac_aggregates::release::PeriodError),
    #[error("deadline: {0}")]
    Deadline(String),
    #[error("catalog: {0}")]
    Catalog(String),
    #[error("recommendation text is longer than {MAX_RECOMMENDATION} bytes")]
    RecommendationTooLong,
    #[error("cannot render the report: {0}")]
    Render(String),
}

/// Bound on the narrative read from `--recommendation FILE`.
pub const MAX_RECOMMENDATION: usize = 64 * 1024;

/// Builds the report from read models folded exactly up to
/// `attestation.position`.
pub fn build(
    models: &ReadModels,
    parameters: Parameters,
    attestation: Attestation,
    recommendation: Option<String>,
) -> Result<AnnualReport, ReportError> {
    build_linked(models, parameters, attestation, recommendation, &[])
}

/// [`build`] with the victim table suppressed jointly with `earlier` releases.
pub fn build_linked(
    models: &ReadModels,
    parameters: Parameters,
    attestation: Attestation,
    recommendation: Option<String>,
    earlier: &[linked::PublicTable],
) -> Result<AnnualReport, ReportError> {
    if parameters.from > parameters.to {
        return Err(ReportError::PeriodOrder {
            from: parameters.from,
            to: parameters.to,
        });
    }
    let days = parameters
        .from
        .until(parameters.to)
        .map_or(i32::MAX, |s| s.get_days());
    if i64::from(days) > figures::MAX_PERIOD_DAYS {
        return Err(ReportError::PeriodTooLong);
    }
    if recommendation
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RECOMMENDATION)
    {
        return Err(ReportError::RecommendationTooLong);
    }
    let catalog = Catalog::builtin().map_err(|e| ReportError::Catalog(e.to_string()))?;
    let figures = figures::compute_linked(models, &parameters, catalog, earlier)?;
    // The timeliness figures depend on it, so the report says which it used.
    let policy_statement = parameters.deadline_policy.statement();
    let recommendation = recommendation.map(|r| r.trim_end().to_owned());
    let sting_unit = sting_unit::compute(
        models,
        sting_unit::DEFAULT_CREATED_ON.min(parameters.from),
        parameters.to,
        recommendation.clone(),
    );
    Ok(AnnualReport {
        format: REPORT_FORMAT.to_owned(),
        title: format!(
            "Internet Crimes Against Children Task Force: annual report under C.G.S. 29-7e(d), {} to {}",
            parameters.from, parameters.to
        ),
        addressed_to: ADDRESSEES.iter().map(|s| (*s).to_owned()).collect(),
        delivery: DELIVERY_NOTE.to_owned(),
        parameters,
        attestation,
        figures,
        recommendation,
        sting_unit: Some(sting_unit),
        definitions: figures::DEFINITIONS
            .iter()
            .map(|s| (*s).to_owned())
            .chain(std::iter::once(policy_statement))
            .collect(),
        release: None,
    })
}

/// JSON paths where two sets of figures differ (empty when they match).
pub fn differences(stated: &Figures, recomputed: &Figures) -> Vec<String> {
    let a = serde_json::to_value(stated).unwrap_or(Value::Null);
    let b = serde_json::to_value(recomputed).unwrap_or(Value::Null);
    let mut out = Vec::new();
    diff("figures", &a, &b, &mut out);
    out
}

fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Value::Null;
                diff(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ if a != b => out.push(format!("{path}: stated {a}, recomputed {b}")),
        _ => {}
    }
}
