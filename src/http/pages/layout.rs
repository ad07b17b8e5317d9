//! The page shell shared by the public and staff pages: one stylesheet inline, no
//! scripts, no external files; every response is `no-store` so nothing a visitor sends
//! or sees is kept by a shared cache for the next visitor.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub use icac_projections::report::render::html::escape;

const STYLE: &str = "\
:root{--ink:#1b1b1b;--blue:#1f4e79;--muted:#555;--bad:#b00020;--ok:#2e7d32;--warn:#c55a11}\
*{box-sizing:border-box}body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);margin:0;line-height:1.5;background:#f7f7f5}\
header.site{background:var(--blue);color:#fff;padding:.8rem 1.2rem}header.site a{color:#fff}\
header.site .brand{font-weight:700;font-size:1.1rem;text-decoration:none}\
nav.staff{display:flex;gap:1rem;flex-wrap:wrap;margin-top:.3rem}\
main{max-width:60rem;margin:0 auto;padding:1rem 1.2rem 3rem;background:#fff;min-height:80vh}\
h1{font-size:1.6rem;margin:.6rem 0}h2{font-size:1.2rem;margin-top:1.6rem}\
a{color:var(--blue)}a:focus,button:focus,input:focus,select:focus{outline:3px solid #ffbf47;outline-offset:2px}\
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;color:#000;padding:.4rem;z-index:9}\
fieldset{border:1px solid #bbb;padding:.8rem 1rem;margin:1rem 0}legend{font-weight:700;padding:0 .3rem}\
label{display:block;margin:.35rem 0}.choice{display:flex;gap:.5rem;align-items:flex-start;margin:.3rem 0}\
.choice input{margin-top:.3rem;width:1.1rem;height:1.1rem}\
input[type=text],input[type=password],input[type=date],select{font:inherit;padding:.35rem .5rem;border:2px solid #444;min-width:16rem}\
button{font:inherit;background:var(--blue);color:#fff;border:0;padding:.55rem 1.2rem;cursor:pointer}\
.error-summary{border:4px solid var(--bad);padding:.8rem 1rem;margin:1rem 0}.error-summary h2{margin-top:0;color:var(--bad)}\
.field-error{color:var(--bad);font-weight:700}.hint{color:var(--muted);font-size:.95rem}\
.hotlines{list-style:none;padding:0}.hotlines li{padding:.4rem 0;border-bottom:1px solid #ddd}.hotlines strong{font-size:1.15rem}\
.receipt{font-family:ui-monospace,monospace;font-size:1.6rem;font-weight:700;letter-spacing:.05em;background:#eef3f8;padding:.6rem 1rem;display:inline-block}\
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}\
table{border-collapse:collapse;width:100%;margin:.6rem 0}th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}\
td.n,th.n{text-align:right}.tag{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.85rem;color:#fff}\
.tag.overdue{background:var(--bad)}.tag.due_soon{background:var(--warn)}.tag.pending{background:#555}.tag.late{background:#8a4b08}.tag.on_time{background:var(--ok)}\
.cards{display:flex;gap:.8rem;flex-wrap:wrap}.card{border:1px solid #ccc;padding:.6rem .9rem;min-width:8rem}.card .v{font-size:1.6rem;font-weight:700}\
.mono{font-family:ui-monospace,monospace;word-break:break-all}.timeline li{margin:.4rem 0}\
footer{max-width:60rem;margin:0 auto;padding:1rem 1.2rem;color:var(--muted);font-size:.9rem}";

/// A whole HTML document. `nav` is extra header HTML (already escaped).
pub fn document(title: &str, nav: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\">\
<title>{t}</title><style>{STYLE}</style></head><body>\
<a class=\"skip\" href=\"#main\">Skip to main content</a>\
<header class=\"site\"><a class=\"brand\" href=\"/\">Connecticut ICAC Task Force</a>{nav}</header>\
<main id=\"main\" tabindex=\"-1\">{body}</main>\
<footer>Internet Crimes Against Children Task Force, Connecticut (C.G.S. 29-7e).</footer></body></html>",
        t = escape(title),
    )
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
