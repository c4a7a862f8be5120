-- Verified scores and the games the server ran, as in the SQLite store's 0002.
--
-- A score the server recorded from a game it ran names that game in `game_id`; a self-reported
-- score has none. A score is verified exactly when it has a game, so no separate flag can
-- disagree with it. A finished game keeps what a replay needs: its mode, seed and turn log.

ALTER TABLE scores ADD COLUMN game_id uuid;

-- A mode's top N verified scores are the first N entries of this partial index.
CREATE INDEX scores_verified_leaderboard ON scores (mode, score DESC, recorded_at_ns, id)
    WHERE game_id IS NOT NULL;

CREATE TABLE finished_games (
    id uuid PRIMARY KEY,
    player_id uuid NOT NULL,
    username text NOT NULL,
    mode text NOT NULL CHECK (mode IN ('walls', 'pass-through')),
    -- The engine's u64 seed, stored as the bigint with the same bits.
    seed bigint NOT NULL,
    -- The turns received, in order: `tick:direction` pairs separated by commas, the direction
    -- one of U, D, L, R, e.g. `0:L,3:U`; empty for a game without turns.
    turns text NOT NULL,
    ticks bigint NOT NULL CHECK (ticks >= 0),
    score integer NOT NULL CHECK (score >= 0),
    started_at_ns bigint NOT NULL,
    ended_at_ns bigint NOT NULL,
    -- hit_wall, hit_self, board_full, replaced_by_new_game or server_shutdown.
    end_reason text NOT NULL
);
