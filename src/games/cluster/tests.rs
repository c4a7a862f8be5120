//! Tests of what one instance does with the others' messages: frames cross the bus unchanged,
//! batches stay under the bus's size limit, frames are handed on in order and never twice, and
//! games of an instance that went quiet end with a frame saying they were lost. The bus itself
//! (PostgreSQL) is tested through two servers in `tests/api/postgres.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::*;
use crate::games::engine::Game;

fn settings() -> ClusterSettings {
    ClusterSettings {
        heartbeat: Duration::from_millis(100),
        instance_timeout: Duration::from_millis(500),
    }
}

fn shared_with(events: ClusterEvents) -> Shared {
    Shared {
        instance: Uuid::new_v4(),
        settings: settings(),
        encoder: Arc::new(|frame: &Frame| Bytes::from(format!("frame {}", frame.sequence))),
        frames_buffered_per_game: 8,
        remote: Mutex::new(Remote::default()),
        events,
    }
}

fn shared() -> Shared {
    shared_with(Arc::new(|_| {}))
}

/// A frame of a walls game after `ticks` ticks heading up, as a live game publishes it.
fn frame_of(game_id: Uuid, ticks: u64, end: Option<FrameEnd>) -> Frame {
    let mut engine = Game::new(GameMode::Walls, 42);
    for _ in 0..ticks {
        let _ = engine.advance();
    }
    Frame {
        sequence: ticks + u64::from(end.is_some()),
        game_id,
        username: "crosser".into(),
        mode: GameMode::Walls,
        view: engine.view(),
        ticked_at: Frame::tick_time_now(),
        end,
    }
}

fn message_of(instance: Uuid, frames: &[Frame]) -> String {
    let encoded = frames
        .iter()
        .map(|frame| encode_for_bus(frame, Duration::from_millis(150)))
        .collect();
    let mut messages = pack(instance, encoded);
    assert_eq!(messages.len(), 1);
    messages.remove(0)
}

#[test]
fn a_frame_crosses_the_bus_unchanged_with_its_verified_entry_and_to_the_nanosecond() {
    let game_id = Uuid::new_v4();
    let mut frame = frame_of(game_id, 3, None);
    frame.ticked_at = DateTime::from_timestamp_nanos(1_764_000_000_123_456_789);
    let entry = ScoreEntry {
        id: Uuid::new_v4(),
        player_id: Uuid::new_v4(),
        username: "crosser".into(),
        score: 7,
        mode: GameMode::Walls,
        recorded_at: DateTime::from_timestamp_nanos(1_764_000_001_987_654_321),
        verified: true,
        game_id: Some(game_id),
    };
    frame.end = Some(FrameEnd {
        reason: GameEndReason::Rules(EndCause::HitWall),
        recording: Recording::Verified(entry),
    });
    let encoded = encode_for_bus(&frame, Duration::from_millis(150));
    let crossed: BusFrame = serde_json::from_str(&encoded).expect("readable");
    assert_eq!(crossed.tick_ms, 150);
    assert_eq!(crossed.into_frame(), Ok(frame));
}

#[test]
fn every_end_reason_crosses_the_bus_unchanged() {
    for reason in [
        GameEndReason::Rules(EndCause::HitWall),
        GameEndReason::Rules(EndCause::HitSelf),
        GameEndReason::Rules(EndCause::BoardFull),
        GameEndReason::ReplacedByNewGame,
        GameEndReason::ServerShutdown,
        GameEndReason::InstanceLost,
    ] {
        assert_eq!(end_reason_of(end_reason_code(reason)), Some(reason));
    }
}

#[test]
fn a_full_board_s_frames_are_packed_into_messages_under_the_bus_limit_in_order() {
    let instance = Uuid::new_v4();
    let mut frame = frame_of(Uuid::new_v4(), 0, None);
    // The largest snake there can be: every cell of the 20 × 20 board.
    frame.view.snake = (0..20)
        .flat_map(|y| (0..20).map(move |x| Cell { x, y }))
        .collect();
    let frames: Vec<Frame> = (0..10)
        .map(|sequence| Frame {
            sequence,
            ..frame.clone()
        })
        .collect();
    let encoded: Vec<String> = frames
        .iter()
        .map(|frame| encode_for_bus(frame, Duration::from_millis(150)))
        .collect();
    assert!(
        encoded[0].len() < MAX_BUS_MESSAGE_BYTES / 2,
        "{}",
        encoded[0].len()
    );
    let messages = pack(instance, encoded);
    assert!(messages.len() < frames.len(), "batched: {}", messages.len());
    let mut sequences = Vec::new();
    for message in &messages {
        assert!(message.len() <= MAX_BUS_MESSAGE_BYTES, "{}", message.len());
        let batch: BusBatch = serde_json::from_str(message).expect("a batch");
        assert_eq!(batch.instance, instance);
        sequences.extend(batch.frames.iter().map(|frame| frame.sequence));
    }
    assert_eq!(sequences, (0..10).collect::<Vec<_>>());
    let heartbeat = pack(instance, Vec::new());
    assert_eq!(heartbeat, [format!(r#"{{"i":"{instance}","f":[]}}"#)]);
}

#[tokio::test(start_paused = true)]
async fn a_watcher_gets_a_remote_game_s_frames_in_order_never_twice_and_its_final_one() {
    let shared = shared();
    let remote = Uuid::new_v4();
    let game_id = Uuid::new_v4();
    let now = Instant::now();
    receive(
        &shared,
        &message_of(remote, &[frame_of(game_id, 0, None)]),
        now,
    );
    let mut watcher = shared.remote().games[&game_id]
        .frames
        .subscribe_as_spectator(10)
        .expect("watch");
    // Frame 1 twice, frame 3 before frame 2 (which is then too old), a gap, and the end.
    for ticks in [1, 1, 3, 2, 5] {
        receive(
            &shared,
            &message_of(remote, &[frame_of(game_id, ticks, None)]),
            now,
        );
    }
    let end = FrameEnd {
        reason: GameEndReason::Rules(EndCause::HitWall),
        recording: Recording::NotOnLeaderboard,
    };
    receive(
        &shared,
        &message_of(remote, &[frame_of(game_id, 5, Some(end))]),
        now,
    );
    let mut seen = Vec::new();
    while let Some(frame) = watcher.next().await {
        seen.push(frame.sequence());
    }
    assert_eq!(seen, [0, 1, 3, 5, 6]);
    assert!(
        shared.remote().games.is_empty(),
        "a game leaves after its final frame"
    );
}

#[tokio::test(start_paused = true)]
async fn its_own_frames_and_a_game_first_heard_at_its_end_are_not_listed() {
    let shared = shared();
    let game_id = Uuid::new_v4();
    let now = Instant::now();
    receive(
        &shared,
        &message_of(shared.instance, &[frame_of(game_id, 0, None)]),
        now,
    );
    let end = FrameEnd {
        reason: GameEndReason::ServerShutdown,
        recording: Recording::NotOnLeaderboard,
    };
    receive(
        &shared,
        &message_of(Uuid::new_v4(), &[frame_of(Uuid::new_v4(), 2, Some(end))]),
        now,
    );
    assert!(shared.remote().games.is_empty());
}

#[tokio::test(start_paused = true)]
async fn games_of_an_instance_that_went_quiet_end_with_a_frame_saying_they_were_lost() {
    let lost_reports = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&lost_reports);
    let shared = shared_with(Arc::new(move |event| {
        if let ClusterEvent::GamesLost { games, .. } = event {
            counted.fetch_add(games, Ordering::SeqCst);
        }
    }));
    let quiet = Uuid::new_v4();
    let talking = Uuid::new_v4();
    let (quiet_game, talking_game) = (Uuid::new_v4(), Uuid::new_v4());
    let start = Instant::now();
    receive(
        &shared,
        &message_of(quiet, &[frame_of(quiet_game, 4, None)]),
        start,
    );
    receive(
        &shared,
        &message_of(talking, &[frame_of(talking_game, 0, None)]),
        start,
    );
    let mut watcher = shared.remote().games[&quiet_game]
        .frames
        .subscribe_as_spectator(10)
        .expect("watch");
    assert_eq!(watcher.next().await.map(|frame| frame.sequence()), Some(4));

    let almost = start + settings().instance_timeout - Duration::from_millis(1);
    sweep_once(&shared, almost);
    assert_eq!(shared.remote().games.len(), 2, "not lost yet");
    // The talking instance keeps ticking its game; the quiet one says nothing more.
    let later = start + settings().instance_timeout;
    receive(
        &shared,
        &message_of(talking, &[frame_of(talking_game, 1, None)]),
        later,
    );
    sweep_once(&shared, later);

    let lost = watcher.next().await.expect("a final frame");
    assert_eq!(lost.sequence(), 5);
    let end = lost.frame.end.as_ref().expect("final");
    assert_eq!(end.reason, GameEndReason::InstanceLost);
    assert_eq!(end.recording, Recording::NotOnLeaderboard);
    assert_eq!(
        lost.frame.view.snake,
        frame_of(quiet_game, 4, None).view.snake
    );
    assert!(watcher.next().await.is_none());
    let listed: Vec<Uuid> = shared.remote().games.keys().copied().collect();
    assert_eq!(listed, [talking_game]);
    assert_eq!(lost_reports.load(Ordering::SeqCst), 1);
}
