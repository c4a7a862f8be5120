//! Replays of finished games: the frames a game sent while it was live, made again by re-running
//! the engine from the game's record (mode, seed, turns by tick) one tick at a time, and sent at
//! the tick the game was played at, or faster. Frames are made lazily, one per tick as it is
//! sent, so a game of any length starts streaming at once and costs no memory for its frames.
//!
//! A replay checks itself against the record: its final frame must end for the recorded reason,
//! at the recorded tick, with the recorded score. A replay that does not is a
//! [`ReplayDivergence`], which the edge logs and tells the client, instead of a final frame.
//!
//! Retention: every finished game is kept; [`run_retention`] periodically forgets those older
//! than `--replay-retention-days` unless their score is among the best
//! [`REPLAYS_KEPT_FOR_GOOD_PER_MODE`] verified scores of their mode.
//!
//! Domain code: it uses `model`, `error`, the engine and the `Store` trait, and never the HTTP
//! edge or the wire types.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::{Instant, Interval, MissedTickBehavior};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::games::engine::{Game, TickOutcome};
use crate::games::frames::{Frame, FrameEncoder, FrameEnd, Recording, SharedFrame};
use crate::model::{FinishedGame, GameEndReason, ScoreEntry};
use crate::store::Store;

/// The verified scores per mode whose games are kept for good, whatever their age: as many as
/// the leaderboard shows at most.
pub const REPLAYS_KEPT_FOR_GOOD_PER_MODE: usize = 100;

/// How many times faster than it was played a game may be replayed at most.
pub const MAX_REPLAY_SPEED: u32 = 16;

/// How many times faster than it was played a replay runs: 1 to [`MAX_REPLAY_SPEED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaySpeed(u32);

impl ReplaySpeed {
    /// The original tick.
    pub const ORIGINAL: ReplaySpeed = ReplaySpeed(1);

    /// A speed, or `None` outside 1 to [`MAX_REPLAY_SPEED`].
    pub fn new(times: u32) -> Option<ReplaySpeed> {
        (1..=MAX_REPLAY_SPEED)
            .contains(&times)
            .then_some(ReplaySpeed(times))
    }

    /// The time between two replayed frames of a game played at `original_tick`.
    pub fn tick_of(self, original_tick: Duration) -> Duration {
        original_tick / self.0
    }
}

/// A finished game as its summary shows it: the record and the verified score recorded with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedGameRecord {
    pub game: FinishedGame,
    pub verified_score: Option<ScoreEntry>,
}

/// Why a replay does not reproduce its record; each means the engine or the record changed
/// since the game was played, a server fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayDivergence {
    #[error(
        "the replay of game {game_id} ended at tick {replayed_ticks} with score {replayed_score} ({replayed_end:?}), but the record says tick {recorded_ticks}, score {recorded_score} ({recorded_end:?})"
    )]
    DifferentEnd {
        game_id: Uuid,
        replayed_ticks: u64,
        replayed_score: u32,
        replayed_end: Option<GameEndReason>,
        recorded_ticks: u64,
        recorded_score: u32,
        recorded_end: GameEndReason,
    },
    #[error(
        "the record of game {game_id} lists a turn at tick {tick} out of order or after its last tick {last_tick}"
    )]
    TurnOutOfPlace {
        game_id: Uuid,
        tick: u64,
        last_tick: u64,
    },
}

/// The frames of a finished game, made one at a time: sequence 0 is the start, then one frame
/// per tick, then the final frame, exactly as the live game published them.
#[derive(Debug, Clone)]
pub struct ReplayFrames {
    record: Arc<FinishedGameRecord>,
    engine: Game,
    next_turn: usize,
    next_sequence: u64,
    finished: bool,
}

impl ReplayFrames {
    pub fn new(record: Arc<FinishedGameRecord>) -> ReplayFrames {
        ReplayFrames {
            engine: Game::new(record.game.mode, record.game.seed),
            record,
            next_turn: 0,
            next_sequence: 0,
            finished: false,
        }
    }

    fn frame(&mut self, end: Option<FrameEnd>) -> Frame {
        let game = &self.record.game;
        let frame = Frame {
            sequence: self.next_sequence,
            game_id: game.id,
            username: Arc::clone(&game.username),
            mode: game.mode,
            view: self.engine.view(),
            end,
            // When the tick was played, by the recorded schedule: the live frame's own time is
            // not kept, and a replay is not live.
            ticked_at: game.started_at
                + chrono::Duration::from_std(
                    game.tick
                        .saturating_mul(u32::try_from(self.engine.ticks()).unwrap_or(u32::MAX)),
                )
                .unwrap_or_default(),
        };
        self.next_sequence += 1;
        frame
    }

    /// Hands the engine the turns the live game received before its next tick, as the live
    /// game did; a turn logged for a tick already past is out of place.
    fn apply_turns_received_now(&mut self) -> std::result::Result<(), ReplayDivergence> {
        let turns = &self.record.game.turns;
        while let Some(logged) = turns.get(self.next_turn) {
            if logged.tick > self.engine.ticks() {
                break;
            }
            if logged.tick < self.engine.ticks() {
                return Err(self.turn_out_of_place(logged.tick));
            }
            self.engine.turn(logged.direction);
            self.next_turn += 1;
        }
        Ok(())
    }

    fn turn_out_of_place(&self, tick: u64) -> ReplayDivergence {
        ReplayDivergence::TurnOutOfPlace {
            game_id: self.record.game.id,
            tick,
            last_tick: self.engine.ticks(),
        }
    }

    /// The final frame, once the replay checked that it ends as the record says.
    fn final_frame(
        &mut self,
        replayed_end: Option<GameEndReason>,
    ) -> std::result::Result<Frame, ReplayDivergence> {
        let game = &self.record.game;
        let ends_as_recorded = match replayed_end {
            Some(reason) => reason == game.end,
            // Stopped from outside (a new game, a shutdown) rather than by the rules.
            None => !matches!(game.end, GameEndReason::Rules(_)),
        };
        if !ends_as_recorded
            || self.engine.ticks() != game.ticks
            || self.engine.score() != game.score
        {
            return Err(ReplayDivergence::DifferentEnd {
                game_id: game.id,
                replayed_ticks: self.engine.ticks(),
                replayed_score: self.engine.score(),
                replayed_end,
                recorded_ticks: game.ticks,
                recorded_score: game.score,
                recorded_end: game.end,
            });
        }
        if let Some(left_over) = game.turns.get(self.next_turn) {
            return Err(self.turn_out_of_place(left_over.tick));
        }
        let recording = match &self.record.verified_score {
            Some(entry) => Recording::Verified(entry.clone()),
            None => Recording::NotOnLeaderboard,
        };
        let reason = game.end;
        Ok(self.frame(Some(FrameEnd { reason, recording })))
    }

    fn next_frame(&mut self) -> std::result::Result<Frame, ReplayDivergence> {
        if self.next_sequence == 0 {
            return Ok(self.frame(None));
        }
        self.apply_turns_received_now()?;
        if self.engine.ticks() >= self.record.game.ticks {
            return self.final_frame(None);
        }
        match self.engine.advance() {
            TickOutcome::Ended(cause) => self.final_frame(Some(GameEndReason::Rules(cause))),
            _ => Ok(self.frame(None)),
        }
    }
}

impl Iterator for ReplayFrames {
    type Item = std::result::Result<Frame, ReplayDivergence>;

    /// The next frame; after the final frame or a divergence, `None`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let frame = self.next_frame();
        self.finished = frame.as_ref().map_or(true, Frame::is_final);
        Some(frame)
    }
}

/// A replay as a channel sends it: the first frame at once, then one frame per (speed-scaled)
/// tick, each encoded as live frames are.
pub struct ReplayStream {
    frames: ReplayFrames,
    encoder: FrameEncoder,
    ticker: Interval,
    started: bool,
}

impl std::fmt::Debug for ReplayStream {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ReplayStream")
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl ReplayStream {
    pub fn new(
        record: Arc<FinishedGameRecord>,
        speed: ReplaySpeed,
        encoder: FrameEncoder,
    ) -> ReplayStream {
        // A recorded tick is at least a microsecond; dividing by 16 must not reach zero, which
        // an interval refuses.
        let tick = speed.tick_of(record.game.tick).max(Duration::from_nanos(1));
        let mut ticker = tokio::time::interval_at(Instant::now() + tick, tick);
        // As live games do: a late frame is sent late and the next one a full tick after it.
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ReplayStream {
            frames: ReplayFrames::new(record),
            encoder,
            ticker,
            started: false,
        }
    }

    /// The next frame when its tick comes (the first at once), or `None` after the final frame
    /// or a divergence.
    pub async fn next(&mut self) -> Option<std::result::Result<SharedFrame, ReplayDivergence>> {
        // After the final frame the channel closes at once, not a tick later.
        if self.frames.finished {
            return None;
        }
        if self.started {
            self.ticker.tick().await;
        }
        self.started = true;
        let frame = self.frames.next()?;
        Some(frame.map(|frame| SharedFrame {
            encoded: (self.encoder)(&frame),
            frame: Arc::new(frame),
        }))
    }
}

/// Finished games for their summaries and replays.
#[derive(Clone)]
pub struct Replays {
    store: Arc<dyn Store>,
    encoder: FrameEncoder,
}

impl Replays {
    /// Replays of the games in `store`, whose frames `encoder` turns into bytes as it does live
    /// frames.
    pub fn new(store: Arc<dyn Store>, encoder: FrameEncoder) -> Replays {
        Replays { store, encoder }
    }

    /// A finished game and its verified score; `UnknownFinishedGame` when the store does not
    /// have it (never played, still live, or pruned).
    pub async fn record(&self, game_id: Uuid) -> Result<FinishedGameRecord> {
        let game = self
            .store
            .finished_game(game_id)
            .await?
            .ok_or(Error::UnknownFinishedGame)?;
        let verified_score = self.store.verified_score_of_game(game_id).await?;
        Ok(FinishedGameRecord {
            game,
            verified_score,
        })
    }

    /// The replay of a finished game at `speed`, ready to stream.
    pub async fn replay(&self, game_id: Uuid, speed: ReplaySpeed) -> Result<ReplayStream> {
        let record = Arc::new(self.record(game_id).await?);
        Ok(ReplayStream::new(record, speed, Arc::clone(&self.encoder)))
    }
}

/// How long finished games are kept and how often old ones are looked for, from the
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Games that ended longer ago than this may be forgotten (`--replay-retention-days`).
    pub keep_for: chrono::Duration,
    /// The time between two prunes (`--replay-prune-minutes`).
    pub prune_every: Duration,
}

/// Forgets the games that ended before `now - keep_for`, except those kept for good; returns
/// how many went.
pub async fn prune_old_replays(
    store: &dyn Store,
    settings: RetentionSettings,
    now: DateTime<Utc>,
) -> Result<u64> {
    store
        .prune_finished_games(now - settings.keep_for, REPLAYS_KEPT_FOR_GOOD_PER_MODE)
        .await
}

/// Prunes every `prune_every`, the first time one interval after start, reporting each outcome
/// to `report` (the server logs it); runs until the task is dropped or aborted.
pub async fn run_retention(
    store: Arc<dyn Store>,
    settings: RetentionSettings,
    mut report: impl FnMut(Result<u64>) + Send,
) {
    let mut ticker =
        tokio::time::interval_at(Instant::now() + settings.prune_every, settings.prune_every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        report(prune_old_replays(store.as_ref(), settings, Utc::now()).await);
    }
}

#[cfg(test)]
mod tests;
