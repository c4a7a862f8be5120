//! The `auth` tag: signing up, logging in and out, and asking who the token belongs to.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use snake_arena_server::config::Config;
use snake_arena_server::demo::seed::SEEDED_PLAYERS;

use crate::common::{
    TestContext, assert_error, assert_invalid_input_naming, expect_error, login_request,
    signup_request, unique_suffix,
};

const SIGNUP: &str = "/api/auth/signup";
const LOGIN: &str = "/api/auth/login";

/// A password of exactly 128 characters (the contract's maximum) that is 229 bytes of UTF-8.
fn longest_unicode_password() -> String {
    let password: String = "pässwörd-🐍-".chars().cycle().take(128).collect();
    assert_eq!(password.chars().count(), 128);
    assert!(password.len() > 128);
    password
}

#[tokio::test]
async fn signup_returns_a_201_with_the_new_player_and_a_token_that_works_at_once() {
    let context = TestContext::start().await;
    let response = context
        .client()
        .auth_signup(&signup_request(
            "newcomer@example.com",
            "Newcomer_1",
            "correct horse battery",
        ))
        .await
        .expect("signup succeeds");
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = response.into_inner();
    assert_eq!(response.user.username.as_str(), "Newcomer_1");
    assert_eq!(response.user.email.as_str(), "newcomer@example.com");

    let me = context
        .client_with_token(&response.token)
        .auth_me()
        .await
        .expect("the new token authenticates");
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.into_inner(), response.user);
}

#[tokio::test]
async fn the_auth_lifecycle_goes_signup_me_logout_and_then_the_token_is_refused() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;

    let me = player
        .client
        .auth_me()
        .await
        .expect("me with a fresh token");
    assert_eq!(me.into_inner(), player.user);

    let logout = player.client.auth_logout().await.expect("logout");
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    expect_error(
        player.client.auth_me().await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    expect_error(
        player.client.auth_logout().await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
}

#[tokio::test]
async fn login_returns_a_200_with_the_player_and_a_new_token() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;

    let response = context
        .client()
        .auth_login(&login_request(&player.email, &player.password))
        .await
        .expect("login succeeds");
    assert_eq!(response.status(), StatusCode::OK);
    let response = response.into_inner();
    assert_eq!(response.user, player.user);
    assert_ne!(
        response.token.as_str(),
        player.token,
        "a login issues a new token"
    );

    let me = context
        .client_with_token(&response.token)
        .auth_me()
        .await
        .expect("the login token authenticates");
    assert_eq!(me.into_inner(), player.user);
}

#[tokio::test]
async fn a_seeded_player_can_log_in_with_the_documented_password() {
    let context = TestContext::start().await;
    let seeded = &SEEDED_PLAYERS[0];
    let response = context
        .client()
        .auth_login(&login_request(seeded.email, seeded.password))
        .await
        .expect("the seeded player logs in");
    let response = response.into_inner();
    assert_eq!(response.user.id, seeded.id);
    assert_eq!(response.user.username.as_str(), seeded.username);
    assert_eq!(response.user.email.as_str(), seeded.email);
}

#[tokio::test]
async fn login_with_a_wrong_password_and_with_an_unknown_email_get_identical_401_bodies() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;

    let wrong_password = expect_error(
        context
            .client()
            .auth_login(&login_request(&player.email, "not the password"))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    let unknown_email = expect_error(
        context
            .client()
            .auth_login(&login_request("nobody@example.com", &player.password))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
    assert_eq!(wrong_password, unknown_email);
}

#[tokio::test]
async fn a_128_character_unicode_password_works_and_one_wrong_only_at_character_100_fails() {
    let context = TestContext::start().await;
    let password = longest_unicode_password();
    let suffix = unique_suffix();
    let player = context
        .sign_up_player(
            &format!("unicode_{suffix}"),
            &format!("unicode{suffix}@example.com"),
            &password,
        )
        .await;

    context
        .client()
        .auth_login(&login_request(&player.email, &password))
        .await
        .expect("the full password logs in");

    let mut nearly: Vec<char> = password.chars().collect();
    nearly[99] = if nearly[99] == 'x' { 'y' } else { 'x' };
    let nearly: String = nearly.into_iter().collect();
    expect_error(
        context
            .client()
            .auth_login(&login_request(&player.email, &nearly))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
}

#[tokio::test]
async fn signup_returns_a_409_when_the_email_is_taken_in_another_case() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let error = expect_error(
        context
            .client()
            .auth_signup(&signup_request(
                &player.email.to_uppercase(),
                &format!("other_{}", unique_suffix()),
                "correct horse battery",
            ))
            .await,
        StatusCode::CONFLICT,
        "email_taken",
    );
    assert!(!error.detail.is_empty());
}

#[tokio::test]
async fn signup_returns_a_409_when_the_username_is_taken_in_another_case() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    expect_error(
        context
            .client()
            .auth_signup(&signup_request(
                &format!("other{}@example.com", unique_suffix()),
                &player.username.to_uppercase(),
                "correct horse battery",
            ))
            .await,
        StatusCode::CONFLICT,
        "username_taken",
    );
}

#[tokio::test]
async fn signup_returns_a_409_when_a_seeded_username_is_taken_in_another_case() {
    let context = TestContext::start().await;
    expect_error(
        context
            .client()
            .auth_signup(&signup_request(
                "fresh@example.com",
                &SEEDED_PLAYERS[1].username.to_uppercase(),
                "correct horse battery",
            ))
            .await,
        StatusCode::CONFLICT,
        "username_taken",
    );
}

/// Sends a signup body through the raw client and checks the 400 names `field`.
async fn assert_signup_is_rejected_naming(body: serde_json::Value, field: &str) {
    let context = TestContext::start().await;
    let response = context.raw_post_json(SIGNUP, &body, None).await;
    assert_invalid_input_naming(&response, field);
}

#[tokio::test]
async fn signup_returns_a_400_naming_the_username_when_it_is_too_short() {
    assert_signup_is_rejected_naming(
        json!({"email": "a@example.com", "username": "ab", "password": "long enough"}),
        "username",
    )
    .await;
}

#[tokio::test]
async fn signup_returns_a_400_naming_the_username_when_it_is_too_long() {
    assert_signup_is_rejected_naming(
        json!({"email": "a@example.com", "username": "a".repeat(21), "password": "long enough"}),
        "username",
    )
    .await;
}

#[tokio::test]
async fn signup_returns_a_400_naming_the_username_when_it_has_forbidden_characters() {
    for username in ["bad name", "semi;colon", "émile", "dot.ted"] {
        assert_signup_is_rejected_naming(
            json!({"email": "a@example.com", "username": username, "password": "long enough"}),
            "username",
        )
        .await;
    }
}

#[tokio::test]
async fn usernames_that_only_look_like_an_existing_one_cannot_make_a_second_account() {
    let context = TestContext::start().await;
    let original = format!("alice_{}", unique_suffix());
    context
        .sign_up_player(&original, &format!("{original}@example.com"), "long enough")
        .await;
    // Case, fullwidth forms (which NFKC folds to ASCII), zero-width and bidirectional controls,
    // and Cyrillic look-alikes: the contract's ASCII-only pattern refuses every one of them, and
    // uniqueness ignores case, so none becomes a second "alice".
    let look_alikes = [
        (original.to_uppercase(), StatusCode::CONFLICT),
        (
            original.replace("alice", "ａｌｉｃｅ"),
            StatusCode::BAD_REQUEST,
        ),
        (
            original.replace("alice", "al\u{200b}ice"),
            StatusCode::BAD_REQUEST,
        ),
        (format!("{original}\u{200d}"), StatusCode::BAD_REQUEST),
        (format!("\u{202e}{original}"), StatusCode::BAD_REQUEST),
        (format!("{original}\u{2066}"), StatusCode::BAD_REQUEST),
        (original.replace('a', "\u{430}"), StatusCode::BAD_REQUEST),
        (original.replace('i', "\u{131}"), StatusCode::BAD_REQUEST),
    ];
    for (index, (username, status)) in look_alikes.into_iter().enumerate() {
        let response = context
            .raw_post_json(
                "/api/auth/signup",
                &json!({
                    "email": format!("lookalike{index}_{}@example.com", unique_suffix()),
                    "username": username,
                    "password": "long enough",
                }),
                None,
            )
            .await;
        assert_eq!(response.status, status, "{username:?}: {response:?}");
    }
}

#[tokio::test]
async fn signup_returns_a_400_naming_the_email_when_it_is_not_an_email() {
    for email in [
        "not-an-email",
        "two@@example.com",
        "no-domain@",
        "@example.com",
    ] {
        assert_signup_is_rejected_naming(
            json!({"email": email, "username": "valid_name", "password": "long enough"}),
            "email",
        )
        .await;
    }
}

#[tokio::test]
async fn signup_returns_a_400_naming_the_password_when_it_has_7_characters() {
    assert_signup_is_rejected_naming(
        json!({"email": "a@example.com", "username": "valid_name", "password": "1234567"}),
        "password",
    )
    .await;
}

#[tokio::test]
async fn signup_returns_a_400_naming_the_password_when_it_has_129_characters() {
    let password = format!("{}x", longest_unicode_password());
    assert_signup_is_rejected_naming(
        json!({"email": "a@example.com", "username": "valid_name", "password": password}),
        "password",
    )
    .await;
}

#[tokio::test]
async fn signup_returns_a_400_naming_a_missing_field() {
    assert_signup_is_rejected_naming(
        json!({"email": "a@example.com", "username": "valid_name"}),
        "password",
    )
    .await;
}

#[tokio::test]
async fn signup_returns_a_400_naming_an_unknown_field() {
    assert_signup_is_rejected_naming(
        json!({
            "email": "a@example.com",
            "username": "valid_name",
            "password": "long enough",
            "is_admin": true,
        }),
        "is_admin",
    )
    .await;
}

#[tokio::test]
async fn signup_returns_a_400_naming_a_field_of_the_wrong_json_type() {
    assert_signup_is_rejected_naming(
        json!({"email": "a@example.com", "username": 12345, "password": "long enough"}),
        "username",
    )
    .await;
}

#[tokio::test]
async fn signup_returns_a_400_for_malformed_json_and_creates_no_account() {
    let context = TestContext::start().await;
    let response = context
        .raw_post_text(
            SIGNUP,
            r#"{"email": "a@example.com", "username": "valid_name", "password": "long enough""#,
            None,
        )
        .await;
    assert_error(&response, StatusCode::BAD_REQUEST, "invalid_input");

    // The same details are free, so the malformed request stored nothing.
    context
        .sign_up_player("valid_name", "a@example.com", "long enough")
        .await;
}

#[tokio::test]
async fn login_returns_a_400_naming_the_email_when_it_is_not_an_email() {
    let context = TestContext::start().await;
    let response = context
        .raw_post_json(
            LOGIN,
            &json!({"email": "not-an-email", "password": "long enough"}),
            None,
        )
        .await;
    assert_invalid_input_naming(&response, "email");
}

#[tokio::test]
async fn login_returns_a_400_naming_the_password_when_it_breaks_the_length_bounds() {
    let context = TestContext::start().await;
    for password in ["1234567".to_owned(), "p".repeat(129)] {
        let response = context
            .raw_post_json(
                LOGIN,
                &json!({"email": "a@example.com", "password": password}),
                None,
            )
            .await;
        assert_invalid_input_naming(&response, "password");
    }
}

#[tokio::test]
async fn login_returns_a_400_naming_a_missing_or_unknown_field() {
    let context = TestContext::start().await;
    let missing = context
        .raw_post_json(LOGIN, &json!({"email": "a@example.com"}), None)
        .await;
    assert_invalid_input_naming(&missing, "password");

    let unknown = context
        .raw_post_json(
            LOGIN,
            &json!({"email": "a@example.com", "password": "long enough", "remember": true}),
            None,
        )
        .await;
    assert_invalid_input_naming(&unknown, "remember");
}

#[tokio::test]
async fn login_returns_a_400_for_a_wrong_json_type_and_for_malformed_json() {
    let context = TestContext::start().await;
    let wrong_type = context
        .raw_post_json(
            LOGIN,
            &json!({"email": "a@example.com", "password": ["long enough"]}),
            None,
        )
        .await;
    assert_invalid_input_naming(&wrong_type, "password");

    let malformed = context.raw_post_text(LOGIN, "{email:", None).await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "invalid_input");
}

/// A server whose password hashing runs at the production cost with one slot and no queue, so a
/// second password operation arriving while the first hashes is refused at once.
async fn start_with_one_hashing_slot_and_no_queue() -> TestContext {
    TestContext::start_with(|config| {
        config.scrypt_log_n = Config::defaults().scrypt_log_n;
        config.hashing_slots = 1;
        config.hashing_queue = 0;
    })
    .await
}

#[tokio::test]
async fn signup_returns_a_503_busy_when_every_hashing_slot_is_taken() {
    let context = start_with_one_hashing_slot_and_no_queue().await;
    let client = context.client();
    let requests: Vec<_> = (0..3)
        .map(|_| {
            let suffix = unique_suffix();
            signup_request(
                &format!("busy{suffix}@example.com"),
                &format!("busy_{suffix}"),
                "correct horse battery",
            )
        })
        .collect();
    let results = join_all(requests.iter().map(|request| client.auth_signup(request))).await;

    let mut created = 0;
    let mut busy = 0;
    for result in results {
        match result {
            Ok(response) => {
                assert_eq!(response.status(), StatusCode::CREATED);
                created += 1;
            }
            Err(error) => {
                expect_error::<()>(Err(error), StatusCode::SERVICE_UNAVAILABLE, "busy");
                busy += 1;
            }
        }
    }
    assert!(created >= 1, "one signup holds the only slot and succeeds");
    assert!(busy >= 1, "concurrent signups find the slot taken");
}

#[tokio::test]
async fn login_returns_a_503_busy_when_every_hashing_slot_is_taken() {
    let context = start_with_one_hashing_slot_and_no_queue().await;
    let client = context.client();
    let requests: Vec<_> = (0..3)
        .map(|index| login_request(&format!("ghost{index}@example.com"), "no such player"))
        .collect();
    let results = join_all(requests.iter().map(|request| client.auth_login(request))).await;

    let mut refused = 0;
    let mut busy = 0;
    for result in results {
        let Err(error) = result else {
            panic!("an unknown email logged in");
        };
        if error.status() == Some(StatusCode::SERVICE_UNAVAILABLE) {
            let crate::common::Error::ErrorResponse(response) = &error else {
                panic!("a 503 without the contract's body: {error:?}");
            };
            let retry_after = response.headers()[reqwest::header::RETRY_AFTER]
                .to_str()
                .unwrap()
                .parse::<u64>()
                .expect("Retry-After is whole seconds");
            assert!(retry_after >= 1, "Retry-After: {retry_after}");
            expect_error::<()>(Err(error), StatusCode::SERVICE_UNAVAILABLE, "busy");
            busy += 1;
        } else {
            expect_error::<()>(Err(error), StatusCode::UNAUTHORIZED, "invalid_credentials");
            refused += 1;
        }
    }
    assert!(
        refused >= 1,
        "one login holds the only slot and is answered"
    );
    assert!(busy >= 1, "concurrent logins find the slot taken");
}

#[tokio::test]
async fn signup_returns_a_400_saying_why_for_the_most_common_passwords_in_any_case() {
    let context = TestContext::start().await;
    let suffix = unique_suffix();
    let username = format!("careful_{suffix}");
    let email = format!("careful{suffix}@example.com");
    for password in [
        "password",
        "PASSWORD",
        "Password1",
        "iloveyou",
        "12345678",
        "qwertyuiop",
        "Sunshine",
        "p@ssw0rd",
    ] {
        let response = context
            .raw_post_json(
                SIGNUP,
                &json!({"email": email, "username": username, "password": password}),
                None,
            )
            .await;
        assert_invalid_input_naming(&response, "password");
        let detail = response.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("too easy to guess"), "{password}: {detail}");
        // The detail names the field, and its reason may say "common password", so only other
        // passwords can be looked for in it.
        if !password.eq_ignore_ascii_case("password") {
            assert!(!detail.contains(password), "{detail}");
        }
    }
    // None of the refusals created the account, so the same details are still free.
    context
        .sign_up_player(&username, &email, "correct horse battery")
        .await;
}

#[tokio::test]
async fn login_never_refuses_a_password_for_being_common_only_for_being_wrong() {
    // The rule is for new passwords; an account made before it keeps logging in.
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    expect_error(
        context
            .client()
            .auth_login(&login_request(&player.email, "password123"))
            .await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    );
}
