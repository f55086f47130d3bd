-- How SQLite applies a batch of gives: the batch is inserted into this per-connection table in
-- order, and the trigger applies each row as it arrives, so every give sees the counters as
-- the gives before it left them. The writer connection creates these objects when it opens;
-- `give_queue.rs` empties the table, fills it and reads the outcomes, in one statement list
-- inside one transaction.

CREATE TEMP TABLE IF NOT EXISTS give_batch (
    seq          INTEGER PRIMARY KEY,
    member       TEXT NOT NULL,
    day          TEXT NOT NULL,
    track        TEXT NOT NULL,
    -- the counter the give is charged to: the entry code, or '' for a per-member limit
    scope        TEXT NOT NULL,
    code         TEXT NOT NULL,
    amount       INTEGER NOT NULL,
    day_limit    INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    -- the audit action recorded when the give counts
    action       TEXT NOT NULL,
    -- the message that gave: a give is applied once per message
    callback_key TEXT NOT NULL,
    -- the outcome: the entry's review status (NULL: no such entry), the counter and the
    -- entry's score before the give, what the give was granted, and whether it is the retry
    -- of a give applied before (its first outcome, nothing applied again)
    status       TEXT,
    used         INTEGER NOT NULL DEFAULT 0,
    score        INTEGER NOT NULL DEFAULT 0,
    granted      INTEGER NOT NULL DEFAULT 0,
    replayed     INTEGER NOT NULL DEFAULT 0
);

CREATE TEMP TRIGGER IF NOT EXISTS give_batch_apply AFTER INSERT ON give_batch
BEGIN
    -- No such entry leaves the status NULL.
    UPDATE give_batch SET status = e.status, score = e.score
        FROM entries AS e
        WHERE give_batch.seq = NEW.seq AND e.code = NEW.code;

    -- A message given before gets its first outcome ([granted, used today]) back.
    UPDATE give_batch SET replayed = 1, status = 'approved',
            granted = json_extract(f.outcome, '$[0]'),
            used = json_extract(f.outcome, '$[1]') - json_extract(f.outcome, '$[0]')
        FROM effects AS f
        WHERE give_batch.seq = NEW.seq AND f.callback_key = NEW.callback_key
          AND f.kind = 'give';

    UPDATE give_batch SET used = coalesce((SELECT used FROM daily_usage
                                           WHERE member = NEW.member AND day = NEW.day
                                             AND track = NEW.track AND entry_code = NEW.scope), 0)
        WHERE seq = NEW.seq AND status = 'approved' AND replayed = 0;

    -- Grant what is left of the day's limit.
    UPDATE give_batch SET granted = max(0, min(amount, day_limit - used))
        WHERE seq = NEW.seq AND status = 'approved' AND replayed = 0;

    INSERT INTO daily_usage (member, day, track, entry_code, used, last_granted)
        SELECT member, day, track, scope, granted, granted FROM give_batch
        WHERE seq = NEW.seq AND status = 'approved' AND replayed = 0
        ON CONFLICT (member, day, track, entry_code) DO UPDATE SET
            used = used + excluded.used, last_granted = excluded.last_granted;

    INSERT INTO effects (callback_key, kind, outcome)
        SELECT callback_key, 'give', json_array(granted, used + granted) FROM give_batch
        WHERE seq = NEW.seq AND status = 'approved' AND replayed = 0;

    INSERT INTO ledger (track, member, entry_code, amount, at, callback_key)
        SELECT track, member, code, granted, at, callback_key FROM give_batch
        WHERE seq = NEW.seq AND granted > 0 AND replayed = 0;

    -- Audit events are unique per message and action, also past the effects' retention.
    INSERT OR IGNORE INTO audit_log (at, actor, action, subject, detail, callback_key)
        SELECT at, member, action, code,
               'granted=' || granted || ' used_today=' || (used + granted), callback_key
        FROM give_batch WHERE seq = NEW.seq AND granted > 0 AND replayed = 0;

    -- The ranking follows the score by the triggers on entries.
    UPDATE entries SET
            score = score + (SELECT granted FROM give_batch WHERE seq = NEW.seq),
            score_reached_at = NEW.at
        WHERE code = NEW.code
          AND (SELECT granted > 0 AND replayed = 0 FROM give_batch WHERE seq = NEW.seq);
END;
