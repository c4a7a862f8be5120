//! Statuses that no handler chooses, checked against what the contract documents for each
//! operation: `cargo xtask fuzz` found the body limit's 413 answered where `openapi.yaml` did not
//! list it, and these tests keep the two in step.

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};

use crate::common::{TestContext, assert_error, contract, contract_operations, valid_body_of};

/// The body limit the test server runs with, far below the default so a body over it is cheap.
const MAX_BODY_BYTES: u32 = 1024;

#[tokio::test]
async fn every_operation_that_takes_a_body_answers_an_oversized_one_with_the_documented_413() {
    let context = TestContext::start_with(|config| config.max_body_bytes = MAX_BODY_BYTES).await;
    let player = context.sign_up_fresh_player().await;
    let contract = contract();
    let operations: Vec<_> = contract_operations()
        .into_iter()
        .filter(|operation| operation.request_body_schema.is_some())
        .collect();
    let ids: Vec<&str> = operations
        .iter()
        .map(|operation| operation.operation_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "auth_login",
            "auth_signup",
            "games_start",
            "leaderboard_submit"
        ]
    );

    for operation in &operations {
        let responses = &contract["paths"][&operation.path]
            [operation.method.as_str().to_lowercase()]["responses"];
        assert!(
            responses.get("413").is_some(),
            "{} can answer 413 but the contract does not say so",
            operation.operation_id
        );

        // A valid body padded with whitespace past the limit: still valid JSON, so nothing but
        // its size can be refused.
        let schema = operation.request_body_schema.as_deref().unwrap();
        let body = format!(
            "{}{}",
            valid_body_of(schema),
            " ".repeat(MAX_BODY_BYTES as usize)
        );
        let mut request = context
            .raw()
            .request(operation.method.clone(), context.url(&operation.path))
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        if !operation.security.is_empty() {
            request = request.header(AUTHORIZATION, format!("Bearer {}", player.token));
        }
        let response = crate::common::read_raw(request.send().await.unwrap()).await;
        let detail = assert_error(
            &response,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        );
        assert!(detail.contains("1024 bytes"), "{detail}");
    }

    let scores = context
        .raw_get("/api/leaderboard?limit=100", None)
        .await
        .body;
    assert!(
        scores
            .as_array()
            .unwrap()
            .iter()
            .all(|entry| entry["username"] != player.username.as_str()),
        "an oversized score submission stored nothing: {scores}"
    );
}
