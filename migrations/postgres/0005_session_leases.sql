-- Sessions cached by the servers on one database (src/store/session_leases.rs).
--
-- A server may answer a session from memory only while it holds a lease here and hears every
-- revocation: each removed session tells the servers listening on `snake_arena_sessions` which
-- token it was. A logout waits until every server with a lease has acknowledged the
-- revocation, or until that server's lease has run out, so a revoked token is refused
-- everywhere by the time the logout is answered.
CREATE TABLE server_leases (
    -- A server process, chosen anew at every start.
    instance uuid PRIMARY KEY,
    -- Until when the server may answer sessions from memory; it renews the lease well before.
    expires_at timestamptz NOT NULL
);

-- One notification per removed session, whatever removed it (a logout, the per-player cap,
-- an expired session seen, a tool), sent when the transaction commits.
CREATE FUNCTION notify_session_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('snake_arena_sessions', 'revoked:' || encode(OLD.token_hash, 'hex'));
    RETURN NULL;
END;
$$;

CREATE TRIGGER session_removed AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_session_removed();

-- A TRUNCATE removes every session at once and fires no row trigger: it tells the servers to
-- forget every session they hold.
CREATE FUNCTION notify_sessions_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('snake_arena_sessions', 'revoked-all');
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_truncated AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_sessions_truncated();
