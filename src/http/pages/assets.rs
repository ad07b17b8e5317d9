//! The pages' own scripts, compiled into the binary and served from this origin (the
//! only scripts a page's Content-Security-Policy lets run). There is one: the web
//! form's check as you type (`templates/notification.js`). Every page works without it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Where the notification form's script is served.
pub const NOTIFICATION_JS: &str = "/assets/notification.js";

const NOTIFICATION_SOURCE: &str = include_str!("../../../templates/notification.js");

/// The policy of a page that runs our own script: the layout's, plus scripts and
/// requests to this origin only (no inline script, no handler attributes, no eval).
pub const SCRIPTED_PAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'";

pub async fn notification_js() -> Response {
    let mut r = (StatusCode::OK, NOTIFICATION_SOURCE).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    // Revalidated on every load, so a new release's script is never mixed with an
    // old page (and nothing about a visitor is in it).
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Lets `response` (a page that loads our script) run it.
pub fn allow_own_script(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SCRIPTED_PAGE_CSP),
    );
    response
}
