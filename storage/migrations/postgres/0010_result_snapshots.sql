-- Results frozen when a voting stage ends: one numbered snapshot per stage, track and version
-- (a late change makes the next version, never an edit), signed by a SHA-256 hash chained over
-- the ledger rows counted and then the places.
CREATE TABLE result_snapshots (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stage          TEXT NOT NULL,
    track          TEXT NOT NULL,
    version        BIGINT NOT NULL,
    cutoff         TIMESTAMPTZ NOT NULL,
    frozen_at      TIMESTAMPTZ NOT NULL,
    ledger_rows    BIGINT NOT NULL,
    last_ledger_id BIGINT NOT NULL,
    hash           TEXT NOT NULL,
    UNIQUE (stage, track, version)
);

CREATE TABLE snapshot_places (
    snapshot_id BIGINT NOT NULL REFERENCES result_snapshots (id),
    place       BIGINT NOT NULL,
    code        TEXT NOT NULL,
    score       BIGINT NOT NULL,
    doubtful    BIGINT NOT NULL,
    zone        TEXT NOT NULL,
    PRIMARY KEY (snapshot_id, place)
);
