//! The `games` tag: the games being played right now, for spectators.

use std::collections::HashSet;

use reqwest::StatusCode;
use snake_arena_server::demo::seed::SEEDED_PLAYERS;

use crate::common::{TestContext, types};

/// The contract's `Coordinate` bounds.
const COORDINATES: std::ops::RangeInclusive<i32> = 0..=99;

fn is_on_the_board(cell: &types::Cell) -> bool {
    COORDINATES.contains(&cell.x.0) && COORDINATES.contains(&cell.y.0)
}

fn are_neighbours(first: &types::Cell, second: &types::Cell) -> bool {
    first.x.0.abs_diff(second.x.0) + first.y.0.abs_diff(second.y.0) == 1
}

#[tokio::test]
async fn the_three_seeded_games_are_active_with_contiguous_snakes_on_the_board() {
    let context = TestContext::start().await;
    let response = context
        .client()
        .games_active_list()
        .await
        .expect("the active games list");
    assert_eq!(response.status(), StatusCode::OK);
    let games = response.into_inner();
    assert_eq!(games.len(), 3, "{games:?}");

    let seeded_usernames: HashSet<&str> = SEEDED_PLAYERS
        .iter()
        .map(|seeded| seeded.username)
        .collect();
    let ids: HashSet<_> = games.iter().map(|game| game.id).collect();
    assert_eq!(ids.len(), games.len(), "game ids are unique");
    for game in &games {
        assert!(
            seeded_usernames.contains(game.username.as_str()),
            "{game:?}"
        );
        assert!(!game.snake.is_empty(), "{game:?}");
        let mut occupied = HashSet::new();
        for cell in &game.snake {
            assert!(is_on_the_board(cell), "{cell:?} of {game:?}");
            assert!(occupied.insert((cell.x.0, cell.y.0)), "{game:?} overlaps");
        }
        for pair in game.snake.windows(2) {
            assert!(are_neighbours(&pair[0], &pair[1]), "{pair:?} of {game:?}");
        }
        assert!(is_on_the_board(&game.food), "{game:?}");
        assert!(
            !occupied.contains(&(game.food.x.0, game.food.y.0)),
            "{game:?}"
        );
    }
}

#[tokio::test]
async fn the_active_games_need_no_token() {
    let context = TestContext::start().await;
    let response = context.raw_get("/api/games/active", None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body.as_array().map(Vec::len), Some(3));
}
