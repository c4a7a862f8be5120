//! Test data the store backends' unit tests share: players, sessions and scores at fixed times,
//! so every backend is held to the same cases.

use chrono::{DateTime, Duration as TimeSpan, TimeZone, Utc};
use uuid::Uuid;

use crate::accounts::tokens::hash_token;
use crate::model::{GameMode, PlayerProfile, ScoreEntry, SessionRecord, StoredPlayer};

pub fn player(username: &str, email: &str) -> StoredPlayer {
    StoredPlayer {
        profile: PlayerProfile {
            id: Uuid::new_v4(),
            username: username.to_string(),
            email: email.to_string(),
        },
        password_hash: "$scrypt$placeholder".to_string(),
        created_at: Utc::now(),
    }
}

/// The fixed moment the scores and sessions of a test are timed from.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0)
        .single()
        .expect("a valid fixed date")
}

/// A self-reported score of a fresh player, recorded `after_base` after [`base_time`].
pub fn score_after(points: u32, mode: GameMode, after_base: TimeSpan) -> ScoreEntry {
    ScoreEntry {
        id: Uuid::new_v4(),
        player_id: Uuid::new_v4(),
        username: format!("player-{points}").into(),
        score: points,
        mode,
        recorded_at: base_time() + after_base,
        verified: false,
        game_id: None,
    }
}

pub fn session_of(player_id: Uuid, token: &str) -> SessionRecord {
    SessionRecord {
        token_hash: hash_token(token),
        player_id,
        expires_at: base_time(),
    }
}
