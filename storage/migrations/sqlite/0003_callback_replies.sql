-- Replies to callbacks live apart from the claims. A claim row stays small and never changes,
-- and a reply is appended to a table of its own instead of growing its claim in place (which
-- split a page of the claims for nearly every reply).
CREATE TABLE callback_replies (
    key   TEXT PRIMARY KEY,
    reply TEXT NOT NULL
);

INSERT INTO callback_replies (key, reply)
SELECT key, reply FROM callbacks WHERE reply IS NOT NULL;

ALTER TABLE callbacks DROP COLUMN reply;
