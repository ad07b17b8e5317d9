//! `/healthz`, `/readyz`, `/metrics` and the OpenAPI document.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::http::auth::{Permission, Principal};
use crate::http::metrics::family;
use crate::http::problem::{ApiResult, Kind, Problem};
use crate::http::{openapi, SharedState};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<SharedState>) -> ApiResult<Json<Value>> {
    // A service whose access log refuses entries refuses every request with a token or
    // a session (fail closed): it is not ready. Asking rechecks the log.
    if !state.access_log.health().writable && !state.access_log.recheck().await {
        return Err(Problem::new(
            Kind::NotYetAvailable,
            "the access log does not accept entries, so requests with a token or session are refused",
        ));
    }
    match state.ledger.ready().await {
        // Ready or not, and nothing more: the ledger's size is for those with a token
        // (`/v1/ledger/status`, `/metrics`).
        Ok(_) => Ok(Json(json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            Err(Problem::new(
                Kind::NotYetAvailable,
                "the database is not reachable or does not accept writes",
            ))
        }
    }
}

pub async fn openapi() -> ApiResult<Json<&'static Value>> {
    openapi::document().map(Json)
}

/// Needs a token with `read_ledger_status`; the compliance figures only for a role
/// that may read aggregates.
pub async fn metrics(State(state): State<SharedState>, principal: Principal) -> Response {
    let m = &state.metrics;
    let s = state.ledger.stats();
    let mut out = String::new();
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    family(
        &mut out,
        "icac_commands_total",
        "counter",
        "Commands received through the API, by outcome",
        &[
            ("outcome=\"accepted\"", get(&m.commands_ok)),
            ("outcome=\"rejected\"", get(&m.commands_rejected)),
            ("outcome=\"invalid\"", get(&m.commands_invalid)),
            ("outcome=\"conflict\"", get(&m.commands_conflict)),
            ("outcome=\"failed\"", get(&m.commands_failed)),
        ],
    );
    family(
        &mut out,
        "icac_events_appended_total",
        "counter",
        "Events appended to the ledger by this process",
        &[("", get(&s.events))],
    );
    family(
        &mut out,
        "icac_batches_total",
        "counter",
        "Append batches written",
        &[("", get(&s.batches))],
    );
    family(
        &mut out,
        "icac_batch_conflicts_total",
        "counter",
        "Append requests refused for a stale stream version",
        &[("", get(&s.conflicts))],
    );
    family(
        &mut out,
        "icac_batches_failed_total",
        "counter",
        "Append batches that failed",
        &[("", get(&s.failed_batches))],
    );
    family(
        &mut out,
        "icac_batch_size_max",
        "gauge",
        "Largest batch written (events)",
        &[("", get(&s.largest_batch))],
    );
    let avg = get(&s.events).checked_div(get(&s.batches)).unwrap_or(0);
    family(
        &mut out,
        "icac_batch_size_mean",
        "gauge",
        "Mean events per batch (integer)",
        &[("", avg)],
    );
    family(
        &mut out,
        "icac_verify_runs_total",
        "counter",
        "Ledger verifications run through the API",
        &[("", get(&m.verify_runs))],
    );
    family(
        &mut out,
        "icac_verify_broken_total",
        "counter",
        "Verifications that found a break",
        &[("", get(&m.verify_broken))],
    );
    if let Some(last) = m.last_verify() {
        family(
            &mut out,
            "icac_verify_last_intact",
            "gauge",
            "1 if the last verification found the ledger intact",
            &[("", u64::from(last.intact))],
        );
    }
    family(
        &mut out,
        "icac_auth_failures_total",
        "counter",
        "Failed authentications",
        &[("", get(&m.auth_failures))],
    );
    let access = state.access_log.health();
    family(
        &mut out,
        "icac_access_log_writable",
        "gauge",
        "1 while the access log accepts entries; 0 raises the alert (CJIS AU-5)",
        &[("", u64::from(access.writable))],
    );
    family(
        &mut out,
        "icac_access_log_write_failures_total",
        "counter",
        "Batches of access-log entries the database refused",
        &[("", access.write_failures)],
    );
    family(
        &mut out,
        "icac_public_reports_total",
        "counter",
        "Reports received through the public page",
        &[("", get(&m.public_reports))],
    );
    family(
        &mut out,
        "icac_public_rate_limited_total",
        "counter",
        "Public submissions refused by the rate limit",
        &[("", get(&m.public_rate_limited))],
    );
    if let Ok(head) = state.ledger.head().await {
        family(
            &mut out,
            "icac_ledger_size",
            "gauge",
            "Events in the ledger",
            &[("", head.position)],
        );
    }
    let publication = state.publication.snapshot(std::time::SystemTime::now());
    if publication.configured {
        family(
            &mut out,
            "icac_witnessed_checkpoint_age_seconds",
            "gauge",
            "Seconds since the last checkpoint the witness quorum cosigned (since start if none)",
            &[("", publication.seconds_since_witnessed.unwrap_or(0))],
        );
        family(
            &mut out,
            "icac_witnessed_checkpoint_size",
            "gauge",
            "Size of the last published (witnessed) checkpoint",
            &[("", publication.published_size.unwrap_or(0))],
        );
        family(
            &mut out,
            "icac_witness_refusals_total",
            "counter",
            "Checkpoints a witness refused to cosign",
            &[("", publication.witness_refusals)],
        );
        family(
            &mut out,
            "icac_witness_alert",
            "gauge",
            "1 when the witnessed checkpoint is older than the configured age or a witness refused",
            &[("", u64::from(publication.alert))],
        );
    }
    let today = crate::http::routes::queries::today();
    let figures = principal.role.allows(Permission::ReadAggregates);
    let report = match figures {
        true => state
            .projections
            .compliance_counts(today, None, &state.config.deadline_policy)
            .await
            .ok(),
        false => None,
    };
    if let Some(report) = report {
        let t = &report.total;
        family(
            &mut out,
            "icac_compliance_notifications",
            "gauge",
            "Notifications by 14-day status, as of today",
            &[
                ("status=\"on_time\"", t.on_time),
                ("status=\"late\"", t.late),
                ("status=\"pending\"", t.pending),
                ("status=\"due_soon\"", t.due_soon),
                ("status=\"overdue\"", t.overdue),
                ("status=\"incomplete_form\"", t.incomplete_form),
            ],
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
