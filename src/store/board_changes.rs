//! Leaderboard changes between servers on one PostgreSQL database, by `LISTEN/NOTIFY`: each server
//! listens on one channel, and the database notifies it whenever any server changes the scores.
//!
//! The notification is sent by a trigger on `scores` (migration 0004), so every write notifies,
//! whichever server or tool made it, and only once it is committed. A server drops its cached
//! boards on each notification (`CachedStore::invalidate`), so another server's score is on its
//! boards as soon as the notification arrives rather than when the board's time to live runs out.
//!
//! Notifications are not queued for a listener that is not connected: those sent while the
//! listening connection is lost are gone. So a lost connection is reported, and once the listener
//! is connected and listening again that is reported too ([`BoardChange::Resubscribed`]), for the
//! server to drop every board, since any of them may have missed a change. The boards' time to
//! live bounds the staleness in between, and also when a connection dies without the socket
//! saying so (a vanished host), which only TCP's own timeouts detect.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use crate::store::OpenError;
use crate::store::postgres::{connect_error, connect_options, describe};

/// The channel the scores trigger notifies (`migrations/postgres/0004_notify_score_changes.sql`).
pub const SCORES_CHANNEL: &str = "snake_arena_scores";

/// The `application_name` of the listening connection, so an operator (or a test) can find it in
/// `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "snake-arena-server board listener";

/// How long a connection attempt of the listener may take, at start-up and when reconnecting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The pause between attempts to listen again after the connection was lost.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(250);

/// What the listener saw, for the server to act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoardChange {
    /// A transaction that changed the scores has committed.
    ScoresChanged,
    /// The listening connection was lost and the listener is listening again; notifications sent
    /// in between are lost, so every board may be stale.
    Resubscribed,
    /// The listening connection is lost, or listening again failed (the reason); the listener
    /// keeps trying.
    Lost(String),
}

/// A connection listening on [`SCORES_CHANNEL`].
pub struct BoardListener {
    /// The listener's own pool of one connection, which it reconnects through.
    pool: PgPool,
    listener: Option<PgListener>,
}

impl BoardListener {
    /// Connects to the database `url` names and listens, so that every change committed after
    /// this returns is notified. Fails like [`crate::store::PostgresStore::open`].
    pub async fn subscribe(url: &str) -> std::result::Result<Self, OpenError> {
        let options = connect_options(url)?.application_name(LISTENER_APPLICATION_NAME);
        let target = describe(&options);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            // The connection stays open as long as it works: closing it on a schedule would lose
            // the notifications sent while it is reopened.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        let listener = listen(&pool)
            .await
            .map_err(|error| connect_error(&target, &error))?;
        Ok(Self {
            pool,
            listener: Some(listener),
        })
    }

    /// Waits for the next change, reconnecting (after a short pause) when the connection is
    /// lost. Never fails: a lost connection is a [`BoardChange::Lost`], and the next call tries
    /// again.
    pub async fn next_change(&mut self) -> BoardChange {
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
            return match listen(&self.pool).await {
                Ok(listener) => {
                    self.listener = Some(listener);
                    BoardChange::Resubscribed
                }
                Err(error) => BoardChange::Lost(error.to_string()),
            };
        };
        match listener.try_recv().await {
            Ok(Some(_)) => BoardChange::ScoresChanged,
            // sqlx reconnected and listened again before saying the connection was lost.
            Ok(None) => BoardChange::Resubscribed,
            Err(error) => {
                // A fresh listener is made on the next call, so that the moment it listens
                // again is known (the old one would reconnect without saying so).
                self.listener = None;
                BoardChange::Lost(error.to_string())
            }
        }
    }

    /// Hands every change to `on_change`, for as long as the runtime runs.
    pub async fn run(mut self, on_change: impl Fn(BoardChange) + Send + 'static) {
        loop {
            on_change(self.next_change().await);
        }
    }
}

/// A listener on [`SCORES_CHANNEL`] through `pool`.
async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(SCORES_CHANNEL).await?;
    Ok(listener)
}
