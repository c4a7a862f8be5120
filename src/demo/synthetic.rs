//! Generated scores for benchmarks (`--synthetic-scores N`): the store is filled at start-up
//! through `Store::insert_scores`, in the same rows as submitted scores, so `cargo xtask bench`
//! can measure leaderboard reads and memory at 10^3 to 10^6 scores without as many requests.
//!
//! The scores are deterministic (the same `N` gives the same scores, ids and names) and spread
//! evenly over both modes and over a thousand made-up players, with usernames of a typical length.
//! The players have no accounts: a score only carries its player's id and username.

use std::sync::Arc;

use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::error::Result;
use crate::model::{GameMode, ScoreEntry};
use crate::store::Store;

/// How many different made-up players the generated scores belong to.
const SYNTHETIC_PLAYERS: u64 = 1000;

/// The highest score the contract allows.
const MAX_SCORE: u64 = 1_000_000;

/// Generated scores stored per call of `Store::insert_scores`, each call one transaction.
const SCORES_PER_BATCH: usize = 10_000;

/// Stores `count` generated scores, recorded one millisecond apart and ending now, in batches of
/// [`SCORES_PER_BATCH`] (so filling a durable store with 10^6 takes a hundred commits, not a
/// million).
pub async fn fill_scores(store: &dyn Store, count: u64) -> Result<()> {
    let now = Utc::now();
    let mut random = SplitMix64(0x5eed_5c0e_5eed_5c0e);
    let usernames: Vec<Arc<str>> = (0..SYNTHETIC_PLAYERS)
        .map(|player| format!("synthetic_{player:04}").into())
        .collect();
    let mut batch = Vec::with_capacity(SCORES_PER_BATCH);
    for index in 0..count {
        let player = index % SYNTHETIC_PLAYERS;
        let milliseconds_ago = i64::try_from(count - index).unwrap_or(i64::MAX);
        batch.push(ScoreEntry {
            id: uuid_from(&mut random),
            player_id: Uuid::from_u64_pair(0x5e17_4e71_c000_4000, 0x8000_0000_0000_0000 | player),
            username: Arc::clone(&usernames[player as usize]),
            score: u32::try_from(random.next() % (MAX_SCORE + 1)).unwrap_or(0),
            mode: GameMode::ALL[usize::from(index % 2 == 1)],
            recorded_at: now - Duration::milliseconds(milliseconds_ago),
            verified: false,
            game_id: None,
        });
        if batch.len() == SCORES_PER_BATCH {
            store.insert_scores(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        store.insert_scores(batch).await?;
    }
    Ok(())
}

/// A random-looking version 4 UUID from the generator, with no system call per id.
fn uuid_from(random: &mut SplitMix64) -> Uuid {
    let bytes = (u128::from(random.next()) << 64 | u128::from(random.next())).to_le_bytes();
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Sebastiano Vigna's SplitMix64: a tiny, fast, well-distributed generator, ample for test data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn the_generated_scores_are_in_the_store_spread_over_both_modes() {
        let store = MemoryStore::new();
        fill_scores(&store, 1001).await.expect("fill");
        let walls = store
            .top_scores(crate::model::ScoreFilter::mode(Some(GameMode::Walls)), 1000)
            .await
            .unwrap();
        let pass_through = store
            .top_scores(
                crate::model::ScoreFilter::mode(Some(GameMode::PassThrough)),
                1000,
            )
            .await
            .unwrap();
        assert_eq!(walls.len(), 501);
        assert_eq!(pass_through.len(), 500);
        assert!(walls.iter().all(|entry| entry.score <= 1_000_000));
        assert!(walls.windows(2).all(|pair| pair[0].score >= pair[1].score));
        assert!(walls[0].username.starts_with("synthetic_"));
    }
}
