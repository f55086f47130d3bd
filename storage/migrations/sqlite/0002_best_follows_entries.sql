-- entrant_best now follows entries by itself: an approved entry whose score, status or score
-- time changes is offered as its entrant's best (it replaces the best when it is the best
-- already or ranks ahead of it; scores only grow, so this keeps the best exact), and an
-- entrant whose entry leaves the approved state gets its best picked again.

CREATE TRIGGER entries_ranked AFTER INSERT ON entries
WHEN NEW.status = 'approved'
BEGIN
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
END;

CREATE TRIGGER entries_reranked AFTER UPDATE OF score, status, score_reached_at ON entries
WHEN NEW.status = 'approved'
BEGIN
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
END;

CREATE TRIGGER entries_unranked AFTER UPDATE OF status ON entries
WHEN OLD.status = 'approved' AND NEW.status <> 'approved'
BEGIN
    DELETE FROM entrant_best
        WHERE track = OLD.track AND entrant_kind = OLD.entrant_kind
          AND entrant_id = OLD.entrant_id;
    INSERT INTO entrant_best (track, entrant_kind, entrant_id, code, score, reached_at)
        SELECT track, entrant_kind, entrant_id, code, score, score_reached_at FROM entries
        WHERE track = OLD.track AND entrant_kind = OLD.entrant_kind
          AND entrant_id = OLD.entrant_id AND status = 'approved'
        ORDER BY score DESC, score_reached_at, code LIMIT 1;
END;
