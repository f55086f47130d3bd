-- Every write a chat message causes takes effect once per message, so that a retry of the
-- message (WeCom resends one it saw no answer to) can run its command again safely. Callbacks
-- are no longer claimed before their command runs: a claim whose process died left its retries
-- unanswered and the command never run.

-- One row per (message, kind of write): the first outcome, which a retry gets back instead of
-- writing again. Kept as long as the replies (24 h of real time, whatever the campaign clock
-- says: a rehearsal moves that one), so the time is the database's own.
CREATE TABLE effects (
    callback_key TEXT NOT NULL,
    kind         TEXT NOT NULL,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    outcome      TEXT NOT NULL,
    PRIMARY KEY (callback_key, kind)
);
CREATE INDEX effects_by_time ON effects (at);

-- The message behind each counted give, for complaints about a vote.
ALTER TABLE ledger ADD COLUMN callback_key TEXT;

-- An audit event is recorded once per message and action.
ALTER TABLE audit_log ADD COLUMN callback_key TEXT;
CREATE UNIQUE INDEX audit_log_once_per_callback ON audit_log (callback_key, action)
    WHERE callback_key IS NOT NULL;

-- The message that brought a dialogue to its state, and the answer it got.
ALTER TABLE dialogues ADD COLUMN callback_key TEXT NOT NULL DEFAULT '',
                      ADD COLUMN reply TEXT NOT NULL DEFAULT '';

-- Replies live in a table of their own, with the time they were given, for purging; the
-- claims go.
CREATE TABLE callback_replies (
    key         TEXT PRIMARY KEY,
    reply       TEXT NOT NULL,
    answered_at TIMESTAMPTZ NOT NULL
);
INSERT INTO callback_replies (key, reply, answered_at)
    SELECT key, reply, claimed_at FROM callbacks WHERE reply IS NOT NULL;
DROP TABLE callbacks;
CREATE INDEX callback_replies_by_time ON callback_replies (answered_at);
