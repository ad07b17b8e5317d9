//! Parsing a unit roster CSV (`ori,name,kind,town`, header required) into
//! `Register` commands. All rows are checked; nothing is returned unless
//! every row is good, so an import is all-or-nothing.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Serialize;

use super::{RegisterUnit, UnitKind};
use crate::ids::Ori;
use crate::text::{self, limits};

/// Most rows one import may contain (Connecticut has about 100 units).
pub const MAX_ROWS: usize = 2_000;

/// A problem with one row; `line` is 1-based and counts the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}: {field}: {message}")]
pub struct RowError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

const HEADER: [&str; 4] = ["ori", "name", "kind", "town"];

fn row_error(line: u64, field: &str, message: impl Into<String>) -> RowError {
    RowError {
        line,
        field: field.to_string(),
        message: message.into(),
    }
}

fn parse_kind(value: &str) -> Option<UnitKind> {
    serde_json::from_value(serde_json::Value::String(value.trim().to_string())).ok()
}

/// Parses the roster. `recorded_at` is stamped on every command.
pub fn parse_csv(input: &str, recorded_at: Timestamp) -> Result<Vec<RegisterUnit>, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input.as_bytes());
    check_header(&mut reader)?;
    let mut errors = Vec::new();
    let mut commands = Vec::new();
    let mut seen: HashMap<Ori, u64> = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        if index >= MAX_ROWS {
            errors.push(row_error(
                index as u64 + 2,
                "file",
                format!("more than {MAX_ROWS} rows"),
            ));
            break;
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(index as u64 + 2, csv::Position::line);
                errors.push(row_error(line, "row", e.to_string()));
                continue;
            }
        };
        let line = record
            .position()
            .map_or(index as u64 + 2, csv::Position::line);
        if record.len() != HEADER.len() {
            errors.push(row_error(
                line,
                "row",
                format!("expected {} fields, got {}", HEADER.len(), record.len()),
            ));
            continue;
        }
        let row = Row {
            record: &record,
            line,
            recorded_at,
        };
        if let Some(command) = row.parse(&mut seen, &mut errors) {
            commands.push(command);
        }
    }
    if errors.is_empty() {
        Ok(commands)
    } else {
        Err(errors)
    }
}

/// The header must name the four columns in order (any case); a wrong header is
/// the only problem reported, since no row could be read by it.
fn check_header(reader: &mut csv::Reader<&[u8]>) -> Result<(), Vec<RowError>> {
    match reader.headers() {
        Ok(h) => {
            let got: Vec<String> = h.iter().map(str::to_ascii_lowercase).collect();
            if got != HEADER {
                return Err(vec![row_error(
                    1,
                    "header",
                    format!("expected `{}`, got `{}`", HEADER.join(","), got.join(",")),
                )]);
            }
            Ok(())
        }
        Err(e) => Err(vec![row_error(1, "header", e.to_string())]),
    }
}

/// One row with the right number of fields.
struct Row<'a> {
    record: &'a csv::StringRecord,
    line: u64,
    recorded_at: Timestamp,
}

impl Row<'_> {
    /// Adds every problem of the row to `errors`, in column order (ori, kind, name,
    /// town); the row's command only if it has none.
    fn parse(
        &self,
        seen: &mut HashMap<Ori, u64>,
        errors: &mut Vec<RowError>,
    ) -> Option<RegisterUnit> {
        let (record, line) = (self.record, self.line);
        let before = errors.len();
        let ori = self.ori(seen, errors);
        let kind = parse_kind(&record[2]);
        if kind.is_none() {
            errors.push(kind_error(line, &record[2]));
        }
        if let Err(e) = text::check(&record[1], limits::NAME) {
            errors.push(row_error(line, "name", e.to_string()));
        }
        if let Err(e) = text::check(&record[3], limits::SHORT) {
            errors.push(row_error(line, "town", e.to_string()));
        }
        if errors.len() != before {
            return None;
        }
        let (Some(ori), Some(kind)) = (ori, kind) else {
            return None;
        };
        Some(RegisterUnit {
            ori,
            name: record[1].to_string(),
            kind,
            town: record[3].to_string(),
            recorded_at: self.recorded_at,
        })
    }

    /// The row's ORI, if it parses; one already seen on an earlier line is an
    /// error (and is remembered on this line from now on).
    fn ori(&self, seen: &mut HashMap<Ori, u64>, errors: &mut Vec<RowError>) -> Option<Ori> {
        let line = self.line;
        let ori = match Ori::parse(&self.record[0]) {
            Ok(o) => Some(o),
            Err(e) => {
                errors.push(row_error(line, "ori", e.to_string()));
                None
            }
        };
        if let Some(o) = &ori {
            if let Some(first) = seen.insert(o.clone(), line) {
                errors.push(row_error(
                    line,
                    "ori",
                    format!("{o} already appears on line {first}"),
                ));
            }
        }
        ori
    }
}

fn kind_error(line: u64, value: &str) -> RowError {
    let accepted: Vec<String> = UnitKind::ALL
        .iter()
        .filter_map(|k| serde_json::to_value(k).ok())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    row_error(
        line,
        "kind",
        format!("`{value}` is not one of: {}", accepted.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2024-07-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn good_roster() {
        let csv = "ori,name,kind,town\nCT0006400,Hartford Police Department,municipal_police,Hartford\n\"CT0009300\",\"New Haven Police Department, CT\",municipal_police,New Haven\n";
        let units = parse_csv(csv, at()).unwrap();
        assert_eq!(units.len(), 2);
        assert_eq!(units[1].name, "New Haven Police Department, CT");
    }

    #[test]
    fn every_bad_row_reported_with_its_line() {
        let csv = "ori,name,kind,town\nCT0006400,Hartford PD,municipal_police,Hartford\nbad,,sheriff,\nCT0006400,Again,municipal_police,Hartford\nCT0001500,Short\n";
        let errors = parse_csv(csv, at()).unwrap_err();
        let summary: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(
            summary,
            vec![
                (3, "ori"),
                (3, "kind"),
                (3, "name"),
                (3, "town"),
                (4, "ori"),
                (5, "row")
            ]
        );
    }

    #[test]
    fn wrong_header() {
        let errors = parse_csv("name,ori\n", at()).unwrap_err();
        assert_eq!(errors[0].line, 1);
    }
}
