//! Players and sessions kept in memory in front of a durable store, so that an authenticated
//! request (`GET /api/auth/me`, a score submission) does not cost two database reads.
//!
//! Players are never changed or deleted once created, so a player read once stays true on every
//! backend, several servers on PostgreSQL included. Sessions are revoked (logout, expiry, the
//! per-player cap), and a revocation must take effect at once. Kept sessions are answered from
//! here in two cases: when this process makes every change to the store
//! (`Store::is_sole_writer`), so that every revocation passes through here; and, on a store
//! several servers share, while this server holds a lease on answering them
//! ([`SessionTrust::Leased`], kept by `session_leases.rs`), during which it hears every
//! revocation and every logout waits for it. Outside its lease a server reads every session
//! from the store.
//!
//! A session read from the store while it was being revoked must not be kept after the
//! revocation: every revocation bumps a counter under the same lock that guards the map, and a
//! read is kept only if the counter has not moved since the read began.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};
use std::time::Instant;

use uuid::Uuid;

use crate::accounts::tokens::TokenHash;
use crate::model::{SessionRecord, StoredPlayer};

/// Entries of each map at most; when full, the map starts again empty (an occasional extra
/// database read, and no bookkeeping per read).
const MOST_ENTRIES: usize = 100_000;

pub struct AccountCache {
    players: RwLock<HashMap<Uuid, StoredPlayer>>,
    /// `None` when the store has other writers and sessions must be read from it every time.
    sessions: Option<RwLock<Sessions>>,
    trust: SessionTrust,
}

/// When kept sessions may be answered.
pub enum SessionTrust {
    /// Always: this process makes every change to the store.
    Always,
    /// Until a deadline that the lease holder moves ([`AccountCache::trust_until`]); none at
    /// first.
    Leased(Deadline),
}

/// A moment as microseconds since a fixed start, so that it can be read and moved without a
/// lock; 0 is "already passed".
pub struct Deadline {
    origin: Instant,
    micros_after_origin: AtomicU64,
}

impl Deadline {
    fn new() -> Self {
        Deadline {
            origin: Instant::now(),
            micros_after_origin: AtomicU64::new(0),
        }
    }

    fn is_ahead(&self) -> bool {
        let deadline = self.micros_after_origin.load(Ordering::Acquire);
        deadline != 0 && micros_between(self.origin, Instant::now()) < deadline
    }

    fn set(&self, moment: Option<Instant>) {
        let micros = moment.map_or(0, |moment| micros_between(self.origin, moment).max(1));
        self.micros_after_origin.store(micros, Ordering::Release);
    }
}

fn micros_between(origin: Instant, moment: Instant) -> u64 {
    u64::try_from(moment.saturating_duration_since(origin).as_micros()).unwrap_or(u64::MAX)
}

#[derive(Default)]
struct Sessions {
    by_token: HashMap<TokenHash, SessionRecord>,
    /// Revocations so far (see the module's comment).
    revocations: u64,
}

/// What a session lookup needs to keep its answer: the revocation count when it started.
#[derive(Clone, Copy)]
pub struct SessionRead {
    revocations_at_start: u64,
}

impl AccountCache {
    pub fn new(keeps_sessions: bool) -> Self {
        AccountCache {
            players: RwLock::new(HashMap::new()),
            sessions: keeps_sessions.then(|| RwLock::new(Sessions::default())),
            trust: SessionTrust::Always,
        }
    }

    /// A cache that keeps sessions but answers them only until the deadline its lease holder
    /// sets with [`AccountCache::trust_until`].
    pub fn leased() -> Self {
        AccountCache {
            players: RwLock::new(HashMap::new()),
            sessions: Some(RwLock::new(Sessions::default())),
            trust: SessionTrust::Leased(Deadline::new()),
        }
    }

    /// Kept sessions are answered until `moment` (`None`: from now on, not at all); only for a
    /// [`AccountCache::leased`] cache.
    pub fn trust_until(&self, moment: Option<Instant>) {
        if let SessionTrust::Leased(deadline) = &self.trust {
            deadline.set(moment);
        }
    }

    fn answers_kept_sessions(&self) -> bool {
        match &self.trust {
            SessionTrust::Always => true,
            SessionTrust::Leased(deadline) => deadline.is_ahead(),
        }
    }

    pub fn player(&self, id: Uuid) -> Option<StoredPlayer> {
        let players = self.players.read().unwrap_or_else(PoisonError::into_inner);
        players.get(&id).cloned()
    }

    pub fn keep_player(&self, player: &StoredPlayer) {
        let mut players = self.players.write().unwrap_or_else(PoisonError::into_inner);
        if players.len() >= MOST_ENTRIES {
            players.clear();
        }
        players.insert(player.profile.id, player.clone());
    }

    /// The kept session, or what a lookup in the store must hand to [`AccountCache::keep_session`]
    /// (`None` when sessions are not kept at all).
    pub fn session(
        &self,
        token_hash: &TokenHash,
    ) -> std::result::Result<SessionRecord, Option<SessionRead>> {
        let Some(sessions) = &self.sessions else {
            return Err(None);
        };
        let sessions = sessions.read().unwrap_or_else(PoisonError::into_inner);
        let kept = self
            .answers_kept_sessions()
            .then(|| sessions.by_token.get(token_hash))
            .flatten();
        match kept {
            Some(session) => Ok(session.clone()),
            // Outside a lease the store is asked, and what it says is still kept: every
            // revocation is still heard, so it is current when the next lease begins.
            None => Err(Some(SessionRead {
                revocations_at_start: sessions.revocations,
            })),
        }
    }

    /// Keeps a session the store returned, unless a revocation happened since `read` began.
    pub fn keep_session(&self, read: SessionRead, session: &SessionRecord) {
        let Some(sessions) = &self.sessions else {
            return;
        };
        let mut sessions = sessions.write().unwrap_or_else(PoisonError::into_inner);
        if sessions.revocations != read.revocations_at_start {
            return;
        }
        if sessions.by_token.len() >= MOST_ENTRIES {
            sessions.by_token.clear();
        }
        sessions
            .by_token
            .insert(session.token_hash, session.clone());
    }

    /// Forgets one session (logout, expiry). Called after the store deleted it, so a lookup
    /// that starts later reads the store's answer, and one under way is not kept.
    pub fn revoke_session(&self, token_hash: &TokenHash) {
        self.revoke(|by_token| {
            by_token.remove(token_hash);
        });
    }

    /// Forgets every session of a player: a new session may have pushed older ones out under
    /// the per-player cap, and which ones only the store knows.
    pub fn revoke_sessions_of(&self, player_id: Uuid) {
        self.revoke(|by_token| by_token.retain(|_, session| session.player_id != player_id));
    }

    /// Forgets every session, for when revocations may have been missed (the listener lost its
    /// connection).
    pub fn revoke_every_session(&self) {
        self.revoke(HashMap::clear);
    }

    fn revoke(&self, forget: impl FnOnce(&mut HashMap<TokenHash, SessionRecord>)) {
        let Some(sessions) = &self.sessions else {
            return;
        };
        let mut sessions = sessions.write().unwrap_or_else(PoisonError::into_inner);
        sessions.revocations += 1;
        forget(&mut sessions.by_token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::tokens::hash_token;
    use crate::store::fixtures::{player, session_of};

    #[test]
    fn a_session_read_before_a_revocation_is_not_kept_after_it() {
        let cache = AccountCache::new(true);
        let session = session_of(Uuid::new_v4(), "token");
        let Err(Some(read)) = cache.session(&session.token_hash) else {
            panic!("nothing is kept yet");
        };
        cache.revoke_session(&session.token_hash);
        cache.keep_session(read, &session);
        assert!(cache.session(&session.token_hash).is_err());

        let Err(Some(read)) = cache.session(&session.token_hash) else {
            panic!("still nothing kept");
        };
        cache.keep_session(read, &session);
        assert_eq!(cache.session(&session.token_hash).ok(), Some(session));
    }

    #[test]
    fn revoking_a_players_sessions_forgets_them_all_and_only_theirs() {
        let cache = AccountCache::new(true);
        let owner = Uuid::new_v4();
        let sessions = [
            session_of(owner, "first"),
            session_of(owner, "second"),
            session_of(Uuid::new_v4(), "other"),
        ];
        for session in &sessions {
            let Err(Some(read)) = cache.session(&session.token_hash) else {
                panic!("not kept yet");
            };
            cache.keep_session(read, session);
        }
        cache.revoke_sessions_of(owner);
        assert!(cache.session(&hash_token("first")).is_err());
        assert!(cache.session(&hash_token("second")).is_err());
        assert!(cache.session(&hash_token("other")).is_ok());
    }

    #[test]
    fn a_leased_cache_answers_kept_sessions_only_while_its_deadline_is_ahead() {
        let cache = AccountCache::leased();
        let session = session_of(Uuid::new_v4(), "token");
        let Err(Some(read)) = cache.session(&session.token_hash) else {
            panic!("nothing is kept yet");
        };
        cache.keep_session(read, &session);
        assert!(
            cache.session(&session.token_hash).is_err(),
            "no lease yet: the store is asked"
        );
        cache.trust_until(Some(Instant::now() + std::time::Duration::from_secs(60)));
        assert_eq!(
            cache.session(&session.token_hash).ok(),
            Some(session.clone())
        );
        cache.trust_until(Some(Instant::now() - std::time::Duration::from_millis(1)));
        assert!(
            cache.session(&session.token_hash).is_err(),
            "the lease ran out"
        );
        cache.trust_until(Some(Instant::now() + std::time::Duration::from_secs(60)));
        cache.revoke_every_session();
        assert!(
            cache.session(&session.token_hash).is_err(),
            "forgotten with every other session"
        );
    }

    #[test]
    fn without_sole_writing_no_session_is_kept_but_players_are() {
        let cache = AccountCache::new(false);
        let session = session_of(Uuid::new_v4(), "token");
        assert!(matches!(cache.session(&session.token_hash), Err(None)));
        let stored = player("kept", "kept@example.com");
        cache.keep_player(&stored);
        assert_eq!(cache.player(stored.profile.id), Some(stored));
    }
}
