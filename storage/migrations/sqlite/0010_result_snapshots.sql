-- Results frozen when a voting stage ends: one numbered snapshot per stage, track and version
-- (a late change makes the next version, never an edit), signed by a SHA-256 hash chained over
-- the ledger rows counted and then the places. Millisecond timestamps, as `at`.
CREATE TABLE result_snapshots (
    id             INTEGER PRIMARY KEY,
    stage          TEXT NOT NULL,
    track          TEXT NOT NULL,
    version        INTEGER NOT NULL,
    cutoff         INTEGER NOT NULL,
    frozen_at      INTEGER NOT NULL,
    ledger_rows    INTEGER NOT NULL,
    last_ledger_id INTEGER NOT NULL,
    hash           TEXT NOT NULL,
    UNIQUE (stage, track, version)
);

CREATE TABLE snapshot_places (
    snapshot_id INTEGER NOT NULL REFERENCES result_snapshots (id),
    place       INTEGER NOT NULL,
    code        TEXT NOT NULL,
    score       INTEGER NOT NULL,
    doubtful    INTEGER NOT NULL,
    zone        TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, place)
) WITHOUT ROWID;
