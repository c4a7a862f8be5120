//! The `games` tag: the games being played right now, for spectators.

use std::collections::HashSet;

use futures::StreamExt;
use reqwest::StatusCode;
use snake_arena_server::demo::seed::SEEDED_PLAYERS;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::{TestContext, expect_error, types};

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

#[tokio::test]
async fn watching_a_seeded_game_through_the_generated_client_receives_its_current_frame_then_a_normal_close()
 {
    let context = TestContext::start().await;
    let client = context.client();
    let games = client
        .games_active_list()
        .await
        .expect("the active games list")
        .into_inner();
    let game = games.first().expect("a seeded game");

    let upgraded = client
        .games_watch(&game.id)
        .await
        .expect("the watch channel opens");
    assert_eq!(upgraded.status(), StatusCode::SWITCHING_PROTOCOLS);
    let mut socket =
        WebSocketStream::from_raw_socket(upgraded.into_inner(), Role::Client, None).await;

    let message = socket
        .next()
        .await
        .expect("a first message")
        .expect("the first message arrives");
    let Message::Text(text) = message else {
        panic!("frames are JSON text, got {message:?}");
    };
    let frame: types::GameFrame =
        serde_json::from_str(text.as_str()).expect("the message is a GameFrame");
    assert_eq!(frame.type_, types::GameFrameType::Frame);
    assert_eq!(frame.sequence, 0);
    assert_eq!(
        &frame.game, game,
        "the frame is the game GET /api/games/active lists"
    );

    let closing = socket
        .next()
        .await
        .expect("a closing message")
        .expect("the close arrives");
    let Message::Close(Some(close)) = closing else {
        panic!("the server closes after the frame, got {closing:?}");
    };
    assert_eq!(close.code, CloseCode::Normal, "{close:?}");
}

#[tokio::test]
async fn watching_an_unknown_game_is_refused_with_404_and_the_error_body_before_any_upgrade() {
    let context = TestContext::start().await;
    let unknown = uuid::Uuid::nil();
    let result = context.client().games_watch(&unknown).await;
    if let Err(crate::common::Error::ErrorResponse(response)) = &result {
        assert!(
            !response
                .headers()
                .contains_key(reqwest::header::SEC_WEBSOCKET_ACCEPT),
            "{response:?}"
        );
    }
    let error = expect_error(result, StatusCode::NOT_FOUND, "not_found");
    assert!(error.detail.contains(&unknown.to_string()), "{error:?}");
}
