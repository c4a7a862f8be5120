//! Requests whose bytes, labels or size are wrong, whatever the operation: each gets a 4xx with
//! the contract's `{code, detail}` body saying what is wrong, and changes nothing (no account is
//! created, no score is stored). None may get a 500, a panic or a hang.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use serde_json::Value;

use crate::common::{
    RawResponse, SignedUpPlayer, TestContext, assert_error, assert_invalid_input_naming, read_raw,
    unique_suffix,
};

const SIGNUP: &str = "/api/auth/signup";
const LEADERBOARD: &str = "/api/leaderboard";

/// Signup details no one has used yet, to build raw signup bodies around.
struct FreshSignup {
    username: String,
    email: String,
}

impl FreshSignup {
    fn new() -> Self {
        let suffix = unique_suffix();
        Self {
            username: format!("bytes_{suffix}"),
            email: format!("bytes{suffix}@example.com"),
        }
    }

    /// A signup body whose password is the given JSON text, which may be a broken string.
    fn with_password_json(&self, password_json: &str) -> Vec<u8> {
        format!(
            r#"{{"email": "{}", "username": "{}", "password": {password_json}}}"#,
            self.email, self.username
        )
        .into_bytes()
    }

    /// A signup body whose password string has these raw bytes in its middle.
    fn with_password_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut body = self.with_password_json(r#""correct horse "#);
        body.truncate(body.len() - 1);
        body.extend_from_slice(bytes);
        body.extend_from_slice(br#" battery"}"#);
        body
    }

    fn valid(&self) -> Vec<u8> {
        self.with_password_json(r#""correct horse battery""#)
    }

    /// Signs up with these details through the generated client, which proves that the refused
    /// requests before it created no account with them.
    async fn succeeds_afterwards(&self, context: &TestContext) {
        context
            .sign_up_player(&self.username, &self.email, "correct horse battery")
            .await;
    }
}

/// Sends `POST` with these raw bytes and, if given, these `Content-Type` values (several mean
/// several headers).
async fn post_bytes(
    context: &TestContext,
    path: &str,
    body: Vec<u8>,
    content_types: &[&str],
    token: Option<&str>,
) -> RawResponse {
    let mut request = context.raw().post(context.url(path)).body(body);
    for content_type in content_types {
        request = request.header(CONTENT_TYPE, *content_type);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    read_raw(request.send().await.expect("the request is sent")).await
}

/// Writes one HTTP/1.1 request as raw bytes, for requests no HTTP client will build, and returns
/// the status of the answer. The server closes the connection after such a refusal.
async fn raw_http_status(context: &TestContext, request: Vec<u8>) -> StatusCode {
    use std::io::{Read, Write};
    let address = context.base_url().trim_start_matches("http://").to_owned();
    let status_line = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).expect("the server accepts");
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .expect("a read timeout");
        // The server may answer and close before reading everything; what it sent still counts.
        let _ = stream.write_all(&request);
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    })
    .await
    .expect("the raw request finishes");
    let code = status_line.split(' ').nth(1).unwrap_or_default();
    StatusCode::from_bytes(code.as_bytes())
        .unwrap_or_else(|_| panic!("no status in the answer {status_line:?}"))
}

/// Checks that the server answers a plain request after the abuse before it.
async fn assert_still_serving(context: &TestContext) {
    let health = context.raw_get("/api/health", None).await;
    assert_eq!(health.status, StatusCode::OK, "{health:?}");
}

/// Every entry on both leaderboards, to compare before and after refused submissions.
async fn whole_leaderboard(context: &TestContext) -> Value {
    let mut entries = Vec::new();
    for mode in ["walls", "pass-through"] {
        let response = context
            .raw_get(&format!("{LEADERBOARD}?mode={mode}&limit=100"), None)
            .await;
        assert_eq!(response.status, StatusCode::OK, "{response:?}");
        entries.push(response.body);
    }
    Value::Array(entries)
}

/// Submits each raw body as `player` and checks that each is a 400 `invalid_input` whose detail
/// contains `expected`, and that the leaderboard is unchanged afterwards.
async fn assert_submissions_refused(
    context: &TestContext,
    player: &SignedUpPlayer,
    bodies: &[(&str, &str)],
) {
    let before = whole_leaderboard(context).await;
    for (body, expected) in bodies {
        let response = post_bytes(
            context,
            LEADERBOARD,
            body.as_bytes().to_vec(),
            &["application/json"],
            Some(&player.token),
        )
        .await;
        let detail = assert_error(&response, StatusCode::BAD_REQUEST, "invalid_input");
        assert!(detail.contains(expected), "{body}: {detail}");
    }
    assert_eq!(whole_leaderboard(context).await, before);
}

#[tokio::test]
async fn a_json_body_labelled_otherwise_or_not_at_all_is_a_415_and_creates_no_account() {
    let context = TestContext::start().await;
    let details = FreshSignup::new();
    let labels: [&[&str]; 7] = [
        &["text/plain"],
        // What a browser's fetch sends for a string body, cross-origin, without a preflight.
        &["text/plain;charset=UTF-8"],
        &["application/x-www-form-urlencoded"],
        &["application/json; charset=latin1"],
        &["application/jsonp"],
        &["application/json", "application/json"],
        &[],
    ];
    for label in labels {
        let response = post_bytes(&context, SIGNUP, details.valid(), label, None).await;
        let detail = assert_error(
            &response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        );
        assert!(
            detail.contains("send Content-Type: application/json"),
            "{label:?}: {detail}"
        );
    }
    details.succeeds_afterwards(&context).await;
}

#[tokio::test]
async fn a_score_labelled_text_plain_is_a_415_and_stores_nothing() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let before = whole_leaderboard(&context).await;
    let response = post_bytes(
        &context,
        LEADERBOARD,
        br#"{"score": 777, "mode": "walls"}"#.to_vec(),
        &["text/plain"],
        Some(&player.token),
    )
    .await;
    assert_error(
        &response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_eq!(whole_leaderboard(&context).await, before);
}

#[tokio::test]
async fn a_415_carries_the_cors_headers_so_a_browser_page_can_read_it() {
    let context = TestContext::start().await;
    let response = context
        .raw()
        .post(context.url(SIGNUP))
        .header(ORIGIN, "http://localhost:5173")
        .header(CONTENT_TYPE, "text/plain")
        .body(FreshSignup::new().valid())
        .send()
        .await
        .expect("the request is sent");
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        read_raw(response).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

#[tokio::test]
async fn an_operation_without_a_body_needs_no_content_type() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let response = context
        .raw()
        .post(context.url("/api/auth/logout"))
        .bearer_auth(&player.token)
        .send()
        .await
        .expect("the request is sent");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn invalid_utf_8_in_a_json_body_is_a_400_naming_the_field_and_creates_no_account() {
    let context = TestContext::start().await;
    let details = FreshSignup::new();
    // A stray continuation byte, a truncated sequence, a surrogate encoded as UTF-8 bytes
    // (CESU-8) and a byte that never occurs in UTF-8.
    for bytes in [&b"\x80"[..], b"\xe2\x82", b"\xed\xa0\x80", b"\xff"] {
        let response = post_bytes(
            &context,
            SIGNUP,
            details.with_password_bytes(bytes),
            &["application/json"],
            None,
        )
        .await;
        assert_invalid_input_naming(&response, "password");
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("invalid unicode"), "{bytes:?}: {detail}");
    }
    details.succeeds_afterwards(&context).await;
}

#[tokio::test]
async fn a_lone_surrogate_escape_in_a_json_string_is_a_400_naming_the_field_and_creates_no_account()
{
    let context = TestContext::start().await;
    let details = FreshSignup::new();
    for escaped in [
        r#""correct horse \ud800 battery""#,
        r#""correct horse battery \ud800""#,
        r#""correct horse \udc00 battery""#,
        r#""correct horse \ud800\u0041 battery""#,
    ] {
        let response = post_bytes(
            &context,
            SIGNUP,
            details.with_password_json(escaped),
            &["application/json"],
            None,
        )
        .await;
        assert_invalid_input_naming(&response, "password");
    }
    // A correctly paired escape is one character, U+1F40D, and is accepted.
    let response = post_bytes(
        &context,
        SIGNUP,
        details.with_password_json(r#""correct horse \ud83d\udc0d battery""#),
        &["application/json"],
        None,
    )
    .await;
    assert_eq!(response.status, StatusCode::CREATED, "{response:?}");
}

#[tokio::test]
async fn a_json_object_with_a_repeated_key_is_refused_whichever_value_comes_first() {
    // A server that kept the first or the last value would disagree with some proxy, log or
    // client that reads the other, so a repeated key is refused outright.
    let context = TestContext::start().await;
    let details = FreshSignup::new();
    let body = format!(
        r#"{{"email": "{0}", "username": "{1}", "username": "other_{1}", "password": "correct horse battery"}}"#,
        details.email, details.username
    );
    let response = post_bytes(
        &context,
        SIGNUP,
        body.into_bytes(),
        &["application/json"],
        None,
    )
    .await;
    let detail = assert_error(&response, StatusCode::BAD_REQUEST, "invalid_input");
    assert!(detail.contains("duplicate field `username`"), "{detail}");
    details.succeeds_afterwards(&context).await;

    let player = context.sign_up_fresh_player().await;
    assert_submissions_refused(
        &context,
        &player,
        &[
            (
                r#"{"score": 1, "score": 999999, "mode": "walls"}"#,
                "duplicate field `score`",
            ),
            (
                r#"{"score": 999999, "score": 1, "mode": "walls"}"#,
                "duplicate field `score`",
            ),
            (
                r#"{"score": 10, "mode": "walls", "mode": "pass-through"}"#,
                "duplicate field `mode`",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn anything_but_whitespace_after_the_json_value_is_a_400_and_stores_nothing() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    assert_submissions_refused(
        &context,
        &player,
        &[
            (
                r#"{"score": 10, "mode": "walls"} trailing"#,
                "trailing characters",
            ),
            (
                r#"{"score": 10, "mode": "walls"}{"score": 20, "mode": "walls"}"#,
                "trailing characters",
            ),
            (r#"{"score": 10, "mode": "walls"},"#, "trailing characters"),
        ],
    )
    .await;
    let response = post_bytes(
        &context,
        LEADERBOARD,
        b"\n {\"score\": 10, \"mode\": \"walls\"} \r\n\t".to_vec(),
        &["application/json"],
        Some(&player.token),
    )
    .await;
    assert_eq!(response.status, StatusCode::CREATED, "{response:?}");
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_and_never_exhausts_the_stack() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let depth = 6000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let in_a_field = format!(r#"{{"score": {nested}, "mode": "walls"}}"#);
    let unclosed = "{\"a\":".repeat(depth / 2);
    assert_submissions_refused(
        &context,
        &player,
        &[
            (nested.as_str(), "unable to parse JSON body"),
            (in_a_field.as_str(), "score"),
            (unclosed.as_str(), "unable to parse JSON body"),
        ],
    )
    .await;
    assert_still_serving(&context).await;
}

#[tokio::test]
async fn a_score_out_of_int32_or_not_written_as_a_plain_integer_is_a_400_naming_the_score() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let before = whole_leaderboard(&context).await;
    for score in [
        "2147483648",
        "-2147483649",
        "99999999999999999999999",
        "1e400",
        "-1e400",
        "1.0",
        "1e2",
        "0.0000001",
        "NaN",
        "Infinity",
        "\"10\"",
    ] {
        let response = post_bytes(
            &context,
            LEADERBOARD,
            format!(r#"{{"score": {score}, "mode": "walls"}}"#).into_bytes(),
            &["application/json"],
            Some(&player.token),
        )
        .await;
        if score.starts_with(['N', 'I']) {
            // Not JSON at all, so there is no field to name yet.
            assert_error(&response, StatusCode::BAD_REQUEST, "invalid_input");
        } else {
            assert_invalid_input_naming(&response, "score");
        }
    }
    assert_eq!(whole_leaderboard(&context).await, before);
}

#[tokio::test]
async fn a_repeated_query_parameter_is_a_400_naming_it() {
    let context = TestContext::start().await;
    for (query, field) in [
        ("limit=1&limit=2", "limit"),
        ("limit=5&limit=5", "limit"),
        ("mode=walls&mode=pass-through", "mode"),
    ] {
        let response = context
            .raw_get(&format!("{LEADERBOARD}?{query}"), None)
            .await;
        let detail = assert_error(&response, StatusCode::BAD_REQUEST, "invalid_input");
        assert!(
            detail.contains(&format!("duplicate field `{field}`")),
            "{query}: {detail}"
        );
    }
}

#[tokio::test]
async fn a_uri_longer_than_8_kib_is_a_414_and_the_server_keeps_serving() {
    let context = TestContext::start().await;
    let path_of = |total: usize| {
        let prefix = format!("{LEADERBOARD}?limit=1&pad=");
        format!("{prefix}{}", "a".repeat(total - prefix.len()))
    };
    let longest = context.raw_get(&path_of(8 * 1024), None).await;
    assert_eq!(longest.status, StatusCode::OK, "8 KiB is still accepted");

    let too_long = context.raw_get(&path_of(8 * 1024 + 1), None).await;
    let detail = assert_error(&too_long, StatusCode::URI_TOO_LONG, "uri_too_long");
    assert!(detail.contains("8192"), "{detail}");

    // Beyond 64 KiB hyper refuses the request line itself, before any of our code runs: the
    // status is right but there is no body (see "Limits and guarantees" in the README). The
    // HTTP client cannot even build such a URI, so the request is written by hand.
    let request = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", path_of(70 * 1024));
    assert_eq!(
        raw_http_status(&context, request.into_bytes()).await,
        StatusCode::URI_TOO_LONG
    );

    assert_still_serving(&context).await;
}

#[tokio::test]
async fn request_headers_over_32_kib_are_a_431_and_the_server_keeps_serving() {
    let context = TestContext::start().await;
    let with_header = |value_bytes: usize| {
        context
            .raw()
            .get(context.url("/api/health"))
            .header("x-padding", "p".repeat(value_bytes))
    };
    let response = read_raw(with_header(16 * 1024).send().await.expect("sent")).await;
    assert_eq!(response.status, StatusCode::OK, "16 KiB is still accepted");

    let response = read_raw(with_header(40 * 1024).send().await.expect("sent")).await;
    let detail = assert_error(
        &response,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );
    assert!(detail.contains("32768"), "{detail}");

    // Many headers that add up past the limit count the same as one large one.
    let mut many = context.raw().get(context.url("/api/health"));
    for index in 0..40 {
        many = many.header(format!("x-padding-{index}"), "p".repeat(1024));
    }
    let response = read_raw(many.send().await.expect("sent")).await;
    assert_error(
        &response,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "headers_too_large",
    );

    // Beyond hyper's own buffer (about 400 KiB) hyper answers 431 itself, without a body.
    let request = format!(
        "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(512 * 1024)
    );
    assert_eq!(
        raw_http_status(&context, request.into_bytes()).await,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );

    assert_still_serving(&context).await;
}

#[tokio::test]
async fn a_json_body_with_a_valid_label_and_charset_is_accepted() {
    let context = TestContext::start().await;
    let details = FreshSignup::new();
    let response = post_bytes(
        &context,
        SIGNUP,
        details.valid(),
        &["Application/JSON; charset=\"UTF-8\""],
        None,
    )
    .await;
    assert_eq!(response.status, StatusCode::CREATED, "{response:?}");
}
