-- The rehearsal clock (`clock.rehearsal = true`), shared by every instance on this database: its
-- offset from real time in milliseconds, the `clock.start` it was first set from, and a version
-- that every move increments, so that instances adopt each move once.
CREATE TABLE rehearsal_clock (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    offset_ms BIGINT NOT NULL,
    origin    TEXT NOT NULL,
    version   BIGINT NOT NULL
);
