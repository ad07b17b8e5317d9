//! The page shell shared by the public and staff pages: one layout template
//! (`templates/layout.html`) every page extends, one stylesheet inline, no external
//! files; every response is `no-store` so nothing a visitor sends or sees is kept by a
//! shared cache for the next visitor. Pages are askama templates: checked when the
//! crate compiles, and every value is HTML-escaped unless a template says otherwise
//! (none does).

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// What the layout needs from every page: its title, and the staff navigation when
/// someone is signed in.
pub struct Chrome {
    pub title: String,
    pub nav: Option<Nav>,
}

impl Chrome {
    /// A page with no staff navigation (public pages, sign-in, errors before sign-in).
    pub fn public(title: impl Into<String>) -> Self {
        Chrome {
            title: title.into(),
            nav: None,
        }
    }
}

/// The staff navigation bar: links the role may follow, who is signed in, sign-out.
pub struct Nav {
    pub links: Vec<(&'static str, &'static str)>,
    pub name: String,
    pub role: &'static str,
    pub csrf: String,
}

/// Renders a page template as an HTML response with `status`. A template that fails
/// to render (a formatting error inside one of our own `Display` impls) is a 500,
/// never a half-written page.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(target: "icac_ledger::http", error = %e, "page template failed to render");
            let mut r = (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
    }
}

/// An HTML response that no cache may keep.
pub fn html(status: StatusCode, page: String) -> Response {
    let mut r = (status, page).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-src 'self'; frame-ancestors 'self'"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}
