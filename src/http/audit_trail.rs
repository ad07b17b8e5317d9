//! Every authenticated request leaves an access-log entry before its answer leaves
//! (CJIS AU-2, AU-3): what (method and route), when (UTC, to the nanosecond), where (the
//! path, which names the case), source address, outcome and principal. Reads and
//! writes alike, API and staff pages alike, in one place instead of a call per handler.
//!
//! It fails closed: when the entry cannot be written, the answer is replaced by a 503
//! and nothing the handler read reaches the client. While the log is known to be
//! failing, a credentialed request is refused before its handler runs unless a fresh
//! entry for it goes in first (which is also how recovery is noticed). Only the routes
//! that report the failure are answered without their entry, so operators can see it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::LoggedPrincipal;
use super::problem::{Kind, Problem};
use super::SharedState;
use crate::access::access_log::AccessEntry;

/// Routes answered even when their entry cannot be written: they hold no case data and
/// are where the failure shows (status page, metrics).
const SERVED_UNLOGGED: [&str; 3] = ["/metrics", "/v1/ledger/status", "/staff/ledger"];

/// What is known of a request before its handler runs.
struct Seen {
    action: String,
    route: Option<String>,
    target: String,
    source: String,
    credentialed: bool,
}

impl Seen {
    fn of(state: &SharedState, request: &Request) -> Seen {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_owned());
        let action = format!(
            "{} {}",
            request.method(),
            route.as_deref().unwrap_or("(unmatched)")
        );
        let source = match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(peer)) => super::client_addr::resolve(
                peer.ip(),
                request.headers(),
                &state.config.trusted_proxies,
            )
            .to_string(),
            None => "unknown".into(),
        };
        Seen {
            action,
            route,
            // The path only: query strings may carry search text.
            target: request.uri().path().to_owned(),
            source,
            credentialed: credentialed(request.headers()),
        }
    }

    fn served_unlogged(&self) -> bool {
        self.route
            .as_deref()
            .is_some_and(|r| SERVED_UNLOGGED.contains(&r))
    }
}

/// A bearer token or a staff session cookie: the request may reach case data.
fn credentialed(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION)
        || super::extract::cookie(headers, super::pages::staff::SESSION_COOKIE).is_some()
}

/// The middleware: runs inside the request log's layer, which puts the principal slot
/// that authentication fills.
pub async fn record(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let seen = Seen::of(&state, &request);
    let slot = request.extensions().get::<LoggedPrincipal>().cloned();
    if seen.credentialed && !state.access_log.health().writable && !seen.served_unlogged() {
        let recheck = AccessEntry::new(&seen.action, "-", &seen.source, &seen.target, "recheck")
            .with_detail(
                "the access log was failing; this entry tests it before the request runs".into(),
            );
        if state.access_log.append(recheck).await.is_err() {
            return unavailable();
        }
    }
    let response = next.run(request).await;
    let Some(principal) = slot.and_then(|s| s.get()).map(|l| l.identity) else {
        return response;
    };
    let entry = AccessEntry::new(
        &seen.action,
        &principal,
        &seen.source,
        &seen.target,
        outcome(response.status()),
    )
    .with_detail(format!("HTTP {}", response.status().as_u16()));
    match state.access_log.append(entry).await {
        Ok(_) => response,
        Err(_) if seen.served_unlogged() => response,
        Err(_) => unavailable(),
    }
}

fn outcome(status: StatusCode) -> &'static str {
    if status.is_success() || status.is_redirection() {
        "ok"
    } else if status.is_client_error() {
        "refused"
    } else {
        "failed"
    }
}

fn unavailable() -> Response {
    Problem::new(
        Kind::AccessLogUnavailable,
        "the access log cannot record this request, so it is not answered; operators have been alerted (see /v1/ledger/status)",
    )
    .with_retry_after(30)
    .into_response()
}
