//! CSV downloads of the tables the pages show: RFC 4180 quoting, and no cell a
//! spreadsheet would run as a formula.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A cell a spreadsheet will not run, quoted as RFC 4180 needs: the report edition's
/// rule, so every CSV the product writes follows one.
pub use icac_projections::report::render::csv::cell;

/// A whole table: the header row, then each row, CRLF line ends.
pub fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = headers
        .iter()
        .map(|h| cell(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    for row in rows {
        out.push_str(&row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

/// The table as an attachment named `name` (ASCII, chosen by the page).
pub fn download(name: &str, body: String) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_quotes_doubled() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-12"), "-12");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(
            table(&["a", "b"], [vec!["1".into(), "@x".into()]]),
            "a,b\r\n1,'@x\r\n"
        );
    }
}
