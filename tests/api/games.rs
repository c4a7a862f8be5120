//! The `games` tag: the games being played right now, for spectators. The list shows the real
//! live games the server runs: the demo bots' on a seeded server, and any game a player starts.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use snake_arena_server::games::bots::is_bot_name;
use snake_arena_server::games::frames::Recording;
use snake_arena_server::model::{GameEndReason, GameMode, PlayerProfile, ScoreFilter};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use crate::common::{TestContext, expect_error, types};

/// The contract's `Coordinate` bounds.
const COORDINATES: std::ops::RangeInclusive<i32> = 0..=99;

/// A tick so long that no game moves during a test, so what the list shows is known.
const FROZEN_TICK_MS: u32 = 3_600_000;

fn is_on_the_board(cell: &types::Cell) -> bool {
    COORDINATES.contains(&cell.x.0) && COORDINATES.contains(&cell.y.0)
}

fn are_neighbours(first: &types::Cell, second: &types::Cell) -> bool {
    first.x.0.abs_diff(second.x.0) + first.y.0.abs_diff(second.y.0) == 1
}

fn assert_is_a_valid_game(game: &types::ActiveGame) {
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

async fn active_games(context: &TestContext) -> Vec<types::ActiveGame> {
    let response = context
        .client()
        .games_active_list(None)
        .await
        .expect("the active games list");
    assert_eq!(response.status(), StatusCode::OK);
    response.into_inner()
}

#[tokio::test]
async fn a_seeded_server_lists_the_three_demo_bots_games_with_contiguous_snakes_on_the_board() {
    let context = TestContext::start_with(|config| config.game_tick_ms = FROZEN_TICK_MS).await;
    let games = active_games(&context).await;
    assert_eq!(games.len(), 3, "{games:?}");
    let ids: HashSet<_> = games.iter().map(|game| game.id).collect();
    assert_eq!(ids.len(), games.len(), "game ids are unique");
    let names: HashSet<_> = games.iter().map(|game| game.username.as_str()).collect();
    assert_eq!(names, HashSet::from(["bot-1", "bot-2", "bot-3"]));
    for game in &games {
        assert!(is_bot_name(&game.username));
        assert_is_a_valid_game(game);
        assert_eq!(game.score.0, 0);
    }
}

#[tokio::test]
async fn a_game_a_player_starts_is_listed_with_its_starting_snake_and_food() {
    let context = TestContext::start_with(|config| {
        config.no_seed = true;
        config.game_tick_ms = FROZEN_TICK_MS;
    })
    .await;
    assert_eq!(
        active_games(&context).await,
        Vec::new(),
        "no bots without the seed"
    );
    let player = context.sign_up_fresh_player().await;
    let profile = PlayerProfile {
        id: player.user.id,
        username: player.username.clone(),
        email: player.email.clone(),
    };
    let started = context
        .state()
        .live_games
        .start(&profile, GameMode::PassThrough)
        .await
        .expect("a game starts");

    let games = active_games(&context).await;
    assert_eq!(games.len(), 1, "{games:?}");
    let game = &games[0];
    assert_eq!(game.id, started.game_id);
    assert_eq!(game.username.as_str(), player.username);
    assert_eq!(game.mode, types::GameMode::PassThrough);
    let head = &game.snake[0];
    assert_eq!((head.x.0, head.y.0, game.snake.len()), (10, 10, 3));
    assert_is_a_valid_game(game);
    let current = context
        .state()
        .spectating
        .current_frame(started.game_id)
        .expect("its current frame");
    let food = current.frame.view.food.expect("food");
    assert_eq!(
        (game.food.x.0, game.food.y.0),
        (i32::from(food.x), i32::from(food.y))
    );
}

#[tokio::test]
async fn more_than_a_hundred_live_games_are_listed_a_hundred_at_a_time_after_the_last_id_seen() {
    let context = TestContext::start_with(|config| {
        config.demo_bots = 150;
        config.game_tick_ms = FROZEN_TICK_MS;
    })
    .await;
    let client = context.client();
    let first_page = active_games(&context).await;
    assert_eq!(first_page.len(), 100, "a page holds at most 100 games");
    let last_seen = first_page.last().expect("a full page").id;
    let second_page = client
        .games_active_list(Some(&last_seen))
        .await
        .expect("the second page")
        .into_inner();
    assert_eq!(second_page.len(), 50);

    let ids: Vec<_> = first_page
        .iter()
        .chain(&second_page)
        .map(|game| game.id)
        .collect();
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ordered by id, none twice"
    );
    let names: HashSet<_> = first_page
        .iter()
        .chain(&second_page)
        .map(|game| game.username.to_string())
        .collect();
    assert_eq!(
        names.len(),
        150,
        "every bot's game is on one page or the other"
    );

    // The cursor need not be a live game's id: paging survives the last game seen ending.
    let after_everything = client
        .games_active_list(Some(&uuid::Uuid::max()))
        .await
        .expect("a page after every id")
        .into_inner();
    assert_eq!(after_everything, Vec::new());
}

#[tokio::test]
async fn more_demo_bots_than_live_games_allowed_is_a_clear_start_up_error() {
    let mut config = snake_arena_server::config::Config::defaults();
    config.database_url = "memory".to_owned();
    config.demo_bots = 5;
    config.max_live_games = 4;
    let error = snake_arena_server::server::start(&config)
        .await
        .err()
        .expect("the server refuses to start");
    assert_eq!(
        error.to_string(),
        "invalid configuration: --demo-bots 5 is more than --max-live-games 4: every bot plays a live game"
    );
}

#[tokio::test]
async fn the_active_games_need_no_token() {
    let context = TestContext::start().await;
    let response = context.raw_get("/api/games/active", None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.body.is_array(), "{:?}", response.body);
}

#[tokio::test]
async fn shutting_down_the_server_ends_live_games_with_a_final_frame_and_records_their_scores() {
    let context = TestContext::start_with(|config| config.game_tick_ms = FROZEN_TICK_MS).await;
    let player = context.sign_up_fresh_player().await;
    let profile = PlayerProfile {
        id: player.user.id,
        username: player.username.clone(),
        email: player.email.clone(),
    };
    let live_games = context.state().live_games.clone();
    let store = Arc::clone(&context.state().store);
    let started = live_games
        .start(&profile, GameMode::Walls)
        .await
        .expect("a game starts");
    let mut session = live_games.play(started.ticket.expose()).expect("play");
    let mut bot_watcher = {
        let bot_game = live_games
            .current_frames()
            .into_iter()
            .find(|frame| is_bot_name(&frame.frame.username))
            .expect("a bot is playing");
        live_games.watch(bot_game.frame.game_id).expect("watch")
    };

    let _database = context
        .shut_down(Duration::from_secs(10))
        .await
        .expect("a clean shutdown");

    let mut last = None;
    while let Some(frame) = session.frames.next().await {
        last = Some(frame);
    }
    let last = last.expect("a final frame");
    let end = last
        .frame
        .end
        .as_ref()
        .expect("the final frame says it ended");
    assert_eq!(end.reason, GameEndReason::ServerShutdown);
    let Recording::Verified(entry) = &end.recording else {
        panic!("expected a verified entry, got {:?}", end.recording);
    };
    assert_eq!(entry.game_id, Some(started.game_id));
    let json: serde_json::Value = serde_json::from_slice(&last.encoded).expect("a JSON frame");
    assert_eq!(json["frame"]["endReason"], "server_shutting_down");
    assert_eq!(json["frame"]["entry"]["id"], entry.id.to_string());

    let mut bot_last = None;
    while let Some(frame) = bot_watcher.next().await {
        bot_last = Some(frame);
    }
    let bot_end = bot_last.expect("final").frame.end.clone().expect("ended");
    assert_eq!(bot_end.reason, GameEndReason::ServerShutdown);
    assert_eq!(bot_end.recording, Recording::NotOnLeaderboard);

    let verified = store
        .top_scores(ScoreFilter::verified(None), 10)
        .await
        .expect("top");
    assert_eq!(verified, vec![entry.clone()]);
    assert!(
        store
            .finished_game(started.game_id)
            .await
            .expect("read")
            .is_some()
    );
    assert_eq!(live_games.live_game_count(), 0);
}

#[tokio::test]
async fn watching_a_game_through_the_generated_client_receives_first_the_frame_the_list_shows() {
    let context = TestContext::start_with(|config| config.game_tick_ms = FROZEN_TICK_MS).await;
    let client = context.client();
    let games = client
        .games_active_list(None)
        .await
        .expect("the active games list")
        .into_inner();
    let game = games.first().expect("a bot's game");

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
    let message: types::ServerMessage =
        serde_json::from_str(text.as_str()).expect("the message is a ServerMessage");
    assert_eq!(message.type_, types::ServerMessageType::Frame);
    let frame = message.frame.expect("a frame message carries its frame");
    assert_eq!(frame.game_id, game.id);
    assert_eq!(frame.username, game.username);
    assert_eq!(frame.score, game.score);
    assert_eq!(frame.snake.as_slice(), game.snake.as_slice());
    assert_eq!(frame.food.as_ref(), Some(&game.food));
    assert!(!frame.over);
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
    let error = expect_error(result, StatusCode::NOT_FOUND, "unknown_game");
    assert!(!error.detail.is_empty(), "{error:?}");
}

#[tokio::test]
async fn with_more_live_games_than_the_contract_lists_the_active_list_shows_the_first_100() {
    let context = TestContext::start_with(|config| {
        // The longest tick `POST /api/games` can report.
        config.game_tick_ms = 60_000;
        config.demo_bots = 100;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    let started = context
        .raw_post_json(
            "/api/games",
            &serde_json::json!({"mode": "walls"}),
            Some(&player.token),
        )
        .await;
    assert_eq!(started.status, StatusCode::CREATED, "{:?}", started.body);
    assert_eq!(context.state().live_games.live_game_count(), 101);
    let response = context.raw_get("/api/games/active", None).await;
    assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
    assert_eq!(response.body.as_array().map(Vec::len), Some(100));
}
