-- Every change to the scores tells the servers listening on the channel `snake_arena_scores`
-- (LISTEN/NOTIFY) to drop their cached leaderboards (src/store/board_changes.rs). PostgreSQL
-- delivers the notification when the transaction commits, and never when it rolls back, and
-- sends one per transaction however many rows or statements it wrote.
CREATE FUNCTION notify_scores_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('snake_arena_scores', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER scores_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON scores
    FOR EACH STATEMENT EXECUTE FUNCTION notify_scores_changed();
