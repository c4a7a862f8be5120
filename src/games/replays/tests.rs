//! Tests of replays: frames equal to the live game's, the recorded end reproduced for thousands
//! of random turn logs, divergences caught, the speed-scaled tick, and retention on a timer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::TimeZone;

use super::*;
use crate::games::engine::{Direction, LoggedTurn, SplitMix64, TurnOutcome};
use crate::model::GameMode;
use crate::store::MemoryStore;

fn counting_encoder(encoded: Arc<AtomicUsize>) -> FrameEncoder {
    Arc::new(move |frame: &Frame| {
        encoded.fetch_add(1, Ordering::SeqCst);
        Bytes::from(frame.sequence.to_string())
    })
}

fn started_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

/// How a simulated live game is stopped: by the rules, or from outside after some ticks.
#[derive(Debug, Clone, Copy)]
enum Stop {
    ByTheRules,
    AfterTicks(u64, GameEndReason),
}

/// Plays a game as `LiveGames` runs one: frame 0, a frame per tick, turns handed to the engine
/// as they arrive between ticks (only queued ones logged), and the final frame; returns the
/// frames it published and the record it would store.
fn play_live(
    mode: GameMode,
    seed: u64,
    stop: Stop,
    verified: bool,
) -> (Vec<Frame>, FinishedGameRecord) {
    let game_id = Uuid::from_u64_pair(seed, 1);
    let username: Arc<str> = "replayer".into();
    let mut player = SplitMix64::new(seed ^ 0x0123_4567_89ab_cdef);
    let mut engine = Game::new(mode, seed);
    let mut turns = Vec::new();
    let mut frames = Vec::new();
    let publish = |engine: &Game, end: Option<FrameEnd>, frames: &mut Vec<Frame>| {
        frames.push(Frame {
            sequence: frames.len() as u64,
            game_id,
            username: Arc::clone(&username),
            mode,
            view: engine.view(),
            end,
            // The recorded schedule (`started_at` plus the 150 ms tick per tick played), which
            // is what a replayed frame says.
            ticked_at: started_at() + chrono::Duration::milliseconds(150 * engine.ticks() as i64),
        });
    };
    publish(&engine, None, &mut frames);
    let tick_limit = match stop {
        Stop::ByTheRules => u64::MAX,
        Stop::AfterTicks(ticks, _) => ticks,
    };
    let reason = loop {
        let burst = match player.below(10) {
            0..=5 => 0,
            6..=8 => 1,
            _ => 1 + player.below(4),
        };
        for _ in 0..burst {
            let direction = Direction::ALL[player.below(4) as usize];
            let tick = engine.ticks();
            if engine.turn(direction) == TurnOutcome::Queued {
                turns.push(LoggedTurn { tick, direction });
            }
        }
        if engine.ticks() >= tick_limit {
            let Stop::AfterTicks(_, reason) = stop else {
                unreachable!("only a stopped game has a tick limit")
            };
            break reason;
        }
        if let TickOutcome::Ended(cause) = engine.advance() {
            break GameEndReason::Rules(cause);
        }
        publish(&engine, None, &mut frames);
    };
    let game = FinishedGame {
        id: game_id,
        player_id: Uuid::from_u64_pair(seed, 2),
        username: Arc::clone(&username),
        mode,
        seed,
        turns,
        ticks: engine.ticks(),
        tick: Duration::from_millis(150),
        score: engine.score(),
        started_at: started_at(),
        ended_at: started_at() + chrono::Duration::seconds(1),
        end: reason,
    };
    let verified_score = verified.then(|| ScoreEntry {
        id: Uuid::from_u64_pair(seed, 3),
        player_id: game.player_id,
        username: Arc::clone(&username),
        score: game.score,
        mode,
        recorded_at: game.ended_at,
        verified: true,
        game_id: Some(game_id),
    });
    let recording = match &verified_score {
        Some(entry) => Recording::Verified(entry.clone()),
        None => Recording::NotOnLeaderboard,
    };
    publish(&engine, Some(FrameEnd { reason, recording }), &mut frames);
    (
        frames,
        FinishedGameRecord {
            game,
            verified_score,
        },
    )
}

fn replayed_frames(
    record: FinishedGameRecord,
) -> Vec<std::result::Result<Frame, ReplayDivergence>> {
    ReplayFrames::new(Arc::new(record)).collect()
}

#[test]
fn thousands_of_random_turn_logs_replay_to_the_live_frames_and_the_recorded_score_and_ticks() {
    let mut games_that_scored = 0;
    let mut stopped_games = 0;
    for seed in 0..4_000_u64 {
        let mode = GameMode::ALL[(seed % 2) as usize];
        let stop = match seed % 5 {
            0 => Stop::AfterTicks(seed % 40, GameEndReason::ReplacedByNewGame),
            1 => Stop::AfterTicks(seed % 70, GameEndReason::ServerShutdown),
            _ => Stop::ByTheRules,
        };
        let (live, record) = play_live(mode, seed, stop, seed % 3 != 0);
        let (recorded_score, recorded_ticks) = (record.game.score, record.game.ticks);
        let replayed: Vec<Frame> = replayed_frames(record)
            .into_iter()
            .collect::<std::result::Result<_, _>>()
            .unwrap_or_else(|divergence| panic!("{mode:?} seed {seed}: {divergence}"));
        assert_eq!(replayed, live, "{mode:?} seed {seed}: the frames differ");
        let last = replayed.last().expect("a final frame");
        assert!(last.is_final());
        assert_eq!(
            (last.view.score, last.view.ticks),
            (recorded_score, recorded_ticks),
            "{mode:?} seed {seed}"
        );
        games_that_scored += usize::from(recorded_score > 0);
        stopped_games += usize::from(matches!(stop, Stop::AfterTicks(..)));
    }
    assert!(
        games_that_scored > 100,
        "only {games_that_scored} games scored"
    );
    assert!(stopped_games > 1_000);
}

#[test]
fn a_record_whose_score_was_changed_is_a_divergence_and_no_final_frame_is_made() {
    let (_, mut record) = play_live(GameMode::Walls, 42, Stop::ByTheRules, true);
    record.game.score += 10;
    let replayed = replayed_frames(record);
    let last = replayed.last().expect("something was replayed");
    assert!(
        matches!(last, Err(ReplayDivergence::DifferentEnd { .. })),
        "{last:?}"
    );
    assert!(
        replayed
            .iter()
            .filter_map(|frame| frame.as_ref().ok())
            .all(|frame| !frame.is_final())
    );
}

#[test]
fn a_game_the_rules_ended_but_recorded_as_stopped_or_longer_is_a_divergence() {
    let (_, record) = play_live(GameMode::Walls, 7, Stop::ByTheRules, false);
    let mut stopped = record.clone();
    stopped.game.end = GameEndReason::ServerShutdown;
    assert!(matches!(
        replayed_frames(stopped).last(),
        Some(Err(ReplayDivergence::DifferentEnd { .. }))
    ));
    let mut longer = record;
    longer.game.ticks += 5;
    assert!(matches!(
        replayed_frames(longer).last(),
        Some(Err(ReplayDivergence::DifferentEnd { .. }))
    ));
}

#[test]
fn turns_out_of_order_or_after_the_last_tick_are_a_divergence() {
    let (_, record) = play_live(
        GameMode::PassThrough,
        9,
        Stop::AfterTicks(30, GameEndReason::ServerShutdown),
        false,
    );
    let mut out_of_order = record.clone();
    out_of_order.game.turns = vec![
        LoggedTurn {
            tick: 5,
            direction: Direction::Left,
        },
        LoggedTurn {
            tick: 3,
            direction: Direction::Up,
        },
    ];
    assert!(matches!(
        replayed_frames(out_of_order).last(),
        Some(Err(ReplayDivergence::TurnOutOfPlace { tick: 3, .. }))
    ));
    let mut too_late = record;
    too_late.game.turns.push(LoggedTurn {
        tick: 31,
        direction: Direction::Left,
    });
    assert!(matches!(
        replayed_frames(too_late).last(),
        Some(Err(ReplayDivergence::TurnOutOfPlace { tick: 31, .. }))
    ));
}

#[test]
fn speeds_are_1_to_16_and_divide_the_original_tick() {
    assert_eq!(ReplaySpeed::new(0), None);
    assert_eq!(ReplaySpeed::new(17), None);
    assert_eq!(
        ReplaySpeed::ORIGINAL.tick_of(Duration::from_millis(150)),
        Duration::from_millis(150)
    );
    let fastest = ReplaySpeed::new(16).expect("16 is allowed");
    assert_eq!(
        fastest.tick_of(Duration::from_millis(160)),
        Duration::from_millis(10)
    );
}

/// A pass-through game going straight up whose food is off the snake's column never ends; it
/// is stopped after `ticks` ticks.
fn endless_game(ticks: u64) -> FinishedGameRecord {
    let seed = (0..)
        .find(|seed| {
            Game::new(GameMode::PassThrough, *seed)
                .food()
                .is_some_and(|food| food.x != 10)
        })
        .expect("some seed puts the food off column 10");
    let game = FinishedGame {
        id: Uuid::from_u64_pair(seed, 9),
        player_id: Uuid::from_u64_pair(seed, 10),
        username: "marathon".into(),
        mode: GameMode::PassThrough,
        seed,
        turns: Vec::new(),
        ticks,
        tick: Duration::from_millis(160),
        score: 0,
        started_at: started_at(),
        ended_at: started_at() + chrono::Duration::seconds(1_600),
        end: GameEndReason::ServerShutdown,
    };
    FinishedGameRecord {
        game,
        verified_score: None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_replay_at_speed_16_sends_its_first_frame_at_once_and_then_one_every_16th_of_a_tick() {
    let encoded = Arc::new(AtomicUsize::new(0));
    let record = Arc::new(endless_game(40));
    let speed = ReplaySpeed::new(16).unwrap();
    let mut stream = ReplayStream::new(record, speed, counting_encoder(Arc::clone(&encoded)));
    let started = Instant::now();
    let first = stream
        .next()
        .await
        .expect("a frame")
        .expect("no divergence");
    assert_eq!(first.sequence(), 0);
    assert_eq!(started.elapsed(), Duration::ZERO);
    let mut sequences = vec![0];
    while let Some(frame) = stream.next().await {
        sequences.push(frame.expect("no divergence").sequence());
    }
    assert_eq!(sequences, (0..=41).collect::<Vec<_>>());
    // 41 frames after the first, each 160 ms / 16 = 10 ms later, on tokio's paused clock.
    assert_eq!(started.elapsed(), Duration::from_millis(410));
    assert_eq!(
        encoded.load(Ordering::SeqCst),
        42,
        "each frame is encoded once, as it is sent"
    );
}

#[tokio::test]
async fn a_ten_thousand_tick_game_makes_its_first_frame_without_computing_the_rest() {
    let encoded = Arc::new(AtomicUsize::new(0));
    let record = Arc::new(endless_game(10_000));
    let requested = std::time::Instant::now();
    let mut stream = ReplayStream::new(
        record,
        ReplaySpeed::ORIGINAL,
        counting_encoder(Arc::clone(&encoded)),
    );
    let first = stream
        .next()
        .await
        .expect("a frame")
        .expect("no divergence");
    let elapsed = requested.elapsed();
    assert_eq!(first.sequence(), 0);
    assert_eq!(
        encoded.load(Ordering::SeqCst),
        1,
        "only the first frame is made"
    );
    // A figure for README, not an assertion on time: printed with `--nocapture`.
    println!("first frame of a 10,000-tick replay after {elapsed:?}");
}

#[test]
fn all_frames_of_a_ten_thousand_tick_game_replay_to_its_record() {
    let frames: Vec<_> = ReplayFrames::new(Arc::new(endless_game(10_000))).collect();
    assert_eq!(frames.len(), 10_002);
    let last = frames.last().unwrap().as_ref().expect("no divergence");
    assert_eq!((last.sequence, last.view.ticks), (10_001, 10_000));
}

#[tokio::test]
async fn the_summary_of_an_unknown_game_is_unknown_and_a_recorded_one_has_its_score() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let replays = Replays::new(Arc::clone(&store), counting_encoder(Arc::default()));
    assert_eq!(
        replays.record(Uuid::new_v4()).await,
        Err(Error::UnknownFinishedGame)
    );
    let (_, record) = play_live(GameMode::Walls, 3, Stop::ByTheRules, true);
    store
        .record_finished_game(record.game.clone(), record.verified_score.clone())
        .await
        .unwrap();
    assert_eq!(replays.record(record.game.id).await, Ok(record));
}

#[tokio::test(start_paused = true)]
async fn retention_prunes_old_games_off_the_top_once_per_interval_without_waiting_for_real() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut old = endless_game(3);
    old.game.ended_at = Utc::now() - chrono::Duration::days(31);
    let mut recent = endless_game(3);
    recent.game.id = Uuid::new_v4();
    recent.game.ended_at = Utc::now() - chrono::Duration::days(29);
    for record in [&old, &recent] {
        store
            .record_finished_game(record.game.clone(), None)
            .await
            .unwrap();
    }
    let settings = RetentionSettings {
        keep_for: chrono::Duration::days(30),
        prune_every: Duration::from_secs(3_600),
    };
    let (reports, mut reported) = tokio::sync::mpsc::unbounded_channel();
    let pruner = tokio::spawn(run_retention(
        Arc::clone(&store),
        settings,
        move |outcome| {
            let _ = reports.send(outcome);
        },
    ));
    tokio::time::sleep(Duration::from_secs(3_599)).await;
    assert!(
        reported.try_recv().is_err(),
        "no prune before the first interval"
    );
    assert_eq!(reported.recv().await, Some(Ok(1)));
    assert_eq!(store.finished_game(old.game.id).await, Ok(None));
    assert!(store.finished_game(recent.game.id).await.unwrap().is_some());
    assert_eq!(
        reported.recv().await,
        Some(Ok(0)),
        "the next interval finds nothing more"
    );
    pruner.abort();
}
