-- rallybot schema for PostgreSQL. Timestamps are timestamptz (UTC); days are dates in the
-- campaign's time zone.

-- Members: the ID number itself is never stored, only its keyed hash and a mask.
CREATE TABLE members (
    userid        TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    id_hash       TEXT NOT NULL UNIQUE,
    id_mask       TEXT NOT NULL,
    phone_enc     TEXT NOT NULL,
    phone_mask    TEXT NOT NULL,
    union_code    TEXT NOT NULL,
    registered_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX members_by_union ON members (union_code);

-- The last number handed out per code prefix (tracks have distinct prefixes).
CREATE TABLE code_sequences (
    prefix TEXT PRIMARY KEY,
    last   BIGINT NOT NULL
);

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
    submitted_at     TIMESTAMPTZ NOT NULL,
    reviewed_at      TIMESTAMPTZ,
    score            BIGINT NOT NULL DEFAULT 0,
    score_reached_at TIMESTAMPTZ
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
    score        BIGINT NOT NULL,
    reached_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (track, entrant_kind, entrant_id)
);
CREATE INDEX entrant_best_order ON entrant_best (track, score DESC, reached_at, code);

-- How many entrants of a track stand at each score, so that a place is a sum over the
-- (few) distinct higher scores plus a count of the ties ahead, not a scan of everyone ahead.
CREATE TABLE score_counts (
    track    TEXT NOT NULL,
    score    BIGINT NOT NULL,
    entrants BIGINT NOT NULL,
    PRIMARY KEY (track, score)
);

-- Scores only grow, so a change always takes the lower score's row before the higher one:
-- concurrent transactions lock these rows in the same order and cannot deadlock.
CREATE FUNCTION score_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE score_counts SET entrants = entrants - 1
            WHERE track = OLD.track AND score = OLD.score;
        DELETE FROM score_counts WHERE track = OLD.track AND score = OLD.score AND entrants = 0;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO score_counts (track, score, entrants) VALUES (NEW.track, NEW.score, 1)
            ON CONFLICT (track, score) DO UPDATE SET entrants = score_counts.entrants + 1;
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER entrant_best_counted AFTER INSERT OR DELETE ON entrant_best
    FOR EACH ROW EXECUTE FUNCTION score_counts_follow();
CREATE TRIGGER entrant_best_recounted AFTER UPDATE OF score ON entrant_best
    FOR EACH ROW WHEN (OLD.score <> NEW.score) EXECUTE FUNCTION score_counts_follow();

-- Daily counters against the limits. entry_code is '' for per-member-per-day limits.
-- last_granted is what the latest give on this row was granted, so that one upsert can both
-- apply the limit and report the grant.
CREATE TABLE daily_usage (
    member       TEXT NOT NULL,
    day          DATE NOT NULL,
    track        TEXT NOT NULL,
    entry_code   TEXT NOT NULL,
    used         BIGINT NOT NULL,
    last_granted BIGINT NOT NULL,
    PRIMARY KEY (member, day, track, entry_code)
);

-- Every counted vote, like, view or reading point, append-only.
CREATE TABLE ledger (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    track      TEXT NOT NULL,
    member     TEXT NOT NULL,
    entry_code TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE reading_days (
    track   TEXT NOT NULL,
    member  TEXT NOT NULL,
    day     DATE NOT NULL,
    minutes BIGINT NOT NULL,
    points  BIGINT NOT NULL,
    PRIMARY KEY (track, member, day)
);

CREATE TABLE reports (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    union_code TEXT NOT NULL,
    metric     TEXT NOT NULL,
    amount     BIGINT NOT NULL,
    note       TEXT NOT NULL,
    reporter   TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX reports_by_metric ON reports (metric, union_code);

CREATE TABLE audit_log (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE callbacks (
    key        TEXT PRIMARY KEY,
    claimed_at TIMESTAMPTZ NOT NULL,
    reply      TEXT
);
CREATE INDEX callbacks_by_claimed_at ON callbacks (claimed_at);

CREATE TABLE dialogues (
    chat       TEXT NOT NULL,
    userid     TEXT NOT NULL,
    state      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (chat, userid)
);

CREATE TABLE chat_groups (
    chat_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    union_code  TEXT,
    learned_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE pushes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    -- PushTarget as JSON
    target      TEXT NOT NULL,
    format      TEXT NOT NULL,
    content     TEXT NOT NULL,
    -- JSON array of userids
    mentions    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    not_before  TIMESTAMPTZ NOT NULL,
    -- while sending: the claim expires at this time and the push becomes claimable again
    lease_until TIMESTAMPTZ,
    last_error  TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    sent_at     TIMESTAMPTZ
);
CREATE INDEX pushes_due ON pushes (status, not_before);
CREATE INDEX pushes_leased ON pushes (status, lease_until);

CREATE TABLE tokens (
    app        TEXT PRIMARY KEY,
    token      TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE leases (
    name   TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until  TIMESTAMPTZ NOT NULL
);

CREATE TABLE job_marks (
    job TEXT PRIMARY KEY,
    at  TIMESTAMPTZ NOT NULL
);
