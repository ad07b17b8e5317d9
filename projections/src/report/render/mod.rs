//! Turns an [`AnnualReport`] into a document. Output depends only on the
//! report value, so the same ledger and arguments give identical bytes.

pub mod chart;
pub mod csv;
pub mod html;
pub mod json;
pub mod md;
mod table;

use super::{AnnualReport, ReportError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Md,
    Html,
    Csv,
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "md" => Ok(Self::Md),
            "html" => Ok(Self::Html),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown format {other:?}: use md, html, csv or json"
            )),
        }
    }
}

pub fn render(report: &AnnualReport, format: Format) -> Result<String, ReportError> {
    match format {
        Format::Md => Ok(md::render(report)),
        Format::Html => Ok(html::render(report)),
        Format::Csv => Ok(csv::render(report)),
        Format::Json => json::render(report),
    }
}
