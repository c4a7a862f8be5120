-- Verified scores and the games the server ran.
--
-- A score the server recorded from a game it ran names that game in `game_id`; a self-reported
-- score has none. A score is verified exactly when it has a game, so no separate flag can
-- disagree with it. A finished game keeps what a replay needs: its mode, seed and turn log.

ALTER TABLE scores ADD COLUMN game_id TEXT;

-- A mode's top N verified scores are the first N entries of this partial index.
CREATE INDEX scores_verified_leaderboard ON scores (mode, score DESC, recorded_at_ns, id)
    WHERE game_id IS NOT NULL;

CREATE TABLE finished_games (
    id TEXT PRIMARY KEY NOT NULL,
    player_id TEXT NOT NULL,
    username TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('walls', 'pass-through')),
    -- The engine's u64 seed, stored as the i64 with the same bits.
    seed INTEGER NOT NULL,
    -- The turns received, in order: `tick:direction` pairs separated by commas, the direction
    -- one of U, D, L, R, e.g. `0:L,3:U`; empty for a game without turns.
    turns TEXT NOT NULL,
    ticks INTEGER NOT NULL CHECK (ticks >= 0),
    score INTEGER NOT NULL CHECK (score >= 0),
    started_at_ns INTEGER NOT NULL,
    ended_at_ns INTEGER NOT NULL,
    -- hit_wall, hit_self, board_full, replaced_by_new_game or server_shutdown.
    end_reason TEXT NOT NULL
) STRICT;
