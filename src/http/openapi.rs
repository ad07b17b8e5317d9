//! The OpenAPI 3.1 document, generated from the code: paths, permissions and
//! parameters from the route table (`routes::ROUTES`), request bodies from the types
//! the handlers deserialize (`requests`), and the notification form from the domain
//! crate's own schema generator (`icac_aggregates::form::schema`), all under
//! `components/schemas`.
//!
//! The schemas are JSON Schema 2020-12 (OpenAPI 3.1's dialect) written by schemars, and
//! kept as JSON: utoipa's schema model has no `const`, so passing them through it (as
//! this document once did) silently dropped the discriminators of tagged unions.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::routes::{Method, RouteSpec, ROUTES};

const COMPONENTS: &str = "#/components/schemas/";

/// `BodySchema` of the notification form: a reference to the form's own schema, which
/// [`document`] takes from the domain crate's generator.
pub fn notification_form(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({ "$ref": "#/components/schemas/NotificationForm" })
}

/// The notification form's schema as the domain crate publishes it
/// (docs/forms/notification-v2.schema.json), its `$defs` rehomed under components.
fn form_components() -> Result<Map<String, Value>, String> {
    let text = icac_aggregates::form::schema::notification_schema()
        .map_err(|e| format!("notification form schema: {e}"))?
        .replace("#/$defs/", COMPONENTS);
    let Value::Object(mut form) = serde_json::from_str::<Value>(&text)
        .map_err(|e| format!("notification form schema: {e}"))?
    else {
        return Err("the notification form schema is not an object".into());
    };
    let mut out = match form.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    form.remove("$id");
    form.remove("$schema");
    out.insert("NotificationForm".into(), Value::Object(form));
    Ok(out)
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": { "type": "string" },
            "title": { "type": "string" },
            "status": { "type": "integer" },
            "detail": { "type": "string" },
            "kind": {
                "type": "string",
                "description": "For rejected-by-rule: the rule that refused, by a stable snake_case name (e.g. transition_not_allowed)"
            },
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": { "pointer": { "type": "string" }, "message": { "type": "string" } },
                    "required": ["pointer", "message"]
                }
            }
        },
        "required": ["type", "title", "status", "detail"]
    })
}

fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect()
}

/// The error statuses a route can answer, from what it takes.
fn errors(route: &RouteSpec) -> Vec<(&'static str, &'static str)> {
    let mut errors = vec![
        (
            "400",
            "malformed request: body not JSON, path not UTF-8, query string too long",
        ),
        ("404", "not found"),
    ];
    if route.permission.is_some() {
        errors.push(("401", "missing or invalid token"));
        errors.push(("403", "the role may not do this"));
        errors.push(("429", "locked out after repeated failed authentication"));
    }
    if route.body.is_some() || route.method == Method::Delete {
        errors.push((
            "409",
            "already exists, already done, or changed concurrently",
        ));
    }
    if route.body.is_some() {
        errors.push(("413", "body too large"));
        errors.push(("415", "not JSON"));
    }
    if route.body.is_some() || route.query.is_some() {
        errors.push((
            "422",
            "did not validate, or refused by a rule; `errors` names the fields",
        ));
    }
    if route.path == "/readyz" {
        errors.push(("503", "the database is not reachable"));
    }
    errors.sort();
    errors
}

/// One query parameter per property of the query type's schema. A query string has
/// no null, so `Option`'s null is dropped from each parameter's type.
fn query_params(query: &Schema) -> Vec<Value> {
    let required: Vec<&str> = query
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = query.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            let description = schema
                .as_object_mut()
                .and_then(|s| s.remove("description"))
                .unwrap_or(Value::Null);
            drop_null(&mut schema);
            json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "description": description,
                "schema": schema,
            })
        })
        .collect()
}

fn drop_null(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = obj.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        obj.insert(
            "type".into(),
            match kept.as_slice() {
                [one] => one.clone(),
                _ => Value::Array(kept),
            },
        );
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alternatives)) = obj.get_mut(key) {
            alternatives.retain(|a| a.get("type") != Some(&json!("null")));
            if alternatives.len() == 1 {
                let only = alternatives.remove(0);
                obj.remove(key);
                if let Value::Object(inner) = only {
                    obj.extend(inner);
                }
            }
        }
    }
}

fn operation(route: &RouteSpec, generator: &mut SchemaGenerator) -> Value {
    let mut params = path_params(route.path);
    if let Some(query) = route.query {
        params.extend(query_params(&query(generator)));
    }
    let problem = json!({ "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } });
    let mut responses = Map::new();
    let content: Map<String, Value> = route
        .produces
        .iter()
        .map(|t| {
            let schema = if *t == "application/json" {
                json!({ "type": "object" })
            } else {
                json!({ "type": "string" })
            };
            ((*t).to_owned(), json!({ "schema": schema }))
        })
        .collect();
    responses.insert(
        route.success.to_string(),
        json!({ "description": "success", "content": content }),
    );
    for (code, description) in errors(route) {
        responses.insert(
            code.into(),
            json!({ "description": description, "content": problem.clone() }),
        );
    }
    let method = route.method.as_str().to_lowercase();
    let mut op = json!({
        "tags": [route.tag],
        "summary": route.summary,
        "operationId": format!("{method}_{}", route.path.trim_start_matches('/').replace(['/', '{', '}', '-', '.'], "_")),
        "parameters": params,
        "responses": responses,
    });
    if let Some(body) = route.body {
        let schema = body(generator);
        op["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": schema } } });
    }
    match route.permission {
        Some(p) => {
            op["security"] = json!([{ "bearer": [] }]);
            op["x-permission"] = Value::String(p.name());
        }
        None => op["security"] = json!([]),
    }
    op
}

/// The document, or what kept it from being built (a bug, caught by the tests).
pub fn try_document() -> Result<Value, String> {
    // The settings the domain crate uses for the form; definitions go to components.
    let mut generator = SchemaSettings::draft2020_12()
        .for_deserialize()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        entry[route.method.as_str().to_lowercase()] = operation(route, &mut generator);
    }
    let mut schemas = generator.take_definitions(true);
    for (name, schema) in form_components()? {
        match schemas.get(&name) {
            Some(existing) if *existing != schema => {
                return Err(format!(
                    "schema {name} differs between the form and the request bodies"
                ))
            }
            _ => {
                schemas.insert(name, schema);
            }
        }
    }
    schemas.insert("Problem".into(), problem_schema());
    Ok(json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
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
    }))
}

/// The document served at `/v1/openapi.json`, built once.
pub fn document() -> Result<&'static Value, super::problem::Problem> {
    static DOCUMENT: std::sync::OnceLock<Result<Value, String>> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(try_document)
        .as_ref()
        .map_err(super::problem::Problem::internal)
}
