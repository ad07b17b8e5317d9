//! The log side of C2SP tlog-witness: sends `add-checkpoint` to one witness and reads
//! its answer. Every request has a deadline; an answer is read up to a size limit.

use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use icac_format::merkle::Hash32;
use icac_format::witness::AddCheckpoint;

/// Longest answer read from a witness (a few signature lines).
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// What a witness said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200: its cosignature lines, each ending in a newline.
    Cosigned(String),
    /// 409: the size of the latest checkpoint it cosigned for us.
    Conflict(u64),
    /// Any other status: the witness refuses this checkpoint. Never retried as is.
    Refused { status: u16, body: String },
}

/// Why no answer came (the witness may be down or slow): worth retrying later.
#[derive(Debug, thiserror::Error)]
#[error("witness {url} unreachable: {reason}")]
pub struct Unreachable {
    pub url: String,
    pub reason: String,
}

/// One HTTP client for all witnesses (keep-alive, per-request deadline). Plain HTTP/1.1
/// through hyper, which the server already links; redirects are not followed.
#[derive(Clone)]
pub struct WitnessClient {
    http: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl WitnessClient {
    pub fn new(timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        Self {
            http: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }

    /// POSTs `<submission prefix>/add-checkpoint`.
    pub async fn add_checkpoint(
        &self,
        prefix: &str,
        old_size: u64,
        proof: &[Hash32],
        note: &str,
    ) -> Result<Answer, Unreachable> {
        let url = format!("{}/add-checkpoint", prefix.trim_end_matches('/'));
        let unreachable = |reason: String| Unreachable {
            url: url.clone(),
            reason,
        };
        let request = Request::post(&url)
            .body(Full::new(Bytes::from(AddCheckpoint::encode(
                old_size, proof, note,
            ))))
            .map_err(|e| unreachable(e.to_string()))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = read_limited(response.into_body()).await?;
            Ok::<_, String>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {:?}", self.timeout)))?
            .map_err(unreachable)?;
        Ok(match status {
            200 => Answer::Cosigned(body),
            409 => match body.trim_end_matches('\n').parse::<u64>() {
                Ok(size) => Answer::Conflict(size),
                Err(_) => Answer::Refused {
                    status,
                    body: format!("409 without a size: {}", echo(&body)),
                },
            },
            // A server error or overload is the witness being down, not a refusal.
            500..=599 => return Err(unreachable(format!("status {status}: {}", echo(&body)))),
            _ => Answer::Refused {
                status,
                body: echo(&body),
            },
        })
    }
}

fn echo(s: &str) -> String {
    s.chars().take(200).collect()
}

async fn read_limited(body: Incoming) -> Result<String, String> {
    let bytes = Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<LengthLimitError>() {
                format!("answer longer than {MAX_ANSWER_BYTES} bytes")
            } else {
                e.to_string()
            }
        })?
        .to_bytes();
    String::from_utf8(bytes.to_vec()).map_err(|_| "answer is not UTF-8".to_owned())
}
