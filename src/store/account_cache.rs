//! Players and sessions kept in memory in front of a durable store, so that an authenticated
//! request (`GET /api/auth/me`, a score submission) does not cost two database reads.
//!
//! Players are never changed or deleted once created, so a player read once stays true on every
//! backend, several servers on PostgreSQL included. Sessions are revoked (logout, expiry, the
//! per-player cap), and a revocation must take effect at once: they are kept only when this
//! process makes every change to the store (`Store::is_sole_writer`), so that every revocation
//! passes through here.
//!
//! A session read from the store while it was being revoked must not be kept after the
//! revocation: every revocation bumps a counter under the same lock that guards the map, and a
//! read is kept only if the counter has not moved since the read began.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

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
        match sessions.by_token.get(token_hash) {
            Some(session) => Ok(session.clone()),
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
    fn without_sole_writing_no_session_is_kept_but_players_are() {
        let cache = AccountCache::new(false);
        let session = session_of(Uuid::new_v4(), "token");
        assert!(matches!(cache.session(&session.token_hash), Err(None)));
        let stored = player("kept", "kept@example.com");
        cache.keep_player(&stored);
        assert_eq!(cache.player(stored.profile.id), Some(stored));
    }
}
