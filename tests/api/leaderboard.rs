//! The `leaderboard` tag: listing the best scores (ordering, `mode`, `limit`) and submitting a
//! score, which always belongs to the player the token identifies.

use std::collections::HashSet;
use std::num::NonZeroU32;

use reqwest::StatusCode;
use serde_json::{Value, json};
use snake_arena_server::demo::seed::{SEEDED_PLAYERS, SEEDED_SCORES_PER_MODE};

use crate::common::{
    SignedUpPlayer, TestContext, assert_error, assert_invalid_input_naming, expect_error,
    score_submission, types,
};

const LEADERBOARD: &str = "/api/leaderboard";

fn limit(value: u32) -> Option<NonZeroU32> {
    Some(NonZeroU32::new(value).expect("a non-zero limit"))
}

/// Every score on the server, in leaderboard order (the seed holds far fewer than 100).
async fn all_entries(context: &TestContext) -> Vec<types::LeaderboardEntry> {
    let entries = context
        .client()
        .leaderboard_list(limit(100), None, None)
        .await
        .expect("the leaderboard lists")
        .into_inner();
    assert!(entries.len() < 100, "the test needs every score to fit");
    entries
}

fn assert_best_first_then_earliest(entries: &[types::LeaderboardEntry]) {
    for pair in entries.windows(2) {
        let (higher, lower) = (&pair[0], &pair[1]);
        assert!(
            higher.score.0 > lower.score.0
                || (higher.score.0 == lower.score.0 && higher.timestamp <= lower.timestamp),
            "{higher:?} is listed before {lower:?}"
        );
    }
}

#[tokio::test]
async fn the_leaderboard_lists_the_best_score_first_and_ties_go_to_the_earliest() {
    let context = TestContext::start().await;
    let seeded = all_entries(&context).await;
    assert_eq!(seeded.len(), 2 * SEEDED_SCORES_PER_MODE);
    assert_best_first_then_earliest(&seeded);

    let player = context.sign_up_fresh_player().await;
    let mut submitted = Vec::new();
    for score in [999_999, 1_000_000, 999_999] {
        let entry = player
            .client
            .leaderboard_submit(&score_submission(score, types::GameMode::PassThrough))
            .await
            .expect("the score is accepted")
            .into_inner();
        submitted.push(entry);
    }
    let [first_tie, best, second_tie] = <[_; 3]>::try_from(submitted).expect("three entries");

    let top = context
        .client()
        .leaderboard_list(limit(3), Some(types::GameMode::PassThrough), None)
        .await
        .expect("the leaderboard lists")
        .into_inner();
    assert_eq!(top, [best, first_tie, second_tie]);
    assert_best_first_then_earliest(&all_entries(&context).await);
}

#[tokio::test]
async fn the_mode_filter_returns_only_scores_of_that_mode() {
    let context = TestContext::start().await;
    for mode in [types::GameMode::Walls, types::GameMode::PassThrough] {
        let entries = context
            .client()
            .leaderboard_list(limit(100), Some(mode), None)
            .await
            .expect("the leaderboard lists")
            .into_inner();
        assert_eq!(entries.len(), SEEDED_SCORES_PER_MODE, "{mode:?}");
        assert!(
            entries.iter().all(|entry| entry.mode == mode),
            "{entries:?}"
        );
        assert_best_first_then_earliest(&entries);
    }
}

#[tokio::test]
async fn without_a_mode_the_leaderboard_merges_both_modes() {
    let context = TestContext::start().await;
    let modes: HashSet<_> = all_entries(&context)
        .await
        .into_iter()
        .map(|entry| entry.mode)
        .collect();
    assert_eq!(
        modes,
        HashSet::from([types::GameMode::Walls, types::GameMode::PassThrough])
    );
}

#[tokio::test]
async fn the_seeded_players_appear_on_the_leaderboard_of_both_modes() {
    let context = TestContext::start().await;
    for mode in [types::GameMode::Walls, types::GameMode::PassThrough] {
        let entries = context
            .client()
            .leaderboard_list(limit(100), Some(mode), None)
            .await
            .expect("the leaderboard lists")
            .into_inner();
        let usernames: HashSet<&str> = entries
            .iter()
            .map(|entry| entry.username.as_str())
            .collect();
        for seeded in SEEDED_PLAYERS {
            assert!(
                usernames.contains(seeded.username),
                "{mode:?}: {usernames:?}"
            );
        }
    }
}

#[tokio::test]
async fn without_a_limit_the_leaderboard_returns_10_entries() {
    let context = TestContext::start().await;
    // The seed holds exactly 10 scores; two more make the default limit visible.
    let player = context.sign_up_fresh_player().await;
    for score in [10, 20] {
        player
            .client
            .leaderboard_submit(&score_submission(score, types::GameMode::Walls))
            .await
            .expect("the score is accepted");
    }
    let entries = context
        .client()
        .leaderboard_list(None, None, None)
        .await
        .expect("the leaderboard lists")
        .into_inner();
    assert_eq!(entries.len(), 10);
    let raw = context.raw_get(LEADERBOARD, None).await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.body.as_array().map(Vec::len), Some(10));
}

#[tokio::test]
async fn a_limit_of_1_and_a_limit_of_100_are_accepted() {
    let context = TestContext::start().await;
    let one = context
        .client()
        .leaderboard_list(limit(1), None, None)
        .await
        .expect("limit 1 lists")
        .into_inner();
    let hundred = context
        .client()
        .leaderboard_list(limit(100), None, None)
        .await
        .expect("limit 100 lists")
        .into_inner();
    assert_eq!(one.len(), 1);
    assert_eq!(hundred.len(), 2 * SEEDED_SCORES_PER_MODE);
    assert_eq!(one[0], hundred[0]);
}

#[tokio::test]
async fn a_limit_of_0_or_101_or_not_a_number_is_a_400_naming_the_limit() {
    let context = TestContext::start().await;
    for query in ["limit=0", "limit=101", "limit=-1", "limit=ten", "limit=1.5"] {
        let response = context
            .raw_get(&format!("{LEADERBOARD}?{query}"), None)
            .await;
        assert_invalid_input_naming(&response, "limit");
    }
    let through_the_client = context
        .client()
        .leaderboard_list(limit(101), None, None)
        .await;
    expect_error(through_the_client, StatusCode::BAD_REQUEST, "invalid_input");
}

#[tokio::test]
async fn an_unknown_mode_in_the_query_is_a_400_naming_the_mode() {
    let context = TestContext::start().await;
    let response = context
        .raw_get(&format!("{LEADERBOARD}?mode=diagonal"), None)
        .await;
    assert_invalid_input_naming(&response, "mode");
}

#[tokio::test]
async fn a_submitted_score_is_a_201_for_the_tokens_player_and_appears_on_the_leaderboard() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let response = player
        .client
        .leaderboard_submit(&score_submission(4_321, types::GameMode::Walls))
        .await
        .expect("the score is accepted");
    assert_eq!(response.status(), StatusCode::CREATED);
    let entry = response.into_inner();
    assert_eq!(entry.username.as_str(), player.username);
    assert_eq!(entry.score.0, 4_321);
    assert_eq!(entry.mode, types::GameMode::Walls);

    let walls = context
        .client()
        .leaderboard_list(limit(100), Some(types::GameMode::Walls), None)
        .await
        .expect("the leaderboard lists")
        .into_inner();
    assert!(walls.contains(&entry), "{walls:?}");
    let pass_through = context
        .client()
        .leaderboard_list(limit(100), Some(types::GameMode::PassThrough), None)
        .await
        .expect("the leaderboard lists")
        .into_inner();
    assert!(!pass_through.iter().any(|listed| listed.id == entry.id));
}

#[tokio::test]
async fn the_lowest_and_highest_scores_of_the_contract_are_accepted() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    for score in [0, 1_000_000] {
        let entry = player
            .client
            .leaderboard_submit(&score_submission(score, types::GameMode::PassThrough))
            .await
            .expect("a boundary score is accepted")
            .into_inner();
        assert_eq!(entry.score.0, score);
    }
}

#[tokio::test]
async fn submitting_without_a_token_is_a_401_and_stores_nothing() {
    let context = TestContext::start().await;
    expect_error(
        context
            .client()
            .leaderboard_submit(&score_submission(555_555, types::GameMode::Walls))
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert!(
        all_entries(&context)
            .await
            .iter()
            .all(|entry| entry.score.0 != 555_555)
    );
}

/// Checks that the leaderboard holds nothing of `player`: their rejected submissions left no trace.
async fn assert_nothing_stored_for(context: &TestContext, player: &SignedUpPlayer) {
    let entries = all_entries(context).await;
    assert_eq!(entries.len(), 2 * SEEDED_SCORES_PER_MODE, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|entry| entry.username.as_str() != player.username),
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_submission_that_names_a_player_id_time_or_rank_is_a_400_and_stores_nothing() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    let extra_fields = [
        ("username", json!(SEEDED_PLAYERS[0].username)),
        ("username", json!(player.username)),
        ("id", json!("5eed0000-0000-4000-8000-000000000001")),
        ("timestamp", json!("2020-01-01T00:00:00Z")),
        ("rank", json!(1)),
    ];
    for (field, value) in extra_fields {
        let mut body = json!({"score": 424_242, "mode": "walls"});
        body[field] = value;
        let response = context
            .raw_post_json(LEADERBOARD, &body, Some(&player.token))
            .await;
        assert_invalid_input_naming(&response, field);
    }
    assert_nothing_stored_for(&context, &player).await;
}

/// Submits each body with a valid token and checks each is a 400 naming its field.
async fn assert_submissions_are_rejected_naming(bodies: &[(Value, &str)]) {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    for (body, field) in bodies {
        let response = context
            .raw_post_json(LEADERBOARD, body, Some(&player.token))
            .await;
        assert_invalid_input_naming(&response, field);
    }
    assert_nothing_stored_for(&context, &player).await;
}

#[tokio::test]
async fn a_score_below_0_above_1000000_or_fractional_is_a_400_naming_the_score() {
    assert_submissions_are_rejected_naming(&[
        (json!({"score": -1, "mode": "walls"}), "score"),
        (json!({"score": 1_000_001, "mode": "walls"}), "score"),
        (json!({"score": 1.5, "mode": "walls"}), "score"),
    ])
    .await;
}

#[tokio::test]
async fn an_unknown_mode_in_a_submission_is_a_400_naming_the_mode() {
    assert_submissions_are_rejected_naming(&[(json!({"score": 10, "mode": "diagonal"}), "mode")])
        .await;
}

#[tokio::test]
async fn a_submission_with_a_missing_unknown_or_wrongly_typed_field_is_a_400_naming_it() {
    assert_submissions_are_rejected_naming(&[
        (json!({"score": 10}), "mode"),
        (json!({"mode": "walls"}), "score"),
        (json!({"score": 10, "mode": "walls", "bonus": 5}), "bonus"),
        (json!({"score": "10", "mode": "walls"}), "score"),
        (json!({"score": 10, "mode": 1}), "mode"),
        (json!({"score": null, "mode": "walls"}), "score"),
    ])
    .await;
}

#[tokio::test]
async fn a_malformed_json_submission_is_a_400_and_stores_nothing() {
    let context = TestContext::start().await;
    let player = context.sign_up_fresh_player().await;
    for body in [r#"{"score": 10, "mode": "walls""#, "", "[]", "score=10"] {
        let response = context
            .raw_post_text(LEADERBOARD, body, Some(&player.token))
            .await;
        assert_error(&response, StatusCode::BAD_REQUEST, "invalid_input");
    }
    assert_nothing_stored_for(&context, &player).await;
}
