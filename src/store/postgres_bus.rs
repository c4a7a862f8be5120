//! The PostgreSQL store's instance bus: `NOTIFY` on one channel to publish, sqlx's `PgListener`
//! to listen. Every instance on the database listens on the channel and so hears every
//! instance's messages, its own included, in the order they were committed.
//!
//! A batch of messages is one statement (`pg_notify` over an array), so it is one transaction
//! and one round trip, and PostgreSQL delivers its notifications together and in order. The
//! listener holds one connection of the store's pool for as long as it listens; when that
//! connection is lost, sqlx opens another and listens again, and the events say so, since
//! whatever was published in between is gone.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool};

use crate::error::{Error, Result};
use crate::store::{BusEvent, BusListener, InstanceBus, MAX_BUS_MESSAGE_BYTES};

/// The channel every instance of one database publishes on and listens to. `NOTIFY` is scoped
/// to the database, so instances of other databases on the same server never hear it.
pub const LIVE_GAMES_CHANNEL: &str = "snake_arena_live_games";

/// How long a listener waits before trying again after it could not reach the database, so
/// an outage costs a few attempts a second, not a busy loop.
const LISTEN_RETRY_PAUSE: Duration = Duration::from_millis(250);

/// The bus over a store's pool.
pub struct PostgresBus {
    pool: PgPool,
}

impl PostgresBus {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl InstanceBus for PostgresBus {
    async fn publish(&self, messages: Vec<String>) -> Result<()> {
        if let Some(long) = messages
            .iter()
            .find(|message| message.len() > MAX_BUS_MESSAGE_BYTES)
        {
            return Err(Error::Internal(format!(
                "a bus message of {} bytes is longer than NOTIFY takes",
                long.len()
            )));
        }
        if messages.is_empty() {
            return Ok(());
        }
        // One statement, so one transaction: the notifications are delivered at its commit, all
        // together and in the array's order.
        sqlx::query("SELECT pg_notify($1, message) FROM unnest($2::text[]) AS message")
            .bind(LIVE_GAMES_CHANNEL)
            .bind(messages)
            .execute(&self.pool)
            .await
            .map_err(super::postgres::store_error)?;
        Ok(())
    }

    async fn listen(&self) -> Result<Box<dyn BusListener>> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(super::postgres::store_error)?;
        listener
            .listen(LIVE_GAMES_CHANNEL)
            .await
            .map_err(super::postgres::store_error)?;
        Ok(Box::new(PostgresListener {
            listener,
            failing: false,
            pending: None,
        }))
    }
}

/// A `PgListener` on [`LIVE_GAMES_CHANNEL`].
struct PostgresListener {
    listener: PgListener,
    /// Whether the last call failed: the connection may be gone, so whatever comes next follows
    /// a gap.
    failing: bool,
    /// A message received right after a gap, handed out after the gap is reported.
    pending: Option<String>,
}

#[async_trait]
impl BusListener for PostgresListener {
    async fn next(&mut self) -> Result<BusEvent> {
        if let Some(message) = self.pending.take() {
            return Ok(BusEvent::Message(message));
        }
        if self.failing {
            tokio::time::sleep(LISTEN_RETRY_PAUSE).await;
        }
        match self.listener.try_recv().await {
            Ok(Some(notification)) => {
                let message = notification.payload().to_owned();
                if std::mem::take(&mut self.failing) {
                    // The connection failed with an error sqlx does not take for a lost
                    // connection (a terminated backend says why before it closes), and a new
                    // one listens now: the gap is reported first, then this message.
                    self.pending = Some(message);
                    Ok(BusEvent::Reconnected)
                } else {
                    Ok(BusEvent::Message(message))
                }
            }
            // sqlx found the connection lost, opened another and listens again.
            Ok(None) => {
                self.failing = false;
                Ok(BusEvent::Reconnected)
            }
            Err(error) => {
                self.failing = true;
                Err(super::postgres::store_error(error))
            }
        }
    }
}
