//! The JSON API under `/v1`. [`ROUTES`] is the one table of every route, the permission
//! it needs and its body; the OpenAPI document and the role-matrix test are built from it.

pub mod admin;
pub mod audit;
pub mod commands;
pub mod probes;
pub mod queries;

use axum::routing::{delete, get, post};
use axum::Router;

use super::auth::Permission;
use super::SharedState;

/// One route of the API.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    pub method: &'static str,
    /// axum path syntax (`{case_id}`); OpenAPI uses the same braces.
    pub path: &'static str,
    /// `None`: public (no token).
    pub permission: Option<Permission>,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Name of the request body schema (see `openapi::body_schema`).
    pub body: Option<&'static str>,
    /// Query parameters: (name, JSON type, required).
    pub query: &'static [(&'static str, &'static str, bool)],
    pub success: u16,
}

const fn r(
    method: &'static str,
    path: &'static str,
    permission: Option<Permission>,
    tag: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    query: &'static [(&'static str, &'static str, bool)],
    success: u16,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        permission,
        tag,
        summary,
        body,
        query,
        success,
    }
}

use Permission as P;

pub const ROUTES: &[RouteSpec] = &[
    r(
        "GET",
        "/v1/whoami",
        Some(P::Authenticated),
        "session",
        "The token's principal, role and unit",
        None,
        &[],
        200,
    ),
    // Units
    r(
        "GET",
        "/v1/units",
        Some(P::ReadDirectory),
        "units",
        "The unit directory",
        None,
        &[],
        200,
    ),
    r(
        "POST",
        "/v1/units",
        Some(P::ManageUnits),
        "units",
        "Register a law enforcement unit",
        Some("RegisterUnit"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/units/{ori}/rename",
        Some(P::ManageUnits),
        "units",
        "Rename a unit",
        Some("RenameUnit"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/units/{ori}/deactivate",
        Some(P::ManageUnits),
        "units",
        "Deactivate a unit",
        Some("DeactivateUnit"),
        &[],
        201,
    ),
    // Filing
    r(
        "POST",
        "/v1/notifications",
        Some(P::FileForUnit),
        "filing",
        "File a standardized notification (29-7e(c)); deconflicts CyberTips",
        Some("NotificationForm"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/complaints",
        Some(P::FileForUnit),
        "filing",
        "Log a complaint received by a unit (starts the 14-day clock)",
        Some("LogComplaint"),
        &[],
        201,
    ),
    // Cases
    r(
        "GET",
        "/v1/cases",
        Some(P::ReadCases),
        "cases",
        "List cases (unit reporters: own unit only)",
        None,
        &[
            ("unit", "string", false),
            ("compliance", "string", false),
            ("as_of", "string", false),
            ("offset", "integer", false),
            ("limit", "integer", false),
        ],
        200,
    ),
    r(
        "GET",
        "/v1/cases/{case_id}",
        Some(P::ReadCases),
        "cases",
        "A case's current view (access-logged)",
        None,
        &[],
        200,
    ),
    r(
        "GET",
        "/v1/cases/{case_id}/history",
        Some(P::ReadCases),
        "cases",
        "A case's timeline, replayed as of an instant or position (access-logged)",
        None,
        &[("as_of", "string", false), ("at_position", "string", false)],
        200,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/shares",
        Some(P::ShareFromUnit),
        "cases",
        "Record information shared (unit to Task Force, or Task Force to units)",
        Some("ShareInformation"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/assignments",
        Some(P::ManageCases),
        "cases",
        "Assign an investigator",
        Some("AssignInvestigator"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/status",
        Some(P::ManageCases),
        "cases",
        "Change a case's status",
        Some("ChangeStatus"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/arrests",
        Some(P::ManageCases),
        "cases",
        "Record an arrest and charges",
        Some("RecordArrest"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/referrals",
        Some(P::ManageCases),
        "cases",
        "Record a referral",
        Some("RecordReferral"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/referrals/{number}/decision",
        Some(P::ManageCases),
        "cases",
        "Record the decision on a referral",
        Some("DecideReferral"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/operations",
        Some(P::ManageCases),
        "cases",
        "Link the case to an undercover operation",
        Some("LinkOperation"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/urgent",
        Some(P::ManageCases),
        "cases",
        "Flag the case urgent",
        Some("SetUrgent"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/cases/{case_id}/corrections",
        Some(P::ManageCases),
        "cases",
        "Record a correction of an earlier event (nothing is edited)",
        Some("RecordCorrection"),
        &[],
        201,
    ),
    // Compliance and reports
    r(
        "GET",
        "/v1/compliance",
        Some(P::ReadCompliance),
        "compliance",
        "14-day compliance per notification and unit (unit reporters: own unit)",
        None,
        &[("as_of", "string", false), ("unit", "string", false)],
        200,
    ),
    r(
        "GET",
        "/v1/compliance/summary",
        Some(P::ReadAggregates),
        "compliance",
        "14-day compliance counts only",
        None,
        &[("as_of", "string", false)],
        200,
    ),
    r(
        "GET",
        "/v1/reports/annual",
        Some(P::ReadAggregates),
        "reports",
        "The annual report to the General Assembly (29-7e(d)), attested by a signed checkpoint",
        None,
        &[
            ("from", "string", false),
            ("to", "string", false),
            ("suppression_threshold", "integer", false),
            ("at_position", "integer", false),
            ("format", "string", false),
        ],
        200,
    ),
    // Operations
    r(
        "GET",
        "/v1/operations",
        Some(P::ManageOperations),
        "operations",
        "Undercover operations",
        None,
        &[],
        200,
    ),
    r(
        "POST",
        "/v1/operations",
        Some(P::ManageOperations),
        "operations",
        "Plan an operation",
        Some("PlanOperation"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/operations/{operation_id}/conduct",
        Some(P::ManageOperations),
        "operations",
        "Record how an operation was conducted",
        Some("RecordConduct"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/operations/{operation_id}/conclude",
        Some(P::ManageOperations),
        "operations",
        "Conclude an operation",
        Some("ConcludeOperation"),
        &[],
        201,
    ),
    // Public reports
    r(
        "GET",
        "/v1/public-reports",
        Some(P::HandlePublicReports),
        "public reports",
        "The intake queue of public reports",
        None,
        &[],
        200,
    ),
    r(
        "POST",
        "/v1/public-reports",
        Some(P::HandlePublicReports),
        "public reports",
        "Record a report taken by the hotline",
        Some("PublicReportIntake"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/public-reports/{receipt}/triage",
        Some(P::HandlePublicReports),
        "public reports",
        "Triage a public report",
        Some("TriagePublicReport"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/public-reports/{receipt}/route",
        Some(P::HandlePublicReports),
        "public reports",
        "Route a public report to a unit (opens its case, starts its clock)",
        Some("RoutePublicReport"),
        &[],
        201,
    ),
    r(
        "POST",
        "/v1/public-reports/{receipt}/close",
        Some(P::HandlePublicReports),
        "public reports",
        "Close a public report without routing",
        Some("ClosePublicReport"),
        &[],
        201,
    ),
    // Audit
    r(
        "GET",
        "/v1/ledger/status",
        Some(P::ReadLedgerStatus),
        "audit",
        "Ledger size, head, last checkpoint and verification",
        None,
        &[],
        200,
    ),
    r(
        "POST",
        "/v1/audit/verify",
        Some(P::Audit),
        "audit",
        "Verify every hash, link, signature and sequence",
        None,
        &[],
        200,
    ),
    r(
        "GET",
        "/v1/audit/checkpoints/latest",
        Some(P::Audit),
        "audit",
        "The latest signed checkpoint",
        None,
        &[],
        200,
    ),
    r(
        "POST",
        "/v1/audit/checkpoints",
        Some(P::Audit),
        "audit",
        "Cut and sign a checkpoint now",
        None,
        &[],
        201,
    ),
    r(
        "GET",
        "/v1/audit/proofs/inclusion",
        Some(P::Audit),
        "audit",
        "Inclusion proof of one event",
        None,
        &[("position", "integer", true)],
        200,
    ),
    r(
        "GET",
        "/v1/audit/proofs/consistency",
        Some(P::Audit),
        "audit",
        "Consistency proof between two ledger sizes",
        None,
        &[
            ("old_size", "integer", true),
            ("new_size", "integer", false),
        ],
        200,
    ),
    r(
        "GET",
        "/v1/audit/export",
        Some(P::Audit),
        "audit",
        "Export bundle (JSON Lines) for offline verification",
        None,
        &[("from", "integer", false), ("to", "integer", false)],
        200,
    ),
    r(
        "GET",
        "/v1/audit/access-log",
        Some(P::Audit),
        "audit",
        "The hash-chained access log",
        None,
        &[("after", "integer", false), ("limit", "integer", false)],
        200,
    ),
    r(
        "GET",
        "/v1/audit/access-log/verify",
        Some(P::Audit),
        "audit",
        "Verify the access log's hash chain",
        None,
        &[],
        200,
    ),
    // Tokens
    r(
        "GET",
        "/v1/tokens",
        Some(P::ManageTokens),
        "tokens",
        "List tokens (never secrets)",
        None,
        &[],
        200,
    ),
    r(
        "POST",
        "/v1/tokens",
        Some(P::ManageTokens),
        "tokens",
        "Issue a token (the secret is shown once)",
        Some("IssueToken"),
        &[],
        201,
    ),
    r(
        "DELETE",
        "/v1/tokens/{token_id}",
        Some(P::ManageTokens),
        "tokens",
        "Revoke a token",
        None,
        &[],
        200,
    ),
    // Service
    r(
        "GET",
        "/v1/openapi.json",
        None,
        "service",
        "This document",
        None,
        &[],
        200,
    ),
    r(
        "GET",
        "/healthz",
        None,
        "service",
        "Liveness",
        None,
        &[],
        200,
    ),
    r(
        "GET",
        "/readyz",
        None,
        "service",
        "Readiness (database reachable)",
        None,
        &[],
        200,
    ),
    r(
        "GET",
        "/metrics",
        None,
        "service",
        "Prometheus metrics",
        None,
        &[],
        200,
    ),
];

pub fn router() -> Router<SharedState> {
    use commands as c;
    use queries as q;
    Router::new()
        .route("/v1/whoami", get(admin::whoami))
        .route("/v1/units", get(q::list_units).post(c::register_unit))
        .route("/v1/units/{ori}/rename", post(c::rename_unit))
        .route("/v1/units/{ori}/deactivate", post(c::deactivate_unit))
        .route("/v1/notifications", post(c::file))
        .route("/v1/complaints", post(c::log_complaint))
        .route("/v1/cases", get(q::list_cases))
        .route("/v1/cases/{case_id}", get(q::get_case))
        .route("/v1/cases/{case_id}/history", get(q::case_history_route))
        .route("/v1/cases/{case_id}/shares", post(c::share))
        .route("/v1/cases/{case_id}/assignments", post(c::assign))
        .route("/v1/cases/{case_id}/status", post(c::change_status))
        .route("/v1/cases/{case_id}/arrests", post(c::record_arrest))
        .route("/v1/cases/{case_id}/referrals", post(c::record_referral))
        .route(
            "/v1/cases/{case_id}/referrals/{number}/decision",
            post(c::decide_referral),
        )
        .route("/v1/cases/{case_id}/operations", post(c::link_operation))
        .route("/v1/cases/{case_id}/urgent", post(c::set_urgent))
        .route(
            "/v1/cases/{case_id}/corrections",
            post(c::record_correction),
        )
        .route("/v1/compliance", get(q::compliance))
        .route("/v1/compliance/summary", get(q::compliance_summary))
        .route("/v1/reports/annual", get(q::annual_report))
        .route(
            "/v1/operations",
            get(q::list_operations).post(c::plan_operation),
        )
        .route(
            "/v1/operations/{operation_id}/conduct",
            post(c::conduct_operation),
        )
        .route(
            "/v1/operations/{operation_id}/conclude",
            post(c::conclude_operation),
        )
        .route(
            "/v1/public-reports",
            get(q::intake_queue).post(c::intake_public_report),
        )
        .route(
            "/v1/public-reports/{receipt}/triage",
            post(c::triage_public_report),
        )
        .route(
            "/v1/public-reports/{receipt}/route",
            post(c::route_public_report),
        )
        .route(
            "/v1/public-reports/{receipt}/close",
            post(c::close_public_report),
        )
        .route("/v1/ledger/status", get(audit::ledger_status))
        .route("/v1/audit/verify", post(audit::verify))
        .route(
            "/v1/audit/checkpoints/latest",
            get(audit::latest_checkpoint),
        )
        .route("/v1/audit/checkpoints", post(audit::cut_checkpoint))
        .route("/v1/audit/proofs/inclusion", get(audit::inclusion_proof))
        .route(
            "/v1/audit/proofs/consistency",
            get(audit::consistency_proof),
        )
        .route("/v1/audit/export", get(audit::export))
        .route("/v1/audit/access-log", get(audit::access_log))
        .route("/v1/audit/access-log/verify", get(audit::verify_access_log))
        .route(
            "/v1/tokens",
            get(admin::list_tokens).post(admin::issue_token),
        )
        .route("/v1/tokens/{token_id}", delete(admin::revoke_token))
        .route("/v1/openapi.json", get(probes::openapi))
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
}
