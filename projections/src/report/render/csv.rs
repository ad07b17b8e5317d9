//! CSV: one row per figure (`table,row,column,value`), for spreadsheets.

use super::table::tables;
use crate::report::AnnualReport;

/// A cell a spreadsheet will not run: text that starts like a formula (`=`, `+`, `-`,
/// `@`, tab, CR) gets a leading apostrophe, unless it is a plain number; then quoting
/// as RFC 4180 needs. The pages' CSV downloads use it too.
pub fn cell(text: &str) -> String {
    let formula_like = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let number = text.parse::<f64>().is_ok_and(f64::is_finite)
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.'));
    let text = if formula_like && !number {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r', '\t']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub fn render(r: &AnnualReport) -> String {
    let mut out = String::from("table,row,column,value\r\n");
    let line = |out: &mut String, cols: [&str; 4]| {
        out.push_str(&cols.map(cell).join(","));
        out.push_str("\r\n");
    };
    line(
        &mut out,
        [
            "report",
            "ledger",
            "position",
            &r.attestation.position.to_string(),
        ],
    );
    line(
        &mut out,
        ["report", "period", "from", &r.parameters.from.to_string()],
    );
    line(
        &mut out,
        ["report", "period", "to", &r.parameters.to.to_string()],
    );
    let edition = match &r.release {
        None => crate::report::DRAFT_WATERMARK.to_owned(),
        Some(rel) => format!("release {} of {}", rel.number, rel.period),
    };
    line(&mut out, ["report", "edition", "", &edition]);
    for t in tables(r) {
        for row in &t.rows {
            let Some((name, values)) = row.split_first() else {
                continue;
            };
            for (h, v) in t.header.iter().skip(1).zip(values) {
                line(&mut out, [t.id, name, h, v]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        for bad in ["+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(bad).trim_start_matches('"').starts_with('\''), "{bad}");
        }
        assert_eq!(cell("-3"), "-3");
        assert_eq!(cell("12"), "12");
        assert_eq!(cell("Hartford PD"), "Hartford PD");
    }
}
