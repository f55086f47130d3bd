-- Every write a chat message causes takes effect once per message, so that a retry of the
-- message (WeCom resends one it saw no answer to) can run its command again safely. Callbacks
-- are no longer claimed before their command runs: a claim whose process died left its retries
-- unanswered and the command never run.

-- One row per (message, kind of write): the first outcome, which a retry gets back instead of
-- writing again. Kept as long as the replies (24 h of real time, whatever the campaign clock
-- says: a rehearsal moves that one), so the time is the database's own (UTC milliseconds).
CREATE TABLE effects (
    callback_key TEXT NOT NULL,
    kind         TEXT NOT NULL,
    at           INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)),
    outcome      TEXT NOT NULL,
    PRIMARY KEY (callback_key, kind)
) WITHOUT ROWID;
CREATE INDEX effects_by_time ON effects (at);

-- The message behind each counted give, for complaints about a vote.
ALTER TABLE ledger ADD COLUMN callback_key TEXT;

-- An audit event is recorded once per message and action.
ALTER TABLE audit_log ADD COLUMN callback_key TEXT;
CREATE UNIQUE INDEX audit_log_once_per_callback ON audit_log (callback_key, action)
    WHERE callback_key IS NOT NULL;

-- The message that brought a dialogue to its state, and the answer it got.
ALTER TABLE dialogues ADD COLUMN callback_key TEXT NOT NULL DEFAULT '';
ALTER TABLE dialogues ADD COLUMN reply TEXT NOT NULL DEFAULT '';

-- Replies keep the time they were given, for purging; the claims go.
ALTER TABLE callback_replies ADD COLUMN answered_at INTEGER NOT NULL DEFAULT 0;
UPDATE callback_replies SET answered_at = coalesce(
    (SELECT claimed_at FROM callbacks WHERE callbacks.key = callback_replies.key), 0);
DROP TABLE callbacks;
CREATE INDEX callback_replies_by_time ON callback_replies (answered_at);
