//! The OpenAPI document against the router that serves it, over real HTTP: every route
//! the router serves is in the document and every operation in the document is served;
//! nothing else is served on the documented paths; request bodies come from the types
//! the handlers deserialize, and the notification form from the domain's own schema.

use crate::support::{common, http_support};

use std::collections::BTreeSet;

use common::{Kind, TestDb};
use http_support::start;
use icac_ledger::access::auth::{Permission, Role};
use icac_ledger::http::routes::{Method, ROUTES};
use icac_ledger::http::ServerConfig;
use serde_json::{json, Value};

/// A role the route table allows on the route (the first one), if it needs a token.
fn role_for(permission: Option<Permission>) -> Option<Role> {
    let p = permission?;
    Role::ALL
        .into_iter()
        .find(|r| p == Permission::Authenticated || r.allows(p))
}

fn refs(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => {
                        out.insert(r.clone());
                    }
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_router_describe_the_same_routes() {
    let s = start(TestDb::new(Kind::Sqlite).await, ServerConfig::default()).await;
    let r = s
        .client
        .get(s.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    // The document's operations are exactly the route table's.
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, table);
    assert_eq!(table.len(), ROUTES.len(), "a route is listed twice");

    // Every documented operation is served (not the fallback 404, not 405), and no
    // other method is served on a documented path.
    for path in doc["paths"].as_object().unwrap().keys() {
        let concrete = path
            .replace("{case_id}", "CT0006400:none")
            .replace("{ori}", "CT0006400")
            .replace("{number}", "1")
            .replace("{operation_id}", "op-none")
            .replace("{receipt}", "WEB-2025-NONE")
            .replace("{token_id}", "abcdef");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let route = ROUTES
                .iter()
                .find(|r| r.path == path && r.method.as_str() == method);
            let mut req = s.client.request(method.parse().unwrap(), s.url(&concrete));
            if let Some(role) = route.and_then(|r| role_for(r.permission)) {
                req = req.bearer_auth(&s.tokens[&role]);
            }
            if method == "POST" {
                req = req.json(&json!({}));
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            match route {
                Some(_) => {
                    assert_ne!(status, 405, "{method} {path} is documented but not served");
                    assert!(
                        !(status == 404 && body.contains("no such route")),
                        "{method} {path} is documented but not routed"
                    );
                    assert!(status < 500, "{method} {path} → {status} {body}");
                }
                None => assert_eq!(status, 405, "{method} {path} is served but not documented"),
            }
        }
    }

    // Every reference resolves; every command body is a closed object from `requests`
    // or the notification form.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut all = BTreeSet::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("reference outside components: {r}"));
        assert!(schemas.contains_key(name), "dangling reference {r}");
    }
    for route in ROUTES.iter().filter(|r| r.method == Method::Post) {
        let op = &doc["paths"][route.path]["post"];
        let Some(schema) = op["requestBody"]["content"]["application/json"]["schema"].as_object()
        else {
            continue;
        };
        let name = schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .unwrap_or_else(|| panic!("{route:?}: body is not a named schema"));
        assert_eq!(
            schemas[name]["additionalProperties"],
            json!(false),
            "{route:?}: {name} accepts unknown fields"
        );
        assert!(
            name == "NotificationForm" || name.ends_with("Body"),
            "{route:?}: {name}"
        );
        assert!(
            !schemas[name]["properties"]
                .as_object()
                .unwrap()
                .contains_key("recorded_at"),
            "{route:?}: the server sets recorded_at"
        );
    }

    // Tagged unions keep their `const` discriminators (a model that has no `const`
    // once dropped them, and with them which `kind` goes with which fields).
    assert_eq!(
        schemas["Source"]["oneOf"][0]["properties"]["kind"]["const"],
        json!("ncmec_cybertip"),
        "{}",
        schemas["Source"]
    );

    // The form is the domain's published schema, not a copy.
    let published: Value = serde_json::from_str(
        &icac_aggregates::form::schema::notification_schema()
            .unwrap()
            .replace("#/$defs/", "#/components/schemas/"),
    )
    .unwrap();
    let form = &schemas["NotificationForm"];
    for key in ["title", "description", "properties", "required", "type"] {
        assert_eq!(form[key], published[key], "NotificationForm {key}");
    }
    for (name, def) in published["$defs"].as_object().unwrap() {
        assert_eq!(&schemas[name], def, "form definition {name}");
    }
    s.stop().await;
}
