//! Inline SVG bar charts for the print edition: no scripts, no external
//! files, integer coordinates so output is byte-stable.

use std::fmt::Write;

use super::html::escape;

/// One bar: label and value; `stack` splits the bar into coloured parts.
pub struct Bar {
    pub label: String,
    pub parts: Vec<u64>,
}

const COLOURS: [&str; 4] = ["#1f4e79", "#c55a11", "#7f7f7f", "#a9d18e"];

/// Vertical bars (e.g. notifications by month).
pub fn columns(title: &str, bars: &[Bar]) -> String {
    let width = 640u64;
    let height = 240u64;
    let (left, bottom, top) = (40u64, 40u64, 24u64);
    let plot_h = height - bottom - top;
    let max = bars
        .iter()
        .map(|b| b.parts.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let n = bars.len().max(1) as u64;
    let slot = (width - left - 10) / n;
    let bar_w = (slot * 7 / 10).max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = escape(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{y}" x2="{x2}" y2="{y}" stroke="#000"/><text x="{lx}" y="{ty}" font-size="10" text-anchor="end">{max}</text><text x="{lx}" y="{y}" font-size="10" text-anchor="end">0</text>"##,
        y = height - bottom,
        x2 = width - 10,
        lx = left - 4,
        ty = top + 4,
    );
    for (i, bar) in bars.iter().enumerate() {
        let x = left + i as u64 * slot + (slot - bar_w) / 2;
        let mut y = height - bottom;
        for (k, part) in bar.parts.iter().enumerate() {
            let h = part * plot_h / max;
            y -= h;
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{y}" width="{bar_w}" height="{h}" fill="{}"/>"#,
                COLOURS[k % COLOURS.len()]
            );
        }
        let total: u64 = bar.parts.iter().sum();
        let _ = write!(
            svg,
            r#"<text x="{cx}" y="{ty}" font-size="9" text-anchor="middle">{total}</text><text x="{cx}" y="{ly}" font-size="9" text-anchor="middle">{label}</text>"#,
            cx = x + bar_w / 2,
            ty = y.saturating_sub(2),
            ly = height - bottom + 14,
            label = escape(&bar.label),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal stacked bars (e.g. timeliness by unit), with a legend.
pub fn rows(title: &str, legend: &[&str], bars: &[Bar]) -> String {
    let width = 640u64;
    let row_h = 16u64;
    let left = 200u64;
    let top = 28u64;
    let height = top + row_h * bars.len().max(1) as u64 + 10;
    let plot_w = width - left - 50;
    let max = bars
        .iter()
        .map(|b| b.parts.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = escape(title)
    );
    for (k, name) in legend.iter().enumerate() {
        let x = left + k as u64 * 110;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="6" width="10" height="10" fill="{}"/><text x="{tx}" y="15" font-size="10">{}</text>"#,
            COLOURS[k % COLOURS.len()],
            escape(name),
            tx = x + 14
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = top + i as u64 * row_h;
        let _ = write!(
            svg,
            r#"<text x="{lx}" y="{ty}" font-size="10" text-anchor="end">{}</text>"#,
            escape(&bar.label),
            lx = left - 6,
            ty = y + 11
        );
        let mut x = left;
        for (k, part) in bar.parts.iter().enumerate() {
            let w = part * plot_w / max;
            let _ = write!(
                svg,
                r#"<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{}"/>"#,
                COLOURS[k % COLOURS.len()],
                h = row_h - 4
            );
            x += w;
        }
        let total: u64 = bar.parts.iter().sum();
        let _ = write!(
            svg,
            r#"<text x="{tx}" y="{ty}" font-size="9">{total}</text>"#,
            tx = x + 4,
            ty = y + 10
        );
    }
    svg.push_str("</svg>");
    svg
}
