-- The first schema of the PostgreSQL store: players, their sessions, the scores, and the
-- per-account failed-login schedules that several servers on one database share.
--
-- Ids are `uuid`s, which PostgreSQL orders bytewise, as `Uuid` orders itself, so ties on the
-- leaderboard break the same way as in the in-memory store. Times are nanoseconds since the
-- Unix epoch (UTC) in a `bigint`: `timestamptz` keeps only microseconds, which would neither
-- round-trip a time exactly nor order two scores of one microsecond the way the other stores do.
-- Live games are not here: each server keeps its own in memory (see src/store/postgres.rs).

CREATE TABLE players (
    id uuid PRIMARY KEY,
    username text NOT NULL,
    -- The username as `store::comparison_key` folds it (trimmed, Unicode lowercase), computed in
    -- Rust so that every backend folds alike; its unique index decides which of two racing
    -- sign-ups wins, whichever server they reached.
    username_key text NOT NULL,
    email text NOT NULL,
    -- The email folded the same way.
    email_key text NOT NULL,
    password_hash text NOT NULL,
    created_at_ns bigint NOT NULL
);

CREATE UNIQUE INDEX players_email_key ON players (email_key);
CREATE UNIQUE INDEX players_username_key ON players (username_key);

CREATE TABLE sessions (
    -- Insertion order, for removing a player's oldest sessions beyond the cap.
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- SHA-256 of the token (32 bytes); the token itself is never stored.
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    player_id uuid NOT NULL REFERENCES players (id) ON DELETE CASCADE,
    expires_at_ns bigint NOT NULL
);

CREATE INDEX sessions_by_player ON sessions (player_id, seq);

CREATE TABLE scores (
    id uuid PRIMARY KEY,
    -- No foreign key: a score keeps the username it was recorded under, and generated benchmark
    -- scores (`--synthetic-scores`) belong to players without accounts.
    player_id uuid NOT NULL,
    username text NOT NULL,
    score integer NOT NULL CHECK (score >= 0),
    mode text NOT NULL CHECK (mode IN ('walls', 'pass-through')),
    recorded_at_ns bigint NOT NULL
);

-- A mode's top N is the first N entries of this index, in leaderboard order.
CREATE INDEX scores_leaderboard ON scores (mode, score DESC, recorded_at_ns, id);

-- A rate limit shared by every server on this database (today only the failed logins per
-- account): each key's GCRA schedule, the time (microseconds since the epoch, by the database's
-- clock, so servers with skewed clocks agree) at which its next event is free.
CREATE TABLE rate_limit_schedules (
    limit_name text NOT NULL,
    key text NOT NULL,
    next_free_us bigint NOT NULL,
    PRIMARY KEY (limit_name, key)
);

-- Finds the schedules that have fully recovered, so they can be swept.
CREATE INDEX rate_limit_schedules_by_time ON rate_limit_schedules (next_free_us);
