//! The ledger as a C2SP log over HTTP: the published checkpoint and tiles under
//! `/tlog/` (public: tree hashes and event hashes only), and a case's filing receipt.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::access::auth::Principal;
use crate::http::problem::{ApiResult, Problem};
use crate::http::SharedState;
use crate::tlog::receipt::{case_receipt, ReceiptError};
use crate::tlog::tiles::{self, ServeError, Served};

fn tiles_problem(e: ServeError) -> Problem {
    match e {
        ServeError::BadPath(e) => Problem::not_found(e.to_string()),
        ServeError::Io(e) => Problem::internal(e),
        other => Problem::not_found(other.to_string()),
    }
}

fn serve_path(state: &SharedState, path: &str) -> ApiResult<Response> {
    let dir = state
        .config
        .tlog_dir
        .as_deref()
        .ok_or_else(|| Problem::not_found("this server publishes no tiles (no --tlog-dir)"))?;
    let served =
        tiles::serve(dir, path, state.publication.published_size()).map_err(tiles_problem)?;
    Ok(match served {
        Served::Checkpoint(b) => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CACHE_CONTROL, "max-age=5"),
            ],
            b,
        )
            .into_response(),
        Served::Tile(b) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            b,
        )
            .into_response(),
    })
}

pub async fn checkpoint(State(state): State<SharedState>) -> ApiResult<Response> {
    serve_path(&state, "checkpoint")
}

pub async fn tile(
    State(state): State<SharedState>,
    Path(path): Path<String>,
) -> ApiResult<Response> {
    serve_path(&state, &format!("tile/{path}"))
}

pub async fn receipt(
    State(state): State<SharedState>,
    principal: Principal,
    Path(case_id): Path<String>,
) -> ApiResult<Response> {
    let case_id =
        crate::http::command_extractor::visible_case(&state, &principal, &case_id).await?;
    let text = case_receipt(
        state.ledger.storage(),
        state.ledger.id(),
        state.config.tlog_dir.as_deref(),
        case_id.as_str(),
    )
    .await
    .map_err(|e| match e {
        // Not a server fault: the receipt does not exist yet (or here); try again later.
        ReceiptError::NotYetWitnessed { .. } => {
            let mut p = Problem::not_found(e.to_string());
            p.retry_after = Some(30);
            p
        }
        ReceiptError::NotConfigured => Problem::not_found(e.to_string()),
        ReceiptError::NoFiling | ReceiptError::NoSuchPosition(_) => {
            Problem::not_found(e.to_string())
        }
        ReceiptError::Audit(a) => Problem::internal(a),
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"filing.tlog-proof\"",
            ),
        ],
        text,
    )
        .into_response())
}
