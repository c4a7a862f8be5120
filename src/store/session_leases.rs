//! Sessions answered from memory by servers that share one PostgreSQL database, with a logout
//! still refused everywhere by the time it is answered.
//!
//! Reading the session from the database on every authenticated call costs a round trip and a
//! query, which on this machine held `GET /api/auth/me` to a quarter of the in-memory rate. So
//! each server keeps the sessions it read ([`AccountCache::leased`]), and answers from them only
//! while it holds a lease, under three rules:
//!
//! - **Every removal is heard.** A trigger on `sessions` (migration 0005) notifies the removed
//!   token's hash on [`SESSIONS_CHANNEL`] when the transaction commits, and the server forgets it.
//!   A server whose listening connection was lost may have missed some: it stops answering from
//!   memory at once, and forgets every session once it listens again.
//! - **A lease is renewed with a fence.** Every quarter lease, a server moves its row in
//!   `server_leases` to a lease from now and, in the same statement, notifies a fence naming
//!   itself. PostgreSQL delivers notifications in commit order, so when the server hears its own
//!   fence it has heard every removal committed before the renewal; only then does it answer from
//!   memory, until the moment it sent the renewal plus the lease (never later than the row says).
//! - **A logout waits.** After the removal committed, the server answering the logout reads which
//!   other servers hold a lease, asks them on the channel to acknowledge, and answers once each
//!   has (a server acknowledges after it has handled everything notified before the request, the
//!   removal included) or its lease has run out. A server that stopped, or cannot hear, costs a
//!   logout at most one lease; once its lease is out, nobody waits for it.
//!
//! New sessions need no message: a session unknown here is read from the database.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::accounts::tokens::TokenHash;
use crate::store::OpenError;
use crate::store::account_cache::AccountCache;
use crate::store::postgres::{connect_error, connect_options, describe};
use crate::store::postgres_listener::{ChannelListener, Heard};

/// The channel of session removals, fences and acknowledgements.
pub const SESSIONS_CHANNEL: &str = "snake_arena_sessions";

/// The `application_name` of the listening connection, so an operator (or a test) can find it in
/// `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "snake-arena-server session listener";

/// The `application_name` of the connections that renew the lease and ask for acknowledgements.
const LEASE_APPLICATION_NAME: &str = "snake-arena-server session leases";

/// How long a lease is, unless configured otherwise (`--session-lease-ms`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(2);

/// Kept off the end of this server's own lease and added to another's when waiting for it, so
/// that clocks that run at slightly different rates cannot make the two overlap.
const CLOCK_MARGIN: Duration = Duration::from_millis(20);

/// How long a query of the leases may take before the server gives up on it; a logout then
/// waits a whole lease instead.
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a lease's row stays after it ran out, before a starting server deletes it.
const EXPIRED_LEASE_KEPT: &str = "1 hour";

/// One server's leases on answering sessions from memory.
pub struct SessionLeases {
    instance: Uuid,
    pool: PgPool,
    lease: Duration,
    accounts: Arc<AccountCache>,
    state: Mutex<LeaseState>,
    /// Whether a lease has been held yet, for the start to wait on.
    first_lease: tokio::sync::watch::Sender<bool>,
    /// Held while the lease is renewed or given up; `true` once given up, after which it is
    /// never renewed again.
    released: tokio::sync::Mutex<bool>,
}

#[derive(Default)]
struct LeaseState {
    /// Numbers fences, requests for acknowledgement and nothing else, so each names one.
    next_number: u64,
    /// Renewals sent whose fence has not been heard yet, oldest first, with when each was sent.
    fences: VecDeque<(u64, Instant)>,
    /// Logouts waiting for other servers, by the number of their request.
    waits: HashMap<u64, Wait>,
}

struct Wait {
    unacknowledged: HashSet<Uuid>,
    done: Option<oneshot::Sender<()>>,
}

/// A message on [`SESSIONS_CHANNEL`].
#[derive(Debug, PartialEq, Eq)]
enum Message {
    /// A session was removed (the trigger's).
    Revoked(TokenHash),
    /// Every session was removed at once (the trigger on `TRUNCATE`).
    RevokedAll,
    /// A server renewed its lease.
    Fence { instance: Uuid, number: u64 },
    /// A server asks every other to acknowledge.
    AcknowledgementRequested { instance: Uuid, number: u64 },
    /// `by` acknowledged `instance`'s request `number`.
    Acknowledged {
        instance: Uuid,
        number: u64,
        by: Uuid,
    },
}

impl Message {
    fn parse(payload: &str) -> Option<Self> {
        if payload == "revoked-all" {
            return Some(Message::RevokedAll);
        }
        let (kind, rest) = payload.split_once(':')?;
        match kind {
            "revoked" => TokenHash::from_hex(rest).map(Message::Revoked),
            "fence" => instance_and_number(rest)
                .map(|(instance, number)| Message::Fence { instance, number }),
            "ack-requested" => instance_and_number(rest)
                .map(|(instance, number)| Message::AcknowledgementRequested { instance, number }),
            "ack" => {
                let (request, by) = rest.rsplit_once(':')?;
                let (instance, number) = instance_and_number(request)?;
                Some(Message::Acknowledged {
                    instance,
                    number,
                    by: by.parse().ok()?,
                })
            }
            _ => None,
        }
    }
}

/// `INSTANCE:NUMBER`, as fences and requests name themselves.
fn instance_and_number(text: &str) -> Option<(Uuid, u64)> {
    let (instance, number) = text.split_once(':')?;
    Some((instance.parse().ok()?, number.parse().ok()?))
}

impl SessionLeases {
    /// Starts listening on the database `url` names and renewing this server's lease, every
    /// quarter `lease`; sessions are answered from `accounts` once the first renewal is heard.
    /// Fails like [`crate::store::PostgresStore::open`].
    pub async fn start(
        url: &str,
        lease: Duration,
        accounts: Arc<AccountCache>,
        log: slog::Logger,
    ) -> std::result::Result<Arc<Self>, OpenError> {
        let options = connect_options(url)?.application_name(LEASE_APPLICATION_NAME);
        let target = describe(&options);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(QUERY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|error| connect_error(&target, &error))?;
        let listener =
            ChannelListener::subscribe(url, LISTENER_APPLICATION_NAME, &[SESSIONS_CHANNEL]).await?;
        // Rows of servers long gone are only clutter: nobody waits for an expired lease.
        sqlx::query(&format!(
            "DELETE FROM server_leases WHERE expires_at < clock_timestamp() - interval '{EXPIRED_LEASE_KEPT}'"
        ))
        .execute(&pool)
        .await
        .map_err(|error| connect_error(&target, &error))?;
        let leases = Arc::new(Self {
            instance: Uuid::new_v4(),
            pool,
            lease,
            accounts,
            state: Mutex::new(LeaseState::default()),
            first_lease: tokio::sync::watch::Sender::new(false),
            released: tokio::sync::Mutex::new(false),
        });
        let mut first_lease = leases.first_lease.subscribe();
        tokio::spawn(Arc::clone(&leases).listen(listener, log.clone()));
        tokio::spawn(Arc::clone(&leases).keep_renewing(log.clone()));
        // The first lease is usually held within a round trip: waiting for it makes the
        // server's first answers as fast as its later ones. Without it the server still works,
        // reading every session from the database until the lease is held.
        let held = tokio::time::timeout(lease, first_lease.wait_for(|held| *held)).await;
        if !matches!(held, Ok(Ok(_))) {
            slog::warn!(log, "no session lease yet; sessions are read from the database until one is held";
                "waited_ms" => lease.as_millis());
        }
        Ok(leases)
    }

    /// The cache this server answers sessions from.
    pub fn accounts(&self) -> &Arc<AccountCache> {
        &self.accounts
    }

    /// Returns once every other server that may answer sessions from memory has heard every
    /// session removal committed before this call, or its lease ran out. Called after a
    /// logout, or a login that may have pushed old sessions out, committed.
    pub async fn wait_for_other_servers(&self) {
        let without_answers = Instant::now() + self.lease + CLOCK_MARGIN;
        let leases = tokio::time::timeout(
            QUERY_TIMEOUT,
            sqlx::query_as::<_, (Uuid, f64)>(
                "SELECT instance, EXTRACT(EPOCH FROM expires_at - clock_timestamp())::float8 \
                 FROM server_leases WHERE expires_at > clock_timestamp() AND instance <> $1",
            )
            .bind(self.instance)
            .fetch_all(&self.pool),
        )
        .await;
        let Ok(Ok(leases)) = leases else {
            // Which servers hold leases is unknown: wait until any lease taken before the
            // removal has run out. Servers on one database share the lease's length.
            tokio::time::sleep_until(without_answers.into()).await;
            return;
        };
        if leases.is_empty() {
            return;
        }
        let longest = leases
            .iter()
            .map(|(_, seconds)| Duration::try_from_secs_f64(*seconds).unwrap_or(self.lease))
            .max()
            .unwrap_or(self.lease);
        let out_of_lease = Instant::now() + longest + CLOCK_MARGIN;
        let (done, acknowledged) = oneshot::channel();
        let number = {
            let mut state = self.state();
            let number = state.take_number();
            state.waits.insert(
                number,
                Wait {
                    unacknowledged: leases.iter().map(|(instance, _)| *instance).collect(),
                    done: Some(done),
                },
            );
            number
        };
        let asked = self
            .notify(format!("ack-requested:{}:{number}", self.instance))
            .await;
        if asked.is_ok() {
            let _ = tokio::time::timeout_at(out_of_lease.into(), acknowledged).await;
        } else {
            tokio::time::sleep_until(out_of_lease.into()).await;
        }
        self.state().waits.remove(&number);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn notify(&self, payload: String) -> sqlx::Result<()> {
        tokio::time::timeout(
            QUERY_TIMEOUT,
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(SESSIONS_CHANNEL)
                .bind(payload)
                .execute(&self.pool),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map(|_| ())
    }

    /// Renews the lease every quarter lease, for as long as the runtime runs.
    async fn keep_renewing(self: Arc<Self>, log: slog::Logger) {
        let mut failing = false;
        loop {
            match self.renew().await {
                Ok(()) if std::mem::take(&mut failing) => {
                    slog::info!(log, "the session lease is renewed again");
                }
                Ok(()) => {}
                Err(error) if !failing => {
                    failing = true;
                    slog::warn!(log, "cannot renew the session lease; sessions are read from the database until it is renewed";
                        "error" => error.to_string());
                }
                Err(_) => {}
            }
            tokio::time::sleep(self.lease / 4).await;
        }
    }

    /// Gives the lease up for good, for a server that is shutting down: it answers no session
    /// from memory from now on, and its row goes, so that other servers' logouts stop waiting
    /// for it at once rather than when its lease would have run out.
    pub async fn release(&self) -> sqlx::Result<()> {
        let mut released = self.released.lock().await;
        *released = true;
        self.accounts.trust_until(None);
        tokio::time::timeout(
            QUERY_TIMEOUT,
            sqlx::query("DELETE FROM server_leases WHERE instance = $1")
                .bind(self.instance)
                .execute(&self.pool),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map(|_| ())
    }

    /// Moves this server's lease to one from now, with a fence that starts it once heard.
    async fn renew(&self) -> sqlx::Result<()> {
        let released = self.released.lock().await;
        if *released {
            return Ok(());
        }
        let number = {
            let mut state = self.state();
            let number = state.take_number();
            let sent_at = Instant::now();
            // A fence not heard within a lease never will be (its connection was lost).
            state
                .fences
                .retain(|(_, sent)| sent_at.duration_since(*sent) < self.lease);
            state.fences.push_back((number, sent_at));
            number
        };
        tokio::time::timeout(
            QUERY_TIMEOUT,
            sqlx::query(
                "WITH renewed AS ( \
                     INSERT INTO server_leases (instance, expires_at) \
                     VALUES ($1, clock_timestamp() + make_interval(secs => $2)) \
                     ON CONFLICT (instance) DO UPDATE SET expires_at = EXCLUDED.expires_at \
                     RETURNING instance) \
                 SELECT pg_notify($3, $4) FROM renewed",
            )
            .bind(self.instance)
            .bind(self.lease.as_secs_f64())
            .bind(SESSIONS_CHANNEL)
            .bind(format!("fence:{}:{number}", self.instance))
            .execute(&self.pool),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map(|_| ())
    }

    /// Handles what the listener hears, for as long as the runtime runs.
    async fn listen(self: Arc<Self>, mut listener: ChannelListener, log: slog::Logger) {
        loop {
            match listener.next().await {
                Heard::Notification(payload) => match Message::parse(&payload) {
                    Some(message) => self.handle(message),
                    None => {
                        slog::warn!(log, "an unreadable message on the sessions channel"; "message" => payload)
                    }
                },
                Heard::Resubscribed => {
                    self.accounts.trust_until(None);
                    self.accounts.revoke_every_session();
                    slog::info!(
                        log,
                        "listening for session removals again; every kept session forgotten"
                    );
                }
                Heard::Lost(reason) => {
                    self.accounts.trust_until(None);
                    slog::warn!(log, "the session listener lost its connection; sessions are read from the database until it is back";
                        "error" => reason);
                }
            }
        }
    }

    fn handle(self: &Arc<Self>, message: Message) {
        match message {
            Message::Revoked(token_hash) => self.accounts.revoke_session(&token_hash),
            Message::RevokedAll => self.accounts.revoke_every_session(),
            Message::Fence { instance, number } if instance == self.instance => {
                let mut state = self.state();
                while let Some(&(sent, sent_at)) = state.fences.front() {
                    if sent > number {
                        break;
                    }
                    state.fences.pop_front();
                    if sent == number {
                        let end = (sent_at + self.lease).checked_sub(CLOCK_MARGIN);
                        self.accounts.trust_until(end);
                        self.first_lease.send_replace(true);
                    }
                }
            }
            Message::AcknowledgementRequested { instance, number } if instance != self.instance => {
                // Everything notified before the request has been handled: this task handles
                // notifications one by one, in the order they were committed.
                let leases = Arc::clone(self);
                tokio::spawn(async move {
                    let _ = leases
                        .notify(format!("ack:{instance}:{number}:{}", leases.instance))
                        .await;
                });
            }
            Message::Acknowledged {
                instance,
                number,
                by,
            } if instance == self.instance => {
                let mut state = self.state();
                if let Some(wait) = state.waits.get_mut(&number) {
                    wait.unacknowledged.remove(&by);
                    if wait.unacknowledged.is_empty()
                        && let Some(done) = wait.done.take()
                    {
                        let _ = done.send(());
                    }
                }
            }
            // Other servers' fences, requests and acknowledgements.
            Message::Fence { .. }
            | Message::AcknowledgementRequested { .. }
            | Message::Acknowledged { .. } => {}
        }
    }
}

impl LeaseState {
    fn take_number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::tokens::hash_token;

    #[test]
    fn every_kind_of_message_reads_back_and_malformed_ones_are_refused() {
        let instance = Uuid::new_v4();
        let by = Uuid::new_v4();
        let token_hash = hash_token("token");
        assert_eq!(
            Message::parse(&format!("revoked:{}", token_hash.to_hex())),
            Some(Message::Revoked(token_hash))
        );
        assert_eq!(Message::parse("revoked-all"), Some(Message::RevokedAll));
        assert_eq!(
            Message::parse(&format!("fence:{instance}:7")),
            Some(Message::Fence {
                instance,
                number: 7
            })
        );
        assert_eq!(
            Message::parse(&format!("ack-requested:{instance}:8")),
            Some(Message::AcknowledgementRequested {
                instance,
                number: 8
            })
        );
        assert_eq!(
            Message::parse(&format!("ack:{instance}:9:{by}")),
            Some(Message::Acknowledged {
                instance,
                number: 9,
                by
            })
        );
        for malformed in [
            "",
            "revoked:abc",
            "fence:not-a-uuid:1",
            &format!("fence:{instance}:x"),
            &format!("ack:{instance}:9"),
            "something-else:1",
        ] {
            assert_eq!(Message::parse(malformed), None, "{malformed:?}");
        }
    }
}
