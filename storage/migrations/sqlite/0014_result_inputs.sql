-- What a freeze pass compares before reading a track's ledger again: each track's change count,
-- raised in the same transaction as every write that changes what a frozen snapshot reads
-- besides new ledger rows (an entry's review status and its gives' withdrawn marks, an entry
-- created approved, a fair-play flag raised or decided); and, on each snapshot, the inputs key
-- of the latest pass that found it current. That key is a note about the snapshot, not part of
-- it: places, counts and hash never change.
CREATE TABLE result_changes (
    track   TEXT PRIMARY KEY,
    changes BIGINT NOT NULL
);

ALTER TABLE result_snapshots ADD COLUMN inputs TEXT;
