//! The one command extractor, after the cqrs-es demo's `CommandExtractor`: a handler
//! names the caller ([`Principal`]), the thing the command acts on (one of the target
//! extractors here) and the body ([`CommandBody`]), and axum hands it all three checked.
//!
//! Order matters and axum keeps it: a target is looked up only once the caller is known
//! and allowed, and the body is parsed only once the target is known to exist, so
//! neither ids nor body errors can be used to probe for records the caller may not see.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use icac_aggregates::ids::{CaseId, IdError, OperationId, Ori, ReceiptNumber};
use icac_aggregates::services::UnitDirectory;
use icac_format::record::StreamId;
use serde::de::DeserializeOwned;

use super::extract::parse_body;
use super::problem::{ApiResult, Kind, Problem};
use super::SharedState;
use crate::access::auth::Principal;

/// A command's request body, parsed into its request type (`requests`). A body that
/// does not parse is counted as a refused command and answered 400/415/422.
pub struct CommandBody<B>(pub B);

impl<B: DeserializeOwned> FromRequest<SharedState> for CommandBody<B> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &SharedState) -> Result<Self, Problem> {
        let headers = req.headers().clone();
        let parsed = match Bytes::from_request(req, state).await {
            Ok(bytes) => parse_body(&headers, &bytes),
            Err(rejection) => {
                let kind = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Kind::TooLarge
                } else {
                    Kind::BadRequest
                };
                let detail = format!("the body could not be read: {}", rejection.body_text());
                Err(Problem::new(kind, detail))
            }
        };
        parsed.map(CommandBody).inspect_err(|problem| {
            state.metrics.command(&Err(problem));
        })
    }
}

/// The caller, as the [`Principal`] extractor (which must come first) authenticated it.
fn caller(parts: &Parts) -> ApiResult<&Principal> {
    parts.extensions.get::<Principal>().ok_or_else(|| {
        Problem::internal("a target extractor must follow the Principal in the handler")
    })
}

/// The URL's path parameter `name`, which the route table's path declares.
async fn path_param(parts: &mut Parts, state: &SharedState, name: &str) -> ApiResult<String> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| Problem::internal(format!("path parameters: {}", e.body_text())))?;
    params
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| Problem::internal(format!("the route has no {{{name}}} parameter")))
}

/// At most this many characters of an unknown id are echoed back in a 404.
const ECHO: usize = 64;

fn not_found(what: &str, raw: &str) -> Problem {
    Problem::not_found(format!(
        "no {what} {:?}",
        raw.chars().take(ECHO).collect::<String>()
    ))
}

async fn stream_exists(state: &SharedState, aggregate_type: &str, id: &str) -> ApiResult<bool> {
    let events = state
        .ledger
        .read_stream(&StreamId::new(aggregate_type, id))
        .await
        .map_err(Problem::internal)?;
    Ok(!events.is_empty())
}

/// Parses a case id and checks the caller may see it and that it exists. A case of
/// another unit is reported as not found, so ids cannot be probed.
pub async fn visible_case(
    state: &SharedState,
    principal: &Principal,
    raw: &str,
) -> ApiResult<CaseId> {
    let case_id = CaseId::parse(raw).map_err(|_| not_found("case", raw))?;
    if !principal.may_see_case(&case_id) || !stream_exists(state, "case", case_id.as_str()).await? {
        return Err(not_found("case", raw));
    }
    Ok(case_id)
}

/// Parses the id of an operation or public report and checks it exists; a malformed
/// or unknown id is a 404 either way.
async fn existing<T>(
    state: &SharedState,
    aggregate_type: &str,
    raw: &str,
    parse: fn(String) -> Result<T, IdError>,
    key: fn(&T) -> &str,
) -> ApiResult<T> {
    let what = aggregate_type.replace('_', " ");
    let id = parse(raw.to_owned()).map_err(|_| not_found(&what, raw))?;
    if !stream_exists(state, aggregate_type, key(&id)).await? {
        return Err(not_found(&what, raw));
    }
    Ok(id)
}

/// A public report's receipt, if the report exists (else a 404).
pub async fn existing_public_report(state: &SharedState, raw: &str) -> ApiResult<ReceiptNumber> {
    existing(
        state,
        "public_report",
        raw,
        ReceiptNumber::parse,
        ReceiptNumber::as_str,
    )
    .await
}

/// `{case_id}`: a case the caller may see.
pub struct VisibleCase(pub CaseId);

impl FromRequestParts<SharedState> for VisibleCase {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> ApiResult<Self> {
        let raw = path_param(parts, state, "case_id").await?;
        let principal = caller(parts)?;
        visible_case(state, principal, &raw).await.map(VisibleCase)
    }
}

/// `{ori}`: a unit of the directory.
pub struct KnownUnit(pub Ori);

impl FromRequestParts<SharedState> for KnownUnit {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> ApiResult<Self> {
        let raw = path_param(parts, state, "ori").await?;
        caller(parts)?;
        let ori = Ori::parse(&raw).map_err(|_| not_found("unit", &raw))?;
        if state.commands.directory().unit(&ori).is_none() {
            return Err(not_found("unit", &raw));
        }
        Ok(KnownUnit(ori))
    }
}

/// `{operation_id}`: a planned operation.
pub struct ExistingOperation(pub OperationId);

impl FromRequestParts<SharedState> for ExistingOperation {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> ApiResult<Self> {
        let raw = path_param(parts, state, "operation_id").await?;
        caller(parts)?;
        existing(
            state,
            "operation",
            &raw,
            OperationId::parse,
            OperationId::as_str,
        )
        .await
        .map(ExistingOperation)
    }
}

/// `{receipt}`: a received public report.
pub struct ExistingPublicReport(pub ReceiptNumber);

impl FromRequestParts<SharedState> for ExistingPublicReport {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> ApiResult<Self> {
        let raw = path_param(parts, state, "receipt").await?;
        caller(parts)?;
        existing_public_report(state, &raw)
            .await
            .map(ExistingPublicReport)
    }
}
