//! Conversions between domain types and the contract's wire types.
//!
//! Domain values come from the store, which only ever holds validated input, so a value that
//! breaks the contract on the way out is a server fault (500), never the client's.

use crate::api::support::ConstraintViolation;
use crate::api::types;
use crate::games::engine::{Direction, EndCause, GRID_HEIGHT, GRID_WIDTH};
use crate::games::frames::{Frame, Recording};
use crate::games::live::{LiveGamesSettings, StartedGame};
use crate::games::replays::FinishedGameRecord;
use crate::games::ticket::PlayTicket;
use crate::http::error::ApiError;
use crate::model::{ActiveGame, Cell, GameEndReason, GameMode, PlayerProfile, ScoreEntry};

impl From<ConstraintViolation> for ApiError {
    fn from(violation: ConstraintViolation) -> Self {
        ApiError::internal(format!("a stored value breaks the contract: {violation}"))
    }
}

pub fn game_mode_from_wire(mode: types::GameMode) -> GameMode {
    match mode {
        types::GameMode::Walls => GameMode::Walls,
        types::GameMode::PassThrough => GameMode::PassThrough,
    }
}

pub fn game_mode_to_wire(mode: GameMode) -> types::GameMode {
    match mode {
        GameMode::Walls => types::GameMode::Walls,
        GameMode::PassThrough => types::GameMode::PassThrough,
    }
}

fn score_to_wire(score: u32) -> Result<types::Score, ApiError> {
    let score = i32::try_from(score)
        .map_err(|_| ApiError::internal(format!("score {score} does not fit the contract")))?;
    Ok(types::Score::try_from(score)?)
}

pub fn user_to_wire(profile: PlayerProfile) -> Result<types::User, ApiError> {
    Ok(types::User {
        id: profile.id,
        username: types::Username::try_from(profile.username)?,
        email: types::Email::try_from(profile.email)?,
    })
}

pub fn auth_response_to_wire(
    profile: PlayerProfile,
    token: String,
) -> Result<types::AuthResponse, ApiError> {
    Ok(types::AuthResponse {
        user: user_to_wire(profile)?,
        token: types::AuthResponseToken::try_from(token)?,
    })
}

pub fn leaderboard_entry_to_wire(entry: ScoreEntry) -> Result<types::LeaderboardEntry, ApiError> {
    Ok(types::LeaderboardEntry {
        id: entry.id,
        username: types::Username::try_from(String::from(&*entry.username))?,
        score: score_to_wire(entry.score)?,
        mode: game_mode_to_wire(entry.mode),
        timestamp: entry.recorded_at.into(),
        verified: entry.verified,
        game_id: entry.game_id,
    })
}

pub fn direction_from_wire(direction: types::Direction) -> Direction {
    match direction {
        types::Direction::Up => Direction::Up,
        types::Direction::Down => Direction::Down,
        types::Direction::Left => Direction::Left,
        types::Direction::Right => Direction::Right,
    }
}

fn direction_to_wire(direction: Direction) -> types::Direction {
    match direction {
        Direction::Up => types::Direction::Up,
        Direction::Down => types::Direction::Down,
        Direction::Left => types::Direction::Left,
        Direction::Right => types::Direction::Right,
    }
}

fn end_reason_to_wire(reason: GameEndReason) -> types::GameFrameEndReason {
    match reason {
        GameEndReason::Rules(EndCause::HitWall) => types::GameFrameEndReason::HitWall,
        GameEndReason::Rules(EndCause::HitSelf) => types::GameFrameEndReason::HitSelf,
        GameEndReason::Rules(EndCause::BoardFull) => types::GameFrameEndReason::BoardFull,
        GameEndReason::ReplacedByNewGame => types::GameFrameEndReason::ReplacedByNewGame,
        GameEndReason::ServerShutdown => types::GameFrameEndReason::ServerShuttingDown,
        GameEndReason::InstanceLost => types::GameFrameEndReason::InstanceLost,
    }
}

fn summary_end_reason_to_wire(
    reason: GameEndReason,
) -> Result<types::FinishedGameSummaryEndReason, ApiError> {
    use types::FinishedGameSummaryEndReason as Reason;
    Ok(match reason {
        GameEndReason::Rules(EndCause::HitWall) => Reason::HitWall,
        GameEndReason::Rules(EndCause::HitSelf) => Reason::HitSelf,
        GameEndReason::Rules(EndCause::BoardFull) => Reason::BoardFull,
        GameEndReason::ReplacedByNewGame => Reason::ReplacedByNewGame,
        GameEndReason::ServerShutdown => Reason::ServerShuttingDown,
        GameEndReason::InstanceLost => {
            return Err(ApiError::internal(
                "a recorded game says it was lost, which only a watcher's frame can",
            ));
        }
    })
}

/// A finished game's summary: its record, and its verified entry's id when it has one.
pub fn finished_game_summary_to_wire(
    record: FinishedGameRecord,
) -> Result<types::FinishedGameSummary, ApiError> {
    let game = record.game;
    let ticks = i64::try_from(game.ticks)
        .map_err(|_| ApiError::internal(format!("{} ticks do not fit int64", game.ticks)))?;
    // A tick under a millisecond (only tests run one) shows as 1 ms, the contract's least.
    let tick_ms = i32::try_from(game.tick.as_millis().max(1))
        .map_err(|_| ApiError::internal(format!("tick {:?} does not fit int32", game.tick)))?;
    Ok(types::FinishedGameSummary {
        game_id: game.id,
        username: types::Username::try_from(String::from(&*game.username))?,
        mode: game_mode_to_wire(game.mode),
        score: score_to_wire(game.score)?,
        ticks: types::FinishedGameSummaryTicks::try_from(ticks)?,
        tick_ms: types::FinishedGameSummaryTickMs::try_from(tick_ms)?,
        started_at: game.started_at.into(),
        ended_at: game.ended_at.into(),
        end_reason: summary_end_reason_to_wire(game.end)?,
        entry_id: record.verified_score.map(|entry| entry.id),
    })
}

fn seconds_to_wire(duration: std::time::Duration) -> Result<i32, ApiError> {
    i32::try_from(duration.as_secs().max(1))
        .map_err(|_| ApiError::internal(format!("{duration:?} does not fit int32 seconds")))
}

/// A started game as the contract's `GameStarted`: its id, the board and tick, and its ticket.
pub fn game_started_to_wire(
    started: StartedGame,
    mode: GameMode,
    settings: &LiveGamesSettings,
) -> Result<types::GameStarted, ApiError> {
    let tick_ms = i32::try_from(settings.tick.as_millis())
        .map_err(|_| ApiError::internal("the tick does not fit int32 milliseconds"))?;
    Ok(types::GameStarted {
        game_id: started.game_id,
        mode: game_mode_to_wire(mode),
        width: types::GameStartedWidth::try_from(i32::from(GRID_WIDTH))?,
        height: types::GameStartedHeight::try_from(i32::from(GRID_HEIGHT))?,
        tick_ms: types::GameStartedTickMs::try_from(tick_ms)?,
        ticket: types::Ticket::try_from(started.ticket.expose().to_owned())?,
        ticket_expires_in_seconds: types::GameStartedTicketExpiresInSeconds::try_from(
            seconds_to_wire(settings.ticket_lifetime)?,
        )?,
    })
}

pub fn play_ticket_to_wire(
    ticket: PlayTicket,
    settings: &LiveGamesSettings,
) -> Result<types::PlayTicket, ApiError> {
    Ok(types::PlayTicket {
        ticket: types::Ticket::try_from(ticket.expose().to_owned())?,
        expires_in_seconds: types::PlayTicketExpiresInSeconds::try_from(seconds_to_wire(
            settings.ticket_lifetime,
        )?)?,
    })
}

/// A live game's frame as the contract's `GameFrame`.
pub fn frame_to_wire(frame: &Frame) -> Result<types::GameFrame, ApiError> {
    let count = |value: u64| {
        i64::try_from(value).map_err(|_| ApiError::internal(format!("{value} does not fit int64")))
    };
    let snake = frame
        .view
        .snake
        .iter()
        .copied()
        .map(cell_to_wire)
        .collect::<Result<Vec<_>, _>>()?;
    let end = frame.end.as_ref();
    let entry = match end.map(|end| &end.recording) {
        Some(Recording::Verified(entry)) => Some(leaderboard_entry_to_wire(entry.clone())?),
        _ => None,
    };
    Ok(types::GameFrame {
        sequence: types::GameFrameSequence::try_from(count(frame.sequence)?)?,
        game_id: frame.game_id,
        username: types::Username::try_from(frame.username.to_string())?,
        mode: game_mode_to_wire(frame.mode),
        score: score_to_wire(frame.view.score)?,
        snake: types::GameFrameSnake::try_from(snake)?,
        food: frame.view.food.map(cell_to_wire).transpose()?,
        direction: direction_to_wire(frame.view.direction),
        ticks: types::GameFrameTicks::try_from(count(frame.view.ticks)?)?,
        ticked_at: frame.ticked_at.into(),
        over: end.is_some(),
        end_reason: end.map(|end| end_reason_to_wire(end.reason)),
        entry,
    })
}

fn cell_to_wire(cell: Cell) -> Result<types::Cell, ApiError> {
    Ok(types::Cell {
        x: types::Coordinate::try_from(i32::from(cell.x))?,
        y: types::Coordinate::try_from(i32::from(cell.y))?,
    })
}

pub fn active_game_to_wire(game: ActiveGame) -> Result<types::ActiveGame, ApiError> {
    let snake = game
        .snake
        .into_iter()
        .map(cell_to_wire)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(types::ActiveGame {
        id: game.id,
        username: types::Username::try_from(game.username)?,
        score: score_to_wire(game.score)?,
        mode: game_mode_to_wire(game.mode),
        snake: types::ActiveGameSnake::try_from(snake)?,
        food: cell_to_wire(game.food)?,
    })
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use crate::api::support;

    /// The contract's timestamps must read exactly as chrono's own serializer writes them, with
    /// whole seconds, milliseconds, microseconds and nanoseconds alike.
    #[test]
    fn timestamps_serialize_exactly_as_chrono_serializes_them() {
        let whole = Utc.with_ymd_and_hms(2026, 12, 1, 9, 5, 7).single().unwrap();
        for nanoseconds in [0, 120_000_000, 123_456_000, 123_456_789, 1, 999_999_999] {
            let time = whole + chrono::Duration::nanoseconds(nanoseconds);
            assert_eq!(
                serde_json::to_string(&support::DateTime::from(time)).unwrap(),
                serde_json::to_string(&time).unwrap()
            );
        }
        let far = Utc.with_ymd_and_hms(12345, 1, 1, 0, 0, 0).single().unwrap();
        assert_eq!(
            serde_json::to_string(&support::DateTime(far)).unwrap(),
            serde_json::to_string(&far).unwrap()
        );
    }
}
