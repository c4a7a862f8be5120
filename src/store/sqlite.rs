//! The SQLite `Store`: players, sessions and scores in one database file, written so that an
//! answered write is on disk (WAL with `synchronous=FULL`), through one writer connection and a
//! small pool of readers. The games the server ran are kept once they end, with their verified
//! scores, in one transaction; live games are not stored at all (`games::live` holds them).

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::accounts::tokens::TokenHash;
use crate::error::{Error, Result};
use crate::games::engine::{Direction, EndCause, LoggedTurn};
use crate::model::{
    FinishedGame, GameEndReason, GameMode, PlayerProfile, ScoreEntry, ScoreFilter, SessionRecord,
    StoredPlayer,
};
use crate::store::group_commit::{GroupWriter, ScoreCommitter};
use crate::store::{OpenError, Store, check_score_provenance, comparison_key};

/// The schema's versions, embedded in the binary and applied at start-up.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// How long a statement waits for a lock another connection (or process) holds before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a request waits for a free connection before it is answered `503`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long `ping` (the health check) waits for the database to answer.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections that read at once. WAL lets readers run beside the one writer; two cores need few.
const READER_CONNECTIONS: u32 = 4;

/// What clients are told to wait after the database did not answer.
const RETRY_AFTER_STORE_FAULT: Duration = Duration::from_secs(2);

/// A store in a SQLite database file.
pub struct SqliteStore {
    /// The only connection that writes: SQLite admits one writer at a time anyway, and one
    /// connection queues writers in the pool instead of in lock retries.
    writer: SqlitePool,
    /// Read-only connections for lookups and the leaderboard.
    readers: SqlitePool,
    /// Score submissions, written in groups (`store::group_commit`).
    scores: ScoreCommitter,
    /// The server lock (see [`take_server_lock`]), held until [`SqliteStore::close`] or drop.
    server_lock: std::sync::Mutex<Option<std::fs::File>>,
}

/// Takes the server lock of the database at `path`: an exclusive `flock` on the file beside it
/// named `PATH-server-lock`, which the kernel releases when the process ends however it ends
/// (`kill -9` included). A second server on the same file is refused at start-up, since each
/// would cache sessions the other can revoke. SQLite's own locks are POSIX record locks on the
/// database file itself, which this neither takes nor disturbs, so the sqlite3 shell (a backup
/// while the server runs) still works.
fn take_server_lock(path: &Path) -> std::result::Result<std::fs::File, OpenError> {
    let mut lock_name = path.as_os_str().to_owned();
    lock_name.push("-server-lock");
    let lock = PathBuf::from(lock_name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|error| OpenError::CannotOpen {
            path: path.to_path_buf(),
            reason: format!("cannot open its lock file {}: {error}", lock.display()),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::InUse {
            path: path.to_path_buf(),
            lock,
        }),
        Err(std::fs::TryLockError::Error(error)) => Err(OpenError::CannotOpen {
            path: path.to_path_buf(),
            reason: format!("cannot lock {}: {error}", lock.display()),
        }),
    }
}

/// Groups of scores written back to back on the writer connection at most, before the score
/// writer gives the connection back so that other writes (a sign-up, a login) get their turn.
const GROUPS_PER_TURN: u32 = 8;

/// Writes groups of scores through the writer connection, each in one transaction.
///
/// The pool pings its connection when it hands it out and again when it takes it back (sqlx
/// tests it for reuse), each a round trip to the connection's thread; with one writer, every
/// group would wait for both. So while groups come back to back the writer keeps the connection,
/// for at most [`GROUPS_PER_TURN`] of them, and gives it back as soon as no score is waiting.
struct SqliteGroupWriter {
    writer: SqlitePool,
    turn: tokio::sync::Mutex<Option<(PoolConnection<Sqlite>, u32)>>,
}

impl SqliteGroupWriter {
    fn new(writer: SqlitePool) -> Self {
        Self {
            writer,
            turn: tokio::sync::Mutex::new(None),
        }
    }
}

#[async_trait]
impl GroupWriter for SqliteGroupWriter {
    async fn write_group(&self, scores: &[ScoreEntry]) -> Result<()> {
        let mut turn = self.turn.lock().await;
        let (connection, groups) = match turn.as_mut() {
            Some(kept) => kept,
            None => turn.insert((self.writer.acquire().await.map_err(store_error)?, 0)),
        };
        *groups += 1;
        let written = write_scores_on(connection, scores).await;
        if written.is_err() || *groups >= GROUPS_PER_TURN {
            *turn = None;
        }
        written
    }

    async fn idle(&self) {
        *self.turn.lock().await = None;
    }
}

/// Writes `scores` on `connection`, all or none.
async fn write_scores_on(connection: &mut SqliteConnection, scores: &[ScoreEntry]) -> Result<()> {
    // One statement is a transaction of its own, all or none: a group that fits in one is one
    // round trip to the connection's thread instead of three.
    if scores.len() <= SCORES_PER_INSERT {
        return insert_scores_with(&mut *connection, scores).await;
    }
    let mut transaction = sqlx::Connection::begin(&mut *connection)
        .await
        .map_err(store_error)?;
    for rows in scores.chunks(SCORES_PER_INSERT) {
        insert_scores_with(&mut *transaction, rows).await?;
    }
    transaction.commit().await.map_err(store_error)
}

impl SqliteStore {
    /// Opens (creating it if missing) and migrates the database at `path`.
    pub async fn open(path: &Path) -> std::result::Result<Self, OpenError> {
        Self::open_with_busy_timeout(path, BUSY_TIMEOUT).await
    }

    /// Like [`SqliteStore::open`], with another lock wait (short in tests of a locked file).
    pub async fn open_with_busy_timeout(
        path: &Path,
        busy_timeout: Duration,
    ) -> std::result::Result<Self, OpenError> {
        let server_lock = take_server_lock(path)?;
        let writer_options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            // Up to 32 MiB of pages for the writer (SQLite's default is 2 MiB): the score and
            // leaderboard indexes of a large database stay in memory while scores are added, instead
            // of being read back from the file for each insert. Small databases never fill it.
            .pragma("cache_size", "-32768")
            .busy_timeout(busy_timeout);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A connection to a file cannot drop the way a socket can, so no ping is needed
            // before each use; each would be one more round trip to the connection's thread,
            // and on the one writer every group of scores waits for it.
            .test_before_acquire(false)
            .connect_with(writer_options)
            .await
            .map_err(|error| open_error(path, &error))?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|error| migrate_error(path, error))?;
        // Readers open the file the writer made and migrated; the journal mode is the file's.
        let reader_options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .foreign_keys(true)
            .busy_timeout(busy_timeout);
        let readers = SqlitePoolOptions::new()
            .max_connections(READER_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(reader_options)
            .await
            .map_err(|error| open_error(path, &error))?;
        let scores = ScoreCommitter::start(
            SqliteGroupWriter::new(writer.clone()),
            RETRY_AFTER_STORE_FAULT,
        );
        Ok(Self {
            writer,
            readers,
            scores,
            server_lock: std::sync::Mutex::new(Some(server_lock)),
        })
    }

    /// Waits for the connections to close, so the file is released (used before a restart),
    /// and then releases the server lock.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
        self.server_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    async fn player_where(&self, column: &str, value: String) -> Result<Option<StoredPlayer>> {
        let sql = format!(
            "SELECT id, username, email, password_hash, created_at_ns FROM players WHERE {column} = ?1"
        );
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.readers)
            .await
            .map_err(store_error)?;
        row.as_ref().map(player_from_row).transpose()
    }

    async fn email_key_is_taken(&self, email_key: &str) -> Result<bool> {
        sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM players WHERE email_key = ?1)")
            .bind(email_key)
            .fetch_one(&self.writer)
            .await
            .map_err(store_error)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_player(&self, player: StoredPlayer) -> Result<()> {
        let email_key = comparison_key(&player.profile.email);
        let username_key = comparison_key(&player.profile.username);
        let inserted = sqlx::query(
            "INSERT INTO players (id, username, username_key, email, email_key, password_hash, created_at_ns) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(player.profile.id.to_string())
        .bind(&player.profile.username)
        .bind(&username_key)
        .bind(&player.profile.email)
        .bind(&email_key)
        .bind(&player.password_hash)
        .bind(nanoseconds(player.created_at)?)
        .execute(&self.writer)
        .await;
        let Err(error) = inserted else {
            return Ok(());
        };
        // The unique indexes decide; this only finds out which one did. The trait reports the
        // email first when both clash, whichever index SQLite happened to check first.
        match unique_index_violated(&error) {
            Some(index) if index.ends_with("email_key") => Err(Error::EmailTaken),
            Some(index) if index.ends_with("username_key") => {
                if self.email_key_is_taken(&email_key).await? {
                    Err(Error::EmailTaken)
                } else {
                    Err(Error::UsernameTaken)
                }
            }
            _ => Err(store_error(error)),
        }
    }

    async fn player_by_email(&self, email: &str) -> Result<Option<StoredPlayer>> {
        self.player_where("email_key", comparison_key(email)).await
    }

    async fn player_by_username(&self, username: &str) -> Result<Option<StoredPlayer>> {
        self.player_where("username_key", comparison_key(username))
            .await
    }

    async fn player_by_id(&self, id: Uuid) -> Result<Option<StoredPlayer>> {
        self.player_where("id", id.to_string()).await
    }

    async fn insert_session(&self, session: SessionRecord, max_per_player: usize) -> Result<()> {
        let player_id = session.player_id.to_string();
        let kept = i64::try_from(max_per_player.max(1)).unwrap_or(i64::MAX);
        // One transaction: the new session and the removal of the oldest beyond the cap are
        // written together or not at all.
        let mut transaction = self.writer.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, player_id, expires_at_ns) VALUES (?1, ?2, ?3)",
        )
        .bind(session.token_hash.as_bytes().as_slice())
        .bind(&player_id)
        .bind(nanoseconds(session.expires_at)?)
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        sqlx::query(
            "DELETE FROM sessions WHERE player_id = ?1 AND seq NOT IN \
             (SELECT seq FROM sessions WHERE player_id = ?1 ORDER BY seq DESC LIMIT ?2)",
        )
        .bind(&player_id)
        .bind(kept)
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        let row =
            sqlx::query("SELECT player_id, expires_at_ns FROM sessions WHERE token_hash = ?1")
                .bind(token_hash.as_bytes().as_slice())
                .fetch_optional(&self.readers)
                .await
                .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            token_hash: *token_hash,
            player_id: uuid_column(&row, "player_id")?,
            expires_at: time_column(&row, "expires_at_ns")?,
        }))
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM sessions WHERE token_hash = ?1")
            .bind(token_hash.as_bytes().as_slice())
            .execute(&self.writer)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn insert_score(&self, entry: ScoreEntry) -> Result<()> {
        check_score_provenance(&entry)?;
        self.scores.insert(entry).await
    }

    async fn insert_scores(&self, entries: Vec<ScoreEntry>) -> Result<()> {
        for entry in &entries {
            check_score_provenance(entry)?;
        }
        let mut connection = self.writer.acquire().await.map_err(store_error)?;
        write_scores_on(&mut connection, &entries).await
    }

    async fn top_scores(&self, filter: ScoreFilter, limit: usize) -> Result<Vec<ScoreEntry>> {
        const COLUMNS: &str = "id, player_id, username, score, mode, recorded_at_ns, game_id";
        const ORDER: &str = "ORDER BY score DESC, recorded_at_ns, id";
        // With the condition, SQLite reads the partial index of verified scores.
        let verified = if filter.verified_only {
            "AND game_id IS NOT NULL"
        } else {
            ""
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match filter.mode {
            Some(mode) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM scores WHERE mode = ?1 {verified} {ORDER} LIMIT ?2"
                );
                sqlx::query(&sql)
                    .bind(mode.as_str())
                    .bind(limit)
                    .fetch_all(&self.readers)
                    .await
            }
            None => {
                // Each mode's top `limit` comes from its index; only they can make the overall
                // top `limit`, so the merge never reads the whole table.
                let sql = format!(
                    "SELECT {COLUMNS} FROM \
                     (SELECT {COLUMNS} FROM scores WHERE mode = ?1 {verified} {ORDER} LIMIT ?3) \
                     UNION ALL SELECT {COLUMNS} FROM \
                     (SELECT {COLUMNS} FROM scores WHERE mode = ?2 {verified} {ORDER} LIMIT ?3) \
                     {ORDER} LIMIT ?3"
                );
                sqlx::query(&sql)
                    .bind(GameMode::ALL[0].as_str())
                    .bind(GameMode::ALL[1].as_str())
                    .bind(limit)
                    .fetch_all(&self.readers)
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
        let mut transaction = self.writer.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO finished_games (id, player_id, username, mode, seed, turns, ticks, score, \
             started_at_ns, ended_at_ns, end_reason, tick_us) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .bind(game.id.to_string())
        .bind(game.player_id.to_string())
        .bind(&*game.username)
        .bind(game.mode.as_str())
        .bind(game.seed as i64)
        .bind(turns_as_text(&game.turns))
        .bind(i64::try_from(game.ticks).unwrap_or(i64::MAX))
        .bind(i64::from(game.score))
        .bind(nanoseconds(game.started_at)?)
        .bind(nanoseconds(game.ended_at)?)
        .bind(end_reason_name(game.end))
        .bind(tick_microseconds(game.tick)?)
        .execute(&mut *transaction)
        .await
        .map_err(store_error)?;
        if let Some(entry) = &score {
            insert_score_with(&mut *transaction, entry).await?;
        }
        transaction.commit().await.map_err(store_error)
    }

    async fn finished_game(&self, id: Uuid) -> Result<Option<FinishedGame>> {
        let row = sqlx::query(
            "SELECT id, player_id, username, mode, seed, turns, ticks, score, started_at_ns, \
             ended_at_ns, end_reason, tick_us FROM finished_games WHERE id = ?1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.readers)
        .await
        .map_err(store_error)?;
        row.as_ref().map(finished_game_from_row).transpose()
    }

    async fn verified_score_of_game(&self, game_id: Uuid) -> Result<Option<ScoreEntry>> {
        let row = sqlx::query(
            "SELECT id, player_id, username, score, mode, recorded_at_ns, game_id FROM scores \
             WHERE game_id = ?1",
        )
        .bind(game_id.to_string())
        .fetch_optional(&self.readers)
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
            "DELETE FROM finished_games WHERE ended_at_ns < ?1 AND id NOT IN ( \
               SELECT game_id FROM (SELECT game_id FROM scores \
                 WHERE game_id IS NOT NULL AND mode = 'walls' \
                 ORDER BY score DESC, recorded_at_ns, id LIMIT ?2) \
               UNION ALL \
               SELECT game_id FROM (SELECT game_id FROM scores \
                 WHERE game_id IS NOT NULL AND mode = 'pass-through' \
                 ORDER BY score DESC, recorded_at_ns, id LIMIT ?2))",
        )
        .bind(nanoseconds(ended_before)?)
        .bind(keep)
        .execute(&self.writer)
        .await
        .map_err(store_error)?;
        Ok(result.rows_affected())
    }

    async fn holds_no_data(&self) -> Result<bool> {
        sqlx::query_scalar::<_, bool>(
            "SELECT NOT EXISTS (SELECT 1 FROM players) AND NOT EXISTS (SELECT 1 FROM scores)",
        )
        .fetch_one(&self.writer)
        .await
        .map_err(store_error)
    }

    async fn ping(&self) -> Result<()> {
        let answer = tokio::time::timeout(
            PING_TIMEOUT,
            // A read of the file itself, of one row at most, not just of the connection.
            sqlx::query_scalar::<_, bool>("SELECT EXISTS (SELECT 1 FROM players)")
                .fetch_one(&self.readers),
        )
        .await;
        match answer {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(store_error(error)),
            Err(_) => Err(Error::StoreUnavailable {
                retry_after: RETRY_AFTER_STORE_FAULT,
                cause: format!("sqlite: no answer within {} ms", PING_TIMEOUT.as_millis()),
            }),
        }
    }

    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    fn is_sole_writer(&self) -> bool {
        true
    }
}

/// SQLite's primary result codes that mean "not now" rather than "wrong": the database is busy
/// or locked, the disk is full or read-only, or a read or write failed.
/// <https://www.sqlite.org/rescode.html>
const TRANSIENT_RESULT_CODES: [i32; 7] = [
    5,  // SQLITE_BUSY
    6,  // SQLITE_LOCKED
    7,  // SQLITE_NOMEM
    8,  // SQLITE_READONLY
    10, // SQLITE_IOERR
    13, // SQLITE_FULL
    14, // SQLITE_CANTOPEN
];
const SQLITE_BUSY: i32 = 5;
const SQLITE_FULL: i32 = 13;
const SQLITE_PERM: i32 = 3;
const SQLITE_READONLY: i32 = 8;
const SQLITE_CANTOPEN: i32 = 14;
const SQLITE_NOTADB: i32 = 26;

/// The primary result code (the low byte of the extended one sqlx reports) of a database error.
fn primary_result_code(error: &sqlx::Error) -> Option<i32> {
    extended_result_code(error).map(|extended| extended & 0xff)
}

/// SQLite's extended result code of a database error, which says more than the primary code (the
/// low byte).
fn extended_result_code(error: &sqlx::Error) -> Option<i32> {
    let sqlx::Error::Database(database_error) = error else {
        return None;
    };
    database_error.code()?.parse().ok()
}

/// Whether the file refused a write: opened read-only, or the disk refused to write or flush
/// it (a file system remounted read-only after errors, a failing disk). Read errors are not.
fn refuses_writes(error: &sqlx::Error) -> bool {
    const SQLITE_IOERR: i32 = 10;
    /// The extended codes of SQLITE_IOERR for writing, flushing and truncating.
    const WRITE_IO_ERRORS: [i32; 4] = [
        SQLITE_IOERR | (3 << 8), // SQLITE_IOERR_WRITE
        SQLITE_IOERR | (4 << 8), // SQLITE_IOERR_FSYNC
        SQLITE_IOERR | (5 << 8), // SQLITE_IOERR_DIR_FSYNC
        SQLITE_IOERR | (6 << 8), // SQLITE_IOERR_TRUNCATE
    ];
    extended_result_code(error).is_some_and(|extended| {
        extended & 0xff == SQLITE_READONLY || WRITE_IO_ERRORS.contains(&extended)
    })
}

/// A fault at request time as the domain sees it: "try again later" for the transient ones,
/// `Internal` (logged, never shown) for the rest.
fn store_error(error: sqlx::Error) -> Error {
    let transient = match &error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        _ => primary_result_code(&error).is_some_and(|code| TRANSIENT_RESULT_CODES.contains(&code)),
    };
    if primary_result_code(&error) == Some(SQLITE_FULL) {
        Error::StoreFull {
            retry_after: RETRY_AFTER_STORE_FAULT,
            cause: error.to_string(),
        }
    } else if refuses_writes(&error) {
        Error::StoreRefusesWrites {
            retry_after: RETRY_AFTER_STORE_FAULT,
            cause: error.to_string(),
        }
    } else if transient {
        Error::StoreUnavailable {
            retry_after: RETRY_AFTER_STORE_FAULT,
            cause: error.to_string(),
        }
    } else {
        Error::Internal(format!("sqlite: {error}"))
    }
}

/// The `table.column` a unique-constraint violation names, if the error is one.
fn unique_index_violated(error: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(database_error) = error else {
        return None;
    };
    if !database_error.is_unique_violation() {
        return None;
    }
    // SQLite words it "UNIQUE constraint failed: players.email_key".
    database_error
        .message()
        .rsplit(' ')
        .next()
        .map(str::to_owned)
}

/// Why the file could not be opened, for the operator.
fn open_error(path: &Path, error: &sqlx::Error) -> OpenError {
    let path = path.to_path_buf();
    match primary_result_code(error) {
        Some(SQLITE_NOTADB) => OpenError::NotADatabase { path },
        Some(SQLITE_BUSY) => OpenError::Locked { path },
        Some(SQLITE_CANTOPEN | SQLITE_PERM | SQLITE_READONLY) => OpenError::CannotOpen {
            path,
            reason: sqlite_reason(error),
        },
        _ => OpenError::Other {
            path,
            reason: sqlite_reason(error),
        },
    }
}

/// What went wrong applying the schema; a migration the binary does not know means a newer
/// version of the server wrote the file.
fn migrate_error(path: &Path, error: sqlx::migrate::MigrateError) -> OpenError {
    use sqlx::migrate::MigrateError;
    let path = path.to_path_buf();
    match error {
        MigrateError::VersionMissing(version) => OpenError::NewerSchema { path, version },
        MigrateError::VersionMismatch(version) => OpenError::ChangedMigration { path, version },
        MigrateError::Execute(error) | MigrateError::ExecuteMigration(error, _) => {
            open_error(&path, &error)
        }
        other => OpenError::Other {
            path,
            reason: other.to_string(),
        },
    }
}

/// SQLite's own words for a failure, without sqlx's `(code: N)` prefix.
fn sqlite_reason(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(database_error) => database_error.message().to_owned(),
        other => other.to_string(),
    }
}

/// A time as stored: nanoseconds since the Unix epoch, which fit an `i64` until the year 2262.
fn nanoseconds(time: DateTime<Utc>) -> Result<i64> {
    time.timestamp_nanos_opt()
        .ok_or_else(|| Error::Internal(format!("{time} is beyond what the store can hold")))
}

fn time_column(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::from_timestamp_nanos(integer_column(row, column)?))
}

fn integer_column(row: &SqliteRow, column: &str) -> Result<i64> {
    row.try_get::<i64, _>(column)
        .map_err(|error| Error::Internal(format!("sqlite: column {column}: {error}")))
}

fn text_column(row: &SqliteRow, column: &str) -> Result<String> {
    row.try_get::<String, _>(column)
        .map_err(|error| Error::Internal(format!("sqlite: column {column}: {error}")))
}

fn uuid_column(row: &SqliteRow, column: &str) -> Result<Uuid> {
    let text = text_column(row, column)?;
    Uuid::parse_str(&text)
        .map_err(|error| Error::Internal(format!("sqlite: column {column} {text:?}: {error}")))
}

fn player_from_row(row: &SqliteRow) -> Result<StoredPlayer> {
    Ok(StoredPlayer {
        profile: PlayerProfile {
            id: uuid_column(row, "id")?,
            username: text_column(row, "username")?,
            email: text_column(row, "email")?,
        },
        password_hash: text_column(row, "password_hash")?,
        created_at: time_column(row, "created_at_ns")?,
    })
}

/// Inserts a score through a connection or a transaction.
async fn insert_score_with<'c, E>(executor: E, entry: &ScoreEntry) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    insert_scores_with(executor, std::slice::from_ref(entry)).await
}

/// Scores one `INSERT` statement writes at most. Each statement is a round trip to the
/// connection's worker thread, so a group commit writes its scores in a few statements rather
/// than one each; the bound keeps the statements few in number, since each row count is a
/// statement of its own in the connection's statement cache, and within SQLite's limit on bound
/// parameters (7 a row).
const SCORES_PER_INSERT: usize = 32;

/// Writes `entries` (at most [`SCORES_PER_INSERT`]) in one `INSERT` statement.
async fn insert_scores_with<'c, E>(executor: E, entries: &[ScoreEntry]) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    debug_assert!(entries.len() <= SCORES_PER_INSERT);
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; entries.len()].join(", ");
    let sql = format!(
        "INSERT INTO scores (id, player_id, username, score, mode, recorded_at_ns, game_id) \
         VALUES {rows}"
    );
    let mut query = sqlx::query(&sql);
    for entry in entries {
        query = query
            .bind(entry.id.to_string())
            .bind(entry.player_id.to_string())
            .bind(&*entry.username)
            .bind(i64::from(entry.score))
            .bind(entry.mode.as_str())
            .bind(nanoseconds(entry.recorded_at)?)
            .bind(entry.game_id.map(|game_id| game_id.to_string()));
    }
    query.execute(executor).await.map_err(store_error)?;
    Ok(())
}

fn direction_letter(direction: Direction) -> char {
    match direction {
        Direction::Up => 'U',
        Direction::Down => 'D',
        Direction::Left => 'L',
        Direction::Right => 'R',
    }
}

/// A turn log as the `turns` column holds it: `tick:direction` pairs separated by commas
/// (the PostgreSQL store writes it the same way).
pub(super) fn turns_as_text(turns: &[LoggedTurn]) -> String {
    turns
        .iter()
        .map(|turn| format!("{}:{}", turn.tick, direction_letter(turn.direction)))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn turns_from_text(text: &str) -> Result<Vec<LoggedTurn>> {
    let malformed = || Error::Internal(format!("sqlite: malformed turn log {text:?}"));
    text.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (tick, letter) = pair.split_once(':').ok_or_else(malformed)?;
            let direction = Direction::ALL
                .into_iter()
                .find(|direction| letter.starts_with(direction_letter(*direction)))
                .filter(|_| letter.len() == 1)
                .ok_or_else(malformed)?;
            Ok(LoggedTurn {
                tick: tick.parse().map_err(|_| malformed())?,
                direction,
            })
        })
        .collect()
}

pub(super) const END_REASONS: [(GameEndReason, &str); 5] = [
    (GameEndReason::Rules(EndCause::HitWall), "hit_wall"),
    (GameEndReason::Rules(EndCause::HitSelf), "hit_self"),
    (GameEndReason::Rules(EndCause::BoardFull), "board_full"),
    (GameEndReason::ReplacedByNewGame, "replaced_by_new_game"),
    (GameEndReason::ServerShutdown, "server_shutdown"),
];

pub(super) fn end_reason_name(reason: GameEndReason) -> &'static str {
    END_REASONS
        .iter()
        .find(|(known, _)| *known == reason)
        .map(|(_, name)| *name)
        .unwrap_or("server_shutdown")
}

fn mode_column(row: &SqliteRow) -> Result<GameMode> {
    let mode_name = text_column(row, "mode")?;
    GameMode::ALL
        .into_iter()
        .find(|mode| mode.as_str() == mode_name)
        .ok_or_else(|| Error::Internal(format!("sqlite: unknown mode {mode_name:?}")))
}

fn points_column(row: &SqliteRow) -> Result<u32> {
    let score = integer_column(row, "score")?;
    u32::try_from(score).map_err(|_| Error::Internal(format!("sqlite: score {score} out of range")))
}

fn finished_game_from_row(row: &SqliteRow) -> Result<FinishedGame> {
    let end_name = text_column(row, "end_reason")?;
    let end = END_REASONS
        .iter()
        .find(|(_, name)| *name == end_name)
        .map(|(reason, _)| *reason)
        .ok_or_else(|| Error::Internal(format!("sqlite: unknown end reason {end_name:?}")))?;
    let ticks = integer_column(row, "ticks")?;
    Ok(FinishedGame {
        id: uuid_column(row, "id")?,
        player_id: uuid_column(row, "player_id")?,
        username: text_column(row, "username")?.into(),
        mode: mode_column(row)?,
        seed: integer_column(row, "seed")? as u64,
        turns: turns_from_text(&text_column(row, "turns")?)?,
        ticks: u64::try_from(ticks)
            .map_err(|_| Error::Internal(format!("sqlite: ticks {ticks} out of range")))?,
        score: points_column(row)?,
        started_at: time_column(row, "started_at_ns")?,
        ended_at: time_column(row, "ended_at_ns")?,
        end,
        tick: tick_from_microseconds(integer_column(row, "tick_us")?)?,
    })
}

/// A tick as the `tick_us` column holds it: whole microseconds, at least one.
pub(super) fn tick_microseconds(tick: Duration) -> Result<i64> {
    i64::try_from(tick.as_micros())
        .ok()
        .filter(|micros| *micros > 0)
        .ok_or_else(|| Error::Internal(format!("sqlite: tick {tick:?} cannot be stored")))
}

pub(super) fn tick_from_microseconds(micros: i64) -> Result<Duration> {
    u64::try_from(micros)
        .map(Duration::from_micros)
        .map_err(|_| Error::Internal(format!("sqlite: tick_us {micros} out of range")))
}

fn score_from_row(row: &SqliteRow) -> Result<ScoreEntry> {
    let mode = mode_column(row)?;
    let score = integer_column(row, "score")?;
    let game_id = row
        .try_get::<Option<String>, _>("game_id")
        .map_err(|error| Error::Internal(format!("sqlite: column game_id: {error}")))?
        .map(|text| {
            Uuid::parse_str(&text).map_err(|error| {
                Error::Internal(format!("sqlite: column game_id {text:?}: {error}"))
            })
        })
        .transpose()?;
    Ok(ScoreEntry {
        id: uuid_column(row, "id")?,
        player_id: uuid_column(row, "player_id")?,
        username: text_column(row, "username")?.into(),
        score: u32::try_from(score)
            .map_err(|_| Error::Internal(format!("sqlite: score {score} out of range")))?,
        mode,
        recorded_at: time_column(row, "recorded_at_ns")?,
        verified: game_id.is_some(),
        game_id,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use chrono::Duration as TimeSpan;

    use super::*;
    use crate::accounts::tokens::hash_token;
    use crate::store::fixtures::{base_time, player, score_after, session_of};

    /// A directory of its own for one test's database, removed when the test ends.
    struct TestDirectory(PathBuf);

    impl TestDirectory {
        fn new() -> Self {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let path = std::env::temp_dir().join(format!(
                "snake-arena-sqlite-unit-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).expect("a temporary directory");
            Self(path)
        }

        fn database(&self) -> PathBuf {
            self.0.join("store.sqlite3")
        }
    }

    impl Drop for TestDirectory {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn fresh_store() -> (TestDirectory, SqliteStore) {
        let directory = TestDirectory::new();
        let store = SqliteStore::open(&directory.database())
            .await
            .expect("a fresh database opens");
        (directory, store)
    }

    fn score(points: u32, mode: GameMode, minutes_after_base: i64) -> ScoreEntry {
        score_after(points, mode, TimeSpan::minutes(minutes_after_base))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_score_writer_hands_the_writer_connection_on_when_idle_and_between_turns() {
        let (_directory, store) = fresh_store().await;
        let store = Arc::new(store);
        // Idle: after one score nothing waits, so another write gets the connection at once
        // (kept, it would wait for the pool's five-second timeout and fail).
        store
            .insert_score(score(1, GameMode::Walls, 0))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        store
            .create_player(player("after_one", "after_one@example.com"))
            .await
            .expect("a write after an idle score writer");
        assert!(started.elapsed() < ACQUIRE_TIMEOUT);

        // A flood of scores keeps the writer busy; players are still created meanwhile, each
        // within a turn, and every score is stored.
        let flood: Vec<_> = (0..2_000)
            .map(|points| {
                let store = Arc::clone(&store);
                tokio::spawn(
                    async move { store.insert_score(score(points, GameMode::Walls, 1)).await },
                )
            })
            .collect();
        for index in 0..5 {
            store
                .create_player(player(
                    &format!("during_{index}"),
                    &format!("during_{index}@example.com"),
                ))
                .await
                .expect("a write while scores flood in");
        }
        for submission in flood {
            submission.await.unwrap().expect("every score is stored");
        }
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM scores")
            .fetch_one(&store.readers)
            .await
            .unwrap();
        assert_eq!(stored, 2_001);
    }

    #[tokio::test]
    async fn top_scores_rank_higher_first_then_earlier_then_smaller_id_and_merge_both_modes() {
        let (_directory, store) = fresh_store().await;
        let mut tie_early_a = score(500, GameMode::Walls, 1);
        let mut tie_early_b = score(500, GameMode::Walls, 1);
        tie_early_a.id = Uuid::from_u128(1);
        tie_early_b.id = Uuid::from_u128(2);
        let entries = [
            score(100, GameMode::Walls, 0),
            tie_early_b.clone(),
            score(500, GameMode::Walls, 5),
            tie_early_a.clone(),
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
        assert_eq!(walls[0], tie_early_a);
        assert_eq!(walls[1], tie_early_b);
        assert_eq!(walls[2].recorded_at, base_time() + TimeSpan::minutes(5));
        assert_eq!(walls[3].score, 100);

        let merged = store.top_scores(ScoreFilter::mode(None), 3).await.unwrap();
        let points: Vec<u32> = merged.iter().map(|entry| entry.score).collect();
        assert_eq!(points, [900, 700, 500]);
        assert_eq!(merged[2], tie_early_a);
        assert!(
            store
                .top_scores(ScoreFilter::mode(None), 0)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn emails_and_usernames_are_unique_ignoring_case_and_the_email_is_reported_first() {
        let (_directory, store) = fresh_store().await;
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
        let (_directory, store) = fresh_store().await;
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
        let (_directory, store) = fresh_store().await;
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
    }

    #[tokio::test]
    async fn deleting_a_session_reports_whether_it_existed_and_revokes_it() {
        let (_directory, store) = fresh_store().await;
        let owner = player("owner", "owner@example.com");
        store.create_player(owner.clone()).await.unwrap();
        let session = session_of(owner.profile.id, "token");
        store.insert_session(session.clone(), 10).await.unwrap();
        assert!(store.delete_session(&session.token_hash).await.unwrap());
        assert!(!store.delete_session(&session.token_hash).await.unwrap());
        assert_eq!(store.session(&session.token_hash).await.unwrap(), None);
    }

    #[tokio::test]
    async fn players_sessions_scores_and_finished_games_survive_reopening() {
        let directory = TestDirectory::new();
        let store = SqliteStore::open(&directory.database()).await.unwrap();
        assert!(store.holds_no_data().await.unwrap());
        let owner = player("owner", "owner@example.com");
        let session = session_of(owner.profile.id, "token");
        let entry = score(42, GameMode::PassThrough, 0);
        store.create_player(owner.clone()).await.unwrap();
        store.insert_session(session.clone(), 10).await.unwrap();
        store.insert_score(entry.clone()).await.unwrap();
        let game = finished_game(&owner, 70);
        let verified = verified_score_of(&game);
        store
            .record_finished_game(game.clone(), Some(verified.clone()))
            .await
            .unwrap();
        store.close().await;

        let reopened = SqliteStore::open(&directory.database()).await.unwrap();
        assert!(!reopened.holds_no_data().await.unwrap());
        assert_eq!(
            reopened.player_by_id(owner.profile.id).await.unwrap(),
            Some(owner)
        );
        assert_eq!(
            reopened.session(&session.token_hash).await.unwrap(),
            Some(session)
        );
        assert_eq!(
            reopened
                .top_scores(ScoreFilter::mode(None), 10)
                .await
                .unwrap(),
            [verified.clone(), entry]
        );
        assert_eq!(reopened.finished_game(game.id).await.unwrap(), Some(game));
    }

    fn finished_game(owner: &StoredPlayer, points: u32) -> FinishedGame {
        FinishedGame {
            id: Uuid::new_v4(),
            player_id: owner.profile.id,
            username: owner.profile.username.as_str().into(),
            mode: GameMode::PassThrough,
            seed: u64::MAX - 3,
            turns: vec![
                LoggedTurn {
                    tick: 0,
                    direction: Direction::Left,
                },
                LoggedTurn {
                    tick: 12,
                    direction: Direction::Down,
                },
            ],
            ticks: 40,
            tick: Duration::from_micros(12_345),
            score: points,
            started_at: base_time(),
            ended_at: base_time() + TimeSpan::seconds(6),
            end: GameEndReason::Rules(EndCause::HitSelf),
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

    #[tokio::test]
    async fn the_verified_only_filter_returns_only_scores_recorded_with_their_game() {
        let (_directory, store) = fresh_store().await;
        let owner = player("verity", "verity@example.com");
        store
            .insert_score(score(900, GameMode::PassThrough, 0))
            .await
            .unwrap();
        let game = finished_game(&owner, 300);
        let verified = verified_score_of(&game);
        store
            .record_finished_game(game.clone(), Some(verified.clone()))
            .await
            .unwrap();
        for mode in [None, Some(GameMode::PassThrough)] {
            assert_eq!(
                store
                    .top_scores(ScoreFilter::verified(mode), 10)
                    .await
                    .unwrap(),
                std::slice::from_ref(&verified)
            );
        }
        let all = store.top_scores(ScoreFilter::mode(None), 10).await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(!all[0].verified && all[0].game_id.is_none());
    }

    #[tokio::test]
    async fn a_finished_game_whose_score_is_refused_is_not_recorded_either() {
        let (_directory, store) = fresh_store().await;
        let owner = player("halfway", "halfway@example.com");
        let game = finished_game(&owner, 10);
        let mut clashing = verified_score_of(&game);
        store
            .insert_score(score(5, GameMode::Walls, 0))
            .await
            .unwrap();
        // A score id already taken makes the second insert of the transaction fail.
        clashing.id = store.top_scores(ScoreFilter::mode(None), 1).await.unwrap()[0].id;
        assert!(
            store
                .record_finished_game(game.clone(), Some(clashing))
                .await
                .is_err()
        );
        assert_eq!(store.finished_game(game.id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_database_with_a_migration_this_version_does_not_know_is_refused() {
        let directory = TestDirectory::new();
        let store = SqliteStore::open(&directory.database()).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', TRUE, x'00', 0)",
        )
        .execute(&store.writer)
        .await
        .expect("a future migration is recorded");
        store.close().await;

        let refused = SqliteStore::open(&directory.database()).await.err();
        let Some(OpenError::NewerSchema { version, .. }) = refused else {
            panic!("expected NewerSchema, got {refused:?}");
        };
        assert_eq!(version, 99990101000000);
    }

    #[tokio::test]
    async fn a_second_server_on_an_open_database_is_refused_until_the_first_closes_it() {
        let directory = TestDirectory::new();
        let first = SqliteStore::open(&directory.database()).await.unwrap();
        let refused = SqliteStore::open(&directory.database()).await.err();
        let Some(refusal @ OpenError::InUse { .. }) = refused else {
            panic!("expected InUse, got {refused:?}");
        };
        assert!(
            refusal
                .to_string()
                .contains("another server process is using this database"),
            "{refusal}"
        );
        first.close().await;
        let second = SqliteStore::open(&directory.database()).await;
        assert!(second.is_ok(), "the lock goes with the first store");
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_refused_as_such() {
        let directory = TestDirectory::new();
        std::fs::write(
            directory.database(),
            "just some text, no SQLite header, ".repeat(200),
        )
        .unwrap();
        let refused = SqliteStore::open(&directory.database()).await.err();
        assert!(
            matches!(refused, Some(OpenError::NotADatabase { .. })),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn a_database_locked_by_another_connection_is_refused_as_locked() {
        let directory = TestDirectory::new();
        let holder_options = SqliteConnectOptions::new()
            .filename(directory.database())
            .create_if_missing(true);
        let holder = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(holder_options)
            .await
            .unwrap();
        let mut holding = holder.acquire().await.unwrap();
        sqlx::query("CREATE TABLE other_program (x INTEGER)")
            .execute(&mut *holding)
            .await
            .unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut *holding)
            .await
            .unwrap();

        let refused =
            SqliteStore::open_with_busy_timeout(&directory.database(), Duration::from_millis(100))
                .await
                .err();
        assert!(
            matches!(refused, Some(OpenError::Locked { .. })),
            "{refused:?}"
        );
        assert!(
            refused
                .unwrap()
                .to_string()
                .contains("locked by another process")
        );
    }

    #[tokio::test]
    async fn a_store_whose_connections_are_gone_answers_unavailable_not_internal() {
        let (_directory, store) = fresh_store().await;
        store.close().await;
        let outcome = store.insert_score(score(1, GameMode::Walls, 0)).await;
        assert!(
            matches!(outcome, Err(Error::StoreUnavailable { .. })),
            "{outcome:?}"
        );
        assert!(matches!(
            store.top_scores(ScoreFilter::mode(None), 10).await,
            Err(Error::StoreUnavailable { .. })
        ));
        assert!(matches!(
            store.ping().await,
            Err(Error::StoreUnavailable { .. })
        ));
    }

    #[tokio::test]
    async fn the_backend_is_named_sqlite() {
        let (_directory, store) = fresh_store().await;
        assert_eq!(store.backend_name(), "sqlite");
    }

    #[tokio::test]
    async fn old_games_off_each_modes_top_are_pruned_and_the_rest_kept_with_their_scores() {
        let (_directory, store) = fresh_store().await;
        crate::store::retention_tests::check_retention(&store).await;
    }

    #[tokio::test]
    async fn a_batch_of_scores_is_stored_whole_or_not_at_all() {
        let (_directory, store) = fresh_store().await;
        crate::store::bulk_insert_tests::check_bulk_insert(&store).await;
    }
}
