//! The OpenAPI 3.1 document, generated from the route table (`routes::ROUTES`) and the
//! notification form's JSON Schema, and checked by parsing it into utoipa's model.

use serde_json::{json, Map, Value};

use super::routes::{RouteSpec, ROUTES};

const FORM_SCHEMA: &str = include_str!("../../docs/forms/notification-v1.schema.json");

fn s(t: &str) -> Value {
    json!({ "type": t })
}

fn string_max(n: u64) -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": n })
}

fn date() -> Value {
    json!({ "type": "string", "format": "date" })
}

fn ori() -> Value {
    json!({ "type": "string", "pattern": "^[A-Z]{2}[0-9A-Z]{7}$", "description": "ORI code, e.g. CT0006400" })
}

fn object(props: &[(&str, Value)], required: &[&str]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_owned(), v.clone());
    }
    json!({ "type": "object", "additionalProperties": false, "properties": p, "required": required })
}

fn enumeration(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

/// Request bodies by name. Every command body omits `recorded_at` (the server sets it).
fn body_schema(name: &str) -> Value {
    match name {
        "NotificationForm" => json!({ "$ref": "#/components/schemas/NotificationForm" }),
        "RegisterUnit" => object(
            &[
                ("ori", ori()),
                ("name", string_max(120)),
                (
                    "kind",
                    enumeration(&[
                        "municipal_police",
                        "state_police_troop",
                        "university_police",
                        "tribal_police",
                        "other_state_agency",
                        "other",
                    ]),
                ),
                ("town", string_max(80)),
            ],
            &["ori", "name", "kind", "town"],
        ),
        "RenameUnit" => object(&[("name", string_max(120))], &["name"]),
        "DeactivateUnit" => object(&[("reason", string_max(500))], &["reason"]),
        "LogComplaint" => object(
            &[
                ("reporting_unit", ori()),
                ("unit_case_number", string_max(40)),
                ("received_on", date()),
                ("received_time", s("string")),
                ("source", json!({ "$ref": "#/components/schemas/Source" })),
            ],
            &[
                "reporting_unit",
                "unit_case_number",
                "received_on",
                "source",
            ],
        ),
        "ShareInformation" => object(
            &[
                (
                    "direction",
                    json!({ "oneOf": [
                        object(&[("direction", enumeration(&["unit_to_task_force"])), ("from_unit", ori())], &["direction", "from_unit"]),
                        object(&[("direction", enumeration(&["task_force_to_units"])), ("to_units", json!({ "type": "array", "items": ori(), "minItems": 1, "maxItems": 20 }))], &["direction", "to_units"]),
                    ]}),
                ),
                (
                    "category",
                    enumeration(&[
                        "case_update",
                        "intelligence",
                        "subject_information",
                        "technical_assistance",
                        "forensic_results",
                        "deconfliction",
                        "other",
                    ]),
                ),
                ("summary", string_max(1000)),
            ],
            &["direction", "category", "summary"],
        ),
        "AssignInvestigator" => object(
            &[
                (
                    "investigator",
                    object(
                        &[
                            ("name", string_max(120)),
                            ("badge", string_max(40)),
                            ("agency", ori()),
                        ],
                        &["name", "agency"],
                    ),
                ),
                (
                    "role",
                    enumeration(&["lead", "support", "forensic", "undercover"]),
                ),
            ],
            &["investigator", "role"],
        ),
        "ChangeStatus" => object(
            &[
                (
                    "to",
                    enumeration(&[
                        "received",
                        "triaged",
                        "investigating",
                        "referred",
                        "suspended",
                        "closed",
                    ]),
                ),
                (
                    "disposition",
                    enumeration(&[
                        "arrest",
                        "unfounded",
                        "insufficient_information",
                        "referred_to_federal_prosecutors",
                        "referred_out_of_state",
                        "referred_to_other_agency",
                        "prosecution_declined",
                        "duplicate",
                        "other",
                    ]),
                ),
                ("note", string_max(1000)),
            ],
            &["to"],
        ),
        "RecordArrest" => object(
            &[
                ("arrested_on", date()),
                ("arresting_unit", ori()),
                (
                    "charges",
                    json!({ "type": "array", "minItems": 1, "maxItems": 25, "items": object(&[("statute", s("string")), ("counts", json!({ "type": "integer", "minimum": 1, "maximum": 999 }))], &["statute", "counts"]) }),
                ),
            ],
            &["arrested_on", "arresting_unit", "charges"],
        ),
        "RecordReferral" => object(
            &[
                (
                    "target",
                    enumeration(&[
                        "federal_prosecutors",
                        "federal_agency",
                        "out_of_state_agency",
                        "other_connecticut_agency",
                    ]),
                ),
                ("agency_name", string_max(200)),
                ("referred_on", date()),
            ],
            &["target", "agency_name", "referred_on"],
        ),
        "DecideReferral" => object(
            &[
                ("decision", enumeration(&["accepted", "declined"])),
                ("decided_on", date()),
                ("note", string_max(1000)),
            ],
            &["decision", "decided_on"],
        ),
        "LinkOperation" => object(&[("operation_id", string_max(64))], &["operation_id"]),
        "SetUrgent" => object(
            &[(
                "reason",
                enumeration(&["child_identifiable", "child_in_imminent_danger"]),
            )],
            &["reason"],
        ),
        "RecordCorrection" => object(
            &[
                (
                    "corrects",
                    json!({ "type": "string", "pattern": "^[0-9]{1,20}$", "description": "ledger position of the corrected event" }),
                ),
                (
                    "changes",
                    json!({ "type": "array", "minItems": 1, "items": { "type": "object" } }),
                ),
                ("reason", string_max(1000)),
            ],
            &["corrects", "changes", "reason"],
        ),
        "PlanOperation" => object(
            &[
                ("operation_id", string_max(64)),
                ("name", string_max(120)),
                ("lead_unit", ori()),
                ("planned_start", date()),
                ("planned_end", date()),
            ],
            &[
                "operation_id",
                "name",
                "lead_unit",
                "planned_start",
                "planned_end",
            ],
        ),
        "RecordConduct" => object(
            &[
                ("started_on", date()),
                ("ended_on", date()),
                ("media", json!({ "type": "array", "items": s("string") })),
                (
                    "platforms",
                    json!({ "type": "array", "maxItems": 20, "items": string_max(120) }),
                ),
                (
                    "personas",
                    json!({ "type": "array", "maxItems": 50, "items": string_max(80) }),
                ),
            ],
            &["started_on", "ended_on", "media", "platforms", "personas"],
        ),
        "ConcludeOperation" => object(
            &[
                ("concluded_on", date()),
                (
                    "cases_opened",
                    json!({ "type": "array", "maxItems": 500, "items": s("string") }),
                ),
                (
                    "arrests",
                    json!({ "type": "integer", "minimum": 0, "maximum": 10000 }),
                ),
            ],
            &["concluded_on", "cases_opened", "arrests"],
        ),
        "PublicReportIntake" => object(
            &[
                ("channel", enumeration(&["web_site", "hotline"])),
                ("category", s("string")),
            ],
            &["channel"],
        ),
        "TriagePublicReport" => object(
            &[
                ("priority", enumeration(&["urgent", "standard"])),
                ("category", s("string")),
            ],
            &["priority"],
        ),
        "RoutePublicReport" => object(&[("unit", ori())], &["unit"]),
        "ClosePublicReport" => object(
            &[(
                "reason",
                enumeration(&[
                    "not_actionable",
                    "outside_jurisdiction",
                    "duplicate_report",
                    "referred_to_ncmec",
                    "insufficient_information",
                ]),
            )],
            &["reason"],
        ),
        "IssueToken" => object(
            &[
                (
                    "role",
                    enumeration(&[
                        "unit_reporter",
                        "investigator",
                        "supervisor",
                        "auditor",
                        "report_author",
                        "admin",
                    ]),
                ),
                ("unit", ori()),
                ("name", string_max(80)),
            ],
            &["role", "name"],
        ),
        _ => json!({ "type": "object" }),
    }
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "maxLength": 80 } }))
        .collect()
}

fn operation(route: &RouteSpec) -> Value {
    let mut params = path_params(route.path);
    for (name, ty, required) in route.query {
        params.push(
            json!({ "name": name, "in": "query", "required": required, "schema": { "type": ty } }),
        );
    }
    let problem = json!({ "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } });
    let mut responses = Map::new();
    responses.insert(
        route.success.to_string(),
        json!({ "description": "success", "content": { "application/json": { "schema": { "type": "object" } } } }),
    );
    let mut errors: Vec<(&str, &str)> = vec![("400", "malformed request"), ("404", "not found")];
    if route.permission.is_some() {
        errors.push(("401", "missing or invalid token"));
        errors.push(("403", "the role may not do this"));
        errors.push(("429", "locked out after repeated failed authentication"));
    }
    if route.body.is_some() {
        errors.push(("409", "changed concurrently; retry"));
        errors.push(("413", "body too large"));
        errors.push(("415", "not JSON"));
        errors.push((
            "422",
            "did not validate, or refused by a rule; `errors` names the fields",
        ));
    }
    for (code, description) in errors {
        responses.insert(
            code.into(),
            json!({ "description": description, "content": problem.clone() }),
        );
    }
    let mut op = json!({
        "tags": [route.tag],
        "summary": route.summary,
        "operationId": format!("{}_{}", route.method.to_lowercase(), route.path.trim_start_matches('/').replace(['/', '{', '}', '-', '.'], "_")),
        "parameters": params,
        "responses": responses,
    });
    if let Some(body) = route.body {
        op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": body_schema(body) } } });
    }
    if let Some(p) = route.permission {
        op["security"] = json!([{ "bearer": [] }]);
        op["x-permission"] = serde_json::to_value(p).unwrap_or(Value::Null);
    } else {
        op["security"] = json!([]);
    }
    op
}

/// The notification schema's `$defs`, rehomed under `components/schemas`.
fn form_components() -> Map<String, Value> {
    let text = FORM_SCHEMA.replace("#/$defs/", "#/components/schemas/");
    let Ok(Value::Object(mut form)) = serde_json::from_str::<Value>(&text) else {
        return Map::new();
    };
    let mut out = match form.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    form.remove("$id");
    form.remove("$schema");
    out.insert("NotificationForm".into(), Value::Object(form));
    out
}

pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.to_lowercase()] = operation(route);
    }
    let mut schemas = form_components();
    schemas.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "RFC 9457 problem details",
            "properties": {
                "type": { "type": "string" },
                "title": { "type": "string" },
                "status": { "type": "integer" },
                "detail": { "type": "string" },
                "errors": { "type": "array", "items": { "type": "object", "properties": { "pointer": { "type": "string" }, "message": { "type": "string" } }, "required": ["pointer", "message"] } }
            },
            "required": ["type", "title", "status", "detail"]
        }),
    );
    let doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "icac-ledger",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Tamper-evident case ledger for Connecticut's ICAC Task Force (C.G.S. 29-7e). Errors are RFC 9457 problem+json.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "icac_<id>_<secret> from `icac-ledger tokens issue`" } }
        }
    });
    // utoipa's model checks the document's shape; fall back to the raw JSON if a future
    // schema keyword is beyond it.
    match serde_json::from_value::<utoipa::openapi::OpenApi>(doc.clone()) {
        Ok(api) => serde_json::to_value(api).unwrap_or(doc),
        Err(e) => {
            tracing::warn!(error = %e, "OpenAPI document does not fit utoipa's model");
            doc
        }
    }
}
