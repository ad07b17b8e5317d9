//! CSV: one row per figure (`table,row,column,value`), for spreadsheets.

use super::table::tables;
use crate::report::AnnualReport;

fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

pub fn render(r: &AnnualReport) -> String {
    let mut out = String::from("table,row,column,value\r\n");
    let line = |out: &mut String, cols: [&str; 4]| {
        out.push_str(&cols.map(field).join(","));
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
