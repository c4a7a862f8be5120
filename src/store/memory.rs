//! An in-memory `Store` behind std `RwLock`s, with per-mode ordered score indexes (and a second
//! set for verified scores) so top-N reads never scan every score.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::accounts::tokens::TokenHash;
use crate::error::{Error, Result};
use crate::model::{FinishedGame, GameMode, ScoreEntry, ScoreFilter, SessionRecord, StoredPlayer};
use crate::store::{Store, check_score_provenance, comparison_key};

/// A store that lives only as long as the process; used for development and tests.
///
/// Every lock is taken and released inside one synchronous block, never across an `.await`.
#[derive(Default)]
pub struct MemoryStore {
    players: RwLock<PlayerTable>,
    sessions: RwLock<SessionTable>,
    scores: RwLock<ScoreIndex>,
    finished_games: RwLock<HashMap<Uuid, RecordedGame>>,
}

/// A finished game and the verified score recorded with it, if any.
struct RecordedGame {
    game: FinishedGame,
    verified_score: Option<ScoreEntry>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

/// Players plus the two case-insensitive unique indexes, under one lock so that checking
/// uniqueness and inserting are a single atomic step.
#[derive(Default)]
struct PlayerTable {
    players_by_id: HashMap<Uuid, StoredPlayer>,
    player_id_by_email_key: HashMap<String, Uuid>,
    player_id_by_username_key: HashMap<String, Uuid>,
}

/// Sessions by token hash, and each player's token hashes oldest first, under one lock so the
/// per-player cap and the table never disagree.
#[derive(Default)]
struct SessionTable {
    by_token_hash: HashMap<TokenHash, SessionRecord>,
    token_hashes_by_player: HashMap<Uuid, VecDeque<TokenHash>>,
}

impl SessionTable {
    fn remove(&mut self, token_hash: &TokenHash) -> bool {
        let Some(session) = self.by_token_hash.remove(token_hash) else {
            return false;
        };
        if let Some(hashes) = self.token_hashes_by_player.get_mut(&session.player_id) {
            hashes.retain(|hash| hash != token_hash);
            if hashes.is_empty() {
                self.token_hashes_by_player.remove(&session.player_id);
            }
        }
        true
    }
}

/// The position of a score on the leaderboard; ordering by it gives best first, then earlier,
/// then smaller id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct LeaderboardRank {
    score_descending: Reverse<u32>,
    recorded_at: DateTime<Utc>,
    id: Uuid,
}

/// What a score keeps besides its rank (which holds its points, time and id) and its mode
/// (which is the index it is in).
struct RankedScore {
    player_id: Uuid,
    username: Arc<str>,
}

/// One ordered index per game mode, so the top N of a mode are its first N entries, and one
/// copy of each player's username that all their scores share.
///
/// A stored score costs its rank (32 bytes) and a `RankedScore` (32 bytes) in a B-tree node,
/// about 90 bytes with the nodes' slack; `cargo xtask bench` measures it at 10^6 scores.
///
/// Verified scores are in `entries_by_mode` like every score and, besides, in
/// `verified_games_by_mode` under the same rank with their game's id, so a verified-only read
/// walks only verified scores and a self-reported score costs nothing more than before.
#[derive(Default)]
struct ScoreIndex {
    /// Indexed by `mode_index`.
    entries_by_mode: [BTreeMap<LeaderboardRank, RankedScore>; GameMode::ALL.len()],
    /// The verified scores' game ids by rank, indexed by `mode_index`.
    verified_games_by_mode: [BTreeMap<LeaderboardRank, Uuid>; GameMode::ALL.len()],
    usernames_by_player: HashMap<Uuid, Arc<str>>,
}

fn mode_index(mode: GameMode) -> usize {
    match mode {
        GameMode::Walls => 0,
        GameMode::PassThrough => 1,
    }
}

impl ScoreIndex {
    fn insert(&mut self, entry: ScoreEntry) {
        let username = match self.usernames_by_player.get(&entry.player_id) {
            Some(known) if *known == entry.username => Arc::clone(known),
            _ => {
                self.usernames_by_player
                    .insert(entry.player_id, Arc::clone(&entry.username));
                entry.username
            }
        };
        let rank = LeaderboardRank {
            score_descending: Reverse(entry.score),
            recorded_at: entry.recorded_at,
            id: entry.id,
        };
        if let Some(game_id) = entry.game_id {
            self.verified_games_by_mode[mode_index(entry.mode)].insert(rank, game_id);
        }
        self.entries_by_mode[mode_index(entry.mode)].insert(
            rank,
            RankedScore {
                player_id: entry.player_id,
                username,
            },
        );
    }

    /// The best `limit` of one mode that the filter admits, best first, as entries with their
    /// ranks for merging modes.
    fn best_of_mode(
        &self,
        mode: GameMode,
        verified_only: bool,
        limit: usize,
    ) -> Vec<(LeaderboardRank, ScoreEntry)> {
        let entries = &self.entries_by_mode[mode_index(mode)];
        let verified_games = &self.verified_games_by_mode[mode_index(mode)];
        if verified_only {
            verified_games
                .iter()
                .take(limit)
                .filter_map(|(rank, game_id)| {
                    let score = entries.get(rank)?;
                    Some((*rank, score_entry(rank, score, mode, Some(*game_id))))
                })
                .collect()
        } else {
            entries
                .iter()
                .take(limit)
                .map(|(rank, score)| {
                    let game_id = verified_games.get(rank).copied();
                    (*rank, score_entry(rank, score, mode, game_id))
                })
                .collect()
        }
    }
}

/// A stored score as the domain sees it; a score is verified exactly when it has a game.
fn score_entry(
    rank: &LeaderboardRank,
    score: &RankedScore,
    mode: GameMode,
    game_id: Option<Uuid>,
) -> ScoreEntry {
    ScoreEntry {
        id: rank.id,
        player_id: score.player_id,
        username: Arc::clone(&score.username),
        score: rank.score_descending.0,
        mode,
        recorded_at: rank.recorded_at,
        verified: game_id.is_some(),
        game_id,
    }
}

// A poisoned lock only means another thread panicked while holding it; every critical section
// here leaves the data consistent at each step, so the data is still usable and recovering keeps
// one bug from turning into every later request failing.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_player(&self, player: StoredPlayer) -> Result<()> {
        let email_key = comparison_key(&player.profile.email);
        let username_key = comparison_key(&player.profile.username);
        let mut players = write(&self.players);
        if players.player_id_by_email_key.contains_key(&email_key) {
            return Err(Error::EmailTaken);
        }
        if players
            .player_id_by_username_key
            .contains_key(&username_key)
        {
            return Err(Error::UsernameTaken);
        }
        if players.players_by_id.contains_key(&player.profile.id) {
            return Err(Error::Internal(
                "a player with this id already exists".to_string(),
            ));
        }
        let player_id = player.profile.id;
        players.player_id_by_email_key.insert(email_key, player_id);
        players
            .player_id_by_username_key
            .insert(username_key, player_id);
        players.players_by_id.insert(player_id, player);
        Ok(())
    }

    async fn player_by_email(&self, email: &str) -> Result<Option<StoredPlayer>> {
        let players = read(&self.players);
        Ok(players
            .player_id_by_email_key
            .get(&comparison_key(email))
            .and_then(|player_id| players.players_by_id.get(player_id))
            .cloned())
    }

    async fn player_by_username(&self, username: &str) -> Result<Option<StoredPlayer>> {
        let players = read(&self.players);
        Ok(players
            .player_id_by_username_key
            .get(&comparison_key(username))
            .and_then(|player_id| players.players_by_id.get(player_id))
            .cloned())
    }

    async fn player_by_id(&self, id: Uuid) -> Result<Option<StoredPlayer>> {
        Ok(read(&self.players).players_by_id.get(&id).cloned())
    }

    async fn insert_session(&self, session: SessionRecord, max_per_player: usize) -> Result<()> {
        let mut sessions = write(&self.sessions);
        let hashes = sessions
            .token_hashes_by_player
            .entry(session.player_id)
            .or_default();
        hashes.push_back(session.token_hash);
        let mut evicted = Vec::new();
        while hashes.len() > max_per_player.max(1) {
            evicted.extend(hashes.pop_front());
        }
        sessions.by_token_hash.insert(session.token_hash, session);
        for token_hash in evicted {
            sessions.by_token_hash.remove(&token_hash);
        }
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<SessionRecord>> {
        Ok(read(&self.sessions).by_token_hash.get(token_hash).cloned())
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> Result<bool> {
        Ok(write(&self.sessions).remove(token_hash))
    }

    async fn insert_score(&self, entry: ScoreEntry) -> Result<()> {
        check_score_provenance(&entry)?;
        write(&self.scores).insert(entry);
        Ok(())
    }

    async fn top_scores(&self, filter: ScoreFilter, limit: usize) -> Result<Vec<ScoreEntry>> {
        let scores = read(&self.scores);
        let top_entries = match filter.mode {
            Some(mode) => scores
                .best_of_mode(mode, filter.verified_only, limit)
                .into_iter()
                .map(|(_, entry)| entry)
                .collect(),
            None => {
                // Only the first `limit` of each mode can make the overall top `limit`.
                let mut candidates: Vec<_> = GameMode::ALL
                    .into_iter()
                    .flat_map(|mode| scores.best_of_mode(mode, filter.verified_only, limit))
                    .collect();
                candidates.sort_unstable_by_key(|(rank, _)| *rank);
                candidates
                    .into_iter()
                    .take(limit)
                    .map(|(_, entry)| entry)
                    .collect()
            }
        };
        Ok(top_entries)
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
        // Both locks are held together (always scores first), so no reader sees one without
        // the other.
        let mut scores = write(&self.scores);
        let mut finished_games = write(&self.finished_games);
        if finished_games.contains_key(&game.id) {
            return Err(Error::Internal(format!(
                "game {} is already recorded",
                game.id
            )));
        }
        if let Some(entry) = &score {
            scores.insert(entry.clone());
        }
        finished_games.insert(
            game.id,
            RecordedGame {
                game,
                verified_score: score,
            },
        );
        Ok(())
    }

    async fn finished_game(&self, id: Uuid) -> Result<Option<FinishedGame>> {
        Ok(read(&self.finished_games)
            .get(&id)
            .map(|recorded| recorded.game.clone()))
    }

    async fn verified_score_of_game(&self, game_id: Uuid) -> Result<Option<ScoreEntry>> {
        Ok(read(&self.finished_games)
            .get(&game_id)
            .and_then(|recorded| recorded.verified_score.clone()))
    }

    async fn prune_finished_games(
        &self,
        ended_before: DateTime<Utc>,
        keep_best_per_mode: usize,
    ) -> Result<u64> {
        // Scores first, then games, the order `record_finished_game` takes the locks in.
        let scores = read(&self.scores);
        let kept_for_good: std::collections::HashSet<Uuid> = GameMode::ALL
            .into_iter()
            .flat_map(|mode| scores.best_of_mode(mode, true, keep_best_per_mode))
            .filter_map(|(_, entry)| entry.game_id)
            .collect();
        let mut finished_games = write(&self.finished_games);
        let before = finished_games.len();
        finished_games.retain(|id, recorded| {
            recorded.game.ended_at >= ended_before || kept_for_good.contains(id)
        });
        Ok((before - finished_games.len()) as u64)
    }

    async fn holds_no_data(&self) -> Result<bool> {
        let no_players = read(&self.players).players_by_id.is_empty();
        let no_scores = read(&self.scores)
            .entries_by_mode
            .iter()
            .all(BTreeMap::is_empty);
        Ok(no_players && no_scores)
    }

    async fn ping(&self) -> Result<()> {
        // Memory always answers.
        Ok(())
    }

    fn backend_name(&self) -> &'static str {
        "in-memory"
    }

    fn is_sole_writer(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::accounts::tokens::hash_token;
    use crate::model::PlayerProfile;

    fn player(username: &str, email: &str) -> StoredPlayer {
        StoredPlayer {
            profile: PlayerProfile {
                id: Uuid::new_v4(),
                username: username.to_string(),
                email: email.to_string(),
            },
            password_hash: "$scrypt$placeholder".to_string(),
            created_at: Utc::now(),
        }
    }

    fn base_time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0)
            .single()
            .expect("a valid fixed date")
    }

    fn score(score: u32, mode: GameMode, minutes_after_base: i64) -> ScoreEntry {
        ScoreEntry {
            id: Uuid::new_v4(),
            player_id: Uuid::new_v4(),
            username: format!("player-{score}").into(),
            score,
            mode,
            recorded_at: base_time() + Duration::minutes(minutes_after_base),
            verified: false,
            game_id: None,
        }
    }

    async fn store_with(entries: &[ScoreEntry]) -> MemoryStore {
        let store = MemoryStore::new();
        for entry in entries {
            store.insert_score(entry.clone()).await.expect("insert");
        }
        store
    }

    fn scores_of(entries: &[ScoreEntry]) -> Vec<u32> {
        entries.iter().map(|entry| entry.score).collect()
    }

    #[tokio::test]
    async fn a_second_player_with_the_same_email_in_another_case_is_refused() {
        let store = MemoryStore::new();
        store
            .create_player(player("Alice", "alice@example.com"))
            .await
            .expect("first");
        assert_eq!(
            store
                .create_player(player("Bob", " ALICE@Example.com "))
                .await,
            Err(Error::EmailTaken)
        );
    }

    #[tokio::test]
    async fn a_second_player_with_the_same_username_in_another_case_is_refused() {
        let store = MemoryStore::new();
        store
            .create_player(player("Alice", "alice@example.com"))
            .await
            .expect("first");
        assert_eq!(
            store
                .create_player(player("aLICE", "other@example.com"))
                .await,
            Err(Error::UsernameTaken)
        );
    }

    #[tokio::test]
    async fn when_both_clash_the_email_is_reported() {
        let store = MemoryStore::new();
        store
            .create_player(player("Alice", "alice@example.com"))
            .await
            .expect("first");
        assert_eq!(
            store
                .create_player(player("alice", "Alice@example.com"))
                .await,
            Err(Error::EmailTaken)
        );
    }

    #[tokio::test]
    async fn players_are_found_by_email_and_username_ignoring_case_and_by_id() {
        let store = MemoryStore::new();
        let alice = player("Alice", "alice@example.com");
        store.create_player(alice.clone()).await.expect("create");
        assert_eq!(
            store.player_by_email("ALICE@example.COM").await,
            Ok(Some(alice.clone()))
        );
        assert_eq!(
            store.player_by_username("alice").await,
            Ok(Some(alice.clone()))
        );
        assert_eq!(
            store.player_by_id(alice.profile.id).await,
            Ok(Some(alice.clone()))
        );
        assert_eq!(store.player_by_email("bob@example.com").await, Ok(None));
        assert_eq!(store.player_by_id(Uuid::new_v4()).await, Ok(None));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn of_fifty_concurrent_creates_with_one_username_exactly_one_succeeds() {
        let store = Arc::new(MemoryStore::new());
        let mut attempts = Vec::new();
        for attempt_number in 0..50 {
            let store = Arc::clone(&store);
            attempts.push(tokio::spawn(async move {
                let username = if attempt_number % 2 == 0 {
                    "Racer"
                } else {
                    "RACER"
                };
                store
                    .create_player(player(
                        username,
                        &format!("racer{attempt_number}@example.com"),
                    ))
                    .await
            }));
        }
        let mut successes = 0;
        for attempt in attempts {
            match attempt.await.expect("no task panicked") {
                Ok(()) => successes += 1,
                Err(error) => assert_eq!(error, Error::UsernameTaken),
            }
        }
        assert_eq!(successes, 1);
    }

    #[tokio::test]
    async fn sessions_can_be_inserted_found_and_deleted_once() {
        let store = MemoryStore::new();
        let token_hash = hash_token("a token");
        let session = SessionRecord {
            token_hash,
            player_id: Uuid::new_v4(),
            expires_at: base_time(),
        };
        store
            .insert_session(session.clone(), 10)
            .await
            .expect("insert");
        assert_eq!(store.session(&token_hash).await, Ok(Some(session)));
        assert_eq!(store.delete_session(&token_hash).await, Ok(true));
        assert_eq!(store.delete_session(&token_hash).await, Ok(false));
        assert_eq!(store.session(&token_hash).await, Ok(None));
    }

    #[tokio::test]
    async fn a_players_oldest_sessions_go_when_the_cap_is_reached_and_others_are_untouched() {
        let store = MemoryStore::new();
        let player_id = Uuid::new_v4();
        let other_id = Uuid::new_v4();
        let session = |token: &str, player_id| SessionRecord {
            token_hash: hash_token(token),
            player_id,
            expires_at: base_time(),
        };
        store
            .insert_session(session("other", other_id), 3)
            .await
            .unwrap();
        for index in 0..5 {
            let token = format!("token {index}");
            store
                .insert_session(session(&token, player_id), 3)
                .await
                .unwrap();
        }
        for (index, kept) in [false, false, true, true, true].into_iter().enumerate() {
            let found = store
                .session(&hash_token(&format!("token {index}")))
                .await
                .unwrap();
            assert_eq!(found.is_some(), kept, "token {index}");
        }
        assert!(store.session(&hash_token("other")).await.unwrap().is_some());
        assert_eq!(store.delete_session(&hash_token("token 4")).await, Ok(true));
        store
            .insert_session(session("token 5", player_id), 3)
            .await
            .unwrap();
        assert!(
            store
                .session(&hash_token("token 2"))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn top_scores_come_best_first_and_ties_go_to_the_earlier_score() {
        let later_tie = score(500, GameMode::Walls, 10);
        let earlier_tie = score(500, GameMode::Walls, 5);
        let store = store_with(&[
            score(100, GameMode::Walls, 0),
            later_tie.clone(),
            score(900, GameMode::Walls, 20),
            earlier_tie.clone(),
        ])
        .await;
        let top = store
            .top_scores(ScoreFilter::mode(Some(GameMode::Walls)), 10)
            .await
            .expect("top");
        assert_eq!(scores_of(&top), vec![900, 500, 500, 100]);
        assert_eq!(top[1].id, earlier_tie.id);
        assert_eq!(top[2].id, later_tie.id);
    }

    #[tokio::test]
    async fn scores_tied_on_points_and_time_are_ordered_by_id() {
        let mut first = score(300, GameMode::Walls, 0);
        let mut second = score(300, GameMode::Walls, 0);
        first.id = Uuid::from_u128(1);
        second.id = Uuid::from_u128(2);
        let store = store_with(&[second.clone(), first.clone()]).await;
        let top = store
            .top_scores(ScoreFilter::mode(Some(GameMode::Walls)), 10)
            .await
            .expect("top");
        assert_eq!(
            top.iter().map(|entry| entry.id).collect::<Vec<_>>(),
            vec![first.id, second.id]
        );
    }

    #[tokio::test]
    async fn filtering_by_mode_returns_only_that_mode() {
        let store = store_with(&[
            score(100, GameMode::Walls, 0),
            score(200, GameMode::PassThrough, 0),
            score(300, GameMode::Walls, 0),
        ])
        .await;
        let walls = store
            .top_scores(ScoreFilter::mode(Some(GameMode::Walls)), 10)
            .await
            .expect("top");
        let pass_through = store
            .top_scores(ScoreFilter::mode(Some(GameMode::PassThrough)), 10)
            .await
            .expect("top");
        assert_eq!(scores_of(&walls), vec![300, 100]);
        assert_eq!(scores_of(&pass_through), vec![200]);
    }

    #[tokio::test]
    async fn the_limit_caps_the_number_of_scores_returned() {
        let entries: Vec<ScoreEntry> = (1..=20)
            .map(|points| score(points * 10, GameMode::Walls, 0))
            .collect();
        let store = store_with(&entries).await;
        let top = store
            .top_scores(ScoreFilter::mode(Some(GameMode::Walls)), 3)
            .await
            .expect("top");
        assert_eq!(scores_of(&top), vec![200, 190, 180]);
        assert_eq!(
            store.top_scores(ScoreFilter::mode(None), 0).await,
            Ok(Vec::new())
        );
    }

    #[tokio::test]
    async fn without_a_mode_both_modes_are_merged_best_first() {
        let store = store_with(&[
            score(100, GameMode::Walls, 0),
            score(400, GameMode::PassThrough, 0),
            score(300, GameMode::Walls, 0),
            score(200, GameMode::PassThrough, 0),
            score(350, GameMode::PassThrough, 0),
            score(500, GameMode::Walls, 0),
        ])
        .await;
        let top = store
            .top_scores(ScoreFilter::mode(None), 4)
            .await
            .expect("top");
        assert_eq!(scores_of(&top), vec![500, 400, 350, 300]);
        let all = store
            .top_scores(ScoreFilter::mode(None), 100)
            .await
            .expect("top");
        assert_eq!(scores_of(&all), vec![500, 400, 350, 300, 200, 100]);
    }

    #[tokio::test]
    async fn an_empty_store_has_no_top_scores_and_no_finished_games() {
        let store = MemoryStore::new();
        assert_eq!(
            store.top_scores(ScoreFilter::mode(None), 10).await,
            Ok(Vec::new())
        );
        assert_eq!(
            store
                .top_scores(ScoreFilter::verified(Some(GameMode::PassThrough)), 10)
                .await,
            Ok(Vec::new())
        );
        assert_eq!(store.finished_game(Uuid::new_v4()).await, Ok(None));
        assert_eq!(store.backend_name(), "in-memory");
    }

    fn finished_game(score: u32, mode: GameMode) -> FinishedGame {
        FinishedGame {
            id: Uuid::new_v4(),
            player_id: Uuid::new_v4(),
            username: "Verity".into(),
            mode,
            seed: 7,
            turns: vec![crate::games::engine::LoggedTurn {
                tick: 2,
                direction: crate::games::engine::Direction::Left,
            }],
            ticks: 12,
            tick: std::time::Duration::from_millis(150),
            score,
            started_at: base_time(),
            ended_at: base_time() + Duration::seconds(2),
            end: crate::model::GameEndReason::ServerShutdown,
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
    async fn the_verified_only_filter_returns_only_scores_recorded_from_games_best_first() {
        let store = store_with(&[
            score(900, GameMode::Walls, 0),
            score(50, GameMode::Walls, 1),
            score(800, GameMode::PassThrough, 0),
        ])
        .await;
        let walls_game = finished_game(300, GameMode::Walls);
        let pass_through_game = finished_game(400, GameMode::PassThrough);
        for game in [&walls_game, &pass_through_game] {
            store
                .record_finished_game(game.clone(), Some(verified_score_of(game)))
                .await
                .expect("record");
        }

        let verified_walls = store
            .top_scores(ScoreFilter::verified(Some(GameMode::Walls)), 10)
            .await
            .expect("top");
        assert_eq!(scores_of(&verified_walls), vec![300]);
        assert!(verified_walls[0].verified);
        assert_eq!(verified_walls[0].game_id, Some(walls_game.id));

        let verified_both = store
            .top_scores(ScoreFilter::verified(None), 10)
            .await
            .expect("top");
        assert_eq!(scores_of(&verified_both), vec![400, 300]);

        let all_walls = store
            .top_scores(ScoreFilter::mode(Some(GameMode::Walls)), 10)
            .await
            .expect("top");
        assert_eq!(scores_of(&all_walls), vec![900, 300, 50]);
        let verified_flags: Vec<_> = all_walls.iter().map(|entry| entry.verified).collect();
        assert_eq!(verified_flags, vec![false, true, false]);
        assert_eq!(all_walls[1].game_id, Some(walls_game.id));
        assert_eq!(all_walls[0].game_id, None);
    }

    #[tokio::test]
    async fn a_recorded_game_can_be_read_back_and_is_recorded_only_once() {
        let store = MemoryStore::new();
        let game = finished_game(20, GameMode::Walls);
        store
            .record_finished_game(game.clone(), None)
            .await
            .expect("record");
        assert_eq!(store.finished_game(game.id).await, Ok(Some(game.clone())));
        assert!(matches!(
            store.record_finished_game(game, None).await,
            Err(Error::Internal(_))
        ));
    }

    #[tokio::test]
    async fn a_score_naming_another_game_or_claiming_verification_without_one_is_refused() {
        let store = MemoryStore::new();
        let game = finished_game(20, GameMode::Walls);
        let mut wrong_game = verified_score_of(&game);
        wrong_game.game_id = Some(Uuid::new_v4());
        assert!(matches!(
            store
                .record_finished_game(game.clone(), Some(wrong_game))
                .await,
            Err(Error::Internal(_))
        ));
        assert_eq!(store.finished_game(game.id).await, Ok(None));
        let mut unverifiable = score(10, GameMode::Walls, 0);
        unverifiable.verified = true;
        assert!(matches!(
            store.insert_score(unverifiable).await,
            Err(Error::Internal(_))
        ));
        assert_eq!(
            store.top_scores(ScoreFilter::mode(None), 10).await,
            Ok(Vec::new())
        );
    }

    #[tokio::test]
    async fn old_games_off_each_modes_top_are_pruned_and_the_rest_kept_with_their_scores() {
        crate::store::retention_tests::check_retention(&MemoryStore::new()).await;
    }

    #[tokio::test]
    async fn a_batch_of_scores_is_stored_whole_or_not_at_all() {
        crate::store::bulk_insert_tests::check_bulk_insert(&MemoryStore::new()).await;
    }
}
