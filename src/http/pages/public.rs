//! The public reporting page (29-7e(b)(3)): no login. It tells people they may report,
//! lists the hotlines, and takes a report through an accessible form: the kind of
//! concern, what the person saw, links or screen names, and optional contact details.
//! Everything typed is personal: the domain seals it (`ReportContent`), so the chain
//! holds commitments and only intake staff read the values. The page never shows
//! anything one visitor sent to anyone else.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use icac_aggregates::catalog::{Catalog, IncidentType};
use icac_aggregates::public_report::{content_bounds, Channel, ReportContent, ReporterContact};

use super::layout::{document, escape, html};
use crate::commands::Actor;
use crate::http::extract::ClientAddr;
use crate::http::routes::commands::receive_public_report;
use crate::http::SharedState;

/// A description of 4,000 characters, percent-encoded, with links and contact details,
/// fits; anything larger is not a person filling it in.
const MAX_FORM_BYTES: usize = 64 * 1024;
pub const HONEYPOT_FIELD: &str = "website";

#[derive(Default)]
struct Submission {
    category: Option<String>,
    description: String,
    links: String,
    contact_name: String,
    contact_phone: String,
    contact_email: String,
    good_faith: bool,
    honeypot: String,
}

/// Keeps one more character than a field allows, so that an overlong value is refused
/// with its limit rather than cut silently.
fn bounded(v: &str, max: usize) -> String {
    v.chars().take(max + 1).collect()
}

fn parse(body: &[u8]) -> Submission {
    let mut s = Submission::default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let links_max = content_bounds::LINKS * (content_bounds::LINK + 2);
    for (k, v) in pairs.into_iter().take(20) {
        match k.as_str() {
            "category" => s.category = Some(v.chars().take(64).collect()),
            "description" => s.description = bounded(&v, content_bounds::DESCRIPTION),
            "links" => s.links = bounded(&v, links_max),
            "contact_name" => s.contact_name = bounded(&v, content_bounds::NAME),
            "contact_phone" => s.contact_phone = bounded(&v, content_bounds::PHONE),
            "contact_email" => s.contact_email = bounded(&v, content_bounds::EMAIL),
            "good_faith" => s.good_faith = v == "yes",
            HONEYPOT_FIELD => s.honeypot = v.chars().take(200).collect(),
            _ => {}
        }
    }
    s
}

fn optional(v: &str) -> Option<icac_aggregates::sealed::Sealed<String>> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.into())
}

impl Submission {
    /// What the person typed, as the domain takes it (every value sealed).
    fn content(&self) -> ReportContent {
        let contact = ReporterContact {
            name: optional(&self.contact_name),
            phone: optional(&self.contact_phone),
            email: optional(&self.contact_email),
        };
        let any_contact =
            contact.name.is_some() || contact.phone.is_some() || contact.email.is_some();
        ReportContent {
            description: self.description.trim().into(),
            links: self
                .links
                .lines()
                .filter_map(optional)
                .take(content_bounds::LINKS + 1)
                .collect(),
            contact: any_contact.then_some(contact),
        }
    }
}

/// The page's error for a content problem the domain found, by field.
fn content_error(
    e: &icac_aggregates::public_report::PublicReportError,
) -> (&'static str, &'static str) {
    use icac_aggregates::public_report::PublicReportError as E;
    match e {
        E::Text { field: "description", .. } | E::NotAValue { field: "description" } => (
            "description",
            "Describe what you saw, in at most 4,000 characters",
        ),
        E::TooManyLinks { .. } | E::Text { field: "links", .. } => (
            "links",
            "Give at most 20 links or screen names, one per line, each at most 500 characters",
        ),
        _ => (
            "contact_name",
            "Check your contact details: a name of at most 120 characters, a phone number of at most 25, an e-mail address of at most 254",
        ),
    }
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
<p class=\"hint\">Tell us what you saw. What you type here is sealed: it is kept apart from the \
permanent record, and only Task Force intake staff can read it. \
Never send or upload images of abuse, even to report them.</p>"
    )
}

fn form(
    state: &SharedState,
    errors: &[(&str, &str)],
    chosen: Option<&str>,
    typed: Option<&Submission>,
) -> String {
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
    let details = details_fields(errors, typed);
    format!(
        "{summary}<form method=\"post\" action=\"/report\" novalidate>\
<fieldset aria-describedby=\"{described}\"><legend>What is your concern about?</legend>\
<p class=\"hint\" id=\"category-hint\">Choose the closest one. \"Other\" is fine if you are not sure.</p>{cat_err}{options}</fieldset>\
{details}\
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

/// The description, links and contact fields, with their errors and what was typed.
fn details_fields(errors: &[(&str, &str)], typed: Option<&Submission>) -> String {
    let err_for = |id: &str| errors.iter().find(|(i, _)| *i == id).map(|(_, m)| *m);
    let error = |id: &str| {
        err_for(id)
            .map(|m| {
                format!(
                    "<p class=\"field-error\" id=\"{id}-error\">Error: {}</p>",
                    escape(m)
                )
            })
            .unwrap_or_default()
    };
    let invalid = |id: &str, hint: &str| match err_for(id) {
        Some(_) => format!(" aria-describedby=\"{hint} {id}-error\" aria-invalid=\"true\""),
        None => format!(" aria-describedby=\"{hint}\""),
    };
    let value = |f: fn(&Submission) -> &str| typed.map(f).map(escape).unwrap_or_default();
    format!(
        "<fieldset><legend>What did you see?</legend>\
<label for=\"description\">Describe what happened</label>\
<p class=\"hint\" id=\"description-hint\">Where and when you saw it, and what was said or shown. At most 4,000 characters.</p>{de}\
<textarea id=\"description\" name=\"description\" rows=\"6\" maxlength=\"4000\"{da}>{dv}</textarea>\
<label for=\"links\">Links, screen names or account names (optional)</label>\
<p class=\"hint\" id=\"links-hint\">One per line, at most 20. Do not visit a link again to copy it.</p>{le}\
<textarea id=\"links\" name=\"links\" rows=\"3\"{la}>{lv}</textarea></fieldset>\
<fieldset aria-describedby=\"contact-hint\"><legend>How can we reach you? (optional)</legend>\
<p class=\"hint\" id=\"contact-hint\">Leave these empty to report anonymously.</p>{ce}\
<label for=\"contact_name\">Name</label><input type=\"text\" id=\"contact_name\" name=\"contact_name\" maxlength=\"120\" autocomplete=\"name\" value=\"{nv}\">\
<label for=\"contact_phone\">Phone</label><input type=\"tel\" id=\"contact_phone\" name=\"contact_phone\" maxlength=\"25\" autocomplete=\"tel\" value=\"{pv}\">\
<label for=\"contact_email\">E-mail</label><input type=\"email\" id=\"contact_email\" name=\"contact_email\" maxlength=\"254\" autocomplete=\"email\" value=\"{ev}\"></fieldset>",
        de = error("description"),
        da = invalid("description", "description-hint"),
        dv = value(|s| &s.description),
        le = error("links"),
        la = invalid("links", "links-hint"),
        lv = value(|s| &s.links),
        ce = error("contact_name"),
        nv = value(|s| &s.contact_name),
        pv = value(|s| &s.contact_phone),
        ev = value(|s| &s.contact_email),
    )
}

pub async fn page(State(state): State<SharedState>) -> Response {
    let body = format!("{}{}", intro(&state), form(&state, &[], None, None));
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
    let content = s.content();
    if let Err(e) = content.check() {
        errors.push(content_error(&e));
    }
    if !s.good_faith {
        errors.push((
            "good_faith",
            "Confirm that you are making this report in good faith",
        ));
    }
    if !errors.is_empty() {
        let chosen = category.and(s.category.as_deref());
        let body = format!(
            "{}{}",
            intro(&state),
            form(&state, &errors, chosen, Some(&s))
        );
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
    match receive_public_report(&state, Channel::WebSite, category, Some(content), &actor).await {
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
