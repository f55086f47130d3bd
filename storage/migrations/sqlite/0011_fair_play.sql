-- Fair-play flags: a signal (a burst, a ring, a concentration, identical timing) with its reason
-- and evidence, and the gives it puts in doubt. A flagged give stays in the ledger (flag_id) and
-- counts as 疑 while its flag is open: out of the score, shown apart. A reviewer clears the flag
-- (the gives count again) or voids it (they stay out). One open flag per kind and subject, so a
-- later pass adds gives to it instead of opening a second one. Millisecond timestamps, as `at`.
CREATE TABLE fair_flags (
    id              INTEGER PRIMARY KEY,
    track           TEXT NOT NULL,
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('open', 'cleared', 'void')),
    raised_at       INTEGER NOT NULL,
    decided_by      TEXT,
    decided_at      INTEGER,
    decision_reason TEXT
);
CREATE UNIQUE INDEX fair_flags_open ON fair_flags (kind, subject) WHERE status = 'open';
CREATE INDEX fair_flags_by_status ON fair_flags (status, id);

ALTER TABLE ledger ADD COLUMN flag_id INTEGER REFERENCES fair_flags (id);
CREATE INDEX ledger_by_flag ON ledger (flag_id) WHERE flag_id IS NOT NULL;
-- The periodic pass reads a track's recent gives in time order.
CREATE INDEX ledger_by_track_time ON ledger (track, at, id);
