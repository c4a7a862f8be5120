//! Rate limits, through the API: failed logins per account and per client, sign-ups per client,
//! score submissions per player. Each answers 429 `too_many_requests` with `Retry-After` and
//! changes nothing. The limits are lowered here so a test reaches them in a few calls.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{RawResponse, SignedUpPlayer, TestContext, assert_error, unique_suffix};

async fn log_in_raw(
    context: &TestContext,
    email: &str,
    password: &str,
) -> (RawResponse, Option<u64>) {
    let response = context
        .raw()
        .post(context.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().parse().expect("whole seconds"));
    (crate::common::read_raw(response).await, retry_after)
}

fn assert_rate_limited(response: &RawResponse, retry_after: Option<u64>) {
    let detail = assert_error(response, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    let seconds = retry_after.expect("a 429 says when to come back in Retry-After");
    assert!(seconds >= 1, "Retry-After: {seconds}");
    assert!(detail.contains(&format!("{seconds} second")), "{detail}");
}

#[tokio::test]
async fn failed_logins_beyond_the_account_limit_are_refused_even_with_the_right_password() {
    let context =
        TestContext::start_with(|config| config.failed_logins_per_account_per_hour = 3).await;
    let player = context.sign_up_fresh_player().await;
    for _ in 0..3 {
        let (response, _) = log_in_raw(&context, &player.email, "not the password").await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let (response, retry_after) = log_in_raw(&context, &player.email, "not the password").await;
    assert_rate_limited(&response, retry_after);
    // The limit is decided before the password is looked at, so guessing right does not help,
    // and the same email in other case is the same account.
    let (response, retry_after) =
        log_in_raw(&context, &player.email.to_uppercase(), &player.password).await;
    assert_rate_limited(&response, retry_after);

    let other = context.sign_up_fresh_player().await;
    let (response, _) = log_in_raw(&context, &other.email, &other.password).await;
    assert_eq!(
        response.status,
        StatusCode::OK,
        "other accounts are not affected"
    );
}

#[tokio::test]
async fn unknown_emails_are_limited_like_known_ones() {
    let context =
        TestContext::start_with(|config| config.failed_logins_per_account_per_hour = 2).await;
    let ghost = format!("ghost{}@example.com", unique_suffix());
    for _ in 0..2 {
        let (response, _) = log_in_raw(&context, &ghost, "whatever it is").await;
        assert_error(&response, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let (response, retry_after) = log_in_raw(&context, &ghost, "whatever it is").await;
    assert_rate_limited(&response, retry_after);
}

#[tokio::test]
async fn successful_logins_do_not_count_toward_the_failure_limits() {
    let context = TestContext::start_with(|config| {
        config.failed_logins_per_account_per_hour = 2;
        config.failed_logins_per_client_per_hour = 2;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    for _ in 0..5 {
        let (response, _) = log_in_raw(&context, &player.email, &player.password).await;
        assert_eq!(response.status, StatusCode::OK);
    }
    for _ in 0..2 {
        let (response, _) = log_in_raw(&context, &player.email, "not the password").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn failed_logins_beyond_the_client_limit_are_refused_whatever_the_account() {
    let context =
        TestContext::start_with(|config| config.failed_logins_per_client_per_hour = 3).await;
    for index in 0..3 {
        let email = format!("stuffing{index}_{}@example.com", unique_suffix());
        let (response, _) = log_in_raw(&context, &email, "password123").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let (response, retry_after) =
        log_in_raw(&context, "yet-another@example.com", "password123").await;
    assert_rate_limited(&response, retry_after);
}

/// A failed login sent as if through a proxy that says it took the request from `forwarded_for`.
async fn fail_a_login_forwarded_for(context: &TestContext, forwarded_for: &str) -> RawResponse {
    let email = format!("forwarded_{}@example.com", unique_suffix());
    let response = context
        .raw()
        .post(context.url("/api/auth/login"))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"email": email, "password": "password123"}))
        .send()
        .await
        .unwrap();
    crate::common::read_raw(response).await
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_failed_login_limit() {
    let context = TestContext::start_with(|config| {
        config.failed_logins_per_client_per_hour = 2;
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    for _ in 0..2 {
        let response = fail_a_login_forwarded_for(&context, "203.0.113.7").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let limited = fail_a_login_forwarded_for(&context, "203.0.113.7").await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    // Another player behind the same proxy still has the whole allowance.
    let other = fail_a_login_forwarded_for(&context, "203.0.113.8").await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    // What a client writes before the proxy's entry is not believed: the proxy appended .7.
    let spoofed = fail_a_login_forwarded_for(&context, "198.51.100.1, 203.0.113.7").await;
    assert_error(&spoofed, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test]
async fn without_a_trusted_proxy_x_forwarded_for_is_ignored() {
    let context =
        TestContext::start_with(|config| config.failed_logins_per_client_per_hour = 2).await;
    for forwarded_for in ["203.0.113.7", "203.0.113.8"] {
        let response = fail_a_login_forwarded_for(&context, forwarded_for).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED);
    }
    let limited = fail_a_login_forwarded_for(&context, "203.0.113.9").await;
    assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
}

#[tokio::test]
async fn signups_beyond_the_client_limit_are_refused_and_failed_signups_do_not_count() {
    let context = TestContext::start_with(|config| config.signups_per_client_per_hour = 2).await;
    let first = context.sign_up_fresh_player().await;
    let duplicate = context
        .raw_post_json(
            "/api/auth/signup",
            &json!({"username": first.username, "email": first.email, "password": "tortoise lantern 1"}),
            None,
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let _second = context.sign_up_fresh_player().await;

    let suffix = unique_suffix();
    let third = json!({
        "username": format!("third_{suffix}"),
        "email": format!("third{suffix}@example.com"),
        "password": "tortoise lantern 3",
    });
    let response = context
        .raw()
        .post(context.url("/api/auth/signup"))
        .json(&third)
        .send()
        .await
        .unwrap();
    let retry_after = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .ok();
    assert_rate_limited(&crate::common::read_raw(response).await, retry_after);
    let (login, _) = log_in_raw(
        &context,
        third["email"].as_str().unwrap(),
        "tortoise lantern 3",
    )
    .await;
    assert_eq!(
        login.status,
        StatusCode::UNAUTHORIZED,
        "the refused account does not exist"
    );
}

async fn submit(context: &TestContext, player: &SignedUpPlayer, score: u32) -> RawResponse {
    context
        .raw_post_json(
            "/api/leaderboard",
            &json!({"score": score, "mode": "walls"}),
            Some(&player.token),
        )
        .await
}

#[tokio::test]
async fn score_submissions_beyond_the_player_limit_are_refused_and_store_nothing() {
    let context =
        TestContext::start_with(|config| config.score_submissions_per_player_per_minute = 2).await;
    let player = context.sign_up_fresh_player().await;
    assert_eq!(
        submit(&context, &player, 10).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        submit(&context, &player, 20).await.status,
        StatusCode::CREATED
    );
    let refused = submit(&context, &player, 999_999).await;
    assert_error(&refused, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");

    let board = context
        .raw_get("/api/leaderboard?mode=walls&limit=100", None)
        .await;
    let mine: Vec<&serde_json::Value> = board
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["username"] == player.username.as_str())
        .collect();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let other = context.sign_up_fresh_player().await;
    assert_eq!(
        submit(&context, &other, 30).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_login_beyond_the_session_cap_ends_the_oldest_session() {
    let context = TestContext::start_with(|config| config.max_sessions_per_player = 3).await;
    let player = context.sign_up_fresh_player().await;
    let mut tokens = vec![player.token.clone()];
    for _ in 0..3 {
        let (response, _) = log_in_raw(&context, &player.email, &player.password).await;
        tokens.push(response.body["token"].as_str().unwrap().to_owned());
    }
    let statuses: Vec<StatusCode> = futures::future::join_all(
        tokens
            .iter()
            .map(|token| context.raw_get("/api/auth/me", Some(token))),
    )
    .await
    .into_iter()
    .map(|response| response.status)
    .collect();
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK
        ]
    );
}
