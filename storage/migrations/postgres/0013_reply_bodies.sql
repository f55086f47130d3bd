-- Most callback replies repeat (the help text; a ranking until a score in its track changes):
-- each distinct reply is stored once, under the first 16 bytes of its SHA-256, and the row of
-- each callback names it. `last_at` is the newest `answered_at` of the replies that name the
-- body, so a purge that forgets the bodies older than the replies it forgets never leaves a
-- reply without its body.
CREATE TABLE callback_reply_bodies (
    digest  BYTEA PRIMARY KEY,
    body    TEXT NOT NULL,
    last_at TIMESTAMPTZ NOT NULL
);

INSERT INTO callback_reply_bodies (digest, body, last_at)
    SELECT substring(sha256(convert_to(reply, 'UTF8')) FROM 1 FOR 16), reply, max(answered_at)
    FROM callback_replies GROUP BY reply;

-- The hourly purge finds the bodies to forget without reading them all (replies that all
-- differ, such as votes with the score in them, make as many bodies as callbacks).
CREATE INDEX callback_reply_bodies_by_time ON callback_reply_bodies (last_at);

ALTER TABLE callback_replies ADD COLUMN body BYTEA;
UPDATE callback_replies SET body = substring(sha256(convert_to(reply, 'UTF8')) FROM 1 FOR 16);
ALTER TABLE callback_replies ALTER COLUMN body SET NOT NULL;
ALTER TABLE callback_replies DROP COLUMN reply;
