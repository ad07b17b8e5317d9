//! RFC 9457 problem details: every error the API returns is `application/problem+json`
//! with a stable `type`, a short `title`, the HTTP `status`, a specific `detail` and,
//! for input validation, the JSON Pointer of each offending field.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::commands::CommandError;

pub const CONTENT_TYPE: &str = "application/problem+json";
const TYPE_BASE: &str = "https://icac-ledger.invalid/problems/";

/// One field-level problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldProblem {
    pub pointer: String,
    pub message: String,
}

/// The kinds of problem the service reports; each has one status and one `type` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MalformedJson,
    BadRequest,
    InvalidInput,
    Unauthenticated,
    LockedOut,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    Rejected,
    TooLarge,
    UriTooLong,
    HeadersTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Timeout,
    NotYetAvailable,
    /// The access log refused the request's entry, so its answer is withheld.
    AccessLogUnavailable,
    Internal,
}

impl Kind {
    pub fn status(self) -> StatusCode {
        match self {
            Kind::MalformedJson => StatusCode::BAD_REQUEST,
            Kind::BadRequest => StatusCode::BAD_REQUEST,
            Kind::InvalidInput => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::Unauthenticated => StatusCode::UNAUTHORIZED,
            Kind::LockedOut => StatusCode::TOO_MANY_REQUESTS,
            Kind::Forbidden => StatusCode::FORBIDDEN,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::Rejected => StatusCode::UNPROCESSABLE_ENTITY,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::UriTooLong => StatusCode::URI_TOO_LONG,
            Kind::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Kind::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Kind::NotYetAvailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::AccessLogUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Kind::MalformedJson => "malformed-json",
            Kind::BadRequest => "bad-request",
            Kind::InvalidInput => "invalid-input",
            Kind::Unauthenticated => "unauthenticated",
            Kind::LockedOut => "locked-out",
            Kind::Forbidden => "forbidden",
            Kind::NotFound => "not-found",
            Kind::MethodNotAllowed => "method-not-allowed",
            Kind::Conflict => "conflict",
            Kind::Rejected => "rejected-by-rule",
            Kind::TooLarge => "body-too-large",
            Kind::UriTooLong => "uri-too-long",
            Kind::HeadersTooLarge => "headers-too-large",
            Kind::UnsupportedMediaType => "unsupported-media-type",
            Kind::RateLimited => "rate-limited",
            Kind::Timeout => "timeout",
            Kind::NotYetAvailable => "not-yet-available",
            Kind::AccessLogUnavailable => "access-log-unavailable",
            Kind::Internal => "internal",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kind::MalformedJson => "The request body is not well-formed JSON",
            Kind::BadRequest => "The request is malformed",
            Kind::InvalidInput => "The input did not validate",
            Kind::Unauthenticated => "A valid bearer token is required",
            Kind::LockedOut => "Too many failed authentications from this source",
            Kind::Forbidden => "Your role may not do this",
            Kind::NotFound => "Not found",
            Kind::MethodNotAllowed => "Method not allowed",
            Kind::Conflict => "The record was changed at the same time",
            Kind::Rejected => "The ledger's rules refused the command",
            Kind::TooLarge => "The request body is too large",
            Kind::UriTooLong => "The request target is too long",
            Kind::HeadersTooLarge => "The request headers are too large",
            Kind::UnsupportedMediaType => "Unsupported media type",
            Kind::RateLimited => "Too many requests",
            Kind::Timeout => "The request took too long",
            Kind::NotYetAvailable => "Not yet available",
            Kind::AccessLogUnavailable => "The access log cannot record this request",
            Kind::Internal => "Internal error",
        }
    }
}

/// An RFC 9457 problem; converts into a response.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// For a refusal by a rule (`rejected-by-rule`): which rule, by a stable name
    /// (`transition_not_allowed`), so clients branch on it instead of on `detail`'s words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(kind: Kind, detail: impl Into<String>) -> Self {
        Problem {
            type_uri: format!("{TYPE_BASE}{}", kind.slug()),
            title: kind.title(),
            status: kind.status().as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            kind: None,
            retry_after: None,
        }
    }

    pub fn invalid(detail: impl Into<String>, errors: Vec<FieldProblem>) -> Self {
        let mut p = Problem::new(Kind::InvalidInput, detail);
        p.errors = errors;
        p
    }

    /// A single-field validation problem.
    pub fn field(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Problem::invalid(
            message.clone(),
            vec![FieldProblem {
                pointer: pointer.into(),
                message,
            }],
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(Kind::Forbidden, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(Kind::NotFound, detail)
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        // The cause goes to the log; the client gets no internals.
        tracing::error!(error = %detail, "internal error");
        Problem::new(
            Kind::Internal,
            "the server could not complete the request; it has been logged",
        )
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<crate::access::auth::Denied> for Problem {
    fn from(e: crate::access::auth::Denied) -> Self {
        Problem::forbidden(e.to_string())
    }
}

impl From<CommandError> for Problem {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Rejected(refusal) => {
                let mut p = Problem::new(Kind::Rejected, refusal.message);
                p.kind = Some(refusal.rule);
                p
            }
            CommandError::Invalid(errors) => {
                let n = errors.len();
                Problem::invalid(
                    format!("{n} problem(s) with the input; see errors"),
                    errors
                        .into_iter()
                        .map(|f| FieldProblem {
                            pointer: f.pointer,
                            message: f.message,
                        })
                        .collect(),
                )
            }
            CommandError::AlreadyExists(what) => Problem::new(Kind::Conflict, what),
            CommandError::Conflict => Problem::new(Kind::Conflict, e.to_string()),
            CommandError::Ledger(e) => Problem::internal(e),
            CommandError::SigningKey(e) => {
                // The key ids and path are for the operator's log, not the client.
                tracing::error!(error = %e, "write refused: no active signing key");
                Problem::new(
                    Kind::NotYetAvailable,
                    "the ledger's signing key was rotated and the server does not hold the new \
                     key yet; nothing was written, retry later",
                )
                .with_retry_after(30)
            }
            CommandError::Internal(e) => Problem::internal(e),
        }
    }
}

impl From<crate::commands::erasure::ErasureError> for Problem {
    fn from(e: crate::commands::erasure::ErasureError) -> Self {
        use crate::commands::erasure::ErasureError as E;
        match e {
            E::UnknownCase(_) | E::UnknownValue => Problem::not_found(e.to_string()),
            E::NothingToErase(_) => Problem::new(Kind::Conflict, e.to_string()),
            E::Command(c) => Problem::from(c),
            E::Storage(s) => Problem::internal(s),
        }
    }
}

impl From<crate::commands::release::ReleaseError> for Problem {
    fn from(e: crate::commands::release::ReleaseError) -> Self {
        if e.is_refusal() {
            Problem::new(Kind::Rejected, e.to_string())
        } else {
            Problem::internal(e)
        }
    }
}

pub type ApiResult<T> = Result<T, Problem>;

/// A JSON response of `value`; a value that cannot be serialized is an internal error.
pub fn json<T: Serialize>(value: T) -> ApiResult<axum::Json<serde_json::Value>> {
    serde_json::to_value(value)
        .map(axum::Json)
        .map_err(Problem::internal)
}
