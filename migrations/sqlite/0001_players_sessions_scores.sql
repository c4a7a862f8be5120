-- The first schema of the SQLite store: players, their sessions and the scores.
--
-- Ids are UUIDs in their hyphenated lowercase text form, whose text order is the UUIDs' own
-- order, so ties on the leaderboard break the same way as in the in-memory store. Times are
-- nanoseconds since the Unix epoch (UTC), so they order exactly and round-trip without loss.
-- Live games are not here: the store keeps them in memory (see src/store/sqlite.rs).

CREATE TABLE players (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    -- The username as `store::comparison_key` folds it (trimmed, Unicode lowercase), computed in
    -- Rust; its unique index decides which of two racing sign-ups wins.
    username_key TEXT NOT NULL,
    email TEXT NOT NULL,
    -- The email folded the same way.
    email_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at_ns INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX players_email_key ON players (email_key);
CREATE UNIQUE INDEX players_username_key ON players (username_key);

CREATE TABLE sessions (
    -- Insertion order, for removing a player's oldest sessions beyond the cap. An explicit
    -- INTEGER PRIMARY KEY, because VACUUM may renumber an implicit rowid.
    seq INTEGER PRIMARY KEY NOT NULL,
    -- SHA-256 of the token (32 bytes); the token itself is never stored.
    token_hash BLOB NOT NULL UNIQUE,
    player_id TEXT NOT NULL REFERENCES players (id) ON DELETE CASCADE,
    expires_at_ns INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_by_player ON sessions (player_id, seq);

CREATE TABLE scores (
    id TEXT PRIMARY KEY NOT NULL,
    -- No foreign key: a score keeps the username it was recorded under, and generated benchmark
    -- scores (`--synthetic-scores`) belong to players without accounts.
    player_id TEXT NOT NULL,
    username TEXT NOT NULL,
    score INTEGER NOT NULL CHECK (score >= 0),
    mode TEXT NOT NULL CHECK (mode IN ('walls', 'pass-through')),
    recorded_at_ns INTEGER NOT NULL
) STRICT;

-- A mode's top N is the first N entries of this index, in leaderboard order.
CREATE INDEX scores_leaderboard ON scores (mode, score DESC, recorded_at_ns, id);
