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

use askama::Template;

use super::layout::{render, Chrome};
use crate::commands::public_report;
use crate::commands::Actor;
use crate::http::extract::ClientAddr;
use crate::http::Hotline;
use crate::http::SharedState;
use jiff::Timestamp;

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

/// One choice of the "what is your concern about" question.
struct CategoryChoice {
    code: String,
    label: String,
    checked: bool,
}

/// The reporting form as shown: its errors (field id, message) and what was typed.
struct FormView<'a> {
    errors: &'a [(&'a str, &'a str)],
    categories: Vec<CategoryChoice>,
    description: &'a str,
    links: &'a str,
    contact_name: &'a str,
    contact_phone: &'a str,
    contact_email: &'a str,
}

impl FormView<'_> {
    fn error(&self, id: &str) -> Option<&str> {
        self.errors.iter().find(|(i, _)| *i == id).map(|(_, m)| *m)
    }
}

/// The public page: the right to report, the hotlines, and the form; or, when a
/// submission was refused, the refusal and the hotlines (no form under a heading that
/// promises one).
#[derive(Template)]
#[template(path = "public.html")]
struct PublicPage<'a> {
    chrome: Chrome,
    refusal: Option<(&'a str, String)>,
    hotlines: &'a [Hotline],
    form: Option<FormView<'a>>,
    honeypot: &'static str,
}

#[derive(Template)]
#[template(path = "public_thanks.html")]
struct ThanksPage<'a> {
    chrome: Chrome,
    receipt: Option<&'a str>,
}

const TITLE: &str = "Report suspected online abuse of a child";

fn form_view<'a>(
    errors: &'a [(&'a str, &'a str)],
    chosen: Option<&str>,
    typed: Option<&'a Submission>,
) -> FormView<'a> {
    let field = |f: fn(&'a Submission) -> &'a str| typed.map_or("", f);
    FormView {
        errors,
        categories: categories()
            .into_iter()
            .map(|(code, label)| CategoryChoice {
                checked: chosen == Some(code.as_str()),
                code,
                label,
            })
            .collect(),
        description: field(|s| &s.description),
        links: field(|s| &s.links),
        contact_name: field(|s| &s.contact_name),
        contact_phone: field(|s| &s.contact_phone),
        contact_email: field(|s| &s.contact_email),
    }
}

/// The page with the form (`form`), or a refusal above the hotlines.
fn public_page(
    state: &SharedState,
    status: StatusCode,
    title: &str,
    refusal: Option<(&str, String)>,
    form: Option<FormView<'_>>,
) -> Response {
    render(
        status,
        &PublicPage {
            chrome: Chrome::public(title),
            refusal,
            hotlines: &state.config.hotlines,
            form,
            honeypot: HONEYPOT_FIELD,
        },
    )
}

pub async fn page(State(state): State<SharedState>) -> Response {
    public_page(
        &state,
        StatusCode::OK,
        TITLE,
        None,
        Some(form_view(&[], None, None)),
    )
}

fn thanks(status: StatusCode, receipt: Option<&str>) -> Response {
    render(
        status,
        &ThanksPage {
            chrome: Chrome::public("Report received"),
            receipt,
        },
    )
}

/// The limiter's word on one more recorded submission from `client`: `Err` is the
/// 429 page. Only submissions that would be recorded (or look so: the honeypot) count;
/// a form sent back with errors does not, so fixing a typo costs nothing.
fn rate_limited(state: &SharedState, client: &str) -> Option<Response> {
    let wait = state.public_limiter.check(client).err()?;
    state
        .metrics
        .public_rate_limited
        .fetch_add(1, Ordering::Relaxed);
    let mut r = public_page(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        TITLE,
        Some((
            "Please wait before sending another report",
            format!(
                "Too many reports came from this connection. Try again in about {} minutes, or call a hotline now.",
                wait.div_ceil(60)
            ),
        )),
        None,
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    Some(r)
}

/// Every problem with a submission, by field id, in the order the form asks.
fn problems(s: &Submission, category: Option<IncidentType>) -> Vec<(&'static str, &'static str)> {
    let mut errors = Vec::new();
    if category.is_none() {
        errors.push(("category-0", "Choose what your concern is about"));
    }
    if let Err(e) = s.content().check() {
        errors.push(content_error(&e));
    }
    if !s.good_faith {
        errors.push((
            "good_faith",
            "Confirm that you are making this report in good faith",
        ));
    }
    errors
}

pub async fn submit(
    State(state): State<SharedState>,
    ClientAddr(client): ClientAddr,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    if crate::http::csrf::cross_site(&headers) {
        return public_page(
            &state,
            StatusCode::FORBIDDEN,
            TITLE,
            Some((
                "This form must be sent from this site",
                "The report was not recorded: it came from another web site's page. Open this page again to use the form, or call a hotline.".into(),
            )),
            None,
        );
    }
    if body.len() > MAX_FORM_BYTES {
        return public_page(
            &state,
            StatusCode::PAYLOAD_TOO_LARGE,
            TITLE,
            Some((
                "That form was too large",
                "The report was not recorded. Open this page again and shorten the description, or call a hotline.".into(),
            )),
            None,
        );
    }
    let s = parse(&body);
    if !s.honeypot.is_empty() {
        if let Some(limited) = rate_limited(&state, &client) {
            return limited;
        }
        // A filled honeypot is a bot: answer like a success, record nothing.
        tracing::info!(target: "icac_ledger::http", "public report honeypot triggered");
        return thanks(StatusCode::OK, None);
    }
    let category: Option<IncidentType> = s
        .category
        .as_deref()
        .and_then(|c| serde_json::from_value(serde_json::Value::String(c.to_owned())).ok());
    let errors = problems(&s, category);
    if !errors.is_empty() {
        let chosen = category.and(s.category.as_deref());
        return public_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Error: {TITLE}"),
            None,
            Some(form_view(&errors, chosen, Some(&s))),
        );
    }
    if let Some(limited) = rate_limited(&state, &client) {
        return limited;
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
    match public_report::receive(
        &state.commands,
        Channel::WebSite,
        category,
        Some(s.content()),
        &actor,
        Timestamp::now(),
    )
    .await
    {
        Ok(receipt) => {
            state.metrics.public_reports.fetch_add(1, Ordering::Relaxed);
            thanks(StatusCode::CREATED, Some(receipt.as_str()))
        }
        Err(e) => {
            tracing::error!(target: "icac_ledger::http", error = %e, "public report could not be recorded");
            public_page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                TITLE,
                Some((
                    "Sorry, the report could not be recorded",
                    "Please call a hotline instead.".into(),
                )),
                None,
            )
        }
    }
}
