//! Concurrency: requests that race each other still keep the store's promises. Fifty sign-ups of
//! one username make exactly one account, and two hundred score submissions at once are all
//! stored. The scrypt cost is cheap and the limits that would refuse a burst from one client are
//! off, so what is tested is the race, not the rate limits or the hashing queue.

use std::collections::HashSet;
use std::num::NonZeroU32;

use futures::future::join_all;
use reqwest::StatusCode;

use crate::common::{
    SignedUpPlayer, TestContext, expect_error, score_submission, signup_request, types,
    unique_suffix,
};

/// A server for bursts: no sign-up or submission limit, and a hashing queue long enough that no
/// sign-up of a burst is refused as busy.
async fn start_for_bursts() -> TestContext {
    TestContext::start_with(|config| {
        config.no_seed = true;
        config.signups_per_client_per_hour = 0;
        config.score_submissions_per_player_per_minute = 0;
        config.hashing_queue = 256;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_signups_of_one_username_make_exactly_one_account_and_49_conflicts() {
    const SIGNUPS: usize = 50;
    let context = start_for_bursts().await;
    let username = format!("racer_{}", unique_suffix());
    let requests: Vec<_> = (0..SIGNUPS)
        .map(|_| {
            signup_request(
                &format!("racer{}@example.com", unique_suffix()),
                &username,
                "correct horse battery",
            )
        })
        .collect();
    // Each sign-up is its own task, so the server's threads really run them side by side.
    let tasks = requests.into_iter().map(|request| {
        let client = context.client();
        tokio::spawn(async move { client.auth_signup(&request).await })
    });
    let results = join_all(tasks).await;

    let mut created = Vec::new();
    let mut conflicts = 0;
    for result in results {
        match result.expect("the sign-up task did not panic") {
            Ok(response) => {
                assert_eq!(response.status(), StatusCode::CREATED);
                created.push(response.into_inner());
            }
            Err(error) => {
                expect_error::<()>(Err(error), StatusCode::CONFLICT, "username_taken");
                conflicts += 1;
            }
        }
    }
    assert_eq!(created.len(), 1, "exactly one sign-up wins: {created:?}");
    assert_eq!(conflicts, SIGNUPS - 1);

    // The winner's token works and names the one account.
    let winner = &created[0];
    let me = context
        .client_with_token(&winner.token.to_string())
        .auth_me()
        .await
        .expect("the winner's token works")
        .into_inner();
    assert_eq!(me.username.as_str(), username);
    assert_eq!(me, winner.user);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_scores_from_twenty_players_are_all_201_and_all_stored() {
    const PLAYERS: usize = 20;
    const SCORES_PER_PLAYER: usize = 10;
    let context = start_for_bursts().await;
    let mut players: Vec<SignedUpPlayer> = Vec::new();
    for _ in 0..PLAYERS {
        players.push(context.sign_up_fresh_player().await);
    }

    // Every score is distinct, and each player posts half in each mode, so each mode receives
    // exactly 100 scores: a full top-100 page.
    let mut tasks = Vec::new();
    for (player_index, player) in players.iter().enumerate() {
        for submission_index in 0..SCORES_PER_PLAYER {
            let score = 500_000 + (player_index * SCORES_PER_PLAYER + submission_index) as i32;
            let mode = if submission_index % 2 == 0 {
                types::GameMode::Walls
            } else {
                types::GameMode::PassThrough
            };
            let client = player.client.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .leaderboard_submit(&score_submission(score, mode))
                    .await
            }));
        }
    }
    let mut created_by_mode = [HashSet::new(), HashSet::new()];
    for result in join_all(tasks).await {
        let response = result
            .expect("the submission task did not panic")
            .expect("every submission is accepted");
        assert_eq!(response.status(), StatusCode::CREATED);
        let entry = response.into_inner();
        let mode_index = usize::from(entry.mode == types::GameMode::PassThrough);
        assert!(created_by_mode[mode_index].insert(entry.id), "{entry:?}");
    }
    assert_eq!(
        created_by_mode.iter().map(HashSet::len).sum::<usize>(),
        PLAYERS * SCORES_PER_PLAYER
    );

    // The store started empty, so each mode's top 100 is exactly the 100 scores posted in it.
    for (mode, created) in [types::GameMode::Walls, types::GameMode::PassThrough]
        .into_iter()
        .zip(&created_by_mode)
    {
        let listed: HashSet<_> = context
            .client()
            .leaderboard_list(NonZeroU32::new(100), Some(mode), None)
            .await
            .expect("the leaderboard lists")
            .into_inner()
            .into_iter()
            .map(|entry| entry.id)
            .collect();
        assert_eq!(&listed, created, "{mode:?}");
    }
}
