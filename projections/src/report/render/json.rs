//! The machine-readable report; `report verify` reads this form back.

use crate::report::{AnnualReport, ReportError};

pub fn render(report: &AnnualReport) -> Result<String, ReportError> {
    let mut text =
        serde_json::to_string_pretty(report).map_err(|e| ReportError::Render(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

pub fn parse(text: &str) -> Result<AnnualReport, ReportError> {
    serde_json::from_str(text).map_err(|e| ReportError::Render(e.to_string()))
}
