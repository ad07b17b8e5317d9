//! The JSON API under `/v1`. [`ROUTES`] is the one table of every route, the permission
//! it needs and its body; the OpenAPI document and the role-matrix test are built from it.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod commands;
pub mod deconfliction;
pub mod probes;
pub mod queries;
pub mod tips;
pub mod tlog;

use axum::routing::{delete, get, post, MethodRouter};
use axum::{Extension, Router};
use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::extract::RoutePermission;
use super::{openapi, requests, SharedState};
use crate::access::auth::Permission;

/// A route's HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// Adds the request body's schema to the generator and returns the schema (a `$ref`).
pub type BodySchema = fn(&mut SchemaGenerator) -> Schema;

/// The query string's type as an inline object schema.
pub type QuerySchema = fn(&mut SchemaGenerator) -> Schema;

/// One route of the API: what the router serves and what OpenAPI documents, in one place.
#[derive(Clone, Copy)]
pub struct RouteSpec {
    pub method: Method,
    /// axum path syntax (`{case_id}`); OpenAPI uses the same braces.
    pub path: &'static str,
    /// `None`: public (no token).
    pub permission: Option<Permission>,
    pub tag: &'static str,
    pub summary: &'static str,
    /// The request body's type (see `requests`), as a schema.
    pub body: Option<BodySchema>,
    /// The query string's type, as a schema (an object: one property a parameter).
    pub query: Option<QuerySchema>,
    pub success: u16,
    /// Media types of the success response.
    pub produces: &'static [&'static str],
    /// The handler, with its method.
    pub handler: fn() -> MethodRouter<SharedState>,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

const JSON: &[&str] = &["application/json"];

const fn route(
    method: Method,
    path: &'static str,
    permission: Option<Permission>,
    tag: &'static str,
    summary: &'static str,
    handler: fn() -> MethodRouter<SharedState>,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        permission,
        tag,
        summary,
        body: None,
        query: None,
        success: match method {
            Method::Post => 201,
            _ => 200,
        },
        produces: JSON,
        handler,
    }
}

impl RouteSpec {
    const fn body(mut self, body: BodySchema) -> Self {
        self.body = Some(body);
        self
    }

    const fn query(mut self, query: QuerySchema) -> Self {
        self.query = Some(query);
        self
    }

    /// A `POST` that creates nothing answers 200.
    const fn ok(mut self) -> Self {
        self.success = 200;
        self
    }

    const fn produces(mut self, produces: &'static [&'static str]) -> Self {
        self.produces = produces;
        self
    }
}

fn body<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    T::json_schema(generator)
}

use requests as b;
use Method::{Delete as DELETE, Get as GET, Post as POST};
use Permission as P;

/// Every route of the API. `router` serves exactly these; `openapi` documents exactly these.
pub const ROUTES: &[RouteSpec] = &[
    route(
        GET,
        "/v1/whoami",
        Some(P::Authenticated),
        "session",
        "The token's principal, role and unit",
        || get(admin::whoami),
    ),
    // Units
    route(
        GET,
        "/v1/units",
        Some(P::ReadDirectory),
        "units",
        "The unit directory",
        || get(queries::list_units),
    ),
    route(
        POST,
        "/v1/units",
        Some(P::ManageUnits),
        "units",
        "Register a law enforcement unit",
        || post(commands::register_unit),
    )
    .body(body::<b::RegisterUnitBody>),
    route(
        POST,
        "/v1/units/{ori}/rename",
        Some(P::ManageUnits),
        "units",
        "Rename a unit",
        || post(commands::unit::<b::RenameUnitBody>),
    )
    .body(body::<b::RenameUnitBody>),
    route(
        POST,
        "/v1/units/{ori}/deactivate",
        Some(P::ManageUnits),
        "units",
        "Deactivate a unit",
        || post(commands::unit::<b::DeactivateUnitBody>),
    )
    .body(body::<b::DeactivateUnitBody>),
    // Filing
    route(
        POST,
        "/v1/notifications",
        Some(P::FileForUnit),
        "filing",
        "File a standardized notification (29-7e(c)); deconflicts CyberTips",
        || post(commands::file),
    )
    .body(openapi::notification_form),
    route(
        POST,
        "/v1/notifications/check",
        Some(P::FileForUnit),
        "filing",
        "Check a notification as filing would (the same validation and errors); records nothing",
        || post(commands::check_notification),
    )
    .body(openapi::notification_form)
    .ok(),
    route(
        POST,
        "/v1/complaints",
        Some(P::FileForUnit),
        "filing",
        "Log a complaint received by a unit (starts the 14-day clock)",
        || post(commands::log_complaint),
    )
    .body(body::<b::LogComplaintBody>),
    // Cases
    route(
        GET,
        "/v1/cases",
        Some(P::ReadCases),
        "cases",
        "List cases (unit reporters: own unit only)",
        || get(queries::list_cases),
    )
    .query(schema::<queries::CaseListQuery>),
    route(
        GET,
        "/v1/cases/{case_id}",
        Some(P::ReadCases),
        "cases",
        "A case's current view (access-logged)",
        || get(queries::get_case),
    ),
    route(
        GET,
        "/v1/cases/{case_id}/history",
        Some(P::ReadCases),
        "cases",
        "A case's timeline, replayed as of an instant or position (access-logged)",
        || get(queries::case_history_route),
    )
    .query(schema::<queries::HistoryQuery>),
    route(
        GET,
        "/v1/cases/{case_id}/deconfliction",
        Some(P::ReadCases),
        "cases",
        "Deconfliction matches on the case: which other unit holds the same CyberTip or suspect identifier, and whom to call (never the other unit's case; access-logged)",
        || get(deconfliction::case_matches),
    ),
    route(
        GET,
        "/v1/deconfliction/matches",
        Some(P::ManageCases),
        "cases",
        "Task Force: every deconfliction match, with both units' cases (access-logged)",
        || get(deconfliction::all_matches),
    ),
    route(
        GET,
        "/v1/deconfliction/unchecked",
        Some(P::ManageCases),
        "cases",
        "Task Force: cases filed with deconfliction_checked false, still to follow up (access-logged)",
        || get(deconfliction::not_checked),
    )
    .query(schema::<deconfliction::UncheckedQuery>),
    route(
        POST,
        "/v1/deconfliction/unchecked/{case_id}/follow-up",
        Some(P::ManageCases),
        "cases",
        "Task Force: record the follow-up of a case filed with deconfliction_checked false",
        || post(deconfliction::follow_up),
    )
    .body(body::<b::FollowUpBody>),
    route(
        POST,
        "/v1/cases/{case_id}/shares",
        Some(P::ShareFromUnit),
        "cases",
        "Record information shared (unit to Task Force, or Task Force to units)",
        || post(commands::case::<b::ShareInformationBody>),
    )
    .body(body::<b::ShareInformationBody>),
    route(
        POST,
        "/v1/cases/{case_id}/assignments",
        Some(P::ManageCases),
        "cases",
        "Assign an investigator",
        || post(commands::case::<b::AssignInvestigatorBody>),
    )
    .body(body::<b::AssignInvestigatorBody>),
    route(
        POST,
        "/v1/cases/{case_id}/status",
        Some(P::ManageCases),
        "cases",
        "Change a case's status",
        || post(commands::case::<b::ChangeStatusBody>),
    )
    .body(body::<b::ChangeStatusBody>),
    route(
        POST,
        "/v1/cases/{case_id}/arrests",
        Some(P::ManageCases),
        "cases",
        "Record an arrest and charges",
        || post(commands::case::<b::RecordArrestBody>),
    )
    .body(body::<b::RecordArrestBody>),
    route(
        POST,
        "/v1/cases/{case_id}/referrals",
        Some(P::ManageCases),
        "cases",
        "Record a referral",
        || post(commands::case::<b::RecordReferralBody>),
    )
    .body(body::<b::RecordReferralBody>),
    route(
        POST,
        "/v1/cases/{case_id}/sharing-cadence",
        Some(P::ManageCases),
        "cases",
        "Set how often the unit owes the Task Force an update on this case (1 to 365 days; 29-7e(c))",
        || post(commands::case::<b::SetSharingCadenceBody>),
    )
    .body(body::<b::SetSharingCadenceBody>),
    route(
        POST,
        "/v1/cases/{case_id}/victims",
        Some(P::ManageCases),
        "cases",
        "Record a child the case learned of after the filing (age band; date identified if known)",
        || post(commands::case::<b::AddVictimBody>),
    )
    .body(body::<b::AddVictimBody>),
    route(
        POST,
        "/v1/cases/{case_id}/victim-identifications",
        Some(P::ManageCases),
        "cases",
        "Record that a child of the case was identified, and when",
        || post(commands::case::<b::IdentifyVictimBody>),
    )
    .body(body::<b::IdentifyVictimBody>),
    route(
        POST,
        "/v1/cases/{case_id}/prosecution-outcomes",
        Some(P::ManageCases),
        "cases",
        "Record a prosecution outcome of an arrest (charges filed, convicted, dismissed, nolle; a nolle starts the 13-month erasure clock of C.G.S. 54-142a)",
        || post(commands::case::<b::RecordOutcomeBody>),
    )
    .body(body::<b::RecordOutcomeBody>),
    route(
        POST,
        "/v1/cases/{case_id}/referrals/{number}/decision",
        Some(P::ManageCases),
        "cases",
        "Record the decision on a referral",
        || post(commands::decide_referral),
    )
    .body(body::<b::DecideReferralBody>),
    route(
        POST,
        "/v1/cases/{case_id}/operations",
        Some(P::ManageCases),
        "cases",
        "Link the case to an undercover operation",
        || post(commands::case::<b::LinkOperationBody>),
    )
    .body(body::<b::LinkOperationBody>),
    route(
        POST,
        "/v1/cases/{case_id}/urgent",
        Some(P::ManageCases),
        "cases",
        "Flag the case urgent",
        || post(commands::case::<b::SetUrgentBody>),
    )
    .body(body::<b::SetUrgentBody>),
    route(
        POST,
        "/v1/cases/{case_id}/corrections",
        Some(P::ManageCases),
        "cases",
        "Record a correction of an earlier event (nothing is edited)",
        || post(commands::case::<b::RecordCorrectionBody>),
    )
    .body(body::<b::RecordCorrectionBody>),
    route(
        POST,
        "/v1/cases/{case_id}/erase",
        Some(P::ErasePersonalData),
        "cases",
        "Erase the case's personal values under a legal reason (C.G.S. 54-142a); the chain keeps verifying",
        || post(commands::erase_personal_data),
    )
    .body(body::<b::ErasePersonalDataBody>),
    // Compliance and reports
    route(
        GET,
        "/v1/compliance",
        Some(P::ReadCompliance),
        "compliance",
        "14-day compliance per notification and unit (unit reporters: own unit)",
        || get(queries::compliance),
    )
    .query(schema::<queries::ComplianceQuery>),
    route(
        GET,
        "/v1/compliance/sharing",
        Some(P::ReadCompliance),
        "compliance",
        "Continued sharing (29-7e(c)): each open case's next update from its unit, current / due soon / overdue (unit reporters: own unit)",
        || get(queries::sharing),
    )
    .query(schema::<queries::SharingQuery>),
    route(
        GET,
        "/v1/compliance/summary",
        Some(P::ReadAggregates),
        "compliance",
        "14-day compliance counts only",
        || get(queries::compliance_summary),
    )
    .query(schema::<queries::SummaryQuery>),
    route(
        GET,
        "/v1/reports/annual",
        Some(P::ReadDrafts),
        "reports",
        "A draft of the annual report (29-7e(d)) at any dates or position, watermarked; only for roles that read every case",
        || get(queries::annual_report),
    )
    .query(schema::<queries::AnnualQuery>)
    .produces(&["application/json", "text/html", "text/csv", "text/markdown"]),
    route(
        GET,
        "/v1/reports/releases",
        Some(P::ReadAggregates),
        "reports",
        "Releases of the annual report: period, ledger position, the release event",
        || get(queries::list_releases),
    ),
    route(
        POST,
        "/v1/reports/releases",
        Some(P::PublishReleases),
        "reports",
        "Publish a release (whole quarters; jointly suppressed and audited against every earlier release; 422 naming the quarter or figure when refused)",
        || post(commands::publish_release),
    )
    .body(body::<b::PublishReleaseBody>),
    // Operations
    route(
        GET,
        "/v1/operations",
        Some(P::ManageOperations),
        "operations",
        "Undercover operations",
        || get(queries::list_operations),
    ),
    route(
        POST,
        "/v1/operations",
        Some(P::ManageOperations),
        "operations",
        "Plan an operation",
        || post(commands::plan_operation),
    )
    .body(body::<b::PlanOperationBody>),
    route(
        POST,
        "/v1/operations/{operation_id}/conduct",
        Some(P::ManageOperations),
        "operations",
        "Record how an operation was conducted",
        || post(commands::operation::<b::RecordConductBody>),
    )
    .body(body::<b::RecordConductBody>),
    route(
        POST,
        "/v1/operations/{operation_id}/conclude",
        Some(P::ManageOperations),
        "operations",
        "Conclude an operation",
        || post(commands::operation::<b::ConcludeOperationBody>),
    )
    .body(body::<b::ConcludeOperationBody>),
    // CyberTips at the Task Force
    route(
        GET,
        "/v1/tips",
        Some(P::ReadCases),
        "tips",
        "CyberTips at the Task Force with their dissemination status (unit reporters: tips disseminated to their unit)",
        || get(tips::list_tips),
    ),
    route(
        POST,
        "/v1/tips",
        Some(P::ManageCases),
        "tips",
        "Receive a CyberTipline report made available by NCMEC",
        || post(tips::receive_tip),
    )
    .body(body::<b::ReceiveTipBody>),
    route(
        POST,
        "/v1/tips/{cybertip_number}/triage",
        Some(P::ManageCases),
        "tips",
        "Triage a tip: confirm or change NCMEC's priority",
        || post(tips::triage_tip),
    )
    .body(body::<b::TriageTipBody>),
    route(
        POST,
        "/v1/tips/{cybertip_number}/disseminate",
        Some(P::ManageCases),
        "tips",
        "Disseminate a tip to an active unit",
        || post(tips::disseminate_tip),
    )
    .body(body::<b::DisseminateTipBody>),
    route(
        POST,
        "/v1/tips/{cybertip_number}/acknowledge",
        Some(P::FileForUnit),
        "tips",
        "The receiving unit acknowledges the tip: its case opens and its 14-day clock starts",
        || post(tips::acknowledge_tip),
    )
    .body(body::<b::AcknowledgeTipBody>),
    // Public reports
    route(
        GET,
        "/v1/public-reports",
        Some(P::HandlePublicReports),
        "public reports",
        "The intake queue of public reports (open ones, oldest first, paged)",
        || get(queries::intake_queue),
    )
    .query(schema::<queries::IntakeQuery>),
    route(
        POST,
        "/v1/public-reports",
        Some(P::HandlePublicReports),
        "public reports",
        "Record a report taken by the hotline",
        || post(commands::intake_public_report),
    )
    .body(body::<b::PublicReportIntakeBody>),
    route(
        POST,
        "/v1/public-reports/{receipt}/triage",
        Some(P::HandlePublicReports),
        "public reports",
        "Triage a public report",
        || post(commands::public_report::<b::TriagePublicReportBody>),
    )
    .body(body::<b::TriagePublicReportBody>),
    route(
        POST,
        "/v1/public-reports/{receipt}/route",
        Some(P::HandlePublicReports),
        "public reports",
        "Route a public report to a unit (opens its case, starts its clock)",
        || post(commands::public_report::<b::RoutePublicReportBody>),
    )
    .body(body::<b::RoutePublicReportBody>),
    route(
        POST,
        "/v1/public-reports/{receipt}/close",
        Some(P::HandlePublicReports),
        "public reports",
        "Close a public report without routing",
        || post(commands::public_report::<b::ClosePublicReportBody>),
    )
    .body(body::<b::ClosePublicReportBody>),
    // Audit
    route(
        GET,
        "/v1/ledger/status",
        Some(P::ReadLedgerStatus),
        "audit",
        "Ledger size, head, last checkpoint and verification",
        || get(audit::ledger_status),
    ),
    route(
        GET,
        "/v1/cases/{case_id}/receipt",
        Some(P::ReadCases),
        "cases",
        "The filing receipt (C2SP tlog-proof) once a witnessed checkpoint covers it",
        || get(tlog::receipt),
    )
    .produces(&["text/plain"]),
    // The log as C2SP tlog-tiles (docs/LEDGER_FORMAT.md section 13)
    route(
        GET,
        "/tlog/checkpoint",
        None,
        "tlog",
        "The latest published (witnessed) checkpoint",
        || get(tlog::checkpoint),
    )
    .produces(&["text/plain"]),
    route(
        GET,
        "/tlog/tile/{*path}",
        None,
        "tlog",
        "A hash tile or entry bundle (tile/<L>/<N>[.p/<W>], tile/entries/<N>[.p/<W>])",
        || get(tlog::tile),
    )
    .produces(&["application/octet-stream"]),
    route(
        POST,
        "/v1/audit/verify",
        Some(P::Audit),
        "audit",
        "Verify every hash, link, signature and sequence",
        || post(audit::verify),
    )
    .ok(),
    route(
        GET,
        "/v1/audit/checkpoints/latest",
        Some(P::Audit),
        "audit",
        "The latest signed checkpoint",
        || get(audit::latest_checkpoint),
    ),
    route(
        POST,
        "/v1/audit/checkpoints",
        Some(P::Audit),
        "audit",
        "Cut and sign a checkpoint now",
        || post(audit::cut_checkpoint),
    ),
    route(
        GET,
        "/v1/audit/proofs/inclusion",
        Some(P::Audit),
        "audit",
        "Inclusion proof of one event",
        || get(audit::inclusion_proof),
    )
    .query(schema::<audit::InclusionQuery>),
    route(
        GET,
        "/v1/audit/proofs/consistency",
        Some(P::Audit),
        "audit",
        "Consistency proof between two ledger sizes",
        || get(audit::consistency_proof),
    )
    .query(schema::<audit::ConsistencyQuery>),
    route(
        GET,
        "/v1/audit/reviews/{week}",
        Some(P::ReadAccessReview),
        "audit",
        "The weekly review of the access log (CJIS AU-6): failed logons, lockouts, privileged actions, exports, reveals, erasures; week as 2026-W49 (UTC)",
        || get(audit::access_review),
    ),
    route(
        POST,
        "/v1/audit/reviews/{week}/acknowledgement",
        Some(P::AcknowledgeAccessReview),
        "audit",
        "Acknowledge the weekly review as read (by its sha256); the acknowledgement is an access-log entry",
        || post(audit::acknowledge_access_review),
    )
    .body(body::<b::AcknowledgeReviewBody>),
    route(
        GET,
        "/v1/audit/export",
        Some(P::Audit),
        "audit",
        "Export bundle (JSON Lines) for offline verification",
        || get(audit::export),
    )
    .query(schema::<audit::ExportQuery>)
    .produces(&["application/x-ndjson"]),
    route(
        GET,
        "/v1/audit/access-log",
        Some(P::Audit),
        "audit",
        "The hash-chained access log",
        || get(audit::access_log),
    )
    .query(schema::<audit::AccessLogQuery>),
    route(
        GET,
        "/v1/audit/access-log/verify",
        Some(P::Audit),
        "audit",
        "Verify the access log's hash chain",
        || get(audit::verify_access_log),
    ),
    // Tokens
    route(
        GET,
        "/v1/tokens",
        Some(P::ManageTokens),
        "tokens",
        "List tokens (never secrets)",
        || get(admin::list_tokens),
    ),
    route(
        POST,
        "/v1/tokens",
        Some(P::ManageTokens),
        "tokens",
        "Issue a token (the secret is shown once)",
        || post(admin::issue_token),
    )
    .body(body::<b::IssueTokenBody>),
    route(
        DELETE,
        "/v1/tokens/{token_id}",
        Some(P::ManageTokens),
        "tokens",
        "Revoke a token",
        || delete(admin::revoke_token),
    ),
    // Accounts
    route(
        GET,
        "/v1/accounts",
        Some(P::ManageAccounts),
        "accounts",
        "List staff accounts (never secrets)",
        || get(accounts::list),
    ),
    route(
        POST,
        "/v1/accounts",
        Some(P::ManageAccounts),
        "accounts",
        "Create a staff account (its first password is shown once)",
        || post(accounts::create),
    )
    .body(body::<b::CreateAccountBody>),
    route(
        GET,
        "/v1/accounts/{username}",
        Some(P::ManageAccounts),
        "accounts",
        "One staff account",
        || get(accounts::get_one),
    ),
    route(
        POST,
        "/v1/accounts/{username}/role",
        Some(P::ManageAccounts),
        "accounts",
        "Change an account's role and unit (its sessions end)",
        || post(accounts::change),
    )
    .body(body::<b::ChangeAccountBody>)
    .ok(),
    route(
        POST,
        "/v1/accounts/{username}/disable",
        Some(P::ManageAccounts),
        "accounts",
        "Disable an account (refused for the last enabled admin); its sessions end and its tokens stop working",
        || post(accounts::disable),
    )
    .body(body::<b::DisableAccountBody>)
    .ok(),
    route(
        POST,
        "/v1/accounts/{username}/enable",
        Some(P::ManageAccounts),
        "accounts",
        "Re-enable a disabled or locked account",
        || post(accounts::enable),
    )
    .ok(),
    route(
        POST,
        "/v1/accounts/{username}/release",
        Some(P::ManageAccounts),
        "accounts",
        "Release an account locked after five failed sign-ins",
        || post(accounts::release),
    )
    .ok(),
    route(
        POST,
        "/v1/accounts/{username}/password-reset",
        Some(P::ManageAccounts),
        "accounts",
        "Give an account a new password (shown once); its authenticator must be enrolled again",
        || post(accounts::reset_password),
    )
    .ok(),
    // Service
    route(
        GET,
        "/v1/openapi.json",
        None,
        "service",
        "This document",
        || get(probes::openapi),
    ),
    route(GET, "/healthz", None, "service", "Liveness", || {
        get(probes::healthz)
    }),
    route(
        GET,
        "/readyz",
        None,
        "service",
        "Readiness (database reachable); nothing else",
        || get(probes::readyz),
    ),
    route(
        GET,
        "/metrics",
        Some(P::ReadLedgerStatus),
        "service",
        "Prometheus metrics (compliance figures only for roles that read aggregates)",
        || get(probes::metrics),
    )
    .produces(&["text/plain"]),
];

/// The API router: every route of [`ROUTES`], and nothing else.
pub fn router() -> Router<SharedState> {
    ROUTES.iter().fold(Router::new(), |router, spec| {
        let handler = match spec.permission {
            Some(p) => (spec.handler)().layer(Extension(RoutePermission(p))),
            None => (spec.handler)(),
        };
        router.route(spec.path, handler)
    })
}
