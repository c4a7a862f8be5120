//! Replays of finished games through the API: a game played through the play channel, its
//! summary (`GET /api/games/finished/{gameId}`), and its replay channel, whose frames must equal
//! the live ones and end with the recorded score and ticks, at the original tick or faster.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use snake_arena_server::games::engine::Game;
use snake_arena_server::model::{FinishedGame, GameEndReason, GameMode};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::common::{TestContext, types};
use crate::live::{frames_until_closed, play, send_turn, socket_of, start_game};

/// A tick short enough for a whole game, and its replay at speed 1, to take a fraction of a
/// second.
const FAST_TICK_MS: u32 = 15;

async fn replay_frames(
    context: &TestContext,
    game_id: uuid::Uuid,
    speed: Option<u32>,
) -> (Vec<types::GameFrame>, CloseCode) {
    let upgraded = context
        .client()
        .games_replay(&game_id, speed.and_then(NonZeroU32::new))
        .await
        .expect("the replay channel opens");
    let mut socket = socket_of(upgraded).await;
    let (frames, close) = frames_until_closed(&mut socket).await;
    (frames.into_iter().map(|(frame, _)| frame).collect(), close)
}

#[tokio::test]
async fn a_played_game_s_summary_and_replay_match_its_live_frames_score_and_ticks_at_any_speed() {
    let context = TestContext::start_with(|config| {
        config.game_tick_ms = FAST_TICK_MS;
        config.demo_bots = 0;
    })
    .await;
    let player = context.sign_up_fresh_player().await;
    let started = start_game(&player, types::GameMode::Walls).await;
    let mut socket = play(&context, &started).await;
    send_turn(&mut socket, "left").await;
    send_turn(&mut socket, "down").await;
    let (live, close) = frames_until_closed(&mut socket).await;
    assert_eq!(close, CloseCode::Normal);
    let live: Vec<types::GameFrame> = live.into_iter().map(|(frame, _)| frame).collect();
    let live_final = live.last().expect("live frames").clone();
    assert!(live_final.over);

    let summary = context
        .client()
        .games_finished_view(&started.game_id)
        .await
        .expect("the summary")
        .into_inner();
    assert_eq!(summary.game_id, started.game_id);
    assert_eq!(summary.username.as_str(), player.username);
    assert_eq!(summary.mode, types::GameMode::Walls);
    assert_eq!(summary.score, live_final.score);
    assert_eq!(summary.ticks, live_final.ticks);
    assert_eq!(summary.tick_ms.get(), FAST_TICK_MS);
    assert_eq!(
        summary.end_reason,
        types::FinishedGameSummaryEndReason::HitWall
    );
    assert!(summary.started_at <= summary.ended_at);
    let entry = live_final.entry.clone().expect("a verified entry");
    assert_eq!(summary.entry_id, Some(entry.id));
    assert_eq!(
        entry.game_id,
        Some(summary.game_id),
        "the entry links to the summary"
    );

    for speed in [None, Some(16)] {
        let (replayed, close) = replay_frames(&context, started.game_id, speed).await;
        assert_eq!(close, CloseCode::Normal, "speed {speed:?}");
        let sequences: Vec<i64> = replayed.iter().map(|frame| frame.sequence).collect();
        assert_eq!(
            sequences,
            (0..replayed.len() as i64).collect::<Vec<_>>(),
            "every frame from the start, in order, at speed {speed:?}"
        );
        let replayed_final = replayed.last().expect("replayed frames");
        assert_eq!(
            without_tick_time(replayed_final),
            without_tick_time(&live_final),
            "speed {speed:?}"
        );
        assert_eq!(
            (replayed_final.score.0, replayed_final.ticks),
            (summary.score.0, summary.ticks)
        );
        // The player's socket may have joined after the first tick; from there on the frames
        // are the same.
        let from_where_the_player_joined = &replayed[live[0].sequence as usize..];
        assert_eq!(
            from_where_the_player_joined
                .iter()
                .map(without_tick_time)
                .collect::<Vec<_>>(),
            live.iter().map(without_tick_time).collect::<Vec<_>>(),
            "speed {speed:?}"
        );
    }
}

#[tokio::test]
async fn an_unknown_game_is_404_and_a_speed_of_0_or_17_is_400_before_the_upgrade() {
    let context = TestContext::start_with(|config| config.demo_bots = 0).await;
    let unknown = uuid::Uuid::new_v4();
    let summary = context
        .raw_get(&format!("/api/games/finished/{unknown}"), None)
        .await;
    assert_eq!(summary.status, StatusCode::NOT_FOUND);
    assert_eq!(summary.body["code"], "unknown_game");
    let replay = context
        .raw_websocket_handshake(&format!("/api/games/finished/{unknown}/replay"))
        .await;
    assert_eq!(replay.status, StatusCode::NOT_FOUND);
    assert_eq!(replay.body["code"], "unknown_game");
    for speed in ["0", "17", "fast"] {
        let refused = context
            .raw_websocket_handshake(&format!(
                "/api/games/finished/{unknown}/replay?speed={speed}"
            ))
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "speed {speed}");
        assert_eq!(refused.body["code"], "invalid_input", "speed {speed}");
        let detail = refused.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("speed"), "{detail}");
    }
}

#[tokio::test]
async fn a_ten_thousand_tick_game_starts_streaming_at_once_and_replays_to_its_record() {
    let context = TestContext::start_with(|config| config.demo_bots = 0).await;
    let player = context.sign_up_fresh_player().await;
    // Straight up in pass-through with the food off the snake's column never ends: the record of
    // a game stopped by a shutdown after 10,000 ticks.
    let seed = (0..)
        .find(|seed| {
            Game::new(GameMode::PassThrough, *seed)
                .food()
                .is_some_and(|food| food.x != 10)
        })
        .expect("a seed");
    let ended_at = chrono::Utc::now();
    let game = FinishedGame {
        id: uuid::Uuid::new_v4(),
        player_id: player.user.id,
        username: Arc::from(player.username.as_str()),
        mode: GameMode::PassThrough,
        seed,
        turns: Vec::new(),
        ticks: 10_000,
        // At speed 16 the whole replay takes about 10,000 x 1 ms / 16, under a second.
        tick: Duration::from_millis(1),
        score: 0,
        started_at: ended_at - chrono::Duration::seconds(160),
        ended_at,
        end: GameEndReason::ServerShutdown,
    };
    context
        .state()
        .store
        .record_finished_game(game.clone(), None)
        .await
        .expect("recorded");

    let requested = Instant::now();
    let upgraded = context
        .client()
        .games_replay(&game.id, NonZeroU32::new(16))
        .await
        .expect("the replay channel opens");
    let mut socket = socket_of(upgraded).await;
    let first = loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => break text,
            Some(Ok(_)) => continue,
            other => panic!("no first frame: {other:?}"),
        }
    };
    let time_to_first_frame = requested.elapsed();
    assert!(first.as_str().contains("\"sequence\":0"), "{first}");
    // The figure README reports; printed (with `--nocapture`), never asserted.
    println!(
        "first replayed frame of a 10,000-tick game {time_to_first_frame:?} after the request"
    );
    let (rest, close) = frames_until_closed(&mut socket).await;
    assert_eq!(close, CloseCode::Normal);
    assert_eq!(rest.len(), 10_001, "every tick's frame and the final one");
    let (last, _) = rest.last().expect("frames");
    assert!(last.over);
    assert_eq!((last.ticks, last.score.0), (10_000, 0));
    assert_eq!(
        last.end_reason,
        Some(types::GameFrameEndReason::ServerShuttingDown)
    );
}

/// A frame without `tickedAt`: a live frame says when its tick was published, a replayed one
/// when the recorded schedule put it, so only that field may differ.
fn without_tick_time(frame: &types::GameFrame) -> types::GameFrame {
    let mut frame = frame.clone();
    frame.ticked_at = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    frame
}
