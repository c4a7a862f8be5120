//! Spectating: listing the games currently being played so others can watch them.

use std::sync::Arc;

use uuid::Uuid;

use crate::error::Result;
use crate::model::ActiveGame;
use crate::store::Store;

/// Read access to live games for spectators.
pub struct Spectating {
    store: Arc<dyn Store>,
}

impl Spectating {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Spectating { store }
    }

    pub async fn active_games(&self) -> Result<Vec<ActiveGame>> {
        self.store.active_games().await
    }

    /// The active game with this id, if one is being played.
    pub async fn active_game(&self, id: Uuid) -> Result<Option<ActiveGame>> {
        let games = self.store.active_games().await?;
        Ok(games.into_iter().find(|game| game.id == id))
    }
}
