-- Most callback replies repeat (the help text; a ranking until a score in its track changes):
-- each distinct reply is stored once, under the first 16 bytes of its SHA-256, and the row of
-- each callback names it. `last_at` is the newest `answered_at` of the replies that name the
-- body, so a purge that forgets the bodies older than the replies it forgets never leaves a
-- reply without its body.
CREATE TABLE callback_reply_bodies (
    digest  BLOB PRIMARY KEY,
    body    TEXT NOT NULL,
    last_at INTEGER NOT NULL
);

-- SQLite has no SHA-256: each distinct reply recorded before gets a random digest (the same
-- text recorded later is stored once more, under its hash, and the old copy is purged with the
-- replies that name it).
CREATE TEMP TABLE old_reply_bodies AS
    SELECT reply AS body, randomblob(16) AS digest, max(answered_at) AS last_at
    FROM callback_replies GROUP BY reply;
INSERT INTO callback_reply_bodies (digest, body, last_at)
    SELECT digest, body, last_at FROM old_reply_bodies;

-- The hourly purge finds the bodies to forget without reading them all (replies that all
-- differ, such as votes with the score in them, make as many bodies as callbacks).
CREATE INDEX callback_reply_bodies_by_time ON callback_reply_bodies (last_at);

-- The per-callback rows are small now: keyed by the callback in one B-tree, without a rowid.
CREATE TABLE callback_reply_keys (
    key         TEXT PRIMARY KEY,
    body        BLOB NOT NULL,
    answered_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO callback_reply_keys (key, body, answered_at)
    SELECT r.key, o.digest, r.answered_at
    FROM callback_replies r JOIN old_reply_bodies o ON o.body = r.reply;
DROP TABLE old_reply_bodies;
DROP TABLE callback_replies;
ALTER TABLE callback_reply_keys RENAME TO callback_replies;
CREATE INDEX callback_replies_by_time ON callback_replies (answered_at);
