//! Request plumbing shared by handlers: request ids, client addresses, the bearer
//! principal, and JSON bodies decoded into domain commands with pointer'd errors.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::problem::{FieldProblem, Kind, Problem};
use super::SharedState;
use crate::access::auth::{Permission, Principal};
use crate::access::tokens::AuthFailure;

/// Set by the outer middleware for every request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Filled in by authentication so the request log can name the principal (by id) and
/// the access log the person (CJIS AU-3: identity).
#[derive(Debug, Clone, Default)]
pub struct LoggedPrincipal(pub Arc<Mutex<Option<Logged>>>);

/// Who a request was authenticated as.
#[derive(Debug, Clone)]
pub struct Logged {
    /// `role[:unit]:token-id`: what operational logs carry (no names).
    pub id: String,
    /// For the access log: `acct.<username>:` before the id when an account acts.
    pub identity: String,
}

impl LoggedPrincipal {
    pub fn record(&self, p: &Principal) {
        if let Ok(mut s) = self.0.lock() {
            let id = p.id();
            let identity = match &p.account {
                Some(a) => format!("acct.{a}:{id}"),
                None => id.clone(),
            };
            *s = Some(Logged { id, identity });
        }
    }

    pub fn get(&self) -> Option<Logged> {
        self.0.lock().ok().and_then(|p| p.clone())
    }
}

/// The client's address without the port (lockout and rate limits are per address):
/// the peer's, or, when the peer is a configured trusted proxy, the one it forwards.
pub fn client_addr(parts: &Parts, trusted_proxies: &[IpAddr]) -> String {
    let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
        return "unknown".into();
    };
    super::client_addr::resolve(peer.ip(), &parts.headers, trusted_proxies).to_string()
}

/// The client address ([`client_addr`]) as an extractor.
pub struct ClientAddr(pub String);

impl FromRequestParts<SharedState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(
            parts,
            &state.config.trusted_proxies,
        )))
    }
}

pub fn request_id(parts: &Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Authenticates `presented` for the request in `parts`; shared by the bearer API and
/// the staff pages' cookie.
pub async fn authenticate(
    state: &SharedState,
    parts: &Parts,
    presented: Option<&str>,
) -> Result<Principal, Problem> {
    let source = client_addr(parts, &state.config.trusted_proxies);
    let rid = request_id(parts);
    match state.tokens.authenticate(presented, &source, &rid).await {
        Ok(p) => {
            if let Some(slot) = parts.extensions.get::<LoggedPrincipal>() {
                slot.record(&p);
            }
            Ok(p)
        }
        Err(AuthFailure::Missing) => Err(Problem::new(
            Kind::Unauthenticated,
            "send `Authorization: Bearer <token>`; tokens come from `icac-ledger tokens issue`",
        )),
        Err(AuthFailure::Invalid) => {
            state
                .metrics
                .auth_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(Problem::new(Kind::Unauthenticated, "the token is not valid (unknown, revoked or malformed)"))
        }
        Err(AuthFailure::LockedOut { retry_after }) => Err(Problem::new(
            Kind::LockedOut,
            format!("too many failed authentications from this address or for this token id; try again in {retry_after} seconds"),
        )
        .with_retry_after(retry_after)),
        Err(AuthFailure::Store(e)) => Err(Problem::internal(e)),
    }
}

/// The permission the route table (`routes::ROUTES`) gives a route; the router puts it
/// on every request of that route, and the [`Principal`] extractor enforces it.
#[derive(Debug, Clone, Copy)]
pub struct RoutePermission(pub Permission);

/// A bearer-authenticated principal that holds the route's permission: a handler that
/// takes a `Principal` is reached only by a role the route table allows.
impl FromRequestParts<SharedState> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &SharedState) -> Result<Self, Problem> {
        let presented = bearer(&parts.headers).map(str::to_owned);
        let principal = authenticate(state, parts, presented.as_deref()).await?;
        match parts.extensions.get::<RoutePermission>() {
            Some(RoutePermission(p)) => principal.require(*p)?,
            None => {
                return Err(Problem::internal(
                    "a route that takes a token has no permission in the route table",
                ))
            }
        }
        // For the target extractors that follow it (`command_extractor`).
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// Parses a JSON request body that must be an object. Syntax errors are 400; a body
/// that is JSON but not an object is 422.
pub fn json_object(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        return Err(Problem::new(
            Kind::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            Kind::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(Problem::field(
            "",
            format!("the body must be a JSON object, not {}", json_kind(&other)),
        )),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Fields the server sets on every command (from the clock); a client that sends one
/// gets a 422 naming it rather than a generic "unknown field".
const SERVER_FIELDS: &[&str] = &["recorded_at"];

/// Parses a command body into its request type (`requests`): JSON object, no
/// server-set fields, then the type's own shape, with a pointer to what was wrong.
pub fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, Problem> {
    let map = json_object(headers, body)?;
    let clashes: Vec<FieldProblem> = SERVER_FIELDS
        .iter()
        .filter(|k| map.contains_key(**k))
        .map(|k| FieldProblem {
            pointer: format!("/{k}"),
            message: "is set by the server (from the URL or the clock); leave it out".into(),
        })
        .collect();
    if !clashes.is_empty() {
        return Err(Problem::invalid(
            "the body names fields the server sets",
            clashes,
        ));
    }
    decode(Value::Object(map))
}

/// Decodes `value` into `T`; a type mismatch, missing or unknown field becomes a 422
/// with the JSON Pointer of the offending place.
pub fn decode<T: DeserializeOwned>(value: Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let pointer: String = e
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
                serde_path_to_error::Segment::Map { key } => {
                    Some(key.replace('~', "~0").replace('/', "~1"))
                }
                serde_path_to_error::Segment::Enum { variant } => Some(variant.clone()),
                serde_path_to_error::Segment::Unknown => None,
            })
            .map(|s| format!("/{s}"))
            .collect();
        let message = e.inner().to_string();
        Problem::field(pointer, message)
    })
}

/// Reads an optional string field for early checks (e.g. which unit a form is for).
pub fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// A query string parsed into `T` (which documents it in OpenAPI); problems are 422
/// naming the parameter. Put it after the `Principal` in a handler's arguments: axum
/// extracts in order, so a role without access learns nothing from parameter errors.
pub struct ApiQuery<T>(pub T);

/// Longest query string accepted.
const MAX_QUERY: usize = 2048;

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let raw = parts.uri.query().unwrap_or_default();
        if raw.len() > MAX_QUERY {
            return Err(Problem::new(
                Kind::BadRequest,
                "the query string is too long",
            ));
        }
        // A parameter is either left out or given a value; `?unit=` is not "no unit".
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|e| Problem::new(Kind::BadRequest, format!("query string: {e}")))?;
        if let Some((name, _)) = pairs.iter().find(|(_, v)| v.is_empty()) {
            return Err(Problem::field(
                format!("/{}", name.replace('~', "~0").replace('/', "~1")),
                "is empty; leave the parameter out instead",
            ));
        }
        serde_urlencoded::from_str::<T>(raw)
            .map(ApiQuery)
            .map_err(|e| Problem::field("", format!("query string: {e}")))
    }
}
