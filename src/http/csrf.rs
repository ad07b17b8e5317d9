//! Cross-site request forgery defences for the HTML forms. Two checks, both needed:
//! the browser's own word on where a post came from (`Sec-Fetch-Site`, else `Origin`
//! against `Host`), and a token only this site's pages carry (the staff session's, or
//! for the login form a random value also set as a cookie).

use axum::http::{header, HeaderMap};

pub const FIELD: &str = "csrf";
/// The login form's double-submit cookie (there is no session yet to derive one from).
pub const LOGIN_COOKIE: &str = "icac_login_csrf";

/// Whether the browser says this request was sent by another site.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // "none": typed into the address bar or a bookmark; not a forgery.
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        // No word from the browser (an old one, or no browser): the token decides.
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Compare the authority only: behind a TLS proxy the scheme differs.
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    host.is_empty() || !authority.eq_ignore_ascii_case(host)
}

/// The value of form field `name` in an urlencoded body.
pub fn form_field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(*k, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn another_origin_is_cross_site() {
        assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&h(&[("sec-fetch-site", "same-site")])));
        assert!(!cross_site(&h(&[("sec-fetch-site", "same-origin")])));
        assert!(cross_site(&h(&[
            ("origin", "https://evil.example"),
            ("host", "ledger.example")
        ])));
        assert!(cross_site(&h(&[
            ("origin", "null"),
            ("host", "ledger.example")
        ])));
        assert!(!cross_site(&h(&[
            ("origin", "https://ledger.example"),
            ("host", "ledger.example")
        ])));
        assert!(!cross_site(&HeaderMap::new()));
    }
}
