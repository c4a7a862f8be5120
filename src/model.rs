//! Plain domain data types (players, scores, games, sessions) shared by the store and the services.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::tokens::TokenHash;

/// The two rule sets a game can be played with; scores are ranked separately per mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GameMode {
    /// Hitting a wall ends the game.
    #[serde(rename = "walls")]
    Walls,
    /// Leaving the board on one side re-enters it on the opposite side.
    #[serde(rename = "pass-through")]
    PassThrough,
}

impl GameMode {
    /// Every mode, in a fixed order, for code that needs to visit each one.
    pub const ALL: [GameMode; 2] = [GameMode::Walls, GameMode::PassThrough];

    /// The wire name of the mode, identical to its serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            GameMode::Walls => "walls",
            GameMode::PassThrough => "pass-through",
        }
    }
}

/// What the API is allowed to show about a player; it never carries the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlayerProfile {
    pub id: Uuid,
    pub username: String,
    pub email: String,
}

/// A player as kept by the store, including the secret password hash.
///
/// It deliberately does not implement `Serialize` so it cannot be sent to a client by accident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPlayer {
    pub profile: PlayerProfile,
    /// The scrypt hash in PHC string format (`$scrypt$ln=..,r=..,p=..$salt$hash`).
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

/// One finished game's score on the leaderboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScoreEntry {
    pub id: Uuid,
    pub player_id: Uuid,
    /// The player's username when the score was recorded, kept so listing scores needs no join.
    /// Shared (`Arc`) because one player has many scores: the store keeps one copy per player,
    /// and reading a page of scores copies no names.
    pub username: Arc<str>,
    pub score: u32,
    pub mode: GameMode,
    pub recorded_at: DateTime<Utc>,
}

/// One square of the board, counted from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cell {
    pub x: u16,
    pub y: u16,
}

/// A game in progress that other players can watch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveGame {
    pub id: Uuid,
    pub username: String,
    pub score: u32,
    pub mode: GameMode,
    /// The snake's cells from head to tail; each cell is next to the previous one.
    pub snake: Vec<Cell>,
    pub food: Cell,
}

/// A logged-in session; only the hash of its token is kept so a leaked store cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: TokenHash,
    pub player_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as ValueError, StrDeserializer};

    #[test]
    fn every_game_mode_deserializes_from_its_as_str_name() {
        for mode in GameMode::ALL {
            let deserializer: StrDeserializer<'_, ValueError> = mode.as_str().into_deserializer();
            assert_eq!(GameMode::deserialize(deserializer), Ok(mode));
        }
    }
}
