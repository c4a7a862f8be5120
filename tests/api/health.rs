//! The `health` tag, and the other operator-facing endpoint: the OpenAPI document the server
//! serves at `/api/openapi.json`, which must carry the contract's security and constraints.
//!
//! The health check asks the store to answer within a bound; its documented 503 (the store does
//! not answer) is provoked in `postgres.rs`, by stopping the database, so only its 200 is here.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{TestContext, contract_operations, types};

#[tokio::test]
async fn health_returns_status_ok_and_names_the_store_backend() {
    let context = TestContext::start().await;
    let response = context.client().health_check().await.expect("health");
    assert_eq!(response.status(), StatusCode::OK);
    let health = response.into_inner();
    assert_eq!(health.status, types::HealthStatus::Ok);
    assert_eq!(health.store.as_str(), context.backend().health_name());
}

/// Fetches the document the server serves, checking it is JSON with a 200.
async fn served_document(context: &TestContext) -> Value {
    let response = context.raw_get("/api/openapi.json", None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.body.is_object(), "{:?}", response.body);
    response.body
}

/// Follows a `$ref` to `#/components/schemas/...` inside `document`, or returns `schema` itself.
fn resolve<'document>(document: &'document Value, schema: &'document Value) -> &'document Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} is not local"));
            document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} does not resolve"))
        }
        None => schema,
    }
}

#[tokio::test]
async fn the_served_document_lists_every_operation_of_the_contract() {
    let context = TestContext::start().await;
    let document = served_document(&context).await;
    for operation in contract_operations() {
        let method = operation.method.as_str().to_lowercase();
        let served = document["paths"][&operation.path][&method]["operationId"].as_str();
        assert_eq!(
            served,
            Some(operation.operation_id.as_str()),
            "{method} {}",
            operation.path
        );
    }
}

#[tokio::test]
async fn the_served_document_declares_bearer_auth_and_its_secured_operations_carry_security() {
    let context = TestContext::start().await;
    let document = served_document(&context).await;
    let scheme = &document["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");

    let operations = contract_operations();
    assert!(
        operations
            .iter()
            .any(|operation| !operation.security.is_empty())
    );
    for operation in operations {
        let method = operation.method.as_str().to_lowercase();
        let served = &document["paths"][&operation.path][&method];
        let served_security = served
            .get("security")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            served_security, operation.security,
            "{method} {}",
            operation.path
        );
    }
}

#[tokio::test]
async fn the_served_document_keeps_the_contracts_constraints() {
    let context = TestContext::start().await;
    let document = served_document(&context).await;
    let schemas = &document["components"]["schemas"];

    let username = &schemas["Username"];
    assert_eq!(username["minLength"], 3, "{username}");
    assert_eq!(username["maxLength"], 20, "{username}");
    assert_eq!(username["pattern"], "^[A-Za-z0-9_-]+$", "{username}");

    let password = &schemas["Password"];
    assert_eq!(password["minLength"], 8, "{password}");
    assert_eq!(password["maxLength"], 128, "{password}");

    let score = &schemas["Score"];
    assert_eq!(score["minimum"].as_f64(), Some(0.0), "{score}");
    assert_eq!(score["maximum"].as_f64(), Some(1_000_000.0), "{score}");

    let parameters = document["paths"]["/api/leaderboard"]["get"]["parameters"]
        .as_array()
        .expect("the leaderboard takes parameters");
    let limit = parameters
        .iter()
        .find(|parameter| parameter["name"] == "limit")
        .expect("the leaderboard takes a limit");
    let limit_schema = resolve(&document, &limit["schema"]);
    assert_eq!(
        limit_schema["minimum"].as_f64(),
        Some(1.0),
        "{limit_schema}"
    );
    assert_eq!(
        limit_schema["maximum"].as_f64(),
        Some(100.0),
        "{limit_schema}"
    );

    let signup_request = &schemas["SignupRequest"];
    assert_eq!(
        signup_request["additionalProperties"], false,
        "{signup_request}"
    );
}
