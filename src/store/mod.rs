//! The storage contract the services depend on, expressed in domain types only, so backends can be swapped.

pub mod memory;

use async_trait::async_trait;
use uuid::Uuid;

use crate::accounts::tokens::TokenHash;
use crate::error::Result;
use crate::model::{ActiveGame, GameMode, ScoreEntry, SessionRecord, StoredPlayer};

pub use memory::MemoryStore;

/// Persistence for players, sessions, scores and live games.
///
/// Emails and usernames are compared ignoring case: two values clash when their trimmed,
/// lowercased forms are equal. Callers validate the shape of values before calling.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Adds a player, failing with `EmailTaken` (checked first) or `UsernameTaken` when another
    /// player already has the same email or username ignoring case. The check and the insert are
    /// one atomic step, so of many concurrent creates with one username exactly one succeeds.
    async fn create_player(&self, player: StoredPlayer) -> Result<()>;

    /// Finds a player by email, ignoring case and surrounding whitespace.
    async fn player_by_email(&self, email: &str) -> Result<Option<StoredPlayer>>;

    /// Finds a player by username, ignoring case and surrounding whitespace.
    async fn player_by_username(&self, username: &str) -> Result<Option<StoredPlayer>>;

    async fn player_by_id(&self, id: Uuid) -> Result<Option<StoredPlayer>>;

    /// Adds a session. When the player then has more than `max_per_player` sessions, the
    /// oldest ones are removed, so one account cannot pile up sessions without bound.
    async fn insert_session(&self, session: SessionRecord, max_per_player: usize) -> Result<()>;

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>>;

    /// Removes a session and reports whether it existed.
    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool>;

    async fn insert_score(&self, entry: ScoreEntry) -> Result<()>;

    /// The best `limit` scores, for one mode or (with `None`) across both modes.
    ///
    /// Order: higher score first; on equal scores the earlier `recorded_at` first, then the
    /// smaller id, so the order is total and stable.
    async fn top_scores(&self, mode: Option<GameMode>, limit: usize) -> Result<Vec<ScoreEntry>>;

    async fn active_games(&self) -> Result<Vec<ActiveGame>>;

    /// Inserts a live game or replaces the one with the same id.
    async fn put_active_game(&self, game: ActiveGame) -> Result<()>;

    /// A short name of the backend for logs and health checks.
    fn backend_name(&self) -> &'static str;
}

/// The form in which emails and usernames are compared for uniqueness and lookup.
pub fn comparison_key(email_or_username: &str) -> String {
    email_or_username.trim().to_lowercase()
}
