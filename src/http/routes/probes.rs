//! `/healthz`, `/readyz`, `/metrics` and the OpenAPI document.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use icac_projections::compliance::{ComplianceReport, UnitCompliance};
use serde_json::{json, Value};

use crate::access::access_log::AccessLogHealth;
use crate::access::auth::{Permission, Principal};
use crate::http::metrics::{family, Metrics};
use crate::http::problem::{ApiResult, Kind, Problem};
use crate::http::{openapi, SharedState};
use crate::ledger::SequencerStats;
use crate::tlog::publisher::PublicationSnapshot;

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
    let mut out = String::new();
    command_families(&mut out, &state.metrics);
    append_families(&mut out, state.ledger.stats());
    verify_families(&mut out, &state.metrics);
    access_families(&mut out, &state.metrics, &state.access_log.health());
    if let Ok(head) = state.ledger.head().await {
        single(
            &mut out,
            "icac_ledger_size",
            "gauge",
            "Events in the ledger",
            head.position,
        );
    }
    let publication = state.publication.snapshot(std::time::SystemTime::now());
    if publication.configured {
        witness_families(&mut out, &publication);
    }
    if let Some(report) = compliance_figures(&state, &principal).await {
        compliance_family(&mut out, &report.total);
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

fn get(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

/// A family of one sample without labels.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    family(out, name, kind, help, &[("", value)]);
}

fn command_families(out: &mut String, m: &Metrics) {
    family(
        out,
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
}

/// The sequencer's counters: what this process appended to the ledger.
fn append_families(out: &mut String, s: &SequencerStats) {
    single(
        out,
        "icac_events_appended_total",
        "counter",
        "Events appended to the ledger by this process",
        get(&s.events),
    );
    single(
        out,
        "icac_batches_total",
        "counter",
        "Append batches written",
        get(&s.batches),
    );
    single(
        out,
        "icac_batch_conflicts_total",
        "counter",
        "Append requests refused for a stale stream version",
        get(&s.conflicts),
    );
    single(
        out,
        "icac_batches_failed_total",
        "counter",
        "Append batches that failed",
        get(&s.failed_batches),
    );
    single(
        out,
        "icac_batch_size_max",
        "gauge",
        "Largest batch written (events)",
        get(&s.largest_batch),
    );
    single(
        out,
        "icac_batch_size_mean",
        "gauge",
        "Mean events per batch (integer)",
        get(&s.events).checked_div(get(&s.batches)).unwrap_or(0),
    );
}

fn verify_families(out: &mut String, m: &Metrics) {
    single(
        out,
        "icac_verify_runs_total",
        "counter",
        "Ledger verifications run through the API",
        get(&m.verify_runs),
    );
    single(
        out,
        "icac_verify_broken_total",
        "counter",
        "Verifications that found a break",
        get(&m.verify_broken),
    );
    if let Some(last) = m.last_verify() {
        single(
            out,
            "icac_verify_last_intact",
            "gauge",
            "1 if the last verification found the ledger intact",
            u64::from(last.intact),
        );
    }
}

/// Who got in and who did not: failed authentications, the access log's health, the
/// public page's reports and refusals.
fn access_families(out: &mut String, m: &Metrics, access: &AccessLogHealth) {
    single(
        out,
        "icac_auth_failures_total",
        "counter",
        "Failed authentications",
        get(&m.auth_failures),
    );
    single(
        out,
        "icac_access_log_writable",
        "gauge",
        "1 while the access log accepts entries; 0 raises the alert (CJIS AU-5)",
        u64::from(access.writable),
    );
    single(
        out,
        "icac_access_log_write_failures_total",
        "counter",
        "Batches of access-log entries the database refused",
        access.write_failures,
    );
    single(
        out,
        "icac_public_reports_total",
        "counter",
        "Reports received through the public page",
        get(&m.public_reports),
    );
    single(
        out,
        "icac_public_rate_limited_total",
        "counter",
        "Public submissions refused by the rate limit",
        get(&m.public_rate_limited),
    );
}

fn witness_families(out: &mut String, publication: &PublicationSnapshot) {
    single(
        out,
        "icac_witnessed_checkpoint_age_seconds",
        "gauge",
        "Seconds since the last checkpoint the witness quorum cosigned (since start if none)",
        publication.seconds_since_witnessed.unwrap_or(0),
    );
    single(
        out,
        "icac_witnessed_checkpoint_size",
        "gauge",
        "Size of the last published (witnessed) checkpoint",
        publication.published_size.unwrap_or(0),
    );
    single(
        out,
        "icac_witness_refusals_total",
        "counter",
        "Checkpoints a witness refused to cosign",
        publication.witness_refusals,
    );
    single(
        out,
        "icac_witness_alert",
        "gauge",
        "1 when the witnessed checkpoint is older than the configured age or a witness refused",
        u64::from(publication.alert),
    );
}

/// Today's compliance counts, for a role that may read aggregates; none when the
/// role may not or the views cannot be read (the other families still answer).
async fn compliance_figures(
    state: &SharedState,
    principal: &Principal,
) -> Option<ComplianceReport> {
    if !principal.role.allows(Permission::ReadAggregates) {
        return None;
    }
    let today = crate::http::routes::queries::today();
    state
        .projections
        .compliance_counts(today, None, &state.config.deadline_policy)
        .await
        .ok()
}

fn compliance_family(out: &mut String, t: &UnitCompliance) {
    family(
        out,
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
