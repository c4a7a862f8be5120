//! Plain domain data types (players, scores, games, sessions) shared by the store and the services.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::tokens::TokenHash;
use crate::games::engine::{EndCause, LoggedTurn};

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
    /// True when the server recorded the score itself from a game it ran; false for a score the
    /// player reported (`POST /api/leaderboard`). A verified score always has its `game_id`.
    pub verified: bool,
    /// The live game the score came from, for verified scores; `None` for self-reported ones.
    pub game_id: Option<Uuid>,
}

impl ScoreEntry {
    /// A new entry's id: a UUID of version 7, which starts with the time it was made, so ids made
    /// one after another sort one after another. The durable stores index scores by id, and with
    /// random ids every score of a group commit landed on a page of its own in that index: a
    /// group of 30 wrote about 30 index pages, and at submission rates most of a commit's time
    /// went to writing them. The time an id gives away is the entry's `timestamp` anyway.
    pub fn new_id() -> Uuid {
        Uuid::now_v7()
    }

    /// A score the player reported themselves, which the server cannot vouch for.
    pub fn self_reported(
        player: &PlayerProfile,
        score: u32,
        mode: GameMode,
        recorded_at: DateTime<Utc>,
    ) -> ScoreEntry {
        ScoreEntry {
            id: ScoreEntry::new_id(),
            player_id: player.id,
            username: player.username.as_str().into(),
            score,
            mode,
            recorded_at,
            verified: false,
            game_id: None,
        }
    }
}

/// Which scores a leaderboard read considers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScoreFilter {
    /// One mode, or `None` for both modes merged.
    pub mode: Option<GameMode>,
    /// Only scores the server recorded from games it ran.
    pub verified_only: bool,
}

impl ScoreFilter {
    /// Every score of one mode, or of both modes with `None`.
    pub fn mode(mode: Option<GameMode>) -> ScoreFilter {
        ScoreFilter {
            mode,
            verified_only: false,
        }
    }

    /// Only the verified scores of one mode, or of both modes with `None`.
    pub fn verified(mode: Option<GameMode>) -> ScoreFilter {
        ScoreFilter {
            mode,
            verified_only: true,
        }
    }
}

/// Why a live game ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameEndReason {
    /// The rules ended it: a wall, the snake itself, or a full board.
    Rules(EndCause),
    /// Its player started another game, and a player has one live game at a time.
    ReplacedByNewGame,
    /// The server is shutting down.
    ServerShutdown,
    /// The instance running the game stopped being heard from (see `games::cluster`): only on
    /// the final frame another instance gives its own watchers, never recorded.
    InstanceLost,
}

/// Who played a live game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GameOwner {
    /// A player with an account; their finished games go on the leaderboard.
    Player(PlayerProfile),
    /// A demo bot, named like a player but without an account; its games never go on the
    /// leaderboard.
    Bot(Arc<str>),
}

impl GameOwner {
    /// The name spectators see.
    pub fn username(&self) -> &str {
        match self {
            GameOwner::Player(profile) => &profile.username,
            GameOwner::Bot(name) => name,
        }
    }

    /// The player's id, or `None` for a bot.
    pub fn player_id(&self) -> Option<Uuid> {
        match self {
            GameOwner::Player(profile) => Some(profile.id),
            GameOwner::Bot(_) => None,
        }
    }
}

/// A game the server ran to its end, with everything needed to replay it: its mode, seed and the
/// turns it received by tick, plus how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedGame {
    pub id: Uuid,
    pub player_id: Uuid,
    pub username: Arc<str>,
    pub mode: GameMode,
    pub seed: u64,
    /// Every turn the game received, in order, with the tick it arrived at.
    pub turns: Vec<LoggedTurn>,
    /// The ticks the game was advanced, which stops a replay of a game nobody finished.
    pub ticks: u64,
    /// The time between two ticks the game was played at (`--game-tick-ms` then), which a
    /// replay at speed 1 keeps.
    pub tick: Duration,
    pub score: u32,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub end: GameEndReason,
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
