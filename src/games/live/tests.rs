//! Tests of the live-games runtime, in tokio's paused time: the runtime moves the clock forward
//! whenever every task waits, so a game ticks exactly when a test awaits its next frame, and no
//! test depends on the wall clock.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::*;
use crate::games::engine::EndCause;
use crate::model::ScoreFilter;
use crate::store::MemoryStore;

const SEED: u64 = 0x5eed_0000_0000_0001;

fn player(username: &str) -> PlayerProfile {
    PlayerProfile {
        id: Uuid::new_v4(),
        username: username.to_string(),
        email: format!("{username}@example.com"),
    }
}

fn sequence_encoder() -> FrameEncoder {
    Arc::new(|frame: &Frame| Bytes::from(format!("frame {}", frame.sequence)))
}

fn settings() -> LiveGamesSettings {
    LiveGamesSettings {
        tick: Duration::from_millis(150),
        ..LiveGamesSettings::default()
    }
}

fn live_games_with(settings: LiveGamesSettings) -> (LiveGames, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let live = LiveGames::new(
        Arc::clone(&store) as Arc<dyn Store>,
        settings,
        sequence_encoder(),
    );
    (live, store)
}

/// Every frame a subscription yields until it ends.
async fn drain(frames: &mut Subscription) -> Vec<SharedFrame> {
    let mut seen = Vec::new();
    while let Some(frame) = frames.next().await {
        seen.push(frame);
    }
    seen
}

/// How the engine says a game with no turns ends: its ticks, score and cause.
fn predicted_end_without_turns(mode: GameMode, seed: u64) -> (u64, u32, EndCause) {
    let mut game = Game::new(mode, seed);
    while !game.is_over() {
        game.advance();
    }
    (game.ticks(), game.score(), game.end().expect("over"))
}

#[tokio::test(start_paused = true)]
async fn a_game_publishes_a_frame_every_tick_in_order_with_sequence_numbers() {
    let (live, _) = live_games_with(settings());
    let started = live
        .start_with_seed(&player("ticker"), GameMode::Walls, SEED)
        .await
        .expect("start");
    let mut session = live.play(started.ticket.expose()).expect("play");
    let start = Instant::now();
    for expected in 0..5u64 {
        let frame = session.frames.next().await.expect("a frame");
        assert_eq!(frame.sequence(), expected);
        assert_eq!(frame.frame.view.ticks, expected);
        assert_eq!(frame.frame.game_id, started.game_id);
        assert_eq!(&*frame.frame.username, "ticker");
        assert_eq!(frame.encoded, Bytes::from(format!("frame {expected}")));
        assert_eq!(start.elapsed(), settings().tick * expected as u32);
    }
}

#[tokio::test(start_paused = true)]
async fn a_turn_takes_effect_at_the_next_tick_and_not_before() {
    let (live, _) = live_games_with(settings());
    let started = live
        .start_with_seed(&player("turner"), GameMode::Walls, SEED)
        .await
        .expect("start");
    let mut session = live.play(started.ticket.expose()).expect("play");
    let first = session.frames.next().await.expect("frame 0");
    assert_eq!(first.frame.view.direction, Direction::Up);
    assert_eq!(session.turns.send(Direction::Left), TurnDelivery::Delivered);
    tokio::task::yield_now().await;
    let before_the_tick = live.current_frame(started.game_id).expect("current");
    assert_eq!(before_the_tick.sequence(), 0);
    assert_eq!(before_the_tick.frame.view.direction, Direction::Up);

    let after = session.frames.next().await.expect("frame 1");
    assert_eq!(after.frame.view.direction, Direction::Left);
    assert_eq!(
        after.frame.view.snake[0],
        crate::model::Cell { x: 9, y: 10 }
    );
}

#[tokio::test(start_paused = true)]
async fn a_game_into_the_wall_ends_on_the_predicted_tick_and_its_verified_score_is_recorded() {
    let (live, store) = live_games_with(settings());
    let gamer = player("waller");
    let (ticks, score, cause) = predicted_end_without_turns(GameMode::Walls, SEED);
    assert_eq!(cause, EndCause::HitWall);

    let started = live
        .start_with_seed(&gamer, GameMode::Walls, SEED)
        .await
        .expect("start");
    let mut session = live.play(started.ticket.expose()).expect("play");
    let frames = drain(&mut session.frames).await;
    let sequences: Vec<u64> = frames.iter().map(SharedFrame::sequence).collect();
    assert_eq!(sequences, (0..=ticks).collect::<Vec<_>>());

    let last = frames.last().expect("a final frame");
    assert_eq!(last.frame.view.ticks, ticks);
    assert_eq!(last.frame.view.score, score);
    let end = last
        .frame
        .end
        .as_ref()
        .expect("the final frame says it ended");
    assert_eq!(end.reason, GameEndReason::Rules(EndCause::HitWall));
    let Recording::Verified(entry) = &end.recording else {
        panic!("expected a verified entry, got {:?}", end.recording);
    };
    assert_eq!(entry.score, score);
    assert_eq!(entry.game_id, Some(started.game_id));
    assert!(entry.verified);
    assert_eq!(entry.player_id, gamer.id);

    let top = store
        .top_scores(ScoreFilter::verified(Some(GameMode::Walls)), 10)
        .await
        .expect("top");
    assert_eq!(top, vec![entry.clone()]);
    let recorded = store
        .finished_game(started.game_id)
        .await
        .expect("read")
        .expect("the finished game is kept");
    assert_eq!(
        (recorded.seed, recorded.ticks, recorded.score),
        (SEED, ticks, score)
    );
    assert_eq!(recorded.end, GameEndReason::Rules(EndCause::HitWall));
    assert!(recorded.turns.is_empty());
    assert_eq!(live.live_game_count(), 0);
    assert_eq!(session.turns.send(Direction::Left), TurnDelivery::GameOver);
}

#[tokio::test(start_paused = true)]
async fn the_recorded_turn_log_replays_to_the_recorded_game() {
    let (live, store) = live_games_with(settings());
    let started = live
        .start_with_seed(&player("replayer"), GameMode::PassThrough, SEED)
        .await
        .expect("start");
    let mut session = live.play(started.ticket.expose()).expect("play");
    // A zigzag upwards, which never runs into itself within twelve ticks.
    let turns = [
        Direction::Left,
        Direction::Up,
        Direction::Right,
        Direction::Up,
    ];
    for (frame_number, direction) in (0..12u64).zip(turns.iter().cycle()) {
        let frame = session.frames.next().await.expect("frame");
        assert_eq!(frame.sequence(), frame_number);
        assert_eq!(session.turns.send(*direction), TurnDelivery::Delivered);
    }
    live.shut_down().await;
    let last = drain(&mut session.frames).await.pop().expect("final frame");
    let recorded = store
        .finished_game(started.game_id)
        .await
        .expect("read")
        .expect("recorded");
    assert!(!recorded.turns.is_empty());
    let replayed = crate::games::engine::replay(
        recorded.mode,
        recorded.seed,
        &recorded.turns,
        recorded.ticks,
    )
    .expect("a valid log");
    assert_eq!(replayed.view().snake, last.frame.view.snake);
    assert_eq!(replayed.score(), recorded.score);
}

#[tokio::test(start_paused = true)]
async fn two_subscribers_receive_exactly_the_same_frames_in_order() {
    let (live, _) = live_games_with(settings());
    let started = live
        .start_with_seed(&player("watched"), GameMode::Walls, SEED)
        .await
        .expect("start");
    let mut first = live.watch(started.game_id).expect("watch");
    let mut second = live.watch(started.game_id).expect("watch");
    let (first_frames, second_frames) = tokio::join!(drain(&mut first), drain(&mut second));
    let sequences =
        |frames: &[SharedFrame]| -> Vec<u64> { frames.iter().map(SharedFrame::sequence).collect() };
    let (ticks, _, _) = predicted_end_without_turns(GameMode::Walls, SEED);
    assert_eq!(sequences(&first_frames), (0..=ticks).collect::<Vec<_>>());
    assert_eq!(sequences(&first_frames), sequences(&second_frames));
    for (one, other) in first_frames.iter().zip(&second_frames) {
        assert!(Arc::ptr_eq(&one.frame, &other.frame), "frames are shared");
        assert_eq!(one.encoded.as_ptr(), other.encoded.as_ptr(), "encoded once");
    }
    assert!(first_frames.last().expect("final").is_final());
}

#[tokio::test(start_paused = true)]
async fn a_late_subscriber_gets_the_current_frame_first_then_the_next_ones() {
    let (live, _) = live_games_with(settings());
    let started = live
        .start_with_seed(&player("early"), GameMode::PassThrough, SEED)
        .await
        .expect("start");
    let mut early = live.watch(started.game_id).expect("watch");
    for _ in 0..=4 {
        early.next().await.expect("frame");
    }
    let mut late = live.watch(started.game_id).expect("watch");
    assert_eq!(late.next().await.map(|frame| frame.sequence()), Some(4));
    assert_eq!(late.next().await.map(|frame| frame.sequence()), Some(5));
    assert_eq!(early.next().await.map(|frame| frame.sequence()), Some(5));
}

#[tokio::test(start_paused = true)]
async fn a_subscriber_that_falls_behind_is_resynchronised_without_repeats_or_reordering() {
    let (live, _) = live_games_with(LiveGamesSettings {
        frames_buffered_per_game: 2,
        ..settings()
    });
    let started = live
        .start_with_seed(&player("laggy"), GameMode::PassThrough, SEED)
        .await
        .expect("start");
    let mut slow = live.watch(started.game_id).expect("watch");
    let mut driver = live.watch(started.game_id).expect("watch");
    for _ in 0..=8 {
        driver.next().await.expect("frame");
    }
    let caught_up: Vec<u64> = [
        slow.next().await.expect("frame"),
        slow.next().await.expect("frame"),
        slow.next().await.expect("frame"),
    ]
    .iter()
    .map(SharedFrame::sequence)
    .collect();
    assert_eq!(caught_up, vec![0, 8, 9]);
    assert_eq!(slow.resynchronisations(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_second_game_for_the_same_player_ends_and_records_the_first() {
    let (live, store) = live_games_with(settings());
    let gamer = player("twice");
    let first = live
        .start_with_seed(&gamer, GameMode::PassThrough, SEED)
        .await
        .expect("first");
    let mut first_session = live.play(first.ticket.expose()).expect("play");
    first_session.frames.next().await.expect("frame 0");
    let second = live
        .start_with_seed(&gamer, GameMode::Walls, SEED)
        .await
        .expect("second");
    let last = drain(&mut first_session.frames).await.pop().expect("final");
    let end = last.frame.end.as_ref().expect("ended");
    assert_eq!(end.reason, GameEndReason::ReplacedByNewGame);
    assert!(matches!(end.recording, Recording::Verified(_)));
    assert_eq!(live.game_of(gamer.id), Some(second.game_id));
    assert_eq!(
        live.current_frame(first.game_id).map(|_| ()),
        Err(Error::UnknownGame)
    );
    let recorded = store.finished_game(first.game_id).await.expect("read");
    assert_eq!(
        recorded.map(|game| game.end),
        Some(GameEndReason::ReplacedByNewGame)
    );
}

#[tokio::test(start_paused = true)]
async fn a_player_who_drops_rejoins_with_a_new_ticket_at_the_current_frame() {
    let (live, _) = live_games_with(settings());
    let gamer = player("dropper");
    let started = live
        .start_with_seed(&gamer, GameMode::PassThrough, SEED)
        .await
        .expect("start");
    let mut session = live.play(started.ticket.expose()).expect("play");
    for _ in 0..3 {
        session.frames.next().await.expect("frame");
    }
    drop(session);
    assert_eq!(
        live.play(started.ticket.expose()).map(|_| ()),
        Err(Error::InvalidTicket),
        "a ticket admits once"
    );
    let mut watcher = live.watch(started.game_id).expect("watch");
    for _ in 0..4 {
        watcher
            .next()
            .await
            .expect("the game goes on without its player");
    }
    let ticket = live.rejoin(&gamer, started.game_id).expect("rejoin");
    let mut again = live.play(ticket.expose()).expect("play again");
    let current = again.frames.next().await.expect("the current frame");
    assert_eq!(current.sequence(), 5);
    assert_eq!(again.turns.send(Direction::Left), TurnDelivery::Delivered);
}

#[tokio::test(start_paused = true)]
async fn only_the_owner_may_rejoin_and_unknown_games_are_refused() {
    let (live, _) = live_games_with(settings());
    let owner = player("owner");
    let started = live
        .start_with_seed(&owner, GameMode::Walls, SEED)
        .await
        .expect("start");
    assert_eq!(
        live.rejoin(&player("intruder"), started.game_id)
            .map(|_| ()),
        Err(Error::NotYourGame)
    );
    assert_eq!(
        live.rejoin(&owner, Uuid::new_v4()).map(|_| ()),
        Err(Error::UnknownGame)
    );
    assert_eq!(
        live.watch(Uuid::new_v4()).map(|_| ()),
        Err(Error::UnknownGame)
    );
}

#[tokio::test(start_paused = true)]
async fn a_ticket_redeemed_after_its_lifetime_is_refused() {
    let (live, _) = live_games_with(LiveGamesSettings {
        tick: Duration::from_secs(3600),
        ticket_lifetime: Duration::from_secs(30),
        ..settings()
    });
    let started = live
        .start_with_seed(&player("slowpoke"), GameMode::Walls, SEED)
        .await
        .expect("start");
    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(
        live.play(started.ticket.expose()).map(|_| ()),
        Err(Error::InvalidTicket)
    );
}

#[tokio::test(start_paused = true)]
async fn the_live_game_and_spectator_caps_refuse_with_their_errors() {
    let (live, _) = live_games_with(LiveGamesSettings {
        max_live_games: 2,
        max_spectators_per_game: 1,
        ..settings()
    });
    let first_player = player("first");
    let first = live
        .start_with_seed(&first_player, GameMode::PassThrough, SEED)
        .await
        .expect("first");
    live.start_bot("bot-1".into(), GameMode::PassThrough)
        .expect("a bot game");
    assert_eq!(
        live.start_with_seed(&player("third"), GameMode::Walls, SEED)
            .await
            .map(|_| ()),
        Err(Error::TooManyLiveGames)
    );
    assert!(
        live.start_with_seed(&first_player, GameMode::Walls, SEED)
            .await
            .is_ok(),
        "replacing one's own game does not add a game"
    );
    let second = live.game_of(first_player.id).expect("the new game");
    assert_ne!(second, first.game_id);
    let spectator = live.watch(second).expect("one spectator");
    assert_eq!(
        live.watch(second).map(|_| ()),
        Err(Error::TooManySpectators)
    );
    drop(spectator);
    assert_eq!(live.spectator_count(second), Ok(0));
    assert!(
        live.watch(second).is_ok(),
        "a spectator who leaves frees the place"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bot_game_is_watchable_but_never_on_the_leaderboard() {
    let (live, store) = live_games_with(settings());
    let mut bot = live
        .start_bot("bot-1".into(), GameMode::Walls)
        .expect("a bot game");
    assert_eq!(live.current_frames().len(), 1);
    let last = drain(&mut bot.frames).await.pop().expect("final");
    let end = last.frame.end.as_ref().expect("ended");
    assert_eq!(end.recording, Recording::NotOnLeaderboard);
    assert_eq!(
        store.top_scores(ScoreFilter::mode(None), 100).await,
        Ok(Vec::new())
    );
    assert_eq!(store.finished_game(bot.game_id).await, Ok(None));
}

#[tokio::test(start_paused = true)]
async fn shutting_down_ends_every_game_with_a_final_frame_and_records_the_players_games() {
    let (live, store) = live_games_with(settings());
    let mut sessions = Vec::new();
    for name in ["alpha", "beta"] {
        let started = live
            .start_with_seed(&player(name), GameMode::PassThrough, SEED)
            .await
            .expect("start");
        sessions.push(live.play(started.ticket.expose()).expect("play"));
    }
    sessions.push(
        live.start_bot("bot-1".into(), GameMode::PassThrough)
            .expect("bot"),
    );
    for session in &mut sessions {
        session.frames.next().await.expect("frame 0");
    }
    live.shut_down().await;
    for session in &mut sessions {
        let last = drain(&mut session.frames).await.pop().expect("final");
        let end = last.frame.end.as_ref().expect("ended");
        assert_eq!(end.reason, GameEndReason::ServerShutdown);
    }
    let verified = store
        .top_scores(ScoreFilter::verified(None), 10)
        .await
        .expect("top");
    assert_eq!(verified.len(), 2);
    assert_eq!(live.live_game_count(), 0);
    assert_eq!(
        live.start_with_seed(&player("latecomer"), GameMode::Walls, SEED)
            .await
            .map(|_| ()),
        Err(Error::ShuttingDown)
    );
}
