-- Replays: the tick a finished game was played at, and the indexes a replay's summary and the
-- retention prune read, as in the SQLite store's 0003.
--
-- `tick_us` is the time between two ticks in microseconds. Games recorded before this migration
-- get the default tick of that time, 150 ms.
ALTER TABLE finished_games ADD COLUMN tick_us bigint NOT NULL DEFAULT 150000 CHECK (tick_us > 0);

-- A finished game's verified score, found from the game.
CREATE INDEX scores_by_game ON scores (game_id) WHERE game_id IS NOT NULL;

-- The games the retention prune may forget are the ones that ended longest ago.
CREATE INDEX finished_games_by_end ON finished_games (ended_at_ns);
