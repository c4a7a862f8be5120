//! Demo data for development: documented player accounts with precomputed password hashes, and
//! scores. The games to watch are real: the demo bots (`games::bots`) play them.
//!
//! The password hashes are PHC strings computed once at the OWASP cost (N = 2^17, r = 8, p = 1)
//! and committed below, so seeding does no hashing and start-up stays instant. To regenerate
//! them, run `cargo test seed::tests::print_owasp_hashes_of_the_seeded_passwords -- --ignored --nocapture`
//! and paste its output over `SEEDED_PASSWORD_HASHES`.

use chrono::{Duration, Utc};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::model::{GameMode, PlayerProfile, ScoreEntry, StoredPlayer};
use crate::store::Store;

/// A demo account whose password is public on purpose, for trying the game locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeededPlayer {
    pub id: Uuid,
    pub username: &'static str,
    pub email: &'static str,
    pub password: &'static str,
}

const SEEDED_PLAYER_COUNT: usize = 4;

const SEEDED_PLAYER_ARRAY: [SeededPlayer; SEEDED_PLAYER_COUNT] = [
    SeededPlayer {
        id: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0001),
        username: "snakecharmer",
        email: "snakecharmer@example.com",
        password: "charmer-pass-123",
    },
    SeededPlayer {
        id: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0002),
        username: "pixelviper",
        email: "pixelviper@example.com",
        password: "viper-pass-456",
    },
    SeededPlayer {
        id: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0003),
        username: "noodlequeen",
        email: "noodlequeen@example.com",
        password: "noodle-pass-789",
    },
    SeededPlayer {
        id: Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0004),
        username: "slowworm",
        email: "slowworm@example.com",
        password: "worm-pass-2468",
    },
];

/// The demo accounts, so the README and tests can name them.
pub const SEEDED_PLAYERS: &[SeededPlayer] = &SEEDED_PLAYER_ARRAY;

/// PHC strings of the seeded passwords at the OWASP cost, in the order of `SEEDED_PLAYERS`; the
/// array length ties the two lists together at compile time.
const SEEDED_PASSWORD_HASHES: [&str; SEEDED_PLAYER_COUNT] = [
    // snakecharmer
    "$scrypt$ln=17,r=8,p=1$JhCcd9lno+2pdk6pfYrmDw$AhngQNYwMvWT0KLGCncVp2mEY8917VpfpKBxtvmggEU",
    // pixelviper
    "$scrypt$ln=17,r=8,p=1$sI50rksP5y5HTW8nId0XuA$BmQYuqFsgVaKldx1B2x5X8R6ZmrR2GK4PmSHBF5OOAg",
    // noodlequeen
    "$scrypt$ln=17,r=8,p=1$1aQObd5cNKgZRd1Cz4dtkA$nZcgp/8ARx6gc6NUrhd623Ivw3fS4K9gsY+WEBsGvZ0",
    // slowworm
    "$scrypt$ln=17,r=8,p=1$RWSrMCI+UBrkmggZccndvA$GaXbQdDkjUEbJ+NMK8r83vEhbDeaT1nKNWPvQtnp3Ac",
];

/// How many scores the seed puts in each mode: few, so that the frontend's "all modes, top 20"
/// list has room for a new player's first game.
pub const SEEDED_SCORES_PER_MODE: usize = 5;

/// Seeded scores as (index into `SEEDED_PLAYERS`, points, mode, minutes before seeding). Every
/// seeded player appears in both modes, and each mode has a tie, to show that the earlier wins.
const SEEDED_SCORES: [(usize, u32, GameMode, i64); 2 * SEEDED_SCORES_PER_MODE] = [
    (0, 1240, GameMode::Walls, 50),
    (2, 1240, GameMode::Walls, 26 * 60),
    (3, 310, GameMode::Walls, 2 * 24 * 60),
    (1, 1510, GameMode::Walls, 4 * 24 * 60 + 7 * 60),
    (0, 2030, GameMode::Walls, 9 * 24 * 60),
    (1, 2210, GameMode::PassThrough, 20),
    (0, 1870, GameMode::PassThrough, 5 * 60 + 30),
    (2, 3050, GameMode::PassThrough, 30 * 60),
    (3, 540, GameMode::PassThrough, 2 * 24 * 60 + 3 * 60),
    (1, 1870, GameMode::PassThrough, 3 * 24 * 60),
];

/// What [`seed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The store was empty and now holds the demo players and scores.
    Seeded,
    /// The store already held players or scores (seeded on an earlier start, or real data), so
    /// nothing was added.
    AlreadyHeldData,
}

/// Seeds the demo players and scores into an empty store.
///
/// Safe to run on every start: a store that holds data keeps it untouched, so a restart on the
/// same database neither duplicates nor resurrects anything.
pub async fn seed(store: &dyn Store) -> Result<SeedOutcome> {
    let (players, scores) = seeded_players_and_scores()?;
    let outcome = if store.seed_if_empty(players, scores).await? {
        SeedOutcome::Seeded
    } else {
        SeedOutcome::AlreadyHeldData
    };
    Ok(outcome)
}

/// The demo players and their scores, timed relative to now.
fn seeded_players_and_scores() -> Result<(Vec<StoredPlayer>, Vec<ScoreEntry>)> {
    let now = Utc::now();
    let players = SEEDED_PLAYERS
        .iter()
        .zip(SEEDED_PASSWORD_HASHES)
        .map(|(seeded_player, password_hash)| StoredPlayer {
            profile: profile_of(seeded_player),
            password_hash: password_hash.to_string(),
            created_at: now - Duration::days(30),
        })
        .collect();
    let mut scores = Vec::with_capacity(SEEDED_SCORES.len());
    for (player_index, score, mode, minutes_ago) in SEEDED_SCORES {
        let seeded_player = seeded_player_at(player_index)?;
        scores.push(ScoreEntry::self_reported(
            &profile_of(seeded_player),
            score,
            mode,
            now - Duration::minutes(minutes_ago),
        ));
    }
    Ok((players, scores))
}

/// Looks a seeded player up by index without a panic path, even though the tables are constant.
fn seeded_player_at(player_index: usize) -> Result<&'static SeededPlayer> {
    SEEDED_PLAYERS
        .get(player_index)
        .ok_or_else(|| Error::Internal(format!("seed data names a missing player #{player_index}")))
}

fn profile_of(seeded_player: &SeededPlayer) -> PlayerProfile {
    PlayerProfile {
        id: seeded_player.id,
        username: seeded_player.username.to_string(),
        email: seeded_player.email.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::password::{PasswordHasher, ScryptCost};
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn after_seeding_both_modes_have_their_self_reported_scores() {
        let store = MemoryStore::new();
        seed(&store).await.expect("seeding a fresh store");

        for mode in GameMode::ALL {
            let top = store
                .top_scores(crate::model::ScoreFilter::mode(Some(mode)), 100)
                .await
                .expect("top");
            assert_eq!(top.len(), SEEDED_SCORES_PER_MODE, "{mode:?}");
            assert!(top.iter().all(|entry| entry.recorded_at < Utc::now()));
            assert!(top.iter().all(|entry| !entry.verified));
        }
    }

    #[tokio::test]
    async fn seeding_a_store_that_holds_data_adds_nothing() {
        let store = MemoryStore::new();
        assert_eq!(seed(&store).await, Ok(SeedOutcome::Seeded));
        assert_eq!(seed(&store).await, Ok(SeedOutcome::AlreadyHeldData));
        let all_scores = store
            .top_scores(crate::model::ScoreFilter::mode(None), 100)
            .await
            .expect("top");
        assert_eq!(all_scores.len(), 2 * SEEDED_SCORES_PER_MODE);
    }

    #[tokio::test]
    async fn seeded_players_can_be_found_by_their_documented_email() {
        let store = MemoryStore::new();
        seed(&store).await.expect("seeding a fresh store");
        for seeded_player in SEEDED_PLAYERS {
            let stored = store
                .player_by_email(seeded_player.email)
                .await
                .expect("lookup")
                .expect("the seeded player exists");
            assert_eq!(stored.profile, profile_of(seeded_player));
            assert!(seeded_player.password.len() >= 8);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_committed_hash_matches_its_documented_password_at_the_owasp_cost() {
        // This runs one 2^17 scrypt per player (128 MiB, ~0.4 s each in an optimised build).
        let hasher =
            PasswordHasher::new(ScryptCost::OWASP, 2, SEEDED_PLAYER_COUNT).expect("hasher");
        for (seeded_player, password_hash) in SEEDED_PLAYERS.iter().zip(SEEDED_PASSWORD_HASHES) {
            assert!(password_hash.starts_with("$scrypt$ln=17,r=8,p=1$"));
            assert_eq!(
                hasher.verify(seeded_player.password, password_hash).await,
                Ok(true),
                "{}",
                seeded_player.username
            );
        }
    }

    #[tokio::test]
    #[ignore = "generates the committed hashes; run by hand with --ignored --nocapture"]
    async fn print_owasp_hashes_of_the_seeded_passwords() {
        let hasher =
            PasswordHasher::new(ScryptCost::OWASP, 1, SEEDED_PLAYER_COUNT).expect("hasher");
        println!("const SEEDED_PASSWORD_HASHES: [&str; SEEDED_PLAYER_COUNT] = [");
        for seeded_player in SEEDED_PLAYERS {
            let password_hash = hasher.hash(seeded_player.password).await.expect("hash");
            println!("    // {}", seeded_player.username);
            println!("    \"{password_hash}\",");
        }
        println!("];");
    }
}
