//! Leaderboard changes between servers on one PostgreSQL database, by `LISTEN/NOTIFY`: each server
//! listens on one channel, and the database notifies it whenever any server changes the scores.
//!
//! The notification is sent by a trigger on `scores` (migration 0004), so every write notifies,
//! whichever server or tool made it, and only once it is committed. A server drops its cached
//! boards on each notification (`CachedStore::invalidate`), so another server's score is on its
//! boards as soon as the notification arrives rather than when the board's time to live runs out.
//!
//! A lost connection, and listening again, are reported ([`crate::store::postgres_listener`]),
//! for the server to drop every board, since any of them may have missed a change. The boards'
//! time to live bounds the staleness in between, and also when a connection dies without the
//! socket saying so (a vanished host), which only TCP's own timeouts detect.

use crate::store::OpenError;
use crate::store::postgres_listener::{ChannelListener, Heard};

/// The channel the scores trigger notifies (`migrations/postgres/0004_notify_score_changes.sql`).
pub const SCORES_CHANNEL: &str = "snake_arena_scores";

/// The `application_name` of the listening connection, so an operator (or a test) can find it in
/// `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "snake-arena-server board listener";

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
    listener: ChannelListener,
}

impl BoardListener {
    /// Connects to the database `url` names and listens, so that every change committed after
    /// this returns is notified. Fails like [`crate::store::PostgresStore::open`].
    pub async fn subscribe(url: &str) -> std::result::Result<Self, OpenError> {
        let listener =
            ChannelListener::subscribe(url, LISTENER_APPLICATION_NAME, &[SCORES_CHANNEL]).await?;
        Ok(Self { listener })
    }

    /// Waits for the next change, reconnecting (after a short pause) when the connection is
    /// lost. Never fails: a lost connection is a [`BoardChange::Lost`], and the next call tries
    /// again.
    pub async fn next_change(&mut self) -> BoardChange {
        match self.listener.next().await {
            Heard::Notification(_) => BoardChange::ScoresChanged,
            Heard::Resubscribed => BoardChange::Resubscribed,
            Heard::Lost(reason) => BoardChange::Lost(reason),
        }
    }

    /// Hands every change to `on_change`, for as long as the runtime runs.
    pub async fn run(mut self, on_change: impl Fn(BoardChange) + Send + 'static) {
        loop {
            on_change(self.next_change().await);
        }
    }
}
