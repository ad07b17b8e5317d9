//! The witness's HTTP interface (C2SP tlog-witness): `POST /add-checkpoint` and the
//! monitoring `GET /<origin hash>/checkpoint`. Answers are plain text, as the spec has
//! them; each refusal carries the spec's status code and a one-line reason.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ed25519_dalek::SigningKey;

use super::state::{Latest, WitnessState};
use icac_format::checkpoint::NoteVerifier;
use icac_format::cosignature::{cosign, CosignerKey};
use icac_format::witness::{self, AddCheckpoint, Refusal, MAX_BODY_BYTES};

/// A running witness: its name and key, the logs it follows, its state.
pub struct Witness {
    pub name: String,
    pub key: SigningKey,
    pub logs: Vec<NoteVerifier>,
    pub state: WitnessState,
}

impl Witness {
    /// The witness's public key as a policy names it (vkey, type 0x04).
    pub fn vkey(&self) -> Result<String, icac_format::cosignature::CosignatureError> {
        Ok(CosignerKey::new(&self.name, self.key.verifying_key())?.to_vkey())
    }
}

/// Why `add-checkpoint` produced no cosignature.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("cannot cosign: {0}")]
    Cosign(#[from] icac_format::cosignature::CosignatureError),
    #[error(transparent)]
    State(#[from] super::state::StateError),
}

impl Witness {
    /// The whole add-checkpoint decision: parse, check the log's signature, then check
    /// and persist atomically; the cosignature line is returned only after the commit.
    /// Inconsistent checkpoints are recorded as evidence with the one held.
    pub async fn add_checkpoint(&self, body: &[u8], now_unix: u64) -> Result<String, AddError> {
        let req = AddCheckpoint::parse(body)?;
        let (head, text) = witness::verify_log_signature(&req.note, &self.logs)?;
        let mut line = String::new();
        let outcome = self
            .state
            .update(&head.origin, |latest: Option<&Latest>| {
                let held = latest.map(|l| (l.size, l.root));
                if let Err(refusal) = witness::check_consistency(&req, &head, held) {
                    return Err((refusal, latest.map(|l| l.note.clone())));
                }
                line = cosign(&text, &self.name, &self.key, now_unix)
                    .map_err(|e| (Refusal::Malformed(e.to_string()), None))?;
                let note = format!("{}{line}", req.note);
                Ok((
                    Latest {
                        size: head.size,
                        root: head.root,
                        note,
                    },
                    (),
                ))
            })
            .await?;
        match outcome {
            Ok(()) => Ok(line),
            Err((refusal, held)) => {
                if refusal.is_evidence() {
                    tracing::error!(origin = %head.origin, reason = %refusal, "inconsistent checkpoint kept as evidence");
                    self.state
                        .record_evidence(
                            &head.origin,
                            held.as_deref(),
                            &req.note,
                            req.old_size,
                            &refusal.to_string(),
                        )
                        .await?;
                }
                Err(refusal.into())
            }
        }
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = jiff::Timestamp::now().as_second().max(1) as u64;
    match w.add_checkpoint(&body, now).await {
        Ok(line) => text(StatusCode::OK, "text/plain; charset=utf-8", line),
        Err(AddError::Refused(Refusal::Conflict { latest, .. })) => text(
            StatusCode::CONFLICT,
            "text/x.tlog.size",
            format!("{latest}\n"),
        ),
        Err(AddError::Refused(r)) => text(
            StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST),
            "text/plain; charset=utf-8",
            format!("{r}\n"),
        ),
        Err(e) => {
            tracing::error!(error = %e, "add-checkpoint failed");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                "the witness could not record the checkpoint; nothing was cosigned\n".into(),
            )
        }
    }
}

async fn monitoring_checkpoint(
    State(w): State<Arc<Witness>>,
    Path(origin_hash): Path<String>,
) -> Response {
    let valid = origin_hash.len() == 64
        && origin_hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !valid {
        return text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "no such log\n".into(),
        );
    }
    match w.state.latest_by_hash(&origin_hash).await {
        Ok(Some(l)) => text(StatusCode::OK, "text/plain; charset=utf-8", l.note),
        Ok(None) => text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "this witness has cosigned no checkpoint of that log\n".into(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "reading witness state failed");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain; charset=utf-8",
                "unavailable\n".into(),
            )
        }
    }
}

/// The witness's router: bodies capped, every request bounded in time.
pub fn router(w: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(monitoring_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .with_state(w)
}
