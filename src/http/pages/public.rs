//! The public reporting page (29-7e(b)(3)): no login. It tells people they may report,
//! lists the hotlines, and takes a report through an accessible form. The ledger keeps
//! only what the domain allows for a public report (channel and category); the page
//! never shows anything one visitor sent to anyone else.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use icac_aggregates::catalog::{Catalog, IncidentType};
use icac_aggregates::public_report::Channel;

use super::layout::{document, escape, html};
use crate::commands::Actor;
use crate::http::extract::ClientAddr;
use crate::http::routes::commands::receive_public_report;
use crate::http::SharedState;

/// The form is small; anything larger is not a person filling it in.
const MAX_FORM_BYTES: usize = 4 * 1024;
pub const HONEYPOT_FIELD: &str = "website";

#[derive(Debug, Default)]
struct Submission {
    category: Option<String>,
    good_faith: bool,
    honeypot: String,
}

fn parse(body: &[u8]) -> Submission {
    let mut s = Submission::default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    for (k, v) in pairs.into_iter().take(20) {
        match k.as_str() {
            "category" => s.category = Some(v.chars().take(64).collect()),
            "good_faith" => s.good_faith = v == "yes",
            HONEYPOT_FIELD => s.honeypot = v.chars().take(200).collect(),
            _ => {}
        }
    }
    s
}

fn categories() -> Vec<(String, String)> {
    match Catalog::builtin() {
        Ok(c) => c
            .incident_types
            .iter()
            .filter_map(|l| {
                let code = serde_json::to_value(l.code).ok()?.as_str()?.to_owned();
                Some((code, l.label.clone()))
            })
            .collect(),
        Err(_) => IncidentType::ALL
            .iter()
            .filter_map(|t| {
                serde_json::to_value(t)
                    .ok()?
                    .as_str()
                    .map(|s| (s.to_owned(), s.replace('_', " ")))
            })
            .collect(),
    }
}

fn intro(state: &SharedState) -> String {
    let hotlines: String = state
        .config
        .hotlines
        .iter()
        .map(|h| {
            format!(
                "<li>{}: <strong><a href=\"tel:{}\">{}</a></strong></li>",
                escape(&h.label),
                escape(&h.number.replace(' ', "")),
                escape(&h.number)
            )
        })
        .collect();
    format!(
        "<h1>Report suspected online abuse of a child</h1>\
<p>Anyone may report suspected online sexual abuse or exploitation of a minor in Connecticut. \
State law (C.G.S. 29-7e(b)(3)) requires that the public be told of this right and how to use it. \
You do not need to give your name, and you do not need proof.</p>\
<p><strong>If a child is in immediate danger, call 911 now.</strong></p>\
<h2 id=\"hotlines\">Call a hotline</h2><ul class=\"hotlines\" aria-labelledby=\"hotlines\">{hotlines}</ul>\
<h2>Or report here</h2>\
<p class=\"hint\">This form records only the kind of concern. Do not type names, addresses or images: \
an investigator will use the receipt number to follow up through the hotline. \
Never send or upload images of abuse, even to report them.</p>"
    )
}

fn form(state: &SharedState, errors: &[(&str, &str)], chosen: Option<&str>) -> String {
    let summary = if errors.is_empty() {
        String::new()
    } else {
        let items: String = errors
            .iter()
            .map(|(id, msg)| format!("<li><a href=\"#{id}\">{}</a></li>", escape(msg)))
            .collect();
        format!(
            "<div class=\"error-summary\" role=\"alert\" aria-labelledby=\"error-summary-title\" tabindex=\"-1\" id=\"error-summary\">\
<h2 id=\"error-summary-title\">There is a problem</h2><ul>{items}</ul></div>"
        )
    };
    let err_for = |id: &str| errors.iter().find(|(i, _)| *i == id).map(|(_, m)| *m);
    let cat_err = err_for("category-0")
        .map(|m| {
            format!(
                "<p class=\"field-error\" id=\"category-error\">Error: {}</p>",
                escape(m)
            )
        })
        .unwrap_or_default();
    let options: String = categories()
        .iter()
        .enumerate()
        .map(|(i, (code, label))| {
            let checked = if chosen == Some(code.as_str()) { " checked" } else { "" };
            format!(
                "<div class=\"choice\"><input type=\"radio\" id=\"category-{i}\" name=\"category\" value=\"{c}\"{checked}>\
<label for=\"category-{i}\">{l}</label></div>",
                c = escape(code),
                l = escape(label)
            )
        })
        .collect();
    let gf_err = err_for("good_faith")
        .map(|m| {
            format!(
                "<p class=\"field-error\" id=\"good-faith-error\">Error: {}</p>",
                escape(m)
            )
        })
        .unwrap_or_default();
    let described = if cat_err.is_empty() {
        "category-hint"
    } else {
        "category-hint category-error"
    };
    let _ = state;
    format!(
        "{summary}<form method=\"post\" action=\"/report\" novalidate>\
<fieldset aria-describedby=\"{described}\"><legend>What is your concern about?</legend>\
<p class=\"hint\" id=\"category-hint\">Choose the closest one. \"Other\" is fine if you are not sure.</p>{cat_err}{options}</fieldset>\
<fieldset><legend>Confirm</legend>{gf_err}\
<div class=\"choice\"><input type=\"checkbox\" id=\"good_faith\" name=\"good_faith\" value=\"yes\"{aria}>\
<label for=\"good_faith\">I am making this report in good faith.</label></div></fieldset>\
<div class=\"hp\" aria-hidden=\"true\"><label for=\"{hp}\">Leave this field empty</label>\
<input type=\"text\" id=\"{hp}\" name=\"{hp}\" tabindex=\"-1\" autocomplete=\"off\"></div>\
<button type=\"submit\">Send report</button></form>",
        aria = if gf_err.is_empty() { "" } else { " aria-describedby=\"good-faith-error\" aria-invalid=\"true\"" },
        hp = HONEYPOT_FIELD,
    )
}

pub async fn page(State(state): State<SharedState>) -> Response {
    let body = format!("{}{}", intro(&state), form(&state, &[], None));
    html(
        StatusCode::OK,
        document("Report suspected online abuse of a child", "", &body),
    )
}

fn thanks(receipt: Option<&str>) -> String {
    let number = match receipt {
        Some(r) => format!(
            "<p>Your receipt number is</p><p class=\"receipt\" id=\"receipt\">{}</p>\
<p>Write it down. If you call a hotline about this report, give them this number.</p>",
            escape(r)
        ),
        None => "<p>Your report was received.</p>".to_owned(),
    };
    format!(
        "<h1 id=\"thanks\">Thank you. Your report was received.</h1>{number}\
<p>An ICAC Task Force member will review it. If a child is in immediate danger, call 911.</p>\
<p><a href=\"/\">Back to the reporting page</a></p>"
    )
}

pub async fn submit(
    State(state): State<SharedState>,
    ClientAddr(client): ClientAddr,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let title = "Report suspected online abuse of a child";
    if crate::http::csrf::cross_site(&headers) {
        return html(
            StatusCode::FORBIDDEN,
            document(title, "", &format!(
                "<h1>This form must be sent from this site</h1>\
<p>The report was not recorded: it came from another web site's page. Use the form below, or call a hotline.</p>{}",
                intro(&state)
            )),
        );
    }
    if let Err(wait) = state.public_limiter.check(&client) {
        state
            .metrics
            .public_rate_limited
            .fetch_add(1, Ordering::Relaxed);
        let mut r = html(
            StatusCode::TOO_MANY_REQUESTS,
            document(title, "", &format!(
                "<h1>Please wait before sending another report</h1>\
<p>Too many reports came from this connection. Try again in about {} minutes, or call a hotline now.</p>{}",
                wait.div_ceil(60),
                intro(&state)
            )),
        );
        if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        return r;
    }
    if body.len() > MAX_FORM_BYTES {
        return html(
            StatusCode::PAYLOAD_TOO_LARGE,
            document(
                title,
                "",
                "<h1>That form was too large</h1><p><a href=\"/\">Start again</a></p>",
            ),
        );
    }
    let s = parse(&body);
    if !s.honeypot.is_empty() {
        // A filled honeypot is a bot: answer like a success, record nothing.
        tracing::info!(target: "icac_ledger::http", "public report honeypot triggered");
        return html(StatusCode::OK, document(title, "", &thanks(None)));
    }
    let category: Option<IncidentType> = s
        .category
        .as_deref()
        .and_then(|c| serde_json::from_value(serde_json::Value::String(c.to_owned())).ok());
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if category.is_none() {
        errors.push(("category-0", "Choose what your concern is about"));
    }
    if !s.good_faith {
        errors.push((
            "good_faith",
            "Confirm that you are making this report in good faith",
        ));
    }
    if !errors.is_empty() {
        let chosen = category.and(s.category.as_deref());
        let body = format!("{}{}", intro(&state), form(&state, &errors, chosen));
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            document(&format!("Error: {title}"), "", &body),
        );
    }
    let actor = Actor {
        principal: "public:web".into(),
        unit: None,
        request_id: {
            use rand_core::{OsRng, RngCore};
            let mut b = [0u8; 8];
            OsRng.fill_bytes(&mut b);
            format!("public-{}", hex::encode(b))
        },
        correlation_id: None,
    };
    match receive_public_report(&state, Channel::WebSite, category, &actor).await {
        Ok(receipt) => {
            state.metrics.public_reports.fetch_add(1, Ordering::Relaxed);
            html(
                StatusCode::CREATED,
                document("Report received", "", &thanks(Some(receipt.as_str()))),
            )
        }
        Err(problem) => {
            tracing::error!(target: "icac_ledger::http", status = problem.status, detail = %problem.detail, "public report could not be recorded");
            html(
                StatusCode::SERVICE_UNAVAILABLE,
                document(title, "", &format!("<h1>Sorry, the report could not be recorded</h1><p>Please call a hotline instead.</p>{}", intro(&state))),
            )
        }
    }
}
