-- One work, one entry per track, whatever variant of its link is typed: links are compared by
-- their canonical key (`rallybot_handlers::link`: `http` as `https`, host case and trailing
-- dot, default port, `//`, trailing `/`, escapes of unreserved characters, sharing and
-- tracking parameters, fragments). `link` keeps what the member typed, for display.
--
-- The key needs IDNA and URL parsing, which SQL cannot do exactly: the store fills it in for
-- existing entries right after the migrations (`sql/link_keys.rs`), once, the earliest entry
-- of a work taking the key. Until then a NULL key compares with nothing, as the linkless
-- reading entries of points tracks always do.
ALTER TABLE entries ADD COLUMN link_key TEXT;

DROP INDEX entries_link_per_track;
CREATE UNIQUE INDEX entries_link_key_per_track ON entries (track, link_key);
