//! Leaderboard answers encoded once and reused: for each board (a mode or both, every score or
//! only verified ones) and `limit`, the JSON of the contract's `LeaderboardListResponse`, kept as
//! long as the store hands out the same board.
//!
//! The store's boards are shared slices (`Store::top_board`), replaced whenever a score is
//! written; an answer here remembers the board it was encoded from, so one that is the same
//! allocation is the same data, and the JSON is reused instead of encoding up to 100 entries
//! (about 40 µs) on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::value::RawValue;

use crate::api::{support, types};
use crate::http::error::ApiError;
use crate::http::wire;
use crate::model::{ScoreEntry, ScoreFilter};

/// One encoded answer and the board it was encoded from (held, so its allocation cannot be
/// reused by a later board while this answer exists).
struct PreparedAnswer {
    board: Arc<[ScoreEntry]>,
    json: Arc<RawValue>,
}

/// The encoded leaderboard answers, at most one per board and limit (6 boards × 100 limits).
#[derive(Default)]
pub struct PreparedBoards {
    answers: Mutex<HashMap<(ScoreFilter, usize), PreparedAnswer>>,
}

impl PreparedBoards {
    /// The JSON of the first `limit` entries of `board`, encoded now or reused.
    pub fn answer(
        &self,
        filter: ScoreFilter,
        limit: usize,
        board: Arc<[ScoreEntry]>,
    ) -> Result<support::Prepared<types::LeaderboardListResponse>, ApiError> {
        let key = (filter, limit);
        if let Some(answer) = self
            .answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            && Arc::ptr_eq(&answer.board, &board)
        {
            return Ok(support::Prepared::Json(Arc::clone(&answer.json)));
        }
        let entries = board
            .iter()
            .take(limit)
            .cloned()
            .map(wire::leaderboard_entry_to_wire)
            .collect::<Result<Vec<_>, _>>()?;
        let response = types::LeaderboardListResponse::try_from(entries)?;
        let json = support::Prepared::encode(&response)
            .map_err(|error| ApiError::internal(format!("cannot encode a leaderboard: {error}")))?;
        self.answers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                key,
                PreparedAnswer {
                    board,
                    json: Arc::clone(&json),
                },
            );
        Ok(support::Prepared::Json(json))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::model::{GameMode, PlayerProfile};

    fn board(scores: &[u32]) -> Arc<[ScoreEntry]> {
        let player = PlayerProfile {
            id: Uuid::new_v4(),
            username: "prepared".to_owned(),
            email: "prepared@example.com".to_owned(),
        };
        scores
            .iter()
            .map(|score| ScoreEntry::self_reported(&player, *score, GameMode::Walls, Utc::now()))
            .collect::<Vec<_>>()
            .into()
    }

    fn text(prepared: &support::Prepared<types::LeaderboardListResponse>) -> String {
        serde_json::to_string(prepared).unwrap()
    }

    #[test]
    fn the_same_board_reuses_its_json_and_a_new_board_is_encoded_anew() {
        let boards = PreparedBoards::default();
        let filter = ScoreFilter::mode(Some(GameMode::Walls));
        let first_board = board(&[30, 20, 10]);
        let first = boards.answer(filter, 2, Arc::clone(&first_board)).unwrap();
        let again = boards.answer(filter, 2, Arc::clone(&first_board)).unwrap();
        let (support::Prepared::Json(first_json), support::Prepared::Json(again_json)) =
            (&first, &again)
        else {
            panic!("answers are prepared JSON");
        };
        assert!(Arc::ptr_eq(first_json, again_json), "the JSON is reused");

        let typed: Vec<types::LeaderboardEntry> = serde_json::from_str(&text(&first)).unwrap();
        assert_eq!(typed.len(), 2);
        assert_eq!(typed[0].score.into_inner(), 30);

        let second = boards.answer(filter, 2, board(&[50, 40])).unwrap();
        let typed: Vec<types::LeaderboardEntry> = serde_json::from_str(&text(&second)).unwrap();
        assert_eq!(
            typed[0].score.into_inner(),
            50,
            "a new board is encoded anew"
        );
    }

    #[test]
    fn a_prepared_answer_is_byte_for_byte_what_encoding_the_value_gives() {
        let boards = PreparedBoards::default();
        let board = board(&[7, 6, 5]);
        let prepared = boards
            .answer(ScoreFilter::mode(None), 3, Arc::clone(&board))
            .unwrap();
        let value: support::Prepared<types::LeaderboardListResponse> =
            types::LeaderboardListResponse::try_from(
                board
                    .iter()
                    .cloned()
                    .map(wire::leaderboard_entry_to_wire)
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
            )
            .unwrap()
            .into();
        assert_eq!(text(&prepared), text(&value));
    }
}
