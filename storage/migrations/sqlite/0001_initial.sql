-- rallybot schema for SQLite. Timestamps are UTC milliseconds since the epoch (INTEGER);
-- days are 'YYYY-MM-DD' text in the campaign's time zone.

-- Members: the ID number itself is never stored, only its keyed hash and a mask.
CREATE TABLE members (
    userid        TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    id_hash       TEXT NOT NULL UNIQUE,
    id_mask       TEXT NOT NULL,
    phone_enc     TEXT NOT NULL,
    phone_mask    TEXT NOT NULL,
    union_code    TEXT NOT NULL,
    registered_at INTEGER NOT NULL
);
CREATE INDEX members_by_union ON members (union_code);

-- The last number handed out per code prefix (tracks have distinct prefixes).
CREATE TABLE code_sequences (
    prefix TEXT PRIMARY KEY,
    last   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE entries (
    code             TEXT PRIMARY KEY,
    track            TEXT NOT NULL,
    entrant_kind     TEXT NOT NULL CHECK (entrant_kind IN ('member', 'unit')),
    entrant_id       TEXT NOT NULL,
    submitter        TEXT NOT NULL,
    union_code       TEXT NOT NULL,
    -- NULL only for the reading entry of a points track (one per member and track).
    link             TEXT,
    title            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    reason           TEXT,
    reviewer         TEXT,
    submitted_at     INTEGER NOT NULL,
    reviewed_at      INTEGER,
    score            INTEGER NOT NULL DEFAULT 0,
    score_reached_at INTEGER
);
CREATE UNIQUE INDEX entries_link_per_track ON entries (track, link);
CREATE UNIQUE INDEX entries_reading_per_member ON entries (track, entrant_id) WHERE link IS NULL;
CREATE INDEX entries_pending ON entries (submitted_at, code) WHERE status = 'pending';
CREATE INDEX entries_by_submitter ON entries (submitter);
CREATE INDEX entries_by_entrant ON entries (entrant_id, track, entrant_kind);
CREATE INDEX entries_by_union ON entries (track, status, union_code);

-- Each entrant's best approved entry per track, kept up to date on every score change; the
-- ranking reads only this table.
CREATE TABLE entrant_best (
    track        TEXT NOT NULL,
    entrant_kind TEXT NOT NULL,
    entrant_id   TEXT NOT NULL,
    code         TEXT NOT NULL,
    score        INTEGER NOT NULL,
    reached_at   INTEGER NOT NULL,
    PRIMARY KEY (track, entrant_kind, entrant_id)
) WITHOUT ROWID;
CREATE INDEX entrant_best_order ON entrant_best (track, score DESC, reached_at, code);

-- How many entrants of a track stand at each score, so that a place is a sum over the
-- (few) distinct higher scores plus a count of the ties ahead, not a scan of everyone ahead.
CREATE TABLE score_counts (
    track    TEXT NOT NULL,
    score    INTEGER NOT NULL,
    entrants INTEGER NOT NULL,
    PRIMARY KEY (track, score)
) WITHOUT ROWID;

CREATE TRIGGER entrant_best_counted AFTER INSERT ON entrant_best
BEGIN
    INSERT INTO score_counts (track, score, entrants) VALUES (NEW.track, NEW.score, 1)
        ON CONFLICT (track, score) DO UPDATE SET entrants = entrants + 1;
END;

CREATE TRIGGER entrant_best_recounted AFTER UPDATE OF score ON entrant_best
WHEN OLD.score <> NEW.score
BEGIN
    UPDATE score_counts SET entrants = entrants - 1 WHERE track = OLD.track AND score = OLD.score;
    DELETE FROM score_counts WHERE track = OLD.track AND score = OLD.score AND entrants = 0;
    INSERT INTO score_counts (track, score, entrants) VALUES (NEW.track, NEW.score, 1)
        ON CONFLICT (track, score) DO UPDATE SET entrants = entrants + 1;
END;

CREATE TRIGGER entrant_best_uncounted AFTER DELETE ON entrant_best
BEGIN
    UPDATE score_counts SET entrants = entrants - 1 WHERE track = OLD.track AND score = OLD.score;
    DELETE FROM score_counts WHERE track = OLD.track AND score = OLD.score AND entrants = 0;
END;

-- Daily counters against the limits. entry_code is '' for per-member-per-day limits.
-- last_granted is what the latest give on this row was granted, so that one upsert can both
-- apply the limit and report the grant.
CREATE TABLE daily_usage (
    member       TEXT NOT NULL,
    day          TEXT NOT NULL,
    track        TEXT NOT NULL,
    entry_code   TEXT NOT NULL,
    used         INTEGER NOT NULL,
    last_granted INTEGER NOT NULL,
    PRIMARY KEY (member, day, track, entry_code)
) WITHOUT ROWID;

-- Every counted vote, like, view or reading point, append-only.
CREATE TABLE ledger (
    id         INTEGER PRIMARY KEY,
    track      TEXT NOT NULL,
    member     TEXT NOT NULL,
    entry_code TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    at         INTEGER NOT NULL
);

CREATE TABLE reading_days (
    track   TEXT NOT NULL,
    member  TEXT NOT NULL,
    day     TEXT NOT NULL,
    minutes INTEGER NOT NULL,
    points  INTEGER NOT NULL,
    PRIMARY KEY (track, member, day)
) WITHOUT ROWID;

CREATE TABLE reports (
    id         INTEGER PRIMARY KEY,
    union_code TEXT NOT NULL,
    metric     TEXT NOT NULL,
    amount     INTEGER NOT NULL,
    note       TEXT NOT NULL,
    reporter   TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX reports_by_metric ON reports (metric, union_code);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TABLE callbacks (
    key        TEXT PRIMARY KEY,
    claimed_at INTEGER NOT NULL,
    reply      TEXT
) WITHOUT ROWID;
CREATE INDEX callbacks_by_claimed_at ON callbacks (claimed_at);

CREATE TABLE dialogues (
    chat       TEXT NOT NULL,
    userid     TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (chat, userid)
) WITHOUT ROWID;

CREATE TABLE chat_groups (
    chat_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    union_code  TEXT,
    learned_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE pushes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT NOT NULL UNIQUE,
    -- PushTarget as JSON
    target      TEXT NOT NULL,
    format      TEXT NOT NULL,
    content     TEXT NOT NULL,
    -- JSON array of userids
    mentions    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  INTEGER NOT NULL,
    -- while sending: the claim expires at this time and the push becomes claimable again
    lease_until INTEGER,
    last_error  TEXT,
    created_at  INTEGER NOT NULL,
    sent_at     INTEGER
);
CREATE INDEX pushes_due ON pushes (status, not_before);
CREATE INDEX pushes_leased ON pushes (status, lease_until);

CREATE TABLE tokens (
    app        TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE job_marks (
    job TEXT PRIMARY KEY,
    at  INTEGER NOT NULL
) WITHOUT ROWID;
