-- entrant_best now follows entries by itself: an approved entry whose score, status or score
-- time changes is offered as its entrant's best (it replaces the best when it is the best
-- already or ranks ahead of it; scores only grow, so this keeps the best exact), and an
-- entrant whose entry leaves the approved state gets its best picked again.

CREATE FUNCTION entrant_best_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status = 'approved' THEN
        INSERT INTO entrant_best (track, entrant_kind, entrant_id, code, score, reached_at)
            VALUES (NEW.track, NEW.entrant_kind, NEW.entrant_id, NEW.code, NEW.score,
                    NEW.score_reached_at)
            ON CONFLICT (track, entrant_kind, entrant_id) DO UPDATE SET
                code = excluded.code, score = excluded.score, reached_at = excluded.reached_at
            WHERE entrant_best.code = excluded.code
               OR excluded.score > entrant_best.score
               OR (excluded.score = entrant_best.score
                   AND (excluded.reached_at, excluded.code)
                       < (entrant_best.reached_at, entrant_best.code));
    ELSIF TG_OP = 'UPDATE' AND OLD.status = 'approved' THEN
        DELETE FROM entrant_best
            WHERE track = OLD.track AND entrant_kind = OLD.entrant_kind
              AND entrant_id = OLD.entrant_id;
        INSERT INTO entrant_best (track, entrant_kind, entrant_id, code, score, reached_at)
            SELECT e.track, e.entrant_kind, e.entrant_id, e.code, e.score, e.score_reached_at
            FROM entries e
            WHERE e.track = OLD.track AND e.entrant_kind = OLD.entrant_kind
              AND e.entrant_id = OLD.entrant_id AND e.status = 'approved'
            ORDER BY e.score DESC, e.score_reached_at, e.code LIMIT 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER entries_ranked AFTER INSERT OR UPDATE OF score, status, score_reached_at
    ON entries FOR EACH ROW EXECUTE FUNCTION entrant_best_follow();
