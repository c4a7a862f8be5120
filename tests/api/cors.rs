//! CORS and the headers every response carries, seen as a browser's HTTP requests would see them:
//! preflights for every path of the contract, CORS headers on successes and errors alike for
//! allowed origins and none for others, and security headers everywhere.

use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{Method, StatusCode};

use crate::common::{RawResponse, TestContext, assert_error, contract_operations, read_raw};

const FRONTEND_DEV_ORIGIN: &str = "http://localhost:8080";
const VITE_DEV_ORIGIN: &str = "http://localhost:5173";
const FOREIGN_ORIGIN: &str = "https://evil.example";

const ACCESS_CONTROL_ALLOW_ORIGIN: &str = "access-control-allow-origin";

async fn preflight(
    context: &TestContext,
    path: &str,
    origin: &str,
    method: &Method,
) -> (HeaderMap, RawResponse) {
    let response = context
        .raw()
        .request(Method::OPTIONS, context.url(path))
        .header("origin", origin)
        .header("access-control-request-method", method.as_str())
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .expect("the preflight is sent");
    (response.headers().clone(), read_raw(response).await)
}

async fn send_from(
    context: &TestContext,
    method: Method,
    path: &str,
    origin: &str,
) -> (HeaderMap, RawResponse) {
    let response = context
        .raw()
        .request(method, context.url(path))
        .header("origin", origin)
        .send()
        .await
        .expect("the request is sent");
    (response.headers().clone(), read_raw(response).await)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
        .to_str()
        .unwrap()
}

fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|item| item.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn every_contract_path_answers_a_preflight_with_its_methods_and_the_auth_headers() {
    let context = TestContext::start().await;
    let operations = contract_operations();
    for operation in &operations {
        for origin in [
            FRONTEND_DEV_ORIGIN,
            VITE_DEV_ORIGIN,
            "http://127.0.0.1:3000",
        ] {
            let (headers, response) =
                preflight(&context, &operation.path, origin, &operation.method).await;
            assert_eq!(response.status, StatusCode::NO_CONTENT, "{operation:?}");
            assert_eq!(header(&headers, ACCESS_CONTROL_ALLOW_ORIGIN), origin);
            let methods = comma_list(header(&headers, "access-control-allow-methods"));
            for same_path in operations
                .iter()
                .filter(|other| other.path == operation.path)
            {
                let method = same_path.method.as_str().to_ascii_lowercase();
                assert!(methods.contains(&method), "{methods:?} lacks {method}");
            }
            let allowed_headers = comma_list(header(&headers, "access-control-allow-headers"));
            assert!(allowed_headers.contains(&"authorization".to_owned()));
            assert!(allowed_headers.contains(&"content-type".to_owned()));
            assert!(comma_list(header(&headers, "vary")).contains(&"origin".to_owned()));
        }
    }
}

#[tokio::test]
async fn a_preflight_from_a_foreign_origin_is_refused_without_cors_headers() {
    let context = TestContext::start().await;
    let (headers, response) =
        preflight(&context, "/api/leaderboard", FOREIGN_ORIGIN, &Method::POST).await;
    let detail = assert_error(&response, StatusCode::FORBIDDEN, "origin_not_allowed");
    assert!(detail.contains(FOREIGN_ORIGIN), "{detail}");
    assert!(detail.contains("--cors-origin"), "{detail}");
    assert!(
        headers.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "{headers:?}"
    );
    assert!(
        headers.get("access-control-allow-methods").is_none(),
        "{headers:?}"
    );
}

/// Requests whose answers a browser page must be able to read, errors included.
fn readable_requests() -> Vec<(Method, &'static str, StatusCode)> {
    vec![
        (Method::GET, "/api/health", StatusCode::OK),
        (Method::GET, "/api/leaderboard?limit=3", StatusCode::OK),
        (Method::GET, "/api/auth/me", StatusCode::UNAUTHORIZED),
        (
            Method::GET,
            "/api/leaderboard?limit=0",
            StatusCode::BAD_REQUEST,
        ),
        (Method::GET, "/api/no-such-thing", StatusCode::NOT_FOUND),
        (
            Method::DELETE,
            "/api/leaderboard",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ]
}

#[tokio::test]
async fn every_answer_to_an_allowed_origin_carries_cors_headers_errors_included() {
    let context = TestContext::start().await;
    for (method, path, status) in readable_requests() {
        let (headers, response) =
            send_from(&context, method.clone(), path, FRONTEND_DEV_ORIGIN).await;
        assert_eq!(response.status, status, "{method} {path}: {response:?}");
        assert_eq!(
            header(&headers, ACCESS_CONTROL_ALLOW_ORIGIN),
            FRONTEND_DEV_ORIGIN
        );
        let exposed = comma_list(header(&headers, "access-control-expose-headers"));
        assert!(exposed.contains(&"retry-after".to_owned()), "{exposed:?}");
        assert!(exposed.contains(&"x-request-id".to_owned()), "{exposed:?}");
        assert!(comma_list(header(&headers, "vary")).contains(&"origin".to_owned()));
        assert!(
            headers.get("access-control-allow-credentials").is_none(),
            "tokens are bearer headers, never cookies"
        );
    }
}

#[tokio::test]
async fn answers_to_a_foreign_origin_carry_no_cors_headers() {
    let context = TestContext::start().await;
    for (method, path, status) in readable_requests() {
        let (headers, response) = send_from(&context, method.clone(), path, FOREIGN_ORIGIN).await;
        assert_eq!(response.status, status, "{method} {path}: {response:?}");
        let cors_headers: Vec<&HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with("access-control-"))
            .collect();
        assert!(cors_headers.is_empty(), "{method} {path}: {cors_headers:?}");
    }
}

#[tokio::test]
async fn a_configured_origin_list_replaces_the_local_default() {
    let context = TestContext::start_with(|config| {
        config.cors_origins = vec!["https://snake.example.com".to_owned()];
    })
    .await;
    let (headers, _) = send_from(
        &context,
        Method::GET,
        "/api/health",
        "https://snake.example.com",
    )
    .await;
    assert_eq!(
        header(&headers, ACCESS_CONTROL_ALLOW_ORIGIN),
        "https://snake.example.com"
    );
    let (headers, _) = send_from(&context, Method::GET, "/api/health", VITE_DEV_ORIGIN).await;
    assert!(headers.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

#[tokio::test]
async fn a_star_admits_every_origin_with_a_star() {
    let context =
        TestContext::start_with(|config| config.cors_origins = vec!["*".to_owned()]).await;
    let (headers, response) =
        preflight(&context, "/api/auth/me", FOREIGN_ORIGIN, &Method::GET).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT);
    assert_eq!(header(&headers, ACCESS_CONTROL_ALLOW_ORIGIN), "*");
    let (headers, _) = send_from(&context, Method::GET, "/api/auth/me", FOREIGN_ORIGIN).await;
    assert_eq!(header(&headers, ACCESS_CONTROL_ALLOW_ORIGIN), "*");
}

#[tokio::test]
async fn every_answer_carries_nosniff_and_answers_with_tokens_or_player_data_are_not_stored() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let signup = context
        .raw()
        .post(context.url("/api/auth/login"))
        .json(&serde_json::json!({"email": player.email, "password": player.password}))
        .send()
        .await
        .unwrap();
    let me = context
        .raw()
        .get(context.url("/api/auth/me"))
        .bearer_auth(&player.token)
        .send()
        .await
        .unwrap();
    let leaderboard = context
        .raw()
        .get(context.url("/api/leaderboard"))
        .send()
        .await
        .unwrap();
    let not_found = context
        .raw()
        .get(context.url("/api/nothing/here"))
        .send()
        .await
        .unwrap();
    for response in [signup, me, leaderboard, not_found] {
        let headers = response.headers();
        assert_eq!(header(headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(headers, "cache-control"), "no-store");
        assert!(!header(headers, "x-request-id").is_empty());
    }
}

#[tokio::test]
async fn unknown_paths_and_methods_get_the_contract_error_body_and_an_allow_header() {
    let context = TestContext::start().await;
    let (_, response) = send_from(&context, Method::GET, "/api/scores", VITE_DEV_ORIGIN).await;
    let detail = assert_error(&response, StatusCode::NOT_FOUND, "not_found");
    assert!(detail.contains("/api/scores"), "{detail}");

    let (headers, response) =
        send_from(&context, Method::PUT, "/api/leaderboard", VITE_DEV_ORIGIN).await;
    let detail = assert_error(
        &response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    assert!(detail.contains("PUT"), "{detail}");
    assert_eq!(comma_list(header(&headers, "allow")), ["get", "post"]);
}

#[tokio::test]
async fn a_body_over_the_configured_limit_is_refused_with_413_and_stores_nothing() {
    let context = TestContext::start_with(|config| config.max_body_bytes = 256).await;
    let suffix = crate::common::unique_suffix();
    let username = format!("big_{suffix}");
    let email = format!("big{suffix}@example.com");
    // A valid signup whose 128-character password is 256 bytes of UTF-8.
    let body =
        serde_json::json!({"username": username, "email": email, "password": "é".repeat(128)});
    assert!(body.to_string().len() > 256);
    let response = context
        .raw()
        .post(context.url("/api/auth/signup"))
        .header("origin", VITE_DEV_ORIGIN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
        VITE_DEV_ORIGIN
    );
    let response = read_raw(response).await;
    let detail = assert_error(
        &response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert!(detail.contains("256 bytes"), "{detail}");

    let small =
        serde_json::json!({"username": username, "email": email, "password": "short enough"});
    let signup = context
        .raw_post_json("/api/auth/signup", &small, None)
        .await;
    assert_eq!(
        signup.status,
        StatusCode::CREATED,
        "nothing was stored: {signup:?}"
    );
}
