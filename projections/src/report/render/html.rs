//! A print-ready HTML document with inline SVG charts (trend by month,
//! timeliness by unit). Self-contained: no scripts, fonts or links.

use std::fmt::Write;

use super::chart::{self, Bar};
use super::table::{tables, Table};
use crate::report::AnnualReport;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = ".watermark{position:fixed;top:40%;left:0;width:100%;text-align:center;font-size:120pt;color:rgba(200,0,0,.15);transform:rotate(-30deg);pointer-events:none}.draft{border:2px solid #c00;padding:4pt;color:#c00}\
body{font-family:Georgia,'Times New Roman',serif;max-width:7.5in;margin:0 auto;color:#000;font-size:11pt}\
h1{font-size:18pt}h2{font-size:13pt;margin-top:1.4em;break-after:avoid}\
table{border-collapse:collapse;width:100%;margin:.4em 0;break-inside:avoid}\
th,td{border:1px solid #999;padding:2px 6px;text-align:left}td.n{text-align:right}\
.note{font-size:9pt}.cp{font-family:monospace;font-size:8pt;white-space:pre-wrap;word-break:break-all}\
figure{margin:1em 0;break-inside:avoid}\
@page{size:letter;margin:0.75in}@media print{a{color:#000}}";

fn is_number(text: &str) -> bool {
    !text.is_empty() && (text.bytes().all(|b| b.is_ascii_digit() || b == b'.') || text == "*")
}

pub fn render(r: &AnnualReport) -> String {
    let mut out = String::new();
    front_matter(&mut out, r);
    charts(&mut out, r);
    for t in tables(r) {
        table(&mut out, &t);
    }
    recommendation(&mut out, r.recommendation.as_deref());
    back_matter(&mut out, r);
    out
}

/// The document head, the title, the draft mark or release line, the addressees
/// and the attestation of where the figures come from.
fn front_matter(out: &mut String, r: &AnnualReport) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&r.title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", escape(&r.title));
    match &r.release {
        // On every printed page, not only the first.
        None => {
            let _ = writeln!(
                out,
                "<div class=\"watermark\" aria-hidden=\"true\">DRAFT</div>\n<p class=\"draft\"><strong>{}</strong></p>",
                escape(crate::report::DRAFT_WATERMARK)
            );
        }
        Some(rel) => {
            let _ = writeln!(
                out,
                "<p class=\"note\">Release {} of {}, recorded in the ledger at position {}.</p>",
                rel.number,
                escape(&rel.period),
                rel.event_position
            );
        }
    }
    let _ = writeln!(
        out,
        "<p>To the {}.</p>",
        escape(&r.addressed_to.join("; the "))
    );
    let _ = writeln!(out, "<p>{}</p>", escape(&r.delivery));
    let a = &r.attestation;
    let _ = writeln!(
        out,
        "<p class=\"note\">Figures computed from ledger <code>{}</code> at position {} (head hash <code>{}</code>, Merkle root <code>{}</code>); verify the JSON edition with <code>icac-ledger report verify</code>.</p>",
        escape(&a.ledger_id),
        a.position,
        escape(&a.head_hash),
        escape(&a.merkle_root)
    );
}

/// The trend by month and the timeliness by unit, as inline SVG.
fn charts(out: &mut String, r: &AnnualReport) {
    let trend: Vec<Bar> = r
        .figures
        .notifications
        .by_month
        .iter()
        .map(|m| Bar {
            label: m.key.get(2..).unwrap_or(&m.key).to_owned(),
            parts: vec![m.count],
        })
        .collect();
    let _ = writeln!(
        out,
        "<figure>{}<figcaption>Notifications filed by month</figcaption></figure>",
        chart::columns("Notifications filed by month", &trend)
    );
    let units: Vec<Bar> = r
        .figures
        .timeliness
        .by_unit
        .iter()
        .map(|u| Bar {
            label: u.name.clone(),
            parts: vec![u.on_time, u.late, u.overdue, u.not_yet_due],
        })
        .collect();
    let _ = writeln!(
        out,
        "<figure>{}<figcaption>Timeliness of initial notifications by unit</figcaption></figure>",
        chart::rows(
            "Timeliness by unit",
            &["on time", "late", "overdue", "not yet due"],
            &units
        )
    );
}

/// One table under its heading; numbers right-aligned, an empty table says so.
fn table(out: &mut String, t: &Table) {
    let _ = writeln!(out, "<h2 id=\"{}\">{}</h2>", t.id, escape(&t.title));
    out.push_str("<table>\n<thead><tr>");
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for c in row {
            let class = if is_number(c) { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(c));
        }
        out.push_str("</tr>\n");
    }
    if t.rows.is_empty() {
        let _ = writeln!(out, "<tr><td colspan=\"{}\">none</td></tr>", t.header.len());
    }
    out.push_str("</tbody>\n</table>\n");
    if let Some(note) = &t.note {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(note));
    }
}

/// The recommendation, a paragraph per blank-line-separated block.
fn recommendation(out: &mut String, text: Option<&str>) {
    let _ = writeln!(
        out,
        "<h2>Recommendation on extending the investigative unit</h2>"
    );
    match text {
        Some(text) => {
            for para in text.split("\n\n") {
                let _ = writeln!(out, "<p>{}</p>", escape(para.trim()));
            }
        }
        None => out.push_str("<p>(No recommendation was supplied.)</p>\n"),
    }
}

/// The definitions and the signed checkpoint, and the end of the document.
fn back_matter(out: &mut String, r: &AnnualReport) {
    out.push_str("<h2>Definitions</h2>\n<ul>\n");
    for d in &r.definitions {
        let _ = writeln!(out, "<li>{}</li>", escape(d));
    }
    out.push_str("</ul>\n<h2>Signed checkpoint</h2>\n");
    let _ = writeln!(
        out,
        "<p class=\"cp\">{}</p>",
        escape(&r.attestation.checkpoint)
    );
    out.push_str("</body>\n</html>\n");
}
