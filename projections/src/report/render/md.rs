//! Markdown, for review and for pasting into the cover letter.

use std::fmt::Write;

use super::table::tables;
use crate::report::AnnualReport;

/// Text as Markdown shows it literally: HTML's `<`, `>` and `&` as entities (so no
/// raw HTML passes through to a renderer), Markdown's own punctuation backslashed,
/// line breaks as spaces.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

pub fn render(r: &AnnualReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", r.title);
    match &r.release {
        None => {
            let _ = writeln!(out, "> **{}**\n", crate::report::DRAFT_WATERMARK);
        }
        Some(rel) => {
            let _ = writeln!(
                out,
                "Release {} of {}, recorded in the ledger at position {}.\n",
                rel.number, rel.period, rel.event_position
            );
        }
    }
    let _ = writeln!(out, "To the {}.\n", r.addressed_to.join("; the "));
    let _ = writeln!(out, "{}\n", r.delivery);
    let a = &r.attestation;
    let _ = writeln!(
        out,
        "Figures computed from ledger `{}` at position {} (head hash `{}`, Merkle root `{}`). Check them with `icac-ledger report verify` on the JSON edition.\n",
        a.ledger_id, a.position, a.head_hash, a.merkle_root
    );
    for t in tables(r) {
        let _ = writeln!(out, "## {}\n", t.title);
        let _ = writeln!(
            out,
            "| {} |",
            t.header
                .iter()
                .map(|h| cell(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(
            out,
            "|{}",
            t.header.iter().map(|_| "---|").collect::<String>()
        );
        for row in &t.rows {
            let _ = writeln!(
                out,
                "| {} |",
                row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            );
        }
        if t.rows.is_empty() {
            let _ = writeln!(
                out,
                "| none |{}",
                t.header.iter().skip(1).map(|_| " |").collect::<String>()
            );
        }
        if let Some(note) = &t.note {
            let _ = writeln!(out, "\n{note}");
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "## Recommendation on extending the investigative unit\n"
    );
    match &r.recommendation {
        Some(text) => {
            let _ = writeln!(out, "{}\n", cell(text));
        }
        None => {
            let _ = writeln!(out, "(No recommendation was supplied.)\n");
        }
    }
    let _ = writeln!(out, "## Definitions\n");
    for d in &r.definitions {
        let _ = writeln!(out, "- {d}");
    }
    let _ = writeln!(out, "\n## Signed checkpoint\n\n```\n{}```", a.checkpoint);
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn no_raw_html_or_markup_passes_through() {
        assert_eq!(
            cell("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert\\(1\\)&gt;"
        );
        assert_eq!(cell("a|b\n[c](d)"), "a\\|b \\[c\\]\\(d\\)");
    }
}
