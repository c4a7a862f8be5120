//! The PostgreSQL `Store`: players, sessions, scores and the shared failed-login limit in one
//! database that several server processes use at once. A write is answered only once PostgreSQL
//! has committed it (`synchronous_commit=on`, set on every connection). Live games are kept in
//! the memory of the server that runs them, as in the SQLite store, for the same reasons (see
//! src/store/sqlite.rs); the servers tell each other about them over the bus in
//! src/store/postgres_bus.rs.
//!
//! Everything that must hold across servers is decided by the database, never by a lock in this
//! process: unique indexes pick the winner of racing sign-ups, the migrator's advisory lock
//! serialises schema changes, a transaction-level advisory lock makes "seed an empty database"
//! happen once, and row locks keep each failed-login schedule consistent.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, Row};
use uuid::Uuid;

use crate::accounts::rate_limit::{RateLimiter, Refused};
use crate::accounts::tokens::TokenHash;
use crate::error::{Error, Result};
use crate::model::{
    FinishedGame, GameMode, PlayerProfile, ScoreEntry, ScoreFilter, SessionRecord, StoredPlayer,
};
use crate::store::group_commit::{GroupWriter, ScoreCommitter};
use crate::store::sqlite::{
    END_REASONS, end_reason_name, tick_from_microseconds, tick_microseconds, turns_as_text,
    turns_from_text,
};
use crate::store::{OpenError, Store, check_score_provenance, comparison_key};

/// The schema's versions, embedded in the binary and applied at start-up under the migrator's
/// advisory lock, so servers that start together migrate once.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// How long a request waits for a connection (including opening a new one) before it is
/// answered `503`: an unreachable database costs a client this long, never a hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest any one statement may run on the server, waiting for locks included; a statement
/// cut off by it is answered `503`.
const STATEMENT_TIMEOUT: &str = "5s";

/// How long `ping` (the health check) waits for the database to answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the first connection at start-up may take before the start fails.
const START_UP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections one server holds at most; PostgreSQL's default `max_connections` is 100, which
/// leaves room for several servers.
const MAX_CONNECTIONS: u32 = 10;

/// Rows of one bulk insert statement (`Store::insert_scores`): large enough that the round trips
/// do not count, small enough that one statement's arrays stay a few megabytes.
const BULK_SCORES_PER_STATEMENT: usize = 10_000;

/// What clients are told to wait after the database did not answer.
const RETRY_AFTER_STORE_FAULT: Duration = Duration::from_secs(2);

/// The key of the transaction-level advisory lock that serialises seeding across servers.
const SEED_LOCK_KEY: i64 = 0x5eed_a7e4a;

/// After this many shared-limit events a server sweeps schedules that have fully recovered.
const SWEEP_EVERY_EVENTS: u64 = 1000;

/// A store in a PostgreSQL database.
pub struct PostgresStore {
    pool: PgPool,
    /// The live games' bus between the instances on this database, over the same pool.
    bus: std::sync::Arc<crate::store::postgres_bus::PostgresBus>,
    /// Where the database is, for messages (no password).
    target: String,
    shared_events: AtomicU64,
    /// Score submissions, written in groups (`store::group_commit`).
    scores: ScoreCommitter,
}

impl PostgresStore {
    /// Connects to the database `url` names and applies the schema migrations. Every failure is
    /// one line naming the database and the problem.
    pub async fn open(url: &str) -> std::result::Result<Self, OpenError> {
        let options = connect_options(url)?.application_name("snake-arena-server");
        let target = describe(&options);
        // One connection first, outside the pool: the pool retries a refused connection until
        // its timeout and then reports only that it timed out, while this says why.
        let first = tokio::time::timeout(START_UP_CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| OpenError::PostgresUnreachable {
                target: target.clone(),
                reason: format!("no answer within {} s", START_UP_CONNECT_TIMEOUT.as_secs()),
            })?
            .map_err(|error| connect_error(&target, &error))?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|error| connect_error(&target, &error))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|error| migrate_error(&target, error))?;
        let scores = ScoreCommitter::start(
            PostgresGroupWriter::new(pool.clone()),
            RETRY_AFTER_STORE_FAULT,
        );
        Ok(Self {
            bus: std::sync::Arc::new(crate::store::postgres_bus::PostgresBus::new(pool.clone())),
            pool,
            target,
            shared_events: AtomicU64::new(0),
            scores,
        })
    }

    /// Waits for the connections to close.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The database this store uses, as messages name it.
    pub fn target(&self) -> &str {
        &self.target
    }

    async fn player_where(&self, condition: &str, value: Value) -> Result<Option<StoredPlayer>> {
        let sql = format!(
            "SELECT id, username, email, password_hash, created_at_ns FROM players WHERE {condition}"
        );
        let query = sqlx::query(&sql);
        let query = match value {
            Value::Text(text) => query.bind(text),
            Value::Id(id) => query.bind(id),
        };
        let row = query
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(player_from_row).transpose()
    }

    async fn email_key_is_taken(&self, email_key: &str) -> Result<bool> {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM players WHERE email_key = $1)")
            .bind(email_key)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }

    /// Removes schedules that have fully recovered, now and then, so the table follows recent
    /// activity rather than every key ever tried.
    async fn sweep_recovered_schedules_now_and_then(&self) -> Result<()> {
        let events_before = self.shared_events.fetch_add(1, Ordering::Relaxed);
        if !events_before.is_multiple_of(SWEEP_EVERY_EVENTS) {
            return Ok(());
        }
        sqlx::query(&format!(
            "DELETE FROM rate_limit_schedules WHERE next_free_us < {DATABASE_NOW_US}"
        ))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }
}

/// A value a player lookup compares with.
enum Value {
    Text(String),
    Id(Uuid),
}

/// The database's clock in microseconds since the Unix epoch, as SQL.
const DATABASE_NOW_US: &str = "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

/// Inserts a player row. Callers have checked with [`nanoseconds`] that its time fits, since
/// this returns sqlx's own error, which `create_player` inspects for the index that refused it.
async fn insert_player<'connection, E>(executor: E, player: &StoredPlayer) -> sqlx::Result<()>
where
    E: sqlx::PgExecutor<'connection>,
{
    sqlx::query(
        "INSERT INTO players (id, username, username_key, email, email_key, password_hash, created_at_ns) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(player.profile.id)
    .bind(&player.profile.username)
    .bind(comparison_key(&player.profile.username))
    .bind(&player.profile.email)
    .bind(comparison_key(&player.profile.email))
    .bind(&player.password_hash)
    .bind(player.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX))
    .execute(executor)
    .await?;
    Ok(())
}

/// Inserts a score row. Callers have checked its time as for [`insert_player`]; points fit an
/// `integer`, as the contract caps them at 1,000,000.
async fn insert_score_row<'connection, E>(executor: E, entry: &ScoreEntry) -> sqlx::Result<()>
where
    E: sqlx::PgExecutor<'connection>,
{
    sqlx::query(
        "INSERT INTO scores (id, player_id, username, score, mode, recorded_at_ns, game_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(entry.id)
    .bind(entry.player_id)
    .bind(&*entry.username)
    .bind(i32::try_from(entry.score).unwrap_or(i32::MAX))
    .bind(entry.mode.as_str())
    .bind(entry.recorded_at.timestamp_nanos_opt().unwrap_or(i64::MAX))
    .bind(entry.game_id)
    .execute(executor)
    .await?;
    Ok(())
}

/// Writes a group of scores in one transaction, as arrays (see [`BULK_SCORES_PER_STATEMENT`]),
/// on a connection of the pool that it keeps between groups.
///
/// The pool pings a connection when it hands it out and again when it takes it back (sqlx tests
/// it for reuse), each a round trip and a wake-up of PostgreSQL's process: more than the group's
/// own statement costs. So the writer keeps its connection for as long as it works, and gives it
/// back (for the pool to test and, if broken, close) only after a failed group.
struct PostgresGroupWriter {
    pool: PgPool,
    connection: tokio::sync::Mutex<Option<sqlx::pool::PoolConnection<sqlx::Postgres>>>,
}

impl PostgresGroupWriter {
    fn new(pool: PgPool) -> Self {
        Self {
            pool,
            connection: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait]
impl GroupWriter for PostgresGroupWriter {
    async fn write_group(&self, scores: &[ScoreEntry]) -> Result<()> {
        let mut kept = self.connection.lock().await;
        let connection = match kept.as_mut() {
            Some(connection) => connection,
            None => kept.insert(self.pool.acquire().await.map_err(store_error)?),
        };
        let written = write_scores_on(connection, scores).await;
        if written.is_err() {
            *kept = None;
        }
        written
    }
}

/// Writes `scores` on `connection`, all or none.
async fn write_scores_on(connection: &mut sqlx::PgConnection, scores: &[ScoreEntry]) -> Result<()> {
    // One statement is a transaction of its own, all or none: a group that fits in one is one
    // round trip instead of three (BEGIN, INSERT, COMMIT).
    if scores.len() <= BULK_SCORES_PER_STATEMENT {
        return insert_score_chunk(&mut *connection, scores).await;
    }
    let mut transaction = sqlx::Connection::begin(&mut *connection)
        .await
        .map_err(store_error)?;
    for chunk in scores.chunks(BULK_SCORES_PER_STATEMENT) {
        insert_score_chunk(&mut *transaction, chunk).await?;
    }
    transaction.commit().await.map_err(store_error)
}

/// Writes `chunk` in one statement: the rows travel as arrays (one parameter per column), so a
/// chunk costs one round trip however many rows it holds.
async fn insert_score_chunk<'c, E>(executor: E, chunk: &[ScoreEntry]) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(
        "INSERT INTO scores (id, player_id, username, score, mode, recorded_at_ns, game_id) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int4[], $5::text[], \
         $6::int8[], $7::uuid[])",
    )
    .bind(chunk.iter().map(|entry| entry.id).collect::<Vec<_>>())
    .bind(
        chunk
            .iter()
            .map(|entry| entry.player_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        chunk
            .iter()
            .map(|entry| entry.username.to_string())
            .collect::<Vec<_>>(),
    )
    .bind(
        chunk
            .iter()
            .map(|entry| i32::try_from(entry.score).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(
        chunk
            .iter()
            .map(|entry| entry.mode.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        chunk
            .iter()
            .map(|entry| entry.recorded_at.timestamp_nanos_opt().unwrap_or(i64::MAX))
            .collect::<Vec<_>>(),
    )
    .bind(chunk.iter().map(|entry| entry.game_id).collect::<Vec<_>>())
    .execute(executor)
    .await
    .map_err(store_error)?;
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    async fn create_player(&self, player: StoredPlayer) -> Result<()> {
        nanoseconds(player.created_at)?;
        let Err(error) = insert_player(&self.pool, &player).await else {
            return Ok(());
        };
        // The unique indexes decide, whichever server the racing sign-ups reached; this only
        // finds out which one did. The email is reported first when both clash.
        match unique_index_violated(&error) {
            Some("players_email_key") => Err(Error::EmailTaken),
            Some("players_username_key") => {
                if self
                    .email_key_is_taken(&comparison_key(&player.profile.email))
                    .await?
                {
                    Err(Error::EmailTaken)
                } else {
                    Err(Error::UsernameTaken)
                }
            }
            _ => Err(store_error(error)),
        }
    }

    async fn player_by_email(&self, email: &str) -> Result<Option<StoredPlayer>> {
        self.player_where("email_key = $1", Value::Text(comparison_key(email)))
            .await
    }

    async fn player_by_username(&self, username: &str) -> Result<Option<StoredPlayer>> {
        self.player_where("username_key = $1", Value::Text(comparison_key(username)))
            .await
    }

    async fn player_by_id(&self, id: Uuid) -> Result<Option<StoredPlayer>> {
        self.player_where("id = $1", Value::Id(id)).await
    }

    async fn insert_session(&self, session: SessionRecord, max_per_player: usize) -> Result<()> {
        let kept = i64::try_from(max_per_player.max(1)).unwrap_or(i64::MAX);
        let expires_at = nanoseconds(session.expires_at)?;
        // One transaction: the new session and the removal of the oldest beyond the cap are
        // committed together or not at all.
        let mut transaction = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, player_id, expires_at_ns) VALUES ($1, $2, $3)",
        )
        .bind(session.token_hash.as_bytes().as_slice())
        .bind(session.player_id)
        .bind(expires_at)
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        sqlx::query(
            "DELETE FROM sessions WHERE player_id = $1 AND seq NOT IN \
             (SELECT seq FROM sessions WHERE player_id = $1 ORDER BY seq DESC LIMIT $2)",
        )
        .bind(session.player_id)
        .bind(kept)
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        let row =
            sqlx::query("SELECT player_id, expires_at_ns FROM sessions WHERE token_hash = $1")
                .bind(token_hash.as_bytes().as_slice())
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            token_hash: *token_hash,
            player_id: column(&row, "player_id")?,
            expires_at: time_column(&row, "expires_at_ns")?,
        }))
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash.as_bytes().as_slice())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn insert_score(&self, entry: ScoreEntry) -> Result<()> {
        check_score_provenance(&entry)?;
        nanoseconds(entry.recorded_at)?;
        self.scores.insert(entry).await
    }

    async fn insert_scores(&self, entries: Vec<ScoreEntry>) -> Result<()> {
        for entry in &entries {
            check_score_provenance(entry)?;
            nanoseconds(entry.recorded_at)?;
        }
        // A bulk fill (at start-up) on a connection of its own, returned when it is done.
        let mut connection = self.pool.acquire().await.map_err(store_error)?;
        write_scores_on(&mut connection, &entries).await
    }

    async fn top_scores(&self, filter: ScoreFilter, limit: usize) -> Result<Vec<ScoreEntry>> {
        const COLUMNS: &str = "id, player_id, username, score, mode, recorded_at_ns, game_id";
        const ORDER: &str = "ORDER BY score DESC, recorded_at_ns, id";
        // With the condition, PostgreSQL reads the partial index of verified scores.
        let verified = if filter.verified_only {
            "AND game_id IS NOT NULL"
        } else {
            ""
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match filter.mode {
            Some(mode) => {
                let sql = format!("SELECT {COLUMNS} FROM scores WHERE mode = $1 {verified} {ORDER} LIMIT $2");
                sqlx::query(&sql)
                    .bind(mode.as_str())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                // Each mode's top `limit` comes from its index; only they can make the overall
                // top `limit`, so the merge never reads the whole table.
                let sql = format!(
                    "SELECT {COLUMNS} FROM \
                     (SELECT {COLUMNS} FROM scores WHERE mode = $1 {verified} {ORDER} LIMIT $3) AS first_mode \
                     UNION ALL SELECT {COLUMNS} FROM \
                     (SELECT {COLUMNS} FROM scores WHERE mode = $2 {verified} {ORDER} LIMIT $3) AS second_mode \
                     {ORDER} LIMIT $3"
                );
                sqlx::query(&sql)
                    .bind(GameMode::ALL[0].as_str())
                    .bind(GameMode::ALL[1].as_str())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(store_error)?;
        rows.iter().map(score_from_row).collect()
    }

    async fn record_finished_game(
        &self,
        game: FinishedGame,
        score: Option<ScoreEntry>,
    ) -> Result<()> {
        if let Some(entry) = &score {
            check_score_provenance(entry)?;
            if entry.game_id != Some(game.id) {
                return Err(Error::Internal(format!(
                    "the score of game {} names game {:?}",
                    game.id, entry.game_id
                )));
            }
        }
        // One transaction: the game and its score are written together or not at all.
        let mut transaction = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO finished_games (id, player_id, username, mode, seed, turns, ticks, score, \
             started_at_ns, ended_at_ns, end_reason, tick_us) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(game.id)
        .bind(game.player_id)
        .bind(&*game.username)
        .bind(game.mode.as_str())
        .bind(game.seed as i64)
        .bind(turns_as_text(&game.turns))
        .bind(i64::try_from(game.ticks).unwrap_or(i64::MAX))
        .bind(i32::try_from(game.score).unwrap_or(i32::MAX))
        .bind(nanoseconds(game.started_at)?)
        .bind(nanoseconds(game.ended_at)?)
        .bind(end_reason_name(game.end))
        .bind(tick_microseconds(game.tick)?)
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        if let Some(entry) = &score {
            insert_score_row(&mut *transaction, entry)
                .await
                .map_err(store_error)?;
        }
        transaction.commit().await.map_err(store_error)
    }

    async fn finished_game(&self, id: Uuid) -> Result<Option<FinishedGame>> {
        let row = sqlx::query(
            "SELECT id, player_id, username, mode, seed, turns, ticks, score, started_at_ns, \
             ended_at_ns, end_reason, tick_us FROM finished_games WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(finished_game_from_row).transpose()
    }

    async fn verified_score_of_game(&self, game_id: Uuid) -> Result<Option<ScoreEntry>> {
        let row = sqlx::query(
            "SELECT id, player_id, username, score, mode, recorded_at_ns, game_id FROM scores \
             WHERE game_id = $1",
        )
        .bind(game_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(score_from_row).transpose()
    }

    async fn prune_finished_games(
        &self,
        ended_before: DateTime<Utc>,
        keep_best_per_mode: usize,
    ) -> Result<u64> {
        // Each mode's best verified scores are the first rows of the partial index
        // `scores_verified_leaderboard`, in the order `top_scores` ranks them.
        let keep = i64::try_from(keep_best_per_mode).unwrap_or(i64::MAX);
        let result = sqlx::query(
            "DELETE FROM finished_games WHERE ended_at_ns < $1 AND id NOT IN ( \
               SELECT game_id FROM (SELECT game_id FROM scores \
                 WHERE game_id IS NOT NULL AND mode = 'walls' \
                 ORDER BY score DESC, recorded_at_ns, id LIMIT $2) AS best_walls \
               UNION ALL \
               SELECT game_id FROM (SELECT game_id FROM scores \
                 WHERE game_id IS NOT NULL AND mode = 'pass-through' \
                 ORDER BY score DESC, recorded_at_ns, id LIMIT $2) AS best_pass_through)",
        )
        .bind(nanoseconds(ended_before)?)
        .bind(keep)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected())
    }

    async fn holds_no_data(&self) -> Result<bool> {
        sqlx::query_scalar::<_, bool>(
            "SELECT NOT EXISTS (SELECT 1 FROM players) AND NOT EXISTS (SELECT 1 FROM scores)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)
    }

    async fn seed_if_empty(
        &self,
        players: Vec<StoredPlayer>,
        scores: Vec<ScoreEntry>,
    ) -> Result<bool> {
        // The advisory lock is held until the transaction ends, so of servers starting together
        // one seeds and the others, once it has committed, find the database no longer empty.
        let mut transaction = self.pool.begin().await.map_err(store_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SEED_LOCK_KEY)
            .execute(&mut *transaction)
            .await
            .map_err(store_error)?;
        let empty = sqlx::query_scalar::<_, bool>(
            "SELECT NOT EXISTS (SELECT 1 FROM players) AND NOT EXISTS (SELECT 1 FROM scores)",
        )
        .fetch_one(&mut *transaction)
        .await
        .map_err(store_error)?;
        if !empty {
            return Ok(false);
        }
        for player in &players {
            nanoseconds(player.created_at)?;
            insert_player(&mut *transaction, player)
                .await
                .map_err(store_error)?;
        }
        for entry in &scores {
            nanoseconds(entry.recorded_at)?;
            insert_score_row(&mut *transaction, entry)
                .await
                .map_err(store_error)?;
        }
        transaction.commit().await.map_err(store_error)?;
        Ok(true)
    }

    async fn ping(&self) -> Result<()> {
        let answer = tokio::time::timeout(
            PING_TIMEOUT,
            sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&self.pool),
        )
        .await;
        match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(store_error(error)),
            Err(_) => Err(Error::StoreUnavailable {
                retry_after: RETRY_AFTER_STORE_FAULT,
                cause: format!("postgres: no answer within {} ms", PING_TIMEOUT.as_millis()),
            }),
        }
    }

    fn shares_rate_limits(&self) -> bool {
        true
    }

    async fn admit_shared_event(
        &self,
        limit_name: &'static str,
        key: &str,
        limit: &RateLimiter,
    ) -> Result<std::result::Result<(), Refused>> {
        self.sweep_recovered_schedules_now_and_then().await?;
        let mut transaction = self.pool.begin().await.map_err(store_error)?;
        // The row exists before it is locked, so that two first attempts on one key still take
        // turns; its lock makes each key's schedule change one at a time across servers.
        sqlx::query(
            "INSERT INTO rate_limit_schedules (limit_name, key, next_free_us) VALUES ($1, $2, 0) \
             ON CONFLICT DO NOTHING",
        )
        .bind(limit_name)
        .bind(key)
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        let row = sqlx::query(&format!(
            "SELECT next_free_us, {DATABASE_NOW_US} AS now_us FROM rate_limit_schedules \
             WHERE limit_name = $1 AND key = $2 FOR UPDATE"
        ))
        .bind(limit_name)
        .bind(key)
        .fetch_one(&mut *transaction)
        .await
        .map_err(store_error)?;
        let scheduled = microseconds_column(&row, "next_free_us")?;
        let now = microseconds_column(&row, "now_us")?;
        let next = match limit.next_schedule(scheduled, now) {
            Ok(next) => next,
            Err(refused) => return Ok(Err(refused)),
        };
        sqlx::query(
            "UPDATE rate_limit_schedules SET next_free_us = $3 WHERE limit_name = $1 AND key = $2",
        )
        .bind(limit_name)
        .bind(key)
        .bind(i64::try_from(next.as_micros()).unwrap_or(i64::MAX))
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        Ok(Ok(()))
    }

    async fn refund_shared_event(
        &self,
        limit_name: &'static str,
        key: &str,
        limit: &RateLimiter,
    ) -> Result<()> {
        let interval = i64::try_from(limit.emission_interval().as_micros()).unwrap_or(i64::MAX);
        sqlx::query(
            "UPDATE rate_limit_schedules SET next_free_us = next_free_us - $3 \
             WHERE limit_name = $1 AND key = $2 AND next_free_us >= $3",
        )
        .bind(limit_name)
        .bind(key)
        .bind(interval)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    fn instance_bus(&self) -> Option<std::sync::Arc<dyn crate::store::InstanceBus>> {
        Some(self.bus.clone())
    }

    fn backend_name(&self) -> &'static str {
        "postgres"
    }
}

/// The connection settings `url` names, with the ones every connection of this server sets:
/// commits are durable, and no statement runs longer than [`STATEMENT_TIMEOUT`].
pub(crate) fn connect_options(url: &str) -> std::result::Result<PgConnectOptions, OpenError> {
    Ok(PgConnectOptions::from_str(url)
        .map_err(|error| OpenError::MalformedUrl(format!("`postgres://…`: {error}")))?
        .options([
            ("synchronous_commit", "on"),
            ("statement_timeout", STATEMENT_TIMEOUT),
        ]))
}

/// `postgres://USER@HOST:PORT/DATABASE` without any password, for messages.
pub(crate) fn describe(options: &PgConnectOptions) -> String {
    let database = options.get_database().unwrap_or(options.get_username());
    match options.get_socket() {
        Some(socket) => format!(
            "postgres://{}@{}/{database}",
            options.get_username(),
            socket.display()
        ),
        None => format!(
            "postgres://{}@{}:{}/{database}",
            options.get_username(),
            options.get_host(),
            options.get_port()
        ),
    }
}

/// The SQLSTATE of a database error.
fn sqlstate(error: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(database_error) = error else {
        return None;
    };
    database_error.code().map(|code| code.into_owned())
}

/// Whether a SQLSTATE means "not now" rather than "wrong": the connection failed (class 08),
/// the server lacks resources (53) or is shutting down or cancelled the statement (57), the
/// transaction lost a race it may win when retried (40), a lock was not granted (55P03), or the
/// server is a read-only standby (25006).
/// <https://www.postgresql.org/docs/current/errcodes-appendix.html>
fn sqlstate_is_transient(code: &str) -> bool {
    ["08", "53", "57", "40"]
        .iter()
        .any(|class| code.starts_with(class))
        || matches!(code, "55P03" | "25006")
}

/// A fault at request time as the domain sees it: "try again later" for the transient ones,
/// `Internal` (logged, never shown) for the rest.
pub(super) fn store_error(error: sqlx::Error) -> Error {
    let transient = match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => sqlstate(&error).is_some_and(|code| sqlstate_is_transient(&code)),
    };
    // disk_full: <https://www.postgresql.org/docs/current/errcodes-appendix.html>
    if sqlstate(&error).as_deref() == Some("53100") {
        Error::StoreFull {
            retry_after: RETRY_AFTER_STORE_FAULT,
            cause: format!("postgres: {error}"),
        }
    } else if transient {
        Error::StoreUnavailable {
            retry_after: RETRY_AFTER_STORE_FAULT,
            cause: format!("postgres: {error}"),
        }
    } else {
        Error::Internal(format!("postgres: {error}"))
    }
}

/// The name of the unique index a violation names, if the error is one.
fn unique_index_violated(error: &sqlx::Error) -> Option<&str> {
    let sqlx::Error::Database(database_error) = error else {
        return None;
    };
    if !database_error.is_unique_violation() {
        return None;
    }
    database_error.constraint()
}

/// Why the database could not be reached at start-up, for the operator.
pub(crate) fn connect_error(target: &str, error: &sqlx::Error) -> OpenError {
    let target = target.to_owned();
    let reason = postgres_reason(error);
    match sqlstate(error).as_deref() {
        // invalid_authorization_specification (an unknown role, a refused host), and
        // invalid_password.
        Some("28000" | "28P01") => OpenError::PostgresRefused { target, reason },
        Some("3D000") => OpenError::PostgresNoSuchDatabase { target },
        Some(_) => OpenError::PostgresOther { target, reason },
        None => match error {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => {
                OpenError::PostgresUnreachable { target, reason }
            }
            _ => OpenError::PostgresOther { target, reason },
        },
    }
}

/// What went wrong applying the schema; a migration the binary does not know means a newer
/// version of the server wrote the database.
fn migrate_error(target: &str, error: sqlx::migrate::MigrateError) -> OpenError {
    use sqlx::migrate::MigrateError;
    let target = target.to_owned();
    match error {
        MigrateError::VersionMissing(version) => OpenError::PostgresNewerSchema { target, version },
        MigrateError::VersionMismatch(version) => {
            OpenError::PostgresChangedMigration { target, version }
        }
        MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _) => {
            connect_error(&target, &error)
        }
        other => OpenError::PostgresOther {
            target,
            reason: other.to_string(),
        },
    }
}

/// PostgreSQL's own words for a failure, on one line.
fn postgres_reason(error: &sqlx::Error) -> String {
    let reason = match error {
        sqlx::Error::Database(database_error) => database_error.message().to_owned(),
        sqlx::Error::PoolTimedOut => {
            format!("no connection within {} s", ACQUIRE_TIMEOUT.as_secs())
        }
        other => other.to_string(),
    };
    reason.replace('\n', " ")
}

/// A time as stored: nanoseconds since the Unix epoch, which fit an `i64` until the year 2262.
fn nanoseconds(time: DateTime<Utc>) -> Result<i64> {
    time.timestamp_nanos_opt()
        .ok_or_else(|| Error::Internal(format!("{time} is beyond what the store can hold")))
}

fn column<'row, T>(row: &'row PgRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'row, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get::<T, _>(name)
        .map_err(|error| Error::Internal(format!("postgres: column {name}: {error}")))
}

fn time_column(row: &PgRow, name: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::from_timestamp_nanos(column::<i64>(row, name)?))
}

/// A microsecond count since the epoch as a `Duration`; times before the epoch count as it.
fn microseconds_column(row: &PgRow, name: &str) -> Result<Duration> {
    let micros = column::<i64>(row, name)?;
    Ok(Duration::from_micros(u64::try_from(micros).unwrap_or(0)))
}

fn player_from_row(row: &PgRow) -> Result<StoredPlayer> {
    Ok(StoredPlayer {
        profile: PlayerProfile {
            id: column(row, "id")?,
            username: column(row, "username")?,
            email: column(row, "email")?,
        },
        password_hash: column(row, "password_hash")?,
        created_at: time_column(row, "created_at_ns")?,
    })
}

fn score_from_row(row: &PgRow) -> Result<ScoreEntry> {
    let mode_name: String = column(row, "mode")?;
    let mode = GameMode::ALL
        .into_iter()
        .find(|mode| mode.as_str() == mode_name)
        .ok_or_else(|| Error::Internal(format!("postgres: unknown mode {mode_name:?}")))?;
    let score: i32 = column(row, "score")?;
    let game_id: Option<Uuid> = column(row, "game_id")?;
    Ok(ScoreEntry {
        id: column(row, "id")?,
        player_id: column(row, "player_id")?,
        username: column::<String>(row, "username")?.into(),
        score: u32::try_from(score)
            .map_err(|_| Error::Internal(format!("postgres: score {score} out of range")))?,
        mode,
        recorded_at: time_column(row, "recorded_at_ns")?,
        verified: game_id.is_some(),
        game_id,
    })
}

fn finished_game_from_row(row: &PgRow) -> Result<FinishedGame> {
    let mode_name: String = column(row, "mode")?;
    let mode = GameMode::ALL
        .into_iter()
        .find(|mode| mode.as_str() == mode_name)
        .ok_or_else(|| Error::Internal(format!("postgres: unknown mode {mode_name:?}")))?;
    let end_name: String = column(row, "end_reason")?;
    let end = END_REASONS
        .iter()
        .find(|(_, name)| *name == end_name)
        .map(|(reason, _)| *reason)
        .ok_or_else(|| Error::Internal(format!("postgres: unknown end reason {end_name:?}")))?;
    let ticks: i64 = column(row, "ticks")?;
    let score: i32 = column(row, "score")?;
    let seed: i64 = column(row, "seed")?;
    Ok(FinishedGame {
        id: column(row, "id")?,
        player_id: column(row, "player_id")?,
        username: column::<String>(row, "username")?.into(),
        mode,
        seed: seed as u64,
        turns: turns_from_text(&column::<String>(row, "turns")?)?,
        ticks: u64::try_from(ticks)
            .map_err(|_| Error::Internal(format!("postgres: ticks {ticks} out of range")))?,
        score: u32::try_from(score)
            .map_err(|_| Error::Internal(format!("postgres: score {score} out of range")))?,
        started_at: time_column(row, "started_at_ns")?,
        ended_at: time_column(row, "ended_at_ns")?,
        end,
        tick: tick_from_microseconds(column(row, "tick_us")?)?,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use chrono::Duration as TimeSpan;
    use sqlx::Connection;

    use super::*;
    use crate::accounts::rate_limit::HOUR;
    use crate::accounts::tokens::hash_token;
    use crate::store::fixtures::{base_time, player, score_after, session_of};

    /// A database of its own on the server `SNAKE_ARENA_TEST_POSTGRES_URL` names, dropped (with
    /// its connections) when this is dropped.
    struct ScratchDatabase {
        server_url: String,
        name: String,
        url: String,
    }

    impl ScratchDatabase {
        /// A fresh database, or `None` (saying so) when no test server is named.
        async fn create(test: &str) -> Option<Self> {
            let Ok(server_url) = std::env::var("SNAKE_ARENA_TEST_POSTGRES_URL") else {
                assert!(
                    std::env::var("SNAKE_ARENA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "{test}: SNAKE_ARENA_REQUIRE_POSTGRES=1 but SNAKE_ARENA_TEST_POSTGRES_URL is not set"
                );
                println!("{test}: skipped, SNAKE_ARENA_TEST_POSTGRES_URL is not set");
                return None;
            };
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let name = format!(
                "snake_unit_{}_{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let mut admin = sqlx::PgConnection::connect(&server_url).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            let _ = admin.close().await;
            let base = server_url.split('?').next().unwrap_or(&server_url);
            let authority = base
                .rsplit_once('/')
                .map_or(base, |(authority, _)| authority);
            Some(Self {
                url: format!("{authority}/{name}"),
                server_url,
                name,
            })
        }
    }

    impl Drop for ScratchDatabase {
        fn drop(&mut self) {
            let server_url = self.server_url.clone();
            let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(&server_url).await {
                        let _ = sqlx::query(&statement).execute(&mut admin).await;
                    }
                });
            })
            .join();
        }
    }

    async fn fresh_store(test: &str) -> Option<(ScratchDatabase, PostgresStore)> {
        let database = ScratchDatabase::create(test).await?;
        let store = PostgresStore::open(&database.url)
            .await
            .expect("a fresh database opens");
        Some((database, store))
    }

    fn score(points: u32, mode: GameMode, nanoseconds_after_base: i64) -> ScoreEntry {
        score_after(points, mode, TimeSpan::nanoseconds(nanoseconds_after_base))
    }

    #[tokio::test]
    async fn top_scores_rank_higher_first_then_earlier_to_the_nanosecond_then_smaller_id() {
        let Some((_database, store)) = fresh_store("ranking").await else {
            return;
        };
        let mut tie_a = score(500, GameMode::Walls, 1);
        let mut tie_b = score(500, GameMode::Walls, 1);
        // Ids whose text forms and bytes order alike; the high bit checks the bytes are unsigned.
        tie_a.id = Uuid::from_u128(0x7000 << 112);
        tie_b.id = Uuid::from_u128(0x8000 << 112);
        let entries = [
            score(100, GameMode::Walls, 0),
            tie_b.clone(),
            score(500, GameMode::Walls, 2),
            tie_a.clone(),
            score(900, GameMode::PassThrough, 3),
            score(700, GameMode::PassThrough, 2),
        ];
        for entry in &entries {
            store.insert_score(entry.clone()).await.expect("insert");
        }

        let walls = store
            .top_scores(ScoreFilter::mode(Some(GameMode::Walls)), 10)
            .await
            .unwrap();
        assert_eq!(walls.len(), 4);
        assert_eq!(walls[0], tie_a);
        assert_eq!(walls[1], tie_b);
        assert_eq!(walls[2].recorded_at, base_time() + TimeSpan::nanoseconds(2));
        assert_eq!(walls[3].score, 100);

        let merged = store.top_scores(ScoreFilter::mode(None), 3).await.unwrap();
        let points: Vec<u32> = merged.iter().map(|entry| entry.score).collect();
        assert_eq!(points, [900, 700, 500]);
        assert_eq!(merged[2], tie_a);
        assert!(
            store
                .top_scores(ScoreFilter::mode(None), 0)
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// The listener's next change, or a failure after a bound far beyond a loopback round trip.
    async fn next_change_within(
        listener: &mut crate::store::board_changes::BoardListener,
    ) -> crate::store::board_changes::BoardChange {
        tokio::time::timeout(std::time::Duration::from_secs(10), listener.next_change())
            .await
            .expect("the listener reports a change within 10 s")
    }

    #[tokio::test]
    async fn the_board_listener_hears_committed_score_changes_and_says_when_it_listens_again() {
        use crate::store::board_changes::{BoardChange, BoardListener, LISTENER_APPLICATION_NAME};
        let Some((database, store)) = fresh_store("the board listener").await else {
            return;
        };
        let mut listener = BoardListener::subscribe(&database.url)
            .await
            .expect("the listener subscribes");

        store
            .insert_score(score(10, GameMode::Walls, 0))
            .await
            .unwrap();
        assert_eq!(
            next_change_within(&mut listener).await,
            BoardChange::ScoresChanged
        );

        // A score written in a transaction with others is heard once it commits.
        let mut transaction = store.pool.begin().await.unwrap();
        for points in [30, 40] {
            insert_score_row(&mut *transaction, &score(points, GameMode::Walls, 2))
                .await
                .unwrap();
        }
        transaction.commit().await.unwrap();
        assert_eq!(
            next_change_within(&mut listener).await,
            BoardChange::ScoresChanged
        );

        // Cut the listening connection (waiting until its backend is gone): the listener says
        // so, and says when it listens again, after which changes are heard again.
        let terminated: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = $1",
        )
        .bind(LISTENER_APPLICATION_NAME)
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(terminated, [true], "one listening connection, now ended");
        let mut changes = Vec::new();
        loop {
            let change = next_change_within(&mut listener).await;
            let listening_again = change == BoardChange::Resubscribed;
            changes.push(change);
            if listening_again {
                break;
            }
            assert!(changes.len() < 100, "never listening again: {changes:?}");
        }
        store
            .insert_score(score(50, GameMode::Walls, 3))
            .await
            .unwrap();
        assert_eq!(
            next_change_within(&mut listener).await,
            BoardChange::ScoresChanged,
            "after {changes:?}"
        );
    }

    #[tokio::test]
    async fn emails_and_usernames_are_unique_ignoring_case_and_the_email_is_reported_first() {
        let Some((_database, store)) = fresh_store("uniqueness").await else {
            return;
        };
        let alice = player("Alice", "alice@example.com");
        store.create_player(alice.clone()).await.expect("first");
        assert_eq!(
            store
                .create_player(player("Bob", " ALICE@Example.com "))
                .await,
            Err(Error::EmailTaken)
        );
        assert_eq!(
            store
                .create_player(player("aLICE", "other@example.com"))
                .await,
            Err(Error::UsernameTaken)
        );
        assert_eq!(
            store
                .create_player(player("ALICE", "Alice@example.com"))
                .await,
            Err(Error::EmailTaken)
        );
        let found = store.player_by_email("ALICE@EXAMPLE.COM").await.unwrap();
        assert_eq!(found, Some(alice.clone()));
        let found = store.player_by_username(" alice ").await.unwrap();
        assert_eq!(found, Some(alice.clone()));
        let found = store.player_by_id(alice.profile.id).await.unwrap();
        assert_eq!(found, Some(alice));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_concurrent_creates_with_one_username_exactly_one_succeeds() {
        let Some((_database, store)) = fresh_store("concurrent creates").await else {
            return;
        };
        let store = Arc::new(store);
        let attempts: Vec<_> = (0..16)
            .map(|attempt| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    store
                        .create_player(player(
                            if attempt % 2 == 0 { "Racer" } else { "rACER" },
                            &format!("racer{attempt}@example.com"),
                        ))
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for attempt in attempts {
            outcomes.push(attempt.await.expect("the task finishes"));
        }
        assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 1);
        assert!(
            outcomes
                .iter()
                .all(|outcome| matches!(outcome, Ok(()) | Err(Error::UsernameTaken))),
            "{outcomes:?}"
        );
    }

    #[tokio::test]
    async fn a_new_session_beyond_the_cap_removes_the_players_oldest_and_no_one_elses() {
        let Some((_database, store)) = fresh_store("session cap").await else {
            return;
        };
        let first = player("first", "first@example.com");
        let second = player("second", "second@example.com");
        store.create_player(first.clone()).await.unwrap();
        store.create_player(second.clone()).await.unwrap();
        let other = session_of(second.profile.id, "other");
        store.insert_session(other.clone(), 2).await.unwrap();
        for token in ["one", "two", "three"] {
            store
                .insert_session(session_of(first.profile.id, token), 2)
                .await
                .unwrap();
        }
        assert_eq!(store.session(&hash_token("one")).await.unwrap(), None);
        for token in ["two", "three"] {
            assert_eq!(
                store.session(&hash_token(token)).await.unwrap(),
                Some(session_of(first.profile.id, token))
            );
        }
        assert_eq!(store.session(&other.token_hash).await.unwrap(), Some(other));
        assert!(store.delete_session(&hash_token("two")).await.unwrap());
        assert!(!store.delete_session(&hash_token("two")).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_stores_seeding_one_database_at_once_exactly_one_seeds() {
        let Some((database, first)) = fresh_store("concurrent seeding").await else {
            return;
        };
        let mut stores = vec![Arc::new(first)];
        for _ in 0..3 {
            stores.push(Arc::new(PostgresStore::open(&database.url).await.unwrap()));
        }
        let seeds: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(index, store)| {
                let store = Arc::clone(store);
                tokio::spawn(async move {
                    let players = vec![player("seeded", "seeded@example.com")];
                    let scores = vec![score(10 + index as u32, GameMode::Walls, 0)];
                    store.seed_if_empty(players, scores).await
                })
            })
            .collect();
        let mut seeded = 0;
        for seed in seeds {
            if seed.await.unwrap().expect("no seed fails") {
                seeded += 1;
            }
        }
        assert_eq!(seeded, 1);
        assert_eq!(
            stores[0]
                .top_scores(ScoreFilter::mode(None), 10)
                .await
                .unwrap()
                .len(),
            1
        );
    }

    #[tokio::test]
    async fn a_failed_login_schedule_is_shared_by_every_store_on_the_database_and_refunds_count() {
        let Some((database, first)) = fresh_store("shared limit").await else {
            return;
        };
        let second = PostgresStore::open(&database.url).await.unwrap();
        let limit = RateLimiter::new(2, HOUR);
        let name = "failed_logins_per_account";
        first
            .admit_shared_event(name, "k", &limit)
            .await
            .unwrap()
            .unwrap();
        second
            .admit_shared_event(name, "k", &limit)
            .await
            .unwrap()
            .unwrap();
        let refused = first.admit_shared_event(name, "k", &limit).await.unwrap();
        let retry_after = refused.expect_err("the third in an hour").retry_after;
        assert!(retry_after > Duration::from_secs(1790), "{retry_after:?}");
        second.refund_shared_event(name, "k", &limit).await.unwrap();
        first
            .admit_shared_event(name, "k", &limit)
            .await
            .unwrap()
            .unwrap();
        assert!(
            second
                .admit_shared_event(name, "k", &limit)
                .await
                .unwrap()
                .is_err()
        );
        second
            .admit_shared_event(name, "other", &limit)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn a_batch_of_scores_is_stored_whole_or_not_at_all() {
        let Some((_database, store)) = fresh_store("bulk insert").await else {
            return;
        };
        crate::store::bulk_insert_tests::check_bulk_insert(&store).await;
    }

    #[tokio::test]
    async fn a_database_with_a_migration_this_version_does_not_know_is_refused() {
        let Some((database, store)) = fresh_store("newer schema").await else {
            return;
        };
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', TRUE, '\\x00'::bytea, 0)",
        )
        .execute(&store.pool)
        .await
        .expect("a future migration is recorded");
        store.close().await;

        let refused = PostgresStore::open(&database.url).await.err();
        let Some(OpenError::PostgresNewerSchema { version, .. }) = refused else {
            panic!("expected PostgresNewerSchema, got {refused:?}");
        };
        assert_eq!(version, 99990101000000);
        assert!(
            refused
                .unwrap()
                .to_string()
                .contains("written by a newer version of this server")
        );
    }

    #[tokio::test]
    async fn a_store_whose_connections_are_gone_answers_unavailable_not_internal() {
        let Some((_database, store)) = fresh_store("closed pool").await else {
            return;
        };
        store.close().await;
        let outcome = store.insert_score(score(1, GameMode::Walls, 0)).await;
        assert!(
            matches!(outcome, Err(Error::StoreUnavailable { .. })),
            "{outcome:?}"
        );
        assert!(matches!(
            store.ping().await,
            Err(Error::StoreUnavailable { .. })
        ));
    }

    #[tokio::test]
    async fn every_connection_commits_synchronously_and_cuts_long_statements_off() {
        let Some((_database, store)) = fresh_store("connection settings").await else {
            return;
        };
        let settings: (String, String) = sqlx::query_as(
            "SELECT current_setting('synchronous_commit'), current_setting('statement_timeout')",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(settings, ("on".to_owned(), STATEMENT_TIMEOUT.to_owned()));
        let cut_off = sqlx::query("SELECT pg_sleep(10)")
            .execute(&store.pool)
            .await
            .expect_err("the statement is cut off");
        assert!(
            matches!(store_error(cut_off), Error::StoreUnavailable { .. }),
            "a cut-off statement is a 503"
        );
    }

    #[test]
    fn connection_and_shutdown_errors_are_transient_and_constraint_errors_are_not() {
        for transient in [
            "08006", "57P01", "57014", "53300", "40001", "55P03", "25006",
        ] {
            assert!(sqlstate_is_transient(transient), "{transient}");
        }
        for not_transient in ["23505", "42P01", "22001", "28P01"] {
            assert!(!sqlstate_is_transient(not_transient), "{not_transient}");
        }
    }

    #[test]
    fn messages_name_the_database_without_its_password() {
        let options =
            PgConnectOptions::from_str("postgres://snake:secret@db.example:6543/arena").unwrap();
        assert_eq!(describe(&options), "postgres://snake@db.example:6543/arena");
    }
}
