-- The dashboard counts registrations per hour in the background: an index on the registration
-- time makes that a scan of the index alone, not of every member row.
CREATE INDEX members_by_registered_at ON members (registered_at);
