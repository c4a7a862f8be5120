//! Authentication across the API: every operation the contract secures refuses a request without
//! a valid bearer token, and tokens behave as the `bearerAuth` scheme describes.

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::json;

use crate::common::{
    ContractOperation, RawResponse, TestContext, assert_error, contract_operations, expect_error,
    login_request, read_raw, score_submission, types, valid_body_of,
};

/// The operation's path with any `{parameter}` filled in with a well-formed value.
fn concrete_path(path: &str) -> String {
    let mut concrete = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("a closed parameter") + start;
        concrete.push_str(&rest[..start]);
        concrete.push_str("00000000-0000-0000-0000-000000000000");
        rest = &rest[end + 1..];
    }
    concrete.push_str(rest);
    concrete
}

/// Sends the operation's request with the given `Authorization` header value, if any.
async fn send(
    context: &TestContext,
    operation: &ContractOperation,
    authorization: Option<&str>,
) -> RawResponse {
    let mut request = context.raw().request(
        operation.method.clone(),
        context.url(&concrete_path(&operation.path)),
    );
    if let Some(authorization) = authorization {
        request = request.header(AUTHORIZATION, authorization);
    }
    if let Some(schema) = &operation.request_body_schema {
        request = request.json(&valid_body_of(schema));
    }
    read_raw(request.send().await.expect("the request is sent")).await
}

#[tokio::test]
async fn every_secured_operation_of_the_contract_answers_401_without_a_valid_token() {
    let context = TestContext::start().await;
    let unknown_token = format!("Bearer {}", "A".repeat(43));
    let secured: Vec<_> = contract_operations()
        .into_iter()
        .filter(|operation| !operation.security.is_empty())
        .collect();
    let secured_ids: Vec<&str> = secured
        .iter()
        .map(|operation| operation.operation_id.as_str())
        .collect();
    for expected in ["auth_logout", "auth_me", "leaderboard_submit"] {
        assert!(secured_ids.contains(&expected), "{secured_ids:?}");
    }

    for operation in &secured {
        for authorization in [None, Some("Basic x"), Some(unknown_token.as_str())] {
            let response = send(&context, operation, authorization).await;
            assert_eq!(
                response.status,
                StatusCode::UNAUTHORIZED,
                "{} with {authorization:?}: {response:?}",
                operation.operation_id
            );
            assert_error(&response, StatusCode::UNAUTHORIZED, "unauthenticated");
        }
    }
}

#[tokio::test]
async fn every_operation_without_security_answers_without_a_token() {
    let context = TestContext::start().await;
    for operation in contract_operations()
        .iter()
        .filter(|operation| operation.security.is_empty())
    {
        // Login may well answer 401 for the example's unknown account, but never for want of a
        // token.
        let response = send(&context, operation, None).await;
        assert!(
            response.status.is_success() || response.body["code"] != "unauthenticated",
            "{}: {response:?}",
            operation.operation_id
        );
    }
}

#[tokio::test]
async fn logging_out_revokes_only_the_token_it_was_called_with() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let second_token = context
        .client()
        .auth_login(&login_request(&player.email, &player.password))
        .await
        .expect("a second login")
        .into_inner()
        .token;
    let second_client = context.client_with_token(&second_token);

    player.client.auth_logout().await.expect("logout");

    expect_error(
        player.client.auth_me().await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    let me = second_client
        .auth_me()
        .await
        .expect("the other token still works");
    assert_eq!(me.into_inner(), player.user);
}

#[tokio::test]
async fn a_score_is_recorded_for_the_token_owner_whichever_player_is_logged_in_elsewhere() {
    let context = TestContext::start().await;
    let first = context.sign_up_fresh_player().await;
    let second = context.sign_up_fresh_player().await;
    let entry = second
        .client
        .leaderboard_submit(&score_submission(31_337, types::GameMode::Walls))
        .await
        .expect("the score is accepted")
        .into_inner();
    assert_eq!(entry.username.as_str(), second.username);
    assert_ne!(entry.username.as_str(), first.username);
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_ignoring_case() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let response = context
        .raw()
        .get(context.url("/api/auth/me"))
        .header(AUTHORIZATION, format!("bearer {}", player.token))
        .send()
        .await
        .expect("the request is sent");
    let response = read_raw(response).await;
    assert_eq!(response.status, StatusCode::OK, "{response:?}");
    assert_eq!(response.body["id"], json!(player.user.id));
}

#[tokio::test]
async fn a_token_in_the_query_string_is_not_accepted() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    for parameter in ["access_token", "token"] {
        let response = context
            .raw_get(&format!("/api/auth/me?{parameter}={}", player.token), None)
            .await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "unauthenticated");
    }
}

#[tokio::test]
async fn error_details_never_echo_a_submitted_password() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let short_password = "Sh0rt!x";
    let response = context
        .raw_post_json(
            "/api/auth/signup",
            &json!({"email": "a@example.com", "username": "valid_name", "password": short_password}),
            None,
        )
        .await;
    let detail = assert_error(&response, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(!detail.contains(short_password), "{detail}");

    let wrong_password = "Wr0ng-but-long-enough";
    let error = expect_error(
        context
            .client()
            .auth_login(&login_request(&player.email, wrong_password))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    assert!(!error.detail.contains(wrong_password), "{error:?}");
    assert!(!error.detail.contains(&player.password), "{error:?}");
}
