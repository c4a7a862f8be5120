//! A PostgreSQL connection that listens on some channels and says when it had to listen again:
//! what the leaderboard listener (`board_changes.rs`) and the session leases
//! (`session_leases.rs`) are built on.
//!
//! Notifications are not queued for a listener that is not connected: those sent while the
//! listening connection is lost are gone. So a lost connection is reported, and once the listener
//! is connected and listening again that is reported too ([`Heard::Resubscribed`]), before any
//! notification the new connection receives, for the caller to drop whatever it may have missed
//! a change of.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use crate::store::OpenError;
use crate::store::postgres::{connect_error, connect_options, describe};

/// How long a connection attempt of the listener may take, at start-up and when reconnecting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The pause between attempts to listen again after the connection was lost.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(250);

/// What the listener heard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// A notification's payload, from a transaction that has committed.
    Notification(String),
    /// The listening connection was lost and the listener is listening again; notifications sent
    /// in between are lost.
    Resubscribed,
    /// The listening connection is lost, or listening again failed (the reason); the listener
    /// keeps trying.
    Lost(String),
}

/// A connection listening on some channels.
pub struct ChannelListener {
    /// The listener's own pool of one connection, which it reconnects through.
    pool: PgPool,
    channels: &'static [&'static str],
    listener: Option<PgListener>,
}

impl ChannelListener {
    /// Connects to the database `url` names as `application_name` and listens on `channels`, so
    /// that every notification committed after this returns is heard. Fails like
    /// [`crate::store::PostgresStore::open`].
    pub async fn subscribe(
        url: &str,
        application_name: &str,
        channels: &'static [&'static str],
    ) -> std::result::Result<Self, OpenError> {
        let options = connect_options(url)?.application_name(application_name);
        let target = describe(&options);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            // The connection stays open as long as it works: closing it on a schedule would lose
            // the notifications sent while it is reopened.
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_lazy_with(options);
        let listener = listen(&pool, channels)
            .await
            .map_err(|error| connect_error(&target, &error))?;
        Ok(Self {
            pool,
            channels,
            listener: Some(listener),
        })
    }

    /// Waits for the next notification, reconnecting (after a short pause) when the connection
    /// is lost. Never fails: a lost connection is a [`Heard::Lost`], and the next call tries
    /// again.
    pub async fn next(&mut self) -> Heard {
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
            return match listen(&self.pool, self.channels).await {
                Ok(listener) => {
                    self.listener = Some(listener);
                    Heard::Resubscribed
                }
                Err(error) => Heard::Lost(error.to_string()),
            };
        };
        match listener.try_recv().await {
            Ok(Some(notification)) => Heard::Notification(notification.payload().to_owned()),
            // sqlx reconnected and listened again before saying the connection was lost.
            Ok(None) => Heard::Resubscribed,
            Err(error) => {
                // A fresh listener is made on the next call, so that the moment it listens
                // again is known (the old one would reconnect without saying so).
                self.listener = None;
                Heard::Lost(error.to_string())
            }
        }
    }
}

/// A listener on `channels` through `pool`.
async fn listen(pool: &PgPool, channels: &[&str]) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all(channels.iter().copied()).await?;
    Ok(listener)
}
