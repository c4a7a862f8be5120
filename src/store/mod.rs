//! The storage contract the services depend on, expressed in domain types only, so backends can be swapped.

pub mod account_cache;
pub mod board_changes;
pub mod cached;
pub mod database_url;
#[cfg(test)]
mod fixtures;
pub mod group_commit;
pub mod memory;
pub mod postgres;
pub mod postgres_bus;
pub mod postgres_listener;
pub mod session_leases;
pub mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::rate_limit::{RateLimiter, Refused};
use crate::accounts::tokens::TokenHash;
use crate::error::Result;
use crate::model::{FinishedGame, ScoreEntry, ScoreFilter, SessionRecord, StoredPlayer};

pub use database_url::{DEFAULT_DATABASE_URL, DatabaseUrl};
pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Persistence for players, sessions, scores and the games the server ran.
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

    /// Adds a score. A verified score must name its game (`game_id`) and a self-reported one
    /// must not; anything else is refused with `Internal`, since only a bug produces it.
    async fn insert_score(&self, entry: ScoreEntry) -> Result<()>;

    /// Adds many scores at once, all or none, under the rules of [`Store::insert_score`]: for
    /// filling a store in bulk (`--synthetic-scores`), where one commit per score would cost an
    /// fsync each. The default checks them all and then adds them one by one (for a store whose
    /// only refusal is that check); the durable stores use one transaction.
    async fn insert_scores(&self, entries: Vec<ScoreEntry>) -> Result<()> {
        for entry in &entries {
            check_score_provenance(entry)?;
        }
        for entry in entries {
            self.insert_score(entry).await?;
        }
        Ok(())
    }

    /// The best `limit` scores the filter admits: one mode or (with `mode: None`) both modes
    /// merged, every score or only verified ones.
    ///
    /// Order: higher score first; on equal scores the earlier `recorded_at` first, then the
    /// smaller id, so the order is total and stable.
    async fn top_scores(&self, filter: ScoreFilter, limit: usize) -> Result<Vec<ScoreEntry>>;

    /// The whole board of `filter` (its best `cached::BOARD_LENGTH` scores) as one shared slice,
    /// so that readers can share it and the HTTP edge can reuse what it encoded from it: a board
    /// that is the same allocation as before has not changed. `CachedStore` keeps it; other
    /// stores read it anew.
    async fn top_board(&self, filter: ScoreFilter) -> Result<Arc<[ScoreEntry]>> {
        Ok(self.top_scores(filter, cached::BOARD_LENGTH).await?.into())
    }

    /// Keeps a game the server ran to its end and, for a player's game, its verified score, in
    /// one step: either both are stored or neither is, so a score is never recorded without its
    /// game (until [`Store::prune_finished_games`] forgets an old game off the top) and a
    /// recorded game of a player never lacks its score. The score, when given, must be verified
    /// and name the game.
    async fn record_finished_game(
        &self,
        game: FinishedGame,
        score: Option<ScoreEntry>,
    ) -> Result<()>;

    /// A finished game by its id, for replays.
    async fn finished_game(&self, id: Uuid) -> Result<Option<FinishedGame>>;

    /// The verified score recorded with a finished game, if it has one.
    async fn verified_score_of_game(&self, game_id: Uuid) -> Result<Option<ScoreEntry>>;

    /// Forgets the finished games that ended before `ended_before`, except those whose verified
    /// score is among the best `keep_best_per_mode` verified scores of its mode (ranked as
    /// [`Store::top_scores`] ranks them), which are kept for good. Scores stay on the
    /// leaderboard; a pruned game's score then names a game that is no longer there. Returns how
    /// many games were forgotten.
    async fn prune_finished_games(
        &self,
        ended_before: DateTime<Utc>,
        keep_best_per_mode: usize,
    ) -> Result<u64>;

    /// Whether the store holds no players and no scores, so the demo data may be seeded.
    async fn holds_no_data(&self) -> Result<bool>;

    /// Adds the demo players and scores if the store holds no players and no scores, and says
    /// whether it did. Seeding happens once even when several servers on one database start
    /// together.
    ///
    /// The default checks and then inserts, which is enough for a store that one process owns
    /// (memory, and SQLite, whose writes one connection makes); a store that several servers
    /// share overrides it with one atomic step.
    async fn seed_if_empty(
        &self,
        players: Vec<StoredPlayer>,
        scores: Vec<ScoreEntry>,
    ) -> Result<bool> {
        if !self.holds_no_data().await? {
            return Ok(false);
        }
        for player in players {
            self.create_player(player).await?;
        }
        for entry in scores {
            self.insert_score(entry).await?;
        }
        Ok(true)
    }

    /// Checks that the store answers, within a bound of a few seconds; `StoreUnavailable` when
    /// it does not. This is what the health check asks.
    async fn ping(&self) -> Result<()>;

    /// Whether rate limits that must hold across servers (the failed logins per account) are
    /// kept in this store, through [`Store::admit_shared_event`]. A store one process owns
    /// leaves them to that process's own limiter, which costs no write per failed login.
    fn shares_rate_limits(&self) -> bool {
        false
    }

    /// Counts one event for `key` against `limit`, on a schedule this store keeps for every
    /// server that uses it; the inner result is the limit's decision. Only called when
    /// [`Store::shares_rate_limits`] says so.
    async fn admit_shared_event(
        &self,
        limit_name: &'static str,
        key: &str,
        limit: &RateLimiter,
    ) -> Result<std::result::Result<(), Refused>> {
        let _ = (limit_name, key, limit);
        Err(crate::error::Error::Internal(format!(
            "the {} store keeps no shared rate limits",
            self.backend_name()
        )))
    }

    /// Hands back an event [`Store::admit_shared_event`] counted.
    async fn refund_shared_event(
        &self,
        limit_name: &'static str,
        key: &str,
        limit: &RateLimiter,
    ) -> Result<()> {
        let _ = (limit_name, key, limit);
        Err(crate::error::Error::Internal(format!(
            "the {} store keeps no shared rate limits",
            self.backend_name()
        )))
    }

    /// The bus on which the instances sharing this store tell each other about their live
    /// games, or `None` for a store one process owns (memory, SQLite), whose live games are all
    /// its own.
    fn instance_bus(&self) -> Option<Arc<dyn InstanceBus>> {
        None
    }

    /// The server is shutting down: gives up what this store holds on the other servers'
    /// behalf (the session lease, in front of PostgreSQL), so that they stop waiting for it.
    async fn leave(&self) {}

    /// A short name of the backend for logs and health checks.
    fn backend_name(&self) -> &'static str;

    /// Whether every change to this store's data goes through this one value, so that what it
    /// answered stays true until it is itself told otherwise: the in-memory store, and a SQLite
    /// file that this process alone has open (it holds the file's server lock). Then
    /// `CachedStore` may keep sessions, whose revocation must take effect at once; with several
    /// servers on one PostgreSQL database it keeps them only under a lease
    /// (`session_leases.rs`).
    fn is_sole_writer(&self) -> bool {
        false
    }
}

/// The largest message the bus carries, in bytes: PostgreSQL's `NOTIFY` takes payloads shorter
/// than 8,000 bytes.
pub const MAX_BUS_MESSAGE_BYTES: usize = 7999;

/// Messages between the instances that share a store: whatever one instance publishes, every
/// listener (its own included) receives, in the order it was published. Delivery is at most
/// once: a listener whose connection was lost misses what was published meanwhile, and says so.
#[async_trait]
pub trait InstanceBus: Send + Sync + 'static {
    /// Publishes `messages` (each at most [`MAX_BUS_MESSAGE_BYTES`] long) in one round trip, in
    /// order.
    async fn publish(&self, messages: Vec<String>) -> Result<()>;

    /// Starts listening; messages published from the moment this returns are received.
    async fn listen(&self) -> Result<Box<dyn BusListener>>;
}

/// What a [`BusListener`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// A message some instance published.
    Message(String),
    /// The listener lost its connection and has a new one: messages published in between were
    /// missed.
    Reconnected,
}

/// One instance's ear on the bus.
#[async_trait]
pub trait BusListener: Send + 'static {
    /// The next event; an error means the bus cannot be reached just now (the next call tries
    /// again).
    async fn next(&mut self) -> Result<BusEvent>;
}

/// Why a store could not be opened at start-up; each message names the file or database (never
/// a password) and the problem in one line, for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}")]
    MalformedUrl(String),
    #[error("{path}: the file is not a SQLite database")]
    NotADatabase { path: PathBuf },
    #[error("{path}: cannot open or create the database: {reason}")]
    CannotOpen { path: PathBuf, reason: String },
    #[error("{path}: the database is locked by another process (is another server using it?)")]
    Locked { path: PathBuf },
    #[error(
        "{path}: another server process is using this database (it holds {lock}); one SQLite file serves one server, several servers need PostgreSQL"
    )]
    InUse { path: PathBuf, lock: PathBuf },
    #[error(
        "{path}: the database was written by a newer version of this server (it has schema migration {version}, which this version does not know); run the newer version or use another file"
    )]
    NewerSchema { path: PathBuf, version: i64 },
    #[error(
        "{path}: schema migration {version} in the database differs from the one this version knows"
    )]
    ChangedMigration { path: PathBuf, version: i64 },
    #[error("{path}: {reason}")]
    Other { path: PathBuf, reason: String },
    #[error("{target}: cannot reach the PostgreSQL server: {reason}")]
    PostgresUnreachable { target: String, reason: String },
    #[error("{target}: the PostgreSQL server refused the login: {reason}")]
    PostgresRefused { target: String, reason: String },
    #[error("{target}: the database does not exist; create it first (`createdb`) or name another")]
    PostgresNoSuchDatabase { target: String },
    #[error(
        "{target}: the database was written by a newer version of this server (it has schema migration {version}, which this version does not know); run the newer version or use another database"
    )]
    PostgresNewerSchema { target: String, version: i64 },
    #[error(
        "{target}: schema migration {version} in the database differs from the one this version knows"
    )]
    PostgresChangedMigration { target: String, version: i64 },
    #[error("{target}: {reason}")]
    PostgresOther { target: String, reason: String },
}

/// Opens the store `--database-url` names: parses it, then opens (and for SQLite creates) and
/// migrates the backend.
pub async fn open(database_url: &str) -> std::result::Result<Arc<dyn Store>, OpenError> {
    match DatabaseUrl::parse(database_url).map_err(OpenError::MalformedUrl)? {
        DatabaseUrl::Memory => Ok(Arc::new(MemoryStore::new())),
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(&path).await?)),
        DatabaseUrl::Postgres(url) => Ok(Arc::new(PostgresStore::open(&url).await?)),
    }
}

/// Refuses a score whose `verified` flag and `game_id` disagree; every backend checks it the same
/// way.
pub fn check_score_provenance(entry: &ScoreEntry) -> Result<()> {
    if entry.verified == entry.game_id.is_some() {
        Ok(())
    } else {
        Err(crate::error::Error::Internal(format!(
            "score {} is verified: {} but has game id {:?}",
            entry.id, entry.verified, entry.game_id
        )))
    }
}

/// The form in which emails and usernames are compared for uniqueness and lookup.
pub fn comparison_key(email_or_username: &str) -> String {
    email_or_username.trim().to_lowercase()
}

/// The bulk insert every backend shares the rules of: all of a batch or none of it.
#[cfg(test)]
pub(crate) mod bulk_insert_tests {
    use chrono::Duration as TimeSpan;

    use super::Store;
    use crate::model::{GameMode, ScoreFilter};
    use crate::store::fixtures::score_after;

    /// A batch lands whole and ranks like scores added one by one; a batch holding one score
    /// that breaks the provenance rule (verified without a game) adds nothing at all.
    pub(crate) async fn check_bulk_insert(store: &dyn Store) {
        let batch: Vec<_> = (1..=25)
            .map(|points| {
                score_after(
                    points * 10,
                    GameMode::Walls,
                    TimeSpan::seconds(points.into()),
                )
            })
            .collect();
        store
            .insert_scores(batch.clone())
            .await
            .expect("a valid batch");
        let walls = ScoreFilter::mode(Some(GameMode::Walls));
        let board = store.top_scores(walls, 100).await.expect("the board");
        assert_eq!(board.len(), 25);
        assert_eq!(board[0].score, 250);
        assert_eq!(board[0].id, batch[24].id);
        assert_eq!(board[24].score, 10);

        let mut broken = score_after(999, GameMode::Walls, TimeSpan::seconds(1));
        broken.verified = true;
        let refused = vec![
            score_after(500, GameMode::Walls, TimeSpan::seconds(2)),
            broken,
        ];
        assert!(store.insert_scores(refused).await.is_err());
        let board = store.top_scores(walls, 100).await.expect("the board");
        assert_eq!(board.len(), 25, "nothing of the refused batch is stored");
    }
}

/// The retention rules every backend must keep, run by each backend's own tests.
#[cfg(test)]
pub(crate) mod retention_tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::{DateTime, TimeZone, Utc};
    use uuid::Uuid;

    use super::Store;
    use crate::model::{FinishedGame, GameEndReason, GameMode, ScoreEntry};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn game(mode: GameMode, score: u32, days_ago: i64) -> FinishedGame {
        let ended_at = now() - chrono::Duration::days(days_ago);
        FinishedGame {
            id: Uuid::new_v4(),
            player_id: Uuid::new_v4(),
            username: "keeper".into(),
            mode,
            seed: 11,
            turns: Vec::new(),
            ticks: 5,
            tick: Duration::from_millis(150),
            score,
            started_at: ended_at - chrono::Duration::seconds(1),
            ended_at,
            end: GameEndReason::ServerShutdown,
        }
    }

    fn verified_score_of(game: &FinishedGame) -> ScoreEntry {
        ScoreEntry {
            id: Uuid::new_v4(),
            player_id: game.player_id,
            username: Arc::clone(&game.username),
            score: game.score,
            mode: game.mode,
            recorded_at: game.ended_at,
            verified: true,
            game_id: Some(game.id),
        }
    }

    /// With the best 2 of each mode kept for good and a cut-off 30 days ago: old games in a
    /// mode's top 2 stay, recent games stay whatever their score, and old games off the top
    /// (with a score or without one) go, while every score stays on the leaderboard.
    pub(crate) async fn check_retention(store: &dyn Store) {
        let best_walls = game(GameMode::Walls, 300, 400);
        let second_walls = game(GameMode::Walls, 200, 40);
        let third_walls_old = game(GameMode::Walls, 100, 31);
        let recent_low_walls = game(GameMode::Walls, 10, 2);
        let only_pass_through = game(GameMode::PassThrough, 5, 90);
        let old_without_score = game(GameMode::PassThrough, 0, 90);
        for kept_with_score in [
            &best_walls,
            &second_walls,
            &third_walls_old,
            &recent_low_walls,
            &only_pass_through,
        ] {
            store
                .record_finished_game(
                    kept_with_score.clone(),
                    Some(verified_score_of(kept_with_score)),
                )
                .await
                .expect("recorded");
        }
        store
            .record_finished_game(old_without_score.clone(), None)
            .await
            .expect("recorded");
        let third_walls_score = store
            .verified_score_of_game(third_walls_old.id)
            .await
            .expect("the store answers")
            .expect("the score is found from its game");
        assert_eq!(third_walls_score.game_id, Some(third_walls_old.id));
        assert_eq!(third_walls_score.score, 100);

        let pruned = store
            .prune_finished_games(now() - chrono::Duration::days(30), 2)
            .await
            .expect("the prune runs");
        assert_eq!(pruned, 2);
        for kept in [
            &best_walls,
            &second_walls,
            &recent_low_walls,
            &only_pass_through,
        ] {
            assert_eq!(
                store
                    .finished_game(kept.id)
                    .await
                    .expect("answers")
                    .as_ref(),
                Some(kept),
                "{} (score {}) is kept",
                kept.id,
                kept.score
            );
        }
        for gone in [&third_walls_old, &old_without_score] {
            assert_eq!(store.finished_game(gone.id).await.expect("answers"), None);
        }
        let walls_board = store
            .top_scores(
                crate::model::ScoreFilter::verified(Some(GameMode::Walls)),
                10,
            )
            .await
            .expect("the board");
        assert_eq!(walls_board.len(), 4, "every score stays on the board");
        assert_eq!(
            store
                .prune_finished_games(now() - chrono::Duration::days(30), 2)
                .await,
            Ok(0),
            "a second prune finds nothing more"
        );
    }
}
