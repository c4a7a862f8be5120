//! A read-through cache in front of any store: of the leaderboards, and (through
//! [`AccountCache`]) of players and sessions, the latter on a shared store only under a lease
//! ([`SessionLeases`]). Each board (a mode or both, every score or only verified ones) is read
//! once as its best [`BOARD_LENGTH`] entries and shared by every reader until a score is written
//! through this store or the board is older than its time to live.
//!
//! Reads of the best scores are the hottest path of the API, and on SQLite or PostgreSQL each is
//! a query; the cache makes them cost what the in-memory store costs. Writes through this
//! process drop the boards at once. Writes through another process on the same database
//! (several instances on PostgreSQL) cannot be seen here: the database notifies them
//! (`board_changes.rs`), and the server calls [`CachedStore::invalidate`] for each. A board is
//! never kept longer than its time to live (`--leaderboard-cache-ms`) all the same: that bounds
//! how stale another instance's write can leave it when a change notification is lost.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::rate_limit::{RateLimiter, Refused};
use crate::accounts::tokens::TokenHash;
use crate::error::Result;
use crate::model::{FinishedGame, ScoreEntry, ScoreFilter, SessionRecord, StoredPlayer};
use crate::store::Store;
use crate::store::account_cache::AccountCache;
use crate::store::session_leases::SessionLeases;

/// The longest board a read may ask for (the contract's largest `limit`).
pub const BOARD_LENGTH: usize = 100;

/// How long a board is kept when nothing invalidates it, unless configured otherwise.
pub const BOARD_TIME_TO_LIVE: Duration = Duration::from_secs(1);

/// One board as read from the store, best first, with when it was read.
struct CachedBoard {
    entries: Arc<[ScoreEntry]>,
    read_at: Instant,
}

/// One read of a board from the store, and its outcome once it is in.
type Refill = tokio::sync::OnceCell<Result<Arc<[ScoreEntry]>>>;

/// A store whose leaderboard, player and session reads are cached; every other call goes
/// straight through.
pub struct CachedStore {
    inner: Arc<dyn Store>,
    accounts: Arc<AccountCache>,
    /// On a store several servers share: the lease under which sessions are kept, which every
    /// change to the sessions through this store waits on.
    session_leases: Option<Arc<SessionLeases>>,
    boards: RwLock<HashMap<ScoreFilter, CachedBoard>>,
    /// The read of each board under way, which every reader that misses the board shares: one
    /// query instead of one per reader, and one board, whose encoding the HTTP edge then reuses.
    /// Dropped by every invalidation, so a reader that comes after a write never shares a read
    /// that began before it.
    refills: std::sync::Mutex<HashMap<ScoreFilter, Arc<Refill>>>,
    /// Counts the writes that invalidate boards, so a board read while a score was being written
    /// is not kept as if it were current.
    writes: std::sync::atomic::AtomicU64,
    time_to_live: Duration,
}

impl CachedStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self::with_time_to_live(inner, BOARD_TIME_TO_LIVE)
    }

    pub fn with_time_to_live(inner: Arc<dyn Store>, time_to_live: Duration) -> Self {
        Self {
            accounts: Arc::new(AccountCache::new(inner.is_sole_writer())),
            session_leases: None,
            inner,
            boards: RwLock::new(HashMap::new()),
            refills: std::sync::Mutex::new(HashMap::new()),
            writes: std::sync::atomic::AtomicU64::new(0),
            time_to_live,
        }
    }

    /// Keeps sessions under `leases` (a store several servers share): they are answered from
    /// its cache while the lease holds, and every change to the sessions waits for the other
    /// servers.
    pub fn with_session_leases(mut self, leases: Arc<SessionLeases>) -> Self {
        self.accounts = Arc::clone(leases.accounts());
        self.session_leases = Some(leases);
        self
    }

    /// Once a change to the sessions has committed: waits until no other server answers a
    /// session it removed (see `session_leases.rs`).
    async fn wait_for_other_servers(&self) {
        if let Some(leases) = &self.session_leases {
            leases.wait_for_other_servers().await;
        }
    }

    /// Drops every cached board, for a write this store did not see (another instance's, told
    /// by a change notification).
    pub fn invalidate(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        self.boards
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.refills
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// The read of `filter`'s board under way, or a new one.
    fn refill_of(&self, filter: ScoreFilter) -> Arc<Refill> {
        let mut refills = self.refills.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(refills.entry(filter).or_default())
    }

    /// Reads `filter`'s board from the store and keeps it, unless a write came in between.
    async fn read_board(&self, filter: ScoreFilter) -> Result<Arc<[ScoreEntry]>> {
        let writes_before = self.writes.load(std::sync::atomic::Ordering::Acquire);
        let entries: Arc<[ScoreEntry]> = self.inner.top_scores(filter, BOARD_LENGTH).await?.into();
        let mut boards = self.boards.write().unwrap_or_else(PoisonError::into_inner);
        // A write that landed during the read may be missing from it: answer with what was
        // read, but keep it only if no write came in between.
        if self.writes.load(std::sync::atomic::Ordering::Acquire) == writes_before {
            boards.insert(
                filter,
                CachedBoard {
                    entries: Arc::clone(&entries),
                    read_at: Instant::now(),
                },
            );
        }
        Ok(entries)
    }

    fn cached(&self, filter: ScoreFilter) -> Option<Arc<[ScoreEntry]>> {
        let boards = self.boards.read().unwrap_or_else(PoisonError::into_inner);
        let board = boards.get(&filter)?;
        (board.read_at.elapsed() < self.time_to_live).then(|| Arc::clone(&board.entries))
    }
}

#[async_trait]
impl Store for CachedStore {
    async fn create_player(&self, player: StoredPlayer) -> Result<()> {
        self.inner.create_player(player).await
    }

    async fn player_by_email(&self, email: &str) -> Result<Option<StoredPlayer>> {
        self.inner.player_by_email(email).await
    }

    async fn player_by_username(&self, username: &str) -> Result<Option<StoredPlayer>> {
        self.inner.player_by_username(username).await
    }

    async fn player_by_id(&self, id: Uuid) -> Result<Option<StoredPlayer>> {
        if let Some(player) = self.accounts.player(id) {
            return Ok(Some(player));
        }
        let player = self.inner.player_by_id(id).await?;
        if let Some(player) = &player {
            self.accounts.keep_player(player);
        }
        Ok(player)
    }

    async fn insert_session(&self, session: SessionRecord, max_per_player: usize) -> Result<()> {
        let player_id = session.player_id;
        let result = self.inner.insert_session(session, max_per_player).await;
        // Whatever the answer, the store may have pushed older sessions of the player out.
        self.accounts.revoke_sessions_of(player_id);
        if result.is_ok() {
            self.wait_for_other_servers().await;
        }
        result
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        let read = match self.accounts.session(token_hash) {
            Ok(kept) => return Ok(Some(kept)),
            Err(read) => read,
        };
        let session = self.inner.session(token_hash).await?;
        if let (Some(read), Some(session)) = (read, &session) {
            self.accounts.keep_session(read, session);
        }
        Ok(session)
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool> {
        let result = self.inner.delete_session(token_hash).await;
        // Forgotten even when the store failed: the next lookup asks the store again.
        self.accounts.revoke_session(token_hash);
        if result == Ok(true) {
            self.wait_for_other_servers().await;
        }
        result
    }

    async fn insert_score(&self, entry: ScoreEntry) -> Result<()> {
        let result = self.inner.insert_score(entry).await;
        self.invalidate();
        result
    }

    async fn insert_scores(&self, entries: Vec<ScoreEntry>) -> Result<()> {
        let result = self.inner.insert_scores(entries).await;
        self.invalidate();
        result
    }

    async fn top_scores(&self, filter: ScoreFilter, limit: usize) -> Result<Vec<ScoreEntry>> {
        if limit > BOARD_LENGTH {
            return self.inner.top_scores(filter, limit).await;
        }
        let board = self.top_board(filter).await?;
        Ok(board.iter().take(limit).cloned().collect())
    }

    async fn top_board(&self, filter: ScoreFilter) -> Result<Arc<[ScoreEntry]>> {
        if let Some(board) = self.cached(filter) {
            return Ok(board);
        }
        let refill = self.refill_of(filter);
        let outcome = refill.get_or_init(|| self.read_board(filter)).await.clone();
        // The next miss starts a read of its own (unless an invalidation already dropped it).
        let mut refills = self.refills.lock().unwrap_or_else(PoisonError::into_inner);
        if refills
            .get(&filter)
            .is_some_and(|current| Arc::ptr_eq(current, &refill))
        {
            refills.remove(&filter);
        }
        outcome
    }

    async fn record_finished_game(
        &self,
        game: FinishedGame,
        entry: Option<ScoreEntry>,
    ) -> Result<()> {
        let result = self.inner.record_finished_game(game, entry).await;
        self.invalidate();
        result
    }

    async fn finished_game(&self, id: Uuid) -> Result<Option<FinishedGame>> {
        self.inner.finished_game(id).await
    }

    async fn verified_score_of_game(&self, game_id: Uuid) -> Result<Option<ScoreEntry>> {
        self.inner.verified_score_of_game(game_id).await
    }

    async fn prune_finished_games(
        &self,
        ended_before: DateTime<Utc>,
        keep_best_per_mode: usize,
    ) -> Result<u64> {
        // Scores stay on the leaderboard when their games are pruned: the boards are unchanged.
        self.inner
            .prune_finished_games(ended_before, keep_best_per_mode)
            .await
    }

    async fn holds_no_data(&self) -> Result<bool> {
        self.inner.holds_no_data().await
    }

    async fn seed_if_empty(
        &self,
        players: Vec<StoredPlayer>,
        scores: Vec<ScoreEntry>,
    ) -> Result<bool> {
        let seeded = self.inner.seed_if_empty(players, scores).await;
        self.invalidate();
        seeded
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }

    fn shares_rate_limits(&self) -> bool {
        self.inner.shares_rate_limits()
    }

    async fn admit_shared_event(
        &self,
        limit_name: &'static str,
        key: &str,
        limit: &RateLimiter,
    ) -> Result<std::result::Result<(), Refused>> {
        self.inner.admit_shared_event(limit_name, key, limit).await
    }

    async fn refund_shared_event(
        &self,
        limit_name: &'static str,
        key: &str,
        limit: &RateLimiter,
    ) -> Result<()> {
        self.inner.refund_shared_event(limit_name, key, limit).await
    }

    fn instance_bus(&self) -> Option<Arc<dyn crate::store::InstanceBus>> {
        self.inner.instance_bus()
    }

    async fn leave(&self) {
        if let Some(leases) = &self.session_leases {
            // A lease not given up only costs other servers' logouts a wait until it runs out.
            let _ = leases.release().await;
        }
        self.inner.leave().await;
    }

    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    fn is_sole_writer(&self) -> bool {
        self.inner.is_sole_writer()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::{GameMode, PlayerProfile};
    use crate::store::MemoryStore;

    fn player() -> PlayerProfile {
        PlayerProfile {
            id: Uuid::new_v4(),
            username: "cached_player".to_owned(),
            email: "cached@example.com".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_kept_session_is_gone_at_once_after_logout_and_after_the_cap_pushes_it_out() {
        use crate::store::fixtures::{player as stored_player, session_of};
        let store = CachedStore::new(Arc::new(MemoryStore::new()));
        assert!(store.is_sole_writer());
        let owner = stored_player("capped", "capped@example.com");
        store.create_player(owner.clone()).await.unwrap();
        let first = session_of(owner.profile.id, "first");
        store.insert_session(first.clone(), 1).await.unwrap();
        assert_eq!(
            store.session(&first.token_hash).await.unwrap(),
            Some(first.clone())
        );
        assert_eq!(
            store.player_by_id(owner.profile.id).await.unwrap(),
            Some(owner.clone())
        );

        // The cap of one session: the second pushes the first (kept here) out.
        let second = session_of(owner.profile.id, "second");
        store.insert_session(second.clone(), 1).await.unwrap();
        assert_eq!(store.session(&first.token_hash).await.unwrap(), None);
        assert_eq!(
            store.session(&second.token_hash).await.unwrap(),
            Some(second.clone())
        );

        assert!(store.delete_session(&second.token_hash).await.unwrap());
        assert_eq!(store.session(&second.token_hash).await.unwrap(), None);
    }

    #[tokio::test]
    async fn readers_share_one_board_until_a_score_is_written_through_the_store() {
        let store = CachedStore::new(Arc::new(MemoryStore::new()));
        let player = player();
        store
            .insert_score(ScoreEntry::self_reported(
                &player,
                10,
                GameMode::Walls,
                Utc::now(),
            ))
            .await
            .unwrap();
        let filter = ScoreFilter::mode(Some(GameMode::Walls));
        let first = store.top_board(filter).await.unwrap();
        let second = store.top_board(filter).await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &second),
            "the second read is the cached board"
        );

        store
            .insert_score(ScoreEntry::self_reported(
                &player,
                20,
                GameMode::Walls,
                Utc::now(),
            ))
            .await
            .unwrap();
        let after = store.top_scores(filter, 10).await.unwrap();
        assert_eq!(
            after.iter().map(|entry| entry.score).collect::<Vec<_>>(),
            [20, 10]
        );
    }

    #[tokio::test]
    async fn a_write_another_process_made_shows_once_the_board_is_older_than_its_time_to_live() {
        let inner = Arc::new(MemoryStore::new());
        let store =
            CachedStore::with_time_to_live(Arc::clone(&inner) as Arc<dyn Store>, Duration::ZERO);
        let filter = ScoreFilter::mode(None);
        assert!(store.top_board(filter).await.unwrap().is_empty());
        // Written around the cache, as another instance would write to a shared database.
        inner
            .insert_score(ScoreEntry::self_reported(
                &player(),
                30,
                GameMode::Walls,
                Utc::now(),
            ))
            .await
            .unwrap();
        assert_eq!(store.top_board(filter).await.unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_that_miss_a_board_together_share_one_read_of_the_store() {
        // A store whose reads take a trip to another thread, so that misses overlap.
        let directory = std::env::temp_dir().join(format!(
            "snake-arena-cached-unit-{}-{}",
            std::process::id(),
            Uuid::new_v4()
        ));
        std::fs::create_dir_all(&directory).unwrap();
        let inner = crate::store::SqliteStore::open(&directory.join("store.sqlite3"))
            .await
            .unwrap();
        let store = Arc::new(CachedStore::new(Arc::new(inner)));
        let filter = ScoreFilter::mode(Some(GameMode::Walls));
        for round in 0..5 {
            store.invalidate();
            let readers: Vec<_> = (0..16)
                .map(|_| {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move { store.top_board(filter).await.unwrap() })
                })
                .collect();
            let mut boards = Vec::new();
            for reader in readers {
                boards.push(reader.await.unwrap());
            }
            assert!(
                boards.iter().all(|board| Arc::ptr_eq(board, &boards[0])),
                "round {round}: every reader got the one board read"
            );
        }
        let _ = std::fs::remove_dir_all(&directory);
    }

    #[tokio::test]
    async fn a_reader_after_a_write_does_not_share_a_read_that_began_before_it() {
        let inner = Arc::new(MemoryStore::new());
        let store = CachedStore::new(Arc::clone(&inner) as Arc<dyn Store>);
        let filter = ScoreFilter::mode(Some(GameMode::Walls));
        // A read under way, as a reader that missed the board left it.
        let before = store.refill_of(filter);
        store
            .insert_score(ScoreEntry::self_reported(
                &player(),
                40,
                GameMode::Walls,
                Utc::now(),
            ))
            .await
            .unwrap();
        let after = store.refill_of(filter);
        assert!(!Arc::ptr_eq(&before, &after), "the write dropped it");
        assert_eq!(store.top_board(filter).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn invalidate_drops_every_board() {
        let inner = Arc::new(MemoryStore::new());
        let store = CachedStore::new(Arc::clone(&inner) as Arc<dyn Store>);
        let filter = ScoreFilter::verified(None);
        let before = store.top_board(filter).await.unwrap();
        store.invalidate();
        let after = store.top_board(filter).await.unwrap();
        assert!(!Arc::ptr_eq(&before, &after));
    }
}
