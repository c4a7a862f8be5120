//! Spectating: listing the games being played right now, and one game's current frame, from the
//! live games the server runs and, on a shared store, those the other instances run.

use uuid::Uuid;

use crate::error::Result;
use crate::games::frames::SharedFrame;
use crate::games::live::LiveGames;
use crate::model::ActiveGame;

/// Read access to live games for spectators.
pub struct Spectating {
    live_games: LiveGames,
}

impl Spectating {
    pub fn new(live_games: LiveGames) -> Self {
        Spectating { live_games }
    }

    /// Every running game as it stands whose id sorts after `after` (all of them without it),
    /// ordered by id so the list is stable between reads and a caller can page through it by the
    /// last id it saw. A game that has just ended is left out, and so would be one whose board is
    /// full, since the list always shows food (a full board ends the game anyway).
    pub async fn active_games(&self, after: Option<Uuid>) -> Result<Vec<ActiveGame>> {
        let mut games: Vec<ActiveGame> = self
            .live_games
            .current_frames()
            .iter()
            .filter_map(active_game_of)
            .filter(|game| after.is_none_or(|after| game.id > after))
            .collect();
        games.sort_unstable_by_key(|game| game.id);
        Ok(games)
    }

    /// One live game's latest frame; `UnknownGame` when no such game is running.
    pub fn current_frame(&self, game_id: Uuid) -> Result<SharedFrame> {
        self.live_games.current_frame(game_id)
    }
}

fn active_game_of(shared: &SharedFrame) -> Option<ActiveGame> {
    let frame = &shared.frame;
    if frame.is_final() {
        return None;
    }
    Some(ActiveGame {
        id: frame.game_id,
        username: frame.username.to_string(),
        score: frame.view.score,
        mode: frame.mode,
        snake: frame.view.snake.clone(),
        food: frame.view.food?,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::games::frames::{Frame, FrameEncoder};
    use crate::games::live::LiveGamesSettings;
    use crate::model::{GameMode, PlayerProfile};
    use crate::store::{MemoryStore, Store};

    #[tokio::test(start_paused = true)]
    async fn the_list_shows_each_running_game_as_its_latest_frame_does() {
        let encoder: FrameEncoder = Arc::new(|_: &Frame| bytes::Bytes::new());
        let live_games = LiveGames::new(
            Arc::new(MemoryStore::new()) as Arc<dyn Store>,
            LiveGamesSettings::default(),
            encoder,
        );
        let spectating = Spectating::new(live_games.clone());
        assert_eq!(spectating.active_games(None).await, Ok(Vec::new()));
        let player = PlayerProfile {
            id: Uuid::new_v4(),
            username: "shown".to_string(),
            email: "shown@example.com".to_string(),
        };
        let started = live_games
            .start_with_seed(&player, GameMode::PassThrough, 3)
            .await
            .expect("start");
        live_games
            .start_bot("bot-1".into(), GameMode::Walls)
            .expect("bot");
        let mut watcher = live_games.watch(started.game_id).expect("watch");
        for _ in 0..=3 {
            watcher.next().await.expect("frame");
        }
        let games = spectating.active_games(None).await.expect("list");
        assert_eq!(games.len(), 2);
        let shown = games
            .iter()
            .find(|game| game.id == started.game_id)
            .expect("the player's game is listed");
        let current = spectating.current_frame(started.game_id).expect("current");
        assert_eq!(shown.username, "shown");
        assert_eq!(shown.snake, current.frame.view.snake);
        assert_eq!(Some(shown.food), current.frame.view.food);
        assert_eq!(shown.score, current.frame.view.score);
        assert_eq!(shown.mode, GameMode::PassThrough);
    }
}
