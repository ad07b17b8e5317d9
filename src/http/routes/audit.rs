//! Auditor functions: ledger status, verification, checkpoints, inclusion and
//! consistency proofs, export bundles, and the access log with its own verification.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::access::access_log::MAX_PAGE;
use crate::access::auth::Principal;
use crate::audit::trust::TrustRoot;
use crate::audit::verify::{verify_storage, VerifyOptions};
use crate::audit::{bundle, checkpointer, proofs, AuditError};
use crate::http::access_review::{self, AcknowledgeError, IsoWeek};
use crate::http::extract::ApiQuery;
use crate::http::problem::{json, ApiResult, Problem};
use crate::http::SharedState;

/// Largest range one export request may cover; larger audits use the CLI.
pub const MAX_EXPORT_EVENTS: u64 = 200_000;

fn audit_problem(e: AuditError) -> Problem {
    match e {
        AuditError::Invalid(msg) => Problem::field("", msg),
        other => Problem::internal(other),
    }
}

/// The ledger's size (the position of its head).
pub(crate) async fn head_position(state: &SharedState) -> ApiResult<u64> {
    Ok(state
        .ledger
        .head()
        .await
        .map_err(Problem::internal)?
        .position)
}

/// Size, head, last checkpoint, last verification, projection position.
pub async fn ledger_status_value(state: &SharedState) -> ApiResult<Value> {
    let storage = state.ledger.storage();
    let head = state.ledger.head().await.map_err(Problem::internal)?;
    let checkpoint = storage
        .latest_checkpoint(state.ledger.id())
        .await
        .map_err(Problem::internal)?;
    let access = state
        .access_log
        .verify_appended()
        .await
        .map_err(Problem::internal)?;
    Ok(json!({
        "ledger_id": state.ledger.id().as_str(),
        "database": storage.dialect(),
        "size": head.position,
        "head": head.hash.to_hex(),
        "last_recorded_at": head.recorded_at,
        "last_checkpoint": checkpoint.map(|c| json!({
            "size": c.size,
            "root": hex::encode(&c.root),
            "created_at": c.created_at,
            "key_id": c.key_id,
        })),
        "last_verification": state.metrics.last_verify(),
        "projection_position": state.projections.position().await,
        "access_log": access,
        "access_log_health": state.access_log.health(),
        "publication": state.publication.snapshot(std::time::SystemTime::now()),
    }))
}

pub async fn ledger_status(
    State(state): State<SharedState>,
    _: Principal,
) -> ApiResult<Json<Value>> {
    Ok(Json(ledger_status_value(&state).await?))
}

/// Runs a full verification of the database; the result also feeds `/metrics`.
pub async fn verify(State(state): State<SharedState>, _: Principal) -> ApiResult<Json<Value>> {
    let report = run_verify(&state).await?;
    Ok(Json(report))
}

pub async fn run_verify(state: &SharedState) -> ApiResult<Value> {
    let options = VerifyOptions {
        trust: TrustRoot::Unpinned,
        checkpoints: Vec::new(),
        page_size: 0,
    };
    let report = verify_storage(state.ledger.storage(), state.ledger.id(), options)
        .await
        .map_err(audit_problem)?;
    state
        .metrics
        .record_verify(report.intact, report.events_verified);
    Ok(report.to_json())
}

pub async fn latest_checkpoint(
    State(state): State<SharedState>,
    _: Principal,
) -> ApiResult<Json<Value>> {
    let cp = state
        .ledger
        .storage()
        .latest_checkpoint(state.ledger.id())
        .await
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found("no checkpoint has been cut yet"))?;
    Ok(Json(json!({
        "size": cp.size,
        "root": hex::encode(&cp.root),
        "head": hex::encode(&cp.head),
        "created_at": cp.created_at,
        "key_id": cp.key_id,
        "note": cp.note,
    })))
}

pub async fn cut_checkpoint(
    State(state): State<SharedState>,
    _: Principal,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let signed = checkpointer::cut(state.ledger.storage(), state.ledger.id(), &state.key())
        .await
        .map_err(audit_problem)?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "size": signed.checkpoint.size, "note": signed.note })),
    ))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    /// Ledger position of the event.
    #[schemars(range(min = 1))]
    pub position: u64,
}

pub async fn inclusion_proof(
    State(state): State<SharedState>,
    _: Principal,
    ApiQuery(q): ApiQuery<InclusionQuery>,
) -> ApiResult<Json<Value>> {
    let head = head_position(&state).await?;
    if q.position == 0 || q.position > head {
        return Err(Problem::field(
            "/position",
            format!("must be between 1 and the ledger head {head}"),
        ));
    }
    let proof = proofs::prove_inclusion(
        state.ledger.storage(),
        state.ledger.id(),
        Some(&*state.key()),
        q.position,
        None,
    )
    .await
    .map_err(audit_problem)?;
    json(proof)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    /// The earlier ledger size.
    #[schemars(range(min = 1))]
    pub old_size: u64,
    /// The later size (default: the head).
    #[schemars(range(min = 1))]
    pub new_size: Option<u64>,
}

pub async fn consistency_proof(
    State(state): State<SharedState>,
    _: Principal,
    ApiQuery(q): ApiQuery<ConsistencyQuery>,
) -> ApiResult<Json<Value>> {
    let head = head_position(&state).await?;
    let new_size = q.new_size.unwrap_or(head);
    if new_size > head {
        return Err(Problem::field(
            "/new_size",
            format!("must be at most the ledger head {head}"),
        ));
    }
    if q.old_size == 0 || q.old_size > new_size {
        return Err(Problem::field(
            "/old_size",
            format!("must be between 1 and new_size {new_size}"),
        ));
    }
    let proof = proofs::prove_consistency(
        state.ledger.storage(),
        state.ledger.id(),
        Some(&*state.key()),
        q.old_size,
        new_size,
    )
    .await
    .map_err(audit_problem)?;
    json(proof)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// First position (default 1).
    #[schemars(range(min = 1))]
    pub from: Option<u64>,
    /// Last position (default: the head).
    #[schemars(range(min = 1))]
    pub to: Option<u64>,
}

/// The export bundle (JSON Lines) for offline verification with `icac-ledger verify --bundle`.
pub async fn export(
    State(state): State<SharedState>,
    _: Principal,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let head = head_position(&state).await?;
    let from = q.from.unwrap_or(1);
    let to = q.to.unwrap_or(head);
    if from == 0 || from > to || to > head {
        return Err(Problem::field(
            "/from",
            format!(
                "the range must lie between positions 1 and {head}, with from no later than to"
            ),
        ));
    }
    if to - from + 1 > MAX_EXPORT_EVENTS {
        return Err(Problem::field(
            "/to",
            format!(
                "at most {MAX_EXPORT_EVENTS} events per request; use `icac-ledger export` for more"
            ),
        ));
    }
    let dir = tempdir().map_err(Problem::internal)?;
    let path = dir.join("bundle.jsonl");
    let summary = bundle::export(
        state.ledger.storage(),
        state.ledger.id(),
        Some(&*state.key()),
        &path,
        Some(from),
        Some(to),
    )
    .await
    .map_err(audit_problem);
    let bytes = summary.and_then(|_| std::fs::read(&path).map_err(Problem::internal));
    let _ = std::fs::remove_dir_all(&dir);
    let bytes = bytes?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{from}-{to}.jsonl\"",
                    state.ledger.id().as_str()
                ),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn tempdir() -> std::io::Result<std::path::PathBuf> {
    use rand_core::{OsRng, RngCore};
    let mut b = [0u8; 8];
    OsRng.fill_bytes(&mut b);
    let dir = std::env::temp_dir().join(format!("icac-export-{}", hex::encode(b)));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogQuery {
    /// Entries after this sequence number.
    pub after: Option<u64>,
    /// Page size (at most 1000).
    pub limit: Option<u64>,
}

pub async fn access_log(
    State(state): State<SharedState>,
    _: Principal,
    ApiQuery(q): ApiQuery<AccessLogQuery>,
) -> ApiResult<Json<Value>> {
    let entries = state
        .access_log
        .page(q.after.unwrap_or(0), q.limit.unwrap_or(100).min(MAX_PAGE))
        .await
        .map_err(Problem::internal)?;
    Ok(Json(json!({ "entries": entries })))
}

pub async fn verify_access_log(
    State(state): State<SharedState>,
    _: Principal,
) -> ApiResult<Json<Value>> {
    let report = state.access_log.verify().await.map_err(Problem::internal)?;
    json(report)
}

/// `GET /v1/audit/reviews/{week}`
pub async fn access_review(
    State(state): State<SharedState>,
    _: Principal,
    axum::extract::Path(week): axum::extract::Path<String>,
) -> ApiResult<Json<Value>> {
    let week: IsoWeek = week
        .parse()
        .map_err(|e: access_review::BadWeek| Problem::field("/week", e.to_string()))?;
    let review = access_review::weekly(
        &state.access_log,
        &state.accounts,
        week,
        jiff::Timestamp::now(),
    )
    .await
    .map_err(Problem::internal)?;
    json(review)
}

/// `POST /v1/audit/reviews/{week}/acknowledgement`
pub async fn acknowledge_access_review(
    State(state): State<SharedState>,
    principal: Principal,
    axum::extract::Path(week): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<(axum::http::StatusCode, Json<Value>)> {
    let week: IsoWeek = week
        .parse()
        .map_err(|e: access_review::BadWeek| Problem::field("/week", e.to_string()))?;
    let body: crate::http::requests::AcknowledgeReviewBody =
        crate::http::extract::parse_body(&headers, &body)?;
    let acknowledged = access_review::acknowledge(
        &state.access_log,
        week,
        &body.sha256,
        &principal.id(),
        &principal.source,
    )
    .await
    .map_err(|e| match e {
        AcknowledgeError::Changed { .. } => {
            Problem::new(crate::http::problem::Kind::Conflict, e.to_string())
        }
        AcknowledgeError::Log(e) => Problem::internal(e),
    })?;
    let value = serde_json::to_value(&acknowledged).map_err(Problem::internal)?;
    Ok((axum::http::StatusCode::CREATED, Json(value)))
}
