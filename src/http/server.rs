//! Assembles the router and its layers, and runs it until shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::timeout::TimeoutLayer;

use super::extract::{LoggedPrincipal, RequestId};
use super::problem::{Kind, Problem, CONTENT_TYPE};
use super::{listener, pages, routes, SharedState};
use crate::commands::CommandError;
use crate::read_side::ProjectionError;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// The whole application: API, pages and probes, with every layer.
pub fn router(state: SharedState) -> Router {
    let timeout = state.config.request_timeout;
    let limit = state.config.body_limit;
    Router::new()
        .merge(routes::router())
        .merge(pages::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn(refuse_long_uri))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::audit_trail::record,
        ))
        .layer(middleware::from_fn(request_log))
        .with_state(state)
}

async fn not_found() -> Problem {
    Problem::not_found("no such route; the API is described at /v1/openapi.json")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        Kind::MethodNotAllowed,
        "this route does not accept that method",
    )
}

/// Any error response that is neither problem+json nor an HTML page (e.g. axum's own
/// rejections, the body limit, the timeout) becomes problem+json with the same status.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with(CONTENT_TYPE) || content_type.starts_with("text/html") {
        return response;
    }
    let kind = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Kind::TooLarge,
        StatusCode::URI_TOO_LONG => Kind::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Kind::HeadersTooLarge,
        StatusCode::REQUEST_TIMEOUT => Kind::Timeout,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Kind::UnsupportedMediaType,
        StatusCode::METHOD_NOT_ALLOWED => Kind::MethodNotAllowed,
        StatusCode::NOT_FOUND => Kind::NotFound,
        StatusCode::UNPROCESSABLE_ENTITY => Kind::InvalidInput,
        s if s.is_client_error() => Kind::BadRequest,
        _ => Kind::Internal,
    };
    let detail = match kind {
        Kind::TooLarge => "the request body is larger than the limit for this service".to_owned(),
        Kind::Timeout => "the request did not finish within the time limit".to_owned(),
        _ => {
            let bytes = axum::body::to_bytes(response.into_body(), 4096)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes)
                .chars()
                .take(300)
                .collect::<String>();
            if text.is_empty() {
                kind.title().to_owned()
            } else {
                text
            }
        }
    };
    let mut problem = Problem::new(kind, detail);
    if kind == Kind::Timeout {
        problem = problem.with_retry_after(5);
    }
    problem.into_response()
}

/// Longest request target accepted (hyper's own limit is near 64 KiB).
const MAX_URI: usize = 8 * 1024;

async fn refuse_long_uri(request: Request, next: Next) -> Response {
    if request.uri().to_string().len() > MAX_URI {
        return Problem::new(
            Kind::UriTooLong,
            format!("the request target is longer than {MAX_URI} bytes"),
        )
        .into_response();
    }
    next.run(request).await
}

/// The policy for HTML answers that set none of their own: nothing but inline style,
/// same-site images, forms and frames.
const HTML_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-src 'self'; frame-ancestors 'self'; base-uri 'none'";

/// `nosniff` on every answer, and a Content-Security-Policy on every HTML one (pages,
/// error pages and the annual report's HTML edition alike).
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if is_html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(HTML_CSP),
        );
    }
    response
}

static REQUESTS: AtomicU64 = AtomicU64::new(0);

fn new_request_id() -> String {
    use rand_core::{OsRng, RngCore};
    let mut b = [0u8; 8];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

/// One structured line per request: method, matched route (not the raw path, which may
/// carry case numbers), status, latency, principal id. Never bodies or query strings.
async fn request_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let rid = new_request_id();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let method = request.method().clone();
    let principal = LoggedPrincipal::default();
    request.extensions_mut().insert(RequestId(rid.clone()));
    request.extensions_mut().insert(principal.clone());
    let mut response = next.run(request).await;
    REQUESTS.fetch_add(1, Ordering::Relaxed);
    if let Ok(v) = HeaderValue::from_str(&rid) {
        response.headers_mut().insert("x-request-id", v);
    }
    let who = principal.get().map(|l| l.id).unwrap_or_default();
    tracing::info!(
        target: "icac_ledger::http",
        request_id = %rid,
        method = %method,
        route = route.as_deref().unwrap_or("(unmatched)"),
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64,
        principal = %who,
        "request"
    );
    response
}

/// How often the access log is probed while nobody writes to it: the alert fires within
/// this of the log failing even on an idle service (CJIS AU-5 asks for an hour).
const ACCESS_LOG_PROBE: Duration = Duration::from_secs(20);

/// Serves `state` on `listener` until `shutdown` resolves: stops accepting, lets
/// in-flight requests finish, then shuts the ledger down (flushing its writer).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: SharedState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let projection_task = state.projections.spawn(&state.ledger);
    let watch_task = tokio::spawn(state.access_log.clone().watch(ACCESS_LOG_PROBE));
    let app = router(state.clone());
    let drain = state.config.request_timeout + Duration::from_secs(1);
    listener::run(listener, app, state.config.limits, shutdown, drain).await?;
    watch_task.abort();
    projection_task.abort();
    let _ = projection_task.await;
    // Views are written behind; write what is left so a restart starts from here.
    if let Err(e) = state.projections.catch_up().await {
        tracing::error!(error = %e, "writing the views at shutdown failed");
    }
    // The ledger's writer stops once every handle is gone: shut it down only when this
    // was the last reference to the state (the CLI's case); otherwise the owner does.
    let mut state = state;
    for _ in 0..50 {
        match std::sync::Arc::try_unwrap(state) {
            Ok(owned) => {
                let ledger = owned.ledger.clone();
                drop(owned);
                ledger.shutdown().await;
                return Ok(());
            }
            Err(shared) => {
                state = shared;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    }
    tracing::debug!(
        "state still shared after shutdown; the ledger stays open for its other owners"
    );
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[allow(dead_code)]
fn empty() -> Body {
    Body::empty()
}
