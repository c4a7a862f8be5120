//! Conversions between domain types and the contract's wire types.
//!
//! Domain values come from the store, which only ever holds validated input, so a value that
//! breaks the contract on the way out is a server fault (500), never the client's.

use crate::api::support::ConstraintViolation;
use crate::api::types;
use crate::http::error::ApiError;
use crate::model::{ActiveGame, Cell, GameMode, PlayerProfile, ScoreEntry};

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
