//! Authentication across the API: every operation the contract secures refuses a request without
//! a valid bearer token, and tokens behave as the `bearerAuth` scheme describes.

use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};

use base64::Engine;
use snake_arena_server::accounts::tokens::hash_token;

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
    let second_token = context.log_in_again(&player).await;
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

#[tokio::test]
async fn two_logins_give_two_different_tokens_that_both_work() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let tokens = [
        context.log_in_again(&player).await,
        context.log_in_again(&player).await,
    ];
    assert_ne!(tokens[0], tokens[1]);
    assert_ne!(tokens[0], player.token);
    for token in &tokens {
        let me = context.client_with_token(token).auth_me().await;
        assert_eq!(me.expect("each token works").into_inner(), player.user);
    }
}

#[tokio::test]
async fn an_expired_token_gets_401_on_every_secured_operation() {
    // `--token-lifetime-minutes` refuses 0, but the configuration struct takes it: every token
    // is then issued already expired, so the test needs neither a clock nor a sleep.
    let context = TestContext::start_with(|config| config.token_lifetime_minutes = 0).await;
    let player = context.sign_up_fresh_player().await;
    let login_token = context.log_in_again(&player).await;
    for operation in contract_operations()
        .iter()
        .filter(|operation| !operation.security.is_empty())
    {
        for token in [player.token.as_str(), login_token.as_str()] {
            let response = send(&context, operation, Some(&format!("Bearer {token}"))).await;
            assert_error(&response, StatusCode::UNAUTHORIZED, "unauthenticated");
        }
    }
}

/// The ways a secret could show up in a response: as is, and a digest in hex or base64.
fn spellings_of_digest(digest: &[u8]) -> Vec<String> {
    vec![
        digest.iter().map(|byte| format!("{byte:02x}")).collect(),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
    ]
}

/// A response's status line, headers and body as one text, to search for secrets.
async fn whole_answer(request: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
    let response = request.send().await.expect("the request is sent");
    let status = response.status();
    let mut text = format!("{status}\n");
    for (name, value) in response.headers() {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    let body = response.bytes().await.expect("the body is read");
    text.push_str(&String::from_utf8_lossy(&body));
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, text, json)
}

#[tokio::test]
async fn no_response_carries_a_password_its_hash_or_salt_or_a_token_except_where_it_is_issued() {
    let context = TestContext::start().await;
    let http = context.raw();
    let player = context.sign_up_fresh_player().await;
    let (status, _, login) = whole_answer(
        http.post(context.url("/api/auth/login"))
            .json(&json!({"email": player.email, "password": player.password})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token = login["token"].as_str().expect("a token").to_owned();

    let stored = context
        .state()
        .store
        .player_by_email(&player.email)
        .await
        .expect("the store answers")
        .expect("the player is stored");
    let phc = stored.password_hash;
    // `$scrypt$ln=..,r=..,p=..$<salt>$<hash>`
    let phc_parts: Vec<&str> = phc.split('$').collect();
    assert_eq!(phc_parts.len(), 5, "{phc}");
    let mut secrets = vec![
        player.password.clone(),
        phc.clone(),
        phc_parts[3].to_owned(),
        phc_parts[4].to_owned(),
        "$scrypt$".to_owned(),
        "password_hash".to_owned(),
    ];
    for issued in [&player.token, &token] {
        secrets.extend(spellings_of_digest(hash_token(issued).as_bytes()));
    }
    let tokens = [player.token.clone(), token.clone()];

    // A success and a refusal of every operation, the router's own errors and the document.
    let bearer = |request: reqwest::RequestBuilder| request.bearer_auth(&token);
    let requests = vec![
        http.get(context.url("/api/health")),
        http.get(context.url("/api/games/active")),
        http.get(context.url("/api/leaderboard?limit=100")),
        http.get(context.url("/api/leaderboard?mode=walls&limit=0")),
        bearer(http.get(context.url("/api/auth/me"))),
        http.get(context.url("/api/auth/me")),
        bearer(http.post(context.url("/api/leaderboard")))
            .json(&json!({"score": 5, "mode": "walls"})),
        bearer(http.post(context.url("/api/leaderboard")))
            .json(&json!({"score": -5, "mode": "walls"})),
        http.post(context.url("/api/auth/signup")).json(&json!({
            "email": player.email, "username": "someone_else", "password": player.password,
        })),
        http.post(context.url("/api/auth/signup")).json(&json!({
            "email": "new@example.com", "username": "someone_new", "password": "password1",
        })),
        http.post(context.url("/api/auth/login"))
            .json(&json!({"email": player.email, "password": format!("{}!", player.password)})),
        http.post(context.url("/api/auth/login"))
            .json(&json!({"email": player.email, "password": player.password, "token": token})),
        http.get(context.url("/api/openapi.json")),
        http.get(context.url("/api/nowhere")),
        http.delete(context.url("/api/leaderboard")),
        bearer(http.post(context.url("/api/auth/logout"))),
        bearer(http.post(context.url("/api/auth/logout"))),
    ];
    let mut answers = Vec::new();
    for request in requests {
        let (status, text, _) = whole_answer(request).await;
        answers.push((status, text));
    }
    // The login's own answer is searched too, once its `token` field is set aside.
    let mut issued = login;
    issued["token"] = Value::Null;
    answers.push((StatusCode::OK, issued.to_string()));
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| status.as_u16()).collect();
    assert!(statuses.contains(&201) && statuses.contains(&400) && statuses.contains(&409));
    for (status, text) in &answers {
        for secret in secrets.iter().chain(&tokens) {
            assert!(
                !text.contains(secret.as_str()),
                "a {status} answer carries {secret:?}: {text}"
            );
        }
    }
}
