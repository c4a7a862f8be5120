//! Recording finished games' scores and reading the best ones, always on behalf of an authenticated player.

use std::sync::Arc;

use crate::accounts::rate_limit::RateLimiter;
use crate::error::Result;
use crate::model::{GameMode, PlayerProfile, ScoreEntry, ScoreFilter};
use crate::store::Store;
use chrono::Utc;

/// The leaderboard service; the HTTP layer decides limits and validation of inputs.
pub struct Leaderboard {
    store: Arc<dyn Store>,
    submissions_per_player: RateLimiter,
    /// Whether players may post scores of games the server did not see (`submit`).
    self_reported_scores: bool,
}

impl Leaderboard {
    pub fn new(store: Arc<dyn Store>, submissions_per_player: RateLimiter) -> Self {
        Leaderboard {
            store,
            submissions_per_player,
            self_reported_scores: true,
        }
    }

    /// Refuses self-reported scores (`SelfReportedScoresOff`) when `allowed` is false.
    pub fn with_self_reported_scores(mut self, allowed: bool) -> Self {
        self.self_reported_scores = allowed;
        self
    }

    /// Records a score owned by the given authenticated player; nothing from the client can
    /// choose whose score it is. Submissions are limited per player.
    pub async fn submit(
        &self,
        player: &PlayerProfile,
        score: u32,
        mode: GameMode,
    ) -> Result<ScoreEntry> {
        if !self.self_reported_scores {
            return Err(crate::error::Error::SelfReportedScoresOff);
        }
        let _admitted = self.submissions_per_player.admit(player.id.to_string())?;
        let entry = ScoreEntry::self_reported(player, score, mode, Utc::now());
        self.store.insert_score(entry.clone()).await?;
        Ok(entry)
    }

    /// The board `filter` names, best first, as the store shares it: the same allocation as
    /// an earlier answer means no score was written since (see `Store::top_board`).
    pub async fn board(&self, filter: ScoreFilter) -> Result<Arc<[ScoreEntry]>> {
        self.store.top_board(filter).await
    }

    /// The best `limit` scores, for one mode or across both, best first.
    pub async fn top(&self, mode: Option<GameMode>, limit: usize) -> Result<Vec<ScoreEntry>> {
        self.store.top_scores(ScoreFilter::mode(mode), limit).await
    }

    /// The best `limit` verified scores (recorded by the server from games it ran), for one
    /// mode or across both, best first.
    pub async fn top_verified(
        &self,
        mode: Option<GameMode>,
        limit: usize,
    ) -> Result<Vec<ScoreEntry>> {
        self.store
            .top_scores(ScoreFilter::verified(mode), limit)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use uuid::Uuid;

    #[tokio::test]
    async fn a_submitted_score_belongs_to_the_player_and_shows_up_in_its_mode() {
        let leaderboard = Leaderboard::new(Arc::new(MemoryStore::new()), RateLimiter::unlimited());
        let player = PlayerProfile {
            id: Uuid::new_v4(),
            username: "Gus".to_string(),
            email: "gus@example.com".to_string(),
        };
        let entry = leaderboard
            .submit(&player, 420, GameMode::PassThrough)
            .await
            .expect("submit");
        assert_eq!(entry.player_id, player.id);
        assert!(!entry.verified, "a self-reported score is not verified");
        assert_eq!(entry.game_id, None);
        assert_eq!(leaderboard.top_verified(None, 10).await, Ok(Vec::new()));
        assert_eq!(&*entry.username, "Gus");
        assert_eq!(
            leaderboard.top(Some(GameMode::PassThrough), 10).await,
            Ok(vec![entry.clone()])
        );
        assert_eq!(
            leaderboard.top(Some(GameMode::Walls), 10).await,
            Ok(Vec::new())
        );
        assert_eq!(leaderboard.top(None, 10).await, Ok(vec![entry]));
    }
}
